"""Calls and the voice platforms, for the worker: the platforms' stored messages, and the
outbound calls and hang-ups sent to them.

Any provider whose ``ProviderSpec`` has ``voice`` gets its inbox events read by its own plugin
into a ``CallMessage`` and recorded by the core (``record_call_message``), whatever the event's
type: the worker asks ``voice_event_router`` when no handler is registered for the exact
(provider, type). The "voice.start_call" and "voice.end_call" outbox jobs call the tenant's
platform with no transaction open.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

import structlog

from switchboard.core.calls import calls as core
from switchboard.core.calls.model import CallerContext
from switchboard.core.calls.records import SWITCHBOARD_AGENT_ID, SWITCHBOARD_CALL_ID
from switchboard.core.errors import DomainError
from switchboard.core.queues.model import InboxEvent, OutboxMessage, PermanentFailure
from switchboard.entrypoints.voice_sync import payload_uuid
from switchboard.plugins.manager import PluginCatalog
from switchboard.ports.clock import Clock
from switchboard.ports.persistence import UnitOfWorkFactory
from switchboard.ports.providers import ProviderError, ProviderEvent, ProviderRegistry
from switchboard.ports.voice import OutboundCallRequest, VoiceMessages

log = structlog.get_logger("switchboard.calls")

EventHandler = Callable[[InboxEvent], Awaitable[None]]
Performer = Callable[[OutboxMessage], Awaitable[None]]


def voice_event_router(
    catalog: PluginCatalog, units: UnitOfWorkFactory, clock: Clock
) -> Callable[[InboxEvent], EventHandler | None]:
    """The handler of an event of a voice provider (by the capability its spec declares);
    None for every other provider's event."""

    def route(event: InboxEvent) -> EventHandler | None:
        spec = catalog.specs.get(event.provider)
        if spec is None or spec.voice is None:
            return None
        return partial(_record_event, spec.voice, units, clock)

    return route


async def _record_event(
    messages: VoiceMessages, units: UnitOfWorkFactory, clock: Clock, event: InboxEvent
) -> None:
    try:
        message = messages.read(ProviderEvent(event.event_id, event.type, event.data, event.occurred_at))
    except (KeyError, TypeError, ValueError) as error:
        raise PermanentFailure(f"unreadable {event.provider} message: {error}") from error
    if not message.provider_call_id:
        return  # a platform message about no call in particular (an account notice)
    await core.record_call_message(event.tenant_id, event.integration_id, message, units, clock)


def call_performers(
    units: UnitOfWorkFactory, registry: ProviderRegistry, clock: Clock
) -> dict[str, Performer]:
    return {
        core.START_CALL: partial(place_call, units, registry, clock),
        core.END_CALL: partial(hang_up, units, registry),
    }


async def place_call(
    units: UnitOfWorkFactory, registry: ProviderRegistry, clock: Clock, job: OutboxMessage
) -> None:
    """Dial a recorded outbound call, checked again first (a call ended or cancelled meanwhile
    is not dialled), with the job's id as the platform's idempotency key; a call the platform
    refuses, or that still fails at the last attempt, ends with why."""
    tenant_id, call_id = job.tenant_id, payload_uuid(job, "call_id")
    last_attempt = job.attempts >= job.max_attempts
    try:
        plan = await core.call_to_place(call_id, units(tenant_id))
    except core.CallNotPlaceable as error:
        if not last_attempt:
            raise  # the agent may reach the platform yet (its sync is queued too)
        await core.note_call_failed(tenant_id, call_id, str(error), units, clock)
        return
    if plan is None:
        return
    call = plan.call
    caller = CallerContext(str(call.customer_id) if call.customer_id else None, plan.customer_name)
    request = OutboundCallRequest(
        provider_agent_id=plan.provider_agent_id,
        customer_number=call.customer_number or "",
        provider_phone_number_id=plan.provider_phone_number_id,
        customer_name=plan.customer_name,
        metadata={
            SWITCHBOARD_CALL_ID: str(call.id),
            SWITCHBOARD_AGENT_ID: str(call.agent_id),
        },
        variables=caller.as_variables(),
        idempotency_key=str(job.id),
    )
    try:
        voice = await registry.voice_for(tenant_id)
        answer = await voice.start_call(request)
    except ProviderError as error:
        if error.retryable and not last_attempt:
            raise
        log.warning("call_not_placed", tenant_id=str(tenant_id), call_id=str(call_id), status=error.status)
        await core.note_call_failed(tenant_id, call_id, str(error), units, clock)
        return
    except DomainError as error:  # voice turned off, or the platform disconnected meanwhile
        await core.note_call_failed(tenant_id, call_id, error.detail, units, clock)
        return
    if not await core.note_call_placed(tenant_id, call_id, answer.provider_id, units, clock):
        await voice.end_call(answer.provider_id)  # cancelled while it was being dialled


async def hang_up(units: UnitOfWorkFactory, registry: ProviderRegistry, job: OutboxMessage) -> None:
    """Ask the platform to end a live call; its messages then record the end."""
    tenant_id = job.tenant_id
    provider_call_id = await core.call_to_hang_up(payload_uuid(job, "call_id"), units(tenant_id))
    if provider_call_id is None:
        return
    voice = await registry.voice_for(tenant_id)
    await voice.end_call(provider_call_id)
