"""The fake voice platform: agents, numbers, calls and knowledge files kept in memory, and server
messages in a neutral JSON shape that maps one to one onto ``CallMessage``.

For development and end-to-end tests: they drive a whole call without any platform. The adapter
records what it was asked per account (the configuration's ``label``) in a process-wide
``FakeVoiceRecord`` that tests read; ``FakeVoiceRecord.failures`` queues errors for the next
calls to raise, as a platform's refusals or outages would.

A server message is a JSON object, the fields of ``CallMessage`` by their names::

    {"kind": "status", "provider_call_id": "fake_call_000001", "direction": "inbound",
     "business_number": "+15550100001", "customer_number": "+14155550123",
     "provider_agent_id": "fake_agent_000002", "status": "ringing", "ended_reason": null,
     "started_at": "2026-11-03T09:00:00Z", "ended_at": null,
     "transcript": [{"speaker": "agent", "text": "Hello", "seconds_from_start": 0.4,
                     "duration_seconds": 1.1}],
     "analysis": {"summary": "...", "structured_data": {}, "success": true, "sentiment": "positive"},
     "cost": {"currency": "USD", "components": {"transport": 12000, "model": 3400}},
     "recording_url": "https://...", "tool_calls": [{"id": "tc_1", "name": "find_customer",
     "arguments": {"phone": "+14155550123"}}], "metadata": {"call_id": "..."}}

Only ``kind`` and ``provider_call_id`` are required. It is signed per Standard Webhooks
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature`` over ``id.timestamp.body`` with the
connection's ``whsec_`` secret, five minutes of tolerance); ``webhook-id`` is the event's id, so
a repeated delivery is stored once. ``sign_fake_voice_message`` makes such a delivery.

Answers: an assistant request is answered ``{"provider_agent_id", "variables", "refusal"}``;
tool calls ``{"results": [{"tool_call_id", "name", "result", "error"}]}``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

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
from switchboard.ports.providers import IncomingWebhook, ProviderError, ProviderEvent, WebhookRejected
from switchboard.ports.voice import (
    AgentDefinition,
    KnowledgeFileUpload,
    LiveAnswer,
    OutboundCallRequest,
    ProviderCall,
    ProviderPhoneNumber,
    VoiceMessages,
)

E164 = r"^\+[1-9][0-9]{6,14}$"
DEFAULT_NUMBERS = ("+15550100001", "+15550100002")


class FakeVoiceConfig(BaseModel):
    """An account at the fake platform: its label names the account in the record."""

    model_config = ConfigDict(extra="forbid")

    label: str = Field(default="fake", min_length=1, max_length=100)
    api_key: SecretStr = Field(min_length=8, max_length=200)
    # Standard Webhooks secret ("whsec_" + base64) that signs the platform's server messages.
    webhook_secret: SecretStr = Field(min_length=8, max_length=200)
    # The account's phone numbers (E.164), as a platform lists the numbers bought there.
    phone_numbers: list[str] = Field(default=list(DEFAULT_NUMBERS), max_length=50)

    @field_validator("webhook_secret")
    @classmethod
    def _a_standard_webhooks_secret(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith("whsec_"):
            raise ValueError("must be a Standard Webhooks secret (whsec_ followed by base64)")
        return value

    @field_validator("phone_numbers")
    @classmethod
    def _e164_numbers(cls, numbers: list[str]) -> list[str]:
        for number in numbers:
            if not re.match(E164, number):
                raise ValueError(f"{number!r} is not an E.164 number (+ and 7 to 15 digits)")
        if len(set(numbers)) != len(numbers):
            raise ValueError("each number may be listed once")
        return numbers


def fake_number_id(number: str) -> str:
    """The fake platform's id of one of an account's numbers (stable, so assignments persist)."""
    return f"fake_pn_{number.removeprefix('+')}"


@dataclass
class FakeVoiceAccount:
    """One account's state at the fake platform, as a test inspects it."""

    agents: dict[str, AgentDefinition] = field(default_factory=dict)
    deleted_agents: list[str] = field(default_factory=list)
    # Numbers' assignments: number id -> (agent id or None, server url).
    assignments: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    calls: dict[str, OutboundCallRequest] = field(default_factory=dict)
    ended_calls: list[str] = field(default_factory=list)
    files: dict[str, KnowledgeFileUpload] = field(default_factory=dict)
    deleted_files: list[str] = field(default_factory=list)
    # The operations in the order they were asked for: (method, first argument).
    log: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class FakeVoiceRecord:
    """Every fake voice account in the process, by label, and the failures a test queued."""

    accounts: dict[str, FakeVoiceAccount] = field(default_factory=dict)
    # What the next calls raise, in order (then they succeed again).
    failures: list[ProviderError] = field(default_factory=list)
    _call_answers: dict[str, ProviderCall] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def account(self, label: str) -> FakeVoiceAccount:
        return self.accounts.setdefault(label, FakeVoiceAccount())

    def next_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"


