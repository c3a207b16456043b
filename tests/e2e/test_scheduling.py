"""Scheduling over HTTP: resources, overrides, appointments and their statuses, availability
across a daylight-saving change, fifty concurrent bookings of one slot, and the iCalendar feed."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from dependency_injector import providers

from switchboard.entrypoints.http.blueprints.scheduling import (
    AppointmentListOut,
    AppointmentOut,
    AvailabilityOut,
    FeedOut,
    OverrideListOut,
    OverrideOut,
    ResourceListOut,
    ResourceOut,
)
from tests.e2e.admin_helpers import add_member, audit_entries, clock_at, create_key, only
from tests.e2e.helpers import (
    SignedUp,
    conforms,
    create_customer,
    error_fields,
    expect_problem,
    sign_up,
)
from tests.e2e.team_helpers import bearer

ALL_WEEK = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ROUND_THE_CLOCK = {day: [{"start": "00:00", "end": "24:00"}] for day in ALL_WEEK}
NINE_TO_FIVE = {day: [{"start": "09:00", "end": "17:00"}] for day in ALL_WEEK}
CONCURRENT_REQUESTS = 50


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def in_days(days: int, hour: int, minute: int = 0) -> datetime:
    """A whole-minute UTC time ``days`` from today."""
    day = datetime.now(UTC).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def next_spring_forward(zone: str) -> date:
    """The next date, at least two days away, on which ``zone``'s clocks jump forward."""
    tz = ZoneInfo(zone)
    day = datetime.now(UTC).date() + timedelta(days=2)
    while True:
        before = datetime(day.year, day.month, day.day, tzinfo=tz).utcoffset()
        after = datetime(day.year, day.month, day.day, 12, tzinfo=tz).utcoffset()
        if after is not None and before is not None and after > before:
            return day
        day += timedelta(days=1)


async def make_resource(client: Any, who: SignedUp, **fields: Any) -> dict[str, Any]:
    payload = {"name": "Dana", "kind": "staff", "time_zone": "UTC", "working_hours": ROUND_THE_CLOCK} | fields
    response = await client.post("/v1/resources", json=payload, headers=who.auth)
    assert response.status_code == 201, await response.get_data()
    body: dict[str, Any] = await response.get_json()
    conforms(ResourceOut, body)
    return body


async def book(
    client: Any, who: SignedUp, resource: dict, customer: dict, at: datetime, **fields: Any
) -> Any:
    payload = {
        "resource_id": resource["id"],
        "customer_id": customer["id"],
        "service": "Haircut",
        "start": iso(at),
        "end": iso(at + timedelta(minutes=fields.pop("minutes", 30))),
    } | fields
    return await client.post("/v1/appointments", json=payload, headers=who.auth)


async def booked(
    client: Any, who: SignedUp, resource: dict, customer: dict, at: datetime, **fields: Any
) -> dict:
    response = await book(client, who, resource, customer, at, **fields)
    assert response.status_code == 201, await response.get_data()
    body: dict[str, Any] = await response.get_json()
    conforms(AppointmentOut, body)
    return body


async def slots(
    client: Any, who: SignedUp, resource: dict, start: datetime, end: datetime, **params: Any
) -> list:
    query = {"resource_id": resource["id"], "from": iso(start), "to": iso(end), "duration": 60} | params
    response = await client.get("/v1/availability", query_string=query, headers=who.auth)
    assert response.status_code == 200, await response.get_data()
    body = await response.get_json()
    conforms(AvailabilityOut, body)
    return [(when(slot["start"]), when(slot["end"])) for slot in body["slots"]]


async def change_status(client: Any, who: SignedUp, appointment: dict, status: str, **headers: str) -> Any:
    return await client.post(
        f"/v1/appointments/{appointment['id']}/status", json={"status": status}, headers=who.auth | headers
    )


@pytest.fixture
async def shop(client) -> tuple[SignedUp, dict[str, Any], dict[str, Any]]:
    """A tenant with a round-the-clock resource and a customer."""
    owner = await sign_up(client)
    return owner, await make_resource(client, owner), await create_customer(client, owner)


# --- resources ---------------------------------------------------------------------------------


