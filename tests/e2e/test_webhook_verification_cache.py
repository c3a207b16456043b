"""A webhook's verification reuses what it looked up before (which tenant an address belongs to,
the opened configuration), yet a rotated secret or a deleted integration takes effect at once."""

from __future__ import annotations

import base64
import os
import uuid
from datetime import UTC, datetime

import orjson
from standardwebhooks import Webhook

from tests.e2e.helpers import expect_problem, sign_up


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def signed(secret: str, body: dict) -> tuple[bytes, dict[str, str]]:
    event_id, at = f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
    payload = orjson.dumps(body).decode()
    headers = {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, at, payload),
        "content-type": "application/json",
    }
    return payload.encode(), headers


async def connect(client, owner, secret: str) -> tuple[str, str]:
    config = {"api_key": "fk_test_0123456789", "webhook_secret": secret}
    response = await client.post(
        "/v1/integrations", json={"provider": "fake_email", "config": config}, headers=owner.auth
    )
    assert response.status_code == 201, await response.get_data()
    created = await response.get_json()
    return created["id"], created["webhook_url"]


async def post(client, url: str, secret: str):
    body, headers = signed(secret, {"type": "email.delivered", "data": {}})
    return await client.post(url, data=body, headers=headers)


async def test_a_rotated_webhook_secret_is_used_from_the_next_call_on(client):
    owner = await sign_up(client)
    old, new = new_secret(), new_secret()
    integration_id, url = await connect(client, owner, old)
    assert (await post(client, url, old)).status_code == 200  # the old configuration is now cached

    rotated = await client.patch(
        f"/v1/integrations/{integration_id}", json={"config": {"webhook_secret": new}}, headers=owner.auth
    )
    assert rotated.status_code == 200, await rotated.get_data()

    await expect_problem(await post(client, url, old), 400, "webhook_rejected")
    assert (await post(client, url, new)).status_code == 200


async def test_a_deleted_integration_is_not_found_at_once_though_its_address_was_seen(client):
    owner = await sign_up(client)
    secret = new_secret()
    integration_id, url = await connect(client, owner, secret)
    assert (await post(client, url, secret)).status_code == 200

    deleted = await client.delete(f"/v1/integrations/{integration_id}", headers=owner.auth)
    assert deleted.status_code == 204, await deleted.get_data()

    await expect_problem(await post(client, url, secret), 404, "not_found")
