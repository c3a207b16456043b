"""Connected calendars over HTTP, on PostgreSQL, against local stand-ins of Google Calendar and
Microsoft Graph: connecting an account (OAuth with PKCE, tokens sealed, refreshed when used),
linking a resource, availability that leaves out the calendar's busy times, bookings pushed as
events by the worker (moved, cancelled, deleted), and the periodic sync of changes made in the
calendar.

Nothing of ours is mocked: the container's calendar providers are the operator's real ones
(``OperatorCalendarProviders`` over the installed plugins) pointed at ``GoogleCalendarStandIn``
and ``GraphStandIn`` on 127.0.0.1; the worker is the real one, run a batch at a time. The test
plays the browser: it follows the authorization URL to the stand-in with httpx (which approves at
once and redirects back with ``code`` and ``state``) and brings those to our callback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from uuid import UUID

import httpx
import psycopg
import pytest

from switchboard.adapters.calendar_busy import ConnectedCalendarBusyTimes
from switchboard.core.queues.model import JobStatus, new_outbox_message
from switchboard.core.scheduling.calendar_sync import (
    PUSH_JOB,
    CalendarConnections,
    CalendarSync,
)
from switchboard.entrypoints.http.blueprints.calendar_connections import AuthorizationOut, ResourceCalendarOut
from switchboard.entrypoints.http.blueprints.integrations import IntegrationOut
from switchboard.plugins.calendars import OperatorCalendarProviders
from switchboard.ports.providers import ProviderError
from tests.e2e.admin_helpers import add_member, audit_entries, create_key
from tests.e2e.helpers import SignedUp, conforms, create_customer, expect_problem, sign_up
from tests.e2e.test_scheduling import book, booked, change_status, in_days, iso, make_resource, slots
from tests.fakes.calendar_oauth import CalendarOAuthStandIn
from tests.fakes.google_calendar_standin import GoogleCalendarStandIn
from tests.fakes.graph_standin import GraphStandIn

CLIENT_ID = "e2e-calendar-client"
CLIENT_SECRET = "e2e-calendar-secret-0123456789"
ACCOUNT = "dana@example.com"
PROVIDERS = ("google_calendar", "outlook_calendar")
SYNC_EVERY = timedelta(minutes=5)
WORKER_ROUNDS = 20
ROOMY = 1000  # the worker claims due rows of every tenant: a batch large enough for all of them
PUSHED_AT_ONCE = 10


@dataclass
class Calendars:
    """Both stand-ins, and the container's calendar ports pointed at them."""

    google: GoogleCalendarStandIn
    outlook: GraphStandIn
    sync: CalendarSync
    container: Any
    public_url: str

    def standin(self, slug: str) -> CalendarOAuthStandIn:
        return self.google if slug == "google_calendar" else self.outlook

    def events(self, slug: str) -> list[dict[str, Any]]:
        return self.standin(slug).events("primary")  # type: ignore[attr-defined]

    def add_event(self, slug: str, start: datetime, end: datetime) -> str:
        return self.standin(slug).add_event("primary", start, end)  # type: ignore[attr-defined]

    def remove_event(self, slug: str, event_id: str) -> None:
        self.standin(slug).remove_event("primary", event_id)  # type: ignore[attr-defined]

    def cache_busy_times(self, seconds: float) -> None:
        self.container.busy_times.override(ConnectedCalendarBusyTimes(self.sync, ttl_seconds=seconds))

    async def run_worker(self) -> None:
        """Run the worker until nothing is due: pushes, syncs, and whatever else is queued."""
        for _ in range(WORKER_ROUNDS):
            if await self.container.worker(batch=ROOMY, lease_seconds=60).run_once() == 0:
                return