async def test_creating_a_resource_answers_201_with_location_etag_and_its_whole_week(client):
    owner = await sign_up(client)

    response = await client.post(
        "/v1/resources",
        json={
            "name": "  Room   One ",
            "kind": "room",
            "time_zone": "Europe/London",
            "buffer_before": 10,
            "working_hours": {
                "monday": [{"start": "13:00", "end": "17:00"}, {"start": "09:00", "end": "12:00"}]
            },
        },
        headers=owner.auth,
    )

    assert response.status_code == 201
    body = await response.get_json()
    conforms(ResourceOut, body)
    assert response.headers["Location"] == f"/v1/resources/{body['id']}"
    assert response.headers["ETag"] == '"1"'
    assert body["name"] == "Room One"
    assert (body["buffer_before"], body["buffer_after"]) == (10, 0)
    assert body["working_hours"]["monday"] == [
        {"start": "09:00", "end": "12:00"},
        {"start": "13:00", "end": "17:00"},
    ]
    assert body["working_hours"]["sunday"] == []
    fetched = await client.get(response.headers["Location"], headers=owner.auth)
    assert await fetched.get_json() == body


def hours(day: str, *pairs: tuple[str, str]) -> dict[str, Any]:
    return {"time_zone": "UTC", "working_hours": {day: [{"start": a, "end": b} for a, b in pairs]}}


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"time_zone": "Mars/Olympus"}, {"time_zone"}),
        (hours("monday", ("17:00", "09:00")), {"working_hours.monday.0"}),
        (hours("friday", ("09:00", "12:00"), ("11:00", "14")), {"working_hours.friday.1.end"}),
        (hours("friday", ("09:00", "12:00"), ("11:00", "14:00")), {"working_hours.friday"}),
        (hours("monday", ("9am", "17:00")), {"working_hours.monday.0.start"}),
    ],
)
async def test_a_resource_with_an_unknown_zone_or_senseless_hours_is_refused_on_its_field(
    client, fields, bad
):
    owner = await sign_up(client)

    response = await client.post(
        "/v1/resources", json={"name": "X", "kind": "staff"} | fields, headers=owner.auth
    )

    problem = await expect_problem(response, 400, "validation_error")
    assert error_fields(problem) == bad
    assert (await (await client.get("/v1/resources", headers=owner.auth)).get_json())["data"] == []


async def test_unknown_fields_and_weekdays_are_refused_with_400(client):
    owner = await sign_up(client)

    extra = await client.post(
        "/v1/resources",
        json={"name": "X", "kind": "staff", "time_zone": "UTC", "tenant_id": str(uuid.uuid4())},
        headers=owner.auth,
    )
    weekday = await client.post(
        "/v1/resources",
        json={"name": "X", "kind": "staff", "time_zone": "UTC", "working_hours": {"funday": []}},
        headers=owner.auth,
    )

    await expect_problem(extra, 400, "validation_error")
    await expect_problem(weekday, 400, "validation_error")


async def test_resources_list_newest_first_with_a_kind_filter_and_cursors(client):
    owner = await sign_up(client)
    made = [
        await make_resource(client, owner, name=f"R{n}", kind=kind)
        for n, kind in enumerate(["room", "staff", "room"])
    ]

    first = await client.get("/v1/resources", query_string={"limit": 2}, headers=owner.auth)
    page = await first.get_json()
    rest = await client.get(
        "/v1/resources", query_string={"limit": 2, "cursor": page["next_cursor"]}, headers=owner.auth
    )
    rooms = await client.get("/v1/resources", query_string={"kind": "room"}, headers=owner.auth)

    conforms(ResourceListOut, page)
    assert [r["id"] for r in page["data"] + (await rest.get_json())["data"]] == [
        m["id"] for m in reversed(made)
    ]
    assert [r["id"] for r in (await rooms.get_json())["data"]] == [made[2]["id"], made[0]["id"]]


async def test_a_resource_is_updated_with_if_match_and_a_stale_etag_answers_412(client):
    owner = await sign_up(client)
    resource = await make_resource(client, owner)

    changed = await client.patch(
        f"/v1/resources/{resource['id']}",
        json={
            "name": "Dana B.",
            "buffer_after": 15,
            "working_hours": {"tuesday": [{"start": "10:00", "end": "14:00"}]},
        },
        headers=owner.auth | {"If-Match": '"1"'},
    )
    stale = await client.patch(
        f"/v1/resources/{resource['id']}", json={"name": "Lost"}, headers=owner.auth | {"If-Match": '"1"'}
    )
    nulled = await client.patch(
        f"/v1/resources/{resource['id']}", json={"working_hours": None}, headers=owner.auth
    )

    assert changed.status_code == 200
    body = await changed.get_json()
    assert changed.headers["ETag"] == '"2"'
    assert (body["name"], body["buffer_after"]) == ("Dana B.", 15)
    assert body["working_hours"]["monday"] == []
    assert body["working_hours"]["tuesday"] == [{"start": "10:00", "end": "14:00"}]
    await expect_problem(stale, 412, "precondition_failed")
    assert error_fields(await expect_problem(nulled, 400, "validation_error")) == {"working_hours"}