def _refused(what: str) -> ProviderError:
    return ProviderError(f"fake voice platform: {what}", retryable=False, status=404, code="not_found")


class FakeVoice:
    """The VoicePort for one account at the fake platform."""

    def __init__(self, config: FakeVoiceConfig, record: FakeVoiceRecord) -> None:
        self.config, self._record = config, record

    @property
    def _account(self) -> FakeVoiceAccount:
        return self._record.account(self.config.label)

    def _begin(self, operation: str, subject: str) -> FakeVoiceAccount:
        account = self._account
        account.log.append((operation, subject))
        if self._record.failures:
            raise self._record.failures.pop(0)
        return account

    async def save_agent(self, agent: AgentDefinition, provider_agent_id: str | None) -> str:
        account = self._begin("save_agent", provider_agent_id or agent.name)
        if provider_agent_id is None:
            provider_agent_id = self._record.next_id("fake_agent")
        elif provider_agent_id not in account.agents:
            raise _refused(f"no agent {provider_agent_id}")
        missing = [file_id for file_id in agent.knowledge_file_ids if file_id not in account.files]
        if missing:
            raise ProviderError(
                f"fake voice platform: no knowledge file {missing[0]}", retryable=False, status=400
            )
        account.agents[provider_agent_id] = agent
        return provider_agent_id

    async def delete_agent(self, provider_agent_id: str) -> None:
        account = self._begin("delete_agent", provider_agent_id)
        if account.agents.pop(provider_agent_id, None) is not None:
            account.deleted_agents.append(provider_agent_id)
        for number_id, (agent_id, server_url) in list(account.assignments.items()):
            if agent_id == provider_agent_id:
                account.assignments[number_id] = (None, server_url)

    async def list_phone_numbers(self) -> list[ProviderPhoneNumber]:
        account = self._begin("list_phone_numbers", self.config.label)
        return [
            ProviderPhoneNumber(
                provider_id=fake_number_id(number),
                number=number,
                name=f"{self.config.label} line {index}",
                provider_agent_id=account.assignments.get(fake_number_id(number), (None, ""))[0],
            )
            for index, number in enumerate(self.config.phone_numbers, start=1)
        ]

    async def assign_phone_number(
        self, provider_number_id: str, provider_agent_id: str | None, server_url: str
    ) -> None:
        account = self._begin("assign_phone_number", provider_number_id)
        if provider_number_id not in {fake_number_id(n) for n in self.config.phone_numbers}:
            raise _refused(f"no phone number {provider_number_id}")
        if provider_agent_id is not None and provider_agent_id not in account.agents:
            raise ProviderError(
                f"fake voice platform: no agent {provider_agent_id}", retryable=False, status=400
            )
        account.assignments[provider_number_id] = (provider_agent_id, server_url)

    async def start_call(self, request: OutboundCallRequest) -> ProviderCall:
        account = self._begin("start_call", request.customer_number)
        replay_key = f"{self.config.label}:{request.idempotency_key}" if request.idempotency_key else None
        if replay_key is not None and replay_key in self._record._call_answers:
            return self._record._call_answers[replay_key]
        if request.provider_agent_id not in account.agents:
            raise ProviderError(
                f"fake voice platform: no agent {request.provider_agent_id}", retryable=False, status=400
            )
        numbers = {fake_number_id(n) for n in self.config.phone_numbers}
        if request.provider_phone_number_id is not None and request.provider_phone_number_id not in numbers:
            raise ProviderError(
                f"fake voice platform: no phone number {request.provider_phone_number_id}",
                retryable=False,
                status=400,
            )
        call_id = self._record.next_id("fake_call")
        account.calls[call_id] = request
        answer = ProviderCall(provider_id=call_id, status="queued")
        if replay_key is not None:
            self._record._call_answers[replay_key] = answer
        return answer

    async def end_call(self, provider_call_id: str) -> None:
        account = self._begin("end_call", provider_call_id)
        if provider_call_id not in account.calls:
            raise _refused(f"no call {provider_call_id}")
        if provider_call_id not in account.ended_calls:
            account.ended_calls.append(provider_call_id)

    async def upload_knowledge_file(self, upload: KnowledgeFileUpload) -> str:
        account = self._begin("upload_knowledge_file", upload.name)
        file_id = self._record.next_id("fake_file")
        account.files[file_id] = upload
        return file_id

    async def delete_knowledge_file(self, provider_file_id: str) -> None:
        account = self._begin("delete_knowledge_file", provider_file_id)
        if account.files.pop(provider_file_id, None) is not None:
            account.deleted_files.append(provider_file_id)


