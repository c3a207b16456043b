"""Incoming webhooks over HTTP: verified by the plugin, stored once per event, then processed."""

from __future__ import annotations

import asyncio
import base64
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from uuid import UUID

import orjson
import psycopg
import stripe
from standardwebhooks import Webhook

from switchboard.core.flags.handlers import SetFlags, set_flags
from tests.e2e.helpers import expect_problem, sign_up


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


async def connect_fake(client, owner, secret: str | None) -> str:
    return (await connect_fake_integration(client, owner, secret))[1]


async def connect_fake_integration(client, owner, secret: str | None) -> tuple[str, str]:
    """A fake_email integration: its id and its webhook address."""
    config = {"api_key": "fk_test_0123456789"} | ({"webhook_secret": secret} if secret else {})
    response = await client.post(
        "/v1/integrations", json={"provider": "fake_email", "config": config}, headers=owner.auth
    )
    assert response.status_code == 201, await response.get_data()
    created = await response.get_json()
    return created["id"], created["webhook_url"]


def signed(
    secret: str, event_id: str, body: dict, at: datetime | None = None
) -> tuple[bytes, dict[str, str]]:
    at = at or datetime.now(UTC)
    payload = orjson.dumps(body).decode()
    headers = {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, at, payload),
        "content-type": "application/json",
    }
    return payload.encode(), headers


def stored(database, event_id: str) -> list[dict]:
    with psycopg.connect(database.owner_url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(
            "SELECT tenant_id, type, data, status, attempts FROM webhook_events WHERE event_id = %s",
            (event_id,),
        ).fetchall()


async def test_a_signed_event_is_acknowledged_and_stored_once(client, database):
    owner = await sign_up(client)
    secret = new_webhook_secret()
    url = await connect_fake(client, owner, secret)
    event_id = f"msg_{uuid.uuid4().hex}"
    body, headers = signed(secret, event_id, {"type": "email.delivered", "data": {"to": "grace@example.com"}})

    first = await client.post(url, data=body, headers=headers)
    again = await client.post(url, data=body, headers=headers)

    assert (first.status_code, await first.get_json()) == (200, {"received": 1, "duplicates": 0})
    assert (again.status_code, await again.get_json()) == (200, {"received": 0, "duplicates": 1})
    [row] = stored(database, event_id)
    assert (str(row["tenant_id"]), row["type"], row["data"], row["status"]) == (
        owner.tenant_id,
        "email.delivered",
        {"to": "grace@example.com"},
        "pending",
    )


async def test_five_concurrent_copies_of_one_event_are_all_acknowledged_and_stored_once(client, database):
    owner = await sign_up(client)
    secret = new_webhook_secret()
    url = await connect_fake(client, owner, secret)
    event_id = f"msg_{uuid.uuid4().hex}"
    body, headers = signed(secret, event_id, {"type": "email.bounced", "data": {}})

    answers = await asyncio.gather(*(client.post(url, data=body, headers=headers) for _ in range(5)))

    assert [a.status_code for a in answers] == [200] * 5
    assert sum([(await a.get_json())["received"] for a in answers]) == 1
    assert len(stored(database, event_id)) == 1


async def test_a_forged_or_stale_event_is_refused_and_nothing_is_stored(client, database):
    owner = await sign_up(client)
    secret = new_webhook_secret()
    url = await connect_fake(client, owner, secret)
    cases = {}
    event_id = f"msg_{uuid.uuid4().hex}"
    body, headers = signed(new_webhook_secret(), event_id, {"type": "x", "data": {}})
    cases["another secret"] = (body, headers)
    body, headers = signed(secret, event_id, {"type": "x", "data": {}})
    cases["tampered body"] = (body.replace(b'"x"', b'"y"'), headers)
    cases["stale"] = signed(
        secret, event_id, {"type": "x", "data": {}}, datetime.now(UTC) - timedelta(minutes=10)
    )
    cases["unsigned"] = (body, {"content-type": "application/json"})

    for name, (payload, sent_headers) in cases.items():
        response = await client.post(url, data=payload, headers=sent_headers)
        assert response.status_code == 400, name
        await expect_problem(response, 400, "webhook_rejected")
    assert stored(database, event_id) == []


async def test_a_connection_with_no_webhook_secret_refuses_every_event(client):
    owner = await sign_up(client)
    url = await connect_fake(client, owner, secret=None)
    body, headers = signed(new_webhook_secret(), "msg_1", {"type": "x", "data": {}})

    await expect_problem(await client.post(url, data=body, headers=headers), 400, "webhook_rejected")


async def test_unknown_addresses_are_not_found(client):
    owner = await sign_up(client)
    secret = new_webhook_secret()
    url = await connect_fake(client, owner, secret)
    body, headers = signed(secret, "msg_1", {"type": "x", "data": {}})
    connection_id = url.rsplit("/", 1)[1]

    unknown_connection = await client.post(
        f"/v1/webhooks/fake_email/{uuid.uuid4()}", data=body, headers=headers
    )
    wrong_provider = await client.post(f"/v1/webhooks/stripe/{connection_id}", data=body, headers=headers)

    await expect_problem(unknown_connection, 404, "not_found")
    await expect_problem(wrong_provider, 404, "not_found")


async def test_a_form_encoded_provider_call_is_verified_rather_than_refused_as_unsupported(client):
    owner = await sign_up(client)
    url = await connect_fake(client, owner, new_webhook_secret())

    response = await client.post(
        url,
        data="MessageSid=SM1&MessageStatus=delivered",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )

    await expect_problem(response, 400, "webhook_rejected")  # not 415: the plugin judges its own format


async def test_a_stripe_event_signed_as_stripe_signs_it_is_accepted(client, container, database):
    owner = await sign_up(client)
    tenant_id = UUID(owner.tenant_id)
    await set_flags(
        SetFlags(tenant_id, {"payments": True}), uuid.uuid4(), container.units()(tenant_id), container.clock()
    )
    webhook_secret = "whsec_" + uuid.uuid4().hex
    response = await client.post(
        "/v1/integrations",
        json={
            "provider": "stripe",
            "config": {"secret_key": "sk_test_" + "x" * 24, "webhook_secret": webhook_secret},
        },
        headers=owner.auth,
    )
    url = (await response.get_json())["webhook_url"]
    event_id = f"evt_{uuid.uuid4().hex[:24]}"
    payload = orjson.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": int(time.time()),
            "data": {
                "object": {"id": "pi_123", "object": "payment_intent", "amount": 1999, "currency": "usd"}
            },
        }
    ).decode()
    signature = stripe.WebhookSignature.generate_signature_header(
        payload, webhook_secret, timestamp=int(time.time())
    )

    answer = await client.post(
        url, data=payload, headers={"stripe-signature": signature, "content-type": "application/json"}
    )

    assert (answer.status_code, await answer.get_json()) == (200, {"received": 1, "duplicates": 0})
    [row] = stored(database, event_id)
    assert row["type"] == "payment_intent.succeeded"


