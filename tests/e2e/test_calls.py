"""Calls over HTTP with the fake voice platform: inbound calls told by signed platform messages
(duplicated and out of order) and recorded once; outbound calls placed by the worker, scheduled,
cancelled and hung up; the list and its filters; feedback; recordings through short-lived signed
links whose bytes come from the platform's storage (a local stand-in); bad input changing
nothing; another tenant's call a 404."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import psycopg
import pytest
from dependency_injector import providers

from switchboard.adapters.recording_source import HttpRecordingSource
from switchboard.core.calls.calls import END_CALL, START_CALL
from switchboard.core.calls.model import (
    CallAnalysis,
    CallCost,
    CallDirection,
    CallMessage,
    CallMessageKind,
    CallStatus,
    CostComponent,
    Sentiment,
    Speaker,
    TranscriptEntry,
)
from switchboard.core.calls.records import SWITCHBOARD_CALL_ID
from switchboard.core.flags.handlers import SetFlags, set_flags
from switchboard.entrypoints.http.blueprints.calls import CallListOut, CallOut, RecordingLinkOut
from switchboard.plugins.fake.voice import FakeVoiceAccount, sign_fake_voice_message
from switchboard.ports.providers import ProviderError
from tests.e2e.admin_helpers import audit_entries
from tests.e2e.helpers import SignedUp, conforms, create_customer, error_fields, expect_problem, sign_up
from tests.e2e.payment_helpers import drain, fake_record, ok
from tests.fakes.recording_standin import RecordingStandIn

CALLER = "+14155550123"
DRAFT_AGENT = {
    "name": "Front desk",
    "voice_provider": "11labs",
    "voice_id": "rachel",
    "model_provider": "openai",
    "model": "gpt-4o-mini",
    "system_prompt": "You answer the phone for Hopper Dental.",
    "first_message": "Hopper Dental, how can I help?",
    "tools": ["find_customer"],
}
AUDIO = b"RIFF" + os.urandom(70_000)  # more than one streamed chunk


@dataclass
class Office:
    owner: SignedUp
    label: str
    secret: str
    webhook_url: str
    agent: dict[str, Any]
    number: str
    customer: dict[str, Any]

    @property
    def tenant_id(self) -> UUID:
        return UUID(self.owner.tenant_id)


async def open_office(client: Any, container: Any) -> Office:
    """A tenant on the fake voice platform with a published agent answering one of its numbers,
    and a customer whose phone is CALLER."""
    owner = await sign_up(client, tenant_name="Hopper Dental")
    label = f"calls-{uuid.uuid4().hex[:8]}"
    secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    number = f"+1555{int.from_bytes(os.urandom(3)) % 10_000_000:07d}"
    config = {
        "label": label,
        "api_key": "fv_" + uuid.uuid4().hex,
        "webhook_secret": secret,
        "phone_numbers": [number],
    }
    integration = await ok(
        await client.post(
            "/v1/integrations", json={"provider": "fake_voice", "config": config}, headers=owner.auth
        ),
        201,
    )
    agent = await ok(
        await client.post(
            "/v1/agents",
            json=DRAFT_AGENT,
            headers=owner.auth,
        ),
        201,
    )
    await ok(await client.post(f"/v1/agents/{agent['id']}/publish", headers=owner.auth))
    await drain(container)
    agent = await ok(await client.get(f"/v1/agents/{agent['id']}", headers=owner.auth))
    assert agent["provider_agent_id"], agent
    numbers = await ok(await client.post("/v1/phone-numbers/sync", headers=owner.auth))
    [line] = numbers["data"]
    await ok(
        await client.patch(
            f"/v1/phone-numbers/{line['id']}", json={"agent_id": agent["id"]}, headers=owner.auth
        )
    )
    await drain(container)
    customer = await create_customer(client, owner, name="Grace Hopper", phone="+1 415 555 0123")
    return Office(owner, label, secret, integration["webhook_url"], agent, number, customer)


def jobs(database: Any, tenant_id: UUID, kind: str) -> list[dict[str, Any]]:
    with psycopg.connect(database.owner_url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(
            "SELECT id, next_attempt_at, status FROM outbox WHERE tenant_id = %s AND kind = %s "
            "ORDER BY created_at",
            (tenant_id, kind),
        ).fetchall()


def account(container: Any, office: Office) -> FakeVoiceAccount:
    return fake_record(container).voice.account(office.label)


async def deliver(client: Any, office: Office, message: CallMessage, event_id: str | None = None) -> None:
    headers, body = sign_fake_voice_message(office.secret, message, event_id=event_id)
    response = await client.post(office.webhook_url, data=body, headers=headers)
    assert response.status_code == 200, await response.get_data()


def report(provider_call_id: str, office: Office, **fields: Any) -> CallMessage:
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    defaults: dict[str, Any] = dict(
        direction=CallDirection.INBOUND,
        business_number=office.number,
        customer_number=CALLER,
        ended_reason="customer-ended-call",
        started_at=started,
        ended_at=started + timedelta(seconds=184),
        transcript=(
            TranscriptEntry(Speaker.AGENT, "Hopper Dental, how can I help?", 0.4, 1.8),
            TranscriptEntry(Speaker.CUSTOMER, "I'd like a check-up next week.", 2.6, 2.1),
        ),
        analysis=CallAnalysis("Wants a check-up", {"intent": "booking"}, True, Sentiment.POSITIVE),
        cost=CallCost(
            "USD",
            {CostComponent.TRANSPORT: 21_000, CostComponent.MODEL: 4_200, CostComponent.PLATFORM: 9_000},
        ),
    )
    return CallMessage(CallMessageKind.ENDED, provider_call_id, **(defaults | fields))


def status(provider_call_id: str, reported: CallStatus, **fields: Any) -> CallMessage:
    return CallMessage(CallMessageKind.STATUS, provider_call_id, status=reported, **fields)


async def calls_of(client: Any, office: Office, query: str = "") -> list[dict[str, Any]]:
    body = await ok(await client.get(f"/v1/calls?limit=100{query}", headers=office.owner.auth))
    conforms(CallListOut, body)
    data: list[dict[str, Any]] = body["data"]
    return data


async def call_of(client: Any, office: Office, call_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/calls/{call_id}", headers=office.owner.auth)
    body = await ok(response)
    conforms(CallOut, body)
    assert response.headers["ETag"]
    return body


async def an_ended_inbound_call(client: Any, container: Any, office: Office, **fields: Any) -> dict[str, Any]:
    provider_call_id = "fake_in_" + uuid.uuid4().hex[:10]
    await deliver(client, office, report(provider_call_id, office, **fields))
    await drain(container)
    [call] = [c for c in await calls_of(client, office) if c["provider_call_id"] == provider_call_id]
    return call


async def place(client: Any, office: Office, **body: Any) -> Any:
    headers = office.owner.auth | {"Idempotency-Key": uuid.uuid4().hex}
    return await client.post("/v1/calls", json={"agent_id": office.agent["id"]} | body, headers=headers)


# --- inbound calls ---------------------------------------------------------------------------------


async def test_an_inbound_call_told_twice_and_out_of_order_is_recorded_once_with_its_report(
    client, container
):
    office = await open_office(client, container)
    call_id = "fake_in_" + uuid.uuid4().hex[:10]
    parties = {
        "direction": CallDirection.INBOUND,
        "business_number": office.number,
        "customer_number": CALLER,
    }
    line = CallMessage(
        CallMessageKind.TRANSCRIPT, call_id, transcript=(TranscriptEntry(Speaker.CUSTOMER, "Hello?", 0.2),)
    )
    end = report(call_id, office)

    await deliver(client, office, status(call_id, CallStatus.RINGING, **parties))
    await deliver(client, office, end)
    await deliver(client, office, end, event_id="redelivered-" + uuid.uuid4().hex)  # a new delivery id
    await deliver(client, office, status(call_id, CallStatus.IN_PROGRESS))  # late
    await deliver(client, office, line)  # later still: after the end
    await drain(container)

    [listed] = await calls_of(client, office)
    assert "transcript" not in listed
    call = await call_of(client, office, listed["id"])
    assert call["direction"] == "inbound"
    assert call["status"] == "ended"
    assert call["ended_reason"] == "customer-ended-call"
    assert call["duration_seconds"] == 184
    assert call["customer_id"] == office.customer["id"]
    assert call["agent_id"] == office.agent["id"]
    assert call["business_number"] == office.number
    assert [e["text"] for e in call["transcript"]] == [
        "Hopper Dental, how can I help?",
        "I'd like a check-up next week.",
    ]
    assert (call["summary"], call["success"], call["sentiment"]) == ("Wants a check-up", True, "positive")
    assert call["structured_data"] == {"intent": "booking"}
    assert call["cost"] == {
        "currency": "USD",
        "total_micros": 34_200,
        "components_micros": {
            "transport": 21_000,
            "speech_to_text": 0,
            "model": 4_200,
            "text_to_speech": 0,
            "platform": 9_000,
        },
    }
    assert call["has_recording"] is False

    timeline = await ok(
        await client.get(f"/v1/customers/{office.customer['id']}/timeline", headers=office.owner.auth)
    )
    [entry] = [e for e in timeline["data"] if e["kind"] == "call"]
    assert entry["ref"] == {"object": "call", "id": call["id"]}
    assert entry["summary"] == "Inbound call (3:04)"


async def test_the_platforms_recording_address_is_never_shown(client, container):
    office = await open_office(client, container)
    secret_address = "https://storage.example/recordings/private-" + uuid.uuid4().hex + ".wav"

    call = await an_ended_inbound_call(client, container, office, recording_url=secret_address)

    assert call["has_recording"] is True
    for response in (
        await client.get(f"/v1/calls/{call['id']}", headers=office.owner.auth),
        await client.get("/v1/calls", headers=office.owner.auth),
        await client.get(f"/v1/calls/{call['id']}/recording", headers=office.owner.auth),
    ):
        assert secret_address.encode() not in await response.get_data()
        assert b"private-" not in await response.get_data()


# --- outbound calls --------------------------------------------------------------------------------


async def test_an_outbound_call_is_placed_by_the_worker_and_then_told_by_the_platform(
    client, container, database
):
    office = await open_office(client, container)
    headers = office.owner.auth | {"Idempotency-Key": uuid.uuid4().hex}
    body = {"agent_id": office.agent["id"], "customer_id": office.customer["id"]}

    response = await client.post("/v1/calls", json=body, headers=headers)
    created = await ok(response, 201)
    again = await ok(await client.post("/v1/calls", json=body, headers=headers), 201)

    conforms(CallOut, created)
    assert again == created
    assert response.headers["Location"] == f"/v1/calls/{created['id']}"
    assert (created["status"], created["direction"], created["provider_call_id"]) == (
        "queued",
        "outbound",
        None,
    )
    assert (created["customer_number"], created["business_number"]) == (CALLER, office.number)
    [job] = jobs(database, office.tenant_id, START_CALL)

    await drain(container)

    [(provider_call_id, request)] = account(container, office).calls.items()
    assert request.customer_number == CALLER
    assert request.provider_agent_id == office.agent["provider_agent_id"]
    assert request.metadata[SWITCHBOARD_CALL_ID] == created["id"]
    assert request.idempotency_key == str(job["id"])
    assert request.variables["customer_name"] == "Grace Hopper"
    placed = await call_of(client, office, created["id"])
    assert (placed["provider_call_id"], placed["status"]) == (provider_call_id, "queued")

    echoed = {SWITCHBOARD_CALL_ID: created["id"]}
    await deliver(client, office, status(provider_call_id, CallStatus.IN_PROGRESS, metadata=echoed))
    await deliver(
        client, office, report(provider_call_id, office, direction=CallDirection.OUTBOUND, metadata=echoed)
    )
    await drain(container)
    [ended] = await calls_of(client, office)
    assert ended["id"] == created["id"]
    assert (ended["status"], ended["direction"], ended["duration_seconds"]) == ("ended", "outbound", 184)


async def test_a_call_to_a_number_waits_for_its_time_and_a_cancelled_one_is_never_placed(
    client, container, database
):
    office = await open_office(client, container)
    at = datetime.now(UTC) + timedelta(hours=2)

    created = await ok(await place(client, office, to="+442079460000", scheduled_at=at.isoformat()), 201)
    assert (created["status"], created["customer_id"]) == ("scheduled", None)
    [job] = jobs(database, office.tenant_id, START_CALL)
    assert job["next_attempt_at"] == datetime.fromisoformat(created["scheduled_at"])
    await drain(container)
    assert account(container, office).calls == {}

    cancelled = await ok(await client.post(f"/v1/calls/{created['id']}/end", headers=office.owner.auth))
    assert (cancelled["status"], cancelled["ended_reason"]) == ("ended", "cancelled")
    await expect_problem(
        await client.post(f"/v1/calls/{created['id']}/end", headers=office.owner.auth), 409, "call_ended"
    )
    await drain(container, rounds=3)
    assert account(container, office).calls == {}


async def test_ending_a_live_call_hangs_it_up_at_the_platform(client, container, database):
    office = await open_office(client, container)
    created = await ok(await place(client, office, customer_id=office.customer["id"]), 201)
    await drain(container)
    [provider_call_id] = account(container, office).calls

    response = await client.post(f"/v1/calls/{created['id']}/end", headers=office.owner.auth)
    assert response.status_code == 202
    assert len(jobs(database, office.tenant_id, END_CALL)) == 1
    await drain(container)

    assert account(container, office).ended_calls == [provider_call_id]


async def test_a_call_the_platform_refuses_ends_with_why(client, container):
    office = await open_office(client, container)
    fake_record(container).voice.failures.append(
        ProviderError("fake voice platform: number blocked", retryable=False, status=400)
    )
    created = await ok(await place(client, office, to="+14155550100"), 201)
    await drain(container)

    call = await call_of(client, office, created["id"])
    assert call["status"] == "ended"
    assert call["ended_reason"].startswith("start_failed: ")
    assert "number blocked" in call["ended_reason"]


async def test_bad_calls_are_refused_with_their_field_and_create_nothing(client, container, database):
    office = await open_office(client, container)
    no_phone = await create_customer(client, office.owner, name="No Phone", phone=None)
    now = datetime.now(UTC)
    cases: list[tuple[dict[str, Any], int, str | None, str | None]] = [
        ({}, 400, None, "customer_id"),
        ({"to": CALLER, "customer_id": office.customer["id"]}, 400, None, "customer_id"),
        ({"to": "415-555-0123"}, 400, None, "to"),
        ({"to": "+1234"}, 400, None, "to"),
        ({"to": CALLER, "scheduled_at": (now - timedelta(minutes=1)).isoformat()}, 400, None, "scheduled_at"),
        ({"to": CALLER, "scheduled_at": (now + timedelta(days=31)).isoformat()}, 400, None, "scheduled_at"),
        ({"to": CALLER, "scheduled_at": "2030-01-01T10:00:00"}, 400, None, None),  # no time zone
        ({"to": CALLER, "status": "ended"}, 400, None, None),  # unknown field
        ({"customer_id": no_phone["id"]}, 400, None, "customer_id"),
        ({"customer_id": str(uuid.uuid4())}, 400, None, "customer_id"),
        ({"to": CALLER, "agent_id": str(uuid.uuid4())}, 400, None, "agent_id"),
        ({"to": CALLER, "agent_id": "not-a-uuid"}, 400, None, None),
    ]
    for body, code, problem_code, field in cases:
        problem = await expect_problem(await place(client, office, **body), code, problem_code)
        if field is not None:
            assert field in error_fields(problem), (body, problem)
    draft = DRAFT_AGENT | {"name": "Draft"}
    unpublished = await ok(await client.post("/v1/agents", json=draft, headers=office.owner.auth), 201)
    await expect_problem(
        await place(client, office, to=CALLER, agent_id=unpublished["id"]), 409, "agent_not_published"
    )

    assert await calls_of(client, office) == []
    assert jobs(database, office.tenant_id, START_CALL) == []


async def test_with_voice_turned_off_no_call_is_placed(client, container):
    office = await open_office(client, container)
    await set_flags(
        SetFlags(office.tenant_id, {"voice": False}),
        uuid.uuid4(),
        container.units()(office.tenant_id),
        container.clock(),
    )

    await expect_problem(await place(client, office, to=CALLER), 403, "feature_disabled")
    assert await calls_of(client, office) == []


# --- the list ------------------------------------------------------------------------------------


async def test_the_list_filters_and_pages_newest_first(client, container):
    office = await open_office(client, container)
    long_call = await an_ended_inbound_call(client, container, office)
    short_start = datetime.now(UTC) - timedelta(minutes=1)
    short_call = await an_ended_inbound_call(
        client,
        container,
        office,
        customer_number="+14155550999",
        started_at=short_start,
        ended_at=short_start + timedelta(seconds=30),
        analysis=CallAnalysis("Wrong number", {}, False, Sentiment.NEGATIVE),
    )
    outbound = await ok(await place(client, office, customer_id=office.customer["id"]), 201)

    def ids(calls: list[dict[str, Any]]) -> list[str]:
        return [c["id"] for c in calls]

    assert ids(await calls_of(client, office)) == [outbound["id"], short_call["id"], long_call["id"]]
    assert ids(await calls_of(client, office, "&status=ended")) == [short_call["id"], long_call["id"]]
    assert ids(await calls_of(client, office, "&direction=outbound")) == [outbound["id"]]
    assert ids(await calls_of(client, office, "&sentiment=negative")) == [short_call["id"]]
    assert ids(await calls_of(client, office, "&min_duration=60")) == [long_call["id"]]
    assert ids(await calls_of(client, office, f"&customer_id={office.customer['id']}")) == [
        outbound["id"],
        long_call["id"],
    ]
    assert ids(await calls_of(client, office, f"&agent_id={office.agent['id']}")) == ids(
        await calls_of(client, office)
    )
    after = urlsplit("?" + "created_after=" + short_call["created_at"]).query
    assert ids(await calls_of(client, office, "&" + after.replace("+", "%2B"))) == [outbound["id"]]

    first = await ok(await client.get("/v1/calls?limit=2", headers=office.owner.auth))
    rest = await ok(
        await client.get(f"/v1/calls?limit=2&cursor={first['next_cursor']}", headers=office.owner.auth)
    )
    assert first["has_more"]
    assert not rest["has_more"]
    assert ids(first["data"] + rest["data"]) == [outbound["id"], short_call["id"], long_call["id"]]

    for query in (
        "status=over",
        "min_duration=-1",
        "sentiment=angry",
        "created_after=yesterday",
        "cursor=zz",
        "colour=red",
    ):
        await expect_problem(await client.get(f"/v1/calls?{query}", headers=office.owner.auth), 400)


# --- feedback --------------------------------------------------------------------------------------


async def test_feedback_is_stored_replaced_and_audited(client, container):
    office = await open_office(client, container)
    call = await an_ended_inbound_call(client, container, office)
    url = f"/v1/calls/{call['id']}/feedback"

    first = await ok(
        await client.post(url, json={"rating": 2, "comment": "Too slow"}, headers=office.owner.auth)
    )
    second = await ok(await client.post(url, json={"rating": 5}, headers=office.owner.auth))

    assert (first["feedback"]["rating"], first["feedback"]["comment"]) == (2, "Too slow")
    assert (second["feedback"]["rating"], second["feedback"]["comment"]) == (5, None)
    assert second["feedback"]["given_by"] == office.owner.user_id
    entries = await audit_entries(client, office.owner.auth, target_id=call["id"])
    given = [e for e in entries if e["action"] == "call.feedback_given"]  # newest first
    assert [e["changes"]["rating"] for e in given] == [{"from": 2, "to": 5}, {"from": None, "to": 2}]

    for body in (
        {"rating": 0},
        {"rating": 6},
        {"rating": "5"},
        {"rating": 4.5},
        {},
        {"rating": 3, "comment": "x" * 2001},
        {"rating": 3, "by": "me"},
    ):
        await expect_problem(await client.post(url, json=body, headers=office.owner.auth), 400)
    assert (await call_of(client, office, call["id"]))["feedback"]["rating"] == 5


# --- recordings ------------------------------------------------------------------------------------


@pytest.fixture(scope="module", name="recordings_server")
def recordings_server_fixture(container: Any) -> Iterator[RecordingStandIn]:
    """The platform's storage on loopback, which the app may reach only in this module."""
    with RecordingStandIn() as standin:
        container.recording_source.override(providers.Object(HttpRecordingSource(allow_loopback=True)))
        try:
            yield standin
        finally:
            container.recording_source.reset_last_overriding()