@pytest.fixture
def calendars(container) -> Iterator[Calendars]:
    public_url = container.settings().public_url.rstrip("/")

    def callback(slug: str) -> tuple[str, ...]:
        return (f"{public_url}/v1/calendar-connections/{slug}/callback",)

    common = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "account": ACCOUNT}
    with (
        GoogleCalendarStandIn(redirect_uris=callback("google_calendar"), **common) as google,
        GraphStandIn(redirect_uris=callback("outlook_calendar"), **common) as outlook,
    ):
        configured = {
            "google_calendar": google.operator_settings(),
            "outlook_calendar": outlook.operator_settings(),
        }
        providers = OperatorCalendarProviders(container.plugins(), configured)
        units, box, clock = container.units(), container.secret_box(), container.clock()
        sync = CalendarSync(units, providers, box, clock, SYNC_EVERY)
        overridden = [
            (container.calendar_providers, providers),
            (container.calendar_sync, sync),
            (
                container.calendar_connections,
                CalendarConnections(units, providers, container.access_tokens(), box, clock),
            ),
            # Not cached by default here, so a test sees each change it makes in the calendar.
            (container.busy_times, ConnectedCalendarBusyTimes(sync, ttl_seconds=0)),
        ]
        for provider, value in overridden:
            provider.override(value)
        try:
            yield Calendars(google, outlook, sync, container, public_url)
        finally:
            container.busy_times.reset_override()
            for provider, _ in overridden:
                provider.reset_override()


@pytest.fixture(params=PROVIDERS)
def slug(request) -> str:
    return str(request.param)


# --- helpers -----------------------------------------------------------------------------------


async def start(client: Any, who: SignedUp, slug: str) -> dict[str, Any]:
    response = await client.post("/v1/calendar-connections", json={"provider": slug}, headers=who.auth)
    assert response.status_code == 200, await response.get_data()
    body: dict[str, Any] = await response.get_json()
    conforms(AuthorizationOut, body)
    return body


async def consent(calendars: Calendars, authorization_url: str) -> tuple[str, dict[str, str]]:
    """The browser at the provider, which approves and redirects back: our path and query."""
    async with httpx.AsyncClient() as browser:
        response = await browser.get(authorization_url, follow_redirects=False)
    assert response.status_code == 302, response.text
    back = urlsplit(response.headers["location"])
    assert f"{back.scheme}://{back.netloc}" == calendars.public_url
    return back.path, dict(parse_qsl(back.query))


async def connect(client: Any, calendars: Calendars, who: SignedUp, slug: str) -> Any:
    """Start, consent, come back: the callback's answer."""
    started = await start(client, who, slug)
    path, query = await consent(calendars, started["authorization_url"])
    return await client.get(path, query_string=query)  # no bearer token: the browser has none


async def connected(client: Any, calendars: Calendars, who: SignedUp, slug: str) -> dict[str, Any]:
    response = await connect(client, calendars, who, slug)
    assert response.status_code == 201, await response.get_data()
    body: dict[str, Any] = await response.get_json()
    conforms(IntegrationOut, body)
    return body


async def link(client: Any, who: SignedUp, resource: dict[str, Any], calendar_id: str = "primary") -> Any:
    return await client.post(
        f"/v1/resources/{resource['id']}/calendar", json={"calendar_id": calendar_id}, headers=who.auth
    )


@dataclass
class Shop:
    owner: SignedUp
    resource: dict[str, Any]
    customer: dict[str, Any]
    integration: dict[str, Any]


async def shop_with_calendar(client: Any, calendars: Calendars, slug: str) -> Shop:
    """A tenant whose calendar account is connected, with a round-the-clock resource linked to its
    primary calendar (and that calendar read once by the worker), and a customer."""
    owner = await sign_up(client)
    integration = await connected(client, calendars, owner, slug)
    resource = await make_resource(client, owner)
    linked = await link(client, owner, resource)
    assert linked.status_code == 201, await linked.get_data()
    await calendars.run_worker()
    return Shop(owner, resource, await create_customer(client, owner), integration)


async def stored_link(calendars: Calendars, shop: Shop, appointment_id: str) -> Any:
    async with calendars.container.units()(UUID(shop.owner.tenant_id)) as uow:
        return await uow.calendar_events.get(UUID(appointment_id))


# --- connecting --------------------------------------------------------------------------------


