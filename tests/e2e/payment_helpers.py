"""Helpers for the online payment tests: a shop with an issued invoice, a connected payments
provider (the fake one, or Stripe through its local stand-in), signed provider webhooks, and the
worker run until the inbox and outbox have done what a test waits for.

``stripe_api`` (module scope) starts the Stripe stand-in and points the app's Stripe plugin at it
for the module: the plugin catalog and the provider registry are overridden with ones built while
``SWITCHBOARD_STRIPE_API_BASE`` names the stand-in, then restored.
"""

from __future__ import annotations

import base64
import os
import random
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

import orjson
import psycopg
import pytest
from dependency_injector import providers
from standardwebhooks import Webhook

from switchboard.adapters.email.console import ConsoleEmailSender
from switchboard.core.flags.handlers import SetFlags, set_flags
from switchboard.plugins.fake import FakeRecord
from switchboard.plugins.manager import build_plugin_catalog
from switchboard.plugins.registry import PluginProviderRegistry
from switchboard.plugins.stripe import API_BASE_SETTING
from tests.e2e.helpers import SignedUp, create_customer, sign_up
from tests.fakes.stripe_standin import StripeStandIn, stripe_delivery

ROOMY = 1000  # a batch large enough for every due row the session may hold
BOILER = {
    "description": "Boiler service",
    "quantity": "1",
    "unit_price": {"amount": 12_000, "currency": "USD"},
}
VALVE = {"description": "Valve", "quantity": "2", "unit_price": {"amount": 1_500, "currency": "USD"}}
TOTAL = 15_000


class NoJitter(random.Random):
    """Retry at once: the backoff's random share is always zero."""

    def random(self) -> float:
        return 0.0


def usd(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": "USD"}


async def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, await response.get_data())
    body: dict[str, Any] = await response.get_json()
    return body


@pytest.fixture(scope="module", name="stripe_api")
def stripe_api_fixture(container: Any) -> Iterator[StripeStandIn]:
    with StripeStandIn() as standin, plugins_at(container, API_BASE_SETTING, standin.api_base):
        yield standin


@contextmanager
def plugins_at(container: Any, setting: str, api_base: str) -> Iterator[None]:
    """The app's plugin catalog and provider registry built while ``setting`` names the stand-in."""
    previous = os.environ.get(setting)
    os.environ[setting] = api_base
    try:
        catalog = build_plugin_catalog(load_entry_points=False)
    finally:
        if previous is None:
            del os.environ[setting]
        else:
            os.environ[setting] = previous
    registry = PluginProviderRegistry(
        container.units(), catalog, container.secret_box(), ConsoleEmailSender()
    )
    container.plugins.override(providers.Object(catalog))
    container.provider_registry.override(providers.Object(registry))
    try:
        yield
    finally:
        container.provider_registry.reset_last_overriding()
        container.plugins.reset_last_overriding()


def fake_record(container: Any) -> FakeRecord:
    record: FakeRecord = container.plugins().manager.get_plugin("fake").record
    return record


class WebhookEndpoint(Protocol):
    """Where a tenant's provider connection receives webhooks, and the secret that signs them."""

    webhook_url: str
    webhook_secret: str


@dataclass
class Shop:
    owner: SignedUp
    customer_id: str
    provider: str = ""
    webhook_url: str = ""
    webhook_secret: str = ""

    @property
    def tenant_id(self) -> UUID:
        return UUID(self.owner.tenant_id)


async def open_shop(client: Any, container: Any, provider: str | None = None) -> Shop:
    """A tenant on the payments feature with a customer, and ``provider`` connected."""
    owner = await sign_up(client, tenant_name="Hopper Plumbing")
    await set_flags(
        SetFlags(UUID(owner.tenant_id), {"payments": True}),
        uuid.uuid4(),
        container.units()(UUID(owner.tenant_id)),
        container.clock(),
    )
    customer = await create_customer(client, owner, name="Grace Hopper", email="grace-pays@example.com")
    shop = Shop(owner, customer["id"])
    if provider is not None:
        await connect(client, shop, provider)
    return shop


