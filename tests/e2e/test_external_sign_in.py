"""Signing in with Google and GitHub over the HTTP API, against local stand-ins of both providers.

Nothing of ours is mocked: the container's sign-in providers are the operator's real ones
(``OperatorSignInProviders`` over the installed plugins), pointed at ``OidcStandIn`` (authlib's
own authorization server, signing real ID tokens) and ``GitHubStandIn`` on 127.0.0.1. The test
plays the browser: it starts at ``GET /v1/auth/sign-in/{provider}``, keeps the ``sb_sign_in``
cookie, follows the redirect to the stand-in with httpx (which approves at once and redirects
back with ``code`` and ``state``) and brings those to our callback with the cookie.

The browser here is a test client of its own without a cookie jar (the session's ``client``
would carry the sign-in cookie into every other test), and each test signs in from an address
of its own.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import jwt
import psycopg
import pyotp
import pytest
from quart.typing import TestClientProtocol as Client  # not "Test*": pytest would collect it

from switchboard.entrypoints.http.blueprints.account import EnrolmentOut, RecoveryCodesOut
from switchboard.entrypoints.http.blueprints.audit import AuditEventOut, AuditListOut
from switchboard.entrypoints.http.blueprints.auth import MfaRequiredOut, ProvidersOut
from switchboard.entrypoints.http.blueprints.schemas import MeOut
from switchboard.entrypoints.http.blueprints.team import MemberListOut
from switchboard.plugins.sign_in import OperatorSignInProviders
from tests.e2e.account_helpers import mailed_token
from tests.e2e.helpers import (
    PASSWORD,
    conforms,
    expect_problem,
    login,
    refresh,
    sign_up,
    tokens_of,
    unique_email,
)
from tests.fakes.github_standin import GitHubEmail, GitHubStandIn, GitHubUser
from tests.fakes.oidc_standin import OidcStandIn, OidcUser

GOOGLE_CLIENT_ID = "1234567890-switchboard-e2e.apps.googleusercontent.com"
GOOGLE_CLIENT_SECRET = "GOCSPX-switchboard-e2e-secret"
GITHUB_CLIENT_ID = "Iv1.e2e0switchboard"
GITHUB_CLIENT_SECRET = "github-e2e-secret-0123456789abcdef0123456789"
COOKIE = "sb_sign_in"
COOKIE_PATH = "/v1/auth/sign-in"
PROVIDERS = ("google", "github")


# --- the stand-ins, configured as the operator's providers -----------------------------------------


@dataclass(frozen=True)
class StandIns:
    google: OidcStandIn
    github: GitHubStandIn
    public_url: str

    def callback_url(self, provider: str) -> str:
        return f"{self.public_url}/v1/auth/sign-in/{provider}/callback"


@pytest.fixture
def standins(container) -> Iterator[StandIns]:
    """Both stand-ins serving, and the container's sign-in providers pointed at them."""
    public_url = container.settings().public_url.rstrip("/")
    google_callback = f"{public_url}/v1/auth/sign-in/google/callback"
    github_callback = f"{public_url}/v1/auth/sign-in/github/callback"
    with (
        OidcStandIn(
            client_id=GOOGLE_CLIENT_ID, client_secret=GOOGLE_CLIENT_SECRET, redirect_uris=(google_callback,)
        ) as google,
        GitHubStandIn(
            client_id=GITHUB_CLIENT_ID, client_secret=GITHUB_CLIENT_SECRET, callback_url=github_callback
        ) as github,
    ):
        configured = {
            "google": {
                "client_id": GOOGLE_CLIENT_ID,
                "client_secret": GOOGLE_CLIENT_SECRET,
                "server_metadata_url": google.discovery_url,
            },
            "github": {
                "client_id": GITHUB_CLIENT_ID,
                "client_secret": GITHUB_CLIENT_SECRET,
                "web_base": github.web_base,
                "api_base": github.api_base,
            },
        }
        container.sign_in_providers.override(OperatorSignInProviders(container.plugins(), configured))
        try:
            yield StandIns(google, github, public_url)
        finally:
            container.sign_in_providers.reset_last_overriding()


