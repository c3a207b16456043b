"""Two-way text messages over HTTP and the worker: texts sent through the fake provider and
through Twilio's official SDK talking to a local stand-in of Twilio's API, Twilio's signed
status callbacks and inbound texts (signed by the SDK's own RequestValidator), opt-out keywords
honoured before any send and again at send time, reminders included, the customer's timeline,
tenant isolation and bad input.

``twilio_api`` (module scope) starts the Twilio stand-in and points the app's Twilio plugin at it
for the module, as ``stripe_api`` does for Stripe (tests/e2e/payment_helpers.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import psycopg
import pytest
from twilio.request_validator import RequestValidator

from switchboard.entrypoints.http.blueprints.messages import MessageListOut, MessageOut, OptOutListOut
from switchboard.plugins.twilio import API_BASE_ENV
from tests.e2e.admin_helpers import audit_entries, clock_at, create_key
from tests.e2e.helpers import SignedUp, conforms, create_customer, error_fields, expect_problem, sign_up
from tests.e2e.payment_helpers import drain, ok, plugins_at
from tests.e2e.test_integrations import enable_features, fake_record
from tests.e2e.test_reminders import days_ago, run_worker_at
from tests.e2e.test_scheduling import booked, make_resource
from tests.fakes.twilio_standin import TwilioStandIn

PHONE = "+14155550123"
OUR_NUMBER = "+14155550100"
WEBHOOK_HOST = "http://localhost"  # what the app sees as its own address in the test client


@pytest.fixture(scope="module", name="twilio_api")
def twilio_api_fixture(container: Any) -> Iterator[TwilioStandIn]:
    with TwilioStandIn() as standin, plugins_at(container, API_BASE_ENV, standin.api_base):
        yield standin


@dataclass
class Texting:
    """A tenant with SMS on and a provider connected, and a customer with a phone."""

    owner: SignedUp
    customer: dict[str, Any]
    webhook_url: str
    account_sid: str
    auth_token: str

    @property
    def customer_id(self) -> str:
        return str(self.customer["id"])


async def texting(
    client: Any, container: Any, provider: str = "twilio", *, sms: bool = True, phone: str | None = PHONE
) -> Texting:
    owner = await sign_up(client, tenant_name="Hopper Plumbing")
    if sms:
        await enable_features(container, owner, "sms")
    fields = {"phone": phone} if phone else {"phone": None}
    customer = await create_customer(client, owner, name="Grace Hopper", **fields)
    account_sid, auth_token = "AC" + uuid.uuid4().hex, uuid.uuid4().hex
    if provider == "twilio":
        config = {"account_sid": account_sid, "auth_token": auth_token, "from_number": OUR_NUMBER}
    else:
        config = {"api_key": "fk_test_" + uuid.uuid4().hex, "label": "texts"}
    response = await client.post(
        "/v1/integrations", json={"provider": provider, "config": config}, headers=owner.auth
    )
    webhook_url = (await ok(response, 201))["webhook_url"] if sms else ""
    return Texting(owner, customer, webhook_url, account_sid, auth_token)


async def send(client: Any, shop: Texting, body: str = "Your engineer is on the way", **headers: str) -> Any:
    return await client.post(
        f"/v1/customers/{shop.customer_id}/messages", json={"body": body}, headers=shop.owner.auth | headers
    )


async def sent(client: Any, shop: Texting, body: str = "Your engineer is on the way") -> dict[str, Any]:
    response = await send(client, shop, body)
    message = await ok(response, 201)
    conforms(MessageOut, message)
    assert response.headers["Location"] == f"/v1/messages/{message['id']}"
    return message


async def message_of(client: Any, shop: Texting, message_id: str) -> dict[str, Any]:
    body = await ok(await client.get(f"/v1/messages/{message_id}", headers=shop.owner.auth))
    conforms(MessageOut, body)
    return body


async def settled(
    client: Any, container: Any, shop: Texting, message_id: str, *statuses: str
) -> dict[str, Any]:
    """Run the worker until the message reaches one of ``statuses``; the message then."""

    async def done() -> bool:
        return (await message_of(client, shop, message_id))["status"] in statuses

    await drain(container, done)
    return await message_of(client, shop, message_id)


async def from_twilio(client: Any, shop: Texting, params: dict[str, str], *, token: str | None = None) -> Any:
    """Twilio's form POST to the connection's webhook, signed by the SDK's own validator."""
    signature = RequestValidator(token or shop.auth_token).compute_signature(
        WEBHOOK_HOST + shop.webhook_url, params
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
    return await client.post(shop.webhook_url, data=urlencode(params), headers=headers)


async def acknowledged(response: Any) -> None:
    """Twilio reads the answer as TwiML: an empty <Response/>, so the customer gets no reply."""
    assert response.status_code == 200, (response.status_code, await response.get_data())
    assert response.content_type == "text/xml; charset=utf-8"
    assert await response.get_data() == b'<?xml version="1.0" encoding="UTF-8"?><Response/>'


def inbound(shop: Texting, body: str, sender: str = PHONE) -> dict[str, str]:
    sid = "SM" + uuid.uuid4().hex
    return {
        "AccountSid": shop.account_sid,
        "ApiVersion": "2010-04-01",
        "Body": body,
        "From": sender,
        "FromCountry": "US",
        "MessageSid": sid,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsMessageSid": sid,
        "SmsStatus": "received",
        "To": OUR_NUMBER,
    }


def status_callback(shop: Texting, sid: str, status: str, **extra: str) -> dict[str, str]:
    return {
        "AccountSid": shop.account_sid,
        "ApiVersion": "2010-04-01",
        "From": OUR_NUMBER,
        "MessageSid": sid,
        "MessageStatus": status,
        "SmsSid": sid,
        "SmsStatus": status,
        "To": PHONE,
        **extra,
    }


async def text_in(
    client: Any, container: Any, shop: Texting, body: str, sender: str = PHONE
) -> dict[str, Any]:
    """A customer's text, delivered by Twilio and processed by the worker: the stored message."""
    params = inbound(shop, body, sender)
    await acknowledged(await from_twilio(client, shop, params))

    async def stored() -> list[dict[str, Any]]:
        page = await ok(
            await client.get("/v1/messages", query_string={"direction": "inbound"}, headers=shop.owner.auth)
        )
        return [m for m in page["data"] if m["provider_message_id"] == params["MessageSid"]]

    async def done() -> bool:
        return bool(await stored())

    await drain(container, done)
    [message] = await stored()
    conforms(MessageOut, message)
    return message


async def customer_messages(client: Any, shop: Texting, **params: Any) -> list[dict[str, Any]]:
    body = await ok(
        await client.get(
            f"/v1/customers/{shop.customer_id}/messages", query_string=params, headers=shop.owner.auth
        )
    )
    conforms(MessageListOut, body)
    return list(body["data"])


async def opt_outs(client: Any, shop: Texting) -> list[dict[str, Any]]:
    body = await ok(await client.get("/v1/sms-opt-outs", headers=shop.owner.auth))
    conforms(OptOutListOut, body)
    return list(body["data"])


# --- sending -------------------------------------------------------------------------------------


async def test_a_text_goes_out_through_twilios_sdk_and_its_callbacks_move_it_to_delivered(
    client, container, twilio_api
):
    shop = await texting(client, container)

    response = await send(client, shop, "Your engineer is on the way", **{"Idempotency-Key": "text-1"})
    queued = await ok(response, 201)
    assert response.headers["ETag"] == '"1"'
    replay = await send(client, shop, "Your engineer is on the way", **{"Idempotency-Key": "text-1"})
    assert (await ok(replay, 201))["id"] == queued["id"]
    assert (queued["status"], queued["to_number"], queued["from_number"]) == ("queued", PHONE, None)
    assert queued["sent_by"] == {"type": "user", "id": shop.owner.user_id}

    message = await settled(client, container, shop, queued["id"], "sent", "failed")

    [request] = [r for r in twilio_api.requests if shop.account_sid in r.path]
    assert request.basic_auth == (shop.account_sid, shop.auth_token)
    assert request.form == {"To": PHONE, "From": OUR_NUMBER, "Body": "Your engineer is on the way"}
    sid = message["provider_message_id"]
    assert sid in twilio_api.messages
    assert (message["status"], message["provider"], message["error"]) == ("sent", "twilio", None)

    await acknowledged(await from_twilio(client, shop, status_callback(shop, sid, "delivered")))
    delivered = await settled(client, container, shop, queued["id"], "delivered")
    assert delivered["from_number"] == OUR_NUMBER
    # Twilio repeats a callback it thinks failed, and may deliver them out of order.
    await acknowledged(await from_twilio(client, shop, status_callback(shop, sid, "delivered")))
    await acknowledged(await from_twilio(client, shop, status_callback(shop, sid, "sent")))
    await drain(container)
    assert (await message_of(client, shop, queued["id"]))["status"] == "delivered"


async def test_an_undelivered_callback_fails_the_message_with_twilios_error(client, container, twilio_api):
    shop = await texting(client, container)
    queued = await sent(client, shop)
    sid = (await settled(client, container, shop, queued["id"], "sent"))["provider_message_id"]

    callback = status_callback(shop, sid, "undelivered", ErrorCode="30003")
    await acknowledged(await from_twilio(client, shop, callback))
    failed = await settled(client, container, shop, queued["id"], "failed")

    assert failed["error"] == "Twilio: undelivered, error 30003"


async def test_a_refusal_from_twilio_fails_the_message_without_retrying(
    client, container, database, twilio_api
):
    shop = await texting(client, container)
    twilio_api.fail_next(status=400)  # Twilio: invalid To number (21211)

    queued = await sent(client, shop)
    failed = await settled(client, container, shop, queued["id"], "failed")

    assert "21211" in failed["error"]
    assert failed["provider_message_id"] is None
    with psycopg.connect(database.owner_url) as conn:
        [(status, attempts)] = conn.execute(
            "SELECT status, attempts FROM outbox WHERE tenant_id = %s AND kind = 'sms.message.send'",
            (shop.owner.tenant_id,),
        ).fetchall()
    assert (status, attempts) == ("done", 1)  # settled as failed on the first try, never retried


async def test_a_text_through_the_fake_provider_names_the_api_key_that_sent_it(client, container, twilio_api):
    shop = await texting(client, container, "fake_sms")
    key = await create_key(client, shop.owner, {"messages": "write", "customers": "read"})

    response = await client.post(
        f"/v1/customers/{shop.customer_id}/messages",
        json={"body": "Line one\nline two"},
        headers={"Authorization": f"Bearer {key['secret']}"},
    )
    queued = await ok(response, 201)
    message = await settled(client, container, shop, queued["id"], "sent")

    assert message["sent_by"] == {"type": "api_key", "id": key["id"]}
    [(label, sms)] = [
        (label, m) for label, m in fake_record(container).sms if m.idempotency_key == queued["id"]
    ]
    assert (label, sms.to, sms.body) == ("texts", PHONE, "Line one\nline two")
    assert message["provider_message_id"].startswith("fake_sms_")


# --- receiving, opt-outs -------------------------------------------------------------------------


async def test_a_customers_text_is_stored_once_matched_by_number_and_shown_without_its_words(
    client, container, twilio_api
):
    shop = await texting(client, container)
    queued = await sent(client, shop, "See you Thursday")
    await settled(client, container, shop, queued["id"], "sent")

    reply = await text_in(client, container, shop, "Can we make it 3pm instead?")

    assert (reply["direction"], reply["status"], reply["customer_id"]) == (
        "inbound",
        "received",
        shop.customer_id,
    )
    assert (reply["from_number"], reply["to_number"], reply["sent_by"]) == (PHONE, OUR_NUMBER, None)
    conversation = await customer_messages(client, shop)
    assert [m["id"] for m in conversation] == [reply["id"], queued["id"]]
    assert [m["id"] for m in await customer_messages(client, shop, direction="outbound")] == [queued["id"]]
    timeline = await ok(
        await client.get(f"/v1/customers/{shop.customer_id}/timeline", headers=shop.owner.auth)
    )
    texts = [(e["summary"], e["ref"]["id"]) for e in timeline["data"] if e["kind"] == "message"]
    assert texts == [("Text message received", reply["id"]), ("Text message sent (sent)", queued["id"])]
    assert "3pm" not in str(timeline)
    assert "Thursday" not in str(timeline)

    stranger = await text_in(client, container, shop, "Who is this?", sender="+447700900123")
    assert stranger["customer_id"] is None


async def test_a_call_twilio_did_not_sign_is_refused_and_stores_nothing(client, container, twilio_api):
    shop = await texting(client, container)
    params = inbound(shop, "STOP")

    await expect_problem(
        await from_twilio(client, shop, params, token=uuid.uuid4().hex), 400, "webhook_rejected"
    )
    genuine = await from_twilio(client, shop, params)
    assert genuine.status_code == 200
    forged = dict(params, Body="START", MessageSid="SM" + uuid.uuid4().hex)
    signature = RequestValidator(shop.auth_token).compute_signature(WEBHOOK_HOST + shop.webhook_url, params)
    response = await client.post(
        shop.webhook_url,
        data=urlencode(forged),
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
    )
    await expect_problem(response, 400, "webhook_rejected")
    await drain(container)
    assert [o["keyword"] for o in await opt_outs(client, shop)] == ["STOP"]


async def test_stop_opts_the_number_out_a_send_is_refused_and_start_allows_it_again(
    client, container, twilio_api
):
    shop = await texting(client, container)

    stop = await text_in(client, container, shop, "  Stop ")

    [opt_out] = await opt_outs(client, shop)
    assert (opt_out["phone"], opt_out["keyword"]) == (PHONE, "STOP")
    assert (opt_out["customer_id"], opt_out["message_id"]) == (shop.customer_id, stop["id"])
    refused = await expect_problem(await send(client, shop), 409, "recipient_opted_out")
    assert "opted out" in refused["detail"]
    before = len(twilio_api.requests)

    await text_in(client, container, shop, "START")

    assert await opt_outs(client, shop) == []
    queued = await sent(client, shop)
    assert (await settled(client, container, shop, queued["id"], "sent"))["status"] == "sent"
    assert len(twilio_api.requests) == before + 1
    actions = [
        (e["action"], e["target_id"])
        for e in await audit_entries(client, shop.owner, target_type="sms_opt_out")
    ]
    assert actions == [("sms.opted_in", PHONE), ("sms.opted_out", PHONE)]


async def test_an_opt_out_that_arrives_after_queueing_blocks_the_message_at_send_time(
    client, container, database, twilio_api
):
    shop = await texting(client, container)
    # Queued by a clock ahead of the database's, the send is not yet due when STOP is processed.
    with clock_at(container, datetime.now(UTC) + timedelta(hours=1)):
        queued = await sent(client, shop)
    await text_in(client, container, shop, "UNSUBSCRIBE")
    with psycopg.connect(database.owner_url) as conn:
        conn.execute(
            "UPDATE outbox SET next_attempt_at = now() WHERE tenant_id = %s AND kind = 'sms.message.send'",
            (shop.owner.tenant_id,),
        )

    blocked = await settled(client, container, shop, queued["id"], "blocked", "sent")

    assert (blocked["status"], blocked["provider_message_id"]) == ("blocked", None)
    assert blocked["error"] == "not sent: the number opted out of text messages"
    assert not [r for r in twilio_api.requests if shop.account_sid in r.path]
    actions = [e["action"] for e in await audit_entries(client, shop.owner, target_id=queued["id"])]
    assert actions == ["message.blocked", "message.queued"]
    timeline = await ok(
        await client.get(f"/v1/customers/{shop.customer_id}/timeline", headers=shop.owner.auth)
    )
    assert "Text message not sent: the number opted out" in [e["summary"] for e in timeline["data"]]


async def test_reminders_are_not_texted_to_an_opted_out_number(client, container, twilio_api):
    shop = await texting(client, container)
    patched = await client.patch(
        f"/v1/customers/{shop.customer_id}", json={"preferred_channel": "sms"}, headers=shop.owner.auth
    )
    assert patched.status_code == 200, await patched.get_data()
    await text_in(client, container, shop, "quit")
    resource = await make_resource(client, shop.owner)
    booked_at = days_ago(10)
    with clock_at(container, booked_at):
        appointment = await booked(client, shop.owner, resource, shop.customer, booked_at + timedelta(days=2))

    await run_worker_at(container, booked_at + timedelta(days=1, hours=1))

    assert not [r for r in twilio_api.requests if shop.account_sid in r.path]
    skipped = [
        e["changes"]
        for e in await audit_entries(client, shop.owner, target_id=appointment["id"])
        if e["action"] == "reminder.skipped"
    ]
    assert len(skipped) == 2
    assert {entry["reason"] for entry in skipped} == {"recipient_opted_out"}


# --- refusals ------------------------------------------------------------------------------------


async def test_texting_needs_the_sms_feature_a_phone_and_a_provider(client, container, twilio_api):
    free = await texting(client, container, sms=False)
    await expect_problem(await send(client, free), 403, "feature_disabled")

    no_phone = await texting(client, container, phone=None)
    await expect_problem(await send(client, no_phone), 422, "customer_has_no_phone")

    unconnected = await texting(client, container)
    integrations = await ok(await client.get("/v1/integrations", headers=unconnected.owner.auth))
    for integration in integrations["data"]:
        await client.delete(f"/v1/integrations/{integration['id']}", headers=unconnected.owner.auth)
    await expect_problem(await send(client, unconnected), 409, "provider_not_connected")

    for shop in (free, no_phone, unconnected):
        assert (await ok(await client.get("/v1/messages", headers=shop.owner.auth)))["data"] == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"body": ""}, "body"),
        ({"body": "   "}, "body"),
        ({"body": "x" * 1601}, "body"),
        ({"body": "bell\x07"}, "body"),
        ({"body": 42}, "body"),
        ({}, "body"),
        ({"body": "Hi", "status": "delivered"}, "status"),
    ],
    ids=["empty", "blank", "too long", "control character", "not text", "missing", "unknown field"],
)
async def test_a_bad_text_is_refused_naming_the_field_and_nothing_is_queued(
    client, container, twilio_api, payload, field
):
    shop = await texting(client, container, "fake_sms")
    response = await client.post(
        f"/v1/customers/{shop.customer_id}/messages", json=payload, headers=shop.owner.auth
    )
    problem = await expect_problem(response, 400)
    assert field in error_fields(problem) or field in problem["detail"]
    assert (await ok(await client.get("/v1/messages", headers=shop.owner.auth)))["data"] == []


