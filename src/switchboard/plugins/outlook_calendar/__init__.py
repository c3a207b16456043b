"""Outlook: a tenant's Microsoft 365 / Outlook.com calendars, through Microsoft Graph (``calendar``).

The platform operator registers one application in Microsoft Entra ID and configures it
(``SWITCHBOARD_CALENDAR_PROVIDERS='{"outlook_calendar": {"client_id": ..., "client_secret": ...}}'``;
``tenant`` defaults to ``common``: work, school and personal accounts). A tenant's owner consents
through it (authorization code flow with PKCE, scope ``offline_access User.Read
Calendars.ReadWrite``); Microsoft rotates the refresh token on each refresh, and the new one is
sealed back into the tenant's integration.

- Busy times: ``GET .../calendarView`` over the range (``showAs`` other than ``free`` and
  ``workingElsewhere``), times in UTC (``Prefer: outlook.timezone="UTC"``). Each interval names its
  event, so Switchboard's own events are left out exactly.
- Events: ``POST .../events`` with a ``transactionId`` (Graph's guard against a retried POST
  making a second event), ``PATCH`` and ``DELETE`` ``/me/events/{id}``.
- Changes: ``GET .../calendarView/delta`` over the sync window, following ``@odata.nextLink`` to
  the ``@odata.deltaLink``, which is the sync token; a 410 means it expired. Links are followed
  only on the configured ``graph_base``.

The calendar id ``primary`` is the account's default calendar (``/me/calendar``); any other is
``/me/calendars/{id}``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from switchboard.core.integrations.model import Capability
from switchboard.core.scheduling.calendar_model import (
    PRIMARY,
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

SLUG = "outlook_calendar"
NAME = "Microsoft Graph"
LOGIN_BASE = "https://login.microsoftonline.com"
GRAPH_BASE = "https://graph.microsoft.com/v1.0"
SCOPE = "offline_access User.Read Calendars.ReadWrite"
PAGE_SIZE = 200
MAX_PAGES = 100
UTC_PREFERENCE = {"Prefer": 'outlook.timezone="UTC"'}
TRANSACTION_PREFIX = "switchboard-"  # Switchboard's events carry a transactionId that starts so
NOT_BUSY = frozenset({"free", "workingElsewhere"})
_DIRECTORY_TENANT = re.compile(r"^[A-Za-z0-9.-]{1,100}$")  # common, organizations, a GUID, a domain


class OutlookCalendarConfig(BaseModel):
    """The operator's application registration at Microsoft."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1, max_length=300)
    client_secret: SecretStr = Field(min_length=1, max_length=300)
    tenant: str = Field(default="common", max_length=100, description="common, organizations, or a tenant id")
    login_base: str = Field(default=LOGIN_BASE, max_length=500)
    graph_base: str = Field(default=GRAPH_BASE, max_length=500)

    @field_validator("login_base", "graph_base")
    @classmethod
    def _operator_url(cls, url: str) -> str:
        return operator_url(url)

    @field_validator("tenant")
    @classmethod
    def _directory_tenant(cls, tenant: str) -> str:
        if not _DIRECTORY_TENANT.match(tenant):
            raise ValueError("must be common, organizations, consumers, a tenant id or a domain")
        return tenant


