"""API keys: created with their secret shown once, used as bearers within their scopes, limited
by expiry and allowed origins, revoked at once, and managed only by the tenant's managers."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from switchboard.entrypoints.http.blueprints.api_keys import ApiKeyListOut, ApiKeyOut
from tests.e2e.admin_helpers import add_member, bearer, clock_at, create_key, get_key
from tests.e2e.helpers import conforms, create_customer, error_fields, expect_problem, sign_up

CUSTOMER = {"name": "Grace Hopper", "email": "grace@example.com"}


async def _list_keys(client, who) -> list[dict]:
    response = await client.get("/v1/api-keys", headers=who.auth)
    assert response.status_code == 200, await response.get_data()
    body = await response.get_json()
    conforms(ApiKeyListOut, body)
    for key in body["data"]:
        conforms(ApiKeyOut, key)
    return body["data"]


# --- creating, listing, reading -------------------------------------------------------------


async def test_creating_a_key_answers_201_with_location_and_the_secret_shown_once(client):
    owner = await sign_up(client)

    response = await client.post(
        "/v1/api-keys",
        json={"name": "Checkout server", "scopes": {"customers": "write", "tenant": "read"}},
        headers=owner.auth,
    )

    assert response.status_code == 201, await response.get_data()
    body = await response.get_json()
    assert response.headers["Location"] == f"/v1/api-keys/{body['id']}"
    assert body["object"] == "api_key"
    assert body["name"] == "Checkout server"
    assert body["secret"].startswith("sbk_")
    assert len(body["secret"]) > 40
    assert body["prefix"] == body["secret"][: len(body["prefix"])]
    assert body["prefix"].startswith("sbk_")
    assert len(body["prefix"]) < len(body["secret"])
    assert body["scopes"] == {"customers": "write", "tenant": "read"}
    assert body["allowed_origins"] == []
    assert (body["expires_at"], body["last_used_at"], body["revoked_at"]) == (None, None, None)


async def test_listing_and_reading_a_key_show_its_prefix_and_never_its_secret(client):
    owner = await sign_up(client)
    created = await create_key(client, owner, {"customers": "read"}, name="Reporting")

    listed = await _list_keys(client, owner)
    one = await get_key(client, owner, created["id"])

    assert [key["id"] for key in listed] == [created["id"]]
    assert listed[0]["prefix"] == created["prefix"] == one["prefix"]
    for shown in (listed[0], one):
        assert "secret" not in shown
        assert created["secret"] not in json.dumps(shown)
        assert {key: value for key, value in created.items() if key != "secret"} == shown


async def test_keys_are_listed_newest_first(client):
    owner = await sign_up(client)
    first = await create_key(client, owner, name="first")
    second = await create_key(client, owner, name="second")

    assert [key["id"] for key in await _list_keys(client, owner)] == [second["id"], first["id"]]


# --- scopes -----------------------------------------------------------------------------------


async def test_a_customers_read_key_lists_customers_but_cannot_create_one(client):
    owner = await sign_up(client)
    existing = await create_customer(client, owner)
    key = await create_key(client, owner, {"customers": "read"})

    listed = await client.get("/v1/customers", headers=bearer(key["secret"]))
    created = await client.post("/v1/customers", json=CUSTOMER, headers=bearer(key["secret"]))

    assert listed.status_code == 200
    assert [c["id"] for c in (await listed.get_json())["data"]] == [existing["id"]]
    await expect_problem(created, 403, "forbidden")
    after = await (await client.get("/v1/customers", headers=owner.auth)).get_json()
    assert [c["id"] for c in after["data"]] == [existing["id"]]


async def test_a_customers_write_key_creates_and_reads_customers(client):
    owner = await sign_up(client)
    key = await create_key(client, owner, {"customers": "write"})

    created = await client.post("/v1/customers", json=CUSTOMER, headers=bearer(key["secret"]))
    listed = await client.get("/v1/customers", headers=bearer(key["secret"]))

    assert created.status_code == 201, await created.get_data()
    customer = await created.get_json()
    assert [c["id"] for c in (await listed.get_json())["data"]] == [customer["id"]]
    seen_by_owner = await client.get(f"/v1/customers/{customer['id']}", headers=owner.auth)
    assert seen_by_owner.status_code == 200


async def test_a_key_without_a_customers_scope_cannot_read_customers(client):
    owner = await sign_up(client)
    key = await create_key(client, owner, {"tenant": "read"})

    await expect_problem(await client.get("/v1/customers", headers=bearer(key["secret"])), 403, "forbidden")


@pytest.mark.parametrize(
    ("scopes", "field"),
    [
        ({"customer": "read"}, "scopes.customer"),
        ({"customers": "read", "billing": "write"}, "scopes.billing"),
        ({"customers": "admin"}, "scopes.customers"),
        ({"customers": "READ"}, "scopes.customers"),
        ({}, "scopes"),
    ],
)
async def test_invalid_scopes_are_refused_with_400_and_no_key_is_made(client, scopes, field):
    owner = await sign_up(client)

    response = await client.post("/v1/api-keys", json={"name": "k", "scopes": scopes}, headers=owner.auth)

    problem = await expect_problem(response, 400, "validation_error")
    assert field in error_fields(problem), problem
    assert await _list_keys(client, owner) == []


async def test_scopes_that_are_not_an_object_are_refused_with_400(client):
    owner = await sign_up(client)

    response = await client.post(
        "/v1/api-keys", json={"name": "k", "scopes": ["customers:read"]}, headers=owner.auth
    )

    await expect_problem(response, 400, "validation_error")
    assert await _list_keys(client, owner) == []


# --- expiry -----------------------------------------------------------------------------------


async def test_an_expiry_in_the_past_is_refused_with_400(client):
    owner = await sign_up(client)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()

    response = await client.post(
        "/v1/api-keys",
        json={"name": "k", "scopes": {"customers": "read"}, "expires_at": past},
        headers=owner.auth,
    )

    problem = await expect_problem(response, 400, "validation_error")
    assert error_fields(problem) == {"expires_at"}
    assert await _list_keys(client, owner) == []


async def test_an_expiry_without_a_timezone_is_refused_with_400(client):
    owner = await sign_up(client)
    naive = (datetime.now(UTC) + timedelta(days=1)).replace(tzinfo=None).isoformat()

    response = await client.post(
        "/v1/api-keys",
        json={"name": "k", "scopes": {"customers": "read"}, "expires_at": naive},
        headers=owner.auth,
    )

    await expect_problem(response, 400, "validation_error")


async def test_a_key_works_until_its_expiry_and_is_refused_with_401_after_it(client, container):
    owner = await sign_up(client)
    expires_at = datetime.now(UTC) + timedelta(hours=1)
    key = await create_key(client, owner, {"customers": "read"}, expires_at=expires_at.isoformat())

    before = await client.get("/v1/customers", headers=bearer(key["secret"]))
    with clock_at(container, expires_at + timedelta(seconds=1)):
        after = await client.get("/v1/customers", headers=bearer(key["secret"]))
    with clock_at(container, expires_at):
        at_the_instant = await client.get("/v1/customers", headers=bearer(key["secret"]))

    assert before.status_code == 200
    await expect_problem(after, 401, "unauthenticated")
    await expect_problem(at_the_instant, 401, "unauthenticated")
    assert after.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await get_key(client, owner, key["id"]))["expires_at"] is not None


# --- allowed origins --------------------------------------------------------------------------


async def test_a_key_limited_to_origins_refuses_a_foreign_origin_and_accepts_its_own_and_none(client):
    owner = await sign_up(client)
    key = await create_key(client, owner, {"customers": "read"}, allowed_origins=["https://shop.example.com"])
    auth = bearer(key["secret"])

    foreign = await client.get("/v1/customers", headers=auth | {"Origin": "https://evil.example.net"})
    lookalike = await client.get(
        "/v1/customers", headers=auth | {"Origin": "https://shop.example.com.evil.example.net"}
    )
    other_scheme = await client.get("/v1/customers", headers=auth | {"Origin": "http://shop.example.com"})
    own = await client.get("/v1/customers", headers=auth | {"Origin": "https://shop.example.com"})
    none = await client.get("/v1/customers", headers=auth)

    for refused in (foreign, lookalike, other_scheme):
        await expect_problem(refused, 401, "unauthenticated")
    assert own.status_code == 200
    assert none.status_code == 200


async def test_a_key_without_allowed_origins_works_from_any_origin(client):
    owner = await sign_up(client)
    key = await create_key(client, owner, {"customers": "read"})

    response = await client.get(
        "/v1/customers", headers=bearer(key["secret"]) | {"Origin": "https://anywhere.example.org"}
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    "origin",
    ["shop.example.com", "https://shop.example.com/checkout", "javascript:alert(1)", "ftp://x.example"],
)
async def test_an_allowed_origin_that_is_not_an_origin_is_refused_with_400(client, origin):
    owner = await sign_up(client)

    response = await client.post(
        "/v1/api-keys",
        json={"name": "k", "scopes": {"customers": "read"}, "allowed_origins": [origin]},
        headers=owner.auth,
    )

    problem = await expect_problem(response, 400, "validation_error")
    assert error_fields(problem) == {"allowed_origins.0"}
    assert await _list_keys(client, owner) == []


# --- use and revocation -----------------------------------------------------------------------


async def test_last_used_at_is_set_once_the_key_is_used(client):
    owner = await sign_up(client)
    key = await create_key(client, owner, {"customers": "read"})
    unused = await get_key(client, owner, key["id"])

    assert (await client.get("/v1/customers", headers=bearer(key["secret"]))).status_code == 200
    used = await get_key(client, owner, key["id"])

    assert unused["last_used_at"] is None
    assert used["last_used_at"] is not None
    assert datetime.fromisoformat(used["last_used_at"]) >= datetime.fromisoformat(key["created_at"])


async def test_a_revoked_key_is_refused_with_401_on_its_very_next_request(client):
    owner = await sign_up(client)
    key = await create_key(client, owner, {"customers": "read"})
    assert (await client.get("/v1/customers", headers=bearer(key["secret"]))).status_code == 200

    revoked = await client.delete(f"/v1/api-keys/{key['id']}", headers=owner.auth)
    next_request = await client.get("/v1/customers", headers=bearer(key["secret"]))

    assert revoked.status_code == 204
    await expect_problem(next_request, 401, "unauthenticated")
    shown = await get_key(client, owner, key["id"])
    assert shown["revoked_at"] is not None
    assert [listed["revoked_at"] for listed in await _list_keys(client, owner)] == [shown["revoked_at"]]


async def test_revoking_one_key_leaves_the_tenants_other_keys_working(client):
    owner = await sign_up(client)
    doomed = await create_key(client, owner, {"customers": "read"})
    kept = await create_key(client, owner, {"customers": "read"})

    await client.delete(f"/v1/api-keys/{doomed['id']}", headers=owner.auth)

    assert (await client.get("/v1/customers", headers=bearer(kept["secret"]))).status_code == 200


async def test_a_made_up_key_with_the_right_prefix_is_refused_with_401(client):
    response = await client.get("/v1/customers", headers=bearer("sbk_" + uuid.uuid4().hex * 2))

    await expect_problem(response, 401, "unauthenticated")


# --- what a key may never do ------------------------------------------------------------------


async def test_a_key_cannot_manage_api_keys_even_with_every_scope(client):
    owner = await sign_up(client)
    every = {"customers": "write", "tenant": "write", "team": "read", "integrations": "write",
             "webhooks": "write", "audit_logs": "read"}  # fmt: skip
    key = await create_key(client, owner, every)
    auth = bearer(key["secret"])

    responses = [
        await client.get("/v1/api-keys", headers=auth),
        await client.post(
            "/v1/api-keys", json={"name": "k2", "scopes": {"customers": "write"}}, headers=auth
        ),
        await client.get(f"/v1/api-keys/{key['id']}", headers=auth),
        await client.delete(f"/v1/api-keys/{key['id']}", headers=auth),
    ]

    for response in responses:
        await expect_problem(response, 403, "forbidden")
    keys = await _list_keys(client, owner)
    assert [(k["id"], k["revoked_at"]) for k in keys] == [(key["id"], None)]


async def test_a_key_cannot_change_the_team(client, database):
    owner = await sign_up(client)
    member = await add_member(client, database, owner)
    key = await create_key(client, owner, {"team": "read", "tenant": "write"})
    auth = bearer(key["secret"])

    responses = [
        await client.patch(f"/v1/team/members/{member.user_id}", json={"role": "admin"}, headers=auth),
        await client.delete(f"/v1/team/members/{member.user_id}", headers=auth),
        await client.post(
            "/v1/team/invitations", json={"email": "new@example.com", "role": "admin"}, headers=auth
        ),
        await client.post("/v1/team/transfer-ownership", json={"user_id": member.user_id}, headers=auth),
    ]
    listed = await client.get("/v1/team/members", headers=auth)

    for response in responses:
        await expect_problem(response, 403, "forbidden")
    assert listed.status_code == 200  # team:read is a scope a key may hold
    roles = {m["user_id"]: m["role"] for m in (await listed.get_json())["data"]}
    assert roles == {owner.user_id: "owner", member.user_id: "member"}
    invitations = await (await client.get("/v1/team/invitations", headers=owner.auth)).get_json()
    assert invitations["data"] == []


async def test_a_key_cannot_reach_sessions_or_account_security(client):
    owner = await sign_up(client)
    key = await create_key(client, owner, {"customers": "write", "tenant": "write"})
    auth = bearer(key["secret"])

    responses = [
        await client.get("/v1/auth/sessions", headers=auth),
        await client.delete("/v1/auth/sessions", headers=auth),
        await client.get("/v1/auth/mfa", headers=auth),
        await client.post("/v1/auth/mfa/totp", headers=auth),
    ]

    for response in responses:
        await expect_problem(response, 403, "forbidden")
    sessions = await (await client.get("/v1/auth/sessions", headers=owner.auth)).get_json()
    assert len(sessions["data"]) == 1


# --- who may manage keys ----------------------------------------------------------------------


async def test_a_member_cannot_create_list_read_or_revoke_keys(client, database):
    owner = await sign_up(client)
    member = await add_member(client, database, owner)
    key = await create_key(client, owner, {"customers": "read"})

    responses = [
        await client.post(
            "/v1/api-keys", json={"name": "mine", "scopes": {"customers": "read"}}, headers=member.auth
        ),
        await client.get("/v1/api-keys", headers=member.auth),
        await client.get(f"/v1/api-keys/{key['id']}", headers=member.auth),
        await client.delete(f"/v1/api-keys/{key['id']}", headers=member.auth),
    ]

    for response in responses:
        await expect_problem(response, 403, "forbidden")
    assert [(k["id"], k["revoked_at"]) for k in await _list_keys(client, owner)] == [(key["id"], None)]


async def test_an_admin_can_manage_keys(client, database):
    owner = await sign_up(client)
    admin = await add_member(client, database, owner, role="admin")

    key = await create_key(client, admin, {"customers": "read"})
    revoked = await client.delete(f"/v1/api-keys/{key['id']}", headers=admin.auth)

    assert revoked.status_code == 204
    assert [k["id"] for k in await _list_keys(client, owner)] == [key["id"]]


async def test_another_tenants_key_is_not_found_and_stays_working(client):
    owner = await sign_up(client)
    stranger = await sign_up(client)
    key = await create_key(client, owner, {"customers": "read"})

    read = await client.get(f"/v1/api-keys/{key['id']}", headers=stranger.auth)
    revoked = await client.delete(f"/v1/api-keys/{key['id']}", headers=stranger.auth)

    await expect_problem(read, 404, "not_found")
    await expect_problem(revoked, 404, "not_found")
    assert await _list_keys(client, stranger) == []
    assert (await client.get("/v1/customers", headers=bearer(key["secret"]))).status_code == 200
    assert (await get_key(client, owner, key["id"]))["revoked_at"] is None


async def test_a_key_acts_only_on_its_own_tenants_customers(client):
    owner = await sign_up(client)
    stranger = await sign_up(client)
    theirs = await create_customer(client, stranger)
    key = await create_key(client, owner, {"customers": "write"})

    read = await client.get(f"/v1/customers/{theirs['id']}", headers=bearer(key["secret"]))
    listed = await client.get("/v1/customers", headers=bearer(key["secret"]))

    await expect_problem(read, 404, "not_found")
    assert (await listed.get_json())["data"] == []


async def test_a_key_of_an_unknown_id_is_not_found(client):
    owner = await sign_up(client)

    await expect_problem(
        await client.get(f"/v1/api-keys/{uuid.uuid4()}", headers=owner.auth), 404, "not_found"
    )
    await expect_problem(
        await client.delete(f"/v1/api-keys/{uuid.uuid4()}", headers=owner.auth), 404, "not_found"
    )


@pytest.mark.parametrize(
    "field", ["tenant_id", "id", "secret", "prefix", "created_by", "last_used_at", "role"]
)
async def test_a_key_body_with_a_field_the_client_may_not_set_is_refused_and_nothing_is_made(client, field):
    owner = await sign_up(client)

    response = await client.post(
        "/v1/api-keys",
        json={"name": "k", "scopes": {"customers": "read"}, field: str(uuid.uuid4())},
        headers=owner.auth,
    )

    problem = await expect_problem(response, 400, "validation_error")
    assert field in error_fields(problem)
    assert await _list_keys(client, owner) == []
