"""Every voice provider (fake_voice, vapi, retell) behaves the same behind VoicePort and
VoiceMessages: what the rest of Switchboard relies on holds whichever platform a tenant uses.

Each provider is built from the plugin catalog, as the registry builds it, from a tenant's
configuration; vapi and retell talk HTTP to their local stand-ins (tests/fakes), the fake to
its in-memory record. ``Platform`` says, per provider, what the platform now holds, so each test
checks the effect where it lands rather than the adapter's own word for it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from switchboard.core.calls.model import (
    AssistantChoice,
    CallerContext,
    CallMessageKind,
    CallStatus,
    ToolDefinition,
    ToolResult,
)
from switchboard.plugins.fake.voice import FakeVoiceRecord, sign_fake_voice_message
from switchboard.plugins.manager import PluginCatalog, build_plugin_catalog
from switchboard.ports.providers import IncomingWebhook, ProviderError
from switchboard.ports.voice import (
    AgentDefinition,
    KnowledgeFileUpload,
    OutboundCallRequest,
    VoicePort,
)
from tests.fakes import retell_standin as retell_fakes
from tests.fakes import vapi_standin as vapi_fakes
from tests.fakes.retell_standin import RetellStandIn, retell_post
from tests.fakes.vapi_standin import VapiStandIn, vapi_server_message

NUMBERS = ("+15550100001", "+15550100002")
CUSTOMER = "+14155550123"
SERVER_URL = "https://switchboard.example/v1/webhooks/voice/7d1c2b9e-0000-4000-8000-000000000001"
FAKE_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VAPI_SECRET = "vapi-server-secret-0123"
RETELL_KEY = "key_retell_tenant_a_0123456789"

BOOK = ToolDefinition(
    name="book_appointment",
    description="Book an appointment for the caller.",
    parameters={"type": "object", "properties": {"start": {"type": "string"}}, "required": ["start"]},
)


def definition(name: str = "Front desk", knowledge: tuple[str, ...] = ()) -> AgentDefinition:
    return AgentDefinition(
        name=name,
        voice_provider="11labs",
        voice_id="11labs-Adrian",
        model_provider="openai",
        model="gpt-4.1-mini",
        system_prompt="You answer the phone for Harbour Plumbing.",
        first_message="Hello, Harbour Plumbing.",
        tools=(BOOK,),
        knowledge_file_ids=knowledge,
        server_url=SERVER_URL,
        metadata={"switchboard_agent_id": "a-1"},
    )


@dataclass
class Platform:
    slug: str
    port: VoicePort
    agent_name: Callable[[str], str | None]  # the platform's name for an agent, None if gone
    number_agent: Callable[[str], str | None]  # the agent answering a number (by its id)
    call_ended: Callable[[str], bool]
    file_exists: Callable[[str], bool]
    sign: Callable[[str, str], tuple[dict[str, str], bytes]]  # (kind, call id) -> a signed delivery
    config: dict[str, Any]


def _fake_platform(catalog: PluginCatalog) -> Platform:
    record: FakeVoiceRecord = catalog.manager.get_plugin("fake").record.voice  # type: ignore[union-attr]
    label = f"contract-{uuid.uuid4().hex[:8]}"
    config = {"label": label, "api_key": "fake_key_0123", "webhook_secret": FAKE_SECRET}
    account = record.account(label)

    def sign(kind: str, call_id: str) -> tuple[dict[str, str], bytes]:
        payloads: dict[str, dict[str, Any]] = {
            "assistant_request": {"kind": "assistant_request", "direction": "inbound"},
            "tool_calls": {
                "kind": "tool_calls",
                "tool_calls": [{"id": "tc-1", "name": "book_appointment", "arguments": {"start": "x"}}],
            },
            "status": {"kind": "status", "status": "in_progress"},
            "ended": {"kind": "ended", "status": "ended", "ended_reason": "customer-ended-call"},
        }
        body = {
            **payloads[kind],
            "provider_call_id": call_id,
            "business_number": NUMBERS[0],
            "customer_number": CUSTOMER,
        }
        return sign_fake_voice_message(FAKE_SECRET, body)

    return Platform(
        slug="fake_voice",
        port=catalog.build("fake_voice", config),  # type: ignore[arg-type]
        agent_name=lambda agent_id: account.agents[agent_id].name if agent_id in account.agents else None,
        number_agent=lambda number_id: account.assignments.get(number_id, (None, ""))[0],
        call_ended=lambda call_id: call_id in account.ended_calls,
        file_exists=lambda file_id: file_id in account.files,
        sign=sign,
        config=config,
    )


def _vapi_platform(catalog: PluginCatalog, api: VapiStandIn) -> Platform:
    config = {"api_key": "vapi-private-key-tenant-a", "server_secret": VAPI_SECRET}

    def sign(kind: str, call_id: str) -> tuple[dict[str, str], bytes]:
        call = vapi_fakes.vapi_call(call_id, business_number=NUMBERS[0], customer_number=CUSTOMER)
        message = {
            "assistant_request": lambda: vapi_fakes.assistant_request_message(call, NUMBERS[0]),
            "tool_calls": lambda: vapi_fakes.tool_calls_message(
                call, [("tc-1", "book_appointment", {"start": "x"})], business_number=NUMBERS[0]
            ),
            "status": lambda: vapi_fakes.status_update_message(
                call, "in-progress", business_number=NUMBERS[0]
            ),
            "ended": lambda: vapi_fakes.end_of_call_report_message(call, business_number=NUMBERS[0]),
        }[kind]()
        return vapi_server_message(VAPI_SECRET, message)

    return Platform(
        slug="vapi",
        port=catalog.build("vapi", config),  # type: ignore[arg-type]
        agent_name=lambda agent_id: api.assistants[agent_id]["name"] if agent_id in api.assistants else None,
        number_agent=lambda number_id: api.phone_numbers[number_id].get("assistantId"),
        call_ended=lambda call_id: api.calls[call_id]["status"] == "ended",
        file_exists=lambda file_id: file_id in api.files,
        sign=sign,
        config=config,
    )


def _retell_platform(catalog: PluginCatalog, api: RetellStandIn) -> Platform:
    config = {"api_key": RETELL_KEY}

    def sign(kind: str, call_id: str) -> tuple[dict[str, str], bytes]:
        call = retell_fakes.retell_call(call_id, business_number=NUMBERS[0], customer_number=CUSTOMER)
        body = {
            "assistant_request": lambda: retell_fakes.call_inbound_event(CUSTOMER, NUMBERS[0]),
            "tool_calls": lambda: retell_fakes.function_call_post(call, "book_appointment", {"start": "x"}),
            "status": lambda: retell_fakes.call_started_event(call),
            "ended": lambda: retell_fakes.call_ended_event(call),
        }[kind]()
        return retell_post(RETELL_KEY, body)

    def number_agent(number: str) -> str | None:
        inbound = api.phone_numbers[number].get("inbound_agents") or []
        return inbound[0]["agent_id"] if inbound else None

    return Platform(
        slug="retell",
        port=catalog.build("retell", config),  # type: ignore[arg-type]
        agent_name=lambda agent_id: api.agents[agent_id]["agent_name"] if agent_id in api.agents else None,
        number_agent=number_agent,
        call_ended=lambda call_id: api.calls[call_id]["call_status"] == "ended",
        file_exists=lambda file_id: file_id in api.knowledge_bases,
        sign=sign,
        config=config,
    )


@pytest.fixture(params=["fake_voice", "vapi", "retell"])
def platform(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    if request.param == "fake_voice":
        yield _fake_platform(build_plugin_catalog(load_entry_points=False))
    elif request.param == "vapi":
        with VapiStandIn(phone_numbers=NUMBERS) as api:
            monkeypatch.setenv("SWITCHBOARD_VAPI_API_BASE", api.api_base)
            yield _vapi_platform(build_plugin_catalog(load_entry_points=False), api)
    else:
        with RetellStandIn(phone_numbers=NUMBERS) as api:
            monkeypatch.setenv("SWITCHBOARD_RETELL_API_BASE", api.api_base)
            yield _retell_platform(build_plugin_catalog(load_entry_points=False), api)


async def number_id_of(port: VoicePort, number: str) -> str:
    return next(n.provider_id for n in await port.list_phone_numbers() if n.number == number)


# --- agents --------------------------------------------------------------------------------------


async def test_an_agent_is_created_then_rewritten_under_the_same_id(platform: Platform):
    agent_id = await platform.port.save_agent(definition("Front desk"), None)
    assert platform.agent_name(agent_id) == "Front desk"

    again = await platform.port.save_agent(definition("Night line"), agent_id)

    assert again == agent_id
    assert platform.agent_name(agent_id) == "Night line"


async def test_rewriting_an_agent_the_platform_does_not_have_is_a_refusal_not_worth_retrying(
    platform: Platform,
):
    with pytest.raises(ProviderError) as raised:
        await platform.port.save_agent(definition(), "agent-that-never-was")
    assert raised.value.retryable is False


async def test_a_deleted_agent_is_gone_and_deleting_it_again_is_fine(platform: Platform):
    agent_id = await platform.port.save_agent(definition(), None)

    await platform.port.delete_agent(agent_id)
    await platform.port.delete_agent(agent_id)

    assert platform.agent_name(agent_id) is None


# --- phone numbers -------------------------------------------------------------------------------


async def test_the_accounts_numbers_are_listed_in_e164_with_no_agent_at_first(platform: Platform):
    numbers = await platform.port.list_phone_numbers()

    assert sorted(n.number for n in numbers) == sorted(NUMBERS)
    assert len({n.provider_id for n in numbers}) == len(NUMBERS)
    assert all(n.provider_agent_id is None for n in numbers)


async def test_a_number_assigned_to_an_agent_lists_it_and_unassigning_clears_it(platform: Platform):
    agent_id = await platform.port.save_agent(definition(), None)
    number_id = await number_id_of(platform.port, NUMBERS[1])

    await platform.port.assign_phone_number(number_id, agent_id, SERVER_URL)

    assert platform.number_agent(number_id) == agent_id
    listed = {n.number: n.provider_agent_id for n in await platform.port.list_phone_numbers()}
    assert listed == {NUMBERS[0]: None, NUMBERS[1]: agent_id}

    await platform.port.assign_phone_number(number_id, None, SERVER_URL)

    assert platform.number_agent(number_id) is None


async def test_assigning_an_unknown_number_is_a_refusal_not_worth_retrying(platform: Platform):
    with pytest.raises(ProviderError) as raised:
        await platform.port.assign_phone_number("+15559999999", None, SERVER_URL)
    assert raised.value.retryable is False


# --- calls ---------------------------------------------------------------------------------------


async def test_an_outbound_call_starts_and_ends_and_ending_it_again_is_fine(platform: Platform):
    agent_id = await platform.port.save_agent(definition(), None)
    number_id = await number_id_of(platform.port, NUMBERS[0])

    call = await platform.port.start_call(
        OutboundCallRequest(
            provider_agent_id=agent_id,
            customer_number=CUSTOMER,
            provider_phone_number_id=number_id,
            customer_name="Grace Hopper",
            metadata={"call_id": "c-1"},
            variables={"customer_name": "Grace"},
            idempotency_key="call-c-1",
        )
    )
    assert call.provider_id
    assert not platform.call_ended(call.provider_id)

    await platform.port.end_call(call.provider_id)
    await platform.port.end_call(call.provider_id)

    assert platform.call_ended(call.provider_id)


async def test_an_outbound_call_without_a_number_goes_from_the_accounts_default(platform: Platform):
    agent_id = await platform.port.save_agent(definition(), None)

    call = await platform.port.start_call(OutboundCallRequest(agent_id, CUSTOMER, None))

    assert call.provider_id


async def test_a_call_with_an_agent_the_platform_does_not_have_is_refused_for_good(platform: Platform):
    with pytest.raises(ProviderError) as raised:
        await platform.port.start_call(
            OutboundCallRequest(
                "agent-that-never-was", CUSTOMER, await number_id_of(platform.port, NUMBERS[0])
            )
        )
    assert raised.value.retryable is False


async def test_ending_a_call_the_platform_never_had_is_a_refusal_not_worth_retrying(platform: Platform):
    with pytest.raises(ProviderError) as raised:
        await platform.port.end_call("call-that-never-was")
    assert raised.value.retryable is False


# --- knowledge files -----------------------------------------------------------------------------


async def test_a_knowledge_file_is_stored_given_to_an_agent_then_deleted_twice_without_error(
    platform: Platform,
):
    file_id = await platform.port.upload_knowledge_file(
        KnowledgeFileUpload("price-list.txt", "text/plain", b"Boiler service: 129.50 USD\n")
    )
    assert platform.file_exists(file_id)
    agent_id = await platform.port.save_agent(definition(knowledge=(file_id,)), None)
    assert platform.agent_name(agent_id) == "Front desk"

    await platform.port.delete_knowledge_file(file_id)
    await platform.port.delete_knowledge_file(file_id)

    assert not platform.file_exists(file_id)


# --- messages ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("assistant_request", CallMessageKind.ASSISTANT_REQUEST),
        ("tool_calls", CallMessageKind.TOOL_CALLS),
        ("status", CallMessageKind.STATUS),
        ("ended", CallMessageKind.ENDED),
    ],
)
def test_each_kind_of_message_reads_into_the_same_call_message_whatever_the_platform(
    platform: Platform, kind: str, expected: CallMessageKind
):
    catalog = build_plugin_catalog(load_entry_points=False)
    voice = catalog.specs[platform.slug].voice
    assert voice is not None
    headers, body = platform.sign(kind, "call-42")

    events = catalog.verify_webhook(
        platform.slug, platform.config, IncomingWebhook(headers, body, SERVER_URL)
    )
    message = voice.read(events[0])

    assert message.kind is expected
    assert message.business_number == NUMBERS[0]
    assert message.customer_number == CUSTOMER
    if kind != "assistant_request":  # an inbound call may have no call id at the platform yet
        assert message.provider_call_id == "call-42"
    if kind == "tool_calls":
        assert [(c.name, c.arguments) for c in message.tool_calls] == [("book_appointment", {"start": "x"})]
    if kind == "status":
        assert message.status is CallStatus.IN_PROGRESS
    if kind == "ended":
        assert message.status is CallStatus.ENDED
        assert message.ended_reason


@pytest.mark.parametrize("kind", ["assistant_request", "tool_calls", "status", "ended"])
def test_a_repeated_delivery_has_the_same_event_id_so_the_inbox_keeps_it_once(platform: Platform, kind: str):
    catalog = build_plugin_catalog(load_entry_points=False)
    headers, body = platform.sign(kind, "call-43")
    incoming = IncomingWebhook(headers, body, SERVER_URL)

    first = catalog.verify_webhook(platform.slug, platform.config, incoming)
    second = catalog.verify_webhook(platform.slug, platform.config, incoming)

    assert [e.event_id for e in first] == [e.event_id for e in second]
    json.dumps(first[0].data)  # what the inbox stores is plain JSON


def test_every_platform_answers_with_json_a_choice_a_refusal_and_tool_results(platform: Platform):
    voice = build_plugin_catalog(load_entry_points=False).specs[platform.slug].voice
    assert voice is not None
    caller = CallerContext("cust-1", "Grace Hopper", ("Tue 10:00 boiler service",), ())
    answers = [
        voice.answer_assistant_request(AssistantChoice("agent-1", caller)),
        voice.answer_assistant_request(AssistantChoice(None, refusal="We are closed.")),
        voice.answer_tool_calls([ToolResult("tc-1", "book_appointment", result={"appointment_id": "a-1"})]),
        voice.answer_tool_calls([ToolResult("tc-1", "book_appointment", error="That slot is taken.")]),
        voice.acknowledge(),
    ]

    for answer in answers:
        assert 200 <= answer.status < 300
        json.dumps(answer.body)
    assert "Grace Hopper" in json.dumps(answers[0].body)
    assert "agent-1" in json.dumps(answers[0].body)
    assert "agent-1" not in json.dumps(answers[1].body)
    assert "a-1" in json.dumps(answers[2].body)
    assert "That slot is taken." in json.dumps(answers[3].body)
