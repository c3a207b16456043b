"""The built-in Vapi plugin: what it sends to Vapi's API (against tests/fakes/vapi_standin.py),
the errors it raises, how it proves Vapi's server messages, and how it reads them.

The sample messages are shaped as Vapi's documentation shows them (``message.type``, ``call``,
``toolCallList``, ``artifact.messages`` with ``secondsFromStart``, ``costBreakdown`` in US
dollars); the behaviour every voice provider shares is in test_voice_contract.py.
"""

from __future__ import annotations

import json
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
from switchboard.plugins.vapi import API_BASE_SETTING, VapiConfig, VapiVoice
from switchboard.plugins.vapi.messages import VAPI_MESSAGES
from switchboard.ports.providers import IncomingWebhook, ProviderError, WebhookRejected
from switchboard.ports.voice import AgentDefinition, KnowledgeFileUpload, OutboundCallRequest
from tests.fakes.vapi_standin import (
    VapiStandIn,
    assistant_request_message,
    end_of_call_report_message,
    status_update_message,
    tool_calls_message,
    transcript_message,
    vapi_call,
    vapi_server_message,
)

API_KEY = "2f6c1d7e-tenant-a-private-key"
SERVER_SECRET = "vapi-server-secret-tenant-a"
HMAC_SECRET = "vapi-hmac-secret-tenant-a"
CONFIG = {"api_key": API_KEY, "server_secret": SERVER_SECRET}
HMAC_CONFIG = {"api_key": API_KEY, "hmac_secret": HMAC_SECRET, "server_credential_id": "cred-hmac-1"}
SERVER_URL = "https://switchboard.example/v1/webhooks/vapi/0b7e5a44-9d1f-4c3e-8a55-1f2e3d4c5b6a"
CALL_ID = "3c8f7b1e-5b7a-4c1d-9f0e-2a3b4c5d6e7f"

BOOK = ToolDefinition(
    "book_appointment",
    "Book an appointment for the caller at a free time.",
    {
        "type": "object",
        "properties": {"start": {"type": "string", "format": "date-time"}},
        "required": ["start"],
    },
)
AGENT = AgentDefinition(
    name="Harbour Plumbing front desk",
    voice_provider="11labs",
    voice_id="burt",
    model_provider="openai",
    model="gpt-4o-mini",
    system_prompt="You answer the phone for Harbour Plumbing. The caller is {{customer_name}}.",
    first_message="Hello, Harbour Plumbing, how can I help?",
    tools=(BOOK,),
    knowledge_file_ids=(),
    server_url=SERVER_URL,
    metadata={"switchboard_agent_id": "0f0e0d0c-0000-4000-8000-000000000001"},
)


@pytest.fixture
def vapi_api() -> Iterator[VapiStandIn]:
    with VapiStandIn() as standin:
        yield standin


@pytest.fixture
def catalog(vapi_api: VapiStandIn, monkeypatch: pytest.MonkeyPatch) -> PluginCatalog:
    monkeypatch.setenv(API_BASE_SETTING, vapi_api.api_base)
    return build_plugin_catalog(load_entry_points=False)


@pytest.fixture
def vapi(catalog: PluginCatalog) -> VapiVoice:
    adapter = catalog.build("vapi", CONFIG)
    assert isinstance(adapter, VapiVoice)
    return adapter


def deliver(catalog: PluginCatalog, headers: dict[str, str], body: bytes, config: dict | None = None):
    events = catalog.verify_webhook("vapi", config or CONFIG, IncomingWebhook(headers, body, SERVER_URL))
    assert len(events) == 1
    return events[0], VAPI_MESSAGES.read(events[0])


# --- configuration -------------------------------------------------------------------------------


def test_the_catalog_offers_vapi_as_a_voice_provider_with_its_message_reader(catalog: PluginCatalog):
    description = catalog.describe("vapi")
    assert description is not None
    assert (description.capability, description.plugin) == ("voice", "vapi")
    assert catalog.specs["vapi"].voice is VAPI_MESSAGES
    assert catalog.specs["vapi"].secret_fields == {"api_key", "server_secret", "hmac_secret"}


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"api_key": API_KEY}, "config"),  # nothing proves Vapi's messages
        ({"api_key": API_KEY, "hmac_secret": HMAC_SECRET}, "config"),  # no credential id
        ({**CONFIG, "api_base": "http://evil.example"}, "config.api_base"),  # never the tenant's choice
        ({**CONFIG, "hmac_signature_header": "x signature"}, "config.hmac_signature_header"),
        ({"server_secret": SERVER_SECRET}, "config.api_key"),
    ],
)
def test_a_configuration_vapi_could_not_work_with_is_refused_naming_the_field(catalog, config, field):
    with pytest.raises(InvalidInput) as raised:
        catalog.validate_config("vapi", config)
    assert field in [error.field for error in raised.value.errors]