async def test_an_owner_connects_a_calendar_account_which_becomes_the_tenants_calendar_integration(
    client, calendars, slug
):
    owner = await sign_up(client)

    response = await connect(client, calendars, owner, slug)

    assert response.status_code == 201, await response.get_data()
    body = await response.get_json()
    conforms(IntegrationOut, body)
    assert response.headers["Location"] == f"/v1/integrations/{body['id']}"
    assert (body["provider"], body["capability"], body["enabled"]) == (slug, "calendar", True)
    assert body["config"]["account"] == ACCOUNT
    assert body["config"]["access_token"].startswith("••••")
    assert body["config"]["refresh_token"].startswith("••••")
    listed = await client.get("/v1/integrations", headers=owner.auth)
    assert [i["id"] for i in (await listed.get_json())["data"]] == [body["id"]]
    (created,) = await audit_entries(client, owner, action="integration.created")
    assert created["changes"]["provider"] == slug
    # Which settings, never their values: the tokens stay out of the log.
    assert created["changes"]["config"] == ["access_token", "account", "expires_at", "refresh_token"]


async def test_the_consent_page_is_asked_with_pkce_and_a_signed_state_bound_to_the_tenant(client, calendars):
    owner = await sign_up(client)

    started = await start(client, owner, "google_calendar")

    query = dict(parse_qsl(urlsplit(started["authorization_url"]).query))
    assert query["code_challenge_method"] == "S256"
    assert query["redirect_uri"] == f"{calendars.public_url}/v1/calendar-connections/google_calendar/callback"
    assert query["state"].count(".") == 2  # a signed token, not something to guess
    assert datetime.fromisoformat(started["expires_at"]) > datetime.now(UTC) + timedelta(minutes=9)


async def test_connecting_the_same_account_again_renews_its_tokens_and_another_provider_is_refused(
    client, calendars
):
    owner = await sign_up(client)
    first = await connected(client, calendars, owner, "google_calendar")

    again = await connect(client, calendars, owner, "google_calendar")
    other = await connect(client, calendars, owner, "outlook_calendar")

    assert again.status_code == 200, await again.get_data()
    renewed = await again.get_json()
    assert renewed["id"] == first["id"]
    assert renewed["config"]["access_token"] != first["config"]["access_token"]
    await expect_problem(other, 409, "capability_taken")


async def test_a_forged_foreign_or_refused_callback_connects_nothing(client, calendars):
    owner = await sign_up(client)
    started = await start(client, owner, "google_calendar")
    path, query = await consent(calendars, started["authorization_url"])

    forged = await client.get(path, query_string=query | {"state": query["state"][:-4] + "AAAA"})
    elsewhere = await client.get("/v1/calendar-connections/outlook_calendar/callback", query_string=query)
    refused = await client.get(path, query_string={"error": "access_denied", "state": query["state"]})
    no_code = await client.get(path, query_string={"state": query["state"]})

    await expect_problem(forged, 401, "unauthenticated")
    await expect_problem(elsewhere, 401, "unauthenticated")
    await expect_problem(refused, 400, "calendar_access_denied")
    await expect_problem(no_code, 400)
    listed = await client.get("/v1/integrations", headers=owner.auth)
    assert (await listed.get_json())["data"] == []


async def test_a_code_is_traded_once(client, calendars):
    owner = await sign_up(client)
    started = await start(client, owner, "google_calendar")
    path, query = await consent(calendars, started["authorization_url"])

    first = await client.get(path, query_string=query)
    replayed = await client.get(path, query_string=query)

    assert first.status_code == 201
    await expect_problem(replayed, 502, "calendar_provider_refused")


async def test_whoever_started_must_still_be_allowed_to_connect_when_the_provider_answers(
    client, database, calendars
):
    owner = await sign_up(client)
    admin = await add_member(client, database, owner, "admin")
    started = await start(client, admin, "google_calendar")
    path, query = await consent(calendars, started["authorization_url"])
    demoted = await client.patch(
        f"/v1/team/members/{admin.user_id}", json={"role": "member"}, headers=owner.auth
    )
    assert demoted.status_code == 200, await demoted.get_data()

    response = await client.get(path, query_string=query)

    await expect_problem(response, 403, "forbidden")


