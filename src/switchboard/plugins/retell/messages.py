"""What Retell posts to a server URL: verification, reading into ``CallMessage``, answers.

Every post is signed in ``x-retell-signature`` with the account's (webhook) API key and checked
by the SDK's own ``Retell.verify`` (``retell.lib.webhook_auth``): HMAC-SHA256, compared in
constant time, the timestamp within five minutes.

Three shapes arrive:

- call events ``{"event": "call_started" | "call_ended" | "call_analyzed", "call": {...}}``:
  ``call_started`` is the STATUS ``in_progress``; ``call_ended`` is ENDED with the transcript
  (``transcript_object``: utterances with their words' times), ``disconnection_reason``, start
  and end, the recording and ``call_cost.product_costs`` (in cents; each product is put in the
  component its name tells, the rest is the platform's); ``call_analyzed`` is ENDED again with
  ``call_analysis`` (summary, ``user_sentiment``, ``call_successful``,
  ``custom_analysis_data``). Event ids: ``<call_id>:<event>``.
- the inbound call webhook ``{"event": "call_inbound", "call_inbound": {"from_number",
  "to_number", "agent_id"?}}``: an ASSISTANT_REQUEST. Retell has made no call object yet, so
  the message's ``provider_call_id`` is empty and nothing is recorded from it: the call is
  recorded from its ``call_started`` event, under Retell's own call id. Answered
  ``{"call_inbound": {"override_agent_id", "dynamic_variables"}}``; a refusal answers no
  agent, and Retell then hangs up (a number with no inbound agent).
- a custom function call ``{"name", "call": {...}, "args": {...}}``: TOOL_CALLS with one tool
  call, whose id is a hash of the post (Retell gives none: a retry of the same post is the
  same call). Answered with the tool's result object itself, or ``{"error": ...}``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson
from retell.lib.webhook_auth import verify as retell_verify

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

SIGNATURE_HEADER = "x-retell-signature"
CALL_EVENTS = frozenset({"call_started", "call_ended", "call_analyzed"})
INBOUND = "call_inbound"
FUNCTION_CALL = "function_call"  # the event type Switchboard gives a custom function call
MICRO_PER_CENT = Decimal(10_000)
SENTIMENTS = {"Positive": Sentiment.POSITIVE, "Neutral": Sentiment.NEUTRAL, "Negative": Sentiment.NEGATIVE}
SPEAKERS = {"agent": Speaker.AGENT, "user": Speaker.CUSTOMER}
# Which component a product's cost belongs to, by words in its name (the first match wins).
PRODUCT_COMPONENTS = (
    (("telephony", "twilio", "telnyx", "sip", "transport"), CostComponent.TRANSPORT),
    (("stt", "transcri", "deepgram", "speech_to_text"), CostComponent.SPEECH_TO_TEXT),
    (("tts", "elevenlabs", "cartesia", "voice", "minimax", "fish", "speech"), CostComponent.TEXT_TO_SPEECH),
    (("gpt", "claude", "gemini", "llm", "model", "llama", "deepseek"), CostComponent.MODEL),
)


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:32]


def verify_retell_webhook(config: Any, incoming: IncomingWebhook) -> list[ProviderEvent]:
    """One post proven to be Retell's, as one event; WebhookRejected otherwise."""
    headers = {name.lower(): value for name, value in incoming.headers.items()}
    signature = headers.get(SIGNATURE_HEADER)
    if not signature:
        raise WebhookRejected("no x-retell-signature header")
    try:
        text = incoming.body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise WebhookRejected("malformed Retell post: not UTF-8") from error
    if not retell_verify(text, config.signing_key, signature):
        raise WebhookRejected("x-retell-signature does not match this body, or it is stale")
    try:
        body = orjson.loads(text)  # its depth limit refuses a hostile nesting
    except ValueError as error:
        raise WebhookRejected("malformed Retell post: not JSON") from error
    if not isinstance(body, dict):
        raise WebhookRejected("malformed Retell post: not a JSON object")
    event = _event(body, incoming.body)
    try:
        read_retell_message(event)
    except PermanentFailure as error:
        raise WebhookRejected(str(error)) from error
    return [event]


def _event(body: dict[str, Any], raw: bytes) -> ProviderEvent:
    name = body.get("event")
    call = body.get("call")
    call_id = call.get("call_id") if isinstance(call, dict) else None
    if name in CALL_EVENTS:
        return ProviderEvent(
            f"{call_id}:{name}", str(name), body, from_epoch_millis(body.get("event_timestamp"))
        )
    if name == INBOUND:
        return ProviderEvent(
            f"inbound:{_digest(raw)}", INBOUND, body, from_epoch_millis(body.get("event_timestamp"))
        )
    if "name" in body and "args" in body and name is None:
        data = {**body, "switchboard_tool_call_id": _digest(raw)}
        return ProviderEvent(f"{call_id}:{FUNCTION_CALL}:{_digest(raw)}", FUNCTION_CALL, data)
    return ProviderEvent(f"{call_id}:{name}:{_digest(raw)}", str(name), body)


# --- reading -------------------------------------------------------------------------------------


def _numbers(call: Mapping[str, Any]) -> tuple[CallDirection | None, str | None, str | None]:
    """(direction, business number, customer number)."""
    direction = call.get("direction")
    from_number, to_number = text_of(call.get("from_number")), text_of(call.get("to_number"))
    if direction == "inbound":
        return CallDirection.INBOUND, to_number, from_number
    if direction == "outbound":
        return CallDirection.OUTBOUND, from_number, to_number
    return None, None, None


