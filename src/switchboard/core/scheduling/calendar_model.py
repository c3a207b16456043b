"""Calendars connected to resources (Google Calendar, Outlook): what Switchboard keeps of them.

A tenant connects one calendar account (an integration of capability ``calendar``, whose sealed
configuration holds the OAuth tokens), then links resources to calendars of that account. For
each linked resource Switchboard

- reads busy times from the calendar (a free/busy query, cached briefly) and from the external
  events the periodic sync recorded (``ExternalBusy``);
- pushes every appointment of the resource to the calendar as an event, and remembers which
  event holds which appointment (``CalendarEventLink``), so a move patches it and a
  cancellation deletes it;
- keeps the provider's sync token (``ResourceCalendar.sync_token``) between periodic syncs.

Times are timezone-aware UTC. Pure data and rules only: the use cases are in
``calendar_sync.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from switchboard.core.errors import InvalidInput

CALENDAR_ID_MAX = 500
# What a calendar id may hold: the provider's ids (an email address, base64 text, "primary").
_CALENDAR_ID = re.compile(r"^[\x21-\x7e]{1,500}$")
PRIMARY = "primary"  # every provider's word here for the account's own, default calendar
TOKEN_FIELDS = ("access_token", "refresh_token")  # the secrets of a calendar integration


class SyncTokenExpired(Exception):
    """The provider no longer knows the sync token: list everything again (a full sync)."""


class EventGone(Exception):
    """The event to change no longer exists in the calendar (someone deleted it there)."""


@dataclass(frozen=True)
class CalendarTokens:
    """One connection's OAuth tokens. ``expires_at``: when the access token stops working."""

    access_token: str
    refresh_token: str | None
    expires_at: datetime | None

    def __repr__(self) -> str:  # never a token in a log line or a traceback
        return f"CalendarTokens(expires_at={self.expires_at!r})"


@dataclass(frozen=True)
class CalendarGrant:
    """What a finished OAuth connection brings: the tokens and the account they act for."""

    tokens: CalendarTokens
    account: str  # the provider's name for the account, such as its email address


@dataclass(frozen=True)
class BusyInterval:
    """A busy stretch of a calendar; ``event_id`` when the provider says which event it is."""

    start: datetime
    end: datetime
    event_id: str | None = None


@dataclass(frozen=True)
class CalendarEvent:
    """What Switchboard writes in a calendar for one appointment."""

    appointment_id: UUID
    summary: str
    start: datetime
    end: datetime
    location: str | None = None
    description: str | None = None
    # Stable for one version of one appointment: a create retried with it makes no second event.
    idempotency_key: str = ""


@dataclass(frozen=True)
class ExternalEvent:
    """One event of a calendar, as a sync reads it. All-day events come as dates."""

    event_id: str
    start: datetime | date | None
    end: datetime | date | None
    busy: bool  # it keeps the calendar's owner busy: not cancelled, not marked free
    ours: bool = False  # an event Switchboard wrote for an appointment


@dataclass(frozen=True)
class CalendarChanges:
    """What changed since a sync token, or (``full``) every event, with the next sync token."""

    events: list[ExternalEvent]
    removed: list[str]  # ids of events deleted since the token
    sync_token: str
    full: bool


@dataclass(frozen=True)
class ResourceCalendar:
    """A resource linked to a calendar of the tenant's connected calendar account."""

    tenant_id: UUID
    resource_id: UUID
    integration_id: UUID
    calendar_id: str
    created_at: datetime
    updated_at: datetime
    sync_token: str | None = None
    synced_at: datetime | None = None
    # The periodic sync job that is current: a job that is not this one was superseded.
    sync_job_id: UUID | None = None
    version: int = 1


@dataclass(frozen=True)
class ExternalBusy:
    """An event of the linked calendar that keeps the resource busy (recorded by the sync)."""

    tenant_id: UUID
    resource_id: UUID
    event_id: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class CalendarEventLink:
    """Which event of which calendar holds an appointment, and what was last written there."""

    tenant_id: UUID
    appointment_id: UUID
    integration_id: UUID
    calendar_id: str
    event_id: str
    starts_at: datetime  # the event's times as last written
    ends_at: datetime
    appointment_version: int  # the appointment's version the event shows
    updated_at: datetime


def clean_calendar_id(value: str) -> str:
    cleaned = value.strip()
    if not _CALENDAR_ID.match(cleaned):
        raise InvalidInput.single(
            "calendar_id",
            f"must be a calendar id of the connected account (1 to {CALENDAR_ID_MAX} characters)",
        )
    return cleaned


# --- the tokens inside an integration's sealed configuration -----------------------------------


def tokens_config(grant: CalendarGrant) -> dict[str, Any]:
    """The configuration stored (sealed) for a calendar integration."""
    return {"account": grant.account} | tokens_fields(grant.tokens)


def tokens_fields(tokens: CalendarTokens) -> dict[str, Any]:
    return {
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "expires_at": _iso(tokens.expires_at) if tokens.expires_at else None,
    }


def tokens_from_config(config: dict[str, Any]) -> CalendarTokens:
    expires = config.get("expires_at")
    return CalendarTokens(
        access_token=str(config.get("access_token") or ""),
        refresh_token=config.get("refresh_token") or None,
        expires_at=datetime.fromisoformat(expires) if isinstance(expires, str) else None,
    )


def newer_tokens(stored: CalendarTokens, fresh: CalendarTokens) -> bool:
    """Whether ``fresh`` should replace what is stored: another access token that lasts longer."""
    if fresh.access_token == stored.access_token:
        return False
    if stored.expires_at is None or fresh.expires_at is None:
        return True
    return fresh.expires_at >= stored.expires_at


# --- spans -------------------------------------------------------------------------------------

Span = tuple[datetime, datetime]


def event_span(event: ExternalEvent, zone_of_dates: Any) -> Span | None:
    """The instants an event covers; all-day dates are read in ``zone_of_dates`` (the
    resource's zone: a day off in the calendar is that day where the resource works)."""
    start, end = event.start, event.end
    if start is None or end is None:
        return None
    if not isinstance(start, datetime):
        start = datetime.combine(start, datetime.min.time(), zone_of_dates)
    if not isinstance(end, datetime):
        end = datetime.combine(end, datetime.min.time(), zone_of_dates)
    if start.tzinfo is None or end.tzinfo is None:
        return None
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    return (start, end) if start < end else None


def subtract(spans: list[Span], holes: list[Span]) -> list[Span]:
    """``spans`` with every part that lies inside one of ``holes`` cut out."""
    result = list(spans)
    for hole_start, hole_end in holes:
        kept: list[Span] = []
        for start, end in result:
            if end <= hole_start or hole_end <= start:
                kept.append((start, end))
                continue
            if start < hole_start:
                kept.append((start, hole_start))
            if hole_end < end:
                kept.append((hole_end, end))
        result = kept
    return result


def overlapping(spans: list[Span], start: datetime, end: datetime) -> list[Span]:
    return [(s, e) for s, e in spans if s < end and start < e]


def whole_days(start: datetime, end: datetime) -> list[datetime]:
    """The UTC midnights of the days [start, end) touches."""
    first = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    days = []
    day = first
    while day < end:
        days.append(day)
        day += timedelta(days=1)
    return days


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()
