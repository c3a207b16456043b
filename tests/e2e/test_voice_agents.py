"""Voice agents and phone numbers over HTTP, with the worker syncing them to the fake voice
platform: create, change, versions, publish, rollback, clone, delete; numbers synced and
assigned; other tenants see nothing; bad input changes nothing."""

from __future__ import annotations

import base64
import os
import uuid
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest

from switchboard.core.calls.model import BusinessTool
from switchboard.core.calls.tools import TOOL_DEFINITIONS
from switchboard.core.flags.handlers import SetFlags, set_flags
from switchboard.entrypoints.http.blueprints.agents import (
    AgentListOut,
    AgentOut,
    AgentVersionListOut,
    AgentVersionOut,
)
from switchboard.entrypoints.http.blueprints.phone_numbers import PhoneNumberListOut, PhoneNumberOut
from switchboard.plugins.fake.voice import FakeVoiceAccount, fake_number_id
from switchboard.ports.providers import ProviderError
from tests.e2e.admin_helpers import add_member, audit_entries, create_key, only
from tests.e2e.helpers import SignedUp, conforms, error_fields, expect_problem, sign_up
from tests.e2e.payment_helpers import drain, fake_record, ok, outbox_rows
from tests.e2e.team_helpers import bearer

PUBLIC_URL = "http://127.0.0.1:8000"  # the settings' default public_url
FRONT_DESK = {
    "name": "Front desk",
    "voice_provider": "11labs",
    "voice_id": "rachel",
    "model_provider": "openai",
    "model": "gpt-4o-mini",
    "system_prompt": "You answer the phone for Hopper Dental.\nBe brief and kind.",
    "first_message": "Hopper Dental, how can I help?",
    "tools": ["find_customer", "check_availability", "book_appointment"],
}


@dataclass
class Office:
    owner: SignedUp
    label: str = ""
    webhook_url: str = ""

    @property
    def server_url(self) -> str:
        return PUBLIC_URL + self.webhook_url


async def open_office(client: Any, *, connect: bool = True) -> Office:
    """A tenant with the fake voice platform connected (an account of its own there)."""
    office = Office(await sign_up(client, tenant_name="Hopper Dental"))
    if connect:
        office.label = f"dental-{uuid.uuid4().hex[:8]}"
        config = {
            "label": office.label,
            "api_key": "fv_test_" + uuid.uuid4().hex,
            "webhook_secret": "whsec_" + base64.b64encode(os.urandom(24)).decode(),
        }
        body = await ok(
            await client.post(
                "/v1/integrations",
                json={"provider": "fake_voice", "config": config},
                headers=office.owner.auth,
            ),
            201,
        )
        office.webhook_url = body["webhook_url"]
    return office


def account(container: Any, office: Office) -> FakeVoiceAccount:
    return fake_record(container).voice.account(office.label)


async def create_agent(client: Any, office: Office, **fields: Any) -> tuple[dict[str, Any], str]:
    response = await client.post("/v1/agents", json=FRONT_DESK | fields, headers=office.owner.auth)
    body = await ok(response, 201)
    conforms(AgentOut, body)
    assert response.headers["Location"] == f"/v1/agents/{body['id']}"
    return body, response.headers["ETag"]


async def get_agent(client: Any, office: Office, agent_id: str) -> tuple[dict[str, Any], str]:
    response = await client.get(f"/v1/agents/{agent_id}", headers=office.owner.auth)
    body = await ok(response)
    conforms(AgentOut, body)
    return body, response.headers["ETag"]


async def versions_of(client: Any, office: Office, agent_id: str) -> list[dict[str, Any]]:
    body = await ok(await client.get(f"/v1/agents/{agent_id}/versions?limit=100", headers=office.owner.auth))
    conforms(AgentVersionListOut, body)
    data: list[dict[str, Any]] = body["data"]
    return data