@pytest.fixture
def browser(app) -> Client:
    """A browser without a cookie jar: every cookie a test sends, it sends on purpose."""
    return app.app.test_client(use_cookies=False)  # the running TestApp wraps the Quart app


@pytest.fixture
def address() -> dict[str, Any]:
    """An ASGI scope naming a client address of this test's own (throttling keys on it)."""
    octets = [secrets.randbelow(254) + 1 for _ in range(3)]
    return {"client": (f"10.{octets[0]}.{octets[1]}.{octets[2]}", 40000)}


# --- the person at the provider -----------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """Who the stand-in signs in, as the provider knows them."""

    provider: str
    subject: str
    email: str
    name: str

    @property
    def workspace(self) -> str:
        return f"{self.name}'s workspace"


def person_at(
    standins: StandIns,
    provider: str,
    *,
    email: str | None = None,
    verified: bool = True,
    subject: str | None = None,
    name: str | None = None,
) -> Person:
    """Make the provider's stand-in sign in this person from now on."""
    email = email or unique_email(provider)
    name = name or f"Ada Lovelace {secrets.token_hex(4)}"
    if provider == "google":
        subject = subject or str(10**20 + secrets.randbelow(10**20))
        standins.google.user = OidcUser(sub=subject, email=email, email_verified=verified, name=name)
    else:
        subject = subject or str(1_000_000 + secrets.randbelow(10**9))
        standins.github.user = GitHubUser(
            id=int(subject),
            login=f"octo-{subject}",
            name=name,
            emails=(GitHubEmail(email, primary=True, verified=verified, visibility="public"),),
        )
    return Person(provider, subject, email, name)


# --- the browser's part ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    provider: str
    authorization_url: str
    cookie: str  # the value of sb_sign_in
    set_cookie: SimpleCookie


def cookies_of(response: Any) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.getlist("Set-Cookie"):
        jar.load(header)
    return jar


async def start(browser: Client, provider: str, address: dict[str, Any]) -> Started:
    response = await browser.get(f"/v1/auth/sign-in/{provider}", scope_base=address)
    assert response.status_code == 302, await response.get_data()
    jar = cookies_of(response)
    assert COOKIE in jar, response.headers
    return Started(provider, response.headers["Location"], jar[COOKIE].value, jar)


async def at_the_provider(standins: StandIns, started: Started) -> dict[str, str]:
    """The browser at the provider, which approves at once: the query it brings back."""
    async with httpx.AsyncClient() as http:
        response = await http.get(started.authorization_url)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    callback = standins.callback_url(started.provider)
    assert location.startswith(f"{callback}?"), location
    back = dict(parse_qsl(urlsplit(location).query))
    assert set(back) == {"code", "state"}, back
    return back


async def callback(
    browser: Client,
    provider: str,
    query: dict[str, str],
    cookie: str | None,
    address: dict[str, Any],
) -> Any:
    headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie is not None else {}
    return await browser.get(
        f"/v1/auth/sign-in/{provider}/callback", query_string=query, headers=headers, scope_base=address
    )


async def sign_in_with(browser: Client, standins: StandIns, provider: str, address: dict[str, Any]) -> Any:
    """A whole sign-in, as a browser does it: the callback's raw response."""
    started = await start(browser, provider, address)
    back = await at_the_provider(standins, started)
    return await callback(browser, provider, back, started.cookie, address)


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


# --- what the API and the database say ------------------------------------------------------------


async def me(client: Client, tokens: dict[str, Any]) -> MeOut:
    response = await client.get("/v1/me", headers=bearer(tokens))
    assert response.status_code == 200, await response.get_data()
    return conforms(MeOut, await response.get_json())


async def email_verified(client: Client, auth: dict[str, str], user_id: str) -> bool:
    response = await client.get("/v1/team/members", headers=auth)
    assert response.status_code == 200, await response.get_data()
    members = conforms(MemberListOut, await response.get_json()).data
    [member] = [m for m in members if str(m.user_id) == user_id]
    return member.email_verified


async def audit(client: Client, auth: dict[str, str], action: str) -> list[AuditEventOut]:
    response = await client.get("/v1/audit-logs", query_string={"action": action}, headers=auth)
    assert response.status_code == 200, await response.get_data()
    return conforms(AuditListOut, await response.get_json()).data


