"""Google Calendar: a tenant's Google calendars, through the Calendar API v3 (a ``calendar`` provider).

The platform operator registers one OAuth client at Google and configures it
(``SWITCHBOARD_CALENDAR_PROVIDERS='{"google_calendar": {"client_id": ..., "client_secret": ...}}'``).
A tenant's owner connects their Google account through it (authorization code flow with PKCE,
``access_type=offline`` so that a refresh token comes back); the tokens are the tenant's and are
kept sealed in the tenant's integration, never here.

- Busy times: ``POST /freeBusy`` for one calendar (at most ``FREEBUSY_SPAN`` per request).
- Events: ``POST /calendars/{id}/events`` with an event id derived from the appointment's, so a
  retried create answers 409 and the existing event is patched instead of a second one being
  made (a deleted event keeps its id at Google: patching it with ``status: confirmed`` brings it
  back); ``PATCH`` and ``DELETE`` on ``/calendars/{id}/events/{eventId}``. Switchboard's events
  carry ``extendedProperties.private.switchboardAppointmentId``.
- Changes: ``GET /calendars/{id}/events`` with ``singleEvents=true`` (recurring events as their
  instances), first with ``timeMin``, then with the ``nextSyncToken`` it ended with; a 410 means
  the token expired (``SyncTokenExpired``).

``authorization_url``, ``token_url`` and ``api_base`` default to Google's; the operator may point
them at another server (a local stand-in in tests), never a tenant.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from switchboard.core.integrations.model import Capability
from switchboard.core.scheduling.calendar_model import (
    BusyInterval,
    CalendarChanges,
    CalendarEvent,
    CalendarGrant,
    CalendarTokens,
    EventGone,
    ExternalEvent,
    SyncTokenExpired,
)
from switchboard.plugins import ProviderSpec, hookimpl
from switchboard.plugins.calendar_oauth import CalendarOAuth, TokenSession, refused
from switchboard.plugins.oauth import operator_url
from switchboard.ports.providers import ProviderError

SLUG = "google_calendar"
NAME = "Google Calendar"
AUTHORIZATION_URL = "https://accounts.google.com/o/oauth2/v2/auth"
TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 (an address, not a secret)
API_BASE = "https://www.googleapis.com/calendar/v3"
# Events to read and write, and free/busy and the calendar list to read.
SCOPE = "https://www.googleapis.com/auth/calendar.events https://www.googleapis.com/auth/calendar.readonly"
FREEBUSY_SPAN = timedelta(days=60)  # Google refuses longer free/busy ranges
PAGE_SIZE = 250
MAX_PAGES = 100  # a sync reads at most this many pages (25,000 events)
APPOINTMENT_PROPERTY = "switchboardAppointmentId"
# 403 reasons that mean "slow down", not "no".
RATE_LIMITED = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"})


class GoogleCalendarConfig(BaseModel):
    """The operator's OAuth client at Google."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1, max_length=300)
    client_secret: SecretStr = Field(min_length=1, max_length=300)
    authorization_url: str = Field(default=AUTHORIZATION_URL, max_length=500)
    token_url: str = Field(default=TOKEN_URL, max_length=500)
    api_base: str = Field(default=API_BASE, max_length=500)

    @field_validator("authorization_url", "token_url", "api_base")
    @classmethod
    def _operator_url(cls, url: str) -> str:
        return operator_url(url)


class GoogleCalendarConnector:
    """The CalendarConnector port for the operator's Google client."""

    def __init__(self, config: GoogleCalendarConfig) -> None:
        self._config = config
        self._oauth = CalendarOAuth(
            provider=NAME,
            client_id=config.client_id,
            client_secret=config.client_secret.get_secret_value(),
            authorize_url=config.authorization_url,
            token_url=config.token_url,
            scope=SCOPE,
            # A refresh token, and one on every consent (Google sends it on the first only).
            authorize_params={
                "access_type": "offline",
                "prompt": "consent",
                "include_granted_scopes": "true",
            },
        )

    async def authorization_url(self, *, redirect_uri: str, state: str, code_challenge: str) -> str:
        return self._oauth.authorization_url(
            redirect_uri=redirect_uri, state=state, code_challenge=code_challenge
        )

    async def exchange(self, *, code: str, redirect_uri: str, code_verifier: str) -> CalendarGrant:
        tokens = await self._oauth.exchange(code=code, redirect_uri=redirect_uri, code_verifier=code_verifier)
        calendar = self.open(tokens)
        account = await calendar.account()
        return CalendarGrant(calendar.tokens(), account)

    def open(self, tokens: CalendarTokens) -> GoogleCalendar:
        return GoogleCalendar(self._config.api_base, self._oauth.session(tokens))