# --- what is sent --------------------------------------------------------------------------------


async def test_an_agent_is_created_as_an_assistant_with_its_prompt_voice_tools_and_server(vapi, vapi_api):
    assistant_id = await vapi.save_agent(AGENT, None)

    (request,) = vapi_api.requests
    assert (request.method, request.path, request.api_key) == ("POST", "/assistant", API_KEY)
    body = request.json
    assert body["name"] == "Harbour Plumbing front desk"
    assert body["firstMessage"] == "Hello, Harbour Plumbing, how can I help?"
    assert body["voice"] == {"provider": "11labs", "voiceId": "burt"}
    assert body["model"]["provider"] == "openai"
    assert body["model"]["model"] == "gpt-4o-mini"
    assert body["model"]["messages"] == [{"role": "system", "content": AGENT.system_prompt}]
    (tool,) = body["model"]["tools"]
    assert tool["type"] == "function"
    assert tool["function"] == {
        "name": BOOK.name,
        "description": BOOK.description,
        "parameters": BOOK.parameters,
    }
    assert tool["server"] == {"url": SERVER_URL, "secret": SERVER_SECRET}
    assert body["server"] == {"url": SERVER_URL, "secret": SERVER_SECRET}
    assert "end-of-call-report" in body["serverMessages"]
    assert body["metadata"] == AGENT.metadata
    assert vapi_api.assistants[assistant_id]["name"] == AGENT.name


async def test_an_agent_update_patches_the_assistant_and_knowledge_files_become_a_query_tool(vapi, vapi_api):
    assistant_id = await vapi.save_agent(AGENT, None)
    file_id = await vapi.upload_knowledge_file(
        KnowledgeFileUpload("faq.md", "text/markdown", b"# Opening hours")
    )
    changed = AgentDefinition(**{**AGENT.__dict__, "knowledge_file_ids": (file_id,), "first_message": None})

    assert await vapi.save_agent(changed, assistant_id) == assistant_id

    request = vapi_api.requests[-1]
    assert (request.method, request.path) == ("PATCH", f"/assistant/{assistant_id}")
    query = [tool for tool in request.json["model"]["tools"] if tool["type"] == "query"]
    assert query[0]["knowledgeBases"][0]["fileIds"] == [file_id]
    assert request.json["firstMessageMode"] == "assistant-waits-for-user"
    assert "firstMessage" not in request.json


async def test_an_hmac_connection_names_its_credential_on_the_assistants_server(catalog, vapi_api):
    adapter = catalog.build("vapi", HMAC_CONFIG)

    await adapter.save_agent(AGENT, None)

    assert vapi_api.requests[-1].json["server"] == {"url": SERVER_URL, "credentialId": "cred-hmac-1"}


async def test_a_knowledge_file_is_uploaded_as_multipart_and_deleted_by_its_id(vapi, vapi_api):
    file_id = await vapi.upload_knowledge_file(
        KnowledgeFileUpload("price list.pdf", "application/pdf", b"%PDF-1.7 prices")
    )

    upload = vapi_api.requests[-1]
    assert (upload.method, upload.path, upload.api_key) == ("POST", "/file", API_KEY)
    assert upload.headers["content-type"].startswith("multipart/form-data")
    assert vapi_api.files[file_id]["name"] == "price list.pdf"
    assert vapi_api.files[file_id]["mimetype"] == "application/pdf"
    assert vapi_api.file_contents[file_id] == b"%PDF-1.7 prices"

    await vapi.delete_knowledge_file(file_id)

    assert (vapi_api.requests[-1].method, vapi_api.requests[-1].path) == ("DELETE", f"/file/{file_id}")
    assert file_id not in vapi_api.files


