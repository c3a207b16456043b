"""Agents' knowledge base files kept in step with the tenant's voice platform: the provider calls
and file storage reads around the core's decisions (core/calls/knowledge.py), for the worker.

``knowledge.upload_file`` sends a stored file to the platform, records the platform's id and
re-syncs the agent so the platform's agent lists it. A retryable failure is retried by the
worker; a refusal, a missing voice connection, or the last failed attempt marks the file failed
(``POST .../sync`` sends it again). Delivery is at least once: a worker that dies between the
platform's answer and the recording uploads again on the retry, leaving the first copy unused.

``knowledge.delete_file`` removes the stored object and the platform's copy of a deleted file,
provided the platform that has it is still the tenant's voice connection.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

import structlog

from switchboard.core.calls import knowledge
from switchboard.core.errors import DomainError
from switchboard.core.integrations.model import Capability
from switchboard.core.queues.model import OutboxMessage, PermanentFailure
from switchboard.entrypoints.voice_sync import payload_uuid
from switchboard.ports.clock import Clock
from switchboard.ports.files import FileStorage, StoredFileMissing
from switchboard.ports.persistence import UnitOfWorkFactory
from switchboard.ports.providers import ProviderError, ProviderRegistry
from switchboard.ports.voice import KnowledgeFileUpload

log = structlog.get_logger("switchboard.knowledge")

Performer = Callable[[OutboxMessage], Awaitable[None]]
NOT_CONNECTED = "no voice provider is connected"


def knowledge_performers(
    units: UnitOfWorkFactory, registry: ProviderRegistry, storage: FileStorage, clock: Clock
) -> dict[str, Performer]:
    return {
        knowledge.UPLOAD_FILE: partial(upload_file, units, registry, storage, clock),
        knowledge.DELETE_FILE: partial(delete_file, units, registry, storage),
    }


async def upload_file(
    units: UnitOfWorkFactory,
    registry: ProviderRegistry,
    storage: FileStorage,
    clock: Clock,
    job: OutboxMessage,
) -> None:
    tenant_id = job.tenant_id
    file_id = payload_uuid(job, "file_id")
    plan = await knowledge.file_to_upload(file_id, units(tenant_id))
    if plan is None:
        return  # deleted, or already at the platform
    if plan.provider is None:
        await knowledge.note_upload_failed(file_id, NOT_CONNECTED, units(tenant_id), clock)
        return
    try:
        content = await storage.get(plan.file.storage_key)
    except StoredFileMissing:
        await knowledge.note_upload_failed(file_id, "the stored file is missing", units(tenant_id), clock)
        return
    try:
        voice = await registry.voice_for(tenant_id)
        upload = KnowledgeFileUpload(plan.file.name, plan.file.media_type.value, content)
        provider_file_id = await voice.upload_knowledge_file(upload)
    except ProviderError as error:
        final = not error.retryable or job.attempts >= job.max_attempts
        log.warning("knowledge_upload_failed", file_id=str(file_id), status=error.status, final=final)
        if not final:
            raise  # the worker tries again later; the file stays processing
        await knowledge.note_upload_failed(file_id, f"{plan.provider}: {error}", units(tenant_id), clock)
        return
    except DomainError as error:  # the voice feature turned off, or the provider disconnected
        await knowledge.note_upload_failed(file_id, error.detail, units(tenant_id), clock)
        return
    if not await knowledge.note_uploaded(plan, provider_file_id, units(tenant_id), clock):
        # Deleted while the platform took it: remove the platform's copy too.
        await voice.delete_knowledge_file(provider_file_id)


async def delete_file(
    units: UnitOfWorkFactory, registry: ProviderRegistry, storage: FileStorage, job: OutboxMessage
) -> None:
    key = job.payload.get("storage_key")
    if not isinstance(key, str):
        raise PermanentFailure(f"malformed {job.kind} payload: no storage_key")
    await storage.delete(key)
    provider_file_id = job.payload.get("provider_file_id")
    if not provider_file_id:
        return  # the platform never had it
    if not await _still_connected(units, job):
        log.info("knowledge_copy_left", provider=job.payload.get("provider"), reason="disconnected")
        return  # that account is no longer the tenant's: there is nowhere to remove it from
    try:
        voice = await registry.voice_for(job.tenant_id)
    except DomainError:
        return
    await voice.delete_knowledge_file(str(provider_file_id))


async def _still_connected(units: UnitOfWorkFactory, job: OutboxMessage) -> bool:
    """Whether the voice integration that took the file is still the tenant's enabled one."""
    async with units(job.tenant_id) as uow:
        integration = await uow.integrations.enabled_for(Capability.VOICE)
    return integration is not None and str(integration.id) == job.payload.get("integration_id")
