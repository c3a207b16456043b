"""Outbound webhooks: refused addresses, signed deliveries, retries, and the delivery log."""

from __future__ import annotations

import psycopg
import pytest
from dependency_injector import providers
from standardwebhooks import Webhook

from switchboard.adapters.webhooks.sender import HttpWebhookSender
from switchboard.entrypoints.http.blueprints.webhook_endpoints import (
    CreatedEndpointOut,
    DeliveryListOut,
    EndpointOut,
)
from tests.e2e.helpers import conforms, create_customer, expect_problem, sign_up
from tests.fakes.webhook_receiver import Receiver


@pytest.fixture
def loopback_allowed(container):
    """Local development mode: endpoints on loopback and plain http are allowed."""
    settings = container.settings()
    container.settings.override(
        providers.Object(settings.model_copy(update={"webhooks_allow_loopback": True}))
    )
    container.webhook_sender.override(
        providers.Object(HttpWebhookSender(allow_loopback=True, timeout_seconds=5))
    )
    try:
        yield
    finally:
        # Pop our overrides only: the container's own settings are an override too.
        container.settings.reset_last_overriding()
        container.webhook_sender.reset_override()


@pytest.fixture
def receiver():
    return Receiver()


async def register(client, owner, url: str, **fields) -> dict:
    response = await client.post("/v1/webhook-endpoints", json={"url": url} | fields, headers=owner.auth)
    assert response.status_code == 201, await response.get_data()
    return conforms(CreatedEndpointOut, await response.get_json()).model_dump(mode="json")


async def deliver_due(container) -> None:
    """Run until nothing is due: each message is tried once (a retry is never due at once). Other
    tests leave mail in the outbox too (every sign-up mails a verification link), so one batch
    may not reach this test's messages."""
    worker = container.worker(batch=500, idle_seconds=0)
    for _ in range(100):
        if await worker.run_once() == 0:
            return
    raise AssertionError("the outbox did not drain in 100 batches")


def outbox_rows(database, tenant_id: str) -> list[dict]:
    with psycopg.connect(database.owner_url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(
            "SELECT kind, status, attempts, last_error FROM outbox"
            " WHERE tenant_id = %s AND kind = 'webhook.deliver'",
            (tenant_id,),
        ).fetchall()


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.0.0.5/hook",
        "https://192.168.1.10/hook",
        "https://172.16.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://100.64.0.1/hook",
        "https://[::1]/hook",
        "https://[fd00::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://0.0.0.0/hook",
        "https://no-such-host.invalid/hook",
        "http://93.184.216.34/hook",
        "ftp://93.184.216.34/hook",
        "https://user:pass@93.184.216.34/hook",
    ],
)
async def test_an_endpoint_that_is_not_a_public_https_address_is_refused(client, url):
    owner = await sign_up(client)

    response = await client.post("/v1/webhook-endpoints", json={"url": url}, headers=owner.auth)

    problem = await expect_problem(response, 400, "validation_error")
    assert [e["field"] for e in problem["errors"]] == ["url"]


async def test_a_public_endpoint_is_registered_and_its_secret_is_shown_once(client):
    owner = await sign_up(client)

    created = await register(client, owner, "https://93.184.216.34/hook", event_types=["customer.created"])
    fetched = await client.get(f"/v1/webhook-endpoints/{created['id']}", headers=owner.auth)

    assert created["secret"].startswith("whsec_")
    body = conforms(EndpointOut, await fetched.get_json()).model_dump(mode="json")
    assert "secret" not in body
    assert body["event_types"] == ["customer.created"]


async def test_an_unknown_event_type_is_refused(client):
    owner = await sign_up(client)
    response = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "https://93.184.216.34/h", "event_types": ["x.y"]},
        headers=owner.auth,
    )
    await expect_problem(response, 400, "validation_error")