async def test_an_api_key_with_integrations_write_may_connect_until_it_is_revoked(client, calendars):
    owner = await sign_up(client)
    key = await create_key(client, owner, {"integrations": "write"})
    as_key = SignedUp(owner.tenant_id, owner.user_id, owner.email, key["secret"], "", {})
    started = await start(client, as_key, "google_calendar")
    path, query = await consent(calendars, started["authorization_url"])
    revoked = await client.delete(f"/v1/api-keys/{key['id']}", headers=owner.auth)
    assert revoked.status_code == 204

    refused = await client.get(path, query_string=query)
    await expect_problem(refused, 401, "unauthenticated")

    again = await client.post(
        "/v1/calendar-connections", json={"provider": "google_calendar"}, headers=as_key.auth
    )
    await expect_problem(again, 401)  # nor can it start again
    fresh = await create_key(client, owner, {"integrations": "write"})
    as_fresh = SignedUp(owner.tenant_id, owner.user_id, owner.email, fresh["secret"], "", {})
    response = await connect(client, calendars, as_fresh, "google_calendar")
    assert response.status_code == 201, await response.get_data()
    (created,) = await audit_entries(client, owner, action="integration.created")
    assert created["actor"] == {"type": "api_key", "id": fresh["id"], "on_behalf_of_admin": None}


async def test_members_cannot_start_a_connection_and_unknown_providers_are_404(client, database, calendars):
    owner = await sign_up(client)
    member = await add_member(client, database, owner, "member")

    as_member = await client.post(
        "/v1/calendar-connections", json={"provider": "google_calendar"}, headers=member.auth
    )
    unknown = await client.post(
        "/v1/calendar-connections", json={"provider": "acme_calendar"}, headers=owner.auth
    )

    await expect_problem(as_member, 403, "forbidden")
    await expect_problem(unknown, 404, "not_found")


async def test_a_calendar_cannot_be_connected_or_reconfigured_through_the_integrations_route(
    client, calendars
):
    owner = await sign_up(client)
    integration = await connected(client, calendars, owner, "google_calendar")

    posted = await client.post(
        "/v1/integrations",
        json={
            "provider": "google_calendar",
            "config": {"access_token": "at-mine", "refresh_token": "rt-mine"},
        },
        headers=owner.auth,
    )
    patched = await client.patch(
        f"/v1/integrations/{integration['id']}",
        json={"config": {"access_token": "at-mine"}},
        headers=owner.auth,
    )

    await expect_problem(posted, 400, "validation_error")
    await expect_problem(patched, 400, "validation_error")


# --- linking -----------------------------------------------------------------------------------


async def test_a_resource_is_linked_to_a_calendar_read_and_unlinked(client, calendars):
    owner = await sign_up(client)
    integration = await connected(client, calendars, owner, "google_calendar")
    resource = await make_resource(client, owner)

    created = await link(client, owner, resource)
    replaced = await link(client, owner, resource, ACCOUNT)
    read = await client.get(f"/v1/resources/{resource['id']}/calendar", headers=owner.auth)

    assert created.status_code == 201, await created.get_data()
    assert replaced.status_code == 200
    body = await read.get_json()
    conforms(ResourceCalendarOut, body)
    assert (body["resource_id"], body["integration_id"]) == (resource["id"], integration["id"])
    assert (body["provider"], body["calendar_id"]) == ("google_calendar", ACCOUNT)
    removed = await client.delete(f"/v1/resources/{resource['id']}/calendar", headers=owner.auth)
    assert removed.status_code == 204
    gone = await client.get(f"/v1/resources/{resource['id']}/calendar", headers=owner.auth)
    await expect_problem(gone, 404, "not_found")
    actions = [e["action"] for e in await audit_entries(client, owner, target_type="resource")]
    assert {"resource_calendar.linked", "resource_calendar.updated", "resource_calendar.unlinked"} <= set(
        actions
    )


async def test_linking_needs_a_connected_account_and_a_resource_of_ones_own(client, calendars):
    owner = await sign_up(client)
    resource = await make_resource(client, owner)
    stranger = await sign_up(client)
    await connected(client, calendars, stranger, "google_calendar")

    unconnected = await link(client, owner, resource)
    foreign = await link(client, stranger, resource)
    blank = await link(client, stranger, resource, " ")

    await expect_problem(unconnected, 409, "calendar_not_connected")
    await expect_problem(foreign, 404, "not_found")
    await expect_problem(blank, 400, "validation_error")


async def test_disconnecting_the_account_unlinks_its_resources(client, calendars):
    shop = await shop_with_calendar(client, calendars, "google_calendar")

    deleted = await client.delete(f"/v1/integrations/{shop.integration['id']}", headers=shop.owner.auth)

    assert deleted.status_code == 204
    read = await client.get(f"/v1/resources/{shop.resource['id']}/calendar", headers=shop.owner.auth)
    await expect_problem(read, 404)