async def test_a_resource_with_appointments_is_not_deleted_and_one_without_is(client, shop):
    owner, resource, customer = shop
    await booked(client, owner, resource, customer, in_days(3, 10))
    spare = await make_resource(client, owner, name="Spare")

    kept = await client.delete(f"/v1/resources/{resource['id']}", headers=owner.auth)
    gone = await client.delete(f"/v1/resources/{spare['id']}", headers=owner.auth)

    await expect_problem(kept, 409, "resource_in_use")
    assert gone.status_code == 204
    await expect_problem(
        await client.get(f"/v1/resources/{spare['id']}", headers=owner.auth), 404, "not_found"
    )


async def test_only_managers_manage_resources_but_every_member_reads_them_and_books(client, database, shop):
    owner, resource, customer = shop
    member = await add_member(client, database, owner, "member")

    create = await client.post(
        "/v1/resources", json={"name": "X", "kind": "room", "time_zone": "UTC"}, headers=member.auth
    )
    read = await client.get(f"/v1/resources/{resource['id']}", headers=member.auth)
    booking = await book(client, member, resource, customer, in_days(3, 9))

    await expect_problem(create, 403, "forbidden")
    assert read.status_code == 200
    assert booking.status_code == 201


async def test_another_tenants_resource_and_appointment_answer_404(client, shop):
    owner, resource, customer = shop
    appointment = await booked(client, owner, resource, customer, in_days(3, 9))
    stranger = await sign_up(client)

    for path in (f"/v1/resources/{resource['id']}", f"/v1/appointments/{appointment['id']}"):
        await expect_problem(await client.get(path, headers=stranger.auth), 404, "not_found")
    await expect_problem(
        await client.delete(f"/v1/appointments/{appointment['id']}", headers=stranger.auth), 404, "not_found"
    )
    listed = await client.get("/v1/appointments", headers=stranger.auth)
    assert (await listed.get_json())["data"] == []


# --- overrides ---------------------------------------------------------------------------------


async def test_a_holiday_closes_its_day_and_an_override_with_hours_replaces_the_weekday(client):
    owner = await sign_up(client)
    resource = await make_resource(client, owner, working_hours=NINE_TO_FIVE)
    holiday, short_day = in_days(5, 0).date(), in_days(6, 0).date()

    closed = await client.post(
        f"/v1/resources/{resource['id']}/overrides",
        json={"date": holiday.isoformat(), "closed": True, "reason": "Bank holiday"},
        headers=owner.auth,
    )
    short = await client.post(
        f"/v1/resources/{resource['id']}/overrides",
        json={"date": short_day.isoformat(), "intervals": [{"start": "10:00", "end": "12:00"}]},
        headers=owner.auth,
    )
    again = await client.post(
        f"/v1/resources/{resource['id']}/overrides",
        json={"date": holiday.isoformat(), "closed": True},
        headers=owner.auth,
    )

    assert closed.status_code == 201
    body = await closed.get_json()
    conforms(OverrideOut, body)
    assert closed.headers["Location"] == f"/v1/resources/{resource['id']}/overrides/{holiday.isoformat()}"
    assert (body["closed"], body["intervals"], body["reason"]) == (True, [], "Bank holiday")
    assert short.status_code == 201
    await expect_problem(again, 409, "override_exists")
    start = datetime(holiday.year, holiday.month, holiday.day, tzinfo=UTC)
    found = await slots(client, owner, resource, start, start + timedelta(days=2))
    assert [s.hour for s, _ in found] == [10, 11]