def stored(database, person: Person) -> dict[str, int]:
    """How many accounts, links and workspaces the database holds for this person."""
    with psycopg.connect(database.owner_url) as conn:
        users = conn.execute("SELECT count(*) FROM users WHERE lower(email) = lower(%s)", (person.email,))
        links = conn.execute(
            "SELECT count(*) FROM external_identities WHERE provider = %s AND subject = %s",
            (person.provider, person.subject),
        )
        tenants = conn.execute("SELECT count(*) FROM tenants WHERE name = %s", (person.workspace,))
        return {
            "users": users.fetchone()[0],  # type: ignore[index]
            "links": links.fetchone()[0],  # type: ignore[index]
            "workspaces": tenants.fetchone()[0],  # type: ignore[index]
        }


NOTHING = {"users": 0, "links": 0, "workspaces": 0}


def links_of(database, user_id: str) -> list[tuple[str, str]]:
    with psycopg.connect(database.owner_url) as conn:
        rows = conn.execute(
            "SELECT provider, subject FROM external_identities WHERE user_id = %s ORDER BY provider",
            (user_id,),
        ).fetchall()
    return [(provider, subject) for provider, subject in rows]


async def enable_mfa(client: Client, auth: dict[str, str], address: dict[str, Any]) -> pyotp.TOTP:
    started = await client.post("/v1/auth/mfa/totp", headers=auth, scope_base=address)
    assert started.status_code == 201, await started.get_data()
    totp = pyotp.TOTP(conforms(EnrolmentOut, await started.get_json()).secret)
    confirmed = await client.post(
        "/v1/auth/mfa/totp/confirm", json={"code": totp.now()}, headers=auth, scope_base=address
    )
    assert confirmed.status_code == 200, await confirmed.get_data()
    conforms(RecoveryCodesOut, await confirmed.get_json())
    return totp


# --- the providers on offer -------------------------------------------------------------------------


async def test_the_providers_the_operator_configured_are_listed_in_a_list_envelope(browser, standins):
    response = await browser.get("/v1/auth/sign-in")

    assert response.status_code == 200
    body = await response.get_json()
    ProvidersOut.model_validate(body)
    assert body == {"object": "list", "data": ["google", "github"], "has_more": False, "next_cursor": None}


async def test_without_configured_providers_none_is_offered_and_none_can_be_started(browser, address):
    listed = await browser.get("/v1/auth/sign-in")
    assert (await listed.get_json())["data"] == []

    for provider in PROVIDERS:
        response = await browser.get(f"/v1/auth/sign-in/{provider}", scope_base=address)
        await expect_problem(response, 404, "not_found")
        assert "Set-Cookie" not in response.headers


# --- starting ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_starting_redirects_to_the_provider_with_our_callback_and_pkce_and_sets_an_httponly_cookie(
    browser, standins, address, provider
):
    started = await start(browser, provider, address)

    url = urlsplit(started.authorization_url)
    query = dict(parse_qsl(url.query))
    authorize = (
        f"{standins.google.issuer}/authorize"
        if provider == "google"
        else f"{standins.github.web_base}/login/oauth/authorize"
    )
    assert f"{url.scheme}://{url.netloc}{url.path}" == authorize
    assert query["client_id"] == (GOOGLE_CLIENT_ID if provider == "google" else GITHUB_CLIENT_ID)
    assert query["redirect_uri"] == standins.callback_url(provider)
    assert query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 32
    if provider == "google":
        assert len(query["nonce"]) >= 32
    morsel = started.set_cookie[COOKIE]
    assert morsel["httponly"] is True
    assert morsel["path"] == COOKIE_PATH
    assert morsel["samesite"] == "Lax"
    assert morsel["max-age"] == "600"
    assert not morsel["secure"]  # the public URL here is plain http on loopback


async def test_an_unknown_provider_is_404_to_start_and_to_call_back_and_creates_nothing(
    browser, standins, address, database
):
    started = await browser.get("/v1/auth/sign-in/facebook", scope_base=address)
    await expect_problem(started, 404, "not_found")
    assert "Set-Cookie" not in started.headers

    person = person_at(standins, "google")
    google = await start(browser, "google", address)
    back = await at_the_provider(standins, google)
    answered = await callback(browser, "facebook", back, google.cookie, address)
    await expect_problem(answered, 404, "not_found")
    assert stored(database, person) == NOTHING