async def test_the_worker_processes_what_the_inbox_stored(client, container, database):
    owner = await sign_up(client)
    secret = new_webhook_secret()
    url = await connect_fake(client, owner, secret)
    event_id = f"msg_{uuid.uuid4().hex}"
    body, headers = signed(secret, event_id, {"type": "email.opened", "data": {}})
    assert (await client.post(url, data=body, headers=headers)).status_code == 200

    for _ in range(20):  # other tests' rows may be due too; a few rounds drain them all
        await container.worker(idle_seconds=0).run_once()
        if stored(database, event_id)[0]["status"] == "done":
            break

    [row] = stored(database, event_id)
    assert (row["status"], row["attempts"]) == ("done", 1)


# --- what verification remembers between calls --------------------------------------------------
# Which tenant an address belongs to, and the opened configuration, are reused from one call to
# the next; a rotated secret or a deleted integration still takes effect at once.


async def post_delivered(client, url: str, secret: str):
    body, headers = signed(secret, f"msg_{uuid.uuid4().hex}", {"type": "email.delivered", "data": {}})
    return await client.post(url, data=body, headers=headers)


async def test_a_rotated_webhook_secret_is_used_from_the_next_call_on(client):
    owner = await sign_up(client)
    old, new = new_webhook_secret(), new_webhook_secret()
    integration_id, url = await connect_fake_integration(client, owner, old)
    assert (await post_delivered(client, url, old)).status_code == 200  # the old one is now remembered

    rotated = await client.patch(
        f"/v1/integrations/{integration_id}", json={"config": {"webhook_secret": new}}, headers=owner.auth
    )
    assert rotated.status_code == 200, await rotated.get_data()

    await expect_problem(await post_delivered(client, url, old), 400, "webhook_rejected")
    assert (await post_delivered(client, url, new)).status_code == 200


async def test_a_deleted_integration_is_not_found_at_once_though_its_address_was_seen(client):
    owner = await sign_up(client)
    secret = new_webhook_secret()
    integration_id, url = await connect_fake_integration(client, owner, secret)
    assert (await post_delivered(client, url, secret)).status_code == 200

    deleted = await client.delete(f"/v1/integrations/{integration_id}", headers=owner.auth)
    assert deleted.status_code == 204, await deleted.get_data()

    await expect_problem(await post_delivered(client, url, secret), 404, "not_found")