async def publish(client: Any, office: Office, agent_id: str, **body: Any) -> dict[str, Any]:
    kwargs = {"json": body} if body else {}
    published = await ok(
        await client.post(f"/v1/agents/{agent_id}/publish", headers=office.owner.auth, **kwargs)
    )
    conforms(AgentOut, published)
    return published


async def sync_numbers(client: Any, office: Office) -> list[dict[str, Any]]:
    body = await ok(await client.post("/v1/phone-numbers/sync", headers=office.owner.auth))
    for number in body["data"]:
        conforms(PhoneNumberOut, number)
    data: list[dict[str, Any]] = body["data"]
    return data


async def synced(client: Any, container: Any, office: Office, agent_id: str) -> dict[str, Any]:
    """Run the worker until the agent's sync settles, and answer the agent then."""

    async def settled() -> bool:
        body, _ = await get_agent(client, office, agent_id)
        return body["sync_status"] in ("synced", "failed")

    await drain(container, settled)
    body, _ = await get_agent(client, office, agent_id)
    return body


# --- the agent's life ----------------------------------------------------------------------------


async def test_an_agent_is_versioned_published_rolled_back_and_cloned_with_the_platform_in_step(
    client, container
):
    office = await open_office(client)
    created, etag = await create_agent(client, office)
    assert (created["current_version"], created["published_version"], created["sync_status"]) == (
        1,
        None,
        None,
    )
    assert created["tools"] == FRONT_DESK["tools"]
    assert created["phone_numbers"] == []
    assert created["knowledge_base"] == []

    changed = await client.patch(
        f"/v1/agents/{created['id']}",
        json={"first_message": "Hello!", "tools": ["take_message"]},
        headers=office.owner.auth | {"If-Match": etag},
    )
    body = await ok(changed)
    assert (body["current_version"], body["published_version"], body["first_message"]) == (2, None, "Hello!")
    stale = await client.patch(
        f"/v1/agents/{created['id']}", json={"name": "Lost"}, headers=office.owner.auth | {"If-Match": etag}
    )
    await expect_problem(stale, 412, "precondition_failed")

    versions = await versions_of(client, office, created["id"])
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[0]["tools"] == ["take_message"]
    assert versions[1]["first_message"] == FRONT_DESK["first_message"]
    assert versions[0]["created_by"] == office.owner.user_id
    first = await ok(await client.get(f"/v1/agents/{created['id']}/versions/1", headers=office.owner.auth))
    conforms(AgentVersionOut, first)
    assert first["tools"] == FRONT_DESK["tools"]

    published = await publish(client, office, created["id"])
    assert (published["published_version"], published["sync_status"]) == (2, "pending")
    live = await synced(client, container, office, created["id"])
    assert live["sync_status"] == "synced"
    assert live["sync_error"] is None
    provider_agent_id = live["provider_agent_id"]
    sent = account(container, office).agents[provider_agent_id]
    assert sent.first_message == "Hello!"
    assert sent.tools == (TOOL_DEFINITIONS[BusinessTool.TAKE_MESSAGE],)
    assert sent.server_url == office.server_url
    assert sent.metadata["agent_id"] == created["id"]
    assert sent.system_prompt == FRONT_DESK["system_prompt"]

    rolled = await ok(
        await client.post(
            f"/v1/agents/{created['id']}/rollback", json={"version": 1}, headers=office.owner.auth
        )
    )
    assert (rolled["current_version"], rolled["published_version"]) == (3, 3)
    assert rolled["first_message"] == FRONT_DESK["first_message"]
    versions = await versions_of(client, office, created["id"])
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert versions[0]["note"] == "rollback to version 1"
    assert versions[0]["tools"] == versions[2]["tools"]
    live = await synced(client, container, office, created["id"])
    assert live["provider_agent_id"] == provider_agent_id  # rewritten in place, not made again
    sent = account(container, office).agents[provider_agent_id]
    assert sent.first_message == FRONT_DESK["first_message"]
    assert [tool.name for tool in sent.tools] == FRONT_DESK["tools"]

    response = await client.post(
        f"/v1/agents/{created['id']}/clone", json={"name": "Night line"}, headers=office.owner.auth
    )
    clone = await ok(response, 201)
    conforms(AgentOut, clone)
    assert clone["id"] != created["id"]
    assert (clone["name"], clone["current_version"], clone["published_version"]) == ("Night line", 1, None)
    assert clone["provider_agent_id"] is None
    assert clone["system_prompt"] == live["system_prompt"]
    assert clone["tools"] == live["tools"]
    assert [v["note"] for v in await versions_of(client, office, clone["id"])] == [
        f"cloned from agent {created['id']}"
    ]

    listed = await ok(await client.get("/v1/agents?limit=1", headers=office.owner.auth))
    conforms(AgentListOut, listed)
    rest = await ok(
        await client.get(f"/v1/agents?limit=1&cursor={listed['next_cursor']}", headers=office.owner.auth)
    )
    assert [a["id"] for a in listed["data"] + rest["data"]] == [clone["id"], created["id"]]
    assert rest["has_more"] is False

    entries = await audit_entries(client, office.owner, target_id=created["id"])
    assert only(entries, "agent.updated")["changes"]["first_message"] == {
        "from": FRONT_DESK["first_message"],
        "to": "Hello!",
    }
    assert only(entries, "agent.published")["changes"]["published_version"] == {"from": None, "to": 2}
    assert only(entries, "agent.rolled_back")["changes"]["rolled_back_to"] == 1
    assert only(entries, "agent.created")["actor"]["id"] == office.owner.user_id
    assert only(await audit_entries(client, office.owner, target_id=clone["id"]), "agent.cloned")


