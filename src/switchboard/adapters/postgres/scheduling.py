"""Scheduling repositories on PostgreSQL: resources, overrides, appointments, calendar feeds.

The booking use case locks the resource's row (``get(..., for_update=True)``: SELECT ... FOR
UPDATE) before it reads the resource's appointments, so bookings of one resource take turns and
each sees the ones committed before it. Where migration 0008 could add the exclusion constraint
``appointments_no_overlap`` (the server offers btree_gist), the database refuses an overlap on
its own too; that refusal becomes the same ``Conflict(code="slot_taken")``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from functools import cache
from typing import Any
from uuid import UUID

from psycopg.errors import ExclusionViolation
from psycopg.types.json import Jsonb
from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    delete,
    exists,
    insert,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert

from switchboard.adapters.postgres.repositories import (
    Row,
    _Repository,
    customer_timeline_params,
    customer_timeline_sql,
    newest_first,
    this_row,
    versioned_update,
)
from switchboard.adapters.postgres.statements import compile_sql
from switchboard.adapters.postgres.tables import appointments, calendar_feeds, resource_overrides, resources
from switchboard.core.customers.timeline import TimelineEntry
from switchboard.core.errors import Conflict
from switchboard.core.pagination import Page, PageRequest, Position
from switchboard.core.scheduling.model import (
    Appointment,
    AppointmentFilter,
    AppointmentStatus,
    CalendarFeed,
    DayHours,
    Resource,
    ResourceKind,
    ResourceOverride,
    WeeklyHours,
    parse_intervals,
    parse_weekly_hours,
    render_weekly_hours,
    slot_taken,
    timeline_entry,
)

NO_OVERLAP = "appointments_no_overlap"  # the optional exclusion constraint of migration 0008


def _hours(document: Mapping[str, Sequence[Sequence[str]]]) -> WeeklyHours:
    return parse_weekly_hours(
        {day: [(start, end) for start, end in pairs] for day, pairs in document.items()}
    )


def _intervals(document: Sequence[Sequence[str]]) -> DayHours:
    return parse_intervals([(start, end) for start, end in document], "intervals")


# --- resources ---------------------------------------------------------------------------------

_THIS_RESOURCE = this_row(resources)
_RESOURCE_INSERT = compile_sql(insert(resources))
_RESOURCE_GET = compile_sql(select(resources).where(_THIS_RESOURCE))
_RESOURCE_GET_FOR_UPDATE = compile_sql(select(resources).where(_THIS_RESOURCE).with_for_update())
_RESOURCE_UPDATE = versioned_update(
    resources,
    "name",
    "kind",
    "time_zone",
    "buffer_before",
    "buffer_after",
    "working_hours",
    "updated_at",
    "version",
)
_RESOURCE_DELETE = compile_sql(delete(resources).where(_THIS_RESOURCE))


@cache
def _resource_list_sql(after: bool, kind: bool) -> str:
    statement = newest_first(resources, after)
    if kind:
        statement = statement.where(resources.c.kind == bindparam("kind"))
    return compile_sql(statement)


def _resource(row: Row) -> Resource:
    return Resource(
        **(row | {"kind": ResourceKind(row["kind"]), "working_hours": _hours(row["working_hours"])})
    )


def _resource_values(resource: Resource) -> Row:
    return {
        "tenant_id": resource.tenant_id,
        "id": resource.id,
        "name": resource.name,
        "kind": resource.kind.value,
        "time_zone": resource.time_zone,
        "buffer_before": resource.buffer_before,
        "buffer_after": resource.buffer_after,
        "working_hours": Jsonb(render_weekly_hours(resource.working_hours)),
        "created_at": resource.created_at,
        "updated_at": resource.updated_at,
        "version": resource.version,
    }


class PostgresResourceRepository(_Repository):
    async def add(self, resource: Resource) -> None:
        await self._conn.execute(_RESOURCE_INSERT, _resource_values(resource))

    async def get(self, resource_id: UUID, *, for_update: bool = False) -> Resource | None:
        sql = _RESOURCE_GET_FOR_UPDATE if for_update else _RESOURCE_GET
        row = await self._one(sql, {"tenant_id": self._tenant_id, "id": resource_id})
        return _resource(row) if row else None

    async def list(self, page: PageRequest, kind: ResourceKind | None = None) -> Page[Resource]:
        params: Row = {"kind": kind.value} if kind else {}
        return await self._page(
            _resource_list_sql(page.after is not None, kind is not None), params, page, _resource
        )

    async def update(self, resource: Resource, expected_version: int) -> bool:
        params = _resource_values(resource) | {
            "tenant_id": self._tenant_id,
            "expected_version": expected_version,
        }
        return await self._count(_RESOURCE_UPDATE, params) == 1

    async def delete(self, resource_id: UUID) -> bool:
        return await self._count(_RESOURCE_DELETE, {"tenant_id": self._tenant_id, "id": resource_id}) == 1


# --- overrides ---------------------------------------------------------------------------------

_THIS_OVERRIDE = and_(
    resource_overrides.c.tenant_id == bindparam("tenant_id"),
    resource_overrides.c.resource_id == bindparam("resource_id"),
    resource_overrides.c.day == bindparam("day"),
)
_OVERRIDE_INSERT = compile_sql(insert(resource_overrides))
_OVERRIDE_GET = compile_sql(select(resource_overrides).where(_THIS_OVERRIDE))
_OVERRIDES_BETWEEN = compile_sql(
    select(resource_overrides)
    .where(
        resource_overrides.c.tenant_id == bindparam("tenant_id"),
        resource_overrides.c.resource_id == bindparam("resource_id"),
        resource_overrides.c.day.between(bindparam("first"), bindparam("last")),
    )
    .order_by(resource_overrides.c.day)
)
_OVERRIDE_UPDATE = compile_sql(
    resource_overrides.update()
    .where(_THIS_OVERRIDE)
    .values(intervals=bindparam("intervals"), reason=bindparam("reason"), updated_at=bindparam("updated_at"))
)
_OVERRIDE_DELETE = compile_sql(delete(resource_overrides).where(_THIS_OVERRIDE))


def _override(row: Row) -> ResourceOverride:
    return ResourceOverride(**(row | {"intervals": _intervals(row["intervals"])}))


def _override_values(override: ResourceOverride) -> Row:
    return {
        "tenant_id": override.tenant_id,
        "resource_id": override.resource_id,
        "day": override.day,
        "intervals": Jsonb([list(interval.render()) for interval in override.intervals]),
        "reason": override.reason,
        "created_at": override.created_at,
        "updated_at": override.updated_at,
    }


class PostgresResourceOverrideRepository(_Repository):
    async def add(self, override: ResourceOverride) -> None:
        await self._refusing_duplicates(
            _OVERRIDE_INSERT,
            _override_values(override),
            "resource_overrides_pkey",
            Conflict("the resource already has an override on this date", code="override_exists"),
        )

    async def get(self, resource_id: UUID, day: date) -> ResourceOverride | None:
        params = {"tenant_id": self._tenant_id, "resource_id": resource_id, "day": day}
        row = await self._one(_OVERRIDE_GET, params)
        return _override(row) if row else None

    async def between(self, resource_id: UUID, first: date, last: date) -> list[ResourceOverride]:
        params = {"tenant_id": self._tenant_id, "resource_id": resource_id, "first": first, "last": last}
        return [_override(row) for row in await self._all(_OVERRIDES_BETWEEN, params)]

    async def update(self, override: ResourceOverride) -> bool:
        params = _override_values(override) | {"tenant_id": self._tenant_id}
        return await self._count(_OVERRIDE_UPDATE, params) == 1

    async def delete(self, resource_id: UUID, day: date) -> bool:
        params = {"tenant_id": self._tenant_id, "resource_id": resource_id, "day": day}
        return await self._count(_OVERRIDE_DELETE, params) == 1


# --- appointments ------------------------------------------------------------------------------

_THIS_APPOINTMENT = this_row(appointments)
_APPOINTMENT_INSERT = compile_sql(insert(appointments))
_APPOINTMENT_GET = compile_sql(select(appointments).where(_THIS_APPOINTMENT))
_APPOINTMENT_GET_FOR_UPDATE = compile_sql(select(appointments).where(_THIS_APPOINTMENT).with_for_update())
_APPOINTMENT_UPDATE = versioned_update(
    appointments,
    "resource_id",
    "customer_id",
    "service",
    "starts_at",
    "ends_at",
    "blocked_from",
    "blocked_until",
    "location",
    "notes",
    "status",
    "updated_at",
    "version",
)
_APPOINTMENT_DELETE = compile_sql(delete(appointments).where(_THIS_APPOINTMENT))
_APPOINTMENT_EXISTS_FOR_RESOURCE = compile_sql(
    select(
        exists()
        .where(
            appointments.c.tenant_id == bindparam("tenant_id"),
            appointments.c.resource_id == bindparam("resource_id"),
        )
        .label("found")
    )
)
_APPOINTMENT_FILTERS: dict[str, Callable[[], ColumnElement[bool]]] = {
    "resource_id": lambda: appointments.c.resource_id == bindparam("resource_id"),
    "customer_id": lambda: appointments.c.customer_id == bindparam("customer_id"),
    "status": lambda: appointments.c.status == bindparam("status"),
    "starts_after": lambda: appointments.c.starts_at > bindparam("starts_after"),
    "starts_before": lambda: appointments.c.starts_at < bindparam("starts_before"),
}


@cache
def _appointment_list_sql(after: bool, filters: frozenset[str]) -> str:
    statement = newest_first(appointments, after)
    return compile_sql(statement.where(*(_APPOINTMENT_FILTERS[name]() for name in sorted(filters))))


@cache
def _overlapping_sql(exclude: bool, limit: bool) -> str:
    """Not cancelled, blocked range meeting [start, end): the index on (tenant_id, resource_id,
    blocked_until) finds them among the resource's appointments that end after ``start``."""
    statement = (
        select(appointments)
        .where(
            appointments.c.tenant_id == bindparam("tenant_id"),
            appointments.c.resource_id == bindparam("resource_id"),
            appointments.c.status != literal_column(f"'{AppointmentStatus.CANCELLED.value}'"),
            appointments.c.blocked_until > bindparam("start"),
            appointments.c.blocked_from < bindparam("end"),
        )
        .order_by(appointments.c.starts_at, appointments.c.id)
    )
    if exclude:
        statement = statement.where(appointments.c.id != bindparam("exclude"))
    if limit:
        statement = statement.limit(bindparam("limit"))
    return compile_sql(statement)


