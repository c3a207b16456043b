"""Platform administration: listing tenants, suspending and reactivating them, and impersonating
one of their users for support; and the wall between admin tokens and tenant tokens."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from switchboard.entrypoints.http.blueprints.admin import (
    AdminTenantListOut,
    AdminTenantOut,
    ImpersonationOut,
)
from switchboard.entrypoints.http.blueprints.schemas import MeOut
from tests.e2e.admin_helpers import (
    PlatformAdmin,
    add_member,
    audit_entries,
    bearer,
    claims_of,
    create_key,
    platform_admin,
)
from tests.e2e.helpers import (
    PASSWORD,
    conforms,
    create_customer,
    expect_problem,
    login,
    refresh,
    sign_up,
    tokens_of,
)


@pytest.fixture(scope="module")
async def admin(client, database, test_hasher) -> PlatformAdmin:
    return await platform_admin(client, database, test_hasher)


@pytest.fixture(scope="module")
async def openapi(client) -> dict[str, Any]:
    document: dict[str, Any] = await (await client.get("/openapi.json")).get_json()
    return document


def documented_keys(openapi: dict[str, Any], path: str, method: str, status: str = "200") -> set[str]:
    """The property names /openapi.json documents for a response."""
    schema = openapi["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    while "$ref" in schema:
        schema = openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return set(schema["properties"])


async def _page(client, admin: PlatformAdmin, **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/admin/tenants", query_string=params, headers=admin.auth)
    assert response.status_code == 200, await response.get_data()
    body: dict[str, Any] = await response.get_json()
    conforms(AdminTenantListOut, body)
    for tenant in body["data"]:
        conforms(AdminTenantOut, tenant)
    return body


async def _all_tenants(client, admin: PlatformAdmin, **params: Any) -> list[dict[str, Any]]:
    tenants: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await _page(client, admin, limit=100, **params, **({"cursor": cursor} if cursor else {}))
        tenants.extend(page["data"])
        if not page["has_more"]:
            return tenants
        cursor = page["next_cursor"]


async def _suspend(client, admin: PlatformAdmin, tenant_id: str) -> Any:
    return await client.post(f"/v1/admin/tenants/{tenant_id}/suspend", headers=admin.auth)


async def _reactivate(client, admin: PlatformAdmin, tenant_id: str) -> Any:
    return await client.post(f"/v1/admin/tenants/{tenant_id}/reactivate", headers=admin.auth)


async def _impersonate(client, admin: PlatformAdmin, tenant_id: str, user_id: str) -> Any:
    return await client.post(
        f"/v1/admin/tenants/{tenant_id}/impersonate", json={"user_id": user_id}, headers=admin.auth
    )


async def _impersonation_token(client, admin: PlatformAdmin, tenant_id: str, user_id: str) -> str:
    response = await _impersonate(client, admin, tenant_id, user_id)
    assert response.status_code == 200, await response.get_data()
    body = await response.get_json()
    conforms(ImpersonationOut, body)
    token: str = body["access_token"]
    return token


# --- listing tenants --------------------------------------------------------------------------


async def test_tenants_are_listed_newest_first_with_their_status_and_member_counts(client, database, admin):
    first = await sign_up(client, tenant_name="First Co")
    second = await sign_up(client, tenant_name="Second Co")
    await add_member(client, database, second)
    third = await sign_up(client, tenant_name="Third Co")
    made = {first.tenant_id, second.tenant_id, third.tenant_id}

    # Other tests create tenants too (some dated in the future): compare the order of ours.
    listed = [t for t in await _all_tenants(client, admin) if t["id"] in made]

    assert [(t["id"], t["name"], t["status"], t["members"]) for t in listed] == [
        (third.tenant_id, "Third Co", "active", 1),
        (second.tenant_id, "Second Co", "active", 2),
        (first.tenant_id, "First Co", "active", 1),
    ]


async def test_the_cursor_walks_tenants_one_page_at_a_time_without_gaps_or_repeats(client, admin):
    made = [await sign_up(client, tenant_name=f"Paged {n}") for n in range(6)]

    seen: list[str] = []
    page = await _page(client, admin, limit=2)
    while True:
        seen.extend(t["id"] for t in page["data"])
        if not page["has_more"]:
            break
        page = await _page(client, admin, limit=2, cursor=page["next_cursor"])

    assert len(seen) == len(set(seen))
    assert [id_ for id_ in seen if id_ in {who.tenant_id for who in made}] == [
        who.tenant_id for who in reversed(made)
    ]


async def test_tenants_filter_by_status(client, admin):
    kept = await sign_up(client)
    suspended = await sign_up(client)
    await _suspend(client, admin, suspended.tenant_id)

    only_suspended = {t["id"]: t for t in await _all_tenants(client, admin, status="suspended")}
    only_active = {t["id"] for t in await _all_tenants(client, admin, status="active")}

    assert suspended.tenant_id in only_suspended
    assert kept.tenant_id not in only_suspended
    assert {t["status"] for t in only_suspended.values()} == {"suspended"}
    assert kept.tenant_id in only_active
    assert suspended.tenant_id not in only_active


async def test_an_unknown_status_filter_or_cursor_is_refused_with_400(client, admin):
    for params in ({"status": "deleted"}, {"cursor": "garbage"}, {"limit": 0}, {"colour": "red"}):
        response = await client.get("/v1/admin/tenants", query_string=params, headers=admin.auth)
        await expect_problem(response, 400)


# --- suspension -------------------------------------------------------------------------------


async def test_suspending_answers_the_tenant_as_suspended_in_the_documented_shape(client, admin, openapi):
    owner = await sign_up(client, tenant_name="To Suspend")

    response = await _suspend(client, admin, owner.tenant_id)

    assert response.status_code == 200
    body = await response.get_json()
    assert (body["id"], body["name"], body["status"]) == (owner.tenant_id, "To Suspend", "suspended")
    assert set(body) == documented_keys(openapi, "/v1/admin/tenants/{tenant_id}/suspend", "post")


async def test_a_suspended_tenants_tokens_and_keys_are_refused_on_their_next_request(client, admin):
    owner = await sign_up(client)
    key = await create_key(client, owner, {"customers": "write"})
    assert (await client.get("/v1/customers", headers=owner.auth)).status_code == 200
    assert (await client.get("/v1/customers", headers=bearer(key["secret"]))).status_code == 200

    await _suspend(client, admin, owner.tenant_id)

    await expect_problem(await client.get("/v1/customers", headers=owner.auth), 401, "unauthenticated")
    await expect_problem(await client.get("/v1/me", headers=owner.auth), 401, "unauthenticated")
    await expect_problem(
        await client.get("/v1/customers", headers=bearer(key["secret"])), 401, "unauthenticated"
    )
    await expect_problem(
        await client.post("/v1/customers", json={"name": "During"}, headers=bearer(key["secret"])),
        401,
        "unauthenticated",
    )
    await expect_problem(await refresh(client, owner.refresh_token), 401, "unauthenticated")


async def test_a_suspended_tenants_users_cannot_sign_in(client, admin):
    owner = await sign_up(client)
    await _suspend(client, admin, owner.tenant_id)

    response = await login(client, owner.email)

    await expect_problem(response, 403, "forbidden")


async def test_suspending_one_tenant_leaves_other_tenants_alone(client, admin):
    suspended = await sign_up(client)
    other = await sign_up(client)
    other_key = await create_key(client, other, {"customers": "read"})

    await _suspend(client, admin, suspended.tenant_id)

    assert (await client.get("/v1/customers", headers=other.auth)).status_code == 200
    assert (await client.get("/v1/customers", headers=bearer(other_key["secret"]))).status_code == 200
    await tokens_of(await refresh(client, other.refresh_token))
    await tokens_of(await login(client, other.email))


async def test_reactivating_lets_the_tenants_users_sign_in_again(client, admin):
    owner = await sign_up(client)
    await _suspend(client, admin, owner.tenant_id)

    response = await _reactivate(client, admin, owner.tenant_id)
    signed_in = await tokens_of(await login(client, owner.email))

    assert response.status_code == 200
    assert (await response.get_json())["status"] == "active"
    me = await client.get("/v1/me", headers=bearer(signed_in["access_token"]))
    assert me.status_code == 200
    conforms(MeOut, await me.get_json())
    listed = {t["id"]: t["status"] for t in await _all_tenants(client, admin, status="active")}
    assert listed[owner.tenant_id] == "active"


async def test_a_suspension_pauses_the_tenant_so_tokens_still_in_their_lifetime_work_after_reactivation(
    client, admin
):
    owner = await sign_up(client)
    await _suspend(client, admin, owner.tenant_id)
    await expect_problem(await client.get("/v1/me", headers=owner.auth), 401, "unauthenticated")
    await _reactivate(client, admin, owner.tenant_id)

    assert (await client.get("/v1/me", headers=owner.auth)).status_code == 200
    assert (await refresh(client, owner.refresh_token)).status_code == 200


async def test_suspension_and_reactivation_are_audited_as_the_admin(client, admin):
    owner = await sign_up(client)
    await _suspend(client, admin, owner.tenant_id)
    await _reactivate(client, admin, owner.tenant_id)
    fresh = await tokens_of(await login(client, owner.email))

    entries = await audit_entries(client, bearer(fresh["access_token"]), target_type="tenant")

    actions = [(e["action"], e["actor"]["type"], e["actor"]["id"]) for e in entries]
    assert actions[:2] == [
        ("tenant.reactivated", "platform_admin", admin.id),
        ("tenant.suspended", "platform_admin", admin.id),
    ]


async def test_suspending_twice_is_harmless(client, admin):
    owner = await sign_up(client)
    await _suspend(client, admin, owner.tenant_id)

    again = await _suspend(client, admin, owner.tenant_id)

    assert again.status_code == 200
    assert (await again.get_json())["status"] == "suspended"


@pytest.mark.parametrize("action", ["suspend", "reactivate"])
async def test_suspending_or_reactivating_an_unknown_tenant_is_not_found(client, admin, action):
    response = await client.post(f"/v1/admin/tenants/{uuid.uuid4()}/{action}", headers=admin.auth)

    await expect_problem(response, 404, "not_found")


# --- impersonation ----------------------------------------------------------------------------


async def test_an_impersonation_token_acts_as_the_user_and_names_the_admin_as_actor(client, admin):
    owner = await sign_up(client)

    response = await _impersonate(client, admin, owner.tenant_id, owner.user_id)

    assert response.status_code == 200
    body = conforms(ImpersonationOut, await response.get_json())
    assert (str(body.tenant_id), str(body.user_id)) == (owner.tenant_id, owner.user_id)
    claims = claims_of(body.access_token)
    assert claims["sub"] == owner.user_id
    assert claims["tid"] == owner.tenant_id
    assert claims["act"]["sub"] == admin.id
    me = await client.get("/v1/me", headers=bearer(body.access_token))
    assert me.status_code == 200
    assert (await me.get_json())["user"]["id"] == owner.user_id


async def test_an_impersonation_answer_carries_no_refresh_token(client, admin):
    owner = await sign_up(client)

    body = await (await _impersonate(client, admin, owner.tenant_id, owner.user_id)).get_json()

    assert "refresh_token" not in body


async def test_what_an_impersonator_does_is_audited_as_the_user_on_behalf_of_the_admin(client, admin):
    owner = await sign_up(client)
    token = await _impersonation_token(client, admin, owner.tenant_id, owner.user_id)

    response = await client.post("/v1/customers", json={"name": "Support Ticket"}, headers=bearer(token))
    customer = await response.get_json()

    assert response.status_code == 201
    entries = await audit_entries(client, owner, target_id=customer["id"])
    assert [(e["action"], e["actor"]) for e in entries] == [
        ("customer.created", {"type": "user", "id": owner.user_id, "on_behalf_of_admin": admin.id})
    ]
    started = [e for e in await audit_entries(client, owner) if e["action"] == "admin.impersonation_started"]
    assert [(e["actor"]["type"], e["actor"]["id"], e["target_id"]) for e in started] == [
        ("platform_admin", admin.id, owner.user_id)
    ]


async def test_an_impersonator_cannot_change_the_users_password_mfa_or_api_keys(client, admin):
    owner = await sign_up(client)
    key = await create_key(client, owner, {"customers": "read"})
    auth = bearer(await _impersonation_token(client, admin, owner.tenant_id, owner.user_id))

    responses = [
        await client.post(
            "/v1/auth/password",
            json={"current_password": PASSWORD, "new_password": "vq7-tidal-rk-" + uuid.uuid4().hex},
            headers=auth,
        ),
        await client.post("/v1/auth/mfa/totp", headers=auth),
        await client.post("/v1/auth/mfa/disable", json={"password": PASSWORD}, headers=auth),
        await client.post(
            "/v1/api-keys", json={"name": "backdoor", "scopes": {"customers": "write"}}, headers=auth
        ),
        await client.get("/v1/api-keys", headers=auth),
        await client.delete(f"/v1/api-keys/{key['id']}", headers=auth),
    ]

    for response in responses:
        await expect_problem(response, 403, "forbidden")
    await tokens_of(await login(client, owner.email))  # the password is unchanged
    mfa = await (await client.get("/v1/auth/mfa", headers=owner.auth)).get_json()
    assert (mfa["enabled"], mfa["pending"]) == (False, False)
    keys = await (await client.get("/v1/api-keys", headers=owner.auth)).get_json()
    assert [(k["id"], k["revoked_at"]) for k in keys["data"]] == [(key["id"], None)]


async def test_impersonating_a_member_acts_with_that_members_role(client, database, admin):
    owner = await sign_up(client)
    member = await add_member(client, database, owner)
    auth = bearer(await _impersonation_token(client, admin, owner.tenant_id, member.user_id))

    me = await (await client.get("/v1/me", headers=auth)).get_json()
    invite = await client.post(
        "/v1/team/invitations", json={"email": "x@example.com", "role": "admin"}, headers=auth
    )

    assert (me["user"]["id"], me["role"]) == (member.user_id, "member")
    await expect_problem(invite, 403, "forbidden")


async def test_impersonating_someone_who_is_not_a_member_of_the_tenant_is_not_found(client, admin):
    owner = await sign_up(client)
    stranger = await sign_up(client)

    wrong_tenant = await _impersonate(client, admin, owner.tenant_id, stranger.user_id)
    unknown_user = await _impersonate(client, admin, owner.tenant_id, str(uuid.uuid4()))
    unknown_tenant = await _impersonate(client, admin, str(uuid.uuid4()), owner.user_id)

    for response in (wrong_tenant, unknown_user, unknown_tenant):
        await expect_problem(response, 404, "not_found")


async def test_a_suspended_tenants_user_cannot_be_impersonated(client, admin):
    owner = await sign_up(client)
    await _suspend(client, admin, owner.tenant_id)

    response = await _impersonate(client, admin, owner.tenant_id, owner.user_id)

    assert 400 <= response.status_code < 500
    await expect_problem(response, response.status_code)


async def test_an_impersonation_body_with_extra_fields_is_refused(client, admin):
    owner = await sign_up(client)

    response = await client.post(
        f"/v1/admin/tenants/{owner.tenant_id}/impersonate",
        json={"user_id": owner.user_id, "role": "owner"},
        headers=admin.auth,
    )

    await expect_problem(response, 400, "validation_error")


# --- the wall between admin and tenant credentials --------------------------------------------


async def test_tenant_credentials_cannot_reach_admin_routes(client, admin):
    owner = await sign_up(client)
    key = await create_key(client, owner, {"customers": "write", "tenant": "write"})
    impersonation = await _impersonation_token(client, admin, owner.tenant_id, owner.user_id)

    for auth in (owner.auth, bearer(key["secret"]), bearer(impersonation)):
        for method, path in (
            ("GET", "/v1/admin/tenants"),
            ("POST", f"/v1/admin/tenants/{owner.tenant_id}/suspend"),
            ("POST", f"/v1/admin/tenants/{owner.tenant_id}/reactivate"),
            ("GET", f"/v1/admin/tenants/{owner.tenant_id}/flags"),
        ):
            response = await client.open(path, method=method, headers=auth)
            await expect_problem(response, 401, "unauthenticated")
        impersonate = await _impersonate(
            client, PlatformAdmin("", "", auth["Authorization"][7:]), owner.tenant_id, owner.user_id
        )
        await expect_problem(impersonate, 401, "unauthenticated")
    assert (await client.get("/v1/me", headers=owner.auth)).status_code == 200  # still active


async def test_an_admin_token_cannot_reach_tenant_routes(client, admin):
    owner = await sign_up(client)
    customer = await create_customer(client, owner)

    for method, path in (
        ("GET", "/v1/me"),
        ("GET", "/v1/customers"),
        ("GET", f"/v1/customers/{customer['id']}"),
        ("GET", "/v1/team/members"),
        ("GET", "/v1/api-keys"),
        ("GET", "/v1/audit-logs"),
        ("GET", "/v1/auth/sessions"),
    ):
        response = await client.open(path, method=method, headers=admin.auth)
        await expect_problem(response, 401, "unauthenticated")


async def test_admin_routes_without_a_token_are_unauthenticated(client):
    await expect_problem(await client.get("/v1/admin/tenants"), 401, "unauthenticated")