# --- busy times --------------------------------------------------------------------------------


async def test_availability_leaves_out_the_busy_times_of_the_linked_calendar(client, calendars, slug):
    shop = await shop_with_calendar(client, calendars, slug)
    calendars.add_event(slug, in_days(3, 10), in_days(3, 11))

    free = await slots(client, shop.owner, shop.resource, in_days(3, 9), in_days(3, 12), duration=30)
    taken = await book(client, shop.owner, shop.resource, shop.customer, in_days(3, 10, 30))

    assert [start for start, _ in free] == [
        in_days(3, 9),
        in_days(3, 9, 30),
        in_days(3, 11),
        in_days(3, 11, 30),
    ]
    await expect_problem(taken, 409, "slot_taken")


async def test_a_resource_without_a_calendar_is_not_kept_busy_by_the_account(client, calendars):
    shop = await shop_with_calendar(client, calendars, "google_calendar")
    other = await make_resource(client, shop.owner, name="Sam")
    calendars.add_event("google_calendar", in_days(3, 10), in_days(3, 11))

    free = await slots(client, shop.owner, other, in_days(3, 9), in_days(3, 12), duration=60)

    assert [start for start, _ in free] == [in_days(3, 9), in_days(3, 10), in_days(3, 11)]


async def test_busy_times_are_cached_for_a_short_while(client, calendars):
    shop = await shop_with_calendar(client, calendars, "google_calendar")
    calendars.cache_busy_times(30)
    asked = len(calendars.google.requests_to("/calendar/v3/freeBusy"))

    await slots(client, shop.owner, shop.resource, in_days(2, 0), in_days(5, 0))  # asks the calendar
    await slots(client, shop.owner, shop.resource, in_days(3, 9), in_days(3, 17))  # these days are cached
    await booked(client, shop.owner, shop.resource, shop.customer, in_days(3, 13))  # so are these

    assert len(calendars.google.requests_to("/calendar/v3/freeBusy")) == asked + 1


async def test_when_the_calendar_cannot_be_reached_the_events_the_sync_recorded_still_count(
    client, calendars, slug
):
    shop = await shop_with_calendar(client, calendars, slug)
    calendars.add_event(slug, in_days(4, 10), in_days(4, 11))
    synced = await client.post(f"/v1/resources/{shop.resource['id']}/calendar/sync", headers=shop.owner.auth)
    assert synced.status_code == 202, await synced.get_data()
    await calendars.run_worker()

    calendars.standin(slug).fail_next(1, 503)
    free = await slots(client, shop.owner, shop.resource, in_days(4, 9), in_days(4, 12), duration=60)

    assert [start for start, _ in free] == [in_days(4, 9), in_days(4, 11)]


# --- pushing bookings --------------------------------------------------------------------------


async def test_a_booking_is_pushed_as_an_event_moved_with_it_and_deleted_when_cancelled(
    client, calendars, slug
):
    shop = await shop_with_calendar(client, calendars, slug)
    appointment = await booked(client, shop.owner, shop.resource, shop.customer, in_days(5, 10), minutes=60)

    await calendars.run_worker()

    (event,) = calendars.events(slug)
    assert (event.get("summary") or event.get("subject")) == f"Haircut: {shop.customer['name']}"
    assert event["start"]["dateTime"].startswith(in_days(5, 10).strftime("%Y-%m-%dT%H:%M"))
    # Our own event does not keep the resource busy twice: the booking can grow over its old time.
    moved = await client.patch(
        f"/v1/appointments/{appointment['id']}",
        json={"start": iso(in_days(5, 10, 30)), "end": iso(in_days(5, 12))},
        headers=shop.owner.auth,
    )
    assert moved.status_code == 200, await moved.get_data()
    await calendars.run_worker()
    (event,) = calendars.events(slug)
    assert event["start"]["dateTime"].startswith(in_days(5, 10, 30).strftime("%Y-%m-%dT%H:%M"))
    assert event["end"]["dateTime"].startswith(in_days(5, 12).strftime("%Y-%m-%dT%H:%M"))

    cancelled = await change_status(client, shop.owner, await moved.get_json(), "cancelled")
    assert cancelled.status_code == 200, await cancelled.get_data()
    await calendars.run_worker()

    assert calendars.events(slug) == []
    assert await stored_link(calendars, shop, appointment["id"]) is None


