"""The tenant's voice platform kept in step with its agents and numbers: the provider calls around
the core's decisions (core/calls/agents.py), for the worker and for the phone number sync.

Two outbox jobs are performed here. ``voice.sync_agent`` sends the agent's *published* version
as it is when the job runs (a stale job sends what is true now), or removes the platform's copy
once the agent is deleted; ``voice.assign_phone_number`` tells the platform which agent answers
a number. Listing the platform's numbers is a read, done in the request that asks for it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar
from uuid import UUID

import structlog

from switchboard.core.calls import agents
from switchboard.core.calls.agents import SyncPlan
from switchboard.core.calls.tools import definitions_for
from switchboard.core.errors import DomainError
from switchboard.core.identity.model import Principal
from switchboard.core.queues.model import OutboxMessage, PermanentFailure
from switchboard.core.sales.provider_payments import ProviderRefused, ProviderUnavailable
from switchboard.ports.clock import Clock
from switchboard.ports.persistence import UnitOfWork, UnitOfWorkFactory
from switchboard.ports.providers import ProviderError, ProviderRegistry
from switchboard.ports.voice import AgentDefinition, VoicePort

log = structlog.get_logger("switchboard.voice")

T = TypeVar("T")
NOT_CONNECTED = "no voice provider is connected"
Performer = Callable[[OutboxMessage], Awaitable[None]]


def voice_performers(
    units: UnitOfWorkFactory, registry: ProviderRegistry, clock: Clock, public_url: str
) -> dict[str, Performer]:
    base = public_url.rstrip("/")
    return {
        agents.SYNC_AGENT: partial(sync_agent, units, registry, clock, base),
        agents.ASSIGN_PHONE_NUMBER: partial(assign_phone_number, units, registry, base),
    }


def agent_definition(plan: SyncPlan, public_url: str) -> AgentDefinition:
    settings = plan.settings
    assert plan.webhook_path is not None  # checked by the caller
    return AgentDefinition(
        name=settings.name,
        voice_provider=settings.voice_provider,
        voice_id=settings.voice_id,
        model_provider=settings.model_provider,
        model=settings.model,
        system_prompt=settings.system_prompt,
        first_message=settings.first_message,
        tools=definitions_for(settings.tools),
        knowledge_file_ids=plan.knowledge_file_ids,
        server_url=public_url + plan.webhook_path,
        metadata={"agent_id": str(plan.agent_id), "version": str(plan.version)},
    )


def payload_uuid(job: OutboxMessage, key: str) -> UUID:
    """An id the job's payload carries; a payload without it can never be performed."""
    try:
        return UUID(str(job.payload[key]))
    except (KeyError, ValueError) as error:
        raise PermanentFailure(f"malformed {job.kind} payload: {error}") from error


async def sync_agent(
    units: UnitOfWorkFactory, registry: ProviderRegistry, clock: Clock, public_url: str, job: OutboxMessage
) -> None:
    tenant_id = job.tenant_id
    agent_id = payload_uuid(job, "agent_id")
    plan = await agents.plan_sync(agent_id, units(tenant_id))
    if plan is None:
        await _remove(registry, job)
        return
    if plan.webhook_path is None:
        await agents.record_sync_failure(plan, NOT_CONNECTED, True, units(tenant_id), clock)
        return
    try:
        voice = await registry.voice_for(tenant_id)
        provider_agent_id = await _save(voice, plan, agent_definition(plan, public_url))
    except ProviderError as error:
        final = not error.retryable or job.attempts >= job.max_attempts
        log.warning("voice_sync_failed", agent_id=str(agent_id), status=error.status, final=final)
        await agents.record_sync_failure(plan, str(error), final, units(tenant_id), clock)
        if not final:
            raise  # the worker tries again later; the agent stays pending with the error noted
        return
    except DomainError as error:  # the voice feature turned off, or the provider disconnected
        await agents.record_sync_failure(plan, error.detail, True, units(tenant_id), clock)
        return
    recorded = await agents.record_synced(plan, provider_agent_id, units(tenant_id), clock)
    if recorded.orphaned:  # deleted while the platform made it: remove the platform's copy too
        await voice.delete_agent(provider_agent_id)


async def _save(voice: VoicePort, plan: SyncPlan, definition: AgentDefinition) -> str:
    try:
        return await voice.save_agent(definition, plan.provider_agent_id)
    except ProviderError as error:
        if plan.provider_agent_id is None or error.status != 404:
            raise
    # Someone removed it at the platform: make it again; the new id is kept.
    return await voice.save_agent(definition, None)


async def _remove(registry: ProviderRegistry, job: OutboxMessage) -> None:
    """The agent is gone (or was never published): remove the platform's copy, if it had one."""
    provider_agent_id = job.payload.get("provider_agent_id")
    if not provider_agent_id:
        return
    try:
        voice = await registry.voice_for(job.tenant_id)
    except DomainError:
        return  # no voice connection any more: there is nowhere to remove it from
    await voice.delete_agent(str(provider_agent_id))


async def assign_phone_number(
    units: UnitOfWorkFactory, registry: ProviderRegistry, public_url: str, job: OutboxMessage
) -> None:
    plan = await agents.plan_assignment(payload_uuid(job, "phone_number_id"), units(job.tenant_id))
    if plan is None:
        return
    try:
        voice = await registry.voice_for(job.tenant_id)
    except DomainError:
        return  # the voice feature turned off or the provider disconnected meanwhile
    await voice.assign_phone_number(
        plan.provider_number_id, plan.provider_agent_id, public_url + plan.webhook_path
    )


# --- the phone number sync (in the request) ----------------------------------------------------


async def sync_phone_numbers(
    principal: Principal, unit: Callable[[], UnitOfWork], registry: ProviderRegistry, clock: Clock
) -> list[agents.PhoneNumber]:
    """Copy the platform's numbers here: a read of the platform, then one transaction."""
    integration_id = await agents.voice_integration_id(principal, unit())
    voice = await registry.voice_for(principal.tenant_id)
    listed = await _guarded(voice.list_phone_numbers())
    return await agents.store_phone_numbers(integration_id, listed, principal, unit(), clock)


async def _guarded(call: Awaitable[T]) -> T:
    try:
        return await call
    except ProviderError as error:
        log.warning("voice_provider_failed", status=error.status, code=error.code)
        if error.retryable:
            raise ProviderUnavailable("the voice provider could not be reached; try again shortly") from error
        raise ProviderRefused(f"the voice provider refused the request: {error}") from error