async def test_a_recording_link_streams_the_platforms_bytes_for_five_minutes(
    client, container, recordings_server
):
    office = await open_office(client, container)
    name = uuid.uuid4().hex + ".wav"
    recordings_server.put(name, AUDIO)
    call = await an_ended_inbound_call(
        client, container, office, recording_url=f"{recordings_server.base}/moved/{name}"
    )

    link = await ok(await client.get(f"/v1/calls/{call['id']}/recording", headers=office.owner.auth))
    conforms(RecordingLinkOut, link)
    expires_at = datetime.fromisoformat(link["expires_at"])
    assert timedelta(minutes=4) < expires_at - datetime.now(UTC) <= timedelta(minutes=5)
    path = urlsplit(link["url"]).path
    assert path.startswith("/recordings/")

    response = await client.get(path)  # no bearer token: the link is the credential
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "audio/wav"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert await response.get_data() == AUDIO
    assert recordings_server.paths[-2:] == [f"/moved/{name}", f"/files/{name}"]


async def test_tampered_expired_and_foreign_recording_links_are_refused(client, container, recordings_server):
    office = await open_office(client, container)
    name = uuid.uuid4().hex + ".wav"
    call = await an_ended_inbound_call(
        client, container, office, recording_url=recordings_server.put(name, AUDIO)
    )
    link = await ok(await client.get(f"/v1/calls/{call['id']}/recording", headers=office.owner.auth))
    token = urlsplit(link["url"]).path.removeprefix("/recordings/")
    fetched = len(recordings_server.paths)

    header, claims, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    await expect_problem(
        await client.get(f"/recordings/{header}.{claims}.{flipped}"), 403, "recording_link_invalid"
    )
    await expect_problem(await client.get("/recordings/not-a-token"), 403, "recording_link_invalid")
    old, _ = container.recording_links().issue(
        office.tenant_id, UUID(call["id"]), datetime.now(UTC) - timedelta(minutes=6)
    )
    await expect_problem(await client.get(f"/recordings/{old}"), 403, "recording_link_expired")
    access_token = office.owner.auth["Authorization"].removeprefix("Bearer ")
    await expect_problem(await client.get(f"/recordings/{access_token}"), 403, "recording_link_invalid")
    assert len(recordings_server.paths) == fetched  # nothing was fetched for any of them