def _transcript(call: Mapping[str, Any]) -> tuple[TranscriptEntry, ...]:
    entries = []
    for utterance in call.get("transcript_object") or []:
        if not isinstance(utterance, dict) or utterance.get("role") not in SPEAKERS:
            continue
        words = [w for w in utterance.get("words") or [] if isinstance(w, dict)]
        starts = [w["start"] for w in words if isinstance(w.get("start"), int | float)]
        ends = [w["end"] for w in words if isinstance(w.get("end"), int | float)]
        start = float(min(starts)) if starts else 0.0
        entries.append(
            TranscriptEntry(
                speaker=SPEAKERS[utterance["role"]],
                text=str(utterance.get("content") or ""),
                seconds_from_start=start,
                duration_seconds=round(float(max(ends)) - start, 3) if ends and starts else None,
            )
        )
    return tuple(entries)


def _component(product: str) -> CostComponent:
    name = product.lower()
    for words, component in PRODUCT_COMPONENTS:
        if any(word in name for word in words):
            return component
    return CostComponent.PLATFORM


def _cost(call: Mapping[str, Any]) -> CallCost | None:
    cost = call.get("call_cost")
    if not isinstance(cost, dict):
        return None
    components: dict[CostComponent, int] = {}
    for item in cost.get("product_costs") or []:
        if not isinstance(item, dict) or not isinstance(item.get("product"), str):
            continue
        micro = micro_units(item.get("cost"), MICRO_PER_CENT)
        if micro is None:
            continue
        component = _component(item["product"])
        components[component] = components.get(component, 0) + micro
    return CallCost(currency="USD", components=components)  # Retell bills in US cents


def _analysis(call: Mapping[str, Any]) -> CallAnalysis | None:
    analysis = call.get("call_analysis")
    if not isinstance(analysis, dict):
        return None
    success = analysis.get("call_successful")
    return CallAnalysis(
        summary=text_of(analysis.get("call_summary")),
        structured_data=json_object(analysis.get("custom_analysis_data")),
        success=success if isinstance(success, bool) else None,
        sentiment=SENTIMENTS.get(str(analysis.get("user_sentiment"))),
    )


def read_retell_message(event: ProviderEvent) -> CallMessage:
    """A verified Retell post in Switchboard's words; PermanentFailure when it cannot be read."""
    body = event.data
    try:
        if event.type == INBOUND:
            inbound = body["call_inbound"]
            return CallMessage(
                kind=CallMessageKind.ASSISTANT_REQUEST,
                provider_call_id="",  # Retell names the call only once it starts
                direction=CallDirection.INBOUND,
                business_number=text_of(inbound.get("to_number")),
                customer_number=text_of(inbound.get("from_number")),
                provider_agent_id=text_of(inbound.get("agent_id")),
            )
        call = body["call"]
        call_id = call["call_id"]
        if not isinstance(call_id, str) or not call_id:
            raise ValueError("no call.call_id")
        direction, business_number, customer_number = _numbers(call)
        metadata = json_object(call.get("metadata"))
        common: dict[str, Any] = {
            "provider_call_id": call_id,
            "direction": direction,
            "business_number": business_number,
            "customer_number": customer_number,
            "provider_agent_id": text_of(call.get("agent_id")),
            "metadata": {str(k): str(v) for k, v in metadata.items() if v is not None},
        }
        if event.type == FUNCTION_CALL:
            arguments = body["args"]
            if not isinstance(arguments, dict):
                raise ValueError("args must be a JSON object")
            tool_call = ToolCall(
                id=body["switchboard_tool_call_id"], name=str(body["name"]), arguments=arguments
            )
            return CallMessage(kind=CallMessageKind.TOOL_CALLS, tool_calls=(tool_call,), **common)
        if event.type == "call_started":
            return CallMessage(
                kind=CallMessageKind.STATUS,
                status=CallStatus.IN_PROGRESS,
                started_at=from_epoch_millis(call.get("start_timestamp")),
                **common,
            )
        if event.type in ("call_ended", "call_analyzed"):
            return CallMessage(
                kind=CallMessageKind.ENDED,
                status=CallStatus.ENDED,
                ended_reason=text_of(call.get("disconnection_reason")),
                started_at=from_epoch_millis(call.get("start_timestamp")),
                ended_at=from_epoch_millis(call.get("end_timestamp")),
                transcript=_transcript(call),
                analysis=_analysis(call),
                cost=_cost(call),
                recording_url=text_of(call.get("recording_url")),
                **common,
            )
        return CallMessage(kind=CallMessageKind.OTHER, **common)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise PermanentFailure(f"Retell post {event.event_id}: {error!r}") from error


# --- answers -------------------------------------------------------------------------------------


def answer_inbound_call(choice: AssistantChoice) -> LiveAnswer:
    answer: dict[str, Any] = {}
    if choice.provider_agent_id is not None:
        answer["override_agent_id"] = choice.provider_agent_id
        if choice.caller is not None:
            answer["dynamic_variables"] = choice.caller.as_variables()
    return LiveAnswer(200, {"call_inbound": answer})


def answer_function_call(results: list[ToolResult]) -> LiveAnswer:
    """Retell posts one function call at a time and reads the answer's body as its result."""
    if not results:
        return LiveAnswer(200, {"error": "the tool gave no result"})
    result = results[0]  # one call, one result: read_retell_message makes one tool call per post
    if result.error is not None:
        return LiveAnswer(200, {"error": result.error})
    return LiveAnswer(200, dict(result.result or {}))


RETELL_MESSAGES = VoiceMessages(
    read=read_retell_message,
    answer_assistant_request=answer_inbound_call,
    answer_tool_calls=answer_function_call,
)
