"""Call use cases: what platforms tell of calls, outbound calls, ending them, feedback.

``record_call_message`` is the one way a platform's message changes a call. Platforms deliver
at least once and in no guaranteed order, and the live-call answers record their message at the
same moment the inbox does, so every message is applied under the call's row lock and by rules
that make a repeat or a late message change nothing: the status only moves forward, "ended" is
final, the end-of-call report is authoritative for what it carries, and a live transcript line
after the end is ignored.

Outbound calls are made by the worker ("voice.start_call", due at the requested time), which
checks the call again before it dials: a call ended (cancelled) meanwhile is never started.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from switchboard.core.calls.model import (
    CallDirection,
    CallMessage,
    CallMessageKind,
    CallStatus,
    TranscriptEntry,
    advances,
)
from switchboard.core.calls.records import (
    SWITCHBOARD_AGENT_ID,
    SWITCHBOARD_CALL_ID,
    Call,
    CallFeedback,
    CallFilter,
)
from switchboard.core.customers.model import normalize_phone
from switchboard.core.errors import Conflict, InvalidInput, NotFound, gather
from switchboard.core.flags.handlers import ensure_enabled
from switchboard.core.identity.model import Principal
from switchboard.core.integrations.model import Capability
from switchboard.core.pagination import Page, PageRequest
from switchboard.core.queues.model import new_outbox_message
from switchboard.core.tenancy.permissions import Action, require
from switchboard.core.text import refuse_control_characters_but_line_breaks

if TYPE_CHECKING:  # ports appear in annotations only; the core imports nothing outside itself
    from switchboard.ports.clock import Clock
    from switchboard.ports.persistence import UnitOfWork, UnitOfWorkFactory

START_CALL = "voice.start_call"
END_CALL = "voice.end_call"

CALL_NOT_FOUND = "no call with this id"
NO_RECORDING = "this call has no recording"
SCHEDULE_AHEAD_MAX = timedelta(days=30)
COMMENT_MAX = 2000
# ITU-T E.164: a plus, a country code that does not start with 0, at most 15 digits in all.
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")

CANCELLED = "cancelled"  # the ended reason of a call ended before it was started
START_FAILED = "start_failed"  # ... of one the platform would not start

# What a message of each kind says about the status when it names none.
_IMPLIED_STATUS = {
    CallMessageKind.ASSISTANT_REQUEST: CallStatus.RINGING,
    CallMessageKind.TOOL_CALLS: CallStatus.IN_PROGRESS,
    CallMessageKind.TRANSCRIPT: CallStatus.IN_PROGRESS,
    CallMessageKind.ENDED: CallStatus.ENDED,
}


# --- what a message does to a call (pure) --------------------------------------------------------


def reported_status(message: CallMessage) -> CallStatus | None:
    if message.kind is CallMessageKind.ENDED:
        return CallStatus.ENDED
    return message.status or _IMPLIED_STATUS.get(message.kind)


def merge_transcripts(
    current: tuple[TranscriptEntry, ...], arriving: tuple[TranscriptEntry, ...]
) -> tuple[TranscriptEntry, ...]:
    """Both, each utterance once, in call order: lines may arrive twice and out of order."""
    seen = {(e.seconds_from_start, e.speaker, e.text): e for e in current}
    for entry in arriving:
        seen.setdefault((entry.seconds_from_start, entry.speaker, entry.text), entry)
    return tuple(sorted(seen.values(), key=lambda e: (e.seconds_from_start, e.speaker.value, e.text)))


def merge_message(call: Call, message: CallMessage, now: datetime) -> Call:
    """The call as ``message`` leaves it; the same call when the message adds nothing.

    The end-of-call report replaces what it carries (it is the platform's final word, and a
    repeat of it changes nothing); other messages only fill what is unknown, and once the call
    has ended they no longer touch its transcript, analysis or cost.
    """
    report = message.kind is CallMessageKind.ENDED
    was_ended = call.ended
    changes: dict[str, Any] = {}

    status = reported_status(message)
    if status is not None and advances(call.status, status):
        changes["status"] = status

    for name in ("business_number", "customer_number"):
        value = getattr(message, name)
        if value and getattr(call, name) is None:
            changes[name] = value
    for name in ("started_at", "ended_at", "ended_reason", "recording_url"):
        value = getattr(message, name)
        if value is not None and (report or getattr(call, name) is None) and getattr(call, name) != value:
            changes[name] = value

    if report or not was_ended:
        if message.cost is not None and message.cost != call.cost:
            changes["cost"] = message.cost
        if message.analysis is not None:
            analysis = message.analysis
            candidates = {
                "summary": analysis.summary,
                "success": analysis.success,
                "sentiment": analysis.sentiment,
                "structured_data": analysis.structured_data or None,
            }
            for name, value in candidates.items():
                if value is not None and getattr(call, name) != value:
                    changes[name] = value
    if report and message.transcript:
        if message.transcript != call.transcript:
            changes["transcript"] = message.transcript
    elif message.transcript and not was_ended:
        merged = merge_transcripts(call.transcript, message.transcript)
        if merged != call.transcript:
            changes["transcript"] = merged

    # Times the platform did not give are taken from the moment the status said so; a later
    # end-of-call report gives the platform's own.
    new_status = changes.get("status")
    if new_status is not None:
        started = changes.get("started_at", call.started_at)
        if started is None and new_status in (CallStatus.IN_PROGRESS, CallStatus.FORWARDING):
            changes["started_at"] = now
        if new_status is CallStatus.ENDED and changes.get("ended_at", call.ended_at) is None:
            changes["ended_at"] = now

    if not changes:
        return call
    return replace(call, **changes, updated_at=now, version=call.version + 1)


def _our_call_id(message: CallMessage) -> UUID | None:
    try:
        return UUID(message.metadata[SWITCHBOARD_CALL_ID])
    except (KeyError, ValueError):
        return None


def _our_agent_id(message: CallMessage) -> UUID | None:
    try:
        return UUID(message.metadata[SWITCHBOARD_AGENT_ID])
    except (KeyError, ValueError):
        return None


def _phone_or_none(number: str | None) -> str | None:
    if not number:
        return None
    try:
        return normalize_phone(number)
    except InvalidInput:
        return number  # kept as the platform gave it (a SIP address, "anonymous", ...)


# --- recording platform messages -------------------------------------------------------------------


async def record_call_message(
    tenant_id: UUID, integration_id: UUID, message: CallMessage, units: UnitOfWorkFactory, clock: Clock
) -> Call:
    """Apply one platform message to its call, creating the call when it is new; the call after.

    One or two statements for a known call (lock, then update when anything changed); a new one
    is inserted unless a concurrent delivery inserted it first, and then updated under its lock.
    """
    if not message.provider_call_id:
        raise InvalidInput.single("provider_call_id", "the message names no call")
    async with units(tenant_id) as uow:
        call = await apply_call_message(uow, tenant_id, integration_id, message, clock.now())
        await uow.commit()
    return call


async def apply_call_message(
    uow: UnitOfWork,
    tenant_id: UUID,
    integration_id: UUID,
    message: CallMessage,
    now: datetime,
    known: Call | None = None,
) -> Call:
    """``record_call_message`` inside the caller's transaction, which commits it (so that other
    writes can share it); the message must name its call.

    ``known`` is the call as read earlier, in another transaction: when it has not changed
    since, it is updated in one statement (its version is checked); else it is read again under
    its lock, as without it."""
    assert message.provider_call_id is not None
    message = replace(
        message,
        customer_number=_phone_or_none(message.customer_number),
        business_number=_phone_or_none(message.business_number),
    )
    if known is not None and known.provider_call_id == message.provider_call_id:
        updated = await _merged(uow, known, message, now)
        if updated == known or await uow.calls.update(updated, expected_version=known.version):
            return updated
    stored = await uow.calls.find_by_provider_call_id(
        integration_id, message.provider_call_id, for_update=True
    )
    if stored is None:
        stored = await _started_by_us(uow, integration_id, message)
    if stored is None:
        fresh = await _new_call(uow, tenant_id, integration_id, message, now)
        stored = await uow.calls.add_or_lock(fresh)
        if stored.id == fresh.id:
            return fresh
    updated = await _merged(uow, stored, message, now)
    if updated != stored:
        await uow.calls.update(updated, expected_version=stored.version)
    return updated


async def _merged(uow: UnitOfWork, stored: Call, message: CallMessage, now: datetime) -> Call:
    """The stored call with the message applied, at the next version when anything changed."""
    working = replace(stored, provider_call_id=message.provider_call_id)
    updated = await _with_parties(uow, merge_message(working, message, now), message, working)
    if updated != stored and updated.version == stored.version:
        updated = replace(updated, updated_at=now, version=stored.version + 1)
    return updated


async def _started_by_us(uow: UnitOfWork, integration_id: UUID, message: CallMessage) -> Call | None:
    """An outbound call we started whose platform id we learn from this message (the metadata
    we put on it is echoed back), locked; None when it is not one."""
    ours = _our_call_id(message)
    if ours is None:
        return None
    call = await uow.calls.get(ours, for_update=True)
    if call is None or call.integration_id != integration_id:
        return None
    if call.provider_call_id not in (None, message.provider_call_id):
        return None
    return call


async def _new_call(
    uow: UnitOfWork, tenant_id: UUID, integration_id: UUID, message: CallMessage, now: datetime
) -> Call:
    blank = Call(
        id=uuid4(),
        tenant_id=tenant_id,
        integration_id=integration_id,
        provider_call_id=message.provider_call_id,
        direction=message.direction or CallDirection.INBOUND,
        status=CallStatus.QUEUED,
        created_at=now,
        updated_at=now,
    )
    call = replace(merge_message(blank, message, now), version=1)
    return await _with_parties(uow, call, message, None)


async def _with_parties(uow: UnitOfWork, call: Call, message: CallMessage, before: Call | None) -> Call:
    """The customer (by the caller's number) and the agent (by the platform's agent id, else by
    the tenant's number that was called), looked up only when something new names them."""
    if (
        call.customer_id is None
        and call.customer_number
        and (before is None or before.customer_number != call.customer_number)
    ):
        customer = await uow.customers.find_by_phone(call.customer_number)
        if customer is not None:
            call = replace(call, customer_id=customer.id)
    if call.agent_id is None:
        agent_id = _our_agent_id(message)
        if agent_id is None and message.provider_agent_id:
            agent = await uow.voice_agents.find_by_provider_agent_id(message.provider_agent_id)
            agent_id = agent.id if agent else None
        if (
            agent_id is None
            and call.business_number
            and (before is None or before.business_number != call.business_number)
        ):
            number = await uow.phone_numbers.find_by_number(call.business_number)
            agent_id = number.agent_id if number else None
        if agent_id is not None:
            call = replace(call, agent_id=agent_id)
    return call


# --- the calls API -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StartCall:
    agent_id: UUID
    customer_id: UUID | None = None
    to: str | None = None  # E.164, when not calling a customer
    scheduled_at: datetime | None = None


@dataclass(frozen=True)
class ListCalls:
    filters: CallFilter = field(default_factory=CallFilter)
    page: PageRequest = field(default_factory=PageRequest)


@dataclass(frozen=True)
class GiveFeedback:
    call_id: UUID
    rating: int
    comment: str | None = None


def check_e164(number: str, name: str = "to") -> str:
    if not _E164.match(number):
        raise InvalidInput.single(name, "must be an E.164 number such as +14155550123")
    return number


def _check_schedule(scheduled_at: datetime | None, now: datetime) -> datetime | None:
    if scheduled_at is None:
        return None
    if scheduled_at.tzinfo is None or scheduled_at.utcoffset() is None:
        raise InvalidInput.single("scheduled_at", "must carry a time zone (for example a trailing Z)")
    if scheduled_at <= now:
        raise InvalidInput.single("scheduled_at", "must be in the future")
    if scheduled_at > now + SCHEDULE_AHEAD_MAX:
        raise InvalidInput.single("scheduled_at", "must be within 30 days")
    return scheduled_at


def _check_party(cmd: StartCall) -> str | None:
    if (cmd.customer_id is None) == (cmd.to is None):
        raise InvalidInput.single("customer_id", "give either customer_id or to, not both")
    return check_e164(cmd.to) if cmd.to is not None else None


def _call_fields(call: Call) -> dict[str, Any]:
    """What the audit log keeps of a new call (numbers are personal data: not kept)."""
    return {
        "direction": call.direction.value,
        "status": call.status.value,
        "agent_id": str(call.agent_id) if call.agent_id else None,
        "customer_id": str(call.customer_id) if call.customer_id else None,
        "scheduled_at": call.scheduled_at.isoformat() if call.scheduled_at else None,
    }


async def start_call(cmd: StartCall, principal: Principal, uow: UnitOfWork, clock: Clock) -> Call:
    """Record an outbound call and ask the worker to place it (now, or at ``scheduled_at``)."""
    require(principal, Action.CALLS_WRITE)
    now = clock.now()
    checks: dict[str, Callable[[], Any]] = {
        "to": lambda: _check_party(cmd),
        "scheduled_at": lambda: _check_schedule(cmd.scheduled_at, now),
    }
    checked = gather(checks)
    to: str | None = checked["to"]
    scheduled_at: datetime | None = checked["scheduled_at"]
    async with uow:
        await ensure_enabled(uow, "voice")
        agent = await uow.voice_agents.get(cmd.agent_id)
        if agent is None:
            raise InvalidInput.single("agent_id", "no agent with this id")
        if agent.published_version is None:
            raise Conflict("the agent has no published version to call with", code="agent_not_published")
        integration = await uow.integrations.enabled_for(Capability.VOICE)
        if integration is None:
            raise Conflict("no voice provider is connected", code="provider_not_connected")
        customer_id = cmd.customer_id
        if customer_id is not None:
            customer = await uow.customers.get(customer_id)
            if customer is None:
                raise InvalidInput.single("customer_id", "no customer with this id")
            if not customer.phone:
                raise InvalidInput.single("customer_id", "the customer has no phone number")
            to = customer.phone
        else:
            assert to is not None  # _check_party: one of the two
            known = await uow.customers.find_by_phone(to)
            customer_id = known.id if known else None
        numbers = await uow.phone_numbers.for_agent(agent.id)
        call = Call(
            id=uuid4(),
            tenant_id=principal.tenant_id,
            integration_id=integration.id,
            provider_call_id=None,
            direction=CallDirection.OUTBOUND,
            status=CallStatus.SCHEDULED if scheduled_at else CallStatus.QUEUED,
            created_at=now,
            updated_at=now,
            agent_id=agent.id,
            customer_id=customer_id,
            business_number=numbers[0].number if numbers else None,
            customer_number=to,
            scheduled_at=scheduled_at,
        )
        await uow.calls.add(call)
        job = new_outbox_message(principal.tenant_id, START_CALL, {"call_id": str(call.id)}, now)
        await uow.outbox.add(replace(job, next_attempt_at=scheduled_at or now))
        await uow.audit.record("call.created", "call", str(call.id), _call_fields(call))
        await uow.commit()
    return call


async def get_call(call_id: UUID, principal: Principal, uow: UnitOfWork) -> Call:
    require(principal, Action.CALLS_READ)
    async with uow:
        return await _call(uow, call_id)


async def list_calls(cmd: ListCalls, principal: Principal, uow: UnitOfWork) -> Page[Call]:
    require(principal, Action.CALLS_READ)
    async with uow:
        return await uow.calls.list(cmd.filters, cmd.page)


async def end_call(call_id: UUID, principal: Principal, uow: UnitOfWork, clock: Clock) -> Call:
    """Hang up a live call (through the worker: the platform's messages then tell of the end),
    or cancel one not started yet (at once). A call that has ended is a conflict."""
    require(principal, Action.CALLS_WRITE)
    now = clock.now()
    async with uow:
        call = await _call(uow, call_id, for_update=True)
        if call.ended:
            raise Conflict("the call has already ended", code="call_ended")
        if call.provider_call_id is None:
            cancelled = replace(
                call,
                status=CallStatus.ENDED,
                ended_reason=CANCELLED,
                ended_at=now,
                updated_at=now,
                version=call.version + 1,
            )
            await uow.calls.update(cancelled, expected_version=call.version)
            await uow.audit.record("call.cancelled", "call", str(call.id), {"status": CallStatus.ENDED.value})
            await uow.commit()
            return cancelled
        await uow.outbox.add(
            new_outbox_message(principal.tenant_id, END_CALL, {"call_id": str(call.id)}, now)
        )
        await uow.audit.record("call.end_requested", "call", str(call.id))
        await uow.commit()
    return call


async def give_feedback(cmd: GiveFeedback, principal: Principal, uow: UnitOfWork, clock: Clock) -> Call:
    require(principal, Action.CALLS_WRITE)
    comment = cmd.comment.strip() if cmd.comment else None

    def rating() -> int:
        if isinstance(cmd.rating, bool) or not isinstance(cmd.rating, int) or not 1 <= cmd.rating <= 5:
            raise InvalidInput.single("rating", "must be a whole number from 1 to 5")
        return cmd.rating

    def comment_length() -> None:
        if comment and len(comment) > COMMENT_MAX:
            raise InvalidInput.single("comment", f"must be at most {COMMENT_MAX} characters")
        if comment:
            refuse_control_characters_but_line_breaks(comment, "comment")

    gather({"rating": rating, "comment": comment_length})
    now = clock.now()
    async with uow:
        call = await _call(uow, cmd.call_id, for_update=True)
        feedback = CallFeedback(cmd.rating, comment or None, principal.user_id, now)
        updated = replace(call, feedback=feedback, updated_at=now, version=call.version + 1)
        await uow.calls.update(updated, expected_version=call.version)
        previous = call.feedback
        await uow.audit.record(
            "call.feedback_given",
            "call",
            str(call.id),
            {
                "rating": {"from": previous.rating if previous else None, "to": feedback.rating},
                "comment": {"from": previous.comment if previous else None, "to": feedback.comment},
            },
        )
        await uow.commit()
    return updated


async def recording_of(call_id: UUID, principal: Principal, uow: UnitOfWork) -> Call:
    """The call, if it has a recording to hand out (the link itself is signed by the caller)."""
    require(principal, Action.CALLS_READ)
    async with uow:
        call = await _call(uow, call_id)
    if call.recording_url is None:
        raise NotFound(NO_RECORDING)
    return call


async def recording_address(call_id: UUID, uow: UnitOfWork) -> str:
    """The platform's address of a call's recording, for a holder of a valid signed link."""
    async with uow:
        call = await uow.calls.get(call_id)
    if call is None or call.recording_url is None:
        raise NotFound(NO_RECORDING)
    return call.recording_url


async def _call(uow: UnitOfWork, call_id: UUID, *, for_update: bool = False) -> Call:
    call = await uow.calls.get(call_id, for_update=for_update)
    if call is None:
        raise NotFound(CALL_NOT_FOUND)
    return call


# --- the worker's side of outbound calls ---------------------------------------------------------


@dataclass(frozen=True)
class CallToPlace:
    """What the platform needs to place a call we recorded."""

    call: Call
    provider_agent_id: str
    provider_phone_number_id: str | None
    customer_name: str | None


class CallNotPlaceable(Exception):
    """The call cannot be placed as things stand (its agent is gone or not at the platform yet)."""


async def call_to_place(call_id: UUID, uow: UnitOfWork) -> CallToPlace | None:
    """The call to dial now; None when it should not be (ended, cancelled, started already)."""
    async with uow:
        call = await uow.calls.get(call_id)
        if call is None or call.ended or call.provider_call_id is not None:
            return None
        agent = await uow.voice_agents.get(call.agent_id) if call.agent_id else None
        if agent is None or agent.published_version is None:
            raise CallNotPlaceable("the call's agent is gone or unpublished")
        if agent.provider_agent_id is None:
            raise CallNotPlaceable("the call's agent is not at the voice platform yet")
        numbers = await uow.phone_numbers.for_agent(agent.id)
        chosen = next((n for n in numbers if n.number == call.business_number), None)
        customer = await uow.customers.get(call.customer_id) if call.customer_id else None
    return CallToPlace(
        call=call,
        provider_agent_id=agent.provider_agent_id,
        provider_phone_number_id=chosen.provider_id if chosen else None,
        customer_name=customer.name if customer else None,
    )


async def note_call_placed(
    tenant_id: UUID, call_id: UUID, provider_call_id: str, units: UnitOfWorkFactory, clock: Clock
) -> bool:
    """Record the platform's id of a call just placed; False when the call ended meanwhile (it
    was cancelled while being dialled), so the caller hangs it up."""
    now = clock.now()
    async with units(tenant_id) as uow:
        call = await uow.calls.get(call_id, for_update=True)
        if call is None:
            return False
        changes: dict[str, Any] = {}
        if call.provider_call_id is None:
            changes["provider_call_id"] = provider_call_id
        if call.status is CallStatus.SCHEDULED:
            changes["status"] = CallStatus.QUEUED
        if changes:
            updated = replace(call, **changes, updated_at=now, version=call.version + 1)
            await uow.calls.update(updated, expected_version=call.version)
        await uow.commit()
    return not call.ended


async def note_call_failed(
    tenant_id: UUID, call_id: UUID, reason: str, units: UnitOfWorkFactory, clock: Clock
) -> None:
    """The platform would not place the call: it ends, with why."""
    now = clock.now()
    async with units(tenant_id) as uow:
        call = await uow.calls.get(call_id, for_update=True)
        if call is None or call.ended or call.provider_call_id is not None:
            return
        failed = replace(
            call,
            status=CallStatus.ENDED,
            ended_reason=f"{START_FAILED}: {reason}"[:500],
            ended_at=now,
            updated_at=now,
            version=call.version + 1,
        )
        await uow.calls.update(failed, expected_version=call.version)
        await uow.commit()


async def call_to_hang_up(call_id: UUID, uow: UnitOfWork) -> str | None:
    """The platform's id of a call to hang up; None when there is nothing to hang up."""
    async with uow:
        call = await uow.calls.get(call_id)
    if call is None or call.ended:
        return None
    return call.provider_call_id
