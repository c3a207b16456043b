"""Connected-calendar repositories on PostgreSQL: resource links, recorded busy times, pushed events.

Row-level security confines every statement to the unit of work's tenant; the statements name
the tenant too, so the primary keys' leading column serves them.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import and_, bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from switchboard.adapters.postgres.repositories import Row, _Repository
from switchboard.adapters.postgres.statements import compile_sql
from switchboard.adapters.postgres.tables import (
    calendar_busy_events,
    calendar_event_links,
    resource_calendars,
)
from switchboard.core.scheduling.calendar_model import CalendarEventLink, ExternalBusy, ResourceCalendar

# --- resource links ----------------------------------------------------------------------------

_THIS_LINK = and_(
    resource_calendars.c.tenant_id == bindparam("tenant_id"),
    resource_calendars.c.resource_id == bindparam("resource_id"),
)
_LINK_GET = compile_sql(select(resource_calendars).where(_THIS_LINK))
_LINK_GET_FOR_UPDATE = compile_sql(select(resource_calendars).where(_THIS_LINK).with_for_update())
_link_insert = pg_insert(resource_calendars)
_LINK_SAVE = compile_sql(
    _link_insert.on_conflict_do_update(
        index_elements=["tenant_id", "resource_id"],
        set_={
            name: _link_insert.excluded[name]
            for name in resource_calendars.c.keys()  # noqa: SIM118
            if name not in ("tenant_id", "resource_id")
        },
    )
)
_LINK_DELETE = compile_sql(delete(resource_calendars).where(_THIS_LINK))


class PostgresResourceCalendarRepository(_Repository):
    async def get(self, resource_id: UUID, *, for_update: bool = False) -> ResourceCalendar | None:
        sql = _LINK_GET_FOR_UPDATE if for_update else _LINK_GET
        row = await self._one(sql, {"tenant_id": self._tenant_id, "resource_id": resource_id})
        return ResourceCalendar(**row) if row else None

    async def save(self, link: ResourceCalendar) -> None:
        values: Row = {name: getattr(link, name) for name in resource_calendars.c.keys()}  # noqa: SIM118
        await self._conn.execute(_LINK_SAVE, values)

    async def delete(self, resource_id: UUID) -> bool:
        params = {"tenant_id": self._tenant_id, "resource_id": resource_id}
        return await self._count(_LINK_DELETE, params) == 1  # its busy times go by the cascade


# --- recorded busy times -----------------------------------------------------------------------

_OF_RESOURCE = and_(
    calendar_busy_events.c.tenant_id == bindparam("tenant_id"),
    calendar_busy_events.c.resource_id == bindparam("resource_id"),
)
_BUSY_CLEAR = compile_sql(delete(calendar_busy_events).where(_OF_RESOURCE))
_busy_insert = pg_insert(calendar_busy_events)
_BUSY_UPSERT = compile_sql(
    _busy_insert.on_conflict_do_update(
        index_elements=["tenant_id", "resource_id", "event_id"],
        set_={"starts_at": _busy_insert.excluded.starts_at, "ends_at": _busy_insert.excluded.ends_at},
    )
)
_BUSY_FORGET = compile_sql(
    delete(calendar_busy_events).where(_OF_RESOURCE, calendar_busy_events.c.event_id == bindparam("event_id"))
)
_BUSY_BETWEEN = compile_sql(
    select(calendar_busy_events)
    .where(
        _OF_RESOURCE,
        calendar_busy_events.c.ends_at > bindparam("start"),
        calendar_busy_events.c.starts_at < bindparam("end"),
    )
    .order_by(calendar_busy_events.c.starts_at, calendar_busy_events.c.event_id)
)


def _busy_values(busy: ExternalBusy) -> Row:
    return {
        "tenant_id": busy.tenant_id,
        "resource_id": busy.resource_id,
        "event_id": busy.event_id,
        "starts_at": busy.starts_at,
        "ends_at": busy.ends_at,
    }


class PostgresExternalBusyRepository(_Repository):
    async def replace(self, resource_id: UUID, busy: list[ExternalBusy]) -> None:
        await self._conn.execute(_BUSY_CLEAR, {"tenant_id": self._tenant_id, "resource_id": resource_id})
        await self._upsert(busy)

    async def apply(self, resource_id: UUID, busy: list[ExternalBusy], removed: list[str]) -> None:
        await self._upsert(busy)
        gone = [{"tenant_id": self._tenant_id, "resource_id": resource_id, "event_id": e} for e in removed]
        if gone:
            async with self._conn.cursor() as cursor:
                await cursor.executemany(_BUSY_FORGET, gone)

    async def between(self, resource_id: UUID, start: datetime, end: datetime) -> list[ExternalBusy]:
        params = {"tenant_id": self._tenant_id, "resource_id": resource_id, "start": start, "end": end}
        return [ExternalBusy(**row) for row in await self._all(_BUSY_BETWEEN, params)]

    async def _upsert(self, busy: list[ExternalBusy]) -> None:
        if busy:
            async with self._conn.cursor() as cursor:
                await cursor.executemany(_BUSY_UPSERT, [_busy_values(b) for b in busy])


# --- pushed events -----------------------------------------------------------------------------

_THIS_EVENT = and_(
    calendar_event_links.c.tenant_id == bindparam("tenant_id"),
    calendar_event_links.c.appointment_id == bindparam("appointment_id"),
)
_EVENT_GET = compile_sql(select(calendar_event_links).where(_THIS_EVENT))
_EVENT_GET_FOR_UPDATE = compile_sql(select(calendar_event_links).where(_THIS_EVENT).with_for_update())
_event_insert = pg_insert(calendar_event_links)
_EVENT_SAVE = compile_sql(
    _event_insert.on_conflict_do_update(
        index_elements=["tenant_id", "appointment_id"],
        set_={
            name: _event_insert.excluded[name]
            for name in calendar_event_links.c.keys()  # noqa: SIM118
            if name not in ("tenant_id", "appointment_id")
        },
    )
)
_EVENT_DELETE = compile_sql(delete(calendar_event_links).where(_THIS_EVENT))
_EVENTS_BETWEEN = compile_sql(
    select(calendar_event_links)
    .where(
        calendar_event_links.c.tenant_id == bindparam("tenant_id"),
        calendar_event_links.c.integration_id == bindparam("integration_id"),
        calendar_event_links.c.calendar_id == bindparam("calendar_id"),
        calendar_event_links.c.ends_at > bindparam("start"),
        calendar_event_links.c.starts_at < bindparam("end"),
    )
    .order_by(calendar_event_links.c.starts_at, calendar_event_links.c.appointment_id)
)


class PostgresCalendarEventLinkRepository(_Repository):
    async def get(self, appointment_id: UUID, *, for_update: bool = False) -> CalendarEventLink | None:
        sql = _EVENT_GET_FOR_UPDATE if for_update else _EVENT_GET
        row = await self._one(sql, {"tenant_id": self._tenant_id, "appointment_id": appointment_id})
        return CalendarEventLink(**row) if row else None

    async def save(self, link: CalendarEventLink) -> None:
        values: Row = {name: getattr(link, name) for name in calendar_event_links.c.keys()}  # noqa: SIM118
        await self._conn.execute(_EVENT_SAVE, values)

    async def delete(self, appointment_id: UUID) -> bool:
        params = {"tenant_id": self._tenant_id, "appointment_id": appointment_id}
        return await self._count(_EVENT_DELETE, params) == 1

    async def between(
        self, integration_id: UUID, calendar_id: str, start: datetime, end: datetime
    ) -> list[CalendarEventLink]:
        params = {
            "tenant_id": self._tenant_id,
            "integration_id": integration_id,
            "calendar_id": calendar_id,
            "start": start,
            "end": end,
        }
        return [CalendarEventLink(**row) for row in await self._all(_EVENTS_BETWEEN, params)]
