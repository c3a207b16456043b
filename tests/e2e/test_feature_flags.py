"""Feature flags: plan defaults, platform-admin overrides with a change log, and enforcement."""

from __future__ import annotations

import uuid
from uuid import UUID

import psycopg
import pytest

from switchboard.adapters.postgres.database import create_platform_admin
from switchboard.core.flags.model import FeatureDisabled
from switchboard.entrypoints.http.blueprints.admin import AdminTokenOut, TenantFlagsOut
from switchboard.entrypoints.http.blueprints.schemas import FlagsOut
from tests.e2e.helpers import PASSWORD, conforms, expect_problem, sign_up

ADMIN_PASSWORD = "platform admin passphrase"


@pytest.fixture(scope="module")
async def admin(database, test_hasher, client) -> dict[str, str]:
    email = f"ops-{uuid.uuid4().hex[:8]}@switchboard.test"
    admin_id = str(uuid.uuid4())
    assert create_platform_admin(database.owner_url, admin_id, email, await test_hasher.hash(ADMIN_PASSWORD))
    response = await client.post("/v1/admin/auth/login", json={"email": email, "password": ADMIN_PASSWORD})
    assert response.status_code == 200, await response.get_data()
    token = conforms(AdminTokenOut, await response.get_json()).access_token
    return {"id": admin_id, "email": email, "Authorization": f"Bearer {token}"}


def _auth(admin: dict[str, str]) -> dict[str, str]:
    return {"Authorization": admin["Authorization"]}


async def test_a_new_tenant_on_the_free_plan_gets_its_plans_defaults(client):
    owner = await sign_up(client)

    flags = conforms(
        FlagsOut, await (await client.get("/v1/tenant/flags", headers=owner.auth)).get_json()
    ).flags

    assert {key: (flag.enabled, flag.source) for key, flag in flags.items()} == {
        "integrations": (True, "plan"),
        "email": (True, "plan"),
        "sms": (False, "plan"),
        "payments": (False, "plan"),
        "voice": (True, "plan"),
        "avatar_video": (False, "plan"),
    }


async def test_an_admin_override_is_what_the_tenant_sees_and_is_logged_with_who_and_what(client, admin):
    owner = await sign_up(client)
    url = f"/v1/admin/tenants/{owner.tenant_id}/flags"

    turned_on = await client.patch(url, json={"flags": {"sms": True}}, headers=_auth(admin))
    back_to_plan = await client.patch(url, json={"flags": {"sms": None}}, headers=_auth(admin))

    assert turned_on.status_code == 200
    assert conforms(TenantFlagsOut, await turned_on.get_json()).flags["sms"].source == "override"
    body = conforms(TenantFlagsOut, await back_to_plan.get_json())
    assert (body.flags["sms"].enabled, body.flags["sms"].source) == (False, "plan")
    assert [(c.key, c.old_value, c.new_value, c.actor) for c in body.changes] == [
        ("sms", True, None, f"platform_admin:{admin['id']}"),
        ("sms", None, True, f"platform_admin:{admin['id']}"),
    ]
    seen = await (await client.get("/v1/tenant/flags", headers=owner.auth)).get_json()
    assert seen["flags"]["sms"] == {
        "enabled": False,
        "source": "plan",
        "description": body.flags["sms"].description,
    }


async def test_setting_a_flag_to_what_it_already_is_logs_nothing(client, admin):
    owner = await sign_up(client)
    url = f"/v1/admin/tenants/{owner.tenant_id}/flags"
    await client.patch(url, json={"flags": {"payments": True}}, headers=_auth(admin))

    again = await (
        await client.patch(url, json={"flags": {"payments": True}}, headers=_auth(admin))
    ).get_json()

    assert len(again["changes"]) == 1


async def test_an_unknown_flag_is_refused_and_nothing_changes(client, admin):
    owner = await sign_up(client)
    url = f"/v1/admin/tenants/{owner.tenant_id}/flags"

    response = await client.patch(
        url, json={"flags": {"sms": True, "teleportation": True}}, headers=_auth(admin)
    )

    problem = await expect_problem(response, 400, "validation_error")
    assert [e["field"] for e in problem["errors"]] == ["teleportation"]
    assert (await (await client.get(url, headers=_auth(admin))).get_json())["changes"] == []


