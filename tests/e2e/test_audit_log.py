"""The audit log: who did what to which object, from where, under which request; filtered, paged,
exported as CSV, visible only to the tenant's managers, and never changed once written."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import datetime, timedelta

import psycopg
import pyotp
import pytest

from tests.e2e.admin_helpers import (
    PlatformAdmin,
    add_member,
    audit_entries,
    audit_page,
    bearer,
    create_key,
    ip_of,
    new_address,
    only,
    platform_admin,
)
from tests.e2e.helpers import PASSWORD, create_customer, expect_problem, sign_up, tokens_of

CSV_HEADER = [
    "id", "occurred_at", "actor_type", "actor_id", "on_behalf_of_admin", "action",
    "target_type", "target_id", "ip", "user_agent", "request_id", "changes",
]  # fmt: skip


@pytest.fixture(scope="module")
async def admin(client, database, test_hasher) -> PlatformAdmin:
    return await platform_admin(client, database, test_hasher)


def _request_id() -> str:
    return f"audit-test-{uuid.uuid4().hex}"


def _user(user_id: str, admin_id: str | None = None) -> dict:
    return {"type": "user", "id": user_id, "on_behalf_of_admin": admin_id}


# --- who, from where, under which request -----------------------------------------------------


async def test_a_users_action_is_recorded_with_the_user_the_address_the_agent_and_the_request_id(client):
    owner = await sign_up(client)
    address = new_address()
    request_id = _request_id()

    response = await client.post(
        "/v1/customers",
        json={"name": "Grace Hopper", "email": "grace@example.com"},
        headers=owner.auth | {"X-Request-ID": request_id, "User-Agent": "audit-test-agent/1.0"},
        scope_base=address,
    )

    assert response.status_code == 201
    customer = await response.get_json()
    assert response.headers["X-Request-ID"] == request_id
    entry = only(await audit_entries(client, owner, target_id=customer["id"]), "customer.created")
    assert entry["actor"] == _user(owner.user_id)
    assert (entry["target_type"], entry["target_id"]) == ("customer", customer["id"])
    assert entry["ip"] == ip_of(address)
    assert entry["user_agent"] == "audit-test-agent/1.0"
    assert entry["request_id"] == request_id
    assert entry["changes"] == {
        "name": "Grace Hopper",
        "email": "grace@example.com",
        "phone": None,
        "addresses": [],
        "tags": [],
        "notes": None,
        "preferred_channel": "none",
    }
    assert entry["occurred_at"].endswith("Z")


async def test_the_request_id_recorded_is_the_one_the_server_generated_when_none_was_sent(client):
    owner = await sign_up(client)

    response = await client.post("/v1/customers", json={"name": "Ada"}, headers=owner.auth)

    customer = await response.get_json()
    entry = only(await audit_entries(client, owner, target_id=customer["id"]), "customer.created")
    assert entry["request_id"] == response.headers["X-Request-ID"]
    assert entry["request_id"]


async def test_an_api_keys_action_is_recorded_with_the_key_as_actor(client):
    owner = await sign_up(client)
    key = await create_key(client, owner, {"customers": "write"})
    request_id = _request_id()

    response = await client.post(
        "/v1/customers",
        json={"name": "Via Key"},
        headers=bearer(key["secret"]) | {"X-Request-ID": request_id},
    )

    customer = await response.get_json()
    entry = only(await audit_entries(client, owner, target_id=customer["id"]), "customer.created")
    assert entry["actor"] == {"type": "api_key", "id": key["id"], "on_behalf_of_admin": None}
    assert entry["request_id"] == request_id


async def test_a_platform_admins_action_is_recorded_with_the_admin_as_actor(client, admin):
    owner = await sign_up(client)
    request_id = _request_id()

    response = await client.patch(
        f"/v1/admin/tenants/{owner.tenant_id}/flags",
        json={"flags": {"sms": True}},
        headers=admin.auth | {"X-Request-ID": request_id},
    )

    assert response.status_code == 200
    entry = only(await audit_entries(client, owner), "feature_flag.changed")
    assert entry["actor"] == {"type": "platform_admin", "id": admin.id, "on_behalf_of_admin": None}
    assert (entry["target_type"], entry["target_id"]) == ("feature_flag", "sms")
    assert entry["changes"] == {"sms": {"from": None, "to": True}}
    assert entry["request_id"] == request_id


async def test_an_impersonated_action_is_recorded_as_the_user_on_behalf_of_the_admin(client, admin):
    owner = await sign_up(client)
    impersonation = await client.post(
        f"/v1/admin/tenants/{owner.tenant_id}/impersonate",
        json={"user_id": owner.user_id},
        headers=admin.auth,
    )
    token = (await impersonation.get_json())["access_token"]
    request_id = _request_id()

    response = await client.post(
        "/v1/customers", json={"name": "Support Made"}, headers=bearer(token) | {"X-Request-ID": request_id}
    )

    customer = await response.get_json()
    entry = only(await audit_entries(client, owner, target_id=customer["id"]), "customer.created")
    assert entry["actor"] == _user(owner.user_id, admin.id)
    assert entry["request_id"] == request_id
    started = only(await audit_entries(client, owner), "admin.impersonation_started")
    assert started["actor"] == {"type": "platform_admin", "id": admin.id, "on_behalf_of_admin": None}
    assert started["target_id"] == owner.user_id


# --- what gets recorded -----------------------------------------------------------------------


async def test_signing_in_is_recorded_as_auth_signed_in(client):
    owner = await sign_up(client)
    address = new_address()

    response = await client.post(
        "/v1/auth/login",
        json={"email": owner.email, "password": PASSWORD},
        headers={"X-Request-ID": (request_id := _request_id())},
        scope_base=address,
    )

    await tokens_of(response)
    entry = only(await audit_entries(client, owner, action="auth.signed_in"), "auth.signed_in")
    assert entry["actor"] == _user(owner.user_id)
    assert (entry["target_type"], entry["target_id"]) == ("user", owner.user_id)
    assert entry["changes"] == {"method": "password"}
    assert (entry["ip"], entry["request_id"]) == (ip_of(address), request_id)


async def test_a_wrong_password_for_a_known_account_is_recorded_as_auth_sign_in_failed(client):
    owner = await sign_up(client)
    address = new_address()
    request_id = _request_id()

    wrong = "vq7-tidal-rk-wrong-" + uuid.uuid4().hex

    response = await client.post(
        "/v1/auth/login",
        json={"email": owner.email, "password": wrong},
        headers={"X-Request-ID": request_id, "User-Agent": "guesser/0.1"},
        scope_base=address,
    )

    await expect_problem(response, 401, "unauthenticated")
    entry = only(await audit_entries(client, owner), "auth.sign_in_failed")
    assert entry["actor"] == _user(owner.user_id)
    assert (entry["target_type"], entry["target_id"]) == ("user", owner.user_id)
    assert (entry["ip"], entry["user_agent"], entry["request_id"]) == (
        ip_of(address),
        "guesser/0.1",
        request_id,
    )
    assert wrong not in json.dumps(entry)


async def test_enabling_mfa_is_recorded_as_mfa_enabled(client):
    owner = await sign_up(client)
    enrolment = await (await client.post("/v1/auth/mfa/totp", headers=owner.auth)).get_json()
    request_id = _request_id()

    confirmed = await client.post(
        "/v1/auth/mfa/totp/confirm",
        json={"code": pyotp.TOTP(enrolment["secret"]).now()},
        headers=owner.auth | {"X-Request-ID": request_id},
        scope_base=new_address(),
    )

    assert confirmed.status_code == 200, await confirmed.get_data()
    entry = only(await audit_entries(client, owner), "mfa.enabled")
    assert entry["actor"] == _user(owner.user_id)
    assert entry["request_id"] == request_id
    assert enrolment["secret"] not in json.dumps(await audit_entries(client, owner))


async def test_a_role_change_is_recorded_with_the_old_and_new_role(client, database):
    owner = await sign_up(client)
    member = await add_member(client, database, owner)
    request_id = _request_id()

    changed = await client.patch(
        f"/v1/team/members/{member.user_id}",
        json={"role": "admin"},
        headers=owner.auth | {"X-Request-ID": request_id},
    )

    assert changed.status_code == 200
    entry = only(await audit_entries(client, owner), "member.role_changed")
    assert entry["actor"] == _user(owner.user_id)
    assert (entry["target_type"], entry["target_id"]) == ("user", member.user_id)
    assert entry["changes"] == {"role": {"from": "member", "to": "admin"}}
    assert entry["request_id"] == request_id


async def test_creating_and_revoking_a_key_are_recorded_without_its_secret(client):
    owner = await sign_up(client)
    key = await create_key(client, owner, {"customers": "read"}, name="Recorded")
    request_id = _request_id()

    await client.delete(f"/v1/api-keys/{key['id']}", headers=owner.auth | {"X-Request-ID": request_id})

    entries = await audit_entries(client, owner, target_type="api_key")
    created, revoked = only(entries, "api_key.created"), only(entries, "api_key.revoked")
    assert created["target_id"] == revoked["target_id"] == key["id"]
    assert created["changes"]["name"] == "Recorded"
    assert created["changes"]["scopes"] == {"customers": "read"}
    assert revoked["request_id"] == request_id
    assert created["actor"] == revoked["actor"] == _user(owner.user_id)
    assert key["secret"] not in json.dumps(entries)


async def test_connecting_an_integration_is_recorded_as_integration_created(client):
    owner = await sign_up(client)
    secret = f"sk_test_{uuid.uuid4().hex}"

    response = await client.post(
        "/v1/integrations", json={"provider": "fake_email", "config": {"api_key": secret}}, headers=owner.auth
    )

    assert response.status_code == 201, await response.get_data()
    integration = await response.get_json()
    entry = only(await audit_entries(client, owner), "integration.created")
    assert (entry["target_type"], entry["target_id"]) == ("integration", integration["id"])
    assert entry["actor"] == _user(owner.user_id)
    assert secret not in json.dumps(entry)


async def test_updating_a_customer_records_each_changed_field_from_and_to(client):
    owner = await sign_up(client)
    customer = await create_customer(client, owner, name="Grace Hopper", email="grace@example.com")

    response = await client.patch(
        f"/v1/customers/{customer['id']}",
        json={"name": "Grace B. Hopper", "email": "gbh@example.com", "phone": customer["phone"]},
        headers=owner.auth,
    )

    assert response.status_code == 200
    entry = only(await audit_entries(client, owner, target_id=customer["id"]), "customer.updated")
    assert entry["changes"] == {
        "name": {"from": "Grace Hopper", "to": "Grace B. Hopper"},
        "email": {"from": "grace@example.com", "to": "gbh@example.com"},
    }


async def test_deleting_a_customer_is_recorded_with_what_it_was(client):
    owner = await sign_up(client)
    customer = await create_customer(client, owner, name="Gone Soon", email="gone@example.com")

    response = await client.delete(f"/v1/customers/{customer['id']}", headers=owner.auth)

    assert response.status_code == 204
    entries = await audit_entries(client, owner, target_id=customer["id"])
    assert [entry["action"] for entry in entries] == ["customer.deleted", "customer.created"]
    assert entries[0]["changes"]["name"] == "Gone Soon"
    assert entries[0]["changes"]["email"] == "gone@example.com"


async def test_a_refused_request_records_nothing(client, database):
    owner = await sign_up(client)
    member = await add_member(client, database, owner)
    before = await audit_entries(client, owner)

    await expect_problem(
        await client.patch(f"/v1/team/members/{owner.user_id}", json={"role": "member"}, headers=member.auth),
        403,
    )
    await expect_problem(await client.post("/v1/customers", json={"name": ""}, headers=owner.auth), 400)

    assert await audit_entries(client, owner) == before


# --- filters and pages ------------------------------------------------------------------------


async def test_filters_by_action_actor_and_target(client, database):
    owner = await sign_up(client)
    admin_member = await add_member(client, database, owner, role="admin")
    mine = await create_customer(client, owner, name="Mine")
    theirs = await create_customer(client, admin_member, name="Theirs")
    await client.patch(f"/v1/customers/{mine['id']}", json={"name": "Mine Renamed"}, headers=owner.auth)

    by_action = await audit_entries(client, owner, action="customer.created")
    by_actor = await audit_entries(client, owner, actor_id=admin_member.user_id)
    by_target_type = await audit_entries(client, owner, target_type="customer")
    by_target = await audit_entries(client, owner, target_id=mine["id"])
    combined = await audit_entries(client, owner, target_type="customer", actor_id=owner.user_id)

    assert [e["target_id"] for e in by_action] == [theirs["id"], mine["id"]]
    assert {e["actor"]["id"] for e in by_actor} == {admin_member.user_id}
    assert "customer.created" in {e["action"] for e in by_actor}
    assert [e["action"] for e in by_target_type] == [
        "customer.updated",
        "customer.created",
        "customer.created",
    ]
    assert [e["action"] for e in by_target] == ["customer.updated", "customer.created"]
    assert [(e["action"], e["target_id"]) for e in combined] == [
        ("customer.updated", mine["id"]),
        ("customer.created", mine["id"]),
    ]
    assert await audit_entries(client, owner, action="no.such_action") == []


async def test_filters_by_time_exclude_entries_outside_the_range(client):
    owner = await sign_up(client)
    first = await create_customer(client, owner, name="First")
    second = await create_customer(client, owner, name="Second")
    third = await create_customer(client, owner, name="Third")
    created = {
        e["target_id"]: e["occurred_at"]
        for e in await audit_entries(client, owner, action="customer.created")
    }

    after_first = await audit_entries(
        client, owner, action="customer.created", occurred_after=created[first["id"]]
    )
    before_third = await audit_entries(
        client, owner, action="customer.created", occurred_before=created[third["id"]]
    )
    between = await audit_entries(
        client,
        owner,
        action="customer.created",
        occurred_after=created[first["id"]],
        occurred_before=created[third["id"]],
    )
    future = (datetime.fromisoformat(created[third["id"]]) + timedelta(days=1)).isoformat()

    assert [e["target_id"] for e in after_first] == [third["id"], second["id"]]
    assert [e["target_id"] for e in before_third] == [second["id"], first["id"]]
    assert [e["target_id"] for e in between] == [second["id"]]
    assert await audit_entries(client, owner, occurred_after=future) == []


async def test_an_invalid_filter_is_refused_with_400(client):
    owner = await sign_up(client)

    for params in (
        {"actor_id": "not-a-uuid"},
        {"occurred_after": "yesterday"},
        {"occurred_after": "2024-01-01T00:00:00"},  # no timezone
        {"limit": 0},
        {"limit": 101},
        {"cursor": "not-a-cursor"},
        {"colour": "blue"},
    ):
        response = await client.get("/v1/audit-logs", query_string=params, headers=owner.auth)
        await expect_problem(response, 400)


async def test_pages_walk_the_whole_log_newest_first_without_gaps_or_repeats(client):
    owner = await sign_up(client)
    for number in range(7):
        await create_customer(client, owner, name=f"Customer {number}")
    everything = await audit_entries(client, owner, limit=100)

    paged = await audit_entries(client, owner, limit=2)
    first_page = await audit_page(client, owner.auth, limit=2)

    assert len(everything) >= 9  # tenant.created, user.registered, seven customer.created
    assert [e["id"] for e in paged] == [e["id"] for e in everything]
    assert len({e["id"] for e in paged}) == len(paged)
    times = [datetime.fromisoformat(e["occurred_at"]) for e in everything]
    assert times == sorted(times, reverse=True)
    assert first_page["has_more"] is True
    assert first_page["next_cursor"]


async def test_an_entry_written_between_pages_neither_shifts_nor_repeats_the_next_page(client):
    owner = await sign_up(client)
    for number in range(4):
        await create_customer(client, owner, name=f"Customer {number}")
    first = await audit_page(client, owner.auth, limit=3)

    newer = await create_customer(client, owner, name="Newer")
    rest = await audit_entries(client, owner, limit=3, cursor=first["next_cursor"])

    seen = [e["id"] for e in first["data"]] + [e["id"] for e in rest]
    assert len(seen) == len(set(seen))
    assert newer["id"] not in {e["target_id"] for e in rest}
    everything = await audit_entries(client, owner)
    assert seen == [e["id"] for e in everything][1:]


# --- who may read it --------------------------------------------------------------------------


async def test_a_member_cannot_read_or_export_the_log(client, database):
    owner = await sign_up(client)
    member = await add_member(client, database, owner)

    await expect_problem(await client.get("/v1/audit-logs", headers=member.auth), 403, "forbidden")
    await expect_problem(await client.get("/v1/audit-logs/export", headers=member.auth), 403, "forbidden")


async def test_an_admin_member_can_read_the_log(client, database):
    owner = await sign_up(client)
    admin_member = await add_member(client, database, owner, role="admin")

    entries = await audit_entries(client, admin_member)

    assert {"tenant.created", "member.added"} <= {e["action"] for e in entries}


async def test_a_key_reads_the_log_only_with_the_audit_logs_scope(client):
    owner = await sign_up(client)
    reader = await create_key(client, owner, {"audit_logs": "read"})
    other = await create_key(client, owner, {"customers": "write"})

    entries = await audit_entries(client, bearer(reader["secret"]))
    refused = await client.get("/v1/audit-logs", headers=bearer(other["secret"]))

    assert "tenant.created" in {e["action"] for e in entries}
    await expect_problem(refused, 403, "forbidden")


async def test_the_log_is_unauthenticated_without_a_token(client):
    await expect_problem(await client.get("/v1/audit-logs"), 401, "unauthenticated")
    await expect_problem(await client.get("/v1/audit-logs/export"), 401, "unauthenticated")


async def test_another_tenant_never_sees_these_entries(client):
    owner = await sign_up(client)
    stranger = await sign_up(client)
    customer = await create_customer(client, owner)
    mine = {e["id"] for e in await audit_entries(client, owner)}

    theirs = await audit_entries(client, stranger)
    targeted = await audit_entries(client, stranger, target_id=customer["id"])
    by_actor = await audit_entries(client, stranger, actor_id=owner.user_id)
    exported = await client.get("/v1/audit-logs/export", headers=stranger.auth)

    assert mine.isdisjoint({e["id"] for e in theirs})
    assert {e["actor"]["id"] for e in theirs if e["actor"]["type"] == "user"} == {stranger.user_id}
    assert targeted == []
    assert by_actor == []
    text = (await exported.get_data()).decode()
    assert customer["id"] not in text
    assert all(entry_id not in text for entry_id in mine)


# --- export -----------------------------------------------------------------------------------


async def _export(client, who, **params) -> list[list[str]]:
    response = await client.get("/v1/audit-logs/export", query_string=params, headers=who.auth)
    assert response.status_code == 200, await response.get_data()
    assert response.headers["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO((await response.get_data()).decode())))


async def test_the_export_is_csv_with_a_header_and_one_row_per_entry(client):
    owner = await sign_up(client)
    await create_customer(client, owner)
    entries = await audit_entries(client, owner)

    rows = await _export(client, owner)

    assert rows[0] == CSV_HEADER
    assert [row[0] for row in rows[1:]] == [e["id"] for e in entries]
    for row, entry in zip(rows[1:], entries, strict=True):
        record = dict(zip(CSV_HEADER, row, strict=True))
        assert record["action"] == entry["action"]
        assert record["actor_type"] == entry["actor"]["type"]
        assert record["actor_id"] == (entry["actor"]["id"] or "")
        assert record["target_id"] == (entry["target_id"] or "")
        assert record["request_id"] == (entry["request_id"] or "")
        assert json.loads(record["changes"]) == entry["changes"]


async def test_the_export_applies_the_filters(client):
    owner = await sign_up(client)
    first = await create_customer(client, owner, name="First")
    await create_customer(client, owner, name="Second")
    await client.patch(f"/v1/customers/{first['id']}", json={"name": "First Renamed"}, headers=owner.auth)

    created = await _export(client, owner, action="customer.created")
    of_first = await _export(client, owner, target_id=first["id"])

    assert [row[5] for row in created[1:]] == ["customer.created", "customer.created"]
    assert [row[5] for row in of_first[1:]] == ["customer.updated", "customer.created"]
    assert {row[7] for row in of_first[1:]} == {first["id"]}


async def test_the_export_of_more_than_one_page_has_every_entry_once(client):
    owner = await sign_up(client)
    key = await create_key(client, owner, {"customers": "write"})
    for number in range(103):
        response = await client.post(
            "/v1/customers", json={"name": f"C{number}"}, headers=bearer(key["secret"])
        )
        assert response.status_code == 201

    rows = await _export(client, owner, action="customer.created")

    ids = [row[0] for row in rows[1:]]
    assert len(ids) == len(set(ids)) == 103
    assert ids == [e["id"] for e in await audit_entries(client, owner, action="customer.created")]


async def test_export_cells_that_a_spreadsheet_would_run_as_formulas_are_defused(client):
    owner = await sign_up(client)
    agents = ['=HYPERLINK("http://evil.example")', "+1+2", "-3+4", "@SUM(A1:A2)"]
    for agent in agents:
        response = await client.post(
            "/v1/customers", json={"name": "X"}, headers=owner.auth | {"User-Agent": agent}
        )
        assert response.status_code == 201

    rows = await _export(client, owner, action="customer.created")

    exported_agents = [dict(zip(CSV_HEADER, row, strict=True))["user_agent"] for row in rows[1:]]
    assert sorted(exported_agents) == sorted("'" + agent for agent in agents)
    for row in rows[1:]:
        assert all(cell[:1] not in ("=", "+", "-", "@") for cell in row), row


async def test_an_unknown_export_parameter_is_refused_with_400(client):
    owner = await sign_up(client)

    await expect_problem(await client.get("/v1/audit-logs/export?limit=5", headers=owner.auth), 400)


# --- append-only ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET action = 'customer.tampered' WHERE tenant_id = %(tenant)s",
        "DELETE FROM audit_events WHERE tenant_id = %(tenant)s",
        "TRUNCATE audit_events",
    ],
)
async def test_the_applications_database_role_cannot_change_or_delete_entries(client, database, statement):
    owner = await sign_up(client)
    await create_customer(client, owner)
    before = await audit_entries(client, owner)

    with psycopg.connect(database.app_url) as conn:
        conn.execute("SELECT set_config('app.tenant_id', %s, false)", (owner.tenant_id,))
        assert conn.execute("SELECT count(*) FROM audit_events").fetchone()[0] == len(before)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement, {"tenant": owner.tenant_id})

    assert await audit_entries(client, owner) == before


async def test_the_applications_database_role_can_append_an_entry_only_for_its_own_tenant(client, database):
    owner = await sign_up(client)
    stranger = await sign_up(client)
    insert = (
        "INSERT INTO audit_events (tenant_id, id, occurred_at, actor_type, action) "
        "VALUES (%s, %s, now(), 'system', 'forged.entry')"
    )

    with psycopg.connect(database.app_url) as conn:
        conn.execute("SELECT set_config('app.tenant_id', %s, false)", (owner.tenant_id,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(insert, (stranger.tenant_id, uuid.uuid4()))

    assert await audit_entries(client, stranger, action="forged.entry") == []


async def test_logging_in_with_a_wrong_password_for_an_unknown_account_writes_no_entry_anywhere(
    client, database
):
    email = f"nobody-{uuid.uuid4().hex[:10]}@example.com"

    response = await client.post(
        "/v1/auth/login",
        json={"email": email, "password": "vq7-tidal-rk-" + uuid.uuid4().hex},
        scope_base=new_address(),
    )

    await expect_problem(response, 401, "unauthenticated")

    with psycopg.connect(database.owner_url) as conn:
        found = conn.execute("SELECT count(*) FROM audit_events WHERE changes::text LIKE %s", (f"%{email}%",))
        assert found.fetchone()[0] == 0
