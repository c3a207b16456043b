"""A local stand-in for Google's OAuth server and the Google Calendar API v3.

OAuth (``CalendarOAuthStandIn``): ``GET /o/oauth2/v2/auth`` and ``POST /token``; the scopes
Google asks of a calendar app are required. The Calendar API under ``/calendar/v3`` answers as
Google does, for one account (``account``, whose primary calendar is ``primary`` or its
address), with a valid bearer token:

- ``GET /calendars/{id}``: the calendar (its ``id`` is the account's address for ``primary``);
- ``POST /freeBusy``: the merged busy intervals of each asked calendar over [timeMin, timeMax)
  (opaque events that are not cancelled), or ``errors: [{"reason": "notFound"}]``;
- ``POST /calendars/{id}/events``: insert, with a client-chosen ``id`` (base32hex, 5 to 1,024
  characters) or one made up; an id already used, even by a deleted event, is 409 ``duplicate``;
- ``PATCH /calendars/{id}/events/{eventId}``: change the fields sent (a deleted event may be
  brought back with ``status: confirmed``); 404 for an unknown event;
- ``DELETE /calendars/{id}/events/{eventId}``: 204, then 410 ``deleted`` for the same event again;
- ``GET /calendars/{id}/events``: without ``syncToken``, the events that are not cancelled and
  end after ``timeMin``; with one, every event changed since (deleted ones as ``cancelled``);
  ``maxResults`` pages with ``nextPageToken``; the last page has ``nextSyncToken``. A sync token
  from before ``expire_sync_tokens()`` is 410 ``fullSyncRequired``.

What a test arranges in the calendar, as its owner would at Google: ``add_event`` (an event of
their own, busy unless ``transparent``), ``change_event``, ``remove_event``; ``events(calendar)``
reads what is there.
"""

from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from tests.fakes.calendar_oauth import CalendarOAuthStandIn
from tests.fakes.oidc_standin import OAuthRequest
from tests.fakes.standin import Answer

API = "/calendar/v3"
SCOPES = frozenset(
    {"https://www.googleapis.com/auth/calendar.events", "https://www.googleapis.com/auth/calendar.readonly"}
)
_EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")


@dataclass
class _Calendar:
    events: dict[str, dict[str, Any]] = field(default_factory=dict)