# --- a person new to Switchboard ---------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_new_person_with_a_verified_email_gets_an_account_and_a_workspace_of_their_own(
    client, browser, standins, address, database, provider
):
    person = person_at(standins, provider)

    response = await sign_in_with(browser, standins, provider, address)

    tokens = await tokens_of(response)
    assert response.headers["Cache-Control"] == "no-store"
    # The sign-in cookie has done its work: the callback clears it.
    cleared = cookies_of(response)[COOKIE]
    assert cleared.value == ""
    assert cleared["path"] == COOKIE_PATH
    assert cleared["max-age"] == "0"
    # The token works, for a new account that owns a new workspace.
    mine = await me(client, tokens)
    assert str(mine.user.id) == tokens["user_id"]
    assert str(mine.tenant.id) == tokens["tenant_id"]
    assert (mine.user.email, mine.user.name) == (person.email, person.name)
    assert mine.tenant.name == person.workspace
    assert mine.role == "owner"
    assert await email_verified(client, bearer(tokens), tokens["user_id"]) is True
    assert stored(database, person) == {"users": 1, "links": 1, "workspaces": 1}
    assert links_of(database, tokens["user_id"]) == [(provider, person.subject)]
    # The refresh token is a real one.
    await tokens_of(await refresh(client, tokens["refresh_token"]))
    # The audit log tells how they came, and from where.
    [signed_in] = await audit(client, bearer(tokens), "auth.signed_in")
    assert signed_in.changes == {"method": provider}
    assert (signed_in.actor.type, str(signed_in.actor.id)) == ("user", tokens["user_id"])
    assert signed_in.ip == address["client"][0]
    [registered] = await audit(client, bearer(tokens), "user.registered")
    assert registered.changes == {"email": person.email, "via": provider}
    assert [e.target_id for e in await audit(client, bearer(tokens), "tenant.created")] == [
        tokens["tenant_id"]
    ]
    assert await audit(client, bearer(tokens), "user.identity_linked") == []


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_signing_in_again_with_the_same_outside_identity_reaches_the_same_account(
    client, browser, standins, address, database, provider
):
    person = person_at(standins, provider)
    first = await tokens_of(await sign_in_with(browser, standins, provider, address))

    again = await tokens_of(await sign_in_with(browser, standins, provider, address))

    assert (again["user_id"], again["tenant_id"]) == (first["user_id"], first["tenant_id"])
    assert again["access_token"] != first["access_token"]
    assert stored(database, person) == {"users": 1, "links": 1, "workspaces": 1}
    signed_in = await audit(client, bearer(again), "auth.signed_in")
    assert [e.changes for e in signed_in] == [{"method": provider}] * 2


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_the_outside_identity_is_known_by_its_subject_even_after_its_email_changed_at_the_provider(
    client, browser, standins, address, database, provider
):
    person = person_at(standins, provider)
    first = await tokens_of(await sign_in_with(browser, standins, provider, address))
    moved = person_at(standins, provider, subject=person.subject, name=person.name)

    again = await tokens_of(await sign_in_with(browser, standins, provider, address))

    assert (again["user_id"], again["tenant_id"]) == (first["user_id"], first["tenant_id"])
    assert stored(database, moved)["users"] == 0  # no second account for the new address
    assert (await me(client, again)).user.email == person.email


# --- linking to an account that already exists ----------------------------------------------------------


