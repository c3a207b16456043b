"""Free slots, computed from a resource's hours and what already keeps it busy: pure functions.

Working hours are wall-clock times in the resource's own time zone. Each local date's intervals
(its override's, or its weekday's) are turned into UTC instants with that date's offset, so a
9:00 to 17:00 day stays 9:00 to 17:00 local on the days clocks change. A wall-clock time that
does not exist (skipped by a spring-forward change) is read with the offset before the change,
as RFC 5545 reads it: 02:30 on a day New York jumps from 02:00 to 03:00 is 03:30 EDT (so hours
inside the skipped hour move an hour later, and an interval that ends at 03:00 but starts inside
the gap is empty). A time that happens twice (a fall-back change) is its first occurrence.

An appointment needs its resource free from ``start - buffer_before`` to ``end + buffer_after``;
busy intervals (other appointments' blocked ranges, busy times of connected calendars) are
half-open, so an appointment may begin exactly when another's blocked range ends.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from switchboard.core.errors import Conflict, FieldError, InvalidInput
from switchboard.core.scheduling.model import (
    LocalInterval,
    Resource,
    ResourceOverride,
    blocked_range,
    slot_taken,
    zone,
)

Span = tuple[datetime, datetime]

WINDOW_MAX = timedelta(days=62)
DURATION_MIN_MINUTES = 5
DURATION_MAX_MINUTES = 24 * 60
STEP_MIN_MINUTES = 5


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class SlotQuery:
    """A window of time to search, the length of the slots sought and how far apart they start."""

    window_start: datetime
    window_end: datetime
    duration: timedelta
    step: timedelta


def check_query(
    window_start: datetime, window_end: datetime, duration_minutes: int, step_minutes: int | None
) -> SlotQuery:
    """A bounded search: at most ``WINDOW_MAX`` wide, slots of 5 minutes to a day."""
    problems: list[tuple[str, str]] = []
    if window_start.tzinfo is None or window_end.tzinfo is None:
        problems.append(("from", "from and to must carry a time zone (for example a trailing Z)"))
    elif window_end <= window_start:
        problems.append(("to", "must be after from"))
    elif window_end - window_start > WINDOW_MAX:
        problems.append(("to", f"must be at most {WINDOW_MAX.days} days after from"))
    if not DURATION_MIN_MINUTES <= duration_minutes <= DURATION_MAX_MINUTES:
        problems.append(
            ("duration", f"must be from {DURATION_MIN_MINUTES} to {DURATION_MAX_MINUTES} minutes")
        )
    step = duration_minutes if step_minutes is None else step_minutes
    if step_minutes is not None and not STEP_MIN_MINUTES <= step <= DURATION_MAX_MINUTES:
        problems.append(("step", f"must be from {STEP_MIN_MINUTES} to {DURATION_MAX_MINUTES} minutes"))
    if problems:
        raise InvalidInput([FieldError(field, message) for field, message in problems])
    return SlotQuery(
        window_start.astimezone(UTC),
        window_end.astimezone(UTC),
        timedelta(minutes=duration_minutes),
        timedelta(minutes=step),
    )


def local_instant(day: date, minute: int, zone_name: str) -> datetime:
    """The UTC instant of a wall-clock minute of a local day (minute 1440: the next midnight)."""
    if minute >= 24 * 60:
        day, minute = day + timedelta(days=1), minute - 24 * 60
    wall = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone(zone_name))
    return wall.astimezone(UTC)  # fold=0: a skipped time takes the offset before the change


def local_days(resource: Resource, start: datetime, end: datetime) -> list[date]:
    """Every local date whose hours could reach into [start, end), with a day's margin."""
    tz = zone(resource.time_zone)
    first = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date() + timedelta(days=1)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def open_spans(
    resource: Resource, overrides: Mapping[date, ResourceOverride], start: datetime, end: datetime
) -> list[Span]:
    """The resource's working time around [start, end) as sorted, merged UTC spans.

    Adjacent intervals merge (Monday until 24:00 and Tuesday from 00:00 are one span), so an
    appointment may cross midnight when the hours do.
    """
    spans: list[Span] = []
    for day in local_days(resource, start, end):
        override = overrides.get(day)
        intervals: Iterable[LocalInterval] = override.intervals if override else resource.hours_on(day)
        for interval in intervals:
            begins = local_instant(day, interval.start, resource.time_zone)
            ends = local_instant(day, interval.end, resource.time_zone)
            if begins < ends:  # an interval inside a skipped hour is empty
                spans.append((begins, ends))
    return merge(spans)


def merge(spans: Iterable[Span]) -> list[Span]:
    """Sorted, with overlapping or touching spans joined."""
    merged: list[Span] = []
    for begins, ends in sorted(spans):
        if merged and begins <= merged[-1][1]:
            if ends > merged[-1][1]:
                merged[-1] = (merged[-1][0], ends)
        else:
            merged.append((begins, ends))
    return merged


class _BusyIndex:
    """Merged busy spans, asked whether anything overlaps a span in O(log n)."""

    def __init__(self, busy: Iterable[Span]) -> None:
        self._spans = merge(span for span in busy if span[0] < span[1])
        self._ends = [ends for _, ends in self._spans]

    def overlaps(self, begins: datetime, ends: datetime) -> bool:
        index = bisect.bisect_right(self._ends, begins)  # the first span ending after ``begins``
        return index < len(self._spans) and self._spans[index][0] < ends


def free_slots(
    resource: Resource,
    overrides: Mapping[date, ResourceOverride],
    busy: Sequence[Span],
    query: SlotQuery,
    not_before: datetime,
) -> list[Slot]:
    """Every slot of ``query.duration`` inside working hours and inside the window, starting no
    earlier than ``not_before``, whose blocked range (buffers included) meets nothing busy.

    Slots start at the beginning of each working span and then every ``query.step``.
    """
    index = _BusyIndex(busy)
    earliest = max(query.window_start, not_before)
    slots: list[Slot] = []
    for span_start, span_end in open_spans(resource, overrides, query.window_start, query.window_end):
        latest_end = min(span_end, query.window_end)
        steps_to_skip = max(0, -((span_start - earliest) // query.step))  # ceil((earliest - start) / step)
        begins = span_start + steps_to_skip * query.step
        while begins + query.duration <= latest_end:
            ends = begins + query.duration
            if not index.overlaps(*blocked_range(resource, begins, ends)):
                slots.append(Slot(begins, ends))
            begins += query.step
    return slots


def check_bookable(
    resource: Resource,
    overrides: Mapping[date, ResourceOverride],
    busy: Sequence[Span],
    start: datetime,
    end: datetime,
) -> None:
    """Refuse an appointment outside working hours, or one whose blocked range meets anything
    busy. The same rules ``free_slots`` applies, so a listed slot is bookable until taken."""
    spans = open_spans(resource, overrides, start, end)
    if not any(begins <= start and end <= ends for begins, ends in spans):
        raise Conflict(
            "the resource does not work at this time (working hours and overrides, in its time zone)",
            code="outside_working_hours",
        )
    if _BusyIndex(busy).overlaps(*blocked_range(resource, start, end)):
        raise slot_taken()