class GoogleCalendarStandIn(CalendarOAuthStandIn):
    PROVIDER = "Google"
    AUTHORIZE_PATH = "/o/oauth2/v2/auth"
    TOKEN_PATH = "/token"
    REQUIRED_SCOPES = SCOPES

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._calendars: dict[str, _Calendar] = {self.account: _Calendar()}
        self._seq = 0  # bumped by every change; an event remembers the last one that touched it
        self._oldest_valid_token = 0
        self._data = threading.Lock()

    # --- the operator's settings for this stand-in ----------------------------------------------

    def operator_settings(self) -> dict[str, str]:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "authorization_url": f"{self.api_base}{self.AUTHORIZE_PATH}",
            "token_url": f"{self.api_base}{self.TOKEN_PATH}",
            "api_base": f"{self.api_base}{API}",
        }

    # --- what tests arrange and read ------------------------------------------------------------

    def add_calendar(self, calendar_id: str) -> None:
        with self._data:
            self._calendars.setdefault(calendar_id, _Calendar())

    def add_event(
        self,
        calendar_id: str,
        start: datetime,
        end: datetime,
        *,
        summary: str = "Busy",
        transparent: bool = False,
    ) -> str:
        event_id = secrets.token_hex(10)
        with self._data:
            self._store(
                self._calendar(calendar_id),
                {
                    "id": event_id,
                    "status": "confirmed",
                    "summary": summary,
                    "start": {"dateTime": _rfc3339(start)},
                    "end": {"dateTime": _rfc3339(end)},
                    "transparency": "transparent" if transparent else "opaque",
                },
            )
        return event_id

    def add_all_day_event(self, calendar_id: str, first: str, after_last: str) -> str:
        event_id = secrets.token_hex(10)
        with self._data:
            self._store(
                self._calendar(calendar_id),
                {
                    "id": event_id,
                    "status": "confirmed",
                    "summary": "Day off",
                    "start": {"date": first},
                    "end": {"date": after_last},
                },
            )
        return event_id

    def change_event(self, calendar_id: str, event_id: str, **fields: Any) -> None:
        with self._data:
            calendar = self._calendar(calendar_id)
            self._store(calendar, calendar.events[event_id] | fields)

    def remove_event(self, calendar_id: str, event_id: str) -> None:
        self.change_event(calendar_id, event_id, status="cancelled")

    def events(self, calendar_id: str) -> list[dict[str, Any]]:
        """The events there, deleted ones left out."""
        with self._data:
            return [
                dict(e) for e in self._calendar(calendar_id).events.values() if e["status"] != "cancelled"
            ]

    def expire_sync_tokens(self) -> None:
        with self._data:
            self._oldest_valid_token = self._seq + 1

    # --- the API -------------------------------------------------------------------------------

    def api(self, request: OAuthRequest) -> Answer:
        if not request.path.startswith(f"{API}/"):
            return _error(404, "Not Found", "notFound")
        parts = [unquote(p) for p in request.path[len(API) + 1 :].split("/")]
        with self._data:
            match (request.method, parts):
                case ("POST", ["freeBusy"]):
                    return self._free_busy(request.json or {})
                case ("GET", ["calendars", calendar_id]):
                    if self._find(calendar_id) is None:
                        return _error(404, "Not Found", "notFound")
                    name = self.account if calendar_id == "primary" else calendar_id
                    return Answer(
                        200, {"kind": "calendar#calendar", "id": name, "summary": name, "timeZone": "UTC"}
                    )
                case (method, ["calendars", calendar_id, "events", *rest]):
                    calendar = self._find(calendar_id)
                    if calendar is None:
                        return _error(404, "Not Found", "notFound")
                    return self._events(method, calendar, rest, request)
        return _error(404, "Not Found", "notFound")

    def _free_busy(self, body: dict[str, Any]) -> Answer:
        start, end = _instant(body.get("timeMin")), _instant(body.get("timeMax"))
        if start is None or end is None or not start < end:
            return _error(400, "Bad Request", "badRequest")
        answer: dict[str, Any] = {}
        for item in body.get("items") or []:
            calendar_id = item.get("id")
            calendar = self._find(calendar_id)
            if calendar is None:
                answer[calendar_id] = {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
                continue
            spans = sorted(
                (max(s, start), min(e, end))
                for event in calendar.events.values()
                if event["status"] != "cancelled" and event.get("transparency", "opaque") == "opaque"
                for s, e in [_span(event)]
                if s is not None and e is not None and s < end and start < e
            )
            merged: list[list[datetime]] = []
            for s, e in spans:
                if merged and s <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], e)
                else:
                    merged.append([s, e])
            answer[calendar_id] = {"busy": [{"start": _rfc3339(s), "end": _rfc3339(e)} for s, e in merged]}
        return Answer(
            200,
            {
                "kind": "calendar#freeBusy",
                "timeMin": body["timeMin"],
                "timeMax": body["timeMax"],
                "calendars": answer,
            },
        )

    def _events(self, method: str, calendar: _Calendar, rest: list[str], request: OAuthRequest) -> Answer:
        match (method, rest):
            case ("POST", []):
                body = dict(request.json or {})
                event_id = body.get("id") or secrets.token_hex(10)
                if not _EVENT_ID.match(event_id):
                    return _error(400, "Invalid resource id value.", "invalid")
                if event_id in calendar.events:
                    return _error(409, "The requested identifier already exists.", "duplicate")
                if _instant((body.get("start") or {}).get("dateTime")) is None:
                    return _error(400, "Missing time.", "required")
                return Answer(200, self._store(calendar, body | {"id": event_id, "status": "confirmed"}))
            case ("GET", []):
                return self._list(calendar, request.query)
            case ("PATCH", [event_id]):
                if event_id not in calendar.events:
                    return _error(404, "Not Found", "notFound")
                changes = {k: v for k, v in (request.json or {}).items() if k != "id"}
                return Answer(200, self._store(calendar, calendar.events[event_id] | changes))
            case ("DELETE", [event_id]):
                event = calendar.events.get(event_id)
                if event is None:
                    return _error(404, "Not Found", "notFound")
                if event["status"] == "cancelled":
                    return _error(410, "Resource has been deleted", "deleted")
                self._store(calendar, event | {"status": "cancelled"})
                return Answer(204)
        return _error(404, "Not Found", "notFound")

    def _list(self, calendar: _Calendar, query: dict[str, str]) -> Answer:
        size = min(int(query.get("maxResults", "250")), 2500)
        offset = int(query.get("pageToken", "0"))
        token = query.get("syncToken")
        if token is not None:
            since = int(token.removeprefix("sync-"))
            if since < self._oldest_valid_token:
                return _error(
                    410, "Sync token is no longer valid, a full sync is required.", "fullSyncRequired"
                )
            chosen = [e for e in calendar.events.values() if e["_seq"] > since]
        else:
            after = _instant(query.get("timeMin")) or datetime.min.replace(tzinfo=UTC)
            chosen = [
                e
                for e in calendar.events.values()
                if e["status"] != "cancelled" and (_span(e)[1] or after) > after
            ]
        chosen.sort(key=lambda e: e["_seq"])
        page = chosen[offset : offset + size]
        answer: dict[str, Any] = {"kind": "calendar#events", "items": [_public(e) for e in page]}
        if offset + size < len(chosen):
            answer["nextPageToken"] = str(offset + size)
        else:
            answer["nextSyncToken"] = f"sync-{self._seq}"
        return Answer(200, answer)

    # --- storage -------------------------------------------------------------------------------

    def _calendar(self, calendar_id: str) -> _Calendar:
        found = self._find(calendar_id)
        assert found is not None, f"no calendar {calendar_id!r} at the stand-in"
        return found

    def _find(self, calendar_id: str | None) -> _Calendar | None:
        if calendar_id == "primary":
            calendar_id = self.account
        return self._calendars.get(calendar_id or "")

    def _store(self, calendar: _Calendar, event: dict[str, Any]) -> dict[str, Any]:
        self._seq += 1
        stored = event | {"_seq": self._seq, "updated": _rfc3339(datetime.now(UTC))}
        calendar.events[stored["id"]] = stored
        return _public(stored)


def _public(event: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "calendar#event"} | {k: v for k, v in event.items() if not k.startswith("_")}


def _span(event: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    def moment(value: dict[str, Any] | None) -> datetime | None:
        value = value or {}
        if "dateTime" in value:
            return _instant(value["dateTime"])
        if "date" in value:
            return datetime.fromisoformat(value["date"]).replace(tzinfo=UTC)
        return None

    return moment(event.get("start")), moment(event.get("end"))


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


def _error(status: int, message: str, reason: str) -> Answer:
    return Answer(
        status,
        {"error": {"code": status, "message": message, "errors": [{"domain": "global", "reason": reason}]}},
    )


__all__ = ["GoogleCalendarStandIn"]