async def test_numbers_are_listed_and_assigned_with_the_server_url_and_its_secret(vapi, vapi_api):
    assistant_id = await vapi.save_agent(AGENT, None)
    numbers = await vapi.list_phone_numbers()
    first = next(n for n in numbers if n.number == "+15550100001")

    await vapi.assign_phone_number(first.provider_id, assistant_id, SERVER_URL)

    request = vapi_api.requests[-1]
    assert (request.method, request.path) == ("PATCH", f"/phone-number/{first.provider_id}")
    assert request.json == {
        "assistantId": assistant_id,
        "server": {"url": SERVER_URL, "secret": SERVER_SECRET},
    }

    await vapi.assign_phone_number(first.provider_id, None, SERVER_URL)

    assert vapi_api.requests[-1].json["assistantId"] is None


async def test_an_outbound_call_carries_the_customer_the_number_variables_and_metadata(vapi, vapi_api):
    assistant_id = await vapi.save_agent(AGENT, None)
    number_id = vapi_api.number_id("+15550100002")

    call = await vapi.start_call(
        OutboundCallRequest(
            provider_agent_id=assistant_id,
            customer_number="+14155550123",
            provider_phone_number_id=number_id,
            customer_name="Grace Hopper",
            metadata={"switchboard_call_id": "c-1"},
            variables={"customer_name": "Grace Hopper", "upcoming_appointments": "none"},
        )
    )

    request = vapi_api.requests[-1]
    assert (request.method, request.path) == ("POST", "/call")
    assert request.json == {
        "assistantId": assistant_id,
        "customer": {"number": "+14155550123", "name": "Grace Hopper"},
        "phoneNumberId": number_id,
        "assistantOverrides": {
            "variableValues": {"customer_name": "Grace Hopper", "upcoming_appointments": "none"}
        },
        "metadata": {"switchboard_call_id": "c-1"},
    }
    assert call.provider_id in vapi_api.calls
    assert call.status == "queued"


async def test_ending_a_call_posts_end_call_to_its_control_address_without_the_api_key(vapi, vapi_api):
    assistant_id = await vapi.save_agent(AGENT, None)
    call = await vapi.start_call(OutboundCallRequest(assistant_id, "+14155550123", None))

    await vapi.end_call(call.provider_id)

    lookup, control = vapi_api.requests[-2:]
    assert (lookup.method, lookup.path) == ("GET", f"/call/{call.provider_id}")
    assert (control.method, control.path) == ("POST", f"/call-control/{call.provider_id}/control")
    assert control.json == {"type": "end-call"}
    assert "authorization" not in control.headers
    assert vapi_api.calls[call.provider_id]["status"] == "ended"


async def test_ending_a_call_that_already_ended_only_looks_it_up(vapi, vapi_api):
    assistant_id = await vapi.save_agent(AGENT, None)
    call = await vapi.start_call(OutboundCallRequest(assistant_id, "+14155550123", None))
    vapi_api.finish_call(call.provider_id)
    before = len(vapi_api.requests)

    await vapi.end_call(call.provider_id)

    assert [r.method for r in vapi_api.requests[before:]] == ["GET"]


async def test_an_id_that_could_steer_the_path_is_refused_before_anything_is_sent(vapi, vapi_api):
    with pytest.raises(ProviderError) as raised:
        await vapi.delete_agent("../phone-number/x")
    assert raised.value.retryable is False
    assert vapi_api.requests == []


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retryable"), [(400, False), (401, False), (404, False), (429, True), (500, True), (503, True)]
)
async def test_vapi_errors_become_provider_errors_retryable_only_when_a_retry_could_succeed(
    vapi, vapi_api, status, retryable
):
    vapi_api.fail_next(status=status)

    with pytest.raises(ProviderError) as raised:
        await vapi.save_agent(AGENT, None)

    assert (raised.value.status, raised.value.retryable) == (status, retryable)
    assert str(status) in str(raised.value)


async def test_a_wrong_key_is_vapis_401_and_not_worth_retrying(catalog, vapi_api):
    vapi_api.accepted_keys = {"another-key"}

    with pytest.raises(ProviderError) as raised:
        await catalog.build("vapi", CONFIG).list_phone_numbers()

    assert (raised.value.status, raised.value.retryable) == (401, False)
    assert API_KEY not in str(raised.value)


async def test_vapi_out_of_reach_is_a_retryable_error():
    with VapiStandIn() as closed:
        base = closed.api_base  # nothing listens there once the block has ended
    adapter = VapiVoice(VapiConfig.model_validate(CONFIG), base)

    with pytest.raises(ProviderError) as raised:
        await adapter.list_phone_numbers()

    assert raised.value.retryable is True


# --- verification --------------------------------------------------------------------------------


