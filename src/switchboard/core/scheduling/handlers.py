"""Scheduling use cases: resources and their hours, appointments, free slots, calendar feeds.

Double booking is refused inside the booking transaction: the resource's row is locked first,
so bookings of one resource take turns, and only then are its appointments read and the new one
checked against them and inserted. Every write that can move an appointment does the same. The
storage refuses an overlap on its own as well (an exclusion constraint where PostgreSQL has
btree_gist; the memory adapter's serialised units of work), mapped to the same conflict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from switchboard.core.audit.model import diff
from switchboard.core.errors import Conflict, InvalidInput, NotFound, PreconditionFailed, gather
from switchboard.core.identity.model import Principal, hash_opaque_token, new_opaque_token
from switchboard.core.pagination import Page, PageRequest
from switchboard.core.reminders import handlers as reminders
from switchboard.core.scheduling import calendar_sync
from switchboard.core.scheduling.availability import (
    Slot,
    SlotQuery,
    Span,
    check_bookable,
    check_query,
    free_slots,
    local_days,
)
from switchboard.core.scheduling.model import (
    BUFFER_MAX,
    CLOSED_ALL_WEEK,
    Appointment,
    AppointmentFilter,
    AppointmentStatus,
    CalendarFeed,
    Resource,
    ResourceOverride,
    apply_resource_changes,
    blocked_range,
    clean_location,
    clean_notes,
    clean_reason,
    clean_service,
    clean_times,
    override_intervals,
    parse_day,
    parse_status,
    render_weekly_hours,
    transition,
    utc,
    validated_resource,
)
from switchboard.core.tenancy.permissions import Action, require

if TYPE_CHECKING:  # ports appear in annotations only; the core imports nothing outside itself
    from switchboard.ports.clock import Clock
    from switchboard.ports.persistence import IdentityDirectory, UnitOfWork, UnitOfWorkFactory
    from switchboard.ports.scheduling import BusyTimes

RESOURCE_NOT_FOUND = "no resource with this id"
APPOINTMENT_NOT_FOUND = "no appointment with this id"
OVERRIDE_NOT_FOUND = "this resource has no override on this date"
FEED_NOT_FOUND = "no calendar feed at this address"

OVERRIDE_RANGE_MAX = timedelta(days=366)
FEED_TOKEN_PREFIX = "sbcal_"  # noqa: S105 (a prefix, not a secret)
FEED_TOKEN_MAX = 100
# What a feed shows: appointments from 90 days ago to a year ahead, at most 2,000.
FEED_PAST = timedelta(days=90)
FEED_AHEAD = timedelta(days=366)
FEED_LIMIT = 2000
# Calendars are asked about this much around an appointment, enough for any buffer.
_BUFFER_MARGIN = timedelta(minutes=BUFFER_MAX)


# --- commands ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateResource:
    name: str
    kind: str
    time_zone: str
    buffer_before: int = 0
    buffer_after: int = 0
    working_hours: Mapping[str, Sequence[tuple[str, str]]] | None = None


@dataclass(frozen=True)
class ListResources:
    page: PageRequest = field(default_factory=PageRequest)
    kind: str | None = None


@dataclass(frozen=True)
class UpdateResource:
    resource_id: UUID
    changes: dict[str, Any]  # only the fields the client sent
    if_match: int | None = None


@dataclass(frozen=True)
class DeleteResource:
    resource_id: UUID
    if_match: int | None = None


@dataclass(frozen=True)
class CreateOverride:
    resource_id: UUID
    day: str  # YYYY-MM-DD, a local date of the resource
    intervals: Sequence[tuple[str, str]] | None = None
    closed: bool | None = None
    reason: str | None = None


@dataclass(frozen=True)
class UpdateOverride:
    resource_id: UUID
    day: str
    changes: dict[str, Any]  # intervals, closed, reason: only those sent


@dataclass(frozen=True)
class ListOverrides:
    resource_id: UUID
    first: str | None = None  # YYYY-MM-DD; default today (UTC)
    last: str | None = None  # YYYY-MM-DD; default a year after ``first``


@dataclass(frozen=True)
class BookAppointment:
    resource_id: UUID
    customer_id: UUID
    service: str
    start: datetime
    end: datetime
    location: str | None = None
    notes: str | None = None


@dataclass(frozen=True)
class ListAppointments:
    page: PageRequest = field(default_factory=PageRequest)
    resource_id: UUID | None = None
    customer_id: UUID | None = None
    status: str | None = None
    starts_after: datetime | None = None
    starts_before: datetime | None = None


@dataclass(frozen=True)
class UpdateAppointment:
    appointment_id: UUID
    changes: dict[str, Any]  # service, location, notes, start, end, resource_id, customer_id
    if_match: int | None = None


@dataclass(frozen=True)
class ChangeStatus:
    appointment_id: UUID
    status: str
    if_match: int | None = None


@dataclass(frozen=True)
class DeleteAppointment:
    appointment_id: UUID
    if_match: int | None = None


@dataclass(frozen=True)
class FindSlots:
    resource_id: UUID
    window_start: datetime
    window_end: datetime
    duration: int  # minutes
    step: int | None = None  # minutes; the duration when not given


@dataclass(frozen=True)
class Availability:
    resource: Resource
    query: SlotQuery
    slots: list[Slot]


@dataclass(frozen=True)
class Feed:
    resource: Resource
    appointments: list[Appointment]


# --- resources ---------------------------------------------------------------------------------


async def create_resource(
    cmd: CreateResource, principal: Principal, uow: UnitOfWork, clock: Clock
) -> Resource:
    require(principal, Action.SCHEDULING_MANAGE)
    fields = validated_resource(
        {
            "name": cmd.name,
            "kind": cmd.kind,
            "time_zone": cmd.time_zone,
            "buffer_before": cmd.buffer_before,
            "buffer_after": cmd.buffer_after,
            "working_hours": cmd.working_hours or {},
        }
    )
    now = clock.now()
    resource = Resource(
        id=uuid4(),
        tenant_id=principal.tenant_id,
        name=fields["name"],
        kind=fields["kind"],
        time_zone=fields["time_zone"],
        buffer_before=fields["buffer_before"],
        buffer_after=fields["buffer_after"],
        working_hours=fields["working_hours"] or CLOSED_ALL_WEEK,
        created_at=now,
        updated_at=now,
    )
    async with uow:
        await uow.resources.add(resource)
        await uow.audit.record("resource.created", "resource", str(resource.id), _resource_fields(resource))
        await uow.commit()
    return resource


async def get_resource(resource_id: UUID, principal: Principal, uow: UnitOfWork) -> Resource:
    require(principal, Action.SCHEDULING_READ)
    async with uow:
        return await _resource(uow, resource_id)


async def list_resources(cmd: ListResources, principal: Principal, uow: UnitOfWork) -> Page[Resource]:
    require(principal, Action.SCHEDULING_READ)
    kind = validated_resource({"kind": cmd.kind})["kind"] if cmd.kind is not None else None
    async with uow:
        return await uow.resources.list(cmd.page, kind)


async def update_resource(
    cmd: UpdateResource, principal: Principal, uow: UnitOfWork, clock: Clock
) -> Resource:
    """New hours and buffers apply to bookings from now on; booked appointments keep theirs."""
    require(principal, Action.SCHEDULING_MANAGE)
    changes = validated_resource(cmd.changes)
    async with uow:
        current = await _resource(uow, cmd.resource_id, for_update=True)
        _check_version(current.version, cmd.if_match, "resource")
        updated = apply_resource_changes(current, changes, clock.now())
        if not await uow.resources.update(updated, expected_version=current.version):
            raise PreconditionFailed("the resource changed while it was being updated")
        changed = diff(_resource_fields(current), _resource_fields(updated))
        await uow.audit.record("resource.updated", "resource", str(updated.id), changed)
        await uow.commit()
    return updated


async def delete_resource(cmd: DeleteResource, principal: Principal, uow: UnitOfWork) -> None:
    """Refused while any appointment names the resource: its history would lose its subject."""
    require(principal, Action.SCHEDULING_MANAGE)
    async with uow:
        current = await _resource(uow, cmd.resource_id, for_update=True)
        _check_version(current.version, cmd.if_match, "resource")
        if await uow.appointments.exists_for_resource(current.id):
            raise Conflict(
                "the resource has appointments; delete or keep them, and keep the resource",
                code="resource_in_use",
            )
        await uow.resources.delete(current.id)
        await uow.audit.record("resource.deleted", "resource", str(current.id), _resource_fields(current))
        await uow.commit()


# --- overrides ---------------------------------------------------------------------------------


async def create_override(
    cmd: CreateOverride, principal: Principal, uow: UnitOfWork, clock: Clock
) -> ResourceOverride:
    require(principal, Action.SCHEDULING_MANAGE)
    checks: dict[str, Callable[[], Any]] = {
        "date": lambda: parse_day(cmd.day),
        "intervals": lambda: override_intervals(cmd.intervals, cmd.closed),
        "reason": lambda: clean_reason(cmd.reason),
    }
    checked = gather(checks)
    now = clock.now()
    override = ResourceOverride(
        tenant_id=principal.tenant_id,
        resource_id=cmd.resource_id,
        day=checked["date"],
        intervals=checked["intervals"],
        reason=checked["reason"],
        created_at=now,
        updated_at=now,
    )
    async with uow:
        await _resource(uow, cmd.resource_id, for_update=True)
        await uow.resource_overrides.add(override)
        await uow.audit.record(
            "resource_override.created", "resource", str(cmd.resource_id), _override_fields(override)
        )
        await uow.commit()
    return override


async def get_override(
    resource_id: UUID, day: str, principal: Principal, uow: UnitOfWork
) -> ResourceOverride:
    require(principal, Action.SCHEDULING_READ)
    on = parse_day(day)
    async with uow:
        await _resource(uow, resource_id)
        override = await uow.resource_overrides.get(resource_id, on)
    if override is None:
        raise NotFound(OVERRIDE_NOT_FOUND)
    return override


async def list_overrides(
    cmd: ListOverrides, principal: Principal, uow: UnitOfWork, clock: Clock
) -> list[ResourceOverride]:
    """A bounded range of dates (at most 366 days), so the answer is bounded too."""
    require(principal, Action.SCHEDULING_READ)
    first = parse_day(cmd.first, "from") if cmd.first is not None else clock.now().date()
    last = parse_day(cmd.last, "to") if cmd.last is not None else first + OVERRIDE_RANGE_MAX
    if last < first:
        raise InvalidInput.single("to", "must not be before from")
    if last - first > OVERRIDE_RANGE_MAX:
        raise InvalidInput.single("to", f"must be at most {OVERRIDE_RANGE_MAX.days} days after from")
    async with uow:
        await _resource(uow, cmd.resource_id)
        return await uow.resource_overrides.between(cmd.resource_id, first, last)


async def update_override(
    cmd: UpdateOverride, principal: Principal, uow: UnitOfWork, clock: Clock
) -> ResourceOverride:
    require(principal, Action.SCHEDULING_MANAGE)
    on = parse_day(cmd.day)
    unknown = sorted(set(cmd.changes) - {"intervals", "closed", "reason"})
    if unknown:
        raise InvalidInput.single(unknown[0], "is not an override field")
    async with uow:
        await _resource(uow, cmd.resource_id, for_update=True)
        current = await uow.resource_overrides.get(cmd.resource_id, on)
        if current is None:
            raise NotFound(OVERRIDE_NOT_FOUND)
        updated = _apply_override_changes(current, cmd.changes, clock.now())
        await uow.resource_overrides.update(updated)
        changed = diff(_override_fields(current), _override_fields(updated))
        await uow.audit.record("resource_override.updated", "resource", str(cmd.resource_id), changed)
        await uow.commit()
    return updated


async def delete_override(resource_id: UUID, day: str, principal: Principal, uow: UnitOfWork) -> None:
    require(principal, Action.SCHEDULING_MANAGE)
    on = parse_day(day)
    async with uow:
        await _resource(uow, resource_id, for_update=True)
        current = await uow.resource_overrides.get(resource_id, on)
        if current is None:
            raise NotFound(OVERRIDE_NOT_FOUND)
        await uow.resource_overrides.delete(resource_id, on)
        await uow.audit.record(
            "resource_override.deleted", "resource", str(resource_id), _override_fields(current)
        )
        await uow.commit()


def _apply_override_changes(
    current: ResourceOverride, changes: Mapping[str, Any], now: datetime
) -> ResourceOverride:
    checks: dict[str, Callable[[], Any]] = {}
    if "intervals" in changes or "closed" in changes:
        closed = bool(changes.get("closed"))
        if "intervals" in changes:
            pairs = changes["intervals"]
        else:  # only ``closed`` sent: closing drops the hours, reopening keeps the ones there are
            pairs = None if closed else [interval.render() for interval in current.intervals]
        checks["intervals"] = lambda: override_intervals(pairs, closed)
    if "reason" in changes:
        checks["reason"] = lambda: clean_reason(changes["reason"])
    cleaned = gather(checks)
    return replace(current, **cleaned, updated_at=now)


# --- appointments ------------------------------------------------------------------------------


async def book_appointment(
    cmd: BookAppointment, principal: Principal, uow: UnitOfWork, clock: Clock, busy_times: BusyTimes
) -> Appointment:
    """Book, if the resource works then and nothing busy meets the appointment or its buffers.

    Checked again here whatever slot list the client read: under the resource's lock, against
    the appointments committed before it, and against the connected calendars' busy times.
    """
    require(principal, Action.SCHEDULING_WRITE)
    checks: dict[str, Callable[[], Any]] = {
        "service": lambda: clean_service(cmd.service),
        "location": lambda: clean_location(cmd.location),
        "notes": lambda: clean_notes(cmd.notes),
        "times": lambda: clean_times(cmd.start, cmd.end),
    }
    fields = gather(checks)
    start, end = fields["times"]
    now = clock.now()
    if start < now:
        raise InvalidInput.single("start", "must not be in the past")
    calendar_busy = await busy_times.busy(
        principal.tenant_id, cmd.resource_id, start - _BUFFER_MARGIN, end + _BUFFER_MARGIN
    )
    async with uow:
        resource = await _referenced_resource(uow, cmd.resource_id)  # locked: bookings take turns
        await _referenced_customer(uow, cmd.customer_id)
        blocked_from, blocked_until = await _check_free(uow, resource, start, end, calendar_busy)
        appointment = Appointment(
            id=uuid4(),
            tenant_id=principal.tenant_id,
            resource_id=resource.id,
            customer_id=cmd.customer_id,
            service=fields["service"],
            starts_at=start,
            ends_at=end,
            blocked_from=blocked_from,
            blocked_until=blocked_until,
            location=fields["location"],
            notes=fields["notes"],
            status=AppointmentStatus.SCHEDULED,
            created_at=now,
            updated_at=now,
        )
        await uow.appointments.add(appointment)
        await calendar_sync.push_to_calendar(uow, appointment, now)
        await reminders.appointment_booked(uow, appointment, now)
        await uow.audit.record(
            "appointment.created", "appointment", str(appointment.id), _appointment_fields(appointment)
        )
        await uow.commit()
    return appointment


async def get_appointment(appointment_id: UUID, principal: Principal, uow: UnitOfWork) -> Appointment:
    require(principal, Action.SCHEDULING_READ)
    async with uow:
        return await _appointment(uow, appointment_id)


async def list_appointments(
    cmd: ListAppointments, principal: Principal, uow: UnitOfWork
) -> Page[Appointment]:
    require(principal, Action.SCHEDULING_READ)
    after, before = cmd.starts_after, cmd.starts_before
    checks: dict[str, Callable[[], Any]] = {
        "status": lambda: parse_status(cmd.status) if cmd.status else None,
        "starts_after": lambda: utc(after, "starts_after") if after else None,
        "starts_before": lambda: utc(before, "starts_before") if before else None,
    }
    checked = gather(checks)
    filters = AppointmentFilter(
        resource_id=cmd.resource_id,
        customer_id=cmd.customer_id,
        status=checked["status"],
        starts_after=checked["starts_after"],
        starts_before=checked["starts_before"],
    )
    async with uow:
        return await uow.appointments.list(filters, cmd.page)


async def update_appointment(
    cmd: UpdateAppointment, principal: Principal, uow: UnitOfWork, clock: Clock, busy_times: BusyTimes
) -> Appointment:
    """Edit or move an appointment that is not final. A move (new start, end or resource) is
    checked like a booking, under the lock of the resource it moves to."""
    require(principal, Action.SCHEDULING_WRITE)
    changes = cmd.changes
    allowed = {"service", "location", "notes", "start", "end", "resource_id", "customer_id"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise InvalidInput.single(unknown[0], "is not an appointment field")
    checks: dict[str, Callable[[], Any]] = {}
    if "service" in changes:
        checks["service"] = lambda: clean_service(changes["service"])
    if "location" in changes:
        checks["location"] = lambda: clean_location(changes["location"])
    if "notes" in changes:
        checks["notes"] = lambda: clean_notes(changes["notes"])
    for name in ("start", "end", "resource_id", "customer_id"):
        if name in changes and changes[name] is None:
            checks[name] = _refuse_null(name)
    cleaned = gather(checks)
    now = clock.now()
    moving = any(name in changes for name in ("start", "end", "resource_id"))
    async with uow:
        current = await _appointment(uow, cmd.appointment_id, for_update=True)
        _check_version(current.version, cmd.if_match, "appointment")
        if current.final:
            raise Conflict(f"an appointment that is {current.status} cannot change", code="appointment_final")
        updated = replace(current, **cleaned, updated_at=now, version=current.version + 1)
        if "customer_id" in changes and changes["customer_id"] != current.customer_id:
            await _referenced_customer(uow, changes["customer_id"])
            updated = replace(updated, customer_id=changes["customer_id"])
        if moving:
            start, end = clean_times(
                changes.get("start", current.starts_at), changes.get("end", current.ends_at)
            )
            resource_id = changes.get("resource_id", current.resource_id)
            moved = start != current.starts_at or resource_id != current.resource_id
            if moved and start < now:  # lengthening one under way is fine; moving into the past is not
                raise InvalidInput.single("start", "must not be in the past")
            # Asked inside the transaction, as the new times are only known here: calendar
            # adapters must answer from a short cache, not hold the lock on a slow provider.
            calendar_busy = await busy_times.busy(
                principal.tenant_id, resource_id, start - _BUFFER_MARGIN, end + _BUFFER_MARGIN, within=uow
            )
            resource = await _referenced_resource(uow, resource_id)
            blocked_from, blocked_until = await _check_free(
                uow, resource, start, end, calendar_busy, exclude=current.id
            )
            updated = replace(
                updated,
                resource_id=resource.id,
                starts_at=start,
                ends_at=end,
                blocked_from=blocked_from,
                blocked_until=blocked_until,
            )
        if not await uow.appointments.update(updated, expected_version=current.version):
            raise PreconditionFailed("the appointment changed while it was being updated")
        await reminders.appointment_changed(uow, current, updated, now)
        await calendar_sync.push_to_calendar(uow, updated, now, also=[current.resource_id])
        changed = diff(_appointment_fields(current), _appointment_fields(updated))
        await uow.audit.record("appointment.updated", "appointment", str(updated.id), changed)
        await uow.commit()
    return updated


async def change_status(
    cmd: ChangeStatus, principal: Principal, uow: UnitOfWork, clock: Clock
) -> Appointment:
    """Confirm, cancel, complete or mark a no-show, as ``TRANSITIONS`` allows. Cancelling frees
    the time; nothing brings a cancelled appointment back, so no move needs a new check."""
    require(principal, Action.SCHEDULING_WRITE)
    to = parse_status(cmd.status)
    async with uow:
        current = await _appointment(uow, cmd.appointment_id, for_update=True)
        _check_version(current.version, cmd.if_match, "appointment")
        updated = transition(current, to, clock.now())
        if not await uow.appointments.update(updated, expected_version=current.version):
            raise PreconditionFailed("the appointment changed while it was being updated")
        await calendar_sync.push_to_calendar(uow, updated, updated.updated_at)
        changed = diff(_appointment_fields(current), _appointment_fields(updated))
        await uow.audit.record(f"appointment.{to.value}", "appointment", str(updated.id), changed)
        await uow.commit()
    return updated


async def delete_appointment(
    cmd: DeleteAppointment, principal: Principal, uow: UnitOfWork, clock: Clock
) -> None:
    require(principal, Action.SCHEDULING_WRITE)
    async with uow:
        current = await _appointment(uow, cmd.appointment_id, for_update=True)
        _check_version(current.version, cmd.if_match, "appointment")
        await uow.appointments.delete(current.id)
        await calendar_sync.push_to_calendar(uow, current, clock.now())  # its event goes too
        await uow.audit.record(
            "appointment.deleted", "appointment", str(current.id), _appointment_fields(current)
        )
        await uow.commit()


# --- availability ------------------------------------------------------------------------------


async def find_slots(
    cmd: FindSlots, principal: Principal, uow: UnitOfWork, clock: Clock, busy_times: BusyTimes
) -> Availability:
    """Free slots of one resource in a bounded window, from now on. A slot is a suggestion:
    booking it checks everything again."""
    require(principal, Action.SCHEDULING_READ)
    query = check_query(cmd.window_start, cmd.window_end, cmd.duration, cmd.step)
    async with uow:
        resource = await _resource(uow, cmd.resource_id)
        overrides = await _overrides_for(uow, resource, query.window_start, query.window_end)
        reach_from, reach_until = blocked_range(resource, query.window_start, query.window_end)
        booked = await uow.appointments.overlapping(resource.id, reach_from, reach_until)
    # Asked outside the transaction: no connection is held while a calendar answers.
    calendar_busy = await busy_times.busy(principal.tenant_id, resource.id, reach_from, reach_until)
    busy = [(a.blocked_from, a.blocked_until) for a in booked] + _utc_spans(calendar_busy)
    slots = free_slots(resource, overrides, busy, query, clock.now())
    return Availability(resource, query, slots)


# --- calendar feeds ----------------------------------------------------------------------------


async def create_feed(
    resource_id: UUID, principal: Principal, uow: UnitOfWork, clock: Clock
) -> tuple[CalendarFeed, str]:
    """A new secret feed address for the resource, replacing any previous one. The token is
    returned once and only its hash is stored."""
    require(principal, Action.SCHEDULING_MANAGE)
    token, token_hash = new_opaque_token(FEED_TOKEN_PREFIX)
    async with uow:
        resource = await _resource(uow, resource_id, for_update=True)
        previous = await uow.calendar_feeds.get(resource.id)
        feed = CalendarFeed(principal.tenant_id, resource.id, token_hash, clock.now())
        await uow.calendar_feeds.save(feed)
        action = "calendar_feed.rotated" if previous else "calendar_feed.created"
        await uow.audit.record(action, "resource", str(resource.id), {})
        await uow.commit()
    return feed, token


async def revoke_feed(resource_id: UUID, principal: Principal, uow: UnitOfWork) -> None:
    require(principal, Action.SCHEDULING_MANAGE)
    async with uow:
        resource = await _resource(uow, resource_id, for_update=True)
        if not await uow.calendar_feeds.delete(resource.id):
            raise NotFound("this resource has no calendar feed")
        await uow.audit.record("calendar_feed.revoked", "resource", str(resource.id), {})
        await uow.commit()


async def read_feed(token: str, directory: IdentityDirectory, units: UnitOfWorkFactory, clock: Clock) -> Feed:
    """What a feed address shows: no caller, so the token alone says which tenant and resource.

    The one crossing is the directory's lookup of the token's hash (only for active tenants);
    everything after runs in that tenant's unit of work. A revoked or rotated token is unknown.
    """
    if not token.startswith(FEED_TOKEN_PREFIX) or len(token) > FEED_TOKEN_MAX:
        raise NotFound(FEED_NOT_FOUND)
    token_hash = hash_opaque_token(token)
    found = await directory.find_calendar_feed(token_hash)
    if found is None:
        raise NotFound(FEED_NOT_FOUND)
    tenant_id, resource_id = found
    now = clock.now()
    async with units(tenant_id) as uow:
        feed = await uow.calendar_feeds.get(resource_id)
        resource = await uow.resources.get(resource_id)
        if feed is None or resource is None or feed.token_hash != token_hash:
            raise NotFound(FEED_NOT_FOUND)
        appointments = await uow.appointments.overlapping(
            resource_id, now - FEED_PAST, now + FEED_AHEAD, limit=FEED_LIMIT
        )
    return Feed(resource, appointments)


# --- helpers -----------------------------------------------------------------------------------


async def _resource(uow: UnitOfWork, resource_id: UUID, *, for_update: bool = False) -> Resource:
    resource = await uow.resources.get(resource_id, for_update=for_update)
    if resource is None:
        raise NotFound(RESOURCE_NOT_FOUND)
    return resource


async def _referenced_resource(uow: UnitOfWork, resource_id: UUID) -> Resource:
    """The resource a booking names, locked until the unit of work ends."""
    resource = await uow.resources.get(resource_id, for_update=True)
    if resource is None:
        raise InvalidInput.single("resource_id", RESOURCE_NOT_FOUND)
    return resource


async def _referenced_customer(uow: UnitOfWork, customer_id: UUID) -> None:
    """Locked too, so it cannot be deleted while the appointment naming it is being written."""
    if await uow.customers.get(customer_id, for_update=True) is None:
        raise InvalidInput.single("customer_id", "no customer with this id")


async def _appointment(uow: UnitOfWork, appointment_id: UUID, *, for_update: bool = False) -> Appointment:
    appointment = await uow.appointments.get(appointment_id, for_update=for_update)
    if appointment is None:
        raise NotFound(APPOINTMENT_NOT_FOUND)
    return appointment


async def _overrides_for(
    uow: UnitOfWork, resource: Resource, start: datetime, end: datetime
) -> dict[date, ResourceOverride]:
    days = local_days(resource, start, end)
    found = await uow.resource_overrides.between(resource.id, days[0], days[-1])
    return {override.day: override for override in found}


async def _check_free(
    uow: UnitOfWork,
    resource: Resource,
    start: datetime,
    end: datetime,
    calendar_busy: list[tuple[datetime, datetime]],
    *,
    exclude: UUID | None = None,
) -> Span:
    """With the resource locked: refuse outside its hours, or over anything busy. Answers the
    blocked range the appointment will hold."""
    blocked = blocked_range(resource, start, end)
    booked = await uow.appointments.overlapping(resource.id, *blocked, exclude=exclude)
    overrides = await _overrides_for(uow, resource, start, end)
    busy = [(a.blocked_from, a.blocked_until) for a in booked] + _utc_spans(calendar_busy)
    check_bookable(resource, overrides, busy, start, end)
    return blocked


def _utc_spans(spans: list[tuple[datetime, datetime]]) -> list[Span]:
    return [(utc(begins, "busy"), utc(ends, "busy")) for begins, ends in spans]


def _refuse_null(name: str) -> Any:
    def check() -> None:
        raise InvalidInput.single(name, "must not be null")

    return check


def _check_version(version: int, if_match: int | None, what: str) -> None:
    if if_match is not None and if_match != version:
        raise PreconditionFailed(f"the {what} changed since it was read")


def _resource_fields(resource: Resource) -> dict[str, Any]:
    return {
        "name": resource.name,
        "kind": resource.kind.value,
        "time_zone": resource.time_zone,
        "buffer_before": resource.buffer_before,
        "buffer_after": resource.buffer_after,
        "working_hours": {
            day: [list(pair) for pair in pairs]
            for day, pairs in render_weekly_hours(resource.working_hours).items()
        },
    }


def _override_fields(override: ResourceOverride) -> dict[str, Any]:
    return {
        "date": override.day.isoformat(),
        "closed": override.closed,
        "intervals": [list(interval.render()) for interval in override.intervals],
        "reason": override.reason,
    }


def _appointment_fields(appointment: Appointment) -> dict[str, Any]:
    return {
        "resource_id": str(appointment.resource_id),
        "customer_id": str(appointment.customer_id),
        "service": appointment.service,
        "start": _iso(appointment.starts_at),
        "end": _iso(appointment.ends_at),
        "location": appointment.location,
        "notes": appointment.notes,
        "status": appointment.status.value,
    }


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")
