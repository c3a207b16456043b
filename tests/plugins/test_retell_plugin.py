"""The built-in Retell plugin: the official SDK's calls against tests/fakes/retell_standin.py,
the errors it raises, Retell's signature checked (and, here, made) by the SDK's own helper, and
Retell's posts read into Switchboard's words.

Retell's shapes differ from Vapi's at every turn (an agent is an LLM plus an agent, numbers are
their own ids, costs come in cents per product, the inbound webhook has no call yet, a function
call is one request with no id); the port and CallMessage hide all of it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from switchboard.core.calls.model import (
    AssistantChoice,
    CallDirection,
    CallerContext,
    CallMessageKind,
    CallStatus,
    CostComponent,
    Sentiment,
    Speaker,
    ToolDefinition,
    ToolResult,
)
from switchboard.core.errors import InvalidInput
from switchboard.plugins.manager import PluginCatalog, build_plugin_catalog
from switchboard.plugins.retell import API_BASE_SETTING, RetellConfig, RetellVoice
from switchboard.plugins.retell.messages import RETELL_MESSAGES
from switchboard.ports.providers import IncomingWebhook, ProviderError, WebhookRejected
from switchboard.ports.voice import AgentDefinition, KnowledgeFileUpload, OutboundCallRequest
from tests.fakes.retell_standin import (
    RetellStandIn,
    call_analyzed_event,
    call_ended_event,
    call_inbound_event,
    call_started_event,
    function_call_post,
    retell_call,
    retell_post,
)

API_KEY = "key_0123456789abcdef_tenant_a"
WEBHOOK_KEY = "key_fedcba9876543210_webhooks"
CONFIG = {"api_key": API_KEY}
SERVER_URL = "https://switchboard.example/v1/webhooks/retell/5d2b1c3e-7a8f-4b6c-9d0e-1f2a3b4c5d6e"
CALL_ID = "call_0f1e2d3c4b5a69788796a5b4c3d2e1f0"

FIND = ToolDefinition(
    "find_customer",
    "Look the caller up by phone number or name.",
    {"type": "object", "properties": {"phone": {"type": "string"}}},
)
AGENT = AgentDefinition(
    name="Harbour Plumbing front desk",
    voice_provider="11labs",
    voice_id="11labs-Adrian",
    model_provider="openai",
    model="gpt-4.1-mini",
    system_prompt="You answer the phone for Harbour Plumbing.",
    first_message="Hello, Harbour Plumbing.",
    tools=(FIND,),
    knowledge_file_ids=(),
    server_url=SERVER_URL,
)


@pytest.fixture
def retell_api() -> Iterator[RetellStandIn]:
    with RetellStandIn() as standin:
        yield standin


@pytest.fixture
def catalog(retell_api: RetellStandIn, monkeypatch: pytest.MonkeyPatch) -> PluginCatalog:
    monkeypatch.setenv(API_BASE_SETTING, retell_api.api_base)
    return build_plugin_catalog(load_entry_points=False)


@pytest.fixture
def retell(catalog: PluginCatalog) -> RetellVoice:
    adapter = catalog.build("retell", CONFIG)
    assert isinstance(adapter, RetellVoice)
    return adapter


def deliver(catalog: PluginCatalog, body: dict, config: dict | None = None, key: str = API_KEY):
    headers, raw = retell_post(key, body)
    events = catalog.verify_webhook("retell", config or CONFIG, IncomingWebhook(headers, raw, SERVER_URL))
    assert len(events) == 1
    return events[0], RETELL_MESSAGES.read(events[0])


# --- configuration -------------------------------------------------------------------------------


def test_the_catalog_offers_retell_as_a_voice_provider_with_its_message_reader(catalog):
    description = catalog.describe("retell")
    assert description is not None
    assert (description.capability, description.plugin) == ("voice", "retell")
    assert catalog.specs["retell"].voice is RETELL_MESSAGES
    assert catalog.specs["retell"].secret_fields == {"api_key", "webhook_api_key"}


@pytest.mark.parametrize(
    ("config", "field"),
    [({}, "config.api_key"), ({**CONFIG, "base_url": "http://evil.example"}, "config.base_url")],
)
def test_a_configuration_retell_could_not_work_with_is_refused_naming_the_field(catalog, config, field):
    with pytest.raises(InvalidInput) as raised:
        catalog.validate_config("retell", config)
    assert field in [error.field for error in raised.value.errors]


# --- what is sent --------------------------------------------------------------------------------


async def test_an_agent_is_a_retell_llm_with_custom_tools_and_an_agent_that_runs_it(retell, retell_api):
    agent_id = await retell.save_agent(AGENT, None)

    create_llm, create_agent = retell_api.requests
    assert (create_llm.method, create_llm.path, create_llm.api_key) == ("POST", "/create-retell-llm", API_KEY)
    assert create_llm.json["general_prompt"] == AGENT.system_prompt
    assert create_llm.json["begin_message"] == "Hello, Harbour Plumbing."
    assert create_llm.json["model"] == "gpt-4.1-mini"
    (tool,) = create_llm.json["general_tools"]
    assert (tool["type"], tool["name"], tool["url"]) == ("custom", "find_customer", SERVER_URL)
    assert tool["parameters"] == FIND.parameters
    assert (create_agent.method, create_agent.path) == ("POST", "/create-agent")
    llm_id = next(iter(retell_api.llms))
    assert create_agent.json["response_engine"] == {"type": "retell-llm", "llm_id": llm_id}
    assert create_agent.json["voice_id"] == "11labs-Adrian"
    assert create_agent.json["webhook_url"] == SERVER_URL
    assert retell_api.agents[agent_id]["agent_name"] == AGENT.name


async def test_updating_an_agent_updates_its_llm_and_the_agent_and_knowledge_files_become_bases(
    retell, retell_api
):
    agent_id = await retell.save_agent(AGENT, None)
    base_id = await retell.upload_knowledge_file(
        KnowledgeFileUpload("faq.txt", "text/plain", b"Open 8 to 6.")
    )
    llm_id = next(iter(retell_api.llms))
    before = len(retell_api.requests)

    await retell.save_agent(AgentDefinition(**{**AGENT.__dict__, "knowledge_file_ids": (base_id,)}), agent_id)

    paths = [(r.method, r.path) for r in retell_api.requests[before:]]
    assert paths == [
        ("GET", f"/get-agent/{agent_id}"),
        ("PATCH", f"/update-retell-llm/{llm_id}"),
        ("PATCH", f"/update-agent/{agent_id}"),
    ]
    assert retell_api.llms[llm_id]["knowledge_base_ids"] == [base_id]


async def test_an_agent_whose_llm_was_refused_leaves_no_llm_behind(retell, retell_api):
    bad = AgentDefinition(**{**AGENT.__dict__, "voice_id": ""})

    with pytest.raises(ProviderError) as raised:
        await retell.save_agent(bad, None)

    assert raised.value.retryable is False
    assert retell_api.llms == {}


async def test_deleting_an_agent_deletes_its_llm_too(retell, retell_api):
    agent_id = await retell.save_agent(AGENT, None)

    await retell.delete_agent(agent_id)

    assert retell_api.agents == {}
    assert retell_api.llms == {}


async def test_a_knowledge_file_is_a_knowledge_base_uploaded_as_multipart(retell, retell_api):
    base_id = await retell.upload_knowledge_file(
        KnowledgeFileUpload("price list.pdf", "application/pdf", b"%PDF-1.7 prices")
    )

    request = retell_api.requests[-1]
    assert (request.method, request.path) == ("POST", "/create-knowledge-base")
    assert request.headers["content-type"].startswith("multipart/form-data")
    base = retell_api.knowledge_bases[base_id]
    assert base["knowledge_base_name"] == "price list"
    assert base["knowledge_base_sources"][0]["filename"] == "price list.pdf"
    assert retell_api.file_contents[base_id] == b"%PDF-1.7 prices"


async def test_numbers_are_listed_by_their_number_and_assigned_as_inbound_agent_or_webhook(
    retell, retell_api
):
    agent_id = await retell.save_agent(AGENT, None)
    numbers = await retell.list_phone_numbers()
    assert [(n.provider_id, n.number) for n in numbers] == [
        ("+15550100001", "+15550100001"),
        ("+15550100002", "+15550100002"),
    ]

    await retell.assign_phone_number("+15550100001", agent_id, SERVER_URL)

    request = retell_api.requests[-1]
    assert (request.method, request.path) == ("PATCH", "/update-phone-number/+15550100001")
    assert request.json == {
        "inbound_agents": [{"agent_id": agent_id, "weight": 1}],
        "inbound_webhook_url": None,
    }

    await retell.assign_phone_number("+15550100001", None, SERVER_URL)

    assert retell_api.requests[-1].json == {"inbound_agents": None, "inbound_webhook_url": SERVER_URL}


async def test_an_outbound_call_overrides_the_agent_and_carries_variables_metadata_and_its_key(
    retell, retell_api
):
    agent_id = await retell.save_agent(AGENT, None)
    request = OutboundCallRequest(
        provider_agent_id=agent_id,
        customer_number="+14155550123",
        provider_phone_number_id="+15550100002",
        metadata={"switchboard_call_id": "c-1"},
        variables={"customer_name": "Grace Hopper"},
        idempotency_key="call-c-1",
    )

    first = await retell.start_call(request)
    again = await retell.start_call(request)

    sent = retell_api.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/v2/create-phone-call")
    assert sent.json == {
        "from_number": "+15550100002",
        "to_number": "+14155550123",
        "override_agent_id": agent_id,
        "metadata": {"switchboard_call_id": "c-1"},
        "retell_llm_dynamic_variables": {"customer_name": "Grace Hopper"},
        "idempotency_key": "call-c-1",
    }
    assert first.provider_id == again.provider_id
    assert len(retell_api.calls) == 1


async def test_ending_a_live_call_stops_it_and_one_already_ended_is_only_looked_up(retell, retell_api):
    agent_id = await retell.save_agent(AGENT, None)
    live = await retell.start_call(OutboundCallRequest(agent_id, "+14155550123", None))
    done = await retell.start_call(OutboundCallRequest(agent_id, "+14155550124", None))
    retell_api.finish_call(done.provider_id)

    await retell.end_call(live.provider_id)
    await retell.end_call(done.provider_id)

    assert retell_api.calls[live.provider_id]["call_status"] == "ended"
    assert [(r.method, r.path) for r in retell_api.requests[-2:]] == [
        ("POST", f"/v2/stop-call/{done.provider_id}"),
        ("GET", f"/v2/get-call/{done.provider_id}"),
    ]


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(400, False), (401, False), (404, False), (422, False), (429, True), (500, True), (503, True)],
)
async def test_retell_errors_become_provider_errors_retryable_only_when_a_retry_could_succeed(
    retell, retell_api, status, retryable
):
    retell_api.fail_next(status=status)

    with pytest.raises(ProviderError) as raised:
        await retell.list_phone_numbers()

    assert (raised.value.status, raised.value.retryable) == (status, retryable)


async def test_retell_out_of_reach_is_a_retryable_error():
    with RetellStandIn() as closed:
        base = closed.api_base
    adapter = RetellVoice(RetellConfig.model_validate(CONFIG), base)

    with pytest.raises(ProviderError) as raised:
        await adapter.list_phone_numbers()

    assert raised.value.retryable is True


# --- verification --------------------------------------------------------------------------------


def test_a_post_signed_with_the_api_key_is_accepted(catalog):
    event, message = deliver(catalog, call_started_event(retell_call(CALL_ID)))

    assert event.event_id == f"{CALL_ID}:call_started"
    assert message.status is CallStatus.IN_PROGRESS


def test_a_start_time_beyond_any_date_is_read_as_unknown_not_a_crash(catalog):
    call = {**retell_call(CALL_ID), "start_timestamp": 99999999999999999999}

    _, message = deliver(catalog, call_started_event(call))

    assert (message.status, message.started_at) == (CallStatus.IN_PROGRESS, None)


def test_a_post_signed_with_the_webhook_key_is_accepted_when_one_is_configured(catalog):
    config = {**CONFIG, "webhook_api_key": WEBHOOK_KEY}

    _, message = deliver(catalog, call_started_event(retell_call(CALL_ID)), config, key=WEBHOOK_KEY)

    assert message.kind is CallMessageKind.STATUS


@pytest.mark.parametrize(
    "tamper", ["wrong key", "no signature", "tampered body", "stale", "garbled signature"]
)
def test_a_post_that_cannot_be_proven_genuine_and_fresh_is_rejected(catalog, tamper):
    body = call_started_event(retell_call(CALL_ID))
    stamp = int((time.time() - 3600) * 1000) if tamper == "stale" else None
    headers, raw = retell_post(
        "key_someone_else_entirely" if tamper == "wrong key" else API_KEY, body, timestamp_ms=stamp
    )
    if tamper == "no signature":
        del headers["x-retell-signature"]
    elif tamper == "tampered body":
        raw = raw.replace(b"inbound", b"outbound")
    elif tamper == "garbled signature":
        headers["x-retell-signature"] = "v=1,d=zz"

    with pytest.raises(WebhookRejected):
        catalog.verify_webhook("retell", CONFIG, IncomingWebhook(headers, raw, SERVER_URL))


@pytest.mark.parametrize(
    "text", ["{not json", "[1, 2]", '{"event": "call_ended"}', '{"name": "x", "args": [1]}']
)
def test_a_genuine_but_malformed_post_is_rejected(catalog, text):
    from retell.lib.webhook_auth import symmetric

    headers = {"x-retell-signature": symmetric["sign"](text, API_KEY)}

    with pytest.raises(WebhookRejected):
        catalog.verify_webhook("retell", CONFIG, IncomingWebhook(headers, text.encode(), SERVER_URL))


# --- reading -------------------------------------------------------------------------------------


def test_the_inbound_call_webhook_is_an_assistant_request_with_an_id_its_retries_share(catalog):
    body = call_inbound_event("+14155550199", "+15550100002", agent_id="agent_abc")

    event, message = deliver(catalog, body)
    again, _ = deliver(catalog, body)

    assert message.kind is CallMessageKind.ASSISTANT_REQUEST
    assert (message.direction, message.business_number, message.customer_number) == (
        CallDirection.INBOUND,
        "+15550100002",
        "+14155550199",
    )
    assert message.provider_agent_id == "agent_abc"
    assert message.provider_call_id == ""  # Retell names the call only once it starts
    assert event.event_id == again.event_id


def test_a_custom_function_call_is_one_tool_call_whose_retry_keeps_its_id(catalog):
    call = retell_call(CALL_ID, direction="outbound", metadata={"switchboard_call_id": "c-2"})
    body = function_call_post(call, "find_customer", {"phone": "+14155550123"})

    event, message = deliver(catalog, body)
    retried, retried_message = deliver(catalog, body)

    assert message.kind is CallMessageKind.TOOL_CALLS
    (tool_call,) = message.tool_calls
    assert (tool_call.name, tool_call.arguments) == ("find_customer", {"phone": "+14155550123"})
    assert retried_message.tool_calls[0].id == tool_call.id
    assert event.event_id == retried.event_id
    assert (message.direction, message.business_number, message.customer_number) == (
        CallDirection.OUTBOUND,
        "+15550100001",
        "+14155550123",
    )
    assert message.metadata == {"switchboard_call_id": "c-2"}


def test_call_ended_carries_the_timed_transcript_reason_recording_and_costs_from_cents(catalog):
    event, message = deliver(catalog, call_ended_event(retell_call(CALL_ID)))

    assert event.event_id == f"{CALL_ID}:call_ended"
    assert (message.kind, message.status, message.ended_reason) == (
        CallMessageKind.ENDED,
        CallStatus.ENDED,
        "user_hangup",
    )
    assert message.started_at == datetime(2025, 11, 3, 9, 0, tzinfo=UTC)
    assert message.ended_at == datetime(2025, 11, 3, 9, 2, 5, 500_000, tzinfo=UTC)
    assert [(e.speaker, e.text, e.seconds_from_start, e.duration_seconds) for e in message.transcript] == [
        (Speaker.AGENT, "Hello, Harbour Plumbing.", 0.8, 1.5),
        (Speaker.CUSTOMER, "I need a boiler service.", 4.1, 1.8),
    ]
    assert message.recording_url == "https://dxc03zgurdly9.cloudfront.net/call_recording.wav"
    assert message.cost is not None
    assert message.cost.components == {
        CostComponent.TEXT_TO_SPEECH: 14_642,  # 1.4641667 cents
        CostComponent.MODEL: 414,
        CostComponent.PLATFORM: 2_092,
        CostComponent.TRANSPORT: 3_138,
        CostComponent.SPEECH_TO_TEXT: 502,
    }
    assert message.analysis is None


def test_call_analyzed_carries_the_summary_sentiment_success_and_custom_data(catalog):
    _, message = deliver(catalog, call_analyzed_event(retell_call(CALL_ID)))

    assert message.kind is CallMessageKind.ENDED
    assert message.analysis is not None
    assert message.analysis.summary == "The caller booked a boiler service for Tuesday."
    assert message.analysis.sentiment is Sentiment.POSITIVE
    assert message.analysis.success is True
    assert message.analysis.structured_data == {"service": "boiler"}


# --- answers -------------------------------------------------------------------------------------


def test_an_inbound_call_is_answered_with_the_agent_and_the_callers_dynamic_variables():
    caller = CallerContext("cust-1", "Grace Hopper")

    answer = RETELL_MESSAGES.answer_assistant_request(AssistantChoice("agent_abc", caller))

    assert answer.body == {
        "call_inbound": {"override_agent_id": "agent_abc", "dynamic_variables": caller.as_variables()}
    }


def test_a_refused_inbound_call_is_answered_with_no_agent():
    answer = RETELL_MESSAGES.answer_assistant_request(AssistantChoice(None, refusal="Closed."))

    assert answer.body == {"call_inbound": {}}


def test_a_function_call_is_answered_with_its_result_object_or_its_error():
    ok = RETELL_MESSAGES.answer_tool_calls([ToolResult("t", "find_customer", result={"name": "Grace"})])
    failed = RETELL_MESSAGES.answer_tool_calls(
        [ToolResult("t", "find_customer", error="Nobody by that name.")]
    )

    assert (ok.status, ok.body) == (200, {"name": "Grace"})
    assert (failed.status, failed.body) == (200, {"error": "Nobody by that name."})