async def test_overrides_are_listed_by_date_changed_and_removed(client):
    owner = await sign_up(client)
    resource = await make_resource(client, owner, working_hours=NINE_TO_FIVE)
    base = f"/v1/resources/{resource['id']}/overrides"
    days = [in_days(n, 0).date().isoformat() for n in (9, 4, 30)]
    for day in days:
        response = await client.post(base, json={"date": day, "closed": True}, headers=owner.auth)
        assert response.status_code == 201

    listed = await client.get(base, query_string={"from": days[1], "to": days[0]}, headers=owner.auth)
    reopened = await client.patch(
        f"{base}/{days[1]}", json={"intervals": [{"start": "08:00", "end": "09:00"}]}, headers=owner.auth
    )
    removed = await client.delete(f"{base}/{days[2]}", headers=owner.auth)
    missing = await client.get(f"{base}/{days[2]}", headers=owner.auth)
    malformed = await client.get(f"{base}/31-12-2030", headers=owner.auth)
    too_wide = await client.get(
        base, query_string={"from": "2030-01-01", "to": "2031-06-01"}, headers=owner.auth
    )

    body = await listed.get_json()
    conforms(OverrideListOut, body)
    assert [o["date"] for o in body["data"]] == [days[1], days[0]]
    reopened_body = await reopened.get_json()
    assert (reopened_body["closed"], reopened_body["intervals"]) == (
        False,
        [{"start": "08:00", "end": "09:00"}],
    )
    assert removed.status_code == 204
    await expect_problem(missing, 404, "not_found")
    assert error_fields(await expect_problem(malformed, 400, "validation_error")) == {"date"}
    assert error_fields(await expect_problem(too_wide, 400, "validation_error")) == {"to"}


async def test_an_override_is_either_closed_or_has_hours(client):
    owner = await sign_up(client)
    resource = await make_resource(client, owner)
    base = f"/v1/resources/{resource['id']}/overrides"

    both = await client.post(
        base,
        json={"date": "2031-01-01", "closed": True, "intervals": [{"start": "09:00", "end": "10:00"}]},
        headers=owner.auth,
    )
    neither = await client.post(base, json={"date": "2031-01-01"}, headers=owner.auth)

    assert error_fields(await expect_problem(both, 400, "validation_error")) == {"intervals"}
    assert error_fields(await expect_problem(neither, 400, "validation_error")) == {"intervals"}


# --- appointments ------------------------------------------------------------------------------


async def test_booking_answers_201_with_location_and_etag_and_reads_back(client, shop):
    owner, resource, customer = shop
    start = in_days(3, 10)

    response = await book(
        client, owner, resource, customer, start, location=" Main street 1 ", notes="Line one\nLine two"
    )

    assert response.status_code == 201
    body = await response.get_json()
    conforms(AppointmentOut, body)
    assert response.headers["Location"] == f"/v1/appointments/{body['id']}"
    assert response.headers["ETag"] == '"1"'
    assert (body["status"], body["service"], body["location"]) == ("scheduled", "Haircut", "Main street 1")
    assert body["notes"] == "Line one\nLine two"
    assert (body["start"], body["end"]) == (iso(start), iso(start + timedelta(minutes=30)))
    fetched = await client.get(response.headers["Location"], headers=owner.auth)
    assert await fetched.get_json() == body


async def test_an_overlapping_booking_answers_409_slot_taken_and_a_touching_one_is_fine(client, shop):
    owner, resource, customer = shop
    start = in_days(3, 10)
    await booked(client, owner, resource, customer, start)

    clash = await book(client, owner, resource, customer, start + timedelta(minutes=15))
    after = await book(client, owner, resource, customer, start + timedelta(minutes=30))

    await expect_problem(clash, 409, "slot_taken")
    assert after.status_code == 201


async def test_buffers_keep_the_resource_free_around_each_appointment(client):
    owner = await sign_up(client)
    resource = await make_resource(client, owner, buffer_before=10, buffer_after=20)
    customer = await create_customer(client, owner)
    start = in_days(3, 10)
    await booked(client, owner, resource, customer, start)

    too_soon_after = await book(client, owner, resource, customer, start + timedelta(minutes=45))
    after_buffers = await book(client, owner, resource, customer, start + timedelta(minutes=60))
    too_close_before = await book(client, owner, resource, customer, start - timedelta(minutes=55))

    await expect_problem(too_soon_after, 409, "slot_taken")  # needs 10:35 free, blocked until 10:50
    assert after_buffers.status_code == 201  # blocked from 10:50
    await expect_problem(too_close_before, 409, "slot_taken")  # blocked until 09:55, past 09:50


async def test_booking_outside_the_working_hours_answers_409_outside_working_hours(client):
    owner = await sign_up(client)
    resource = await make_resource(client, owner, working_hours=NINE_TO_FIVE)
    customer = await create_customer(client, owner)

    late = await book(client, owner, resource, customer, in_days(3, 16, 45))

    await expect_problem(late, 409, "outside_working_hours")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"start": "2030-01-01T10:00:00"}, "start"),  # no time zone
        ({"customer_id": str(uuid.uuid4())}, "customer_id"),
        ({"resource_id": str(uuid.uuid4())}, "resource_id"),
        ({"service": "  "}, "service"),
    ],
)
async def test_a_booking_with_a_bad_field_is_refused_on_it_and_books_nothing(client, shop, change, field):
    owner, resource, customer = shop

    response = await book(client, owner, resource, customer, in_days(3, 10), **change)

    assert field in error_fields(await expect_problem(response, 400, "validation_error"))
    listed = await client.get("/v1/appointments", headers=owner.auth)
    assert (await listed.get_json())["data"] == []