async def test_a_change_is_delivered_signed_per_standard_webhooks(
    client, container, receiver, loopback_allowed
):
    owner = await sign_up(client)
    with receiver.running() as url:
        endpoint = await register(client, owner, url)
        customer = await create_customer(client, owner)
        await deliver_due(container)

    [(headers, body)] = receiver.requests
    event = Webhook(endpoint["secret"]).verify(body, headers)
    assert event["type"] == "customer.created"
    assert event["data"]["id"] == customer["id"]
    assert headers["webhook-id"] == event["id"]
    log = await client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", headers=owner.auth)
    [delivery] = conforms(DeliveryListOut, await log.get_json()).data
    assert (delivery.status_code, delivery.attempt, delivery.event_type) == (200, 1, "customer.created")


async def test_a_failed_delivery_is_logged_and_retried_later(
    client, container, database, receiver, loopback_allowed
):
    owner = await sign_up(client)
    receiver.status = 500
    with receiver.running() as url:
        endpoint = await register(client, owner, url)
        await create_customer(client, owner)
        await deliver_due(container)

    assert len(receiver.requests) == 1
    [job] = outbox_rows(database, owner.tenant_id)
    assert (job["status"], job["attempts"]) == ("pending", 1)
    assert "500" in job["last_error"]
    log = await (
        await client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", headers=owner.auth)
    ).get_json()
    assert [d["status_code"] for d in log["data"]] == [500]


async def test_a_redirect_is_not_followed(client, container, receiver, loopback_allowed):
    owner = await sign_up(client)
    receiver.status = 302
    with receiver.running() as url:
        receiver.location = url.replace("/hooks/switchboard", "/redirected")
        endpoint = await register(client, owner, url)
        await create_customer(client, owner)
        await deliver_due(container)

    assert receiver.paths == ["/hooks/switchboard"]
    log = await (
        await client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", headers=owner.auth)
    ).get_json()
    assert [d["status_code"] for d in log["data"]] == [302]


async def test_the_address_is_checked_again_at_delivery(client, container, receiver, loopback_allowed):
    owner = await sign_up(client)
    with receiver.running() as url:
        endpoint = await register(client, owner, url)
        await create_customer(client, owner)
        # Production's sender: loopback is never allowed, whatever was accepted earlier.
        container.webhook_sender.override(providers.Object(HttpWebhookSender()))
        await deliver_due(container)

    assert receiver.requests == []
    log = await (
        await client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", headers=owner.auth)
    ).get_json()
    [delivery] = log["data"]
    assert delivery["status_code"] is None
    assert delivery["error"].startswith("refused")


async def test_an_endpoint_receives_only_the_events_it_subscribed_to(
    client, database, receiver, loopback_allowed
):
    owner = await sign_up(client)
    with receiver.running() as url:
        await register(client, owner, url, event_types=["customer.deleted"])
        customer = await create_customer(client, owner)
        assert outbox_rows(database, owner.tenant_id) == []
        await client.delete(f"/v1/customers/{customer['id']}", headers=owner.auth)
    assert len(outbox_rows(database, owner.tenant_id)) == 1


async def test_a_tenants_events_never_reach_another_tenants_endpoint(
    client, container, receiver, loopback_allowed
):
    owner, stranger = await sign_up(client), await sign_up(client)
    with receiver.running() as url:
        endpoint = await register(client, owner, url)
        await create_customer(client, stranger)
        await deliver_due(container)
        peek = await client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=stranger.auth)

    assert receiver.requests == []
    await expect_problem(peek, 404, "not_found")


async def test_a_deleted_endpoint_gets_nothing_more(client, container, database, receiver, loopback_allowed):
    owner = await sign_up(client)
    with receiver.running() as url:
        endpoint = await register(client, owner, url)
        await create_customer(client, owner)
        deleted = await client.delete(f"/v1/webhook-endpoints/{endpoint['id']}", headers=owner.auth)
        await deliver_due(container)

    assert deleted.status_code == 204
    assert receiver.requests == []
    assert [j["status"] for j in outbox_rows(database, owner.tenant_id)] == ["done"]