# An appointment stands on the timeline at its start.
_TIMELINE = {after: customer_timeline_sql(appointments, after, "starts_at") for after in (False, True)}


def _appointment(row: Row) -> Appointment:
    return Appointment(**(row | {"status": AppointmentStatus(row["status"])}))


def _appointment_values(appointment: Appointment) -> Row:
    values = {name: getattr(appointment, name) for name in appointments.c.keys()}  # noqa: SIM118
    return values | {"status": appointment.status.value}


class PostgresAppointmentRepository(_Repository):
    async def timeline(self, customer_id: UUID, after: Position | None, limit: int) -> list[TimelineEntry]:
        params = customer_timeline_params(self._tenant_id, customer_id, after, limit)
        rows = await self._all(_TIMELINE[after is not None], params)
        return [timeline_entry(_appointment(row)) for row in rows]

    async def add(self, appointment: Appointment) -> None:
        await self._refusing_overlap(_APPOINTMENT_INSERT, _appointment_values(appointment))

    async def get(self, appointment_id: UUID, *, for_update: bool = False) -> Appointment | None:
        sql = _APPOINTMENT_GET_FOR_UPDATE if for_update else _APPOINTMENT_GET
        row = await self._one(sql, {"tenant_id": self._tenant_id, "id": appointment_id})
        return _appointment(row) if row else None

    async def list(self, filters: AppointmentFilter, page: PageRequest) -> Page[Appointment]:
        wanted: Row = {}
        for name in _APPOINTMENT_FILTERS:
            value = getattr(filters, name)
            if value is not None:
                wanted[name] = value.value if isinstance(value, AppointmentStatus) else value
        sql = _appointment_list_sql(page.after is not None, frozenset(wanted))
        return await self._page(sql, wanted, page, _appointment)

    async def overlapping(
        self,
        resource_id: UUID,
        start: datetime,
        end: datetime,
        *,
        exclude: UUID | None = None,
        limit: int | None = None,
    ) -> list[Appointment]:
        params: Row = {
            "tenant_id": self._tenant_id,
            "resource_id": resource_id,
            "start": start,
            "end": end,
            "exclude": exclude,
            "limit": limit,
        }
        rows = await self._all(_overlapping_sql(exclude is not None, limit is not None), params)
        return [_appointment(row) for row in rows]

    async def update(self, appointment: Appointment, expected_version: int) -> bool:
        params = _appointment_values(appointment) | {
            "tenant_id": self._tenant_id,
            "expected_version": expected_version,
        }
        return await self._refusing_overlap(_APPOINTMENT_UPDATE, params) == 1

    async def delete(self, appointment_id: UUID) -> bool:
        return (
            await self._count(_APPOINTMENT_DELETE, {"tenant_id": self._tenant_id, "id": appointment_id}) == 1
        )

    async def exists_for_resource(self, resource_id: UUID) -> bool:
        params = {"tenant_id": self._tenant_id, "resource_id": resource_id}
        row = await self._one(_APPOINTMENT_EXISTS_FOR_RESOURCE, params)
        return bool(row and row["found"])

    async def _refusing_overlap(self, sql: str, params: Row) -> int:
        """A write the exclusion constraint may refuse (where it exists), in a savepoint so the
        refusal stays contained; it becomes the conflict the use case raises for the same case."""
        try:
            async with self._conn.transaction():
                return await self._count(sql, params)
        except ExclusionViolation as error:
            if error.diag.constraint_name != NO_OVERLAP:
                raise
            raise slot_taken() from error