async def test_a_booking_in_the_past_or_ending_before_it_starts_is_refused(client, shop):
    owner, resource, customer = shop

    past = await book(client, owner, resource, customer, in_days(-1, 10))
    backwards = await book(client, owner, resource, customer, in_days(3, 10), minutes=-30)

    assert error_fields(await expect_problem(past, 400, "validation_error")) == {"start"}
    assert error_fields(await expect_problem(backwards, 400, "validation_error")) == {"end"}


async def test_another_tenants_customer_cannot_be_booked(client, shop):
    owner, resource, _ = shop
    stranger = await sign_up(client)
    their_customer = await create_customer(client, stranger)

    response = await book(client, owner, resource, their_customer, in_days(3, 10))

    assert error_fields(await expect_problem(response, 400, "validation_error")) == {"customer_id"}


async def test_appointments_list_newest_first_with_filters_and_cursors(client, shop):
    owner, resource, customer = shop
    other = await create_customer(client, owner)
    made = [
        await booked(client, owner, resource, who, in_days(3, hour))
        for hour, who in ((9, customer), (11, other), (13, customer))
    ]
    await change_status(client, owner, made[1], "confirmed")

    async def ids(**params: Any) -> list[str]:
        response = await client.get(
            "/v1/appointments", query_string={"limit": 100} | params, headers=owner.auth
        )
        assert response.status_code == 200, await response.get_data()
        body = await response.get_json()
        conforms(AppointmentListOut, body)
        return [a["id"] for a in body["data"]]

    newest_first = [m["id"] for m in reversed(made)]
    assert await ids() == newest_first
    assert await ids(customer_id=customer["id"]) == [made[2]["id"], made[0]["id"]]
    assert await ids(status="confirmed") == [made[1]["id"]]
    assert await ids(
        resource_id=resource["id"], starts_after=iso(in_days(3, 9)), starts_before=iso(in_days(3, 13))
    ) == [made[1]["id"]]
    first = await (
        await client.get("/v1/appointments", query_string={"limit": 2}, headers=owner.auth)
    ).get_json()
    rest = await (
        await client.get(
            "/v1/appointments", query_string={"limit": 2, "cursor": first["next_cursor"]}, headers=owner.auth
        )
    ).get_json()
    assert [a["id"] for a in first["data"] + rest["data"]] == newest_first
    await expect_problem(
        await client.get("/v1/appointments", query_string={"status": "lost"}, headers=owner.auth), 400
    )


async def test_an_appointment_moves_with_if_match_and_the_move_is_checked_like_a_booking(client, shop):
    owner, resource, customer = shop
    first = await booked(client, owner, resource, customer, in_days(3, 9))
    second = await booked(client, owner, resource, customer, in_days(3, 11))
    path = f"/v1/appointments/{second['id']}"

    onto_first = await client.patch(path, json={"start": iso(in_days(3, 9, 15))}, headers=owner.auth)
    moved = await client.patch(
        path,
        json={"start": iso(in_days(4, 9)), "end": iso(in_days(4, 10)), "notes": "Moved by phone"},
        headers=owner.auth | {"If-Match": '"1"'},
    )
    stale = await client.patch(path, json={"service": "Lost"}, headers=owner.auth | {"If-Match": '"1"'})
    into_freed = await book(client, owner, resource, customer, in_days(3, 11))

    await expect_problem(onto_first, 409, "slot_taken")
    assert moved.status_code == 200
    body = await moved.get_json()
    assert (body["start"], body["end"], body["notes"]) == (
        iso(in_days(4, 9)),
        iso(in_days(4, 10)),
        "Moved by phone",
    )
    assert moved.headers["ETag"] == '"2"'
    await expect_problem(stale, 412, "precondition_failed")
    assert into_freed.status_code == 201
    assert (await (await client.get(f"/v1/appointments/{first['id']}", headers=owner.auth)).get_json())[
        "start"
    ] == iso(in_days(3, 9))