async def test_publishing_a_chosen_version_sends_that_versions_settings(client, container):
    office = await open_office(client)
    created, _ = await create_agent(client, office)
    await ok(
        await client.patch(f"/v1/agents/{created['id']}", json={"name": "Renamed"}, headers=office.owner.auth)
    )

    published = await publish(client, office, created["id"], version=1)

    assert (published["current_version"], published["published_version"]) == (2, 1)
    live = await synced(client, container, office, created["id"])
    assert account(container, office).agents[live["provider_agent_id"]].name == FRONT_DESK["name"]
    assert live["name"] == "Renamed"  # the current settings stay what they are


async def test_a_change_that_changes_nothing_makes_no_version(client):
    office = await open_office(client)
    created, etag = await create_agent(client, office)

    same = await client.patch(
        f"/v1/agents/{created['id']}", json={"name": FRONT_DESK["name"]}, headers=office.owner.auth
    )

    assert (await ok(same))["current_version"] == 1
    assert same.headers["ETag"] == etag
    assert [v["version"] for v in await versions_of(client, office, created["id"])] == [1]


async def test_deleting_an_agent_removes_it_at_the_platform_and_frees_its_numbers(client, container):
    office = await open_office(client)
    created, _ = await create_agent(client, office)
    await publish(client, office, created["id"])
    provider_agent_id = (await synced(client, container, office, created["id"]))["provider_agent_id"]
    number = (await sync_numbers(client, office))[0]
    await ok(
        await client.patch(
            f"/v1/phone-numbers/{number['id']}", json={"agent_id": created["id"]}, headers=office.owner.auth
        )
    )
    _, etag = await get_agent(client, office, created["id"])
    stale = await client.delete(
        f"/v1/agents/{created['id']}", headers=office.owner.auth | {"If-Match": '"1"'}
    )
    await expect_problem(stale, 412)

    gone = await client.delete(f"/v1/agents/{created['id']}", headers=office.owner.auth | {"If-Match": etag})

    assert gone.status_code == 204
    await expect_problem(await client.get(f"/v1/agents/{created['id']}", headers=office.owner.auth), 404)
    await expect_problem(
        await client.get(f"/v1/agents/{created['id']}/versions", headers=office.owner.auth), 404
    )
    freed = await ok(await client.get(f"/v1/phone-numbers/{number['id']}", headers=office.owner.auth))
    assert freed["agent_id"] is None

    platform = account(container, office)

    async def removed() -> bool:
        return provider_agent_id in platform.deleted_agents

    await drain(container, removed)
    assert platform.assignments[fake_number_id(number["number"])] == (None, office.server_url)
    assert only(await audit_entries(client, office.owner, target_id=created["id"]), "agent.deleted")