def test_a_message_with_the_server_secret_is_accepted(catalog):
    headers, body = vapi_server_message(SERVER_SECRET, status_update_message(vapi_call(CALL_ID), "ringing"))

    event, message = deliver(catalog, headers, body)

    assert event.event_id == f"{CALL_ID}:status-update:ringing"
    assert message.status is CallStatus.RINGING


def test_the_secret_in_vapis_newer_x_vapi_signature_header_is_accepted_too(catalog):
    headers, body = vapi_server_message(SERVER_SECRET, status_update_message(vapi_call(CALL_ID), "queued"))
    headers["x-vapi-signature"] = headers.pop("x-vapi-secret")

    assert deliver(catalog, headers, body)[1].status is CallStatus.QUEUED


def test_an_hmac_signed_message_is_accepted_with_seconds_or_milliseconds(catalog):
    message = status_update_message(vapi_call(CALL_ID), "in-progress")
    for stamp in (int(time.time() * 1000), int(time.time())):
        headers, body = vapi_server_message(HMAC_SECRET, message, scheme="hmac", timestamp_ms=stamp)
        assert deliver(catalog, headers, body, HMAC_CONFIG)[1].status is CallStatus.IN_PROGRESS


def test_hmac_headers_named_in_the_configuration_are_the_ones_read(catalog):
    config = {
        **HMAC_CONFIG,
        "hmac_signature_header": "X-Vapi-Signature",
        "hmac_timestamp_header": "X-Vapi-Timestamp",
    }
    headers, body = vapi_server_message(
        HMAC_SECRET,
        status_update_message(vapi_call(CALL_ID), "ringing"),
        scheme="hmac",
        signature_header="x-vapi-signature",
        timestamp_header="x-vapi-timestamp",
    )

    assert deliver(catalog, headers, body, config)[1].status is CallStatus.RINGING


@pytest.mark.parametrize(
    "tamper",
    [
        "wrong secret",
        "no secret",
        "bare secret on an hmac-only connection",
        "wrong hmac secret",
        "stale timestamp",
        "tampered hmac body",
        "hmac timestamp not a number",
    ],
)
def test_a_message_that_cannot_be_proven_genuine_and_fresh_is_rejected(catalog, tamper):
    message = status_update_message(vapi_call(CALL_ID), "ringing")
    config = HMAC_CONFIG if "hmac" in tamper or "stale" in tamper else CONFIG
    if tamper == "wrong secret":
        headers, body = vapi_server_message("someone-elses-secret", message)
    elif tamper == "no secret":
        headers, body = vapi_server_message(SERVER_SECRET, message)
        del headers["x-vapi-secret"]
    elif tamper == "tampered body":
        headers, body = vapi_server_message(SERVER_SECRET, message)
        config = {
            "api_key": API_KEY,
            "hmac_secret": HMAC_SECRET,
            "server_credential_id": "c",
        }  # secret not set
    elif tamper == "wrong hmac secret":
        headers, body = vapi_server_message("not-the-hmac-secret", message, scheme="hmac")
    elif tamper == "stale timestamp":
        stale = int((time.time() - 3600) * 1000)
        headers, body = vapi_server_message(HMAC_SECRET, message, scheme="hmac", timestamp_ms=stale)
    elif tamper == "tampered hmac body":
        headers, body = vapi_server_message(HMAC_SECRET, message, scheme="hmac")
        body = body.replace(b"ringing", b"ended")
    else:
        headers, body = vapi_server_message(HMAC_SECRET, message, scheme="hmac")
        headers["x-timestamp"] = "yesterday"

    with pytest.raises(WebhookRejected):
        catalog.verify_webhook("vapi", config, IncomingWebhook(headers, body, SERVER_URL))


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b'{"type": "status-update"}', b'{"message": {"type": "status-update"}}'],
)
def test_a_genuine_but_malformed_message_is_rejected(catalog, body):
    headers = {"x-vapi-secret": SERVER_SECRET, "content-type": "application/json"}

    with pytest.raises(WebhookRejected):
        catalog.verify_webhook("vapi", CONFIG, IncomingWebhook(headers, body, SERVER_URL))


def test_tool_calls_with_arguments_that_are_not_an_object_are_rejected(catalog):
    message = tool_calls_message(vapi_call(CALL_ID), [("tc-1", "find_customer", {})])
    message["toolCallList"][0]["function"]["arguments"] = "[1, 2]"
    headers, body = vapi_server_message(SERVER_SECRET, message)

    with pytest.raises(WebhookRejected):
        catalog.verify_webhook("vapi", CONFIG, IncomingWebhook(headers, body, SERVER_URL))