async def test_a_recording_the_platform_will_not_hand_over_is_a_502_and_none_at_all_a_404(
    client, container, recordings_server
):
    office = await open_office(client, container)
    gone = await an_ended_inbound_call(
        client, container, office, recording_url=f"{recordings_server.base}/files/missing.wav"
    )
    silent = await an_ended_inbound_call(client, container, office)

    link = await ok(await client.get(f"/v1/calls/{gone['id']}/recording", headers=office.owner.auth))
    await expect_problem(await client.get(urlsplit(link["url"]).path), 502, "recording_unavailable")
    await expect_problem(
        await client.get(f"/v1/calls/{silent['id']}/recording", headers=office.owner.auth), 404, "not_found"
    )


async def test_private_addresses_are_never_fetched_for_a_recording(client, container):
    office = await open_office(client, container)
    call = await an_ended_inbound_call(
        client, container, office, recording_url="http://169.254.169.254/latest/meta-data/"
    )
    link = await ok(await client.get(f"/v1/calls/{call['id']}/recording", headers=office.owner.auth))
    await expect_problem(await client.get(urlsplit(link["url"]).path), 502, "recording_unavailable")


# --- tenants ---------------------------------------------------------------------------------------


async def test_another_tenants_call_is_a_404_for_every_route(client, container):
    office = await open_office(client, container)
    call = await an_ended_inbound_call(
        client, container, office, recording_url="https://storage.example/r.wav"
    )
    stranger = await sign_up(client, tenant_name="Elsewhere")

    assert (await ok(await client.get("/v1/calls", headers=stranger.auth)))["data"] == []
    for method, path, body in (
        ("GET", f"/v1/calls/{call['id']}", None),
        ("POST", f"/v1/calls/{call['id']}/end", None),
        ("POST", f"/v1/calls/{call['id']}/feedback", {"rating": 1}),
        ("GET", f"/v1/calls/{call['id']}/recording", None),
    ):
        response = await client.open(path, method=method, json=body, headers=stranger.auth)
        await expect_problem(response, 404, "not_found")
    unchanged = await call_of(client, office, call["id"])
    assert unchanged["feedback"] is None
    await expect_problem(await client.get(f"/v1/calls/{uuid.uuid4()}", headers=office.owner.auth), 404)
    await expect_problem(await client.get("/v1/calls/not-an-id", headers=office.owner.auth), 404)


@pytest.mark.parametrize("comment", ["Too\x00slow", "\x1b[31mred\x07"])
async def test_feedback_whose_comment_holds_a_control_character_is_400_and_changes_nothing(
    client, container, comment
):
    office = await open_office(client, container)
    call = await an_ended_inbound_call(client, container, office)

    response = await client.post(
        f"/v1/calls/{call['id']}/feedback", json={"rating": 3, "comment": comment}, headers=office.owner.auth
    )

    problem = await expect_problem(response, 400, "validation_error")
    assert error_fields(problem) == {"comment"}
    assert (await call_of(client, office, call["id"]))["feedback"] is None
