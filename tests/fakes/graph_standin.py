"""A local stand-in for Microsoft's identity platform (v2.0 endpoints) and Microsoft Graph calendars.

OAuth (``CalendarOAuthStandIn``, with refresh-token rotation as Microsoft does it):
``GET /{tenant}/oauth2/v2.0/authorize`` and ``POST /{tenant}/oauth2/v2.0/token``; the scopes
``offline_access`` and ``Calendars.ReadWrite`` are required. Graph under ``/v1.0``, for one
account (``account``), with a valid bearer token:

- ``GET /me``: the account (``mail``, ``userPrincipalName``);
- calendars: ``/me/calendar`` (the default one, also reachable as ``/me/calendars/{its id}``)
  and ``/me/calendars/{id}`` for others added with ``add_calendar``;
- ``GET .../calendarView?startDateTime&endDateTime``: events overlapping the range (``$top``
  pages, ``@odata.nextLink``), times in UTC when asked with ``Prefer: outlook.timezone="UTC"``;
- ``POST .../events``: 201 with the event and its id (ids hold ``=`` and ``-`` as Graph's do);
  a ``transactionId`` already used by an event that was not deleted answers that event again;
- ``PATCH /me/events/{id}``, ``DELETE /me/events/{id}`` (204; 404 for an unknown or deleted one);
- ``GET .../calendarView/delta?startDateTime&endDateTime``: every event of the range, then, from
  the ``@odata.deltaLink`` it ends with, what changed since (deleted ones as ``@removed``);
  ``Prefer: odata.maxpagesize`` pages with ``@odata.nextLink``. A delta link from before
  ``expire_delta_links()`` is 410 ``SyncStateNotFound``.

Tests arrange the owner's own events with ``add_event``, ``change_event``, ``remove_event`` and
read what is there with ``events``.
"""

from __future__ import annotations

import base64
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlencode

from tests.fakes.calendar_oauth import CalendarOAuthStandIn
from tests.fakes.oidc_standin import OAuthRequest
from tests.fakes.standin import Answer

GRAPH = "/v1.0"
TENANT = "common"
DEFAULT_CALENDAR = "AAMkAGI2TGuLAAA="


@dataclass
class _Calendar:
    id: str
    events: dict[str, dict[str, Any]] = field(default_factory=dict)