async def verify_address(client: Client, database, owner: Any) -> None:
    """Prove the owner reads mail at their address, as they would by the mailed link."""
    token = mailed_token(database.owner_url, owner.email, "verify-email")
    response = await client.post("/v1/auth/email/verify", json={"token": token})
    assert response.status_code == 204


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_existing_verified_password_account_with_the_same_verified_email_is_linked(
    client, browser, standins, address, database, provider
):
    owner = await sign_up(client)
    await verify_address(client, database, owner)
    person = person_at(standins, provider, email=owner.email)

    tokens = await tokens_of(await sign_in_with(browser, standins, provider, address))

    assert (tokens["user_id"], tokens["tenant_id"]) == (owner.user_id, owner.tenant_id)
    assert links_of(database, owner.user_id) == [(provider, person.subject)]
    assert stored(database, person)["workspaces"] == 0
    # The password still works beside the outside identity.
    assert (await tokens_of(await login(client, owner.email)))["user_id"] == owner.user_id
    [linked] = await audit(client, owner.auth, "user.identity_linked")
    assert (linked.target_type, linked.target_id) == ("user", owner.user_id)
    assert linked.changes == {"provider": provider, "email": owner.email}
    assert linked.ip == address["client"][0]
    methods = [e.changes["method"] for e in await audit(client, owner.auth, "auth.signed_in")]
    assert methods == ["password", provider]  # newest first
    # And the next time the identity is found directly, without linking again.
    await tokens_of(await sign_in_with(browser, standins, provider, address))
    assert len(await audit(client, owner.auth, "user.identity_linked")) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_account_that_never_verified_its_address_is_not_linked_so_a_squatter_gains_nothing(
    client, browser, standins, address, database, provider
):
    squatter = await sign_up(client)  # registered someone else's address, never verified it
    person = person_at(standins, provider, email=squatter.email)

    response = await sign_in_with(browser, standins, provider, address)

    problem = await expect_problem(response, 401, "unauthenticated")
    assert "reset its password" in problem["detail"]
    assert links_of(database, squatter.user_id) == []
    assert stored(database, person)["workspaces"] == 0
    assert await email_verified(client, squatter.auth, squatter.user_id) is False


async def test_the_providers_email_finds_the_account_whatever_its_case(
    client, browser, standins, address, database
):
    owner = await sign_up(client)
    await verify_address(client, database, owner)
    person_at(standins, "google", email=owner.email.upper())

    tokens = await tokens_of(await sign_in_with(browser, standins, "google", address))

    assert (tokens["user_id"], tokens["tenant_id"]) == (owner.user_id, owner.tenant_id)


async def test_google_and_github_with_the_same_verified_email_reach_one_account(
    client, browser, standins, address, database
):
    email = unique_email("both")
    google = person_at(standins, "google", email=email)
    first = await tokens_of(await sign_in_with(browser, standins, "google", address))
    github = person_at(standins, "github", email=email)

    second = await tokens_of(await sign_in_with(browser, standins, "github", address))

    assert (second["user_id"], second["tenant_id"]) == (first["user_id"], first["tenant_id"])
    assert links_of(database, first["user_id"]) == [("github", github.subject), ("google", google.subject)]
    [linked] = await audit(client, bearer(second), "user.identity_linked")
    assert linked.changes == {"provider": "github", "email": email}
    methods = [e.changes["method"] for e in await audit(client, bearer(second), "auth.signed_in")]
    assert methods == ["github", "google"]  # newest first


# --- an email the provider did not vouch for -------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_unverified_email_is_refused_401_and_creates_no_account(
    browser, standins, address, database, provider
):
    person = person_at(standins, provider, verified=False)

    response = await sign_in_with(browser, standins, provider, address)

    problem = await expect_problem(response, 401, "unauthenticated")
    assert person.email not in problem["detail"]
    assert stored(database, person) == NOTHING


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_unverified_email_does_not_link_the_account_that_has_it(
    client, browser, standins, address, database, provider
):
    owner = await sign_up(client)
    person = person_at(standins, provider, email=owner.email, verified=False)

    response = await sign_in_with(browser, standins, provider, address)

    await expect_problem(response, 401, "unauthenticated")
    assert links_of(database, owner.user_id) == []
    assert stored(database, person) == {"users": 1, "links": 0, "workspaces": 0}
    assert await email_verified(client, owner.auth, owner.user_id) is False
    assert await audit(client, owner.auth, "user.identity_linked") == []
    assert await audit(client, owner.auth, "auth.signed_in") == []


async def test_a_github_account_whose_only_verified_address_is_not_the_primary_one_is_refused(
    browser, standins, address, database
):
    person = person_at(standins, "github", verified=False)
    verified_elsewhere = unique_email("secondary")
    standins.github.user = dataclasses.replace(
        standins.github.user,
        emails=(*standins.github.user.emails, GitHubEmail(verified_elsewhere, primary=False, verified=True)),
    )

    response = await sign_in_with(browser, standins, "github", address)

    await expect_problem(response, 401, "unauthenticated")
    assert stored(database, person) == NOTHING
    assert stored(database, dataclasses.replace(person, email=verified_elsewhere))["users"] == 0