class GoogleCalendar:
    """The CalendarPort for one connection's tokens."""

    def __init__(self, api_base: str, session: TokenSession) -> None:
        self._api = api_base
        self._session = session

    def tokens(self) -> CalendarTokens:
        return self._session.tokens()

    async def account(self) -> str:
        """The account's address: the id of its primary calendar."""
        response = await self._session.request("GET", f"{self._api}/calendars/primary")
        body = self._json(response, "read the primary calendar")
        account = body.get("id")
        if not isinstance(account, str) or not account:
            raise ProviderError(f"{NAME} answered no id for the primary calendar", retryable=False)
        return account

    async def busy(self, calendar_id: str, start: datetime, end: datetime) -> list[BusyInterval]:
        found: list[BusyInterval] = []
        chunk_start = start
        while chunk_start < end:
            chunk_end = min(end, chunk_start + FREEBUSY_SPAN)
            body = {
                "timeMin": _rfc3339(chunk_start),
                "timeMax": _rfc3339(chunk_end),
                "items": [{"id": calendar_id}],
            }
            response = await self._session.request("POST", f"{self._api}/freeBusy", json=body)
            answer = self._json(response, "answer a free/busy query")
            calendar = (answer.get("calendars") or {}).get(calendar_id)
            if not isinstance(calendar, dict):
                raise ProviderError(f"{NAME} answered no free/busy for the calendar", retryable=True)
            if calendar.get("errors"):
                reasons = ", ".join(str(e.get("reason")) for e in calendar["errors"] if isinstance(e, dict))
                raise ProviderError(
                    f"{NAME} could not tell the calendar's free/busy: {reasons}", retryable=False
                )
            for item in calendar.get("busy") or []:
                begins, ends = _instant(item.get("start")), _instant(item.get("end"))
                if begins is not None and ends is not None and begins < ends:
                    found.append(BusyInterval(begins, ends))
            chunk_start = chunk_end
        return found

    async def create_event(self, calendar_id: str, event: CalendarEvent) -> str:
        event_id = event_id_for(event.appointment_id)
        body = _event_body(event) | {"id": event_id}
        response = await self._session.request("POST", self._events(calendar_id), json=body)
        if response.status_code == 409:  # made before (a retry), or deleted and made again
            response = await self._session.request(
                "PATCH", self._event(calendar_id, event_id), json=_event_body(event) | {"status": "confirmed"}
            )
        created = self._json(response, "create the event")
        return str(created.get("id") or event_id)

    async def update_event(self, calendar_id: str, event_id: str, event: CalendarEvent) -> None:
        # status "confirmed": an event deleted in the calendar comes back with the booking.
        body = _event_body(event) | {"status": "confirmed"}
        response = await self._session.request("PATCH", self._event(calendar_id, event_id), json=body)
        if response.status_code in (404, 410):
            raise EventGone(event_id)
        self._json(response, "update the event")

    async def delete_event(self, calendar_id: str, event_id: str) -> None:
        response = await self._session.request("DELETE", self._event(calendar_id, event_id))
        if response.status_code in (200, 204, 404, 410):  # gone already is gone
            return
        raise self._refused(response, "delete the event")

    async def changes(
        self, calendar_id: str, sync_token: str | None, window: tuple[datetime, datetime]
    ) -> CalendarChanges:
        events: list[ExternalEvent] = []
        removed: list[str] = []
        params: dict[str, Any] = {"singleEvents": "true", "maxResults": PAGE_SIZE}
        if sync_token:
            params["syncToken"] = sync_token
        else:
            params["timeMin"] = _rfc3339(window[0])
        for _ in range(MAX_PAGES):
            response = await self._session.request("GET", self._events(calendar_id), params=params)
            if response.status_code == 410 and sync_token:
                raise SyncTokenExpired(calendar_id)
            page = self._json(response, "list the calendar's events")
            for item in page.get("items") or []:
                if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                    continue
                if item.get("status") == "cancelled":
                    removed.append(item["id"])
                else:
                    events.append(_external(item))
            next_page = page.get("nextPageToken")
            if isinstance(next_page, str) and next_page:
                params = {k: v for k, v in params.items() if k != "pageToken"} | {"pageToken": next_page}
                continue
            next_sync = page.get("nextSyncToken")
            if not isinstance(next_sync, str) or not next_sync:
                raise ProviderError(f"{NAME} ended the event listing without a sync token", retryable=True)
            return CalendarChanges(events, removed, next_sync, full=not sync_token)
        raise ProviderError(f"{NAME} listed more than {MAX_PAGES} pages of changes", retryable=False)

    # --- helpers -------------------------------------------------------------------------------

    def _events(self, calendar_id: str) -> str:
        return f"{self._api}/calendars/{quote(calendar_id, safe='')}/events"

    def _event(self, calendar_id: str, event_id: str) -> str:
        return f"{self._events(calendar_id)}/{quote(event_id, safe='')}"

    def _json(self, response: Any, what: str) -> dict[str, Any]:
        if response.status_code >= 300:
            raise self._refused(response, what)
        try:
            body = response.json()
        except ValueError:
            raise ProviderError(f"{NAME} did not answer JSON when asked to {what}", retryable=True) from None
        if not isinstance(body, dict):
            raise ProviderError(f"{NAME} did not answer a JSON object when asked to {what}", retryable=True)
        return body

    def _refused(self, response: Any, what: str) -> ProviderError:
        error = refused(NAME, response, what)
        if response.status_code == 403 and _reasons(response) & RATE_LIMITED:
            error.retryable = True
        return error