class GraphStandIn(CalendarOAuthStandIn):
    PROVIDER = "Graph"
    AUTHORIZE_PATH = f"/{TENANT}/oauth2/v2.0/authorize"
    TOKEN_PATH = f"/{TENANT}/oauth2/v2.0/token"
    REQUIRED_SCOPES = frozenset({"offline_access", "Calendars.ReadWrite"})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("rotate_refresh_tokens", True)
        super().__init__(**kwargs)
        self._calendars = {DEFAULT_CALENDAR: _Calendar(DEFAULT_CALENDAR)}
        self._seq = 0
        self._oldest_valid_link = 0
        self._data = threading.Lock()

    def operator_settings(self) -> dict[str, str]:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "tenant": TENANT,
            "login_base": self.api_base,
            "graph_base": f"{self.api_base}{GRAPH}",
        }

    # --- what tests arrange and read ------------------------------------------------------------

    def add_calendar(self, calendar_id: str) -> None:
        with self._data:
            self._calendars.setdefault(calendar_id, _Calendar(calendar_id))

    def add_event(
        self,
        calendar_id: str,
        start: datetime,
        end: datetime,
        *,
        subject: str = "Busy",
        show_as: str = "busy",
        all_day: bool = False,
    ) -> str:
        with self._data:
            return self._store(
                self._calendar(calendar_id),
                {
                    "id": _graph_id(),
                    "subject": subject,
                    "start": _graph_time(start),
                    "end": _graph_time(end),
                    "showAs": show_as,
                    "isAllDay": all_day,
                    "isCancelled": False,
                },
            )["id"]

    def change_event(self, calendar_id: str, event_id: str, **fields: Any) -> None:
        with self._data:
            calendar = self._calendar(calendar_id)
            self._store(calendar, calendar.events[event_id] | fields)

    def remove_event(self, calendar_id: str, event_id: str) -> None:
        self.change_event(calendar_id, event_id, _deleted=True)

    def events(self, calendar_id: str) -> list[dict[str, Any]]:
        with self._data:
            return [_public(e) for e in self._calendar(calendar_id).events.values() if not e.get("_deleted")]

    def expire_delta_links(self) -> None:
        with self._data:
            self._oldest_valid_link = self._seq + 1

    # --- the API -------------------------------------------------------------------------------

    def unauthorized(self) -> Answer:
        return _error(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")

    def api(self, request: OAuthRequest) -> Answer:
        if not request.path.startswith(f"{GRAPH}/me"):
            return _error(404, "ResourceNotFound", "Resource not found.")
        parts = [unquote(p) for p in request.path[len(GRAPH) + 1 :].split("/")]
        with self._data:
            match (request.method, parts):
                case ("GET", ["me"]):
                    return Answer(
                        200, {"id": "0f8fad5b", "mail": self.account, "userPrincipalName": self.account}
                    )
                case ("PATCH", ["me", "events", event_id]):
                    found = self._event(event_id)
                    if found is None:
                        return _error(
                            404, "ErrorItemNotFound", "The specified object was not found in the store."
                        )
                    calendar, event = found
                    return Answer(200, _public(self._store(calendar, event | _fields(request.json or {}))))
                case ("DELETE", ["me", "events", event_id]):
                    found = self._event(event_id)
                    if found is None:
                        return _error(
                            404, "ErrorItemNotFound", "The specified object was not found in the store."
                        )
                    calendar, event = found
                    self._store(calendar, event | {"_deleted": True})
                    return Answer(204)
                case (method, ["me", "calendar", *rest]):
                    return self._calendar_call(method, self._calendars[DEFAULT_CALENDAR], rest, request)
                case (method, ["me", "calendars", calendar_id, *rest]):
                    calendar = self._calendars.get(calendar_id)
                    if calendar is None:
                        return _error(
                            404, "ErrorItemNotFound", "The specified object was not found in the store."
                        )
                    return self._calendar_call(method, calendar, rest, request)
        return _error(404, "ResourceNotFound", "Resource not found.")

    def _calendar_call(
        self, method: str, calendar: _Calendar, rest: list[str], request: OAuthRequest
    ) -> Answer:
        match (method, rest):
            case ("POST", ["events"]):
                body = request.json or {}
                transaction = body.get("transactionId")
                if transaction:
                    for event in calendar.events.values():
                        if event.get("transactionId") == transaction and not event.get("_deleted"):
                            return Answer(201, _public(event))
                if not isinstance((body.get("start") or {}).get("dateTime"), str):
                    return _error(400, "ErrorInvalidRequest", "Start is required.")
                event = {"id": _graph_id(), "isCancelled": False, "isAllDay": False} | _fields(body)
                return Answer(201, _public(self._store(calendar, event)))
            case ("GET", ["calendarView"]):
                return self._view(calendar, request)
            case ("GET", ["calendarView", "delta"]):
                return self._delta(calendar, request)
        return _error(404, "ResourceNotFound", "Resource not found.")

    def _view(self, calendar: _Calendar, request: OAuthRequest) -> Answer:
        start = _instant(request.query.get("startDateTime"))
        end = _instant(request.query.get("endDateTime"))
        if start is None or end is None:
            return _error(400, "ErrorInvalidParameter", "startDateTime and endDateTime are required.")
        chosen = sorted(
            (e for e in calendar.events.values() if not e.get("_deleted") and _overlaps(e, start, end)),
            key=lambda e: e["_seq"],
        )
        top = int(request.query.get("$top", "10"))
        skip = int(request.query.get("$skip", "0"))
        answer: dict[str, Any] = {"value": [_public(e) for e in chosen[skip : skip + top]]}
        if skip + top < len(chosen):
            query = dict(request.query) | {"$skip": str(skip + top)}
            answer["@odata.nextLink"] = f"{self.api_base}{request.path}?{urlencode(query)}"
        return Answer(200, answer)

    def _delta(self, calendar: _Calendar, request: OAuthRequest) -> Answer:
        query = request.query
        start, end = _instant(query.get("startDateTime")), _instant(query.get("endDateTime"))
        if start is None or end is None:
            return _error(400, "ErrorInvalidParameter", "startDateTime and endDateTime are required.")
        size = _page_size(request.headers.get("prefer", ""))
        since = int(query["$deltatoken"]) if "$deltatoken" in query else None
        if since is not None and since < self._oldest_valid_link:
            return _error(410, "SyncStateNotFound", "The sync state generation is not found.")
        if since is None:
            chosen = [
                e for e in calendar.events.values() if not e.get("_deleted") and _overlaps(e, start, end)
            ]
        else:
            chosen = [e for e in calendar.events.values() if e["_seq"] > since]
        chosen.sort(key=lambda e: e["_seq"])
        skip = int(query.get("$skiptoken", "0"))
        page = chosen[skip : skip + size]
        items = [
            {"id": e["id"], "@removed": {"reason": "deleted"}} if e.get("_deleted") else _public(e)
            for e in page
        ]
        answer: dict[str, Any] = {"value": items}
        base = f"{self.api_base}{request.path}"
        if skip + size < len(chosen):
            answer["@odata.nextLink"] = f"{base}?{urlencode(dict(query) | {'$skiptoken': str(skip + size)})}"
        else:
            window = {"startDateTime": query["startDateTime"], "endDateTime": query["endDateTime"]}
            answer["@odata.deltaLink"] = f"{base}?{urlencode(window | {'$deltatoken': str(self._seq)})}"
        return Answer(200, answer)

    # --- storage -------------------------------------------------------------------------------

    def _calendar(self, calendar_id: str) -> _Calendar:
        return self._calendars[DEFAULT_CALENDAR if calendar_id == "primary" else calendar_id]

    def _event(self, event_id: str) -> tuple[_Calendar, dict[str, Any]] | None:
        for calendar in self._calendars.values():
            event = calendar.events.get(event_id)
            if event is not None and not event.get("_deleted"):
                return calendar, event
        return None

    def _store(self, calendar: _Calendar, event: dict[str, Any]) -> dict[str, Any]:
        self._seq += 1
        stored = event | {"_seq": self._seq}
        calendar.events[stored["id"]] = stored
        return stored


def _fields(body: dict[str, Any]) -> dict[str, Any]:
    allowed = {"subject", "body", "start", "end", "location", "showAs", "isAllDay", "transactionId"}
    return {k: v for k, v in body.items() if k in allowed}


def _public(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if not k.startswith("_")}


def _overlaps(event: dict[str, Any], start: datetime, end: datetime) -> bool:
    begins, ends = _instant(event["start"]["dateTime"]), _instant(event["end"]["dateTime"])
    return begins is not None and ends is not None and begins < end and start < ends


def _graph_id() -> str:
    return (
        "AAMkAD"
        + base64.b64encode(secrets.token_bytes(21)).decode().replace("/", "-").replace("+", "_")
        + "="
    )


def _graph_time(moment: datetime) -> dict[str, str]:
    text = moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "0"
    return {"dateTime": text, "timeZone": "UTC"}


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value[:26] if "." in value else value)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _page_size(prefer: str) -> int:
    for part in prefer.split(","):
        name, _, value = part.strip().partition("=")
        if name == "odata.maxpagesize" and value.isdigit():
            return int(value)
    return 100


def _error(status: int, code: str, message: str) -> Answer:
    return Answer(status, {"error": {"code": code, "message": message}})


__all__ = ["DEFAULT_CALENDAR", "GraphStandIn"]