async def test_statuses_move_only_as_the_rules_allow_and_cancelling_frees_the_slot(client, shop):
    owner, resource, customer = shop
    start = in_days(3, 14)
    appointment = await booked(client, owner, resource, customer, start)

    confirmed = await change_status(client, owner, appointment, "confirmed", **{"If-Match": '"1"'})
    back = await change_status(client, owner, appointment, "scheduled")
    early = await change_status(client, owner, appointment, "completed")
    cancelled = await change_status(client, owner, appointment, "cancelled")
    revived = await change_status(client, owner, appointment, "confirmed")
    edited = await client.patch(
        f"/v1/appointments/{appointment['id']}", json={"notes": "x"}, headers=owner.auth
    )
    rebooked = await book(client, owner, resource, customer, start)

    assert (await confirmed.get_json())["status"] == "confirmed"
    await expect_problem(back, 409, "invalid_transition")
    await expect_problem(early, 409, "not_started")
    assert (await cancelled.get_json())["status"] == "cancelled"
    await expect_problem(revived, 409, "invalid_transition")
    await expect_problem(edited, 409, "appointment_final")
    assert rebooked.status_code == 201


async def test_an_appointment_is_completed_or_a_no_show_once_it_has_started(client, container, shop):
    owner, resource, customer = shop
    start = in_days(3, 10)
    done = await booked(client, owner, resource, customer, start)
    missed = await booked(client, owner, resource, customer, start + timedelta(hours=1))

    with clock_at(container, start + timedelta(hours=2)):
        completed = await change_status(client, owner, done, "completed")
        no_show = await change_status(client, owner, missed, "no_show")
        after = await change_status(client, owner, done, "cancelled")

    assert (await completed.get_json())["status"] == "completed"
    assert (await no_show.get_json())["status"] == "no_show"
    await expect_problem(after, 409, "invalid_transition")


async def test_deleting_an_appointment_answers_204_and_frees_its_time(client, shop):
    owner, resource, customer = shop
    start = in_days(3, 15)
    appointment = await booked(client, owner, resource, customer, start)

    stale = await client.delete(
        f"/v1/appointments/{appointment['id']}", headers=owner.auth | {"If-Match": '"7"'}
    )
    deleted = await client.delete(f"/v1/appointments/{appointment['id']}", headers=owner.auth)

    await expect_problem(stale, 412, "precondition_failed")
    assert deleted.status_code == 204
    assert (await book(client, owner, resource, customer, start)).status_code == 201


async def test_every_change_is_in_the_audit_log(client, shop):
    owner, resource, customer = shop
    appointment = await booked(client, owner, resource, customer, in_days(3, 10))
    await change_status(client, owner, appointment, "cancelled")
    await client.delete(f"/v1/appointments/{appointment['id']}", headers=owner.auth)
    await client.post(
        f"/v1/resources/{resource['id']}/overrides",
        json={"date": "2031-05-01", "closed": True},
        headers=owner.auth,
    )
    await client.patch(f"/v1/resources/{resource['id']}", json={"buffer_after": 5}, headers=owner.auth)
    await client.post(f"/v1/resources/{resource['id']}/feed", headers=owner.auth)

    entries = await audit_entries(client, owner)

    created = only(entries, "appointment.created")
    assert created["target_id"] == appointment["id"]
    assert created["changes"]["start"] == appointment["start"]
    assert only(entries, "appointment.cancelled")["changes"]["status"] == {
        "from": "scheduled",
        "to": "cancelled",
    }
    only(entries, "appointment.deleted")
    assert only(entries, "resource.created")["target_id"] == resource["id"]
    assert only(entries, "resource.updated")["changes"] == {"buffer_after": {"from": 0, "to": 5}}
    only(entries, "resource_override.created")
    assert only(entries, "calendar_feed.created")["changes"] == {}


async def test_a_customers_timeline_shows_their_appointments(client, shop):
    owner, resource, customer = shop
    appointment = await booked(client, owner, resource, customer, in_days(3, 10))

    response = await client.get(f"/v1/customers/{customer['id']}/timeline", headers=owner.auth)

    assert response.status_code == 200, await response.get_data()
    entries = [e for e in (await response.get_json())["data"] if e["kind"] == "appointment"]
    assert [e["ref"]["id"] for e in entries] == [appointment["id"]]


