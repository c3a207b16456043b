"""Receiving a provider's webhook: route it to its tenant, verify it, store each event once.

Nothing is processed here: the caller acknowledges as soon as the events are stored, and the
worker processes them from the inbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

from switchboard.core.errors import NotFound
from switchboard.core.integrations.handlers import open_config
from switchboard.core.queues.model import InboxEvent, JobStatus

if TYPE_CHECKING:  # ports appear in annotations only; the core imports nothing outside itself
    from switchboard.core.integrations.model import Integration
    from switchboard.ports.clock import Clock
    from switchboard.ports.persistence import IdentityDirectory, UnitOfWorkFactory
    from switchboard.ports.providers import IncomingWebhook, ProviderCatalog, ProviderEvent, SecretBox

UNKNOWN_ENDPOINT = "no webhook endpoint at this address"


@dataclass(frozen=True)
class Received:
    stored: int
    duplicates: int


@dataclass(frozen=True)
class VerifiedWebhook:
    """A provider's call proven genuine, routed to its tenant and integration."""

    tenant_id: UUID
    integration: Integration
    events: list[ProviderEvent]


async def receive_webhook(
    provider: str,
    connection_id: UUID,
    incoming: IncomingWebhook,
    directory: IdentityDirectory,
    units: UnitOfWorkFactory,
    catalog: ProviderCatalog,
    box: SecretBox,
    clock: Clock,
) -> Received:
    """Raises NotFound for an unknown address and the plugin's WebhookRejected for a call that
    is not provably genuine; in both cases nothing is stored."""
    verified = await verify_webhook(provider, connection_id, incoming, directory, units, catalog, box)
    return await store_events(verified, units, clock)


async def verify_webhook(
    provider: str,
    connection_id: UUID,
    incoming: IncomingWebhook,
    directory: IdentityDirectory,
    units: UnitOfWorkFactory,
    catalog: ProviderCatalog,
    box: SecretBox,
) -> VerifiedWebhook:
    """Route the call to its tenant and check it with the plugin; stores nothing. Raises
    NotFound for an unknown address, the plugin's WebhookRejected for a call not proven genuine."""
    owner = await directory.find_integration(connection_id)
    if owner is None or owner[1] != provider:
        raise NotFound(UNKNOWN_ENDPOINT)
    tenant_id = owner[0]
    async with units(tenant_id) as uow:
        integration = await uow.integrations.get(connection_id)
    if integration is None:
        raise NotFound(UNKNOWN_ENDPOINT)
    events = catalog.verify_webhook(integration.provider, open_config(integration, box), incoming)
    return VerifiedWebhook(tenant_id, integration, events)


async def store_events(verified: VerifiedWebhook, units: UnitOfWorkFactory, clock: Clock) -> Received:
    """Store each verified event once in the inbox, for the worker."""
    tenant_id, integration, events = verified.tenant_id, verified.integration, verified.events
    now = clock.now()
    stored = 0
    async with units(tenant_id) as uow:
        for event in events:
            inbox_event = InboxEvent(
                id=uuid4(),
                tenant_id=tenant_id,
                integration_id=integration.id,
                provider=integration.provider,
                event_id=event.event_id,
                type=event.type,
                data=event.data,
                occurred_at=event.occurred_at,
                received_at=now,
                status=JobStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
            )
            stored += await uow.inbox.add_if_new(inbox_event)
        await uow.commit()
    return Received(stored, len(events) - stored)
