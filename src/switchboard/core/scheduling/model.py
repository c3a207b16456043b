"""Scheduling: bookable resources, their working hours, and the appointments made on them.

A resource (a staff member, a room, a vehicle) keeps weekly working hours as wall-clock
intervals in its own IANA time zone; a dated override replaces one day's hours (or closes it).
An appointment occupies its resource from ``start - buffer_before`` to ``end + buffer_after``
(its *blocked* range, fixed when it is booked or moved); two blocked ranges of one resource that
are not cancelled never overlap.
"""

from __future__ import annotations

import itertools
import re
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any
from uuid import UUID

from switchboard.core.customers.timeline import TimelineEntry, TimelineKind, TimelineRef
from switchboard.core.errors import Conflict, FieldError, InvalidInput, gather
from switchboard.core.text import refuse_control_characters, single_line

NAME_MAX = 200
SERVICE_MAX = 200
LOCATION_MAX = 500
NOTES_MAX = 5000
REASON_MAX = 200
TIME_ZONE_MAX = 64
BUFFER_MAX = 24 * 60  # minutes
INTERVALS_PER_DAY_MAX = 12
APPOINTMENT_MAX = timedelta(hours=24)
MINUTES_PER_DAY = 24 * 60

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_CLOCK = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


class ResourceKind(StrEnum):
    STAFF = "staff"
    ROOM = "room"
    VEHICLE = "vehicle"


@dataclass(frozen=True, order=True)
class LocalInterval:
    """Wall-clock time of one local day: minutes after midnight, ``end`` up to 1440 (midnight
    at the day's end)."""

    start: int
    end: int

    def render(self) -> tuple[str, str]:
        return render_clock(self.start), render_clock(self.end)


DayHours = tuple[LocalInterval, ...]
# Seven days of hours, Monday first; an empty day is closed.
WeeklyHours = tuple[DayHours, ...]
CLOSED_ALL_WEEK: WeeklyHours = ((),) * 7


@dataclass(frozen=True)
class Resource:
    id: UUID
    tenant_id: UUID
    name: str
    kind: ResourceKind
    time_zone: str
    buffer_before: int  # minutes kept free before each appointment
    buffer_after: int  # minutes kept free after each appointment
    working_hours: WeeklyHours
    created_at: datetime
    updated_at: datetime
    version: int = 1

    def hours_on(self, day: date) -> DayHours:
        return self.working_hours[day.weekday()]


@dataclass(frozen=True)
class ResourceOverride:
    """One local date with hours of its own; no intervals: closed (a holiday, a day off)."""

    tenant_id: UUID
    resource_id: UUID
    day: date
    intervals: DayHours
    reason: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def closed(self) -> bool:
        return not self.intervals


class AppointmentStatus(StrEnum):
    SCHEDULED = "scheduled"
    CONFIRMED = "confirmed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


# The legal moves; the three outcomes are final.
TRANSITIONS: Mapping[AppointmentStatus, frozenset[AppointmentStatus]] = {
    AppointmentStatus.SCHEDULED: frozenset(
        {
            AppointmentStatus.CONFIRMED,
            AppointmentStatus.CANCELLED,
            AppointmentStatus.COMPLETED,
            AppointmentStatus.NO_SHOW,
        }
    ),
    AppointmentStatus.CONFIRMED: frozenset(
        {AppointmentStatus.CANCELLED, AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW}
    ),
    AppointmentStatus.COMPLETED: frozenset(),
    AppointmentStatus.CANCELLED: frozenset(),
    AppointmentStatus.NO_SHOW: frozenset(),
}
# Whether it took place can only be told once it has started.
ONLY_AFTER_START = frozenset({AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW})


@dataclass(frozen=True)
class Appointment:
    id: UUID
    tenant_id: UUID
    resource_id: UUID
    customer_id: UUID
    service: str
    starts_at: datetime
    ends_at: datetime
    # What the resource is kept free for: start - buffer_before to end + buffer_after, with the
    # resource's buffers when the appointment was booked or last moved.
    blocked_from: datetime
    blocked_until: datetime
    location: str | None
    notes: str | None
    status: AppointmentStatus
    created_at: datetime
    updated_at: datetime
    version: int = 1

    @property
    def final(self) -> bool:
        return not TRANSITIONS[self.status]