class OutlookCalendarConnector:
    """The CalendarConnector port for the operator's Microsoft application."""

    def __init__(self, config: OutlookCalendarConfig) -> None:
        self._config = config
        authority = f"{config.login_base}/{config.tenant}/oauth2/v2.0"
        self._oauth = CalendarOAuth(
            provider=NAME,
            client_id=config.client_id,
            client_secret=config.client_secret.get_secret_value(),
            authorize_url=f"{authority}/authorize",
            token_url=f"{authority}/token",
            scope=SCOPE,
            authorize_params={"response_mode": "query"},
            send_scope_on_refresh=True,  # Microsoft's v2 endpoint asks for the scope again
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

    def open(self, tokens: CalendarTokens) -> OutlookCalendar:
        return OutlookCalendar(self._config.graph_base, self._oauth.session(tokens))


class OutlookCalendar:
    """The CalendarPort for one connection's tokens."""

    def __init__(self, graph_base: str, session: TokenSession) -> None:
        self._graph = graph_base
        self._session = session

    def tokens(self) -> CalendarTokens:
        return self._session.tokens()

    async def account(self) -> str:
        """The account's address (``mail``, else ``userPrincipalName``)."""
        me = self._json(await self._session.request("GET", f"{self._graph}/me"), "read the account")
        account = me.get("mail") or me.get("userPrincipalName") or me.get("id")
        if not isinstance(account, str) or not account:
            raise ProviderError(f"{NAME} answered no name for the account", retryable=False)
        return account

    async def busy(self, calendar_id: str, start: datetime, end: datetime) -> list[BusyInterval]:
        params: dict[str, Any] | None = {
            "startDateTime": _graph_time(start),
            "endDateTime": _graph_time(end),
            "$select": "id,showAs,start,end,isCancelled",
            "$top": PAGE_SIZE,
        }
        url = f"{self._calendar(calendar_id)}/calendarView"
        found: list[BusyInterval] = []
        for _ in range(MAX_PAGES):
            response = await self._session.request("GET", url, params=params, headers=UTC_PREFERENCE)
            page = self._json(response, "list the calendar's view")
            for item in page.get("value") or []:
                event = _external(item)
                if event is None or not event.busy:
                    continue
                if (
                    isinstance(event.start, datetime)
                    and isinstance(event.end, datetime)
                    and event.start < event.end
                ):
                    found.append(BusyInterval(event.start, event.end, event.event_id))
            next_link = page.get("@odata.nextLink")
            if not next_link:
                return found
            url, params = self._followed(next_link), None
        raise ProviderError(
            f"{NAME} listed more than {MAX_PAGES} pages of the calendar's view", retryable=False
        )

    async def create_event(self, calendar_id: str, event: CalendarEvent) -> str:
        body = _event_body(event) | {"transactionId": event.idempotency_key or None}
        response = await self._session.request("POST", f"{self._calendar(calendar_id)}/events", json=body)
        created = self._json(response, "create the event")
        event_id = created.get("id")
        if not isinstance(event_id, str) or not event_id:
            raise ProviderError(f"{NAME} created the event without an id", retryable=False)
        return event_id

    async def update_event(self, calendar_id: str, event_id: str, event: CalendarEvent) -> None:
        response = await self._session.request("PATCH", self._event(event_id), json=_event_body(event))
        if response.status_code in (404, 410):
            raise EventGone(event_id)
        self._json(response, "update the event")

    async def delete_event(self, calendar_id: str, event_id: str) -> None:
        response = await self._session.request("DELETE", self._event(event_id))
        if response.status_code in (200, 204, 404, 410):
            return
        raise refused(NAME, response, "delete the event")

    async def changes(
        self, calendar_id: str, sync_token: str | None, window: tuple[datetime, datetime]
    ) -> CalendarChanges:
        events: list[ExternalEvent] = []
        removed: list[str] = []
        url: str
        params: dict[str, Any] | None
        if sync_token:
            if not sync_token.startswith(f"{self._graph}/"):
                raise SyncTokenExpired(calendar_id)  # made for another Graph address: start again
            url, params = sync_token, None
        else:
            url = f"{self._calendar(calendar_id)}/calendarView/delta"
            params = {"startDateTime": _graph_time(window[0]), "endDateTime": _graph_time(window[1])}
        headers = {"Prefer": f'outlook.timezone="UTC", odata.maxpagesize={PAGE_SIZE}'}
        for _ in range(MAX_PAGES):
            response = await self._session.request("GET", url, params=params, headers=headers)
            if response.status_code == 410 and sync_token:
                raise SyncTokenExpired(calendar_id)
            page = self._json(response, "list the calendar's changes")
            for item in page.get("value") or []:
                if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                    continue
                if "@removed" in item:
                    removed.append(item["id"])
                    continue
                event = _external(item)
                if event is not None:
                    events.append(event)
            if page.get("@odata.nextLink"):
                url, params = self._followed(page["@odata.nextLink"]), None
                continue
            delta = page.get("@odata.deltaLink")
            if not isinstance(delta, str) or not delta:
                raise ProviderError(f"{NAME} ended the changes without a delta link", retryable=True)
            self._followed(delta)  # only links on the configured Graph are kept
            return CalendarChanges(events, removed, delta, full=not sync_token)
        raise ProviderError(f"{NAME} listed more than {MAX_PAGES} pages of changes", retryable=False)

    # --- helpers -------------------------------------------------------------------------------

    def _calendar(self, calendar_id: str) -> str:
        if calendar_id == PRIMARY:
            return f"{self._graph}/me/calendar"
        return f"{self._graph}/me/calendars/{quote(calendar_id, safe='')}"

    def _event(self, event_id: str) -> str:
        return f"{self._graph}/me/events/{quote(event_id, safe='')}"

    def _followed(self, link: Any) -> str:
        """A next or delta link, followed only on the configured Graph: a link elsewhere would
        carry the tenant's access token there."""
        if not isinstance(link, str) or not link.startswith(f"{self._graph}/"):
            raise ProviderError(f"{NAME} answered a link outside its own address", retryable=False)
        return link

    def _json(self, response: Any, what: str) -> dict[str, Any]:
        if response.status_code >= 300:
            raise refused(NAME, response, what)
        try:
            body = response.json()
        except ValueError:
            raise ProviderError(f"{NAME} did not answer JSON when asked to {what}", retryable=True) from None
        if not isinstance(body, dict):
            raise ProviderError(f"{NAME} did not answer a JSON object when asked to {what}", retryable=True)
        return body


def _event_body(event: CalendarEvent) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject": event.summary,
        "start": {"dateTime": _graph_time(event.start), "timeZone": "UTC"},
        "end": {"dateTime": _graph_time(event.end), "timeZone": "UTC"},
        "showAs": "busy",
        "body": {"contentType": "text", "content": event.description or ""},
    }
    if event.location:
        body["location"] = {"displayName": event.location}
    return body


