"""Scheduling storage, on memory and PostgreSQL alike: resources, overrides, appointments and
feeds round trip, stay in their tenant, and no two bookings of one resource ever overlap, even
when fifty arrive at once."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from switchboard.adapters.calendar_busy import NoConnectedCalendars
from switchboard.core.errors import Conflict, InvalidInput
from switchboard.core.identity.model import Principal
from switchboard.core.pagination import PageRequest
from switchboard.core.scheduling import handlers
from switchboard.core.scheduling.model import (
    Appointment,
    AppointmentFilter,
    AppointmentStatus,
    CalendarFeed,
    Resource,
    ResourceKind,
    ResourceOverride,
    parse_weekly_hours,
)
from switchboard.core.tenancy.model import Role, TenantStatus
from tests.contract.conftest import Actor, Storage, make_customer, utc_now

ALL_DAY = {day: [("00:00", "24:00")] for day in ("monday", "tuesday", "wednesday", "thursday", "friday")} | {
    "saturday": [("00:00", "24:00")],
    "sunday": [("00:00", "24:00")],
}
NO_CALENDARS = NoConnectedCalendars()
CONCURRENT_BOOKINGS = 50


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


CLOCK = Clock()


def owner_of(actor: Actor) -> Principal:
    return Principal(actor.user_id, actor.tenant_id, Role.OWNER)


def tomorrow_at(hour: int, minute: int = 0) -> datetime:
    day = (utc_now() + timedelta(days=2)).date()
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def make_resource(actor: Actor, **overrides: Any) -> Resource:
    now = utc_now()
    fields: dict[str, Any] = dict(
        id=uuid4(),
        tenant_id=actor.tenant_id,
        name=f"Room {uuid4().hex[:6]}",
        kind=ResourceKind.ROOM,
        time_zone="UTC",
        buffer_before=0,
        buffer_after=0,
        working_hours=parse_weekly_hours(ALL_DAY),
        created_at=now,
        updated_at=now,
    )
    return Resource(**(fields | overrides))


def make_appointment(actor: Actor, resource: Resource, customer_id: UUID, **overrides: Any) -> Appointment:
    now = utc_now()
    start = overrides.pop("starts_at", tomorrow_at(10))
    end = overrides.pop("ends_at", start + timedelta(hours=1))
    fields: dict[str, Any] = dict(
        id=uuid4(),
        tenant_id=actor.tenant_id,
        resource_id=resource.id,
        customer_id=customer_id,
        service="Consultation",
        starts_at=start,
        ends_at=end,
        blocked_from=start,
        blocked_until=end,
        location="Room 2",
        notes="Bring the forms",
        status=AppointmentStatus.SCHEDULED,
        created_at=now,
        updated_at=now,
    )
    return Appointment(**(fields | overrides))


async def setup(storage: Storage, **resource_fields: Any) -> tuple[Actor, Resource, UUID]:
    """A tenant with one resource and one customer."""
    actor = await storage.new_tenant()
    resource = make_resource(actor, **resource_fields)
    customer = make_customer(actor.tenant_id)
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.resources.add(resource)
        await uow.customers.add(customer)
        await uow.commit()
    return actor, resource, customer.id


async def add_appointments(storage: Storage, actor: Actor, *appointments: Appointment) -> None:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        for appointment in appointments:
            await uow.appointments.add(appointment)
        await uow.commit()


async def book(
    storage: Storage, actor: Actor, resource_id: UUID, customer_id: UUID, start: datetime, **kw: Any
):
    command = handlers.BookAppointment(
        resource_id=resource_id,
        customer_id=customer_id,
        service=kw.pop("service", "Haircut"),
        start=start,
        end=kw.pop("end", start + timedelta(minutes=30)),
        **kw,
    )
    return await handlers.book_appointment(
        command, owner_of(actor), storage.units(actor.tenant_id, actor.user_id), CLOCK, NO_CALENDARS
    )


# --- resources ---------------------------------------------------------------------------------


async def test_a_resource_reads_back_equal_to_what_was_added(storage: Storage):
    actor, resource, _ = await setup(storage, buffer_before=10, buffer_after=5, time_zone="Europe/London")

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.resources.get(resource.id) == resource
        assert await uow.resources.get(resource.id, for_update=True) == resource


async def test_a_resource_update_with_the_current_version_is_stored_and_a_stale_one_is_not(storage: Storage):
    actor, resource, _ = await setup(storage)
    changed = replace(
        resource,
        name="Van 7",
        kind=ResourceKind.VEHICLE,
        working_hours=parse_weekly_hours({"monday": [("08:00", "12:00")]}),
        version=2,
    )

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.resources.update(changed, expected_version=1) is True
        assert await uow.resources.update(replace(changed, name="Lost"), expected_version=1) is False
        await uow.commit()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.resources.get(resource.id) == changed


async def test_resources_list_newest_first_and_filter_by_kind(storage: Storage):
    actor = await storage.new_tenant()
    base = utc_now()
    made = [
        make_resource(actor, kind=kind, created_at=base + timedelta(seconds=n), updated_at=base)
        for n, kind in enumerate([ResourceKind.ROOM, ResourceKind.STAFF, ResourceKind.ROOM])
    ]
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        for resource in made:
            await uow.resources.add(resource)
        await uow.commit()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        everything = await uow.resources.list(PageRequest(limit=2))
        rest = await uow.resources.list(PageRequest(limit=2, after=everything.next_position))
        rooms = await uow.resources.list(PageRequest(), ResourceKind.ROOM)

    assert [r.id for r in everything.items + rest.items] == [made[2].id, made[1].id, made[0].id]
    assert [r.id for r in rooms.items] == [made[2].id, made[0].id]


async def test_deleting_a_resource_takes_its_overrides_and_feed_with_it(storage: Storage):
    actor, resource, _ = await setup(storage)
    day = date(2030, 12, 25)
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.resource_overrides.add(_override(resource, day))
        await uow.calendar_feeds.save(CalendarFeed(actor.tenant_id, resource.id, uuid4().hex, utc_now()))
        await uow.commit()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.resources.delete(resource.id) is True
        await uow.commit()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.resources.get(resource.id) is None
        assert await uow.resource_overrides.get(resource.id, day) is None
        assert await uow.calendar_feeds.get(resource.id) is None
        assert await uow.resources.delete(resource.id) is False


async def test_a_resource_that_appointments_name_cannot_be_deleted(storage: Storage):
    actor, resource, customer_id = await setup(storage)
    await book(storage, actor, resource.id, customer_id, tomorrow_at(9))

    with pytest.raises(Conflict) as refused:
        await handlers.delete_resource(
            handlers.DeleteResource(resource.id),
            owner_of(actor),
            storage.units(actor.tenant_id, actor.user_id),
        )

    assert refused.value.code == "resource_in_use"
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.appointments.exists_for_resource(resource.id) is True
        assert await uow.resources.get(resource.id) is not None


# --- overrides ---------------------------------------------------------------------------------


def _override(resource: Resource, day: date, intervals: tuple = ()) -> ResourceOverride:  # type: ignore[type-arg]
    now = utc_now()
    return ResourceOverride(resource.tenant_id, resource.id, day, intervals, "Holiday", now, now)


async def test_overrides_round_trip_by_date_and_a_second_one_for_a_date_conflicts(storage: Storage):
    actor, resource, _ = await setup(storage)
    hours = parse_weekly_hours({"monday": [("10:00", "12:00"), ("13:00", "15:00")]})[0]
    first, second, later = date(2030, 1, 7), date(2030, 1, 1), date(2031, 6, 1)
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        for override in (
            _override(resource, first, hours),
            _override(resource, second),
            _override(resource, later),
        ):
            await uow.resource_overrides.add(override)
        await uow.commit()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        with pytest.raises(Conflict) as refused:
            await uow.resource_overrides.add(_override(resource, first))
        in_range = await uow.resource_overrides.between(resource.id, date(2030, 1, 1), date(2030, 12, 31))
        stored = await uow.resource_overrides.get(resource.id, first)

    assert refused.value.code == "override_exists"
    assert [o.day for o in in_range] == [second, first]
    assert stored is not None
    assert (stored.intervals, stored.closed, stored.reason) == (hours, False, "Holiday")
    assert in_range[0].closed


async def test_an_override_can_be_changed_and_removed(storage: Storage):
    actor, resource, _ = await setup(storage)
    day = date(2030, 3, 3)
    original = _override(resource, day)
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.resource_overrides.add(original)
        await uow.commit()
    reopened = replace(
        original, intervals=parse_weekly_hours({"sunday": [("09:00", "11:00")]})[6], reason=None
    )

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.resource_overrides.update(reopened) is True
        await uow.commit()
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.resource_overrides.get(resource.id, day) == reopened
        assert await uow.resource_overrides.delete(resource.id, day) is True
        assert await uow.resource_overrides.delete(resource.id, day) is False
        await uow.commit()


# --- appointments ------------------------------------------------------------------------------


async def test_an_appointment_reads_back_equal_and_updates_only_at_the_current_version(storage: Storage):
    actor, resource, customer_id = await setup(storage)
    appointment = make_appointment(actor, resource, customer_id)
    await add_appointments(storage, actor, appointment)
    confirmed = replace(appointment, status=AppointmentStatus.CONFIRMED, notes=None, version=2)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.appointments.get(appointment.id) == appointment
        assert await uow.appointments.update(confirmed, expected_version=1) is True
        assert await uow.appointments.update(replace(confirmed, service="Lost"), expected_version=1) is False
        await uow.commit()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.appointments.get(appointment.id, for_update=True) == confirmed
        assert await uow.appointments.delete(appointment.id) is True
        await uow.commit()
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.appointments.get(appointment.id) is None


async def test_overlapping_finds_the_blocked_ranges_that_meet_a_span_but_not_cancelled_or_touching_ones(
    storage: Storage,
):
    actor, resource, customer_id = await setup(storage)
    nine, ten, eleven, noon = (tomorrow_at(hour) for hour in (9, 10, 11, 12))
    early = make_appointment(actor, resource, customer_id, starts_at=nine, ends_at=ten)
    buffered = make_appointment(
        actor, resource, customer_id, starts_at=ten + timedelta(minutes=15), ends_at=eleven
    )
    buffered = replace(buffered, blocked_from=ten)  # booked with a 15-minute buffer before
    cancelled = make_appointment(
        actor, resource, customer_id, starts_at=eleven, ends_at=noon, status=AppointmentStatus.CANCELLED
    )
    await add_appointments(storage, actor, early, buffered, cancelled)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        at_ten = await uow.appointments.overlapping(resource.id, ten, ten + timedelta(minutes=5))
        all_morning = await uow.appointments.overlapping(resource.id, nine, noon)
        but_early = await uow.appointments.overlapping(resource.id, nine, noon, exclude=early.id)
        first_only = await uow.appointments.overlapping(resource.id, nine, noon, limit=1)
        at_noon = await uow.appointments.overlapping(resource.id, eleven, noon)

    assert [a.id for a in at_ten] == [buffered.id]  # early ends at ten: touching is no overlap
    assert [a.id for a in all_morning] == [early.id, buffered.id]
    assert [a.id for a in but_early] == [buffered.id]
    assert [a.id for a in first_only] == [early.id]
    assert at_noon == []  # cancelled appointments free their time


async def test_appointments_list_newest_booked_first_with_every_filter(storage: Storage):
    actor, resource, customer_id = await setup(storage)
    other_resource = make_resource(actor)
    other_customer = make_customer(actor.tenant_id)
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.resources.add(other_resource)
        await uow.customers.add(other_customer)
        await uow.commit()
    base = utc_now()
    made = [
        make_appointment(
            actor,
            res,
            cust,
            starts_at=tomorrow_at(hour),
            status=status,
            created_at=base + timedelta(seconds=hour),
        )
        for hour, res, cust, status in [
            (8, resource, customer_id, AppointmentStatus.SCHEDULED),
            (10, other_resource, customer_id, AppointmentStatus.CONFIRMED),
            (12, resource, other_customer.id, AppointmentStatus.CANCELLED),
            (14, resource, customer_id, AppointmentStatus.CONFIRMED),
        ]
    ]
    await add_appointments(storage, actor, *made)

    async def ids(**filters: Any) -> list[UUID]:
        async with storage.units(actor.tenant_id, actor.user_id) as uow:
            page = await uow.appointments.list(AppointmentFilter(**filters), PageRequest(limit=100))
        return [a.id for a in page.items]

    assert await ids() == [made[3].id, made[2].id, made[1].id, made[0].id]
    assert await ids(resource_id=resource.id) == [made[3].id, made[2].id, made[0].id]
    assert await ids(customer_id=other_customer.id) == [made[2].id]
    assert await ids(status=AppointmentStatus.CONFIRMED) == [made[3].id, made[1].id]
    assert await ids(starts_after=tomorrow_at(10), starts_before=tomorrow_at(14)) == [made[2].id]
    assert await ids(resource_id=resource.id, status=AppointmentStatus.CONFIRMED) == [made[3].id]

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        first = await uow.appointments.list(AppointmentFilter(), PageRequest(limit=3))
        second = await uow.appointments.list(
            AppointmentFilter(), PageRequest(limit=3, after=first.next_position)
        )
    assert (first.has_more, second.has_more) == (True, False)
    assert [a.id for a in first.items + second.items] == await ids()


async def test_a_customers_appointments_are_timeline_entries_placed_at_their_start(storage: Storage):
    actor, resource, customer_id = await setup(storage)
    made = [make_appointment(actor, resource, customer_id, starts_at=tomorrow_at(h)) for h in (9, 13, 11)]
    await add_appointments(storage, actor, *made)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        newest = await uow.appointments.timeline(customer_id, None, 2)
        rest = await uow.appointments.timeline(customer_id, replace_position(newest[-1]), 5)
        nobody = await uow.appointments.timeline(uuid4(), None, 5)

    assert [e.occurred_at.hour for e in newest + rest] == [13, 11, 9]
    assert all(e.kind.value == "appointment" and e.ref.object == "appointment" for e in newest + rest)
    assert newest[0].summary == "Appointment: Consultation (scheduled)"
    assert nobody == []


def replace_position(entry: Any) -> Any:
    from switchboard.core.customers.timeline import position_of

    return position_of(entry)


async def test_the_storage_itself_refuses_an_overlapping_appointment_where_it_can(
    storage: Storage, request: pytest.FixtureRequest
):
    """Memory always; PostgreSQL where the exclusion constraint exists (btree_gist offered).
    Elsewhere only the use case's check under the resource lock stands: the tests below."""
    if storage.name == "postgres" and not _has_exclusion_constraint(request):
        # The migration adds the constraint wherever the server offers btree_gist, so its absence
        # must be the server's; then the resource lock alone guards (the concurrency tests below).
        assert not _btree_gist_offered(request)
        return
    actor, resource, customer_id = await setup(storage)
    first = make_appointment(actor, resource, customer_id, starts_at=tomorrow_at(9))
    clash = make_appointment(actor, resource, customer_id, starts_at=tomorrow_at(9, 30))
    await add_appointments(storage, actor, first)

    with pytest.raises(Conflict) as refused:
        await add_appointments(storage, actor, clash)

    assert refused.value.code == "slot_taken"
    cancelled_clash = replace(clash, id=uuid4(), status=AppointmentStatus.CANCELLED)
    await add_appointments(storage, actor, cancelled_clash)  # cancelled ones never clash