# --- reading -------------------------------------------------------------------------------------


def test_an_assistant_request_names_the_called_number_and_the_caller(catalog):
    call = vapi_call(CALL_ID, business_number="+15550100002", customer_number="+14155550199")
    headers, body = vapi_server_message(SERVER_SECRET, assistant_request_message(call, "+15550100002"))

    event, message = deliver(catalog, headers, body)

    assert event.event_id == f"{CALL_ID}:assistant-request"
    assert message.kind is CallMessageKind.ASSISTANT_REQUEST
    assert (message.direction, message.business_number, message.customer_number) == (
        CallDirection.INBOUND,
        "+15550100002",
        "+14155550199",
    )


@pytest.mark.parametrize("as_text", [False, True])
def test_tool_calls_are_read_with_their_ids_and_arguments_whether_object_or_json_text(catalog, as_text):
    call = vapi_call(CALL_ID, assistant_id="asst-1", metadata={"switchboard_call_id": "c-9"})
    message = tool_calls_message(
        call,
        [
            ("call_a", "check_availability", {"date": "2026-11-10"}),
            ("call_b", "find_customer", {"q": "Grace"}),
        ],
        arguments_as_text=as_text,
    )
    headers, body = vapi_server_message(SERVER_SECRET, message)

    event, read = deliver(catalog, headers, body)

    assert event.event_id == f"{CALL_ID}:tool-calls:call_a,call_b"
    assert read.kind is CallMessageKind.TOOL_CALLS
    assert [(c.id, c.name, c.arguments) for c in read.tool_calls] == [
        ("call_a", "check_availability", {"date": "2026-11-10"}),
        ("call_b", "find_customer", {"q": "Grace"}),
    ]
    assert read.provider_agent_id == "asst-1"
    assert read.metadata == {"switchboard_call_id": "c-9"}


def test_tool_calls_listed_only_with_their_tools_are_read_too(catalog):
    message = tool_calls_message(vapi_call(CALL_ID), [("call_c", "take_message", {"text": "Call me back"})])
    del message["toolCallList"]
    headers, body = vapi_server_message(SERVER_SECRET, message)

    assert deliver(catalog, headers, body)[1].tool_calls[0].id == "call_c"


@pytest.mark.parametrize(
    ("vapi_status", "status"),
    [
        ("queued", CallStatus.QUEUED),
        ("ringing", CallStatus.RINGING),
        ("in-progress", CallStatus.IN_PROGRESS),
        ("forwarding", CallStatus.FORWARDING),
        ("ended", CallStatus.ENDED),
    ],
)
def test_status_updates_map_onto_the_calls_status(catalog, vapi_status, status):
    message = status_update_message(
        vapi_call(CALL_ID, direction="outbound"),
        vapi_status,
        "customer-busy" if vapi_status == "ended" else None,
    )
    headers, body = vapi_server_message(SERVER_SECRET, message)

    event, read = deliver(catalog, headers, body)

    assert (read.kind, read.status, read.direction) == (
        CallMessageKind.STATUS,
        status,
        CallDirection.OUTBOUND,
    )
    assert read.ended_reason == ("customer-busy" if vapi_status == "ended" else None)
    assert event.event_id == f"{CALL_ID}:status-update:{vapi_status}"


def test_a_final_transcript_is_one_utterance_and_a_partial_one_is_kept_as_other(catalog):
    final = vapi_server_message(
        SERVER_SECRET, transcript_message(vapi_call(CALL_ID), "user", "Tuesday works.")
    )
    partial = vapi_server_message(
        SERVER_SECRET, transcript_message(vapi_call(CALL_ID), "user", "Tues", final=False)
    )

    read = deliver(catalog, *final)[1]
    assert read.kind is CallMessageKind.TRANSCRIPT
    assert [(e.speaker, e.text) for e in read.transcript] == [(Speaker.CUSTOMER, "Tuesday works.")]
    assert deliver(catalog, *partial)[1].kind is CallMessageKind.OTHER