# --- a second factor ---------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_user_with_mfa_enabled_gets_mfa_required_from_the_callback_and_then_a_session_with_a_code(
    client, browser, standins, address, database, provider
):
    owner = await sign_up(client)
    await verify_address(client, database, owner)
    totp = await enable_mfa(client, owner.auth, address)
    person_at(standins, provider, email=owner.email)

    response = await sign_in_with(browser, standins, provider, address)

    assert response.status_code == 200, await response.get_data()
    challenge = conforms(MfaRequiredOut, await response.get_json())
    assert challenge.mfa_required is True
    [challenged] = await audit(client, owner.auth, "auth.mfa_challenged")
    assert challenged.changes == {"method": provider}
    assert await audit(client, owner.auth, "auth.signed_in") == []
    # The second step is the same as after a password.
    next_step = totp.at(datetime.now(UTC) + timedelta(seconds=30))
    verified = await client.post(
        "/v1/auth/mfa/verify",
        json={"challenge_token": challenge.challenge_token, "code": next_step},
        scope_base=address,
    )
    tokens = await tokens_of(verified)
    assert (tokens["user_id"], tokens["tenant_id"]) == (owner.user_id, owner.tenant_id)


async def test_a_person_who_came_through_google_and_enabled_mfa_is_asked_for_it_next_time(
    client, browser, standins, address
):
    person_at(standins, "google")
    first = await tokens_of(await sign_in_with(browser, standins, "google", address))
    await enable_mfa(client, bearer(first), address)

    response = await sign_in_with(browser, standins, "google", address)

    assert response.status_code == 200, await response.get_data()
    assert conforms(MfaRequiredOut, await response.get_json()).mfa_required is True


# --- what is refused --------------------------------------------------------------------------------


async def test_a_state_that_is_not_the_one_in_the_cookie_is_refused_and_creates_nothing(
    browser, standins, address, database
):
    person = person_at(standins, "google")
    started = await start(browser, "google", address)
    back = await at_the_provider(standins, started)

    wrong = await callback(
        browser, "google", {**back, "state": secrets.token_urlsafe(32)}, started.cookie, address
    )

    await expect_problem(wrong, 401, "unauthenticated")
    assert stored(database, person) == NOTHING
    # Only the state was wrong: the same code with the right state goes through.
    await tokens_of(await callback(browser, "google", back, started.cookie, address))


async def test_another_browsers_code_and_state_are_refused_with_this_browsers_cookie(
    browser, standins, address, database
):
    """Login CSRF: an attacker's own code and state, delivered to a victim's browser."""
    attacker = person_at(standins, "google")
    attackers_attempt = await start(browser, "google", address)
    attackers_answer = await at_the_provider(standins, attackers_attempt)
    victims_attempt = await start(browser, "google", address)

    response = await callback(browser, "google", attackers_answer, victims_attempt.cookie, address)

    await expect_problem(response, 401, "unauthenticated")
    assert stored(database, attacker) == NOTHING


async def test_a_callback_without_the_cookie_is_refused_and_creates_nothing(
    browser, standins, address, database
):
    person = person_at(standins, "github")
    started = await start(browser, "github", address)
    back = await at_the_provider(standins, started)

    response = await callback(browser, "github", back, None, address)

    await expect_problem(response, 401, "unauthenticated")
    assert stored(database, person) == NOTHING
    await tokens_of(await callback(browser, "github", back, started.cookie, address))


async def test_a_cookie_from_a_sign_in_with_another_provider_is_refused(browser, standins, address, database):
    person = person_at(standins, "google")
    started = await start(browser, "google", address)
    back = await at_the_provider(standins, started)

    response = await callback(browser, "github", back, started.cookie, address)

    await expect_problem(response, 401, "unauthenticated")
    assert stored(database, person) == NOTHING
    assert standins.github.requests_to("/login/oauth/access_token") == []
    await tokens_of(await callback(browser, "google", back, started.cookie, address))


OTHER_KEY = "another-signing-key-" + "y" * 32