async def test_deleting_a_booking_deletes_its_event(client, calendars, slug):
    shop = await shop_with_calendar(client, calendars, slug)
    appointment = await booked(client, shop.owner, shop.resource, shop.customer, in_days(5, 14))
    await calendars.run_worker()
    assert len(calendars.events(slug)) == 1

    deleted = await client.delete(f"/v1/appointments/{appointment['id']}", headers=shop.owner.auth)
    assert deleted.status_code == 204
    await calendars.run_worker()

    assert calendars.events(slug) == []


async def test_linking_pushes_the_upcoming_bookings_and_unlinking_takes_them_back(client, calendars):
    owner = await sign_up(client)
    await connected(client, calendars, owner, "google_calendar")
    resource = await make_resource(client, owner)
    customer = await create_customer(client, owner)
    for day in (2, 3):
        await booked(client, owner, resource, customer, in_days(day, 9))

    assert (await link(client, owner, resource)).status_code == 201
    await calendars.run_worker()
    assert len(calendars.events("google_calendar")) == 2

    unlinked = await client.delete(f"/v1/resources/{resource['id']}/calendar", headers=owner.auth)
    assert unlinked.status_code == 204
    await calendars.run_worker()
    assert calendars.events("google_calendar") == []


async def test_a_push_the_provider_fails_leaves_nothing_half_done_and_succeeds_when_tried_again(
    client, calendars
):
    shop = await shop_with_calendar(client, calendars, "google_calendar")
    appointment = await booked(client, shop.owner, shop.resource, shop.customer, in_days(6, 9))
    job = new_outbox_message(
        UUID(shop.owner.tenant_id), PUSH_JOB, {"appointment_id": appointment["id"]}, datetime.now(UTC)
    )
    calendars.google.fail_next(1, 503)

    with pytest.raises(ProviderError) as failed:
        await calendars.sync.push_appointment(job)

    assert failed.value.retryable is True  # the worker tries it again later, with backoff
    assert calendars.events("google_calendar") == []
    assert await stored_link(calendars, shop, appointment["id"]) is None
    await calendars.sync.push_appointment(job)
    (event,) = calendars.events("google_calendar")
    assert (await stored_link(calendars, shop, appointment["id"])).event_id == event["id"]
    await calendars.run_worker()  # the booking's own job finds the event written: nothing to do
    assert len(calendars.events("google_calendar")) == 1


async def test_one_booking_pushed_ten_times_at_once_makes_one_event(client, calendars, slug):
    shop = await shop_with_calendar(client, calendars, slug)
    appointment = await booked(client, shop.owner, shop.resource, shop.customer, in_days(6, 15))
    tenant_id = UUID(shop.owner.tenant_id)
    jobs = [
        new_outbox_message(tenant_id, PUSH_JOB, {"appointment_id": appointment["id"]}, datetime.now(UTC))
        for _ in range(PUSHED_AT_ONCE)
    ]

    await asyncio.gather(*(calendars.sync.push_appointment(job) for job in jobs))

    (event,) = calendars.events(slug)
    assert (await stored_link(calendars, shop, appointment["id"])).event_id == event["id"]


# --- tokens ------------------------------------------------------------------------------------


async def test_an_expired_access_token_is_refreshed_when_used_and_the_new_tokens_are_kept(
    client, calendars, slug
):
    shop = await shop_with_calendar(client, calendars, slug)
    standin = calendars.standin(slug)
    before = shop.integration["config"]["access_token"]

    for hour in (9, 11):
        standin.expire_access_tokens()  # revoked early, or simply an hour later
        await booked(client, shop.owner, shop.resource, shop.customer, in_days(7, hour))
        await calendars.run_worker()

    assert len(calendars.events(slug)) == 2
    assert standin.grants["refresh_token"] >= 2
    stored = await client.get(f"/v1/integrations/{shop.integration['id']}", headers=shop.owner.auth)
    assert (await stored.get_json())["config"]["access_token"] != before