def timeline_entry(appointment: Appointment) -> TimelineEntry:
    """The appointment on its customer's timeline, at its start time."""
    return TimelineEntry(
        occurred_at=appointment.starts_at,
        id=appointment.id,
        kind=TimelineKind.APPOINTMENT,
        summary=f"Appointment: {appointment.service} ({appointment.status.value.replace('_', ' ')})",
        ref=TimelineRef("appointment", appointment.id),
    )


@dataclass(frozen=True)
class CalendarFeed:
    """A resource's iCalendar feed: only the hash of its URL's secret token is kept."""

    tenant_id: UUID
    resource_id: UUID
    token_hash: str
    created_at: datetime


SLOT_TAKEN = "the resource is already booked at this time (buffers included)"


def slot_taken() -> Conflict:
    return Conflict(SLOT_TAKEN, code="slot_taken")


# --- time zones and wall-clock times -----------------------------------------------------------


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_time_zone(name: str, field: str = "time_zone") -> str:
    """An IANA zone name this server's time zone database knows (``Europe/London``)."""
    cleaned = name.strip()
    if len(cleaned) > TIME_ZONE_MAX or cleaned not in _known_zones():
        raise InvalidInput.single(field, "must be an IANA time zone such as Europe/London")
    return cleaned


def zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def parse_clock(value: str, field: str) -> int:
    """``HH:MM`` (24-hour, ``24:00`` for the end of the day) as minutes after midnight."""
    match = _CLOCK.match(value.strip()) if isinstance(value, str) else None
    minutes = int(match.group(1)) * 60 + int(match.group(2)) if match else -1
    if not 0 <= minutes <= MINUTES_PER_DAY:
        raise InvalidInput.single(field, "must be a time of day as HH:MM, from 00:00 to 24:00")
    return minutes


def render_clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_intervals(pairs: Sequence[tuple[str, str]], field: str) -> DayHours:
    """One day's (start, end) pairs: each non-empty, none overlapping, sorted in the result."""
    if len(pairs) > INTERVALS_PER_DAY_MAX:
        raise InvalidInput.single(field, f"must hold at most {INTERVALS_PER_DAY_MAX} intervals")
    problems: list[FieldError] = []
    intervals: list[LocalInterval] = []
    for index, (start_text, end_text) in enumerate(pairs):
        where = f"{field}.{index}"
        try:
            start, end = parse_clock(start_text, f"{where}.start"), parse_clock(end_text, f"{where}.end")
        except InvalidInput as error:
            problems.extend(error.errors)
            continue
        if start >= end:
            problems.append(FieldError(where, "must end after it starts"))
            continue
        intervals.append(LocalInterval(start, end))
    if problems:
        raise InvalidInput(problems)
    intervals.sort()
    for earlier, later in itertools.pairwise(intervals):
        if later.start < earlier.end:
            raise InvalidInput.single(field, "intervals must not overlap")
    return tuple(intervals)


def parse_weekly_hours(
    hours: Mapping[str, Sequence[tuple[str, str]]], field: str = "working_hours"
) -> WeeklyHours:
    """Weekday name to that day's intervals; a day left out is closed."""
    unknown = sorted(set(hours) - set(WEEKDAYS))
    if unknown:
        raise InvalidInput.single(field, f"unknown weekdays: {', '.join(unknown)}")
    problems: list[FieldError] = []
    days: list[DayHours] = []
    for name in WEEKDAYS:
        try:
            days.append(parse_intervals(hours.get(name, ()), f"{field}.{name}"))
        except InvalidInput as error:
            problems.extend(error.errors)
    if problems:
        raise InvalidInput(problems)
    return tuple(days)


def render_weekly_hours(hours: WeeklyHours) -> dict[str, list[tuple[str, str]]]:
    return {name: [interval.render() for interval in hours[index]] for index, name in enumerate(WEEKDAYS)}


def parse_day(value: str, field: str = "date") -> date:
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput.single(field, "must be a date as YYYY-MM-DD") from None


def utc(value: datetime, field: str) -> datetime:
    """A timezone-aware time, in UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput.single(field, "must carry a time zone (for example a trailing Z)")
    return value.astimezone(UTC)


# --- resources ---------------------------------------------------------------------------------

RESOURCE_FIELDS = frozenset({"name", "kind", "time_zone", "buffer_before", "buffer_after", "working_hours"})


def validated_resource(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Clean every present resource field, reporting every problem at once."""
    return gather({name: _resource_check(name, value) for name, value in fields.items()})