# --- phone numbers -----------------------------------------------------------------------------


async def test_numbers_are_synced_from_the_platform_and_assigned_to_agents(client, container, database):
    office = await open_office(client)
    created, _ = await create_agent(client, office)

    numbers = await sync_numbers(client, office)

    assert sorted(n["number"] for n in numbers) == ["+15550100001", "+15550100002"]
    assert all(n["agent_id"] is None for n in numbers)
    listed = await ok(await client.get("/v1/phone-numbers", headers=office.owner.auth))
    conforms(PhoneNumberListOut, listed)
    assert {n["id"] for n in listed["data"]} == {n["id"] for n in numbers}

    number = next(n for n in numbers if n["number"] == "+15550100001")
    response = await client.patch(
        f"/v1/phone-numbers/{number['id']}", json={"agent_id": created["id"]}, headers=office.owner.auth
    )
    assigned = await ok(response)
    assert assigned["agent_id"] == created["id"]
    shown, _ = await get_agent(client, office, created["id"])
    assert [n["number"] for n in shown["phone_numbers"]] == ["+15550100001"]
    by_agent = await ok(
        await client.get(f"/v1/phone-numbers?agent_id={created['id']}", headers=office.owner.auth)
    )
    assert [n["id"] for n in by_agent["data"]] == [number["id"]]

    # Unpublished: the platform asks Switchboard which agent answers each call.
    platform = account(container, office)
    number_id = fake_number_id("+15550100001")

    async def routed_to(agent: str | None) -> bool:
        return platform.assignments.get(number_id) == (agent, office.server_url)

    await drain(container, lambda: routed_to(None))
    # Once published, the platform's new agent answers the number itself.
    await publish(client, office, created["id"])
    live = await synced(client, container, office, created["id"])
    await drain(container, lambda: routed_to(live["provider_agent_id"]))

    again = await sync_numbers(client, office)
    assert next(n for n in again if n["number"] == "+15550100001")["agent_id"] == created["id"]
    assert len(outbox_rows(database, UUID(office.owner.tenant_id), "voice.assign_phone_number")) == 2
    assert only(await audit_entries(client, office.owner, target_id=number["id"]), "phone_number.assigned")


async def test_a_number_is_assigned_only_an_agent_of_its_own_tenant(client):
    office = await open_office(client)
    other = await open_office(client)
    foreign, _ = await create_agent(client, other)
    number = (await sync_numbers(client, office))[0]

    refused = await client.patch(
        f"/v1/phone-numbers/{number['id']}", json={"agent_id": foreign["id"]}, headers=office.owner.auth
    )
    problem = await expect_problem(refused, 400, "validation_error")
    assert error_fields(problem) == {"agent_id"}
    unknown = await client.patch(
        f"/v1/phone-numbers/{uuid.uuid4()}", json={"agent_id": None}, headers=office.owner.auth
    )
    await expect_problem(unknown, 404, "not_found")
    missing_field = await client.patch(
        f"/v1/phone-numbers/{number['id']}", json={}, headers=office.owner.auth
    )
    await expect_problem(missing_field, 400)

    unchanged = await ok(await client.get(f"/v1/phone-numbers/{number['id']}", headers=office.owner.auth))
    assert unchanged["agent_id"] is None
    assert unchanged["updated_at"] == number["updated_at"]