@pytest.mark.parametrize(
    "query",
    [
        {"status": "lost"},
        {"direction": "sideways"},
        {"customer_id": "not-a-uuid"},
        {"created_after": "2026-01-01T00:00:00"},  # no time zone
        {"limit": 0},
        {"cursor": "nonsense"},
    ],
)
async def test_bad_list_filters_are_refused(client, container, twilio_api, query):
    shop = await texting(client, container, "fake_sms")
    await expect_problem(await client.get("/v1/messages", query_string=query, headers=shop.owner.auth), 400)


async def test_lists_filter_by_status_and_time_and_page_newest_first(client, container, twilio_api):
    shop = await texting(client, container, "fake_sms")
    first = await sent(client, shop, "one")
    second = await sent(client, shop, "two")
    third = await sent(client, shop, "three")
    await settled(client, container, shop, third["id"], "sent")

    page = await ok(await client.get("/v1/messages", query_string={"limit": 2}, headers=shop.owner.auth))
    assert [m["id"] for m in page["data"]] == [third["id"], second["id"]]
    rest = await ok(
        await client.get(
            "/v1/messages", query_string={"limit": 2, "cursor": page["next_cursor"]}, headers=shop.owner.auth
        )
    )
    assert [m["id"] for m in rest["data"]] == [first["id"]]
    assert rest["has_more"] is False
    after = {"created_after": first["created_at"], "created_before": third["created_at"]}
    between = await ok(await client.get("/v1/messages", query_string=after, headers=shop.owner.auth))
    assert [m["id"] for m in between["data"]] == [second["id"]]
    statuses = await ok(
        await client.get("/v1/messages", query_string={"status": "sent"}, headers=shop.owner.auth)
    )
    assert {m["id"] for m in statuses["data"]} == {first["id"], second["id"], third["id"]}
    mine = await ok(
        await client.get(
            "/v1/messages", query_string={"customer_id": shop.customer_id}, headers=shop.owner.auth
        )
    )
    assert len(mine["data"]) == 3


async def test_another_tenants_messages_and_customers_are_not_found(client, container, twilio_api):
    shop = await texting(client, container, "fake_sms")
    other = await texting(client, container, "fake_sms")
    message = await sent(client, shop)

    await expect_problem(await client.get(f"/v1/messages/{message['id']}", headers=other.owner.auth), 404)
    await expect_problem(
        await client.get(f"/v1/customers/{shop.customer_id}/messages", headers=other.owner.auth), 404
    )
    await expect_problem(
        await client.post(
            f"/v1/customers/{shop.customer_id}/messages", json={"body": "Hi"}, headers=other.owner.auth
        ),
        404,
    )
    listed = await ok(
        await client.get(
            "/v1/messages", query_string={"customer_id": shop.customer_id}, headers=other.owner.auth
        )
    )
    assert listed["data"] == []
    await expect_problem(await client.get(f"/v1/messages/{uuid.uuid4()}", headers=shop.owner.auth), 404)
    assert UUID(message["id"])