def test_the_end_of_call_report_carries_transcript_analysis_costs_in_micro_dollars_and_recording(catalog):
    report = end_of_call_report_message(
        vapi_call(CALL_ID, metadata={"switchboard_call_id": "c-7"}),
        structured_data={"service": "boiler", "sentiment": "positive"},
    )
    headers, body = vapi_server_message(SERVER_SECRET, report)

    event, read = deliver(catalog, headers, body)

    assert event.event_id == f"{CALL_ID}:end-of-call-report"
    assert (read.kind, read.status, read.ended_reason) == (
        CallMessageKind.ENDED,
        CallStatus.ENDED,
        "customer-ended-call",
    )
    assert read.started_at == datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    assert read.ended_at == datetime(2026, 11, 3, 9, 2, 5, 500_000, tzinfo=UTC)
    assert [(e.speaker, e.seconds_from_start) for e in read.transcript] == [
        (Speaker.AGENT, 0.8),
        (Speaker.CUSTOMER, 4.1),
        (Speaker.TOOL, 8.0),
        (Speaker.TOOL, 8.3),
        (Speaker.AGENT, 9.0),
    ]
    assert read.transcript[0].duration_seconds == 2.1
    assert "book_appointment" in read.transcript[2].text
    assert read.analysis is not None
    assert read.analysis.summary == "The caller booked a boiler service for Tuesday at 10:00."
    assert read.analysis.success is True
    assert read.analysis.sentiment is Sentiment.POSITIVE
    assert read.analysis.structured_data["service"] == "boiler"
    assert read.cost is not None
    assert read.cost.currency == "USD"
    assert read.cost.components == {
        CostComponent.TRANSPORT: 12_500,
        CostComponent.SPEECH_TO_TEXT: 21_300,
        CostComponent.MODEL: 4_050,
        CostComponent.TEXT_TO_SPEECH: 31_700,
        CostComponent.PLATFORM: 104_200,
    }
    assert read.cost.total == 173_750
    assert read.recording_url == "https://storage.vapi.ai/recordings/mono.wav"
    assert read.metadata == {"switchboard_call_id": "c-7"}


@pytest.mark.parametrize(("evaluation", "success"), [("false", False), ("Pass", True), ("8", None)])
def test_a_success_evaluation_is_read_as_yes_no_or_unknown(catalog, evaluation, success):
    report = end_of_call_report_message(vapi_call(CALL_ID), success_evaluation=evaluation)
    read = deliver(catalog, *vapi_server_message(SERVER_SECRET, report))[1]

    assert read.analysis is not None
    assert read.analysis.success is success


def test_a_message_switchboard_has_no_use_for_is_kept_as_other(catalog):
    message = {"type": "speech-update", "status": "started", "role": "assistant", "call": vapi_call(CALL_ID)}

    event, read = deliver(catalog, *vapi_server_message(SERVER_SECRET, message))

    assert read.kind is CallMessageKind.OTHER
    assert event.event_id.startswith(f"{CALL_ID}:speech-update:")


# --- answers -------------------------------------------------------------------------------------


def test_an_assistant_request_is_answered_with_the_assistant_and_the_callers_variables():
    caller = CallerContext(
        "cust-1", "Grace Hopper", ("Tue 10 Nov 10:00 boiler service",), ("INV-7 129.50 USD",)
    )

    answer = VAPI_MESSAGES.answer_assistant_request(AssistantChoice("asst-1", caller))

    assert answer.status == 200
    assert answer.body == {
        "assistantId": "asst-1",
        "assistantOverrides": {"variableValues": caller.as_variables()},
    }


def test_a_refused_assistant_request_is_answered_with_the_error_vapi_speaks():
    answer = VAPI_MESSAGES.answer_assistant_request(
        AssistantChoice(None, refusal="This number is not in service.")
    )

    assert answer.body == {"error": "This number is not in service."}


def test_tool_results_are_answered_as_json_text_and_errors_as_errors():
    answer = VAPI_MESSAGES.answer_tool_calls(
        [
            ToolResult("call_a", "book_appointment", result={"appointment_id": "a-1", "start": "10:00"}),
            ToolResult("call_b", "cancel_appointment", error="No such appointment."),
        ]
    )

    assert answer.body == {
        "results": [
            {
                "toolCallId": "call_a",
                "name": "book_appointment",
                "result": '{"appointment_id":"a-1","start":"10:00"}',
            },
            {"toolCallId": "call_b", "name": "cancel_appointment", "error": "No such appointment."},
        ]
    }
    assert json.loads(answer.body["results"][0]["result"]) == {"appointment_id": "a-1", "start": "10:00"}