def event_id_for(appointment_id: UUID) -> str:
    """Google's event id for an appointment's event: base32hex characters (its hex digits)."""
    return f"sb{appointment_id.hex}"


def _event_body(event: CalendarEvent) -> dict[str, Any]:
    body: dict[str, Any] = {
        "summary": event.summary,
        "start": {"dateTime": _rfc3339(event.start), "timeZone": "UTC"},
        "end": {"dateTime": _rfc3339(event.end), "timeZone": "UTC"},
        "transparency": "opaque",
        "extendedProperties": {"private": {APPOINTMENT_PROPERTY: str(event.appointment_id)}},
    }
    if event.location:
        body["location"] = event.location
    if event.description:
        body["description"] = event.description
    return body


def _external(item: dict[str, Any]) -> ExternalEvent:
    private = (item.get("extendedProperties") or {}).get("private") or {}
    return ExternalEvent(
        event_id=item["id"],
        start=_when(item.get("start")),
        end=_when(item.get("end")),
        busy=item.get("transparency", "opaque") != "transparent",
        ours=isinstance(private, dict) and APPOINTMENT_PROPERTY in private,
    )


def _when(value: Any) -> datetime | date | None:
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("dateTime"), str):
        return _instant(value["dateTime"])
    if isinstance(value.get("date"), str):
        try:
            return date.fromisoformat(value["date"])
        except ValueError:
            return None
    return None


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else None


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _reasons(response: Any) -> set[str]:
    try:
        errors = response.json()["error"]["errors"]
        return {str(e.get("reason")) for e in errors if isinstance(e, dict)}
    except (ValueError, KeyError, TypeError):
        return set()


class GoogleCalendarPlugin:
    """Offers ``google_calendar`` (calendar). Holds nothing: the operator's client is the spec's
    configuration, and each tenant's tokens are that tenant's integration."""

    name = "google_calendar"

    @hookimpl
    def switchboard_providers(self) -> list[ProviderSpec]:
        return [
            ProviderSpec(
                slug=SLUG,
                capability=Capability.CALENDAR,
                name=NAME,
                config_model=GoogleCalendarConfig,
                build=GoogleCalendarConnector,
                description="Busy times from, and bookings to, a tenant's Google calendars.",
            )
        ]


__all__ = ["GoogleCalendar", "GoogleCalendarConfig", "GoogleCalendarConnector", "GoogleCalendarPlugin"]
