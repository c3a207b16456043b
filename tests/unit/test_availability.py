"""Free slots and booking rules, as pure functions: working hours in the resource's own zone
(across daylight-saving changes), overrides, buffers, busy times, and the status rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.core.errors import Conflict, InvalidInput
from switchboard.core.scheduling.availability import (
    Slot,
    check_bookable,
    check_query,
    free_slots,
    local_instant,
    open_spans,
)
from switchboard.core.scheduling.model import (
    Appointment,
    AppointmentStatus,
    Resource,
    ResourceKind,
    ResourceOverride,
    check_time_zone,
    override_intervals,
    parse_weekly_hours,
    transition,
)

NEW_YORK = "America/New_York"
LONDON = "Europe/London"
NINE_TO_FIVE = {day: [("09:00", "17:00")] for day in ("monday", "tuesday", "wednesday", "thursday", "friday")}
EVERY_DAY_NINE_TO_FIVE = NINE_TO_FIVE | {"saturday": [("09:00", "17:00")], "sunday": [("09:00", "17:00")]}
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def resource(
    zone: str = NEW_YORK,
    hours: dict[str, list[tuple[str, str]]] | None = None,
    *,
    before: int = 0,
    after: int = 0,
) -> Resource:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return Resource(
        id=uuid4(),
        tenant_id=uuid4(),
        name="Dana",
        kind=ResourceKind.STAFF,
        time_zone=zone,
        buffer_before=before,
        buffer_after=after,
        working_hours=parse_weekly_hours(EVERY_DAY_NINE_TO_FIVE if hours is None else hours),
        created_at=now,
        updated_at=now,
    )


def local_day_window(zone: str, day: date) -> tuple[datetime, datetime]:
    """The whole local day, as UTC instants."""
    tz = ZoneInfo(zone)
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def slots_on(
    subject: Resource,
    day: date,
    duration: int = 60,
    *,
    step: int | None = None,
    busy: list[tuple[datetime, datetime]] | None = None,
    overrides: dict[date, ResourceOverride] | None = None,
    not_before: datetime = LONG_AGO,
) -> list[Slot]:
    start, end = local_day_window(subject.time_zone, day)
    query = check_query(start, end, duration, step)
    return free_slots(subject, overrides or {}, busy or [], query, not_before)


def local_times(slots: list[Slot], zone: str) -> list[str]:
    tz = ZoneInfo(zone)
    return [slot.start.astimezone(tz).strftime("%H:%M") for slot in slots]


def at(zone: str, year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone)).astimezone(UTC)


HOURLY_NINE_TO_FOUR = [f"{hour:02d}:00" for hour in range(9, 17)]


# --- daylight-saving changes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "offset_hours"),
    [
        (NEW_YORK, date(2026, 3, 7), -5),  # the day before New York springs forward: EST
        (NEW_YORK, date(2026, 3, 8), -4),  # spring forward at 02:00: EDT from then on
        (NEW_YORK, date(2026, 11, 1), -5),  # fall back at 02:00: EST by nine o'clock
        (NEW_YORK, date(2026, 11, 2), -5),
        (LONDON, date(2026, 3, 29), 1),  # British Summer Time starts at 01:00
        (LONDON, date(2026, 10, 25), 0),  # and ends at 02:00
    ],
)
def test_a_nine_to_five_day_stays_nine_to_five_local_across_a_daylight_saving_change(zone, day, offset_hours):
    subject = resource(zone)

    slots = slots_on(subject, day)

    assert local_times(slots, zone) == HOURLY_NINE_TO_FOUR
    assert [slot.end - slot.start for slot in slots] == [timedelta(hours=1)] * 8
    assert slots[0].start == datetime(day.year, day.month, day.day, 9, tzinfo=UTC) - timedelta(
        hours=offset_hours
    )


def test_the_utc_hours_of_nine_to_five_move_by_an_hour_over_new_yorks_spring_forward():
    subject = resource(NEW_YORK)

    saturday = slots_on(subject, date(2026, 3, 7))
    sunday = slots_on(subject, date(2026, 3, 8))

    assert saturday[0].start.hour == 14  # 09:00 EST
    assert sunday[0].start.hour == 13  # 09:00 EDT


def test_a_night_shift_over_the_skipped_hour_has_one_slot_fewer_and_none_in_the_gap():
    subject = resource(NEW_YORK, {"sunday": [("00:00", "06:00")]})

    slots = slots_on(subject, date(2026, 3, 8))

    assert local_times(slots, NEW_YORK) == ["00:00", "01:00", "03:00", "04:00", "05:00"]


def test_a_night_shift_over_the_repeated_hour_has_one_slot_more():
    subject = resource(NEW_YORK, {"sunday": [("00:00", "03:00")]})

    slots = slots_on(subject, date(2026, 11, 1))

    # 00:00 EDT to 03:00 EST is four real hours; 01:00 happens twice.
    assert len(slots) == 4
    assert local_times(slots, NEW_YORK) == ["00:00", "01:00", "01:00", "02:00"]
    assert slots[-1].end == at(NEW_YORK, 2026, 11, 1, 3)


def test_hours_that_begin_inside_the_skipped_hour_begin_as_if_the_clock_had_not_jumped():
    subject = resource(NEW_YORK, {"sunday": [("02:30", "04:30")]}, before=0)

    slots = slots_on(subject, date(2026, 3, 8), duration=30)

    # 02:30 does not exist that day; read with the offset before the change it is 03:30 EDT.
    assert local_times(slots, NEW_YORK) == ["03:30", "04:00"]


def test_hours_wholly_inside_the_skipped_hour_move_an_hour_later():
    subject = resource(NEW_YORK, {"sunday": [("02:00", "02:45")]})

    slots = slots_on(subject, date(2026, 3, 8), duration=15)

    assert local_times(slots, NEW_YORK) == ["03:00", "03:15", "03:30"]


def test_hours_from_inside_the_skipped_hour_to_the_jump_are_empty():
    subject = resource(NEW_YORK, {"sunday": [("02:30", "03:00")]})

    assert slots_on(subject, date(2026, 3, 8), duration=5) == []


def test_local_instants_use_the_offset_of_their_own_date():
    winter = local_instant(date(2026, 1, 15), 9 * 60, LONDON)
    summer = local_instant(date(2026, 7, 15), 9 * 60, LONDON)

    assert (winter.hour, summer.hour) == (9, 8)


def test_a_window_across_the_change_lists_each_local_day_nine_to_five():
    subject = resource(NEW_YORK)
    start, end = at(NEW_YORK, 2026, 3, 6, 0), at(NEW_YORK, 2026, 3, 10, 0)
    query = check_query(start, end, 60, None)

    slots = free_slots(subject, {}, [], query, LONG_AGO)

    tz = ZoneInfo(NEW_YORK)
    by_day: dict[date, list[str]] = {}
    for slot in slots:
        local = slot.start.astimezone(tz)
        by_day.setdefault(local.date(), []).append(local.strftime("%H:%M"))
    assert list(by_day) == [date(2026, 3, day) for day in (6, 7, 8, 9)]
    assert all(times == HOURLY_NINE_TO_FOUR for times in by_day.values())


# --- hours, overrides, steps and windows -------------------------------------------------------


def test_a_weekday_without_hours_has_no_slots():
    subject = resource(hours=NINE_TO_FIVE)

    assert slots_on(subject, date(2026, 3, 7)) == []  # a Saturday


def test_a_closed_override_empties_the_day():
    subject = resource()
    holiday = date(2026, 12, 25)
    override = _override(subject, holiday, override_intervals(None, closed=True))

    assert slots_on(subject, holiday, overrides={holiday: override}) == []
    assert len(slots_on(subject, holiday + timedelta(days=1), overrides={holiday: override})) == 8


def test_an_override_with_hours_replaces_the_weekdays_hours():
    subject = resource(hours=NINE_TO_FIVE)
    saturday = date(2026, 3, 7)
    override = _override(subject, saturday, override_intervals([("10:00", "12:00")], closed=None))

    slots = slots_on(subject, saturday, overrides={saturday: override})

    assert local_times(slots, NEW_YORK) == ["10:00", "11:00"]


def test_slots_start_every_step_from_the_start_of_the_hours():
    subject = resource(hours={"monday": [("09:00", "11:00")]})

    slots = slots_on(subject, date(2026, 3, 9), duration=60, step=15)

    assert local_times(slots, NEW_YORK) == ["09:00", "09:15", "09:30", "09:45", "10:00"]


def test_a_slot_longer_than_the_hours_never_fits():
    subject = resource(hours={"monday": [("09:00", "10:00")]})

    assert slots_on(subject, date(2026, 3, 9), duration=90) == []


def test_no_slot_starts_before_now_and_the_next_one_keeps_to_the_step_grid():
    subject = resource()
    now = at(NEW_YORK, 2026, 3, 9, 10, 7)

    slots = slots_on(subject, date(2026, 3, 9), duration=30, not_before=now)

    assert local_times(slots, NEW_YORK)[0] == "10:30"


def test_slots_lie_wholly_inside_the_window():
    subject = resource()
    start, end = at(NEW_YORK, 2026, 3, 9, 10, 30), at(NEW_YORK, 2026, 3, 9, 13, 0)

    slots = free_slots(subject, {}, [], check_query(start, end, 60, 30), LONG_AGO)

    assert local_times(slots, NEW_YORK) == ["10:30", "11:00", "11:30", "12:00"]


def test_hours_until_midnight_and_from_midnight_join_so_a_slot_may_cross_midnight():
    subject = resource(hours={"monday": [("22:00", "24:00")], "tuesday": [("00:00", "02:00")]})
    start, end = at(NEW_YORK, 2026, 3, 9, 0), at(NEW_YORK, 2026, 3, 11, 0)

    spans = open_spans(subject, {}, start, end)
    slots = free_slots(subject, {}, [], check_query(start, end, 120, 60), LONG_AGO)

    assert spans == [(at(NEW_YORK, 2026, 3, 9, 22), at(NEW_YORK, 2026, 3, 10, 2))]
    assert local_times(slots, NEW_YORK) == ["22:00", "23:00", "00:00"]


# --- busy times and buffers --------------------------------------------------------------------


def test_busy_time_removes_the_slots_it_meets_and_touching_ones_stay():
    subject = resource()
    busy = [(at(NEW_YORK, 2026, 3, 9, 11), at(NEW_YORK, 2026, 3, 9, 12, 30))]

    slots = slots_on(subject, date(2026, 3, 9), busy=busy)

    assert local_times(slots, NEW_YORK) == ["09:00", "10:00", "13:00", "14:00", "15:00", "16:00"]


def test_buffers_keep_time_free_before_and_after_each_appointment():
    subject = resource(before=15, after=15)
    # An appointment 12:00-13:00 booked with these buffers blocks 11:45-13:15.
    busy = [(at(NEW_YORK, 2026, 3, 9, 11, 45), at(NEW_YORK, 2026, 3, 9, 13, 15))]

    slots = slots_on(subject, date(2026, 3, 9), duration=30, busy=busy)

    times = local_times(slots, NEW_YORK)
    # 11:00-11:30 needs 10:45-11:45 free: fine. 11:30-12:00 needs until 12:15: taken.
    # 13:30-14:00 needs from 13:15: fine; 13:00 needs from 12:45: taken.
    assert {"11:00", "13:30"} <= set(times)
    assert not {"11:30", "12:00", "12:30", "13:00"} & set(times)


def test_buffers_may_reach_outside_the_working_hours():
    subject = resource(before=30, after=30)

    slots = slots_on(subject, date(2026, 3, 9))

    assert local_times(slots, NEW_YORK) == HOURLY_NINE_TO_FOUR


def test_check_bookable_accepts_a_free_slot_inside_the_hours():
    subject = resource()

    check_bookable(subject, {}, [], at(NEW_YORK, 2026, 3, 9, 9), at(NEW_YORK, 2026, 3, 9, 9, 45))


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ((8, 30), (9, 30)),  # starts before the hours
        ((16, 30), (17, 30)),  # ends after them
        ((6, 0), (7, 0)),
    ],
)
def test_check_bookable_refuses_outside_the_working_hours(start, end):
    subject = resource()

    with pytest.raises(Conflict) as refused:
        check_bookable(subject, {}, [], at(NEW_YORK, 2026, 3, 9, *start), at(NEW_YORK, 2026, 3, 9, *end))

    assert refused.value.code == "outside_working_hours"


def test_check_bookable_refuses_a_slot_whose_buffer_meets_something_busy():
    subject = resource(after=10)
    busy = [(at(NEW_YORK, 2026, 3, 9, 10), at(NEW_YORK, 2026, 3, 9, 11))]

    with pytest.raises(Conflict) as refused:
        check_bookable(subject, {}, busy, at(NEW_YORK, 2026, 3, 9, 9), at(NEW_YORK, 2026, 3, 9, 9, 55))

    assert refused.value.code == "slot_taken"


# --- bounds of a query -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "duration", "step", "field"),
    [
        (63, 30, None, "to"),
        (1, 4, None, "duration"),
        (1, 24 * 60 + 1, None, "duration"),
        (1, 30, 4, "step"),
    ],
)
def test_a_query_out_of_bounds_is_refused_on_its_field(days, duration, step, field):
    start = datetime(2026, 3, 1, tzinfo=UTC)

    with pytest.raises(InvalidInput) as refused:
        check_query(start, start + timedelta(days=days), duration, step)

    assert {error.field for error in refused.value.errors} == {field}


def test_a_query_needs_aware_times_and_a_window_that_ends_after_it_starts():
    start = datetime(2026, 3, 1, tzinfo=UTC)

    with pytest.raises(InvalidInput):
        check_query(start.replace(tzinfo=None), start.replace(tzinfo=None) + timedelta(days=1), 30, None)
    with pytest.raises(InvalidInput):
        check_query(start, start, 30, None)


# --- property: a listed slot is bookable -------------------------------------------------------

_moments = st.integers(min_value=0, max_value=3 * 24 * 4).map(
    lambda quarter: datetime(2026, 3, 7, tzinfo=UTC) + timedelta(minutes=15 * quarter)
)


@settings(max_examples=150, deadline=None)
@given(
    busy=st.lists(
        st.tuples(_moments, st.integers(min_value=1, max_value=16)).map(
            lambda pair: (pair[0], pair[0] + timedelta(minutes=15 * pair[1]))
        ),
        max_size=8,
    ),
    duration=st.sampled_from([15, 30, 45, 60, 90]),
    step=st.sampled_from([5, 15, 30, 60]),
    before=st.sampled_from([0, 10, 30]),
    after=st.sampled_from([0, 15]),
    zone=st.sampled_from([NEW_YORK, LONDON, "Asia/Kolkata", "UTC"]),
)
def test_every_listed_slot_is_bookable_and_meets_nothing_busy(busy, duration, step, before, after, zone):
    subject = resource(zone, before=before, after=after)
    start = datetime(2026, 3, 7, tzinfo=UTC)
    query = check_query(start, start + timedelta(days=3), duration, step)

    slots = free_slots(subject, {}, busy, query, LONG_AGO)

    for slot in slots:
        check_bookable(subject, {}, busy, slot.start, slot.end)
        blocked = (slot.start - timedelta(minutes=before), slot.end + timedelta(minutes=after))
        assert all(not (b0 < blocked[1] and blocked[0] < b1) for b0, b1 in busy)
        assert query.window_start <= slot.start < slot.end <= query.window_end


# --- hours, zones and statuses -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "field"),
    [
        ({"monday": [("9:00", "17:00")]}, "working_hours.monday.0.start"),
        ({"monday": [("09:00", "24:30")]}, "working_hours.monday.0.end"),
        ({"monday": [("17:00", "09:00")]}, "working_hours.monday.0"),
        ({"monday": [("09:00", "12:00"), ("11:00", "13:00")]}, "working_hours.monday"),
        ({"funday": [("09:00", "12:00")]}, "working_hours"),
    ],
)
def test_working_hours_that_make_no_sense_are_refused_on_their_field(hours, field):
    with pytest.raises(InvalidInput) as refused:
        parse_weekly_hours(hours)

    assert [error.field for error in refused.value.errors] == [field]


def test_touching_intervals_and_a_day_until_midnight_are_fine():
    hours = parse_weekly_hours({"friday": [("13:00", "24:00"), ("09:00", "13:00")]})

    assert [(i.start, i.end) for i in hours[4]] == [(540, 780), (780, 1440)]


@pytest.mark.parametrize("name", ["Mars/Olympus", "../etc/passwd", "", "EST5EDT ", "x" * 80])
def test_an_unknown_time_zone_is_refused(name):
    if name.strip() == "EST5EDT":
        assert check_time_zone(name) == "EST5EDT"  # a real zone, trimmed
        return
    with pytest.raises(InvalidInput):
        check_time_zone(name)


def test_an_iana_time_zone_is_accepted():
    assert check_time_zone(" Europe/London ") == LONDON


def _appointment(status: AppointmentStatus, starts_at: datetime) -> Appointment:
    return Appointment(
        id=uuid4(),
        tenant_id=uuid4(),
        resource_id=uuid4(),
        customer_id=uuid4(),
        service="Consultation",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=1),
        blocked_from=starts_at,
        blocked_until=starts_at + timedelta(hours=1),
        location=None,
        notes=None,
        status=status,
        created_at=LONG_AGO,
        updated_at=LONG_AGO,
    )


START = datetime(2026, 3, 9, 15, tzinfo=UTC)
S = AppointmentStatus


@pytest.mark.parametrize(
    ("frm", "to"),
    [
        (S.SCHEDULED, S.CONFIRMED),
        (S.SCHEDULED, S.CANCELLED),
        (S.CONFIRMED, S.CANCELLED),
        (S.SCHEDULED, S.COMPLETED),
        (S.CONFIRMED, S.COMPLETED),
        (S.CONFIRMED, S.NO_SHOW),
    ],
)
def test_legal_transitions_change_the_status_and_the_version(frm, to):
    moved = transition(_appointment(frm, START), to, START + timedelta(minutes=5))

    assert (moved.status, moved.version) == (to, 2)


@pytest.mark.parametrize("final", [S.COMPLETED, S.CANCELLED, S.NO_SHOW])
@pytest.mark.parametrize("to", list(S))
def test_completed_cancelled_and_no_show_are_final(final, to):
    with pytest.raises(Conflict) as refused:
        transition(_appointment(final, START), to, START + timedelta(days=1))

    assert refused.value.code == "invalid_transition"


@pytest.mark.parametrize("status", [S.SCHEDULED, S.CONFIRMED])
def test_a_status_cannot_be_set_to_itself_and_confirmed_cannot_go_back(status):
    with pytest.raises(Conflict):
        transition(_appointment(status, START), status, START)
    with pytest.raises(Conflict):
        transition(_appointment(S.CONFIRMED, START), S.SCHEDULED, START)


@pytest.mark.parametrize("to", [S.COMPLETED, S.NO_SHOW])
def test_completed_and_no_show_need_the_appointment_to_have_started(to):
    with pytest.raises(Conflict) as refused:
        transition(_appointment(S.SCHEDULED, START), to, START - timedelta(seconds=1))

    assert refused.value.code == "not_started"
    assert transition(_appointment(S.SCHEDULED, START), to, START).status == to


def _override(subject: Resource, day: date, intervals: tuple) -> ResourceOverride:  # type: ignore[type-arg]
    return ResourceOverride(subject.tenant_id, subject.id, day, intervals, None, LONG_AGO, LONG_AGO)