def _external(item: Any) -> ExternalEvent | None:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        return None
    all_day = item.get("isAllDay") is True
    transaction = item.get("transactionId")
    return ExternalEvent(
        event_id=item["id"],
        start=_when(item.get("start"), all_day),
        end=_when(item.get("end"), all_day),
        busy=item.get("isCancelled") is not True and item.get("showAs", "busy") not in NOT_BUSY,
        ours=isinstance(transaction, str) and transaction.startswith(TRANSACTION_PREFIX),
    )


def _when(value: Any, all_day: bool) -> datetime | date | None:
    """Graph's ``{"dateTime": "2026-03-02T09:00:00.0000000", "timeZone": "UTC"}``; an all-day
    event's midnights as dates."""
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        return None
    text = value["dateTime"]
    zone = value.get("timeZone", "UTC")
    try:
        moment = datetime.fromisoformat(text[:26] if "." in text else text)  # at most microseconds
    except ValueError:
        return None
    if all_day:
        return moment.date()
    if moment.tzinfo is None:
        if zone not in ("UTC", "Etc/UTC", "tzone://Microsoft/Utc"):
            return None  # asked for UTC: anything else cannot be placed
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


class OutlookCalendarPlugin:
    """Offers ``outlook_calendar`` (calendar). Holds nothing of any tenant."""

    name = "outlook_calendar"

    @hookimpl
    def switchboard_providers(self) -> list[ProviderSpec]:
        return [
            ProviderSpec(
                slug=SLUG,
                capability=Capability.CALENDAR,
                name="Outlook Calendar",
                config_model=OutlookCalendarConfig,
                build=OutlookCalendarConnector,
                description="Busy times from, and bookings to, a tenant's Outlook calendars (Graph).",
            )
        ]


__all__ = ["OutlookCalendar", "OutlookCalendarConfig", "OutlookCalendarConnector", "OutlookCalendarPlugin"]
