"""The fake voice platform (``fake_voice``): what it records for tests to read, the failures a
test can queue, and its signed server messages, which map one to one onto CallMessage."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from switchboard.core.calls.model import (
    AssistantChoice,
    CallAnalysis,
    CallCost,
    CallDirection,
    CallerContext,
    CallMessage,
    CallMessageKind,
    CallStatus,
    CostComponent,
    Sentiment,
    Speaker,
    ToolCall,
    ToolResult,
    TranscriptEntry,
)
from switchboard.core.errors import InvalidInput
from switchboard.plugins.fake import FakeRecord
from switchboard.plugins.fake.voice import (
    FAKE_VOICE_MESSAGES,
    FakeVoice,
    fake_number_id,
    fake_voice_payload,
    sign_fake_voice_message,
)
from switchboard.plugins.manager import PluginCatalog, build_plugin_catalog
from switchboard.ports.providers import IncomingWebhook, ProviderError, WebhookRejected
from switchboard.ports.voice import AgentDefinition, KnowledgeFileUpload, OutboundCallRequest

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
CONFIG = {"label": "acme", "api_key": "fake_key_0123", "webhook_secret": SECRET}
URL = "https://switchboard.example/v1/webhooks/fake_voice/1"

AGENT = AgentDefinition(
    name="Front desk",
    voice_provider="fake",
    voice_id="calm",
    model_provider="fake",
    model="fake-1",
    system_prompt="Be helpful.",
    first_message="Hello!",
    tools=(),
    knowledge_file_ids=(),
    server_url=URL,
)

EVERYTHING = CallMessage(
    kind=CallMessageKind.ENDED,
    provider_call_id="fake_call_000042",
    direction=CallDirection.INBOUND,
    business_number="+15550100001",
    customer_number="+14155550123",
    provider_agent_id="fake_agent_000001",
    status=CallStatus.ENDED,
    ended_reason="customer-ended-call",
    started_at=datetime(2026, 11, 3, 9, 0, tzinfo=UTC),
    ended_at=datetime(2026, 11, 3, 9, 2, 5, tzinfo=UTC),
    transcript=(
        TranscriptEntry(Speaker.AGENT, "Hello!", 0.4, 0.9),
        TranscriptEntry(Speaker.CUSTOMER, "Book me in.", 2.0),
        TranscriptEntry(Speaker.TOOL, "book_appointment: ok", 3.5),
    ),
    analysis=CallAnalysis("Booked.", {"service": "boiler"}, True, Sentiment.POSITIVE),
    cost=CallCost("USD", {CostComponent.TRANSPORT: 12_000, CostComponent.MODEL: 3_400}),
    recording_url="https://recordings.fake.test/42.wav",
    tool_calls=(ToolCall("tc-1", "book_appointment", {"start": "2026-11-10T10:00:00Z"}),),
    metadata={"switchboard_call_id": "c-42"},
)


@pytest.fixture
def catalog() -> PluginCatalog:
    return build_plugin_catalog(load_entry_points=False)


@pytest.fixture
def record(catalog: PluginCatalog) -> FakeRecord:
    found: FakeRecord = catalog.manager.get_plugin("fake").record  # type: ignore[union-attr]
    return found


@pytest.fixture
def voice(catalog: PluginCatalog) -> FakeVoice:
    adapter = catalog.build("fake_voice", CONFIG)
    assert isinstance(adapter, FakeVoice)
    return adapter


def verify(catalog: PluginCatalog, headers: dict[str, str], body: bytes):
    return catalog.verify_webhook("fake_voice", CONFIG, IncomingWebhook(headers, body, URL))


# --- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({**CONFIG, "webhook_secret": "plain-secret-value"}, "config.webhook_secret"),
        ({**CONFIG, "phone_numbers": ["555-0100"]}, "config.phone_numbers"),
        ({**CONFIG, "phone_numbers": ["+15550100001", "+15550100001"]}, "config.phone_numbers"),
        ({"label": "acme", "api_key": "fake_key_0123"}, "config.webhook_secret"),
    ],
)
def test_a_configuration_the_fake_platform_could_not_use_is_refused_naming_the_field(catalog, config, field):
    with pytest.raises(InvalidInput) as raised:
        catalog.validate_config("fake_voice", config)
    assert field in [error.field for error in raised.value.errors]


# --- what it records -----------------------------------------------------------------------------


async def test_what_an_account_was_asked_is_recorded_under_its_label_in_order(voice, record):
    agent_id = await voice.save_agent(AGENT, None)
    file_id = await voice.upload_knowledge_file(KnowledgeFileUpload("faq.txt", "text/plain", b"Open 8-6"))
    number_id = fake_number_id("+15550100001")
    await voice.assign_phone_number(number_id, agent_id, URL)
    call = await voice.start_call(
        OutboundCallRequest(agent_id, "+14155550123", number_id, variables={"a": "b"})
    )

    account = record.voice.account("acme")
    assert account.agents == {agent_id: AGENT}
    assert account.files[file_id].content == b"Open 8-6"
    assert account.assignments == {number_id: (agent_id, URL)}
    assert account.calls[call.provider_id].variables == {"a": "b"}
    assert [operation for operation, _ in account.log] == [
        "save_agent",
        "upload_knowledge_file",
        "assign_phone_number",
        "start_call",
    ]
    assert record.voice.account("another-tenant").agents == {}


async def test_an_agent_that_names_a_file_the_platform_lacks_is_refused(voice):
    with pytest.raises(ProviderError) as raised:
        await voice.save_agent(
            AgentDefinition(**{**AGENT.__dict__, "knowledge_file_ids": ("fake_file_9",)}), None
        )
    assert raised.value.retryable is False


async def test_deleting_an_agent_unassigns_its_numbers(voice, record):
    agent_id = await voice.save_agent(AGENT, None)
    number_id = fake_number_id("+15550100002")
    await voice.assign_phone_number(number_id, agent_id, URL)

    await voice.delete_agent(agent_id)

    assert record.voice.account("acme").assignments[number_id] == (None, URL)
    assert record.voice.account("acme").deleted_agents == [agent_id]


async def test_a_repeated_call_request_with_the_same_key_starts_one_call(voice, record):
    agent_id = await voice.save_agent(AGENT, None)
    request = OutboundCallRequest(agent_id, "+14155550123", None, idempotency_key="call-1")

    first, second = await voice.start_call(request), await voice.start_call(request)

    assert first == second
    assert list(record.voice.account("acme").calls) == [first.provider_id]


async def test_queued_failures_are_raised_in_order_then_calls_succeed_again(voice, record):
    record.voice.failures.extend(
        [ProviderError("down", retryable=True, status=503), ProviderError("no", retryable=False, status=400)]
    )

    with pytest.raises(ProviderError) as first:
        await voice.list_phone_numbers()
    with pytest.raises(ProviderError) as second:
        await voice.save_agent(AGENT, None)
    numbers = await voice.list_phone_numbers()

    assert (first.value.retryable, second.value.retryable) == (True, False)
    assert [n.number for n in numbers] == ["+15550100001", "+15550100002"]


# --- messages ------------------------------------------------------------------------------------


def test_a_signed_message_reads_back_exactly_as_the_call_message_it_was_made_from(catalog):
    headers, body = sign_fake_voice_message(SECRET, EVERYTHING)

    (event,) = verify(catalog, headers, body)

    assert FAKE_VOICE_MESSAGES.read(event) == EVERYTHING
    assert event.event_id == "fake_call_000042:ended"
    assert json.loads(body) == fake_voice_payload(EVERYTHING)


def test_only_kind_and_call_id_are_needed(catalog):
    (event,) = verify(catalog, *sign_fake_voice_message(SECRET, {"kind": "other", "provider_call_id": "c"}))

    assert FAKE_VOICE_MESSAGES.read(event) == CallMessage(CallMessageKind.OTHER, "c")


@pytest.mark.parametrize(
    ("message", "event_id"),
    [
        ({"kind": "status", "provider_call_id": "c", "status": "ringing"}, "c:status:ringing"),
        ({"kind": "assistant_request", "provider_call_id": "c"}, "c:assistant_request"),
        (
            {"kind": "tool_calls", "provider_call_id": "c", "tool_calls": [{"id": "t1", "name": "n"}]},
            "c:tool_calls:t1",
        ),
    ],
)
def test_a_delivery_id_is_the_same_for_every_repeat_of_a_message(catalog, message, event_id):
    assert [e.event_id for e in verify(catalog, *sign_fake_voice_message(SECRET, message))] == [event_id]


@pytest.mark.parametrize("tamper", ["wrong secret", "tampered body", "stale", "no signature"])
def test_a_message_that_cannot_be_proven_genuine_and_fresh_is_rejected(catalog, tamper):
    message = {"kind": "status", "provider_call_id": "c", "status": "ringing"}
    moment = datetime.now(UTC) - timedelta(hours=1) if tamper == "stale" else None
    secret = "whsec_" + "A" * 32 if tamper == "wrong secret" else SECRET
    headers, body = sign_fake_voice_message(secret, message, timestamp=moment)
    if tamper == "tampered body":
        body = body.replace(b"ringing", b"ended")
    if tamper == "no signature":
        del headers["webhook-signature"]

    with pytest.raises(WebhookRejected):
        verify(catalog, headers, body)


@pytest.mark.parametrize(
    "message",
    [
        {"provider_call_id": "c"},
        {"kind": "status", "provider_call_id": "c", "status": "exploded"},
        {"kind": "status", "provider_call_id": ""},
        {"kind": "ended", "provider_call_id": "c", "cost": {"currency": "USD", "components": {"model": -1}}},
        {"kind": "ended", "provider_call_id": "c", "started_at": "2026-11-03T09:00:00"},
        {
            "kind": "tool_calls",
            "provider_call_id": "c",
            "tool_calls": [{"id": "t", "name": "n", "arguments": [1]}],
        },
        [1, 2],
    ],
)
def test_a_signed_message_that_does_not_read_as_a_call_message_is_rejected(catalog, message):
    headers, body = _signed_raw(json.dumps(message).encode())

    with pytest.raises(WebhookRejected):
        verify(catalog, headers, body)


def _signed_raw(body: bytes) -> tuple[dict[str, str], bytes]:
    """Any body, signed as the fake platform signs: the signature holds, the content is what is tested."""
    moment = datetime.now(UTC)
    signature = Webhook(SECRET).sign("msg_raw", moment, body.decode())
    return {
        "webhook-id": "msg_raw",
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature,
    }, body


def test_the_answers_are_neutral_json():
    caller = CallerContext("cust-1", "Grace Hopper")

    chosen = FAKE_VOICE_MESSAGES.answer_assistant_request(AssistantChoice("fake_agent_000001", caller))
    refused = FAKE_VOICE_MESSAGES.answer_assistant_request(AssistantChoice(None, refusal="Closed."))
    results = FAKE_VOICE_MESSAGES.answer_tool_calls(
        [ToolResult("t1", "find_customer", result={"found": True})]
    )

    assert chosen.body == {
        "provider_agent_id": "fake_agent_000001",
        "variables": caller.as_variables(),
        "refusal": None,
    }
    assert refused.body == {"provider_agent_id": None, "variables": {}, "refusal": "Closed."}
    assert results.body == {
        "results": [{"tool_call_id": "t1", "name": "find_customer", "result": {"found": True}, "error": None}]
    }
