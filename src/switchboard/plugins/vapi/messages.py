"""Vapi's server messages: their verification, their reading into ``CallMessage``, and the shapes
of Switchboard's answers.

Vapi posts ``{"message": {"type": ..., "call": {...}, ...}}`` to a server URL. It proves the
message is its own in one of two ways, whichever the connection configures (either suffices):

- the server secret, sent as it is in ``X-Vapi-Secret`` (Vapi's newer documentation names the
  same header ``X-Vapi-Signature``): compared in constant time;
- an HMAC credential (Vapi's ``HMACAuthenticationPlan`` with its defaults: SHA-256, hex, payload
  ``{timestamp}.{body}``, signature in ``x-signature``, timestamp in ``x-timestamp``; both header
  names configurable): the signature over the raw body, and a timestamp no further than
  ``TOLERANCE_SECONDS`` from now (in seconds or milliseconds since the epoch).

Each verified message becomes one ``ProviderEvent`` whose id is the same for every delivery of
the same message, so the inbox stores it once: ``<call>:status-update:<status>``,
``<call>:end-of-call-report``, ``<call>:assistant-request``, ``<call>:tool-calls:<ids>``, and
for transcripts and anything else ``<call>:<type>:<hash of the message>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from switchboard.core.calls.model import (
    AssistantChoice,
    CallAnalysis,
    CallCost,
    CallDirection,
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
from switchboard.core.queues.model import PermanentFailure
from switchboard.plugins.payloads import from_epoch_millis, json_object, micro_units, text_of
from switchboard.ports.providers import IncomingWebhook, ProviderEvent, WebhookRejected
from switchboard.ports.voice import LiveAnswer, VoiceMessages

SECRET_HEADERS = ("x-vapi-secret", "x-vapi-signature")
TOLERANCE_SECONDS = 300
MICRO_PER_DOLLAR = Decimal(1_000_000)

STATUSES = {
    "scheduled": CallStatus.SCHEDULED,
    "queued": CallStatus.QUEUED,
    "ringing": CallStatus.RINGING,
    "in-progress": CallStatus.IN_PROGRESS,
    "forwarding": CallStatus.FORWARDING,
    "ended": CallStatus.ENDED,
}
DIRECTIONS = {"inboundPhoneCall": CallDirection.INBOUND, "outboundPhoneCall": CallDirection.OUTBOUND}
COST_COMPONENTS = {
    "transport": CostComponent.TRANSPORT,
    "stt": CostComponent.SPEECH_TO_TEXT,
    "llm": CostComponent.MODEL,
    "tts": CostComponent.TEXT_TO_SPEECH,
    "vapi": CostComponent.PLATFORM,
}
SPEAKERS = {
    "bot": Speaker.AGENT,
    "assistant": Speaker.AGENT,
    "user": Speaker.CUSTOMER,
    "tool_calls": Speaker.TOOL,
    "tool_call_result": Speaker.TOOL,
}
FINAL_TRANSCRIPT_TYPES = ("transcript", 'transcript[transcriptType="final"]')


# --- verification --------------------------------------------------------------------------------


def _secret_holds(secret: str, headers: Mapping[str, str]) -> bool:
    return any(
        hmac.compare_digest(headers[name].encode(), secret.encode())
        for name in SECRET_HEADERS
        if name in headers
    )


def _hmac_holds(config: Any, headers: Mapping[str, str], body: bytes) -> bool:
    signature = headers.get(config.hmac_signature_header)
    stamp = headers.get(config.hmac_timestamp_header)
    if not signature or not stamp:
        return False
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 16:
        raise WebhookRejected(f"{config.hmac_timestamp_header}: not a timestamp")
    seconds = int(stamp) / 1000 if len(stamp) > 11 else int(stamp)  # milliseconds or seconds
    if abs(time.time() - seconds) > TOLERANCE_SECONDS:
        raise WebhookRejected(f"{config.hmac_timestamp_header}: stale timestamp")
    expected = hmac.new(
        config.hmac_secret.get_secret_value().encode(), stamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(signature.removeprefix("sha256=").encode(), expected.encode())


def verify_vapi_webhook(config: Any, incoming: IncomingWebhook) -> list[ProviderEvent]:
    """One server message proven to be Vapi's (see the module's docstring), as one event."""
    headers = {name.lower(): value for name, value in incoming.headers.items()}
    proven = (
        config.server_secret is not None and _secret_holds(config.server_secret.get_secret_value(), headers)
    ) or (config.hmac_secret is not None and _hmac_holds(config, headers, incoming.body))
    if not proven:
        raise WebhookRejected("neither the server secret nor the HMAC signature matches")
    try:
        envelope = orjson.loads(incoming.body)  # its depth limit refuses a hostile nesting
    except (UnicodeDecodeError, ValueError) as error:
        raise WebhookRejected("malformed Vapi message: not JSON") from error
    message = envelope.get("message") if isinstance(envelope, dict) else None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise WebhookRejected('malformed Vapi message: no {"message": {"type": ...}}')
    event = ProviderEvent(
        event_id=_event_id(message),
        type=message["type"],
        data=message,
        occurred_at=from_epoch_millis(message.get("timestamp")),
    )
    try:
        read_vapi_message(event)
    except PermanentFailure as error:
        raise WebhookRejected(str(error)) from error
    return [event]


def _event_id(message: dict[str, Any]) -> str:
    call = message.get("call")
    call_id = call.get("id") if isinstance(call, dict) else None
    type_ = message["type"]
    if type_ == "status-update":
        return f"{call_id}:{type_}:{message.get('status')}"
    if type_ in ("end-of-call-report", "assistant-request"):
        return f"{call_id}:{type_}"
    if type_ == "tool-calls":
        ids = ",".join(str(call.get("id")) for call in _tool_call_entries(message))
        return f"{call_id}:{type_}:{ids}"
    digest = hashlib.sha256(json.dumps(message, sort_keys=True).encode()).hexdigest()[:32]
    return f"{call_id}:{type_}:{digest}"


# --- reading -------------------------------------------------------------------------------------


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    moment = datetime.fromisoformat(value)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _tool_call_entries(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    listed = message.get("toolCallList")
    if isinstance(listed, list):
        return [entry for entry in listed if isinstance(entry, dict)]
    with_tools = message.get("toolWithToolCallList")
    if isinstance(with_tools, list):
        return [
            entry["toolCall"]
            for entry in with_tools
            if isinstance(entry, dict) and isinstance(entry.get("toolCall"), dict)
        ]
    return []


def _tool_calls(message: Mapping[str, Any]) -> tuple[ToolCall, ...]:
    found = []
    for entry in _tool_call_entries(message):
        function = json_object(entry.get("function"))
        arguments = function.get("arguments", {})
        if isinstance(arguments, str):  # some models' arguments come as JSON text
            arguments = orjson.loads(arguments) if arguments.strip() else {}
        if not isinstance(arguments, dict):
            raise ValueError("a tool call's arguments must be a JSON object")
        tool_call_id, name = entry.get("id"), function.get("name")
        if not isinstance(tool_call_id, str) or not isinstance(name, str):
            raise ValueError("a tool call without id or function name")
        found.append(ToolCall(id=tool_call_id, name=name, arguments=arguments))
    if not found:
        raise ValueError("tool-calls without any tool call")
    return tuple(found)


def _cost(message: Mapping[str, Any]) -> CallCost | None:
    breakdown = message.get("costBreakdown")
    if not isinstance(breakdown, dict):
        return None
    components = {
        component: amount
        for name, component in COST_COMPONENTS.items()
        if (amount := micro_units(breakdown.get(name), MICRO_PER_DOLLAR)) is not None
    }
    return CallCost(currency="USD", components=components)  # Vapi bills in US dollars


def _success(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return {"true": True, "pass": True, "false": False, "fail": False}.get(value.strip().lower())
    return None


def _analysis(message: Mapping[str, Any]) -> CallAnalysis:
    analysis = json_object(message.get("analysis"))
    structured = json_object(analysis.get("structuredData"))
    sentiment = structured.get("sentiment")
    return CallAnalysis(
        summary=text_of(analysis.get("summary")) or text_of(message.get("summary")),
        structured_data=structured,
        success=_success(analysis.get("successEvaluation")),
        sentiment=Sentiment(sentiment) if sentiment in set(Sentiment) else None,
    )


def _entry(item: Mapping[str, Any]) -> TranscriptEntry | None:
    speaker = SPEAKERS.get(str(item.get("role")))
    if speaker is None:  # the system prompt is not part of what was said
        return None
    if item.get("role") == "tool_calls":
        calls = [
            json_object(call.get("function"))
            for call in item.get("toolCalls") or []
            if isinstance(call, dict)
        ]
        text = "; ".join(f"{f.get('name')}({f.get('arguments', '')})" for f in calls)
    elif item.get("role") == "tool_call_result":
        text = f"{item.get('name')}: {item.get('result')}"
    else:
        text = str(item.get("message") or "")
    seconds = item.get("secondsFromStart")
    duration = item.get("duration")
    return TranscriptEntry(
        speaker=speaker,
        text=text,
        seconds_from_start=float(seconds) if isinstance(seconds, int | float) else 0.0,
        # Vapi's duration is in seconds on artifact messages (milliseconds on some older ones).
        duration_seconds=float(duration) if isinstance(duration, int | float) else None,
    )


def _transcript(message: Mapping[str, Any]) -> tuple[TranscriptEntry, ...]:
    artifact = json_object(message.get("artifact"))
    items = (
        artifact.get("messages") if isinstance(artifact.get("messages"), list) else message.get("messages")
    )
    entries = (_entry(item) for item in items or [] if isinstance(item, dict))
    return tuple(entry for entry in entries if entry is not None)


def _recording_url(message: Mapping[str, Any]) -> str | None:
    artifact = json_object(message.get("artifact"))
    mono = json_object(json_object(artifact.get("recording")).get("mono"))
    return (
        text_of(artifact.get("recordingUrl"))
        or text_of(message.get("recordingUrl"))
        or text_of(mono.get("combinedUrl"))
    )


def _live_transcript(message: Mapping[str, Any], call: Mapping[str, Any]) -> tuple[TranscriptEntry, ...]:
    speaker = SPEAKERS.get(str(message.get("role")), Speaker.SYSTEM)
    started, said = _moment(call.get("startedAt")), from_epoch_millis(message.get("timestamp"))
    seconds = max((said - started).total_seconds(), 0.0) if started and said else 0.0
    return (
        TranscriptEntry(
            speaker=speaker, text=str(message.get("transcript") or ""), seconds_from_start=seconds
        ),
    )


def read_vapi_message(event: ProviderEvent) -> CallMessage:
    """A verified Vapi message in Switchboard's words; PermanentFailure when it cannot be read."""
    message = event.data
    try:
        call = json_object(message.get("call"))
        call_id = call.get("id")
        if not isinstance(call_id, str) or not call_id:
            raise ValueError("no call.id")
        phone_number = json_object(message.get("phoneNumber")) or json_object(call.get("phoneNumber"))
        customer = json_object(message.get("customer")) or json_object(call.get("customer"))
        metadata = json_object(call.get("metadata"))
        common: dict[str, Any] = {
            "provider_call_id": call_id,
            "direction": DIRECTIONS.get(str(call.get("type"))),
            "business_number": text_of(phone_number.get("number")),
            "customer_number": text_of(customer.get("number")),
            "provider_agent_id": text_of(call.get("assistantId"))
            or text_of(json_object(message.get("assistant")).get("id")),
            "metadata": {str(k): str(v) for k, v in metadata.items() if v is not None},
        }
        type_ = message.get("type")
        if type_ == "assistant-request":
            return CallMessage(kind=CallMessageKind.ASSISTANT_REQUEST, **common)
        if type_ == "tool-calls":
            return CallMessage(kind=CallMessageKind.TOOL_CALLS, tool_calls=_tool_calls(message), **common)
        if type_ == "status-update" and message.get("status") in STATUSES:
            return CallMessage(
                kind=CallMessageKind.STATUS,
                status=STATUSES[message["status"]],
                ended_reason=text_of(message.get("endedReason")),
                started_at=_moment(call.get("startedAt")),
                ended_at=_moment(call.get("endedAt")),
                **common,
            )
        if type_ in FINAL_TRANSCRIPT_TYPES and message.get("transcriptType", "final") == "final":
            return CallMessage(
                kind=CallMessageKind.TRANSCRIPT, transcript=_live_transcript(message, call), **common
            )
        if type_ == "end-of-call-report":
            return CallMessage(
                kind=CallMessageKind.ENDED,
                status=CallStatus.ENDED,
                ended_reason=text_of(message.get("endedReason")),
                started_at=_moment(message.get("startedAt")) or _moment(call.get("startedAt")),
                ended_at=_moment(message.get("endedAt")) or _moment(call.get("endedAt")),
                transcript=_transcript(message),
                analysis=_analysis(message),
                cost=_cost(message),
                recording_url=_recording_url(message),
                **common,
            )
        return CallMessage(kind=CallMessageKind.OTHER, **common)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise PermanentFailure(f"Vapi message {event.event_id}: {error}") from error