async def connect(client: Any, shop: Shop, provider: str) -> None:
    if provider == "stripe":
        secret = "whsec_" + uuid.uuid4().hex
        config = {"secret_key": "sk_test_" + uuid.uuid4().hex, "webhook_secret": secret}
    else:
        secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
        config = {"api_key": "fk_test_" + uuid.uuid4().hex, "webhook_secret": secret, "label": "till"}
    body = await ok(
        await client.post(
            "/v1/integrations", json={"provider": provider, "config": config}, headers=shop.owner.auth
        ),
        201,
    )
    shop.provider, shop.webhook_url, shop.webhook_secret = provider, body["webhook_url"], secret


async def issued_invoice(
    client: Any, shop: Shop, lines: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    payload = {"customer_id": shop.customer_id, "lines": lines or [BOILER, VALVE]}
    draft = await ok(await client.post("/v1/invoices", json=payload, headers=shop.owner.auth), 201)
    return await ok(await client.post(f"/v1/invoices/{draft['id']}/issue", headers=shop.owner.auth))


async def invoice_of(client: Any, shop: Shop, invoice_id: str) -> dict[str, Any]:
    return await ok(await client.get(f"/v1/invoices/{invoice_id}", headers=shop.owner.auth))


async def payments_of(client: Any, shop: Shop, invoice_id: str) -> list[dict[str, Any]]:
    body = await ok(await client.get(f"/v1/invoices/{invoice_id}/payments", headers=shop.owner.auth))
    data: list[dict[str, Any]] = body["data"]
    return data


async def refunds_of(client: Any, shop: Shop, invoice_id: str) -> list[dict[str, Any]]:
    body = await ok(await client.get(f"/v1/invoices/{invoice_id}/refunds", headers=shop.owner.auth))
    data: list[dict[str, Any]] = body["data"]
    return data


async def deliver_stripe(client: Any, shop: Shop, event: dict[str, Any]) -> Any:
    """Stripe's call delivering ``event`` to the shop's endpoint, signed as Stripe signs."""
    body, headers = stripe_delivery(event, shop.webhook_secret)
    return await client.post(shop.webhook_url, data=body, headers=headers)


async def deliver_fake(
    client: Any, endpoint: WebhookEndpoint, type_: str, data: dict[str, Any], event_id: str | None = None
) -> Any:
    """The fake provider's call delivering one event to a tenant's webhook address, signed per
    Standard Webhooks."""
    event_id = event_id or f"msg_{uuid.uuid4().hex}"
    at = datetime.now(UTC)
    payload = orjson.dumps({"type": type_, "data": data}).decode()
    headers = {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(endpoint.webhook_secret).sign(event_id, at, payload),
        "content-type": "application/json",
    }
    return await client.post(endpoint.webhook_url, data=payload.encode(), headers=headers)


async def drain(container: Any, done: Callable[[], Awaitable[bool]] | None = None, rounds: int = 40) -> None:
    """Run the worker until ``done`` (or, without it, until nothing is due), retrying at once."""
    worker = container.worker(idle_seconds=0, batch=ROOMY, rng=NoJitter())
    for _ in range(rounds):
        claimed = await worker.run_once()
        if done is not None and await done():
            return
        if done is None and claimed == 0:
            return
    if done is not None:
        assert await done(), "the worker never got there"


def inbox_rows(database: Any, tenant_id: UUID) -> list[dict[str, Any]]:
    with psycopg.connect(database.owner_url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(
            "SELECT event_id, type, status, attempts, last_error FROM webhook_events WHERE tenant_id = %s "
            "ORDER BY received_at",
            (tenant_id,),
        ).fetchall()


def outbox_rows(database: Any, tenant_id: UUID, kind: str) -> list[dict[str, Any]]:
    with psycopg.connect(database.owner_url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(
            "SELECT payload, status, attempts, last_error FROM outbox WHERE tenant_id = %s AND kind = %s "
            "ORDER BY created_at",
            (tenant_id, kind),
        ).fetchall()


def audit_trail(database: Any, tenant_id: UUID, *actions: str) -> list[tuple[str, str, str]]:
    """(action, actor type, target id) of the tenant's audit entries with these actions, in order."""
    with psycopg.connect(database.owner_url) as conn:
        rows = conn.execute(
            "SELECT action, actor_type, target_id FROM audit_events "
            "WHERE tenant_id = %s AND action = ANY(%s) ORDER BY occurred_at, id",
            (tenant_id, list(actions)),
        ).fetchall()
    return [(row[0], row[1], row[2]) for row in rows]
