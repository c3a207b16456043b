"""Calls in Switchboard's words: what a voice agent's call is, whichever platform carries it.

A voice platform (Vapi, Retell, ...) tells of a call in its own shapes; its plugin reads them
into a ``CallMessage`` here, and everything else (storage, the live-call answers, analytics)
speaks only this vocabulary.

A call's status only moves forward (``STATUS_ORDER``): platforms deliver their messages at
least once and in no guaranteed order, so a late "ringing" never undoes "in progress", and
nothing undoes "ended".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class CallStatus(StrEnum):
    SCHEDULED = "scheduled"  # an outbound call waiting for its time
    QUEUED = "queued"  # handed to the platform, not yet ringing
    RINGING = "ringing"
    IN_PROGRESS = "in_progress"
    FORWARDING = "forwarding"  # being transferred to a person
    ENDED = "ended"


STATUS_ORDER: dict[CallStatus, int] = {status: rank for rank, status in enumerate(CallStatus)}


def advances(current: CallStatus, reported: CallStatus) -> bool:
    """Whether a reported status moves a call forward (a repeat or a late one does not)."""
    return STATUS_ORDER[reported] > STATUS_ORDER[current]


class CallDirection(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Sentiment(StrEnum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"


class Speaker(StrEnum):
    AGENT = "agent"
    CUSTOMER = "customer"
    TOOL = "tool"  # a business tool's call and its result
    SYSTEM = "system"


class CostComponent(StrEnum):
    """What a call's cost is made of, the way platforms bill it."""

    TRANSPORT = "transport"  # telephony: the carrier's minutes
    SPEECH_TO_TEXT = "speech_to_text"
    MODEL = "model"  # the language model
    TEXT_TO_SPEECH = "text_to_speech"
    PLATFORM = "platform"  # the voice platform's own fee


@dataclass(frozen=True)
class TranscriptEntry:
    """One utterance, timed from the start of the call."""

    speaker: Speaker
    text: str
    seconds_from_start: float
    duration_seconds: float | None = None


@dataclass(frozen=True)
class CallCost:
    """Cost in micro-units of ``currency`` (1/1,000,000: platforms price fractions of a cent),
    per component; ``total`` is their sum."""

    currency: str  # ISO 4217, upper case
    components: dict[CostComponent, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.components.values())


@dataclass(frozen=True)
class CallAnalysis:
    """What the platform (or its model) concluded about the call."""

    summary: str | None = None
    structured_data: dict[str, Any] = field(default_factory=dict)
    success: bool | None = None  # the success evaluation, where the platform gives one
    sentiment: Sentiment | None = None


class BusinessTool(StrEnum):
    """The business tools an agent may be given, each run mid-call as the tenant would run it
    over the HTTP API (core/calls/tools.py)."""

    FIND_CUSTOMER = "find_customer"
    CHECK_AVAILABILITY = "check_availability"
    BOOK_APPOINTMENT = "book_appointment"
    RESCHEDULE_APPOINTMENT = "reschedule_appointment"
    CANCEL_APPOINTMENT = "cancel_appointment"
    CREATE_QUOTE_DRAFT = "create_quote_draft"
    TAKE_MESSAGE = "take_message"


@dataclass(frozen=True)
class ToolDefinition:
    """A business tool described for the platform's model: its parameters as JSON Schema."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """The agent asks for one business tool to run, mid-call."""

    id: str  # the platform's id of the request, echoed in the answer
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ToolResult:
    """A tool's answer, for the agent to read (``result``) or to say what went wrong (``error``)."""

    tool_call_id: str
    name: str
    result: dict[str, Any] | None = None
    error: str | None = None


class CallMessageKind(StrEnum):
    """What a platform's message tells. The first two need an answer within the platform's
    deadline; the others are stored through the inbox and processed once by the worker."""

    ASSISTANT_REQUEST = "assistant_request"  # an inbound call: which agent answers, with what context
    TOOL_CALLS = "tool_calls"  # run business tools now and answer with their results
    STATUS = "status"  # the call's status changed
    TRANSCRIPT = "transcript"  # a final utterance
    ENDED = "ended"  # the end-of-call report: transcript, analysis, costs, recording
    OTHER = "other"  # anything Switchboard keeps but has no use for


LIVE_KINDS = frozenset({CallMessageKind.ASSISTANT_REQUEST, CallMessageKind.TOOL_CALLS})


@dataclass(frozen=True)
class CallMessage:
    """One message of a platform about one call, read into Switchboard's words by its plugin.

    ``business_number`` is the tenant's number on the call (E.164): the called number of an
    inbound call, the calling number of an outbound one; ``customer_number`` the other party.
    ``provider_agent_id`` is the platform's id of the agent, when the platform names one.
    Fields a message does not carry are None or empty. ``provider_call_id`` is empty only
    when the platform has not named the call yet (Retell's inbound-call webhook): such a message
    is answered but records nothing, and the call is recorded from the platform's next message.
    """

    kind: CallMessageKind
    provider_call_id: str
    direction: CallDirection | None = None
    business_number: str | None = None
    customer_number: str | None = None
    provider_agent_id: str | None = None
    status: CallStatus | None = None
    ended_reason: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    transcript: tuple[TranscriptEntry, ...] = ()
    analysis: CallAnalysis | None = None
    cost: CallCost | None = None
    recording_url: str | None = None  # the platform's own address; never handed to clients
    tool_calls: tuple[ToolCall, ...] = ()
    # What Switchboard put on the call when it started it (its call id, agent id), echoed back.
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CallerContext:
    """What Switchboard knows about an inbound caller, for the agent to greet them with."""

    customer_id: str | None
    name: str | None
    upcoming_appointments: tuple[str, ...] = ()  # one line each, in the business's time zone
    open_invoices: tuple[str, ...] = ()  # one line each: number, amount due, due date

    def as_variables(self) -> dict[str, str]:
        """Flat text variables, the form platforms substitute into prompts."""
        return {
            "customer_id": self.customer_id or "",
            "customer_name": self.name or "",
            "customer_known": "yes" if self.customer_id else "no",
            "upcoming_appointments": "; ".join(self.upcoming_appointments) or "none",
            "open_invoices": "; ".join(self.open_invoices) or "none",
        }


@dataclass(frozen=True)
class AssistantChoice:
    """The answer to an assistant request: the agent (by the platform's id) that takes the call
    and what it should know; or, with no agent, a message the platform speaks before hanging up."""

    provider_agent_id: str | None
    caller: CallerContext | None = None
    refusal: str | None = None
