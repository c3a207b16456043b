"""Managing webhook endpoints, publishing events to them, and delivering one event."""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from switchboard.core.errors import NotFound
from switchboard.core.identity.model import Principal
from switchboard.core.pagination import Page, PageRequest
from switchboard.core.queues.model import new_outbox_message
from switchboard.core.tenancy.permissions import Action, require
from switchboard.core.webhooks.model import (
    Delivery,
    DomainEvent,
    WebhookEndpoint,
    check_endpoint_url,
    check_event_types,
)

if TYPE_CHECKING:  # ports appear in annotations only; the core imports nothing outside itself
    from switchboard.ports.clock import Clock
    from switchboard.ports.persistence import UnitOfWork, UnitOfWorkFactory
    from switchboard.ports.providers import SecretBox, WebhookSender

DELIVER = "webhook.deliver"
ENDPOINT_NOT_FOUND = "no webhook endpoint with this id"


@dataclass(frozen=True)
class CreateEndpoint:
    url: str
    description: str = ""
    event_types: tuple[str, ...] = ()


class DeliveryFailed(Exception):
    """The endpoint did not answer 2xx; the outbox retries with backoff."""


async def create_endpoint(
    cmd: CreateEndpoint,
    principal: Principal,
    uow: UnitOfWork,
    sender: WebhookSender,
    box: SecretBox,
    clock: Clock,
    allow_plain_http: bool = False,
) -> tuple[WebhookEndpoint, str]:
    """The new endpoint and its signing secret, which is shown this once."""
    require(principal, Action.WEBHOOKS_WRITE)
    url = check_endpoint_url(cmd.url, allow_plain_http=allow_plain_http)
    event_types = check_event_types(list(cmd.event_types))
    await sender.check_address(url)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    now = clock.now()
    endpoint = WebhookEndpoint(
        uuid4(),
        principal.tenant_id,
        url,
        cmd.description.strip(),
        event_types,
        box.seal(secret.encode()),
        True,
        now,
        now,
    )
    async with uow:
        await uow.webhook_endpoints.add(endpoint)
        changes = {"url": endpoint.url, "event_types": list(endpoint.event_types)}
        await uow.audit.record("webhook_endpoint.created", "webhook_endpoint", str(endpoint.id), changes)
        await uow.commit()
    return endpoint, secret


async def list_endpoints(page: PageRequest, principal: Principal, uow: UnitOfWork) -> Page[WebhookEndpoint]:
    require(principal, Action.WEBHOOKS_READ)
    async with uow:
        return await uow.webhook_endpoints.list(page)


async def get_endpoint(endpoint_id: UUID, principal: Principal, uow: UnitOfWork) -> WebhookEndpoint:
    require(principal, Action.WEBHOOKS_READ)
    async with uow:
        endpoint = await uow.webhook_endpoints.get(endpoint_id)
    if endpoint is None:
        raise NotFound(ENDPOINT_NOT_FOUND)
    return endpoint


async def delete_endpoint(endpoint_id: UUID, principal: Principal, uow: UnitOfWork) -> None:
    require(principal, Action.WEBHOOKS_WRITE)
    async with uow:
        if not await uow.webhook_endpoints.delete(endpoint_id):
            raise NotFound(ENDPOINT_NOT_FOUND)
        await uow.audit.record("webhook_endpoint.deleted", "webhook_endpoint", str(endpoint_id))
        await uow.commit()


async def list_deliveries(
    endpoint_id: UUID, page: PageRequest, principal: Principal, uow: UnitOfWork
) -> Page[Delivery]:
    require(principal, Action.WEBHOOKS_READ)
    async with uow:
        if await uow.webhook_endpoints.get(endpoint_id) is None:
            raise NotFound(ENDPOINT_NOT_FOUND)
        return await uow.deliveries.list(endpoint_id, page)


async def publish(uow: UnitOfWork, tenant_id: UUID, event: DomainEvent) -> None:
    """Queue ``event`` for each endpoint that wants it, in the caller's open transaction, so the
    event goes out if and only if the change that caused it is committed."""
    for endpoint in await uow.webhook_endpoints.enabled():
        if endpoint.wants(event.type):
            payload = {"endpoint_id": str(endpoint.id), "event": _event_json(event)}
            await uow.outbox.add(new_outbox_message(tenant_id, DELIVER, payload, event.created_at))


async def deliver(
    tenant_id: UUID,
    payload: dict[str, Any],
    attempt: int,
    units: UnitOfWorkFactory,
    sender: WebhookSender,
    box: SecretBox,
    clock: Clock,
) -> None:
    """One attempt; logged whatever happens. Raises DeliveryFailed to be retried."""
    event = payload["event"]
    async with units(tenant_id) as uow:
        endpoint = await uow.webhook_endpoints.get(UUID(payload["endpoint_id"]))
    if endpoint is None or not endpoint.enabled:
        return  # deleted or disabled since: nothing left to do
    body = json.dumps(event, separators=(",", ":")).encode()
    secret = box.open(endpoint.sealed_secret).decode()
    result = await sender.deliver(endpoint.url, secret, event["id"], body)
    delivery = Delivery(
        uuid4(),
        tenant_id,
        endpoint.id,
        UUID(event["id"]),
        event["type"],
        attempt,
        result.status_code,
        result.error,
        result.duration_ms,
        clock.now(),
    )
    async with units(tenant_id) as uow:
        await uow.deliveries.add(delivery)
        await uow.commit()
    if not delivery.succeeded:
        raise DeliveryFailed(result.error or f"the endpoint answered {result.status_code}")


def _event_json(event: DomainEvent) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "type": event.type,
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "data": event.data,
    }
