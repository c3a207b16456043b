"""Calendars in Switchboard's words: a connected calendar account, its busy times, its events.

A calendar plugin (``google_calendar``, ``outlook_calendar``) offers a ``CalendarConnector``:
the platform operator's OAuth client at the provider, configured by the operator
(``SWITCHBOARD_CALENDAR_PROVIDERS``). It sends a tenant's owner to the provider's consent page,
trades the code that comes back for tokens, and opens a ``CalendarPort`` for one connection's
tokens whenever Switchboard needs that tenant's calendar. The tokens are the tenant's: they are
kept sealed in the tenant's calendar integration, never on the plugin.

The storage protocols at the end are attributes of the unit of work (ports/persistence.py),
confined to its tenant like every other repository.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

from switchboard.core.scheduling.calendar_model import (
    BusyInterval,
    CalendarChanges,
    CalendarEvent,
    CalendarEventLink,
    CalendarGrant,
    CalendarTokens,
    ExternalBusy,
    ResourceCalendar,
)


class CalendarPort(Protocol):
    """One connection to a calendar account, for as long as one piece of work takes.

    Expired access tokens are refreshed with the refresh token as needed (before a call when
    the access token has expired, and once after a 401); ``tokens()`` then answers the new
    ones, which the caller stores. A refusal that retrying cannot fix (a revoked grant, an
    unknown calendar) raises ``ProviderError(retryable=False)``; network errors, rate limits
    and the provider's own failures raise ``ProviderError(retryable=True)``.
    """

    async def busy(self, calendar_id: str, start: datetime, end: datetime) -> list[BusyInterval]:
        """The calendar's busy intervals overlapping [start, end) (a free/busy query)."""
        ...

    async def create_event(self, calendar_id: str, event: CalendarEvent) -> str:
        """Write the event; return the provider's id for it. Retried with the same
        ``event.idempotency_key``, it answers the event already made instead of a second one."""
        ...

    async def update_event(self, calendar_id: str, event_id: str, event: CalendarEvent) -> None:
        """Rewrite the event's times, summary, location and description; raises ``EventGone``
        when it no longer exists."""
        ...

    async def delete_event(self, calendar_id: str, event_id: str) -> None:
        """Remove the event; one that is already gone is fine."""
        ...

    async def changes(
        self, calendar_id: str, sync_token: str | None, window: tuple[datetime, datetime]
    ) -> CalendarChanges:
        """Every event changed since ``sync_token``; without one, every event of ``window``
        (``full``). Raises ``SyncTokenExpired`` when the provider forgot the token."""
        ...

    def tokens(self) -> CalendarTokens:
        """The tokens as they are now: refreshed ones if a refresh happened."""
        ...


class CalendarConnector(Protocol):
    """The operator's OAuth client at one calendar provider."""

    async def authorization_url(self, *, redirect_uri: str, state: str, code_challenge: str) -> str:
        """Where to send the person who connects their calendar (authorization code flow, PKCE
        S256, offline access so that a refresh token comes back)."""
        ...

    async def exchange(self, *, code: str, redirect_uri: str, code_verifier: str) -> CalendarGrant:
        """Trade the code for tokens and learn which account they act for."""
        ...

    def open(self, tokens: CalendarTokens) -> CalendarPort:
        """A new connection with one tenant's tokens; nothing is shared with another."""
        ...


class CalendarProviders(Protocol):
    """The calendar providers the operator configured, by plugin slug."""

    def slugs(self) -> list[str]: ...

    def get(self, slug: str) -> CalendarConnector | None: ...


# --- storage -----------------------------------------------------------------------------------


class ResourceCalendarRepository(Protocol):
    async def get(self, resource_id: UUID, *, for_update: bool = False) -> ResourceCalendar | None: ...

    async def save(self, link: ResourceCalendar) -> None:
        """Insert or replace the resource's link. The resource and the integration must exist
        (a foreign key); deleting either deletes the link, and the busy times recorded for it."""
        ...

    async def delete(self, resource_id: UUID) -> bool:
        """The link and the busy times recorded for it."""
        ...


class ExternalBusyRepository(Protocol):
    async def replace(self, resource_id: UUID, busy: list[ExternalBusy]) -> None:
        """Forget every busy time recorded for the resource and record these."""
        ...

    async def apply(self, resource_id: UUID, busy: list[ExternalBusy], removed: list[str]) -> None:
        """Record these (replacing any with the same event id), then forget ``removed``."""
        ...

    async def between(self, resource_id: UUID, start: datetime, end: datetime) -> list[ExternalBusy]:
        """The resource's recorded busy times overlapping [start, end), by start."""
        ...


class CalendarEventLinkRepository(Protocol):
    async def get(self, appointment_id: UUID, *, for_update: bool = False) -> CalendarEventLink | None: ...

    async def save(self, link: CalendarEventLink) -> None:
        """Insert or replace the appointment's link. Outlives the appointment (its event must
        still be deleted); goes with its integration."""
        ...

    async def delete(self, appointment_id: UUID) -> bool: ...

    async def between(
        self, integration_id: UUID, calendar_id: str, start: datetime, end: datetime
    ) -> list[CalendarEventLink]:
        """The events written in one calendar whose times overlap [start, end)."""
        ...