def _btree_gist_offered(request: pytest.FixtureRequest) -> bool:
    database = request.getfixturevalue("database")
    with psycopg.connect(database.owner_url) as conn:
        row = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'btree_gist'").fetchone()
    return row is not None


def _has_exclusion_constraint(request: pytest.FixtureRequest) -> bool:
    database = request.getfixturevalue("database")
    with psycopg.connect(database.owner_url) as conn:
        row = conn.execute("SELECT 1 FROM pg_constraint WHERE conname = 'appointments_no_overlap'").fetchone()
    return row is not None


# --- booking: the use case's guarantees --------------------------------------------------------


async def test_fifty_concurrent_bookings_of_one_slot_make_exactly_one_appointment(storage: Storage):
    actor, resource, customer_id = await setup(storage)
    start = tomorrow_at(15)

    results = await asyncio.wait_for(
        asyncio.gather(
            *(book(storage, actor, resource.id, customer_id, start) for _ in range(CONCURRENT_BOOKINGS)),
            return_exceptions=True,
        ),
        timeout=120,
    )

    created = [r for r in results if isinstance(r, Appointment)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(created) == 1, [r for r in results if not isinstance(r, (Appointment, Conflict))]
    assert len(refused) == CONCURRENT_BOOKINGS - 1
    assert {r.code for r in refused} == {"slot_taken"}
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        stored = await uow.appointments.overlapping(
            resource.id, start - timedelta(hours=1), start + timedelta(hours=1)
        )
    assert [a.id for a in stored] == [created[0].id]


async def test_fifty_concurrent_overlapping_bookings_at_different_times_never_overlap(storage: Storage):
    """Every request overlaps some others, none the same: whatever is booked is disjoint."""
    actor, resource, customer_id = await setup(storage, buffer_before=5, buffer_after=5)
    base = tomorrow_at(8)
    starts = [base + timedelta(minutes=7 * n) for n in range(CONCURRENT_BOOKINGS)]

    results = await asyncio.wait_for(
        asyncio.gather(
            *(book(storage, actor, resource.id, customer_id, s) for s in starts), return_exceptions=True
        ),
        timeout=120,
    )

    created = sorted((r for r in results if isinstance(r, Appointment)), key=lambda a: a.starts_at)
    assert all(
        isinstance(r, Appointment) or (isinstance(r, Conflict) and r.code == "slot_taken") for r in results
    )
    assert len(created) >= 1
    for earlier, later in itertools.pairwise(created):
        assert earlier.blocked_until <= later.blocked_from


async def test_concurrent_moves_into_one_slot_move_exactly_one_appointment(storage: Storage):
    actor, resource, customer_id = await setup(storage)
    booked = [
        await book(storage, actor, resource.id, customer_id, tomorrow_at(0) + timedelta(minutes=30 * n))
        for n in range(10)
    ]
    target = tomorrow_at(18)

    async def move(appointment: Appointment) -> Any:
        command = handlers.UpdateAppointment(
            appointment.id, {"start": target, "end": target + timedelta(minutes=30)}
        )
        return await handlers.update_appointment(
            command, owner_of(actor), storage.units(actor.tenant_id, actor.user_id), CLOCK, NO_CALENDARS
        )

    results = await asyncio.wait_for(
        asyncio.gather(*(move(a) for a in booked), return_exceptions=True), timeout=60
    )

    assert sum(isinstance(r, Appointment) for r in results) == 1
    assert [r.code for r in results if isinstance(r, Conflict)] == ["slot_taken"] * 9


async def test_a_booking_rechecks_whatever_slot_list_was_read_before_it(storage: Storage):
    actor, resource, customer_id = await setup(storage, buffer_after=15)
    start = tomorrow_at(11)
    query = handlers.FindSlots(resource.id, start, start + timedelta(hours=2), 30)
    listed = await handlers.find_slots(
        query, owner_of(actor), storage.units(actor.tenant_id, actor.user_id), CLOCK, NO_CALENDARS
    )
    assert [s.start for s in listed.slots][:2] == [start, start + timedelta(minutes=30)]

    await book(storage, actor, resource.id, customer_id, start)
    with pytest.raises(Conflict) as taken:
        await book(storage, actor, resource.id, customer_id, start)  # the stale first slot
    with pytest.raises(Conflict) as in_buffer:
        await book(storage, actor, resource.id, customer_id, start + timedelta(minutes=30))

    assert (taken.value.code, in_buffer.value.code) == ("slot_taken", "slot_taken")
    relisted = await handlers.find_slots(
        query, owner_of(actor), storage.units(actor.tenant_id, actor.user_id), CLOCK, NO_CALENDARS
    )
    assert start not in [s.start for s in relisted.slots]
    assert start + timedelta(minutes=30) not in [s.start for s in relisted.slots]


async def test_a_booking_names_a_resource_and_a_customer_of_its_own_tenant(storage: Storage):
    actor, resource, customer_id = await setup(storage)
    _, other_resource, other_customer = await setup(storage)

    with pytest.raises(InvalidInput) as wrong_resource:
        await book(storage, actor, other_resource.id, customer_id, tomorrow_at(9))
    with pytest.raises(InvalidInput) as wrong_customer:
        await book(storage, actor, resource.id, other_customer, tomorrow_at(9))

    assert [e.field for e in wrong_resource.value.errors] == ["resource_id"]
    assert [e.field for e in wrong_customer.value.errors] == ["customer_id"]


async def test_another_tenant_sees_none_of_a_tenants_scheduling_rows(storage: Storage):
    actor, resource, customer_id = await setup(storage)
    appointment = await book(storage, actor, resource.id, customer_id, tomorrow_at(9))
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.resource_overrides.add(_override(resource, date(2030, 1, 1)))
        await uow.calendar_feeds.save(CalendarFeed(actor.tenant_id, resource.id, uuid4().hex, utc_now()))
        await uow.commit()
    other = await storage.new_tenant()

    async with storage.units(other.tenant_id, other.user_id) as uow:
        assert await uow.resources.get(resource.id) is None
        assert (await uow.resources.list(PageRequest())).items == []
        assert await uow.resource_overrides.between(resource.id, date(2000, 1, 1), date(2100, 1, 1)) == []
        assert await uow.appointments.get(appointment.id) is None
        assert (await uow.appointments.list(AppointmentFilter(), PageRequest())).items == []
        assert await uow.appointments.overlapping(resource.id, tomorrow_at(0), tomorrow_at(23)) == []
        assert await uow.appointments.exists_for_resource(resource.id) is False
        assert await uow.calendar_feeds.get(resource.id) is None
        assert await uow.resources.delete(resource.id) is False
        assert await uow.appointments.delete(appointment.id) is False


# --- calendar feeds ----------------------------------------------------------------------------


async def test_a_feed_is_found_by_its_token_hash_until_rotated_or_revoked(storage: Storage):
    actor, resource, _ = await setup(storage)
    first, second = uuid4().hex, uuid4().hex
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.calendar_feeds.save(CalendarFeed(actor.tenant_id, resource.id, first, utc_now()))
        await uow.commit()
    assert await storage.directory.find_calendar_feed(first) == (actor.tenant_id, resource.id)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.calendar_feeds.save(CalendarFeed(actor.tenant_id, resource.id, second, utc_now()))
        await uow.commit()
    assert await storage.directory.find_calendar_feed(first) is None
    assert await storage.directory.find_calendar_feed(second) == (actor.tenant_id, resource.id)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.calendar_feeds.delete(resource.id) is True
        await uow.commit()
    assert await storage.directory.find_calendar_feed(second) is None


async def test_a_suspended_tenants_feed_is_not_found(storage: Storage):
    actor, resource, _ = await setup(storage)
    token_hash = uuid4().hex
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.calendar_feeds.save(CalendarFeed(actor.tenant_id, resource.id, token_hash, utc_now()))
        await uow.tenants.set_status(TenantStatus.SUSPENDED, utc_now())
        await uow.commit()

    assert await storage.directory.find_calendar_feed(token_hash) is None


async def test_the_feed_use_case_shows_the_resources_appointments_that_are_not_cancelled(storage: Storage):
    actor, resource, customer_id = await setup(storage)
    kept = await book(storage, actor, resource.id, customer_id, tomorrow_at(9))
    dropped = await book(storage, actor, resource.id, customer_id, tomorrow_at(11))
    await handlers.change_status(
        handlers.ChangeStatus(dropped.id, "cancelled"),
        owner_of(actor),
        storage.units(actor.tenant_id, actor.user_id),
        CLOCK,
    )
    _, token = await handlers.create_feed(
        resource.id, owner_of(actor), storage.units(actor.tenant_id, actor.user_id), CLOCK
    )

    feed = await handlers.read_feed(token, storage.directory, storage.units, CLOCK)

    assert feed.resource == resource
    assert [a.id for a in feed.appointments] == [kept.id]


async def test_no_connected_calendar_means_nothing_busy():
    assert await NO_CALENDARS.busy(uuid4(), uuid4(), tomorrow_at(0), tomorrow_at(23)) == []


def test_the_no_overlap_constraint_exists_exactly_where_the_server_offers_btree_gist(database):
    with psycopg.connect(database.owner_url) as conn:
        offered = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'btree_gist'").fetchone()
        made = conn.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'appointments_no_overlap'"
        ).fetchone()

    assert (made is not None) == (offered is not None)
    if made is not None:
        definition = made[0]
        assert definition.startswith("EXCLUDE USING gist (tenant_id WITH =, resource_id WITH =, tstzrange(")
        assert "blocked_from, blocked_until" in definition
        assert "WHERE ((status <> 'cancelled'::text))" in definition
