"""The calendar plugins (Google Calendar, Outlook through Microsoft Graph) and the operator's
calendar providers, against local stand-ins of Google's and Microsoft's servers.

Nothing is mocked: each adapter talks HTTP (authlib's OAuth client over httpx) to
``GoogleCalendarStandIn`` or ``GraphStandIn`` on 127.0.0.1, and the test plays the browser with
httpx, taking the code from the authorize redirect. Most tests run once per provider.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from uuid import uuid4

import httpx
import pytest

from switchboard.core.integrations.model import Capability
from switchboard.core.scheduling.calendar_model import (
    CalendarEvent,
    CalendarGrant,
    CalendarTokens,
    EventGone,
    SyncTokenExpired,
)
from switchboard.plugins.calendars import CalendarMisconfigured, OperatorCalendarProviders
from switchboard.plugins.manager import build_plugin_catalog
from switchboard.ports.calendar import CalendarConnector, CalendarPort
from switchboard.ports.providers import ProviderError
from tests.fakes.calendar_oauth import CalendarOAuthStandIn
from tests.fakes.google_calendar_standin import GoogleCalendarStandIn
from tests.fakes.graph_standin import GraphStandIn

CLIENT_ID = "calendar-client-0123456789"
CLIENT_SECRET = "calendar-secret-0123456789abcdef"
ACCOUNT = "ada@example.com"
PROVIDERS = ("google_calendar", "outlook_calendar")
WINDOW = (datetime.now(UTC) - timedelta(days=1), datetime.now(UTC) + timedelta(days=60))


def redirect_uri(slug: str) -> str:
    return f"https://api.switchboard.test/v1/calendar-connections/{slug}/callback"


@pytest.fixture(scope="module")
def catalog():
    return build_plugin_catalog(load_entry_points=False)


@dataclass
class Provider:
    """One provider's stand-in and the operator's connector pointed at it."""

    slug: str
    standin: CalendarOAuthStandIn
    connector: CalendarConnector

    def add_event(self, start: datetime, end: datetime, **kwargs: Any) -> str:
        return self.standin.add_event("primary", start, end, **kwargs)  # type: ignore[attr-defined]

    def events(self) -> list[dict[str, Any]]:
        return self.standin.events("primary")  # type: ignore[attr-defined]

    def remove_event(self, event_id: str) -> None:
        self.standin.remove_event("primary", event_id)  # type: ignore[attr-defined]

    def expire_sync_tokens(self) -> None:
        if isinstance(self.standin, GoogleCalendarStandIn):
            self.standin.expire_sync_tokens()
        else:
            assert isinstance(self.standin, GraphStandIn)
            self.standin.expire_delta_links()

    def summary_of(self, event: dict[str, Any]) -> str:
        return str(event.get("summary") or event.get("subject"))


def standin_for(slug: str) -> CalendarOAuthStandIn:
    kind = GoogleCalendarStandIn if slug == "google_calendar" else GraphStandIn
    return kind(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=(redirect_uri(slug),), account=ACCOUNT
    )


@contextmanager
def serving(slug: str) -> Iterator[Provider]:
    """The provider's stand-in, and the operator's connector configured for it."""
    with standin_for(slug) as standin:
        settings = standin.operator_settings()  # type: ignore[attr-defined]
        catalog = build_plugin_catalog(load_entry_points=False)
        connector = OperatorCalendarProviders(catalog, {slug: settings}).get(slug)
        assert connector is not None
        yield Provider(slug, standin, connector)


@pytest.fixture(params=PROVIDERS)
def provider(request) -> Iterator[Provider]:
    with serving(request.param) as serving_provider:
        yield serving_provider


def challenge_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


async def consent(provider: Provider, url: str) -> dict[str, str]:
    """The browser at the provider: it approves at once and redirects back; the query it brings."""
    async with httpx.AsyncClient() as browser:
        response = await browser.get(url, follow_redirects=False)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(redirect_uri(provider.slug))
    return dict(parse_qsl(urlsplit(location).query))


async def connected(provider: Provider) -> CalendarGrant:
    verifier, challenge = challenge_pair()
    url = await provider.connector.authorization_url(
        redirect_uri=redirect_uri(provider.slug), state="state-123", code_challenge=challenge
    )
    back = await consent(provider, url)
    assert back["state"] == "state-123"
    return await provider.connector.exchange(
        code=back["code"], redirect_uri=redirect_uri(provider.slug), code_verifier=verifier
    )


async def calendar_of(provider: Provider) -> CalendarPort:
    return provider.connector.open((await connected(provider)).tokens)


def at(days: int, hour: int, minute: int = 0) -> datetime:
    day = datetime.now(UTC).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def booking(start: datetime, minutes: int = 60, **fields: Any) -> CalendarEvent:
    appointment_id = fields.pop("appointment_id", uuid4())
    return CalendarEvent(
        appointment_id=appointment_id,
        summary=fields.pop("summary", "Boiler service: Grace Hopper"),
        start=start,
        end=start + timedelta(minutes=minutes),
        location=fields.pop("location", "12 Acacia Avenue"),
        description="Booked in Switchboard",
        idempotency_key=fields.pop("idempotency_key", f"switchboard-{uuid4()}"),
    )


# --- the catalog and the operator's settings ---------------------------------------------------


def test_both_calendar_plugins_are_built_in_as_calendar_providers(catalog):
    for slug in PROVIDERS:
        description = catalog.describe(slug)
        assert description is not None
        assert description.capability is Capability.CALENDAR
        assert description.plugin == slug


def test_the_operators_settings_are_validated_when_the_providers_are_made(catalog):
    with pytest.raises(CalendarMisconfigured, match="client_secret"):
        OperatorCalendarProviders(catalog, {"google_calendar": {"client_id": CLIENT_ID}})
    with pytest.raises(CalendarMisconfigured, match="api_base"):
        OperatorCalendarProviders(
            catalog,
            {
                "google_calendar": {
                    "client_id": "x",
                    "client_secret": "y",
                    "api_base": "http://example.com/api",
                }
            },
        )
    with pytest.raises(CalendarMisconfigured, match="not calendar"):
        OperatorCalendarProviders(catalog, {"google": {"client_id": "x", "client_secret": "y"}})
    with pytest.raises(CalendarMisconfigured, match="no installed plugin"):
        OperatorCalendarProviders(catalog, {"acme_calendar": {}})


def test_a_misconfiguration_names_the_field_never_its_value(catalog):
    with pytest.raises(CalendarMisconfigured) as raised:
        OperatorCalendarProviders(
            catalog,
            {"outlook_calendar": {"client_id": "x", "client_secret": "y", "tenant": "no/such tenant!"}},
        )
    assert "tenant" in str(raised.value)
    assert "no/such tenant!" not in str(raised.value)


def test_providers_without_settings_are_not_offered(catalog):
    providers = OperatorCalendarProviders(catalog, {})
    assert providers.slugs() == []
    assert providers.get("google_calendar") is None


# --- connecting --------------------------------------------------------------------------------


async def test_the_authorization_url_asks_for_a_code_with_pkce_offline_access_and_the_calendar_scopes(
    provider,
):
    _, challenge = challenge_pair()
    url = await provider.connector.authorization_url(
        redirect_uri=redirect_uri(provider.slug), state="opaque-state", code_challenge=challenge
    )
    query = dict(parse_qsl(urlsplit(url).query))
    assert url.startswith(provider.standin.api_base)
    assert query["client_id"] == CLIENT_ID
    assert query["response_type"] == "code"
    assert query["redirect_uri"] == redirect_uri(provider.slug)
    assert query["state"] == "opaque-state"
    assert (query["code_challenge"], query["code_challenge_method"]) == (challenge, "S256")
    assert set(query["scope"].split()) >= provider.standin.REQUIRED_SCOPES
    if provider.slug == "google_calendar":
        assert (query["access_type"], query["prompt"]) == ("offline", "consent")


async def test_a_consented_code_is_traded_for_tokens_of_the_account(provider):
    grant = await connected(provider)

    assert grant.account == ACCOUNT
    assert grant.tokens.access_token.startswith("at-")
    assert grant.tokens.refresh_token is not None
    assert grant.tokens.expires_at is not None
    assert grant.tokens.expires_at > datetime.now(UTC) + timedelta(minutes=50)
    assert provider.standin.grants["authorization_code"] == 1


async def test_a_code_traded_with_the_wrong_verifier_is_refused_for_good(provider):
    _, challenge = challenge_pair()
    url = await provider.connector.authorization_url(
        redirect_uri=redirect_uri(provider.slug), state="s", code_challenge=challenge
    )
    back = await consent(provider, url)

    with pytest.raises(ProviderError) as raised:
        await provider.connector.exchange(
            code=back["code"],
            redirect_uri=redirect_uri(provider.slug),
            code_verifier=secrets.token_urlsafe(48),
        )
    assert raised.value.retryable is False
    assert "invalid_grant" in str(raised.value)


def test_tokens_never_show_in_their_representation():
    tokens = CalendarTokens("at-secret-access", "rt-secret-refresh", None)
    assert "secret" not in repr(tokens)


# --- busy times --------------------------------------------------------------------------------


async def test_busy_times_are_the_busy_events_of_the_range_and_not_the_free_ones(provider):
    calendar = await calendar_of(provider)
    provider.add_event(at(1, 10), at(1, 11))
    provider.add_event(at(1, 14), at(1, 15))
    free = {"transparent": True} if provider.slug == "google_calendar" else {"show_as": "free"}
    provider.add_event(at(1, 16), at(1, 17), **free)
    provider.add_event(at(5, 10), at(5, 11))  # outside the range asked

    busy = await calendar.busy("primary", at(1, 0), at(2, 0))

    assert sorted((b.start, b.end) for b in busy) == [(at(1, 10), at(1, 11)), (at(1, 14), at(1, 15))]


async def test_busy_times_of_a_calendar_the_account_does_not_have_are_refused_for_good(provider):
    calendar = await calendar_of(provider)

    with pytest.raises(ProviderError) as raised:
        await calendar.busy("no-such-calendar@example.com", at(1, 0), at(2, 0))
    assert raised.value.retryable is False


async def test_a_provider_failure_is_a_retryable_error(provider):
    calendar = await calendar_of(provider)
    provider.standin.fail_next(1, 503)

    with pytest.raises(ProviderError) as raised:
        await calendar.busy("primary", at(1, 0), at(2, 0))
    assert raised.value.retryable is True


# --- events ------------------------------------------------------------------------------------


async def test_a_booking_becomes_an_event_then_moves_then_goes(provider):
    calendar = await calendar_of(provider)
    event = booking(at(2, 9))

    event_id = await calendar.create_event("primary", event)
    (created,) = provider.events()
    assert created["id"] == event_id
    assert provider.summary_of(created) == "Boiler service: Grace Hopper"
    assert [(b.start, b.end) for b in await calendar.busy("primary", at(2, 0), at(3, 0))] == [
        (at(2, 9), at(2, 10))
    ]

    moved = booking(at(2, 13), 30, appointment_id=event.appointment_id, summary="Boiler service (moved)")
    await calendar.update_event("primary", event_id, moved)
    (updated,) = provider.events()
    assert provider.summary_of(updated) == "Boiler service (moved)"
    assert [(b.start, b.end) for b in await calendar.busy("primary", at(2, 0), at(3, 0))] == [
        (at(2, 13), at(2, 13, 30))
    ]

    await calendar.delete_event("primary", event_id)
    assert provider.events() == []
    await calendar.delete_event("primary", event_id)  # gone already is fine


async def test_a_create_retried_with_the_same_key_makes_one_event(provider):
    calendar = await calendar_of(provider)
    event = booking(at(3, 9))

    first = await calendar.create_event("primary", event)
    again = await calendar.create_event("primary", event)

    assert first == again
    assert len(provider.events()) == 1


async def test_changing_an_event_that_no_longer_exists_says_so(provider):
    calendar = await calendar_of(provider)
    unknown = "sb0123456789abcdef" if provider.slug == "google_calendar" else "AAMkADunknown="

    with pytest.raises(EventGone):
        await calendar.update_event("primary", unknown, booking(at(3, 9)))


async def test_a_booking_s_event_deleted_in_google_comes_back_when_the_booking_changes():
    with serving("google_calendar") as provider:
        calendar = await calendar_of(provider)
        event = booking(at(2, 9))
        event_id = await calendar.create_event("primary", event)
        provider.remove_event(event_id)  # the owner deleted it in Google

        await calendar.update_event(
            "primary", event_id, booking(at(2, 11), appointment_id=event.appointment_id)
        )

        (back,) = provider.events()
        assert back["id"] == event_id
        assert back["start"]["dateTime"].startswith(at(2, 11).strftime("%Y-%m-%dT%H:%M"))


# --- changes -----------------------------------------------------------------------------------


async def test_changes_list_everything_first_then_only_what_changed_since_the_token(provider):
    calendar = await calendar_of(provider)
    kept = provider.add_event(at(1, 9), at(1, 10))
    dropped = provider.add_event(at(1, 12), at(1, 13))
    ours = await calendar.create_event("primary", booking(at(1, 15)))

    first = await calendar.changes("primary", None, WINDOW)

    assert first.full
    assert {e.event_id for e in first.events} == {kept, dropped, ours}
    assert {e.event_id for e in first.events if e.ours} == {ours}
    assert all(e.busy for e in first.events)

    added = provider.add_event(at(2, 9), at(2, 10))
    provider.remove_event(dropped)
    second = await calendar.changes("primary", first.sync_token, WINDOW)

    assert not second.full
    assert [e.event_id for e in second.events] == [added]
    assert second.events[0].start == at(2, 9)
    assert second.removed == [dropped]

    third = await calendar.changes("primary", second.sync_token, WINDOW)
    assert (third.events, third.removed) == ([], [])


async def test_changes_page_through_many_events(provider):
    calendar = await calendar_of(provider)
    made = {
        provider.add_event(at(1, 0) + timedelta(minutes=5 * i), at(1, 0) + timedelta(minutes=5 * i + 5))
        for i in range(260)
    }

    changes = await calendar.changes("primary", None, WINDOW)

    assert {e.event_id for e in changes.events} == made


async def test_an_expired_sync_token_asks_for_a_full_sync(provider):
    calendar = await calendar_of(provider)
    token = (await calendar.changes("primary", None, WINDOW)).sync_token
    provider.add_event(at(1, 9), at(1, 10))
    provider.expire_sync_tokens()

    with pytest.raises(SyncTokenExpired):
        await calendar.changes("primary", token, WINDOW)


async def test_all_day_events_come_as_dates():
    with serving("google_calendar") as provider:
        assert isinstance(provider.standin, GoogleCalendarStandIn)
        calendar = await calendar_of(provider)
        first = (datetime.now(UTC) + timedelta(days=3)).date()
        provider.standin.add_all_day_event(
            "primary", first.isoformat(), (first + timedelta(days=1)).isoformat()
        )

        (event,) = (await calendar.changes("primary", None, WINDOW)).events

        assert (event.start, event.end) == (first, first + timedelta(days=1))
        assert isinstance(event.start, date)


# --- tokens ------------------------------------------------------------------------------------


async def test_an_expired_access_token_is_refreshed_before_the_call(provider):
    grant = await connected(provider)
    # An hour later: the access token has expired.
    expired = replace(grant.tokens, expires_at=datetime.now(UTC) - timedelta(minutes=1))
    calendar = provider.connector.open(expired)

    await calendar.busy("primary", at(1, 0), at(2, 0))

    assert provider.standin.grants["refresh_token"] == 1
    fresh = calendar.tokens()
    assert fresh.access_token != grant.tokens.access_token
    assert fresh.expires_at is not None
    assert fresh.expires_at > datetime.now(UTC) + timedelta(minutes=50)
    assert fresh.refresh_token is not None


async def test_an_access_token_revoked_early_is_refreshed_once_and_the_call_made_again(provider):
    calendar = await calendar_of(provider)
    before = calendar.tokens()
    provider.standin.expire_access_tokens()

    busy = await calendar.busy("primary", at(1, 0), at(2, 0))

    assert busy == []
    assert provider.standin.grants["refresh_token"] == 1
    assert calendar.tokens().access_token != before.access_token


async def test_microsoft_rotates_the_refresh_token_and_the_new_one_is_what_works_next():
    with serving("outlook_calendar") as provider:
        standin, connector = provider.standin, provider.connector
        calendar = await calendar_of(provider)
        first = calendar.tokens()
        standin.expire_access_tokens()
        await calendar.busy("primary", at(1, 0), at(2, 0))
        second = calendar.tokens()
        assert second.refresh_token != first.refresh_token

        stale = connector.open(first)
        with pytest.raises(ProviderError) as raised:
            await stale.busy("primary", at(1, 0), at(2, 0))
        assert raised.value.code == "reauthorization_required"

        standin.expire_access_tokens()
        assert await connector.open(second).busy("primary", at(1, 0), at(2, 0)) == []


async def test_a_revoked_grant_asks_for_the_account_to_be_connected_again(provider):
    calendar = await calendar_of(provider)
    provider.standin.expire_access_tokens()
    provider.standin.revoke_refresh_tokens()

    with pytest.raises(ProviderError) as raised:
        await calendar.busy("primary", at(1, 0), at(2, 0))
    assert raised.value.retryable is False
    assert raised.value.code == "reauthorization_required"


async def test_two_connections_use_only_their_own_tokens(provider):
    first = await calendar_of(provider)
    second = await calendar_of(provider)

    await first.busy("primary", at(1, 0), at(2, 0))
    await second.busy("primary", at(1, 0), at(2, 0))

    used = [r.api_key for r in provider.standin.requests if r.method != "POST" or "token" not in r.path]
    used = [token for token in used if token]
    assert first.tokens().access_token in used
    assert second.tokens().access_token in used
    assert first.tokens().access_token != second.tokens().access_token