async def test_numbers_cannot_be_synced_without_a_voice_provider(client):
    office = await open_office(client, connect=False)

    refused = await client.post("/v1/phone-numbers/sync", headers=office.owner.auth)

    await expect_problem(refused, 409, "provider_not_connected")


# --- the worker and the platform's failures ----------------------------------------------------


async def test_a_refused_sync_is_marked_failed_and_publishing_again_sends_it_anew(client, container):
    office = await open_office(client)
    created, _ = await create_agent(client, office)
    await drain(container)  # nothing else due takes the failure meant for this sync
    fake_record(container).voice.failures.append(
        ProviderError("voice id rachel is not available", retryable=False, status=400)
    )

    await publish(client, office, created["id"])
    failed = await synced(client, container, office, created["id"])

    assert failed["sync_status"] == "failed"
    assert "rachel is not available" in failed["sync_error"]
    assert failed["provider_agent_id"] is None

    await publish(client, office, created["id"])
    live = await synced(client, container, office, created["id"])
    assert (live["sync_status"], live["sync_error"]) == ("synced", None)
    assert live["provider_agent_id"] in account(container, office).agents


async def test_a_sync_the_platform_could_not_take_is_retried_until_it_is_synced(client, container, database):
    office = await open_office(client)
    created, _ = await create_agent(client, office)
    await drain(container)
    fake_record(container).voice.failures.append(
        ProviderError("upstream timeout", retryable=True, status=503)
    )

    await publish(client, office, created["id"])
    live = await synced(client, container, office, created["id"])

    assert (live["sync_status"], live["sync_error"]) == ("synced", None)
    jobs = outbox_rows(database, UUID(office.owner.tenant_id), "voice.sync_agent")
    assert [(job["status"], job["attempts"]) for job in jobs] == [("done", 2)]


async def test_a_sync_with_no_voice_provider_connected_says_so(client, container):
    office = await open_office(client, connect=False)
    created, _ = await create_agent(client, office)

    await publish(client, office, created["id"])
    failed = await synced(client, container, office, created["id"])

    assert failed["sync_status"] == "failed"
    assert failed["sync_error"] == "no voice provider is connected"


# --- isolation, bad input, permissions ---------------------------------------------------------


async def test_another_tenants_agents_and_numbers_are_not_found(client):
    office = await open_office(client)
    created, etag = await create_agent(client, office)
    number = (await sync_numbers(client, office))[0]
    intruder = await open_office(client)
    auth = intruder.owner.auth
    agent_url = f"/v1/agents/{created['id']}"

    for response in (
        await client.get(agent_url, headers=auth),
        await client.patch(agent_url, json={"name": "Mine"}, headers=auth),
        await client.delete(agent_url, headers=auth | {"If-Match": etag}),
        await client.get(f"{agent_url}/versions", headers=auth),
        await client.get(f"{agent_url}/versions/1", headers=auth),
        await client.post(f"{agent_url}/publish", headers=auth),
        await client.post(f"{agent_url}/rollback", json={"version": 1}, headers=auth),
        await client.post(f"{agent_url}/clone", json={"name": "Copy"}, headers=auth),
        await client.get(f"/v1/phone-numbers/{number['id']}", headers=auth),
        await client.patch(f"/v1/phone-numbers/{number['id']}", json={"agent_id": None}, headers=auth),
    ):
        await expect_problem(response, 404, "not_found")
    assert (await ok(await client.get("/v1/agents", headers=auth)))["data"] == []
    still, same_etag = await get_agent(client, office, created["id"])
    assert (still["name"], still["published_version"], same_etag) == (created["name"], None, etag)