async def test_scheduling_key_scopes_read_or_write_appointments(client, shop):
    owner, resource, customer = shop
    reader = bearer((await create_key(client, owner, {"scheduling": "read"}))["secret"])
    writer = bearer((await create_key(client, owner, {"scheduling": "write", "customers": "read"}))["secret"])

    listed = await client.get("/v1/appointments", headers=reader)
    refused = await client.post(
        "/v1/appointments",
        json={"resource_id": resource["id"], "customer_id": customer["id"], "service": "Cut",
              "start": iso(in_days(3, 10)), "end": iso(in_days(3, 11))},
        headers=reader,
    )  # fmt: skip
    made = await client.post(
        "/v1/appointments",
        json={"resource_id": resource["id"], "customer_id": customer["id"], "service": "Cut",
              "start": iso(in_days(3, 10)), "end": iso(in_days(3, 11))},
        headers=writer,
    )  # fmt: skip

    assert listed.status_code == 200
    await expect_problem(refused, 403, "forbidden")
    assert made.status_code == 201


# --- availability ------------------------------------------------------------------------------


async def test_availability_across_new_yorks_spring_forward_keeps_nine_to_five_local(client):
    owner = await sign_up(client)
    resource = await make_resource(client, owner, time_zone="America/New_York", working_hours=NINE_TO_FIVE)
    day = next_spring_forward("America/New_York")
    tz = ZoneInfo("America/New_York")
    start = datetime(day.year, day.month, day.day, tzinfo=tz) - timedelta(days=1)

    found = await slots(client, owner, resource, start, start + timedelta(days=3))

    by_day: dict[date, list[str]] = {}
    for slot_start, slot_end in found:
        local = slot_start.astimezone(tz)
        assert slot_end - slot_start == timedelta(hours=1)
        by_day.setdefault(local.date(), []).append(local.strftime("%H:%M"))
    nine_to_four = [f"{hour:02d}:00" for hour in range(9, 17)]
    assert by_day == {day + timedelta(days=n): nine_to_four for n in (-1, 0, 1)}
    assert (found[0][0].hour, found[8][0].hour) == (14, 13)  # 09:00 EST, then 09:00 EDT


async def test_availability_leaves_out_booked_time_with_its_buffers(client):
    owner = await sign_up(client)
    resource = await make_resource(client, owner, working_hours=NINE_TO_FIVE, buffer_after=30)
    customer = await create_customer(client, owner)
    day_start = in_days(4, 0)
    await booked(client, owner, resource, customer, in_days(4, 11), minutes=60)

    found = await slots(client, owner, resource, day_start, day_start + timedelta(days=1))

    # 11:00-12:00 blocks until 12:30; 10:00-11:00 would need its own buffer, 11:00-11:30, free.
    assert [s.hour for s, _ in found] == [9, 13, 14, 15, 16]


async def test_availability_steps_and_bounds(client, shop):
    owner, resource, _ = shop
    start = in_days(3, 9)

    stepped = await slots(client, owner, resource, start, start + timedelta(hours=2), duration=60, step=30)
    too_wide = await client.get(
        "/v1/availability",
        query_string={
            "resource_id": resource["id"],
            "from": iso(start),
            "to": iso(start + timedelta(days=63)),
            "duration": 30,
        },
        headers=owner.auth,
    )
    naive = await client.get(
        "/v1/availability",
        query_string={
            "resource_id": resource["id"],
            "from": "2030-01-01T00:00:00",
            "to": iso(start),
            "duration": 30,
        },
        headers=owner.auth,
    )
    unknown = await client.get(
        "/v1/availability",
        query_string={"resource_id": str(uuid.uuid4()), "from": iso(start), "to": iso(start), "duration": 30}
        | {"to": iso(start + timedelta(days=1))},
        headers=owner.auth,
    )

    assert [(s.hour, s.minute) for s, _ in stepped] == [(9, 0), (9, 30), (10, 0)]
    assert error_fields(await expect_problem(too_wide, 400, "validation_error")) == {"to"}
    await expect_problem(naive, 400, "validation_error")
    await expect_problem(unknown, 404, "not_found")


class FixedBusyTimes:
    """A ``BusyTimes`` standing in for a connected calendar that reports one busy span."""

    def __init__(self, start: datetime, end: datetime) -> None:
        self.span = (start, end)

    async def busy(self, tenant_id: Any, resource_id: Any, start: datetime, end: datetime) -> list:
        return [self.span] if self.span[0] < end and start < self.span[1] else []