async def test_a_revoked_grant_parks_the_push_as_dead(client, database, calendars):
    shop = await shop_with_calendar(client, calendars, "google_calendar")
    calendars.google.expire_access_tokens()
    calendars.google.revoke_refresh_tokens()
    appointment = await booked(client, shop.owner, shop.resource, shop.customer, in_days(7, 15))

    await calendars.run_worker()

    async with calendars.container.units()(UUID(shop.owner.tenant_id)) as uow:
        link_row = await uow.calendar_events.get(UUID(appointment["id"]))
        link = await uow.resource_calendars.get(UUID(shop.resource["id"]))
    assert link_row is None
    assert link is not None
    with psycopg.connect(database.owner_url) as conn:
        rows = conn.execute(
            "SELECT status, last_error FROM outbox WHERE tenant_id = %s AND kind = %s",
            (shop.owner.tenant_id, PUSH_JOB),
        ).fetchall()
    ((status, error),) = rows
    assert status == JobStatus.DEAD.value
    assert "connect the account again" in error


# --- syncing changes made in the calendar ------------------------------------------------------


async def test_the_periodic_sync_records_events_made_and_deleted_in_the_calendar(client, calendars, slug):
    shop = await shop_with_calendar(client, calendars, slug)
    read = await client.get(f"/v1/resources/{shop.resource['id']}/calendar", headers=shop.owner.auth)
    assert (await read.get_json())["synced_at"] is not None
    event_id = calendars.add_event(slug, in_days(8, 10), in_days(8, 11))
    tenant_id, resource_id = UUID(shop.owner.tenant_id), UUID(shop.resource["id"])

    await client.post(f"/v1/resources/{shop.resource['id']}/calendar/sync", headers=shop.owner.auth)
    await calendars.run_worker()

    async with calendars.container.units()(tenant_id) as uow:
        recorded = await uow.calendar_busy.between(resource_id, in_days(8, 0), in_days(9, 0))
        link = await uow.resource_calendars.get(resource_id)
        following = await uow.outbox.get(link.sync_job_id)
    assert [(b.event_id, b.starts_at, b.ends_at) for b in recorded] == [
        (event_id, in_days(8, 10), in_days(8, 11))
    ]
    # The next sync is queued, due one interval later.
    assert following is not None
    assert following.kind == "calendar.sync"
    assert following.status is JobStatus.PENDING
    assert following.next_attempt_at > datetime.now(UTC) + SYNC_EVERY - timedelta(minutes=1)

    calendars.remove_event(slug, event_id)
    await client.post(f"/v1/resources/{shop.resource['id']}/calendar/sync", headers=shop.owner.auth)
    await calendars.run_worker()

    async with calendars.container.units()(tenant_id) as uow:
        assert await uow.calendar_busy.between(resource_id, in_days(8, 0), in_days(9, 0)) == []


async def test_the_sync_does_not_record_switchboards_own_events(client, calendars, slug):
    shop = await shop_with_calendar(client, calendars, slug)
    await booked(client, shop.owner, shop.resource, shop.customer, in_days(9, 10))
    await calendars.run_worker()
    assert len(calendars.events(slug)) == 1

    await client.post(f"/v1/resources/{shop.resource['id']}/calendar/sync", headers=shop.owner.auth)
    await calendars.run_worker()

    async with calendars.container.units()(UUID(shop.owner.tenant_id)) as uow:
        recorded = await uow.calendar_busy.between(UUID(shop.resource["id"]), in_days(9, 0), in_days(10, 0))
    assert recorded == []


async def test_an_expired_sync_token_starts_a_full_sync_again(client, calendars):
    shop = await shop_with_calendar(client, calendars, "google_calendar")
    event_id = calendars.add_event("google_calendar", in_days(8, 14), in_days(8, 15))
    calendars.google.expire_sync_tokens()

    await client.post(f"/v1/resources/{shop.resource['id']}/calendar/sync", headers=shop.owner.auth)
    await calendars.run_worker()

    async with calendars.container.units()(UUID(shop.owner.tenant_id)) as uow:
        recorded = await uow.calendar_busy.between(UUID(shop.resource["id"]), in_days(8, 0), in_days(9, 0))
    assert [b.event_id for b in recorded] == [event_id]