# --- answers -------------------------------------------------------------------------------------


def answer_assistant_request(choice: AssistantChoice) -> LiveAnswer:
    """Vapi's answer to an assistant request: the assistant with the caller's context as
    variables, or an error message Vapi speaks before it hangs up."""
    if choice.provider_agent_id is None:
        return LiveAnswer(200, {"error": choice.refusal or "Sorry, nobody can take this call right now."})
    body: dict[str, Any] = {"assistantId": choice.provider_agent_id}
    if choice.caller is not None:
        body["assistantOverrides"] = {"variableValues": choice.caller.as_variables()}
    return LiveAnswer(200, body)


def answer_tool_calls(results: list[ToolResult]) -> LiveAnswer:
    """Vapi reads each result as text: an object goes back as its JSON."""
    answers: list[dict[str, Any]] = []
    for result in results:
        answer: dict[str, Any] = {"toolCallId": result.tool_call_id, "name": result.name}
        if result.error is not None:
            answer["error"] = result.error
        else:
            answer["result"] = json.dumps(
                result.result if result.result is not None else {}, separators=(",", ":")
            )
        answers.append(answer)
    return LiveAnswer(200, {"results": answers})


VAPI_MESSAGES = VoiceMessages(
    read=read_vapi_message,
    answer_assistant_request=answer_assistant_request,
    answer_tool_calls=answer_tool_calls,
)
