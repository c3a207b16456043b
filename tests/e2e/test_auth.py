"""Sign-up, sign-in, refresh-token rotation, sign-out, /v1/me and /v1/tenant, and access tokens."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from jwt.warnings import InsecureKeyLengthWarning

from switchboard.adapters.security.tokens import JwtAccessTokens
from switchboard.core.identity.model import Principal
from switchboard.core.tenancy.model import Role
from switchboard.entrypoints.http.blueprints.auth import RegisteredOut
from switchboard.entrypoints.http.blueprints.schemas import MeOut, TenantOut, UserOut
from tests.conftest import TEST_SIGNING_KEY
from tests.e2e.helpers import (
    PASSWORD,
    SignedUp,
    conforms,
    create_customer,
    error_fields,
    expect_problem,
    list_all,
    login,
    refresh,
    register,
    sign_up,
    tokens_of,
    unique_email,
)

# --- sign-up -----------------------------------------------------------------------------------


async def test_register_answers_201_with_the_tenant_the_user_and_a_token_pair(client):
    email = unique_email()

    response = await register(client, email=email, tenant_name="  Acme   Plumbing ", name="Ada Owner")

    assert response.status_code == 201
    body = await response.get_json()
    conforms(RegisteredOut, body)
    conforms(TenantOut, body["tenant"])
    conforms(UserOut, body["user"])
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["tenant"]["id"] == body["tenant_id"]
    assert body["user"]["id"] == body["user_id"]
    assert body["user"]["email"] == email
    assert body["tenant"]["name"] == "Acme Plumbing"
    assert body["access_token"] != body["refresh_token"]
    assert body["tenant"]["created_at"].endswith("Z")
    assert response.headers["Location"] == "/v1/tenant"
    assert "password" not in json.dumps(body)
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200


async def test_register_with_an_email_already_taken_answers_409_email_taken(client):
    email = unique_email()
    assert (await register(client, email=email)).status_code == 201

    again = await register(client, email=email.upper())

    await expect_problem(again, 409, "email_taken")


async def test_register_with_a_password_shorter_than_12_characters_answers_400_on_the_password_field(
    client,
):
    response = await register(client, password="elevenchars")

    problem = await expect_problem(response, 400, "validation_error")
    assert "password" in error_fields(problem)


async def test_a_password_rejected_at_sign_up_leaves_no_account_behind(client):
    email = unique_email()
    await expect_problem(await register(client, email=email, password="short"), 400)

    await expect_problem(await login(client, email, "short"), 401)
    assert (await register(client, email=email)).status_code == 201


@pytest.mark.parametrize("field", ["role", "tenant_id", "id", "created_at"])
async def test_register_refuses_fields_a_client_may_not_set(client, field):
    email = unique_email()
    response = await client.post(
        "/v1/auth/register",
        json={"tenant_name": "T", "name": "N", "email": email, "password": PASSWORD, field: "x"},
    )

    problem = await expect_problem(response, 400, "validation_error")
    assert field in error_fields(problem)
    await expect_problem(await login(client, email), 401)


# --- sign-in -----------------------------------------------------------------------------------


async def test_login_with_the_right_password_answers_a_token_pair_for_the_users_tenant(client):
    owner = await sign_up(client)

    body = await tokens_of(await login(client, owner.email.upper()))

    assert body["tenant_id"] == owner.tenant_id
    assert body["user_id"] == owner.user_id
    assert body["refresh_token"] != owner.refresh_token
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert (await me.get_json())["user"]["id"] == owner.user_id


async def test_login_into_the_users_own_tenant_by_id_works(client):
    owner = await sign_up(client)

    body = await tokens_of(await login(client, owner.email, tenant_id=owner.tenant_id))

    assert body["tenant_id"] == owner.tenant_id


async def _failure_bytes(response: Any) -> bytes:
    """The raw problem body with the parts that differ per request blanked out."""
    problem = await expect_problem(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    raw = await response.get_data()
    return raw.replace(problem["request_id"].encode(), b"<request-id>")


async def test_a_wrong_password_and_an_unknown_email_get_byte_identical_answers(client):
    owner = await sign_up(client)

    wrong_password = await _failure_bytes(await login(client, owner.email, "not the password at all"))
    unknown_email = await _failure_bytes(await login(client, unique_email("nobody"), PASSWORD))
    malformed_email = await _failure_bytes(await login(client, "not-an-email", PASSWORD))

    assert wrong_password == unknown_email == malformed_email


async def test_login_into_a_tenant_the_user_is_not_in_gets_the_same_answer_as_a_wrong_password(client):
    owner = await sign_up(client)
    stranger = await sign_up(client, tenant_name="Someone Else")

    wrong_password = await _failure_bytes(await login(client, owner.email, "not the password at all"))
    foreign = await _failure_bytes(await login(client, owner.email, tenant_id=stranger.tenant_id))
    nonexistent = await _failure_bytes(await login(client, owner.email, tenant_id=str(uuid.uuid4())))

    assert foreign == wrong_password == nonexistent


# --- refresh tokens ----------------------------------------------------------------------------


async def test_refresh_rotates_the_refresh_token_and_the_old_one_then_fails(client):
    owner = await sign_up(client)

    rotated = await tokens_of(await refresh(client, owner.refresh_token))

    assert rotated["refresh_token"] != owner.refresh_token
    assert rotated["tenant_id"] == owner.tenant_id
    assert rotated["user_id"] == owner.user_id
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {rotated['access_token']}"})
    assert me.status_code == 200
    await expect_problem(await refresh(client, owner.refresh_token), 401, "unauthenticated")


async def test_reusing_a_used_refresh_token_revokes_the_whole_family(client):
    owner = await sign_up(client)
    second = await tokens_of(await refresh(client, owner.refresh_token))
    newest = await tokens_of(await refresh(client, second["refresh_token"]))

    await expect_problem(await refresh(client, owner.refresh_token), 401, "unauthenticated")

    await expect_problem(await refresh(client, newest["refresh_token"]), 401, "unauthenticated")


async def test_revoking_one_family_leaves_other_sessions_of_the_user_alone(client):
    owner = await sign_up(client)
    other_session = await tokens_of(await login(client, owner.email))
    await tokens_of(await refresh(client, owner.refresh_token))

    await expect_problem(await refresh(client, owner.refresh_token), 401)

    await tokens_of(await refresh(client, other_session["refresh_token"]))


async def test_logout_makes_the_refresh_token_fail(client):
    owner = await sign_up(client)

    response = await client.post("/v1/auth/logout", json={"refresh_token": owner.refresh_token})

    assert response.status_code == 204
    assert await response.get_data() == b""
    await expect_problem(await refresh(client, owner.refresh_token), 401, "unauthenticated")


async def test_logout_of_an_unknown_refresh_token_answers_204(client):
    response = await client.post("/v1/auth/logout", json={"refresh_token": "sbr_never-issued"})

    assert response.status_code == 204


async def test_an_unknown_refresh_token_is_refused(client):
    await expect_problem(await refresh(client, "sbr_never-issued"), 401, "unauthenticated")


# --- /v1/me and /v1/tenant ---------------------------------------------------------------------


async def test_me_returns_the_user_the_tenant_and_the_owner_role(client):
    owner = await sign_up(client, tenant_name="Me Test Co")

    response = await client.get("/v1/me", headers=owner.auth)

    assert response.status_code == 200
    body = await response.get_json()
    conforms(MeOut, body)
    conforms(UserOut, body["user"])
    conforms(TenantOut, body["tenant"])
    assert body["role"] == "owner"
    assert body["user"]["id"] == owner.user_id
    assert body["user"]["email"] == owner.email
    assert body["tenant"]["id"] == owner.tenant_id
    assert body["tenant"]["name"] == "Me Test Co"


async def _tenant(client, who: SignedUp) -> tuple[dict[str, Any], str]:
    response = await client.get("/v1/tenant", headers=who.auth)
    assert response.status_code == 200
    body = await response.get_json()
    conforms(TenantOut, body)
    return body, response.headers["ETag"]


async def _rename(client, who: SignedUp, name: str, if_match: str | None = None) -> Any:
    headers = who.auth | ({"If-Match": if_match} if if_match is not None else {})
    return await client.patch("/v1/tenant", json={"name": name}, headers=headers)


async def test_get_tenant_answers_the_tenant_with_an_etag(client):
    owner = await sign_up(client, tenant_name="Etag Co")

    body, etag = await _tenant(client, owner)

    assert body["id"] == owner.tenant_id
    assert body["name"] == "Etag Co"
    assert etag == '"1"'


async def test_renaming_the_tenant_with_the_current_etag_changes_the_name_and_the_etag(client):
    owner = await sign_up(client)
    _, etag = await _tenant(client, owner)

    response = await _rename(client, owner, "Renamed Co", etag)

    assert response.status_code == 200
    body = await response.get_json()
    conforms(TenantOut, body)
    assert body["name"] == "Renamed Co"
    assert response.headers["ETag"] != etag
    after, after_etag = await _tenant(client, owner)
    assert after["name"] == "Renamed Co"
    assert after_etag == response.headers["ETag"]
    assert datetime.fromisoformat(after["updated_at"]) > datetime.fromisoformat(after["created_at"])


async def test_renaming_the_tenant_with_a_stale_etag_answers_412_and_changes_nothing(client):
    owner = await sign_up(client, tenant_name="Original Co")
    _, stale = await _tenant(client, owner)
    assert (await _rename(client, owner, "First Rename", stale)).status_code == 200
    before, before_etag = await _tenant(client, owner)

    response = await _rename(client, owner, "Lost Update", stale)

    await expect_problem(response, 412, "precondition_failed")
    after, after_etag = await _tenant(client, owner)
    assert after == before
    assert after_etag == before_etag


@pytest.mark.parametrize("header", ['W/"1"', "1", '"999"', "garbage"])
async def test_renaming_the_tenant_with_an_if_match_that_is_not_the_current_strong_etag_answers_412(
    client, header
):
    owner = await sign_up(client, tenant_name="Kept Name")

    await expect_problem(await _rename(client, owner, "Changed", header), 412, "precondition_failed")

    assert (await _tenant(client, owner))[0]["name"] == "Kept Name"


async def test_renaming_the_tenant_with_if_match_star_works(client):
    owner = await sign_up(client)

    response = await _rename(client, owner, "Star Co", "*")

    assert response.status_code == 200
    assert (await _tenant(client, owner))[0]["name"] == "Star Co"


async def test_renaming_the_tenant_without_if_match_works(client):
    owner = await sign_up(client)

    response = await _rename(client, owner, "No Precondition Co")

    assert response.status_code == 200
    assert (await _tenant(client, owner))[0]["name"] == "No Precondition Co"


async def test_renaming_the_tenant_to_a_blank_name_answers_400_and_changes_nothing(client):
    owner = await sign_up(client, tenant_name="Not Blank")

    await expect_problem(await _rename(client, owner, "   "), 400, "validation_error")

    assert (await _tenant(client, owner))[0]["name"] == "Not Blank"


# --- access tokens -----------------------------------------------------------------------------

ANOTHER_KEY = "another-signing-key-" + "y" * 32


def _claims(who: SignedUp, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims = {
        "iss": "switchboard",
        "aud": "switchboard-api",
        "sub": who.user_id,
        "tid": who.tenant_id,
        "role": "owner",
        "sid": _session_of(who),
        "typ": "access",
        "iat": now,
        "exp": now + timedelta(minutes=15),
    }
    return claims | changes


def _session_of(who: SignedUp) -> str:
    return json.loads(_unb64(who.access_token.split(".")[1]))["sid"]


def _without(who: SignedUp, claim: str) -> str:
    claims = _claims(who)
    del claims[claim]
    return jwt.encode(claims, TEST_SIGNING_KEY, algorithm="HS256")


def _signed(who: SignedUp, **changes: Any) -> str:
    return jwt.encode(_claims(who, **changes), TEST_SIGNING_KEY, algorithm="HS256")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _expired(who: SignedUp) -> str:
    principal = Principal(
        uuid.UUID(who.user_id), uuid.UUID(who.tenant_id), Role.OWNER, session_id=uuid.uuid4()
    )
    return JwtAccessTokens(TEST_SIGNING_KEY).issue(principal, now=datetime.now(UTC) - timedelta(hours=1))


def _signature_flipped(who: SignedUp) -> str:
    header, payload, signature = who.access_token.split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return f"{header}.{payload}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"


def _payload_changed(attacker: SignedUp, victim: SignedUp) -> str:
    """The attacker's genuine token with its claims pointed at the victim's tenant and user."""
    header, payload, signature = attacker.access_token.split(".")
    claims = json.loads(_unb64(payload))
    claims["tid"] = victim.tenant_id
    claims["sub"] = victim.user_id
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


def _alg_none_by_hand_keeping_a_real_signature(who: SignedUp) -> str:
    _, payload, signature = who.access_token.split(".")
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{payload}.{signature}"


def _hs512_with_the_right_key(who: SignedUp) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(_claims(who), TEST_SIGNING_KEY, algorithm="HS512")


def _missing(claim: str) -> Callable[[SignedUp, SignedUp], str]:
    return lambda victim, _: _without(victim, claim)


# Each maker forges a token aimed at the victim's tenant: (victim, attacker) -> token.
BAD_TOKENS: dict[str, Callable[[SignedUp, SignedUp], str]] = {
    "expired": lambda victim, _: _expired(victim),
    "signature flipped": lambda victim, _: _signature_flipped(victim),
    "payload changed, signature kept": lambda victim, attacker: _payload_changed(attacker, victim),
    "alg none (pyjwt)": lambda victim, _: jwt.encode(_claims(victim), key=None, algorithm="none"),
    "alg none by hand, real signature kept": lambda victim, _: _alg_none_by_hand_keeping_a_real_signature(
        victim
    ),
    "HS256 with another key": lambda victim, _: jwt.encode(_claims(victim), ANOTHER_KEY, algorithm="HS256"),
    "HS512 with the right key": lambda victim, _: _hs512_with_the_right_key(victim),
    "typ refresh": lambda victim, _: _signed(victim, typ="refresh"),
    "wrong aud": lambda victim, _: _signed(victim, aud="some-other-api"),
    "wrong iss": lambda victim, _: _signed(victim, iss="someone-else"),
    "not yet valid (nbf)": lambda victim, _: _signed(victim, nbf=datetime.now(UTC) + timedelta(hours=1)),
    "issued in the future": lambda victim, _: _signed(
        victim, iat=datetime.now(UTC) + timedelta(hours=1), exp=datetime.now(UTC) + timedelta(hours=2)
    ),
    "unknown role": lambda victim, _: _signed(victim, role="superuser"),
    "sub not a uuid": lambda victim, _: _signed(victim, sub="admin"),
    "garbage": lambda victim, _: "garbage",
    "three garbage parts": lambda victim, _: "aaa.bbb.ccc",
} | {
    f"missing {claim}": _missing(claim)
    for claim in ["exp", "iat", "iss", "aud", "sub", "tid", "role", "sid", "typ"]
}


@pytest.fixture(scope="module")
async def victim(client) -> SignedUp:
    """A tenant every bad-token request is aimed at; it must come out untouched."""
    owner = await sign_up(client, tenant_name="Untouchable Co")
    await create_customer(client, owner, name="Kept Customer")
    return owner


@pytest.fixture(scope="module")
async def attacker(client) -> SignedUp:
    return await sign_up(client, tenant_name="Attacker Co")


async def _state_of(client, who: SignedUp) -> tuple[Any, ...]:
    tenant = await (await client.get("/v1/tenant", headers=who.auth)).get_json()
    return tenant, await list_all(client, who)


async def _assert_refused_everywhere(client, headers: dict[str, str]) -> None:
    for response in [
        await client.get("/v1/me", headers=headers),
        await client.get("/v1/customers", headers=headers),
        await client.post("/v1/customers", json={"name": "Intruder"}, headers=headers),
        await client.patch("/v1/tenant", json={"name": "Hijacked"}, headers=headers),
    ]:
        await expect_problem(response, 401, "unauthenticated")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
async def test_a_bad_access_token_gets_401_with_www_authenticate_and_changes_nothing(
    client, victim, attacker, kind
):
    token = BAD_TOKENS[kind](victim, attacker)
    before = await _state_of(client, victim), await _state_of(client, attacker)

    await _assert_refused_everywhere(client, {"Authorization": f"Bearer {token}"})

    assert (await _state_of(client, victim), await _state_of(client, attacker)) == before


@pytest.mark.parametrize(
    "authorization",
    ["Basic dXNlcjpwYXNzd29yZA==", "Bearer", "Bearer    ", "Token abc", "", "sbk_not_a_key"],
)
async def test_an_authorization_header_that_is_not_a_bearer_token_gets_401(client, victim, authorization):
    before = await _state_of(client, victim)

    await _assert_refused_everywhere(client, {"Authorization": authorization})

    assert await _state_of(client, victim) == before


async def test_no_authorization_header_gets_401(client):
    await _assert_refused_everywhere(client, {})


async def test_the_basic_scheme_carrying_a_valid_access_token_is_still_refused(client, victim):
    before = await _state_of(client, victim)

    await _assert_refused_everywhere(client, {"Authorization": f"Basic {victim.access_token}"})

    assert await _state_of(client, victim) == before


async def test_the_bearer_scheme_name_is_case_insensitive(client, victim):
    response = await client.get("/v1/me", headers={"Authorization": f"bearer {victim.access_token}"})

    assert response.status_code == 200


@pytest.mark.parametrize("param", ["access_token", "token", "api_key", "refresh_token", "password"])
async def test_a_credential_in_the_query_string_is_refused_with_400_even_beside_a_valid_header(
    client, victim, param
):
    before = await _state_of(client, victim)

    for response in [
        await client.get(f"/v1/customers?{param}={victim.access_token}"),
        await client.get(f"/v1/me?{param}={victim.access_token}", headers=victim.auth),
        await client.post(
            f"/v1/customers?{param}={victim.access_token}", json={"name": "Sneaky"}, headers=victim.auth
        ),
        await client.patch(
            f"/v1/tenant?{param}={victim.access_token}", json={"name": "Sneaky"}, headers=victim.auth
        ),
        await client.post(f"/v1/auth/login?{param}=x", json={"email": victim.email, "password": PASSWORD}),
    ]:
        await expect_problem(response, 400, "credential_in_query")

    assert await _state_of(client, victim) == before


async def test_an_access_token_keeps_working_after_its_refresh_token_is_rotated(client):
    owner = await sign_up(client)
    await tokens_of(await refresh(client, owner.refresh_token))

    response = await client.get("/v1/me", headers=owner.auth)

    assert response.status_code == 200


async def test_the_token_makers_control_case_is_accepted_so_each_bad_token_fails_for_its_own_reason(
    client, victim
):
    session_id = uuid.UUID(_session_of(victim))
    principal = Principal(
        uuid.UUID(victim.user_id), uuid.UUID(victim.tenant_id), Role.OWNER, session_id=session_id
    )
    issued_now = JwtAccessTokens(TEST_SIGNING_KEY).issue(principal, now=datetime.now(UTC))

    for token in [_signed(victim), issued_now]:
        response = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
        assert (await response.get_json())["tenant"]["id"] == victim.tenant_id


# --- hostile input and races ---------------------------------------------------------------------


async def test_racing_refreshes_of_one_token_give_one_pair_and_then_revoke_the_family(client):
    owner = await sign_up(client)

    responses = await asyncio.gather(*[refresh(client, owner.refresh_token) for _ in range(3)])

    assert sorted(r.status_code for r in responses) == [200, 401, 401]
    winner = await tokens_of(next(r for r in responses if r.status_code == 200))
    await expect_problem(await refresh(client, winner["refresh_token"]), 401, "unauthenticated")


@pytest.mark.parametrize("field", ["tenant_name", "name", "email"])
async def test_a_nul_character_at_sign_up_answers_400_not_500_and_creates_no_account(client, field):
    body = {"tenant_name": "Nul Co", "name": "Nul Owner", "email": unique_email("nul"), "password": PASSWORD}
    clean_email = body["email"]
    body[field] = body[field][:2] + "\u0000" + body[field][2:]

    response = await client.post("/v1/auth/register", json=body)

    problem = await expect_problem(response, 400, "validation_error")
    assert field in error_fields(problem)
    await expect_problem(await login(client, clean_email), 401)


async def test_a_nul_character_in_the_login_email_gets_the_ordinary_bad_credentials_answer(client):
    owner = await sign_up(client)
    ordinary = await _failure_bytes(await login(client, unique_email("nobody"), PASSWORD))

    response = await login(client, owner.email[:3] + "\u0000" + owner.email[3:], PASSWORD)

    assert await _failure_bytes(response) == ordinary


async def test_a_nul_character_in_a_new_tenant_name_answers_400_not_500_and_changes_nothing(client):
    owner = await sign_up(client, tenant_name="Clean Name")

    await expect_problem(await _rename(client, owner, "Dirty\u0000Name"), 400, "validation_error")

    assert (await _tenant(client, owner))[0]["name"] == "Clean Name"