def _resource_check(name: str, value: Any) -> Callable[[], Any]:
    def check() -> Any:
        if name == "name":
            return single_line(value or "", "name", NAME_MAX)
        if name == "kind":
            try:
                return ResourceKind(value)
            except ValueError:
                raise InvalidInput.single(
                    "kind", f"must be one of {', '.join(kind.value for kind in ResourceKind)}"
                ) from None
        if name == "time_zone":
            return check_time_zone(value or "")
        if name in ("buffer_before", "buffer_after"):
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= BUFFER_MAX:
                raise InvalidInput.single(name, f"must be a number of minutes from 0 to {BUFFER_MAX}")
            return value
        if name == "working_hours":
            if value is None:
                raise InvalidInput.single(name, "must not be null; send the hours of each open weekday")
            return parse_weekly_hours(value)
        raise InvalidInput.single(name, "is not a resource field")

    return check


def apply_resource_changes(resource: Resource, changes: Mapping[str, Any], now: datetime) -> Resource:
    """``changes`` as ``validated_resource`` returns them."""
    return replace(resource, **dict(changes), updated_at=now, version=resource.version + 1)


# --- overrides ---------------------------------------------------------------------------------


def override_intervals(intervals: Sequence[tuple[str, str]] | None, closed: bool | None) -> DayHours:
    """Either ``closed`` or at least one interval, never both."""
    if closed:
        if intervals:
            raise InvalidInput.single("intervals", "must be empty when the day is closed")
        return ()
    if not intervals:
        raise InvalidInput.single("intervals", "give the day's intervals, or set closed to true")
    return parse_intervals(intervals, "intervals")


def clean_reason(reason: str | None) -> str | None:
    if reason is None or not reason.strip():
        return None
    return single_line(reason, "reason", REASON_MAX)


# --- appointments ------------------------------------------------------------------------------


def clean_service(service: str | None) -> str:
    return single_line(service or "", "service", SERVICE_MAX)


def clean_location(location: str | None) -> str | None:
    if location is None or not location.strip():
        return None
    return single_line(location, "location", LOCATION_MAX)


def clean_notes(notes: str | None) -> str | None:
    """Free text over several lines: trimmed, tabs and line breaks kept, other controls refused."""
    if notes is None or not notes.strip():
        return None
    text = notes.strip().replace("\r\n", "\n")
    if len(text) > NOTES_MAX:
        raise InvalidInput.single("notes", f"must be at most {NOTES_MAX} characters")
    refuse_control_characters(text.replace("\n", " ").replace("\t", " "), "notes")
    return text


def clean_times(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """Both aware, in UTC, end after start, at most a day apart."""
    problems: list[FieldError] = []
    try:
        start = utc(start, "start")
    except InvalidInput as error:
        problems.extend(error.errors)
    try:
        end = utc(end, "end")
    except InvalidInput as error:
        problems.extend(error.errors)
    if problems:
        raise InvalidInput(problems)
    if end <= start:
        raise InvalidInput.single("end", "must be after start")
    if end - start > APPOINTMENT_MAX:
        raise InvalidInput.single("end", "an appointment lasts at most 24 hours")
    return start, end


def blocked_range(resource: Resource, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    return start - timedelta(minutes=resource.buffer_before), end + timedelta(minutes=resource.buffer_after)


def transition(appointment: Appointment, to: AppointmentStatus, now: datetime) -> Appointment:
    """The appointment moved to status ``to``, if that move is legal now."""
    if to not in TRANSITIONS[appointment.status]:
        raise Conflict(
            f"an appointment that is {appointment.status} cannot become {to}", code="invalid_transition"
        )
    if to in ONLY_AFTER_START and now < appointment.starts_at:
        raise Conflict(f"an appointment can only become {to} once it has started", code="not_started")
    return replace(appointment, status=to, updated_at=now, version=appointment.version + 1)


def parse_status(value: str, field: str = "status") -> AppointmentStatus:
    try:
        return AppointmentStatus(value)
    except ValueError:
        choices = ", ".join(status.value for status in AppointmentStatus)
        raise InvalidInput.single(field, f"must be one of {choices}") from None


@dataclass(frozen=True)
class AppointmentFilter:
    resource_id: UUID | None = None
    customer_id: UUID | None = None
    status: AppointmentStatus | None = None
    starts_after: datetime | None = None
    starts_before: datetime | None = None