# --- server messages -----------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment is not None else None


def fake_voice_payload(message: CallMessage) -> dict[str, Any]:
    """A ``CallMessage`` in the fake platform's JSON shape (see the module's docstring)."""
    return {
        "kind": message.kind.value,
        "provider_call_id": message.provider_call_id,
        "direction": message.direction.value if message.direction else None,
        "business_number": message.business_number,
        "customer_number": message.customer_number,
        "provider_agent_id": message.provider_agent_id,
        "status": message.status.value if message.status else None,
        "ended_reason": message.ended_reason,
        "started_at": _iso(message.started_at),
        "ended_at": _iso(message.ended_at),
        "transcript": [{**asdict(entry), "speaker": entry.speaker.value} for entry in message.transcript],
        "analysis": (
            {
                **asdict(message.analysis),
                "sentiment": message.analysis.sentiment.value if message.analysis.sentiment else None,
            }
            if message.analysis
            else None
        ),
        "cost": (
            {
                "currency": message.cost.currency,
                "components": {k.value: v for k, v in message.cost.components.items()},
            }
            if message.cost
            else None
        ),
        "recording_url": message.recording_url,
        "tool_calls": [asdict(call) for call in message.tool_calls],
        "metadata": dict(message.metadata),
    }


def fake_voice_event_id(payload: Mapping[str, Any]) -> str:
    """A delivery's id, the same for every repeat of one message: a status per call and status,
    the report per call, tool calls by their ids, anything else by its content."""
    call_id, kind = payload.get("provider_call_id"), payload.get("kind")
    if kind == CallMessageKind.STATUS:
        return f"{call_id}:status:{payload.get('status')}"
    if kind == CallMessageKind.ENDED:
        return f"{call_id}:ended"
    if kind == CallMessageKind.TOOL_CALLS:
        ids = ",".join(str(call.get("id")) for call in payload.get("tool_calls") or [])
        return f"{call_id}:tool_calls:{ids}"
    if kind == CallMessageKind.ASSISTANT_REQUEST:
        return f"{call_id}:assistant_request"
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]
    return f"{call_id}:{kind}:{digest}"


def sign_fake_voice_message(
    secret: str,
    message: CallMessage | Mapping[str, Any],
    *,
    event_id: str | None = None,
    timestamp: datetime | None = None,
) -> tuple[dict[str, str], bytes]:
    """The headers and body of one delivery from the fake platform, signed with ``secret``
    (the connection's ``webhook_secret``), as development tools and tests post it."""
    payload = fake_voice_payload(message) if isinstance(message, CallMessage) else dict(message)
    body = json.dumps(payload, separators=(",", ":")).encode()
    event_id = event_id or fake_voice_event_id(payload)
    moment = timestamp or datetime.now(UTC)
    signature = Webhook(secret).sign(event_id, moment, body.decode())
    headers = {
        "content-type": "application/json",
        "webhook-id": event_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature,
    }
    return headers, body


def verify_fake_voice_webhook(config: FakeVoiceConfig, incoming: IncomingWebhook) -> list[ProviderEvent]:
    """One signed server message; raises WebhookRejected unless it is genuine, fresh and readable."""
    headers = {name.lower(): value for name, value in incoming.headers.items()}
    try:
        body = Webhook(config.webhook_secret.get_secret_value()).verify(incoming.body, headers)
    except WebhookVerificationError as error:
        raise WebhookRejected(f"not a valid signed message: {error}") from error
    except (ValueError, TypeError, KeyError, RecursionError) as error:  # signed, but not JSON
        raise WebhookRejected(f"malformed message: {error}") from error
    if not isinstance(body, dict):
        raise WebhookRejected("malformed message: not a JSON object")
    event = ProviderEvent(event_id=headers["webhook-id"], type=str(body.get("kind")), data=body)
    try:
        read_fake_voice_message(event)
    except PermanentFailure as error:
        raise WebhookRejected(str(error)) from error
    return [event]


