"""Attacks on authentication and authorisation: each is refused with the right 4xx problem, and
changes nothing. Bad tokens of every kind, replays, second-factor guessing, mass assignment,
crossing tenants, members reaching for admin powers, revoked keys, credentials in URLs."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pyotp
import pytest

from switchboard.adapters.security.tokens import JwtAccessTokens
from switchboard.core.identity.model import Principal
from switchboard.core.tenancy.model import Role
from tests.conftest import TEST_SIGNING_KEY
from tests.e2e.admin_helpers import (
    PlatformAdmin,
    add_member,
    audit_entries,
    bearer,
    claims_of,
    create_key,
    mailed_token,
    new_address,
    platform_admin,
)
from tests.e2e.helpers import (
    PASSWORD,
    SignedUp,
    create_customer,
    error_fields,
    expect_problem,
    list_all,
    refresh,
    sign_up,
    tokens_of,
    unique_email,
)


@pytest.fixture(scope="module")
async def admin(client, database, test_hasher) -> PlatformAdmin:
    return await platform_admin(client, database, test_hasher)


async def _customer_names(client, who: SignedUp) -> list[str]:
    return [customer["name"] for customer in await list_all(client, who)]


async def _refused(response: Any, status: int = 401, code: str | None = "unauthenticated") -> dict[str, Any]:
    return await expect_problem(response, status, code)


# --- bad access tokens ------------------------------------------------------------------------


async def test_an_expired_access_token_is_refused_and_changes_nothing(client):
    owner = await sign_up(client)
    claims = claims_of(owner.access_token)
    principal = Principal(
        uuid.UUID(owner.user_id), uuid.UUID(owner.tenant_id), Role.OWNER, session_id=uuid.UUID(claims["sid"])
    )
    expired = JwtAccessTokens(TEST_SIGNING_KEY).issue(principal, datetime.now(UTC) - timedelta(hours=1))

    response = await client.post("/v1/customers", json={"name": "Late"}, headers=bearer(expired))

    problem = await _refused(response)
    assert "expired" in problem["detail"]
    assert await _customer_names(client, owner) == []


async def test_a_tampered_access_token_claiming_a_higher_role_is_refused(client, database):
    owner = await sign_up(client)
    member = await add_member(client, database, owner)
    header, _, signature = member.access_token.split(".")
    claims = claims_of(member.access_token) | {"role": "owner"}  # the member's claims, promoted
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    forged = f"{header}.{payload}.{signature}"  # the member's own signature kept

    response = await client.patch(
        f"/v1/team/members/{member.user_id}", json={"role": "owner"}, headers=bearer(forged)
    )

    await _refused(response)
    members = await (await client.get("/v1/team/members", headers=owner.auth)).get_json()
    assert {m["user_id"]: m["role"] for m in members["data"]}[member.user_id] == "member"


async def test_a_demoted_admins_token_loses_its_powers_on_the_next_request(client, database):
    owner = await sign_up(client)
    admin_member = await add_member(client, database, owner, role="admin")
    assert (await client.get("/v1/api-keys", headers=admin_member.auth)).status_code == 200

    await client.patch(
        f"/v1/team/members/{admin_member.user_id}", json={"role": "member"}, headers=owner.auth
    )
    response = await client.post(
        "/v1/api-keys", json={"name": "k", "scopes": {"customers": "write"}}, headers=admin_member.auth
    )

    await _refused(response, 403, "forbidden")
    assert (await (await client.get("/v1/api-keys", headers=owner.auth)).get_json())["data"] == []


async def test_a_removed_members_token_is_refused_on_the_next_request(client, database):
    owner = await sign_up(client)
    member = await add_member(client, database, owner)

    await client.delete(f"/v1/team/members/{member.user_id}", headers=owner.auth)
    response = await client.post("/v1/customers", json={"name": "Ghost"}, headers=member.auth)

    await _refused(response)
    assert await _customer_names(client, owner) == []


# --- refresh tokens ---------------------------------------------------------------------------


async def test_a_replayed_refresh_token_is_refused_and_revokes_its_whole_family(client):
    owner = await sign_up(client)
    rotated = await tokens_of(await refresh(client, owner.refresh_token))

    replayed = await refresh(client, owner.refresh_token)

    await _refused(replayed)
    await _refused(await refresh(client, rotated["refresh_token"]))
    await _refused(await client.get("/v1/me", headers=bearer(rotated["access_token"])))
    await _refused(await client.get("/v1/me", headers=owner.auth))
    entries = await audit_entries(
        client, bearer((await tokens_of(await _login(client, owner.email)))["access_token"])
    )
    assert "auth.refresh_token_reused" in {e["action"] for e in entries}


async def _login(client, email: str, password: str = PASSWORD, address: dict[str, Any] | None = None) -> Any:
    return await client.post(
        "/v1/auth/login", json={"email": email, "password": password}, scope_base=address or new_address()
    )


# --- tokens of the wrong type -----------------------------------------------------------------


async def test_a_refresh_token_is_not_a_bearer_token(client):
    owner = await sign_up(client)

    await _refused(await client.get("/v1/me", headers=bearer(owner.refresh_token)))
    await _refused(
        await client.post("/v1/customers", json={"name": "X"}, headers=bearer(owner.refresh_token))
    )
    assert await _customer_names(client, owner) == []
    await tokens_of(await refresh(client, owner.refresh_token))  # and it was not spent


async def test_an_access_token_is_not_a_refresh_token(client):
    owner = await sign_up(client)

    await _refused(await refresh(client, owner.access_token[:200]))
    whole = await refresh(client, owner.access_token)
    assert whole.status_code in (400, 401)
    await expect_problem(whole, whole.status_code)
    logout = await client.post("/v1/auth/logout", json={"refresh_token": owner.access_token[:200]})

    assert logout.status_code == 204
    assert (await client.get("/v1/me", headers=owner.auth)).status_code == 200


async def test_a_platform_admin_token_is_not_a_user_token(client, admin):
    owner = await sign_up(client)

    await _refused(await client.get("/v1/me", headers=admin.auth))
    await _refused(await client.post("/v1/customers", json={"name": "X"}, headers=admin.auth))
    await _refused(await client.get(f"/v1/customers?tenant_id={owner.tenant_id}", headers=admin.auth))
    assert await _customer_names(client, owner) == []


async def test_an_api_key_is_not_a_refresh_token(client):
    owner = await sign_up(client)
    key = await create_key(client, owner, {"customers": "write"})

    await _refused(await refresh(client, key["secret"]))


# --- the second factor ------------------------------------------------------------------------


async def _enable_mfa(client, who: SignedUp) -> str:
    started = await client.post("/v1/auth/mfa/totp", headers=who.auth)
    assert started.status_code == 201, await started.get_data()
    secret: str = (await started.get_json())["secret"]
    confirmed = await client.post(
        "/v1/auth/mfa/totp/confirm",
        json={"code": pyotp.TOTP(secret).now()},
        headers=who.auth,
        scope_base=new_address(),
    )
    assert confirmed.status_code == 200, await confirmed.get_data()
    return secret


async def _challenge(client, email: str, address: dict[str, Any]) -> str:
    response = await _login(client, email, address=address)
    assert response.status_code == 200, await response.get_data()
    body = await response.get_json()
    assert body["mfa_required"] is True
    token: str = body["challenge_token"]
    return token


def _wrong_code(secret: str) -> str:
    totp, now = pyotp.TOTP(secret), datetime.now(UTC)
    valid = {totp.at(now + timedelta(seconds=30 * offset)) for offset in range(-2, 3)}
    return next(code for code in (f"{n:06d}" for n in range(1_000_000)) if code not in valid)


async def test_an_mfa_challenge_token_is_not_a_bearer_token(client):
    owner = await sign_up(client)
    await _enable_mfa(client, owner)
    challenge = await _challenge(client, owner.email, new_address())

    await _refused(await client.get("/v1/me", headers=bearer(challenge)))
    await _refused(await client.get("/v1/customers", headers=bearer(challenge)))
    await _refused(await refresh(client, challenge[:200]))


async def test_an_access_token_is_not_an_mfa_challenge(client):
    owner = await sign_up(client)
    secret = await _enable_mfa(client, owner)

    response = await client.post(
        "/v1/auth/mfa/verify",
        json={"challenge_token": owner.access_token, "code": pyotp.TOTP(secret).now()},
        scope_base=new_address(),
    )

    await _refused(response)


async def test_a_totp_code_is_accepted_once(client):
    owner = await sign_up(client)
    secret = await _enable_mfa(client, owner)
    address = new_address()
    code = pyotp.TOTP(secret).at(datetime.now(UTC) + timedelta(seconds=30))  # a later step than enrolment's

    first = await client.post(
        "/v1/auth/mfa/verify",
        json={"challenge_token": await _challenge(client, owner.email, address), "code": code},
        scope_base=address,
    )
    replayed = await client.post(
        "/v1/auth/mfa/verify",
        json={"challenge_token": await _challenge(client, owner.email, address), "code": code},
        scope_base=address,
    )

    await tokens_of(first)
    await _refused(replayed)


async def test_guessing_totp_codes_is_stopped_with_429_and_then_even_the_right_code_waits(client):
    owner = await sign_up(client)
    secret = await _enable_mfa(client, owner)
    address = new_address()
    challenge = await _challenge(client, owner.email, address)
    wrong = _wrong_code(secret)

    guesses = [
        await client.post(
            "/v1/auth/mfa/verify", json={"challenge_token": challenge, "code": wrong}, scope_base=address
        )
        for _ in range(5)
    ]
    blocked = await client.post(
        "/v1/auth/mfa/verify", json={"challenge_token": challenge, "code": wrong}, scope_base=address
    )
    right = await client.post(
        "/v1/auth/mfa/verify",
        json={
            "challenge_token": challenge,
            "code": pyotp.TOTP(secret).at(datetime.now(UTC) + timedelta(seconds=30)),
        },
        scope_base=address,
    )

    for guess in guesses:
        await _refused(guess)
    for response in (blocked, right):
        await expect_problem(response, 429, "too_many_attempts")
        assert int(response.headers["Retry-After"]) > 0
        assert response.headers["RateLimit-Remaining"] == "0"


# --- mass assignment --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra", [{"role": "admin"}, {"role": "owner"}, {"tenant_id": str(uuid.uuid4())}, {"plan": "enterprise"}]
)
async def test_register_refuses_role_tenant_and_plan(client, extra):
    email = unique_email()

    response = await client.post(
        "/v1/auth/register",
        json={"tenant_name": "T", "name": "N", "email": email, "password": PASSWORD} | extra,
    )

    problem = await expect_problem(response, 400, "validation_error")
    assert set(extra) <= error_fields(problem)
    await _refused(await _login(client, email))


async def test_team_bodies_refuse_a_tenant_and_an_invitation_acceptance_refuses_a_role(client, database):
    owner = await sign_up(client)
    member = await add_member(client, database, owner)
    other = await sign_up(client)
    email = unique_email("invitee")

    invite = await client.post(
        "/v1/team/invitations",
        json={"email": email, "role": "member", "tenant_id": other.tenant_id},
        headers=owner.auth,
    )
    patch = await client.patch(
        f"/v1/team/members/{member.user_id}",
        json={"role": "admin", "tenant_id": other.tenant_id},
        headers=owner.auth,
    )
    await client.post("/v1/team/invitations", json={"email": email, "role": "member"}, headers=owner.auth)
    accept = await client.post(
        "/v1/auth/invitations/accept",
        json={"token": mailed_token(database, email), "name": "Eve", "password": PASSWORD, "role": "owner"},
        scope_base=new_address(),
    )

    for response, field in ((invite, "tenant_id"), (patch, "tenant_id"), (accept, "role")):
        assert field in error_fields(await expect_problem(response, 400, "validation_error"))
    members = await (await client.get("/v1/team/members", headers=owner.auth)).get_json()
    assert {m["email"]: m["role"] for m in members["data"]} == {owner.email: "owner", member.email: "member"}
    others = await (await client.get("/v1/team/members", headers=other.auth)).get_json()
    assert [m["user_id"] for m in others["data"]] == [other.user_id]


@pytest.mark.parametrize("extra", [{"tenant_id": "OTHER"}, {"role": "owner"}, {"created_by": "OTHER"}])
async def test_an_api_key_body_refuses_tenant_role_and_creator(client, extra):
    owner = await sign_up(client)
    other = await sign_up(client)
    body = {k: (other.tenant_id if v == "OTHER" else v) for k, v in extra.items()}

    response = await client.post(
        "/v1/api-keys", json={"name": "k", "scopes": {"customers": "write"}} | body, headers=owner.auth
    )

    assert set(extra) <= error_fields(await expect_problem(response, 400, "validation_error"))
    assert (await (await client.get("/v1/api-keys", headers=owner.auth)).get_json())["data"] == []
    assert (await (await client.get("/v1/api-keys", headers=other.auth)).get_json())["data"] == []


# --- crossing tenants -------------------------------------------------------------------------


async def _state(client, who: SignedUp) -> tuple[Any, ...]:
    members = await (await client.get("/v1/team/members", headers=who.auth)).get_json()
    invitations = await (await client.get("/v1/team/invitations", headers=who.auth)).get_json()
    keys = await (await client.get("/v1/api-keys", headers=who.auth)).get_json()
    return (
        sorted((m["user_id"], m["role"]) for m in members["data"]),
        sorted((i["id"], i["expires_at"]) for i in invitations["data"]),
        sorted((k["id"], k["revoked_at"]) for k in keys["data"]),
        [(c["id"], c["name"], c["updated_at"]) for c in await list_all(client, who)],
        [e["id"] for e in await audit_entries(client, who)],
    )


async def test_managers_of_one_tenant_cannot_touch_another_tenants_people_keys_or_customers(client, database):
    owner_a = await sign_up(client)
    admin_a = await add_member(client, database, owner_a, role="admin")
    owner_b = await sign_up(client)
    member_b = await add_member(client, database, owner_b)
    invited = await client.post(
        "/v1/team/invitations", json={"email": unique_email("b"), "role": "member"}, headers=owner_b.auth
    )
    invitation_b = (await invited.get_json())["id"]
    key_b = await create_key(client, owner_b, {"customers": "read"})
    customer_b = await create_customer(client, owner_b)
    before = await _state(client, owner_b)

    attempts = [
        ("PATCH", f"/v1/team/members/{member_b.user_id}", {"role": "admin"}),
        ("PATCH", f"/v1/team/members/{owner_b.user_id}", {"role": "member"}),
        ("DELETE", f"/v1/team/members/{member_b.user_id}", None),
        ("POST", f"/v1/team/invitations/{invitation_b}/resend", None),
        ("DELETE", f"/v1/team/invitations/{invitation_b}", None),
        ("GET", f"/v1/api-keys/{key_b['id']}", None),
        ("DELETE", f"/v1/api-keys/{key_b['id']}", None),
        ("GET", f"/v1/customers/{customer_b['id']}", None),
        ("PATCH", f"/v1/customers/{customer_b['id']}", {"name": "Hijacked"}),
        ("DELETE", f"/v1/customers/{customer_b['id']}", None),
    ]
    for method, path, body in attempts:
        options: dict[str, Any] = {"json": body} if body is not None else {}
        response = await client.open(path, method=method, headers=admin_a.auth, **options)
        await expect_problem(response, 404, "not_found")
    transfer = await client.post(
        "/v1/team/transfer-ownership", json={"user_id": member_b.user_id}, headers=owner_a.auth
    )
    await expect_problem(transfer, 404, "not_found")

    assert await _state(client, owner_b) == before
    assert (await client.get("/v1/customers", headers=bearer(key_b["secret"]))).status_code == 200


async def test_an_api_key_of_one_tenant_cannot_touch_another_tenants_customers(client):
    owner_a = await sign_up(client)
    owner_b = await sign_up(client)
    key_a = await create_key(client, owner_a, {"customers": "write"})
    customer_b = await create_customer(client, owner_b, name="Theirs")

    for method, body in (("GET", None), ("PATCH", {"name": "Mine Now"}), ("DELETE", None)):
        options: dict[str, Any] = {"json": body} if body is not None else {}
        response = await client.open(
            f"/v1/customers/{customer_b['id']}", method=method, headers=bearer(key_a["secret"]), **options
        )
        await expect_problem(response, 404, "not_found")

    assert await _customer_names(client, owner_b) == ["Theirs"]


# --- members reaching for admin powers --------------------------------------------------------


async def test_a_member_cannot_use_the_admin_routes(client, database):
    owner = await sign_up(client)
    member = await add_member(client, database, owner)
    colleague = await add_member(client, database, owner)
    invited = await client.post(
        "/v1/team/invitations", json={"email": unique_email("p"), "role": "member"}, headers=owner.auth
    )
    invitation = (await invited.get_json())["id"]
    key = await create_key(client, owner, {"customers": "read"})
    before = await _state(client, owner)

    attempts = [
        ("PATCH", f"/v1/team/members/{member.user_id}", {"role": "admin"}),
        ("PATCH", f"/v1/team/members/{colleague.user_id}", {"role": "admin"}),
        ("DELETE", f"/v1/team/members/{colleague.user_id}", None),
        ("POST", "/v1/team/transfer-ownership", {"user_id": member.user_id}),
        ("POST", "/v1/team/invitations", {"email": unique_email("m"), "role": "admin"}),
        ("POST", f"/v1/team/invitations/{invitation}/resend", None),
        ("DELETE", f"/v1/team/invitations/{invitation}", None),
        ("GET", "/v1/api-keys", None),
        ("POST", "/v1/api-keys", {"name": "mine", "scopes": {"customers": "write"}}),
        ("DELETE", f"/v1/api-keys/{key['id']}", None),
        ("GET", "/v1/audit-logs", None),
        ("GET", "/v1/audit-logs/export", None),
        ("GET", "/v1/integrations", None),
        (
            "POST",
            "/v1/integrations",
            {"provider": "fake_email", "config": {"api_key": "sk_test_" + "x" * 20}},
        ),
        ("GET", "/v1/webhook-endpoints", None),
        (
            "POST",
            "/v1/webhook-endpoints",
            {"url": "https://hooks.example.com/x", "event_types": ["customer.created"]},
        ),
        ("PATCH", "/v1/tenant", {"name": "Taken Over"}),
    ]
    for method, path, body in attempts:
        options: dict[str, Any] = {"json": body} if body is not None else {}
        response = await client.open(path, method=method, headers=member.auth, **options)
        await expect_problem(response, 403, "forbidden")

    assert await _state(client, owner) == before
    tenant = await (await client.get("/v1/tenant", headers=owner.auth)).get_json()
    assert tenant["name"] != "Taken Over"


# --- revoked keys and credentials in URLs -----------------------------------------------------


async def test_a_revoked_key_is_refused_and_writes_nothing(client):
    owner = await sign_up(client)
    key = await create_key(client, owner, {"customers": "write"})
    await client.delete(f"/v1/api-keys/{key['id']}", headers=owner.auth)

    response = await client.post("/v1/customers", json={"name": "After"}, headers=bearer(key["secret"]))

    await _refused(response)
    assert await _customer_names(client, owner) == []


@pytest.mark.parametrize("parameter", ["access_token", "api_key", "token"])
async def test_a_credential_in_the_query_string_is_refused_with_400_and_not_accepted(client, parameter):
    owner = await sign_up(client)
    key = await create_key(client, owner, {"customers": "write"})
    credential = key["secret"] if parameter == "api_key" else owner.access_token

    alone = await client.post("/v1/customers", query_string={parameter: credential}, json={"name": "Via URL"})
    beside_a_header = await client.post(
        "/v1/customers", query_string={parameter: credential}, json={"name": "Via URL"}, headers=owner.auth
    )
    read = await client.get("/v1/customers", query_string={parameter: credential})

    for response in (alone, beside_a_header, read):
        await expect_problem(response, 400, "credential_in_query")
    assert await _customer_names(client, owner) == []


async def test_a_refresh_token_in_the_query_string_is_refused_with_400(client):
    owner = await sign_up(client)

    response = await client.post(
        "/v1/auth/refresh", query_string={"refresh_token": owner.refresh_token}, json={"refresh_token": "x"}
    )

    await expect_problem(response, 400, "credential_in_query")
    await tokens_of(await refresh(client, owner.refresh_token))  # not spent


# --- no 500 anywhere --------------------------------------------------------------------------

GARBAGE_BEARERS = [
    "sbk_",
    "sbk_" + "A" * 300,
    "sbk_ü∂ƒ",
    "a.b.c",
    "....",
    "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    "x" * 5000,
    "null",
]


@pytest.mark.parametrize("token", GARBAGE_BEARERS)
async def test_garbage_bearers_are_refused_with_401_everywhere(client, token):
    for method, path in (
        ("GET", "/v1/me"),
        ("GET", "/v1/customers"),
        ("GET", "/v1/api-keys"),
        ("GET", "/v1/audit-logs"),
        ("GET", "/v1/team/members"),
        ("GET", "/v1/auth/sessions"),
        ("GET", "/v1/admin/tenants"),
    ):
        response = await client.open(path, method=method, headers=bearer(token))
        await expect_problem(response, 401, "unauthenticated")


def _signed(claims: dict[str, Any], audience: str = "switchboard-api") -> str:
    now = datetime.now(UTC)
    base = {"iss": "switchboard", "aud": audience, "iat": now, "exp": now + timedelta(minutes=5)}
    return jwt.encode(base | claims, TEST_SIGNING_KEY, algorithm="HS256")


NONSENSE_CLAIMS = [
    {"sub": "not-a-uuid"},
    {"tid": "not-a-uuid"},
    {"tid": 42},
    {"role": "superuser"},
    {"sid": None},
    {"act": "admin"},
    {"act": {}},
    {"act": {"sub": "nobody"}},
    {"act": {"sub": 7}},
    {"sid": str(uuid.uuid4())},
    {"tid": str(uuid.uuid4())},
    {"typ": "refresh"},
]


@pytest.mark.parametrize("change", NONSENSE_CLAIMS, ids=[str(c) for c in NONSENSE_CLAIMS])
async def test_well_signed_user_tokens_with_nonsense_claims_are_refused_with_401_not_500(client, change):
    owner = await sign_up(client)
    real = claims_of(owner.access_token)
    claims = {k: real[k] for k in ("sub", "tid", "role", "sid", "typ")} | change

    await _refused(await client.get("/v1/me", headers=bearer(_signed(claims))))


async def test_well_signed_admin_and_challenge_tokens_with_nonsense_claims_are_refused_with_401(client):
    for claims in ({"sub": "nope", "typ": "admin"}, {"sub": str(uuid.uuid4()), "typ": "access"}):
        await _refused(
            await client.get("/v1/admin/tenants", headers=bearer(_signed(claims, "switchboard-admin")))
        )
    challenge = _signed({"sub": "x", "tid": "y", "typ": "mfa_challenge"}, "switchboard-mfa")
    await _refused(
        await client.post(
            "/v1/auth/mfa/verify",
            json={"challenge_token": challenge, "code": "123456"},
            scope_base=new_address(),
        )
    )


HOSTILE_TENANT_REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/v1/api-keys", {"json": {"name": "k\x00", "scopes": {"customers": "read"}}}),
    ("POST", "/v1/api-keys", {"json": {"name": "k", "scopes": {"customers\x00": "read"}}}),
    (
        "POST",
        "/v1/api-keys",
        {
            "json": {
                "name": "k",
                "scopes": {"customers": "read"},
                "allowed_origins": ["https://a\x00b.example.com"],
            }
        },
    ),
    ("POST", "/v1/api-keys", {"json": {"name": "k", "scopes": {"customers": {"nested": "read"}}}}),
    (
        "POST",
        "/v1/api-keys",
        {"json": {"name": "k", "scopes": {"customers": "read"}, "expires_at": "10000-01-01T00:00:00Z"}},
    ),
    (
        "POST",
        "/v1/api-keys",
        {"json": {"name": "k", "scopes": {"customers": "read"}, "allowed_origins": ["https://[::1"]}},
    ),
    ("POST", "/v1/api-keys", {"json": {"name": "k" * 10_000, "scopes": {"customers": "read"}}}),
    ("POST", "/v1/api-keys", {"json": ["not", "an", "object"]}),
    ("GET", "/v1/api-keys/not-a-uuid", {}),
    ("GET", "/v1/audit-logs", {"query_string": {"action": "x\x00y"}}),
    ("GET", "/v1/audit-logs", {"query_string": {"target_type": "\x00"}}),
    ("GET", "/v1/audit-logs", {"query_string": {"target_id": "\x00"}}),
    ("GET", "/v1/audit-logs", {"query_string": {"occurred_after": "9999-99-99T00:00:00Z"}}),
    ("GET", "/v1/audit-logs", {"query_string": {"cursor": "WyJ4IiwgInkiXQ"}}),
    ("GET", "/v1/audit-logs/export", {"query_string": {"action": "\x00"}}),
    ("PATCH", "/v1/team/members/{user_id}", {"json": {"role": "god"}}),
    ("POST", "/v1/team/invitations", {"json": {"email": "a\x00@example.com", "role": "member"}}),
]


HOSTILE_IDS = [
    "nul-in-key-name",
    "nul-in-scope-family",
    "nul-in-allowed-origin",
    "nested-scope",
    "year-10000-expiry",
    "broken-ipv6-origin",
    "huge-key-name",
    "array-body",
    "key-id-not-a-uuid",
    "nul-in-action-filter",
    "nul-in-target-type-filter",
    "nul-in-target-id-filter",
    "impossible-date-filter",
    "forged-cursor",
    "nul-in-export-filter",
    "unknown-role",
    "nul-in-invitation-email",
]


@pytest.mark.parametrize(("method", "path", "options"), HOSTILE_TENANT_REQUESTS, ids=HOSTILE_IDS)
async def test_hostile_values_in_key_team_and_audit_requests_are_4xx_not_500(client, method, path, options):
    owner = await sign_up(client)

    response = await client.open(
        path.format(user_id=owner.user_id), method=method, headers=owner.auth, **options
    )

    assert 400 <= response.status_code < 500, response.status_code
    await expect_problem(response, response.status_code)
    assert (await (await client.get("/v1/api-keys", headers=owner.auth)).get_json())["data"] == []


async def test_hostile_values_in_admin_requests_are_4xx_not_500(client, admin):
    owner = await sign_up(client)

    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/v1/admin/tenants", {"query_string": {"status": "\x00"}}),
        ("GET", "/v1/admin/tenants", {"query_string": {"cursor": "WyJ4IiwgInkiXQ"}}),
        ("POST", "/v1/admin/tenants/not-a-uuid/suspend", {}),
        ("POST", f"/v1/admin/tenants/{owner.tenant_id}/impersonate", {"json": {"user_id": "x"}}),
        ("POST", f"/v1/admin/tenants/{owner.tenant_id}/impersonate", {"json": {}}),
        ("POST", "/v1/admin/auth/login", {"json": {"email": "\x00", "password": "\x00"}}),
    ]
    for method, path, options in requests:
        response = await client.open(path, method=method, headers=admin.auth, **options)
        assert 400 <= response.status_code < 500, (path, options, response.status_code)
        await expect_problem(response, response.status_code)


async def test_hostile_sign_in_and_token_bodies_are_4xx_not_500(client):
    address = new_address()
    requests: list[tuple[str, dict[str, Any]]] = [
        ("/v1/auth/refresh", {"refresh_token": "\x00"}),
        ("/v1/auth/logout", {"refresh_token": "\x00" * 10}),
        ("/v1/auth/mfa/verify", {"challenge_token": "\x00", "code": "\x00"}),
        ("/v1/auth/invitations/accept", {"token": "\x00", "name": "x", "password": PASSWORD}),
        ("/v1/auth/password/reset", {"token": "\x00", "password": PASSWORD}),
        ("/v1/auth/email/verify", {"token": "\x00"}),
        ("/v1/auth/unlock", {"token": "\x00"}),
        ("/v1/auth/login", {"email": "a@example.com", "password": "x", "tenant_id": "\x00"}),
    ]
    for path, body in requests:
        response = await client.post(path, json=body, scope_base=address)
        if path == "/v1/auth/logout":
            assert response.status_code == 204
            continue
        assert 400 <= response.status_code < 500, (path, body, response.status_code)
        await expect_problem(response, response.status_code)
