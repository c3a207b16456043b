"""Receiving a provider's webhook: route it to its tenant, verify it, store each event once.

Nothing is processed here: the caller acknowledges as soon as the events are stored, and the
worker processes them from the inbox (a voice platform's live questions are answered by
core/calls/live.py, after the same verification).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID, uuid4

from switchboard.core.errors import InvalidInput, NotFound
from switchboard.core.integrations.handlers import open_config
from switchboard.core.queues.model import InboxEvent, JobStatus

if TYPE_CHECKING:  # ports appear in annotations only; the core imports nothing outside itself
    from switchboard.core.integrations.model import Integration
    from switchboard.ports.clock import Clock
    from switchboard.ports.persistence import IdentityDirectory, UnitOfWork, UnitOfWorkFactory
    from switchboard.ports.providers import IncomingWebhook, ProviderCatalog, ProviderEvent, SecretBox

UNKNOWN_ENDPOINT = "no webhook endpoint at this address"

T = TypeVar("T")

ROUTES_KEPT = 10_000
OPENED_FOR = timedelta(seconds=60)


def refuse_nul_characters(events: list[ProviderEvent]) -> None:
    """A genuine event whose text holds a NUL character can be neither stored (PostgreSQL text
    and jsonb refuse it) nor matched against stored data, so it is refused whole. Walked without
    recursion: a plugin's parser may hand over data nested deeper than Python's call stack."""
    pending: list[object] = [part for event in events for part in (event.event_id, event.type, event.data)]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise InvalidInput.single("body", "must not contain NUL characters")
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list | tuple):
            pending.extend(value)


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


class WebhookReception:
    """Routes providers' calls to their tenants and has each plugin verify them; one per process.

    It remembers which tenant and provider each integration id belongs to (that never changes),
    so the cross-tenant directory is asked once per id; the integration itself is still read in
    its tenant's scope for every call, so a deleted one is unknown at once. It keeps each stored
    configuration opened (decrypted and parsed) for a minute, keyed by the integration's id,
    version and sealed bytes: any change to the stored configuration is a new key, so a rotated
    or revoked secret is never used once stored; the minute only bounds how long secrets stay in
    clear in memory.
    """

    def __init__(
        self,
        directory: IdentityDirectory,
        units: UnitOfWorkFactory,
        catalog: ProviderCatalog,
        box: SecretBox,
        clock: Clock,
    ) -> None:
        self._directory = directory
        self._units = units
        self._catalog = catalog
        self._box = box
        self._clock = clock
        self._routes: dict[UUID, tuple[UUID, str]] = {}
        self._opened: dict[tuple[UUID, int, bytes], tuple[datetime, dict[str, Any]]] = {}

    async def verify_and_read(
        self,
        provider: str,
        connection_id: UUID,
        incoming: IncomingWebhook,
        read: Callable[[UnitOfWork, VerifiedWebhook], Awaitable[T]],
    ) -> tuple[VerifiedWebhook, T]:
        """Route the call to its tenant and have the plugin check it, then ``read`` what the
        verified call needs from the tenant's data in the same short transaction (one BEGIN and
        ROLLBACK less on the live-call path); stores nothing. Raises NotFound for an unknown
        address, the plugin's WebhookRejected for a call not proven genuine (``read`` then never
        runs)."""
        tenant_id = await self._tenant_of(provider, connection_id)
        async with self._units(tenant_id) as uow:
            integration = await uow.integrations.get(connection_id)
            if integration is None:
                raise NotFound(UNKNOWN_ENDPOINT)
            events = self._catalog.verify_webhook(
                integration.provider, self._opened_config(integration), incoming
            )
            refuse_nul_characters(events)
            verified = VerifiedWebhook(tenant_id, integration, events)
            return verified, await read(uow, verified)

    async def store(self, verified: VerifiedWebhook) -> Received:
        """Store each verified event once in the inbox, for the worker."""
        tenant_id, integration, events = verified.tenant_id, verified.integration, verified.events
        now = self._clock.now()
        stored = 0
        async with self._units(tenant_id) as uow:
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

    async def _tenant_of(self, provider: str, connection_id: UUID) -> UUID:
        route = self._routes.get(connection_id)
        if route is None:
            route = await self._directory.find_integration(connection_id)
            if route is None:
                raise NotFound(UNKNOWN_ENDPOINT)
            if len(self._routes) >= ROUTES_KEPT:
                self._routes.clear()
            self._routes[connection_id] = route
        if route[1] != provider:
            raise NotFound(UNKNOWN_ENDPOINT)
        return route[0]

    def _opened_config(self, integration: Integration) -> dict[str, Any]:
        now = self._clock.now()
        key = (integration.id, integration.version, integration.sealed_config)
        kept = self._opened.get(key)
        if kept is None or now - kept[0] > OPENED_FOR:
            for stale in [k for k, (at, _) in self._opened.items() if now - at > OPENED_FOR]:
                del self._opened[stale]
            kept = self._opened[key] = (now, open_config(integration, self._box))
        return dict(kept[1])  # a copy: a plugin may change what it is given