def _text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text")
    return value


def _moment(data: Mapping[str, Any], name: str) -> datetime | None:
    text = _text(data, name)
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"{name} needs a UTC offset")
    return moment.astimezone(UTC)


def _transcript(entries: Any) -> tuple[TranscriptEntry, ...]:
    return tuple(
        TranscriptEntry(
            speaker=Speaker(entry["speaker"]),
            text=str(entry["text"]),
            seconds_from_start=float(entry["seconds_from_start"]),
            duration_seconds=(
                float(entry["duration_seconds"]) if entry.get("duration_seconds") is not None else None
            ),
        )
        for entry in entries or []
    )


def _analysis(data: Any) -> CallAnalysis | None:
    if data is None:
        return None
    success, sentiment = data.get("success"), data.get("sentiment")
    if success is not None and not isinstance(success, bool):
        raise ValueError("analysis.success must be true, false or null")
    return CallAnalysis(
        summary=_text(data, "summary"),
        structured_data=dict(data.get("structured_data") or {}),
        success=success,
        sentiment=Sentiment(sentiment) if sentiment is not None else None,
    )


def _cost(data: Any) -> CallCost | None:
    if data is None:
        return None
    components: dict[CostComponent, int] = {}
    for name, amount in dict(data.get("components") or {}).items():
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise ValueError(f"cost.components.{name} must be a whole number of micro-units, 0 or more")
        components[CostComponent(name)] = amount
    currency = str(data["currency"])
    if len(currency) != 3 or not currency.isalpha():
        raise ValueError("cost.currency must be an ISO 4217 code")
    return CallCost(currency=currency.upper(), components=components)


def _tool_calls(calls: Any) -> tuple[ToolCall, ...]:
    found = []
    for call in calls or []:
        arguments = call.get("arguments") or {}
        if not isinstance(arguments, dict):
            raise ValueError("tool_calls[].arguments must be an object")
        found.append(ToolCall(id=str(call["id"]), name=str(call["name"]), arguments=arguments))
    return tuple(found)


def read_fake_voice_message(event: ProviderEvent) -> CallMessage:
    """The message a verified delivery carries; PermanentFailure when it cannot be read."""
    data = event.data
    try:
        call_id = data["provider_call_id"]
        if not isinstance(call_id, str) or not call_id:
            raise ValueError("provider_call_id must be non-empty text")
        direction, status = data.get("direction"), data.get("status")
        metadata = data.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise ValueError("metadata must be an object")
        return CallMessage(
            kind=CallMessageKind(data["kind"]),
            provider_call_id=call_id,
            direction=CallDirection(direction) if direction is not None else None,
            business_number=_text(data, "business_number"),
            customer_number=_text(data, "customer_number"),
            provider_agent_id=_text(data, "provider_agent_id"),
            status=CallStatus(status) if status is not None else None,
            ended_reason=_text(data, "ended_reason"),
            started_at=_moment(data, "started_at"),
            ended_at=_moment(data, "ended_at"),
            transcript=_transcript(data.get("transcript")),
            analysis=_analysis(data.get("analysis")),
            cost=_cost(data.get("cost")),
            recording_url=_text(data, "recording_url"),
            tool_calls=_tool_calls(data.get("tool_calls")),
            metadata={str(k): str(v) for k, v in metadata.items()},
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise PermanentFailure(f"fake voice message {event.event_id}: {error!r}") from error


def answer_fake_assistant_request(choice: AssistantChoice) -> LiveAnswer:
    return LiveAnswer(
        200,
        {
            "provider_agent_id": choice.provider_agent_id,
            "variables": choice.caller.as_variables() if choice.caller else {},
            "refusal": choice.refusal,
        },
    )


def answer_fake_tool_calls(results: list[ToolResult]) -> LiveAnswer:
    return LiveAnswer(200, {"results": [asdict(result) for result in results]})


FAKE_VOICE_MESSAGES = VoiceMessages(
    read=read_fake_voice_message,
    answer_assistant_request=answer_fake_assistant_request,
    answer_tool_calls=answer_fake_tool_calls,
)
