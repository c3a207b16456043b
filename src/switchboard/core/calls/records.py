"""A call as Switchboard keeps it: one row per call, whichever platform carried it.

``core/calls/model.py`` holds the vocabulary the platforms' messages are read into; this is the
record those messages build (``core/calls/calls.py`` ``record_call_message`` is the one way a
platform message changes it) and the filters the calls list takes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from switchboard.core.calls.model import (
    CallCost,
    CallDirection,
    CallStatus,
    Sentiment,
    TranscriptEntry,
)
from switchboard.core.customers.timeline import TimelineEntry, TimelineKind, TimelineRef
from switchboard.core.errors import Conflict

# The metadata key a started outbound call carries, so the platform's messages name our call
# even before its own id for the call is known here.
SWITCHBOARD_CALL_ID = "switchboard_call_id"
SWITCHBOARD_AGENT_ID = "switchboard_agent_id"


@dataclass(frozen=True)
class CallFeedback:
    """A team member's verdict on a call."""

    rating: int  # 1 to 5
    comment: str | None
    given_by: UUID | None  # the user; None for an API key
    given_at: datetime


@dataclass(frozen=True)
class Call:
    id: UUID
    tenant_id: UUID
    integration_id: UUID  # the voice integration that carries the call
    provider_call_id: str | None  # the platform's id; None until an outbound call is started
    direction: CallDirection
    status: CallStatus
    created_at: datetime
    updated_at: datetime
    ended_reason: str | None = None
    agent_id: UUID | None = None  # Switchboard's agent
    customer_id: UUID | None = None
    business_number: str | None = None  # E.164
    customer_number: str | None = None  # E.164
    scheduled_at: datetime | None = None  # an outbound call's requested time
    started_at: datetime | None = None
    ended_at: datetime | None = None
    transcript: tuple[TranscriptEntry, ...] = ()
    summary: str | None = None
    structured_data: dict[str, Any] = field(default_factory=dict)
    success: bool | None = None
    sentiment: Sentiment | None = None
    cost: CallCost | None = None
    recording_url: str | None = None  # the platform's own address: stored, never handed out
    feedback: CallFeedback | None = None
    version: int = 1

    @property
    def duration_seconds(self) -> int | None:
        """Whole seconds from start to end, once both are known."""
        if self.started_at is None or self.ended_at is None:
            return None
        return max(0, round((self.ended_at - self.started_at).total_seconds()))

    @property
    def ended(self) -> bool:
        return self.status is CallStatus.ENDED


@dataclass(frozen=True)
class CallFilter:
    """What ``GET /v1/calls`` narrows by; each bound is exclusive, every field optional."""

    status: CallStatus | None = None
    direction: CallDirection | None = None
    sentiment: Sentiment | None = None
    agent_id: UUID | None = None
    customer_id: UUID | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    started_after: datetime | None = None
    started_before: datetime | None = None
    min_duration_seconds: int | None = None  # calls without a known duration are left out

    def matches(self, call: Call) -> bool:
        """The filter as a predicate: what the in-memory adapter applies and the SQL mirrors."""
        checks = (
            self.status is None or call.status is self.status,
            self.direction is None or call.direction is self.direction,
            self.sentiment is None or call.sentiment is self.sentiment,
            self.agent_id is None or call.agent_id == self.agent_id,
            self.customer_id is None or call.customer_id == self.customer_id,
            self.created_after is None or call.created_at > self.created_after,
            self.created_before is None or call.created_at < self.created_before,
            self.started_after is None
            or (call.started_at is not None and call.started_at > self.started_after),
            self.started_before is None
            or (call.started_at is not None and call.started_at < self.started_before),
            self.min_duration_seconds is None
            or (call.duration_seconds is not None and call.duration_seconds >= self.min_duration_seconds),
        )
        return all(checks)


def timeline_entry(call: Call) -> TimelineEntry:
    """The call on its customer's timeline, at the time it was first recorded."""
    what = "Inbound call" if call.direction is CallDirection.INBOUND else "Outbound call"
    detail = call.status.value.replace("_", " ")
    if call.ended and call.duration_seconds is not None:
        minutes, seconds = divmod(call.duration_seconds, 60)
        detail = f"{minutes}:{seconds:02d}"
    return TimelineEntry(
        occurred_at=call.created_at,
        id=call.id,
        kind=TimelineKind.CALL,
        summary=f"{what} ({detail})",
        ref=TimelineRef("call", call.id),
    )


def call_exists() -> Conflict:
    """Storage refuses a second call with the same provider id in one integration."""
    return Conflict("the integration already has a call with this provider id", code="call_exists")