async def test_busy_times_of_a_connected_calendar_remove_slots_and_refuse_bookings(client, container, shop):
    owner, resource, customer = shop
    busy_from, busy_until = in_days(5, 12), in_days(5, 13)
    container.busy_times.override(providers.Object(FixedBusyTimes(busy_from, busy_until)))
    try:
        found = await slots(client, owner, resource, in_days(5, 10), in_days(5, 15))
        refused = await book(client, owner, resource, customer, in_days(5, 12, 30))
    finally:
        container.busy_times.reset_last_overriding()

    assert [s.hour for s, _ in found] == [10, 11, 13, 14]
    await expect_problem(refused, 409, "slot_taken")


# --- fifty at once -----------------------------------------------------------------------------


async def test_fifty_concurrent_requests_for_one_slot_book_exactly_one_and_answer_409_to_the_rest(
    client, shop
):
    owner, resource, customer = shop
    start = in_days(6, 10)

    responses = await asyncio.wait_for(
        asyncio.gather(*(book(client, owner, resource, customer, start) for _ in range(CONCURRENT_REQUESTS))),
        timeout=120,
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (CONCURRENT_REQUESTS - 1)
    for response in responses:
        if response.status_code == 409:
            await expect_problem(response, 409, "slot_taken")
    listed = await client.get(
        "/v1/appointments", query_string={"resource_id": resource["id"]}, headers=owner.auth
    )
    assert len((await listed.get_json())["data"]) == 1


# --- the iCalendar feed ------------------------------------------------------------------------


async def create_feed(client: Any, who: SignedUp, resource: dict) -> str:
    response = await client.post(f"/v1/resources/{resource['id']}/feed", headers=who.auth)
    assert response.status_code == 201, await response.get_data()
    body = await response.get_json()
    conforms(FeedOut, body)
    assert body["url"].startswith("http")
    return "/" + body["url"].split("/", 3)[3]


async def test_the_feed_address_serves_the_appointments_as_icalendar_without_any_credential(client, shop):
    owner, resource, customer = shop
    kept = await booked(
        client, owner, resource, customer, in_days(3, 10), location="Salon", notes="Secret note"
    )
    dropped = await booked(client, owner, resource, customer, in_days(3, 12))
    await change_status(client, owner, dropped, "cancelled")
    await change_status(client, owner, kept, "confirmed")
    path = await create_feed(client, owner, resource)

    response = await client.get(path)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(await response.get_data())
    events = list(calendar.walk("VEVENT"))
    assert [str(e["UID"]) for e in events] == [f"{kept['id']}@switchboard"]
    event = events[0]
    assert event.decoded("DTSTART") == when(kept["start"])
    assert event.decoded("DTEND") == when(kept["end"])
    assert (str(event["SUMMARY"]), str(event["LOCATION"]), str(event["STATUS"])) == (
        "Haircut",
        "Salon",
        "CONFIRMED",
    )
    text = (await response.get_data()).decode()
    assert "Secret note" not in text
    assert customer["name"] not in text
    assert str(calendar["X-WR-CALNAME"]) == resource["name"]


async def test_rotating_the_feed_retires_the_old_address_and_revoking_retires_the_new(client, shop):
    owner, resource, _ = shop
    old = await create_feed(client, owner, resource)
    new = await create_feed(client, owner, resource)

    assert (await client.get(new)).status_code == 200
    await expect_problem(await client.get(old), 404, "not_found")
    revoked = await client.delete(f"/v1/resources/{resource['id']}/feed", headers=owner.auth)
    assert revoked.status_code == 204
    await expect_problem(await client.get(new), 404, "not_found")
    again = await client.delete(f"/v1/resources/{resource['id']}/feed", headers=owner.auth)
    await expect_problem(again, 404, "not_found")


async def test_made_up_feed_addresses_answer_404(client):
    for path in ("/ical/sbcal_" + "A" * 43 + ".ics", "/ical/nothing.ics", "/ical/" + "x" * 300 + ".ics"):
        await expect_problem(await client.get(path), 404, "not_found")


async def test_only_managers_create_feeds(client, database, shop):
    owner, resource, _ = shop
    member = await add_member(client, database, owner, "member")

    response = await client.post(f"/v1/resources/{resource['id']}/feed", headers=member.auth)

    await expect_problem(response, 403, "forbidden")


async def test_the_access_log_never_records_a_feed_token(client, capsys, shop):
    owner, resource, _ = shop
    path = await create_feed(client, owner, resource)
    token = path.removeprefix("/ical/").removesuffix(".ics")
    capsys.readouterr()

    assert (await client.get(path)).status_code == 200

    logged = capsys.readouterr().out
    assert "/ical/[feed].ics" in logged
    assert token not in logged