def with_payload(token: str, claims: dict[str, Any]) -> str:
    """The token with its payload replaced and its original signature kept."""
    header, _, signature = token.split(".")
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{payload}.{signature}"


FORGED_COOKIES = {
    "not a token": lambda cookie, claims: "not-a-sealed-state",
    "signed with another key": lambda cookie, claims: jwt.encode(claims, OTHER_KEY, algorithm="HS256"),
    "changed after signing": with_payload,
    "not signed at all": lambda cookie, claims: jwt.encode(claims, "", algorithm="none"),
}


@pytest.mark.parametrize("forge", FORGED_COOKIES.values(), ids=FORGED_COOKIES.keys())
async def test_a_forged_cookie_is_refused_and_creates_nothing(browser, standins, address, database, forge):
    person = person_at(standins, "google")
    started = await start(browser, "google", address)
    back = await at_the_provider(standins, started)
    # A forger's own state in the cookie and in the query: everything else is the real attempt's,
    # so only the seal stands between the forgery and a session.
    chosen = secrets.token_urlsafe(32)
    claims = jwt.decode(started.cookie, options={"verify_signature": False}) | {"state": chosen}
    forged = forge(started.cookie, claims)

    response = await callback(browser, "google", {**back, "state": chosen}, forged, address)

    await expect_problem(response, 401, "unauthenticated")
    assert stored(database, person) == NOTHING
    # The real cookie and state still work: the code was not used up.
    await tokens_of(await callback(browser, "google", back, started.cookie, address))


async def test_a_code_cannot_be_used_twice(client, browser, standins, address, database):
    person = person_at(standins, "google")
    started = await start(browser, "google", address)
    back = await at_the_provider(standins, started)
    first = await tokens_of(await callback(browser, "google", back, started.cookie, address))

    replayed = await callback(browser, "google", back, started.cookie, address)

    await expect_problem(replayed, 401, "unauthenticated")
    assert stored(database, person) == {"users": 1, "links": 1, "workspaces": 1}
    assert len(await audit(client, bearer(first), "auth.signed_in")) == 1


async def test_a_github_code_cannot_be_used_twice(client, browser, standins, address, database):
    person = person_at(standins, "github")
    started = await start(browser, "github", address)
    back = await at_the_provider(standins, started)
    first = await tokens_of(await callback(browser, "github", back, started.cookie, address))

    replayed = await callback(browser, "github", back, started.cookie, address)

    await expect_problem(replayed, 401, "unauthenticated")
    assert stored(database, person) == {"users": 1, "links": 1, "workspaces": 1}
    assert len(await audit(client, bearer(first), "auth.signed_in")) == 1


async def test_a_sign_in_left_waiting_longer_than_ten_minutes_is_refused(
    container, browser, standins, address, database
):
    person = person_at(standins, "google")
    identity = container.identity()
    container.identity.override(dataclasses.replace(identity, clock=ElevenMinutesAgo()))
    try:
        started = await start(browser, "google", address)
    finally:
        container.identity.reset_last_overriding()
    back = await at_the_provider(standins, started)

    response = await callback(browser, "google", back, started.cookie, address)

    await expect_problem(response, 401, "unauthenticated")
    assert stored(database, person) == NOTHING


class ElevenMinutesAgo:
    def now(self) -> datetime:
        return datetime.now(UTC) - timedelta(minutes=11)


async def test_a_callback_without_a_code_or_a_state_is_a_validation_error(browser, standins, address):
    started = await start(browser, "google", address)

    for query in ({"state": "s"}, {"code": "c"}, {}):
        response = await browser.get(
            "/v1/auth/sign-in/google/callback",
            query_string=query,
            headers={"Cookie": f"{COOKIE}={started.cookie}"},
            scope_base=address,
        )
        await expect_problem(response, 400)


async def test_an_account_made_through_a_provider_has_no_password_to_sign_in_with(
    client, browser, standins, address
):
    person = person_at(standins, "github")
    await tokens_of(await sign_in_with(browser, standins, "github", address))

    response = await client.post(
        "/v1/auth/login", json={"email": person.email, "password": PASSWORD}, scope_base=address
    )

    await expect_problem(response, 401, "unauthenticated")