async def test_bad_agent_input_is_refused_with_a_problem_and_changes_nothing(client):
    office = await open_office(client)
    created, etag = await create_agent(client, office)
    url = f"/v1/agents/{created['id']}"

    cases = [
        ("post", "/v1/agents", FRONT_DESK | {"tools": ["find_customer", "launch_rockets"]}, {"tools.1"}),
        ("post", "/v1/agents", FRONT_DESK | {"tenant_id": str(uuid.uuid4())}, {"tenant_id"}),
        ("post", "/v1/agents", FRONT_DESK | {"name": "   "}, {"name"}),
        ("post", "/v1/agents", FRONT_DESK | {"system_prompt": "Say \x07 loudly"}, {"system_prompt"}),
        ("post", "/v1/agents", {"name": "Half an agent"}, {"voice_provider", "voice_id"}),
        ("patch", url, {"name": None}, {"name"}),
        ("patch", url, {"tools": "find_customer"}, {"tools"}),
        ("post", f"{url}/rollback", {"version": 1}, {"version"}),  # 1 is the current version
        ("post", f"{url}/rollback", {}, {"version"}),
        ("post", f"{url}/publish", {"version": 7}, {"version"}),
        ("post", f"{url}/publish", {"version": "latest"}, {"version"}),
        ("post", f"{url}/clone", {"name": ""}, {"name"}),
    ]
    for method, path, payload, fields in cases:
        response = await getattr(client, method)(path, json=payload, headers=office.owner.auth)
        problem = await expect_problem(response, 400)
        assert fields <= error_fields(problem), (path, payload, problem)

    await expect_problem(await client.get(f"{url}/versions/2", headers=office.owner.auth), 404)
    await expect_problem(await client.get("/v1/agents?limit=0", headers=office.owner.auth), 400)
    await expect_problem(await client.get("/v1/agents?cursor=nonsense", headers=office.owner.auth), 400)
    still, same_etag = await get_agent(client, office, created["id"])
    assert same_etag == etag
    assert (still["current_version"], still["published_version"]) == (1, None)
    listed = await ok(await client.get("/v1/agents", headers=office.owner.auth))
    assert [a["id"] for a in listed["data"]] == [created["id"]]


async def test_members_and_read_keys_see_agents_but_only_managers_change_them(client, database):
    office = await open_office(client)
    created, _ = await create_agent(client, office)
    member = await add_member(client, database, office.owner)
    reader = bearer((await create_key(client, office.owner, {"agents": "read"}))["secret"])
    writer = bearer((await create_key(client, office.owner, {"agents": "write"}))["secret"])

    for auth in (member.auth, reader):
        await ok(await client.get(f"/v1/agents/{created['id']}", headers=auth))
        await ok(await client.get("/v1/phone-numbers", headers=auth))
        await expect_problem(await client.post("/v1/agents", json=FRONT_DESK, headers=auth), 403, "forbidden")
        await expect_problem(await client.post(f"/v1/agents/{created['id']}/publish", headers=auth), 403)
        await expect_problem(await client.post("/v1/phone-numbers/sync", headers=auth), 403)
    made = await ok(await client.post("/v1/agents", json=FRONT_DESK, headers=writer), 201)
    assert made["current_version"] == 1


async def test_agents_answer_feature_disabled_when_the_voice_flag_is_off(client, container):
    office = await open_office(client)
    tenant_id = UUID(office.owner.tenant_id)
    await set_flags(
        SetFlags(tenant_id, {"voice": False}), uuid.uuid4(), container.units()(tenant_id), container.clock()
    )

    for response in (
        await client.get("/v1/agents", headers=office.owner.auth),
        await client.post("/v1/agents", json=FRONT_DESK, headers=office.owner.auth),
        await client.get("/v1/phone-numbers", headers=office.owner.auth),
    ):
        await expect_problem(response, 403, "feature_disabled")


@pytest.mark.parametrize("number", ["2147483648", "99999999999999999999"])
async def test_a_version_number_beyond_any_version_is_404_not_a_server_error(client, number):
    office = await open_office(client)
    created, _ = await create_agent(client, office)

    response = await client.get(f"/v1/agents/{created['id']}/versions/{number}", headers=office.owner.auth)

    await expect_problem(response, 404)