async def test_flags_of_a_tenant_that_does_not_exist_are_not_found(client, admin):
    response = await client.get(f"/v1/admin/tenants/{uuid.uuid4()}/flags", headers=_auth(admin))
    await expect_problem(response, 404, "not_found")


async def test_tenant_tokens_do_not_open_admin_routes_and_admin_tokens_do_not_open_tenant_routes(
    client, admin
):
    owner = await sign_up(client)

    as_tenant = await client.get(f"/v1/admin/tenants/{owner.tenant_id}/flags", headers=owner.auth)
    as_admin = await client.get("/v1/me", headers=_auth(admin))

    await expect_problem(as_tenant, 401, "unauthenticated")
    await expect_problem(as_admin, 401, "unauthenticated")


async def test_admin_sign_in_answers_the_same_for_an_unknown_email_and_a_wrong_password(client, admin):
    wrong_password = await client.post(
        "/v1/admin/auth/login", json={"email": admin["email"], "password": "not the passphrase"}
    )
    unknown = await client.post(
        "/v1/admin/auth/login", json={"email": "nobody@switchboard.test", "password": "x"}
    )
    tenant_user = await sign_up(client)
    tenant_user_as_admin = await client.post(
        "/v1/admin/auth/login", json={"email": tenant_user.email, "password": PASSWORD}
    )

    details = set()
    for response in (wrong_password, unknown, tenant_user_as_admin):
        details.add((await expect_problem(response, 401, "unauthenticated"))["detail"])
    assert len(details) == 1


async def test_a_capability_whose_flag_is_off_cannot_be_connected_until_an_admin_turns_it_on(client, admin):
    owner = await sign_up(client)
    sms = {"provider": "fake_sms", "config": {"api_key": "sk_test_0123456789"}}

    refused = await client.post("/v1/integrations", json=sms, headers=owner.auth)
    await client.patch(
        f"/v1/admin/tenants/{owner.tenant_id}/flags", json={"flags": {"sms": True}}, headers=_auth(admin)
    )
    accepted = await client.post("/v1/integrations", json=sms, headers=owner.auth)

    await expect_problem(refused, 403, "feature_disabled")
    assert accepted.status_code == 201


async def test_a_route_behind_a_flag_that_is_off_answers_403_feature_disabled(client, admin):
    owner = await sign_up(client)
    await client.patch(
        f"/v1/admin/tenants/{owner.tenant_id}/flags",
        json={"flags": {"integrations": False}},
        headers=_auth(admin),
    )

    response = await client.get("/v1/integrations", headers=owner.auth)

    await expect_problem(response, 403, "feature_disabled")


async def test_turning_a_capability_off_stops_its_connected_provider_being_used(client, admin, container):
    owner = await sign_up(client)
    url = f"/v1/admin/tenants/{owner.tenant_id}/flags"
    await client.patch(url, json={"flags": {"sms": True}}, headers=_auth(admin))
    sms = {"provider": "fake_sms", "config": {"api_key": "sk_test_0123456789"}}
    assert (await client.post("/v1/integrations", json=sms, headers=owner.auth)).status_code == 201
    registry = container.provider_registry()
    assert await registry.sms_for(UUID(owner.tenant_id)) is not None

    await client.patch(url, json={"flags": {"sms": False}}, headers=_auth(admin))

    with pytest.raises(FeatureDisabled):
        await registry.sms_for(UUID(owner.tenant_id))


async def test_the_flag_change_log_cannot_be_rewritten_by_the_application(client, admin, database):
    owner = await sign_up(client)
    await client.patch(
        f"/v1/admin/tenants/{owner.tenant_id}/flags", json={"flags": {"sms": True}}, headers=_auth(admin)
    )
    with psycopg.connect(database.app_url) as conn:
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (owner.tenant_id,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE feature_flag_changes SET new_value = false")