# --- calendar feeds ----------------------------------------------------------------------------

_THIS_FEED = and_(
    calendar_feeds.c.tenant_id == bindparam("tenant_id"),
    calendar_feeds.c.resource_id == bindparam("resource_id"),
)
_FEED_GET = compile_sql(select(calendar_feeds).where(_THIS_FEED))
_feed_insert = pg_insert(calendar_feeds)
_FEED_SAVE = compile_sql(
    _feed_insert.on_conflict_do_update(
        index_elements=["tenant_id", "resource_id"],
        set_={"token_hash": _feed_insert.excluded.token_hash, "created_at": _feed_insert.excluded.created_at},
    )
)
_FEED_DELETE = compile_sql(delete(calendar_feeds).where(_THIS_FEED))


class PostgresCalendarFeedRepository(_Repository):
    async def get(self, resource_id: UUID) -> CalendarFeed | None:
        row = await self._one(_FEED_GET, {"tenant_id": self._tenant_id, "resource_id": resource_id})
        return CalendarFeed(**row) if row else None

    async def save(self, feed: CalendarFeed) -> None:
        params: dict[str, Any] = {
            "tenant_id": feed.tenant_id,
            "resource_id": feed.resource_id,
            "token_hash": feed.token_hash,
            "created_at": feed.created_at,
        }
        await self._conn.execute(_FEED_SAVE, params)

    async def delete(self, resource_id: UUID) -> bool:
        return (
            await self._count(_FEED_DELETE, {"tenant_id": self._tenant_id, "resource_id": resource_id}) == 1
        )
