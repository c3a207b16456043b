"""Paying invoices online and refunding over HTTP: payment intents and links at the Stripe
stand-in (and the fake provider), payments recorded from signed webhooks exactly once whatever
their duplication or order, refunds reserved under the invoice's lock, sent through the outbox
with our refund's id as Stripe's idempotency key, and settled once.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from switchboard.core.flags.handlers import SetFlags, set_flags
from switchboard.core.sales.provider_payments import REFUND_KIND
from switchboard.entrypoints.http.blueprints.payments import (
    PaymentIntentOut,
    PaymentLinkOut,
    RefundListOut,
    RefundOut,
)
from switchboard.entrypoints.http.blueprints.sales import PaymentOut
from switchboard.ports.providers import ProviderError, RefundRequest
from tests.e2e.helpers import conforms, expect_problem, sign_up
from tests.e2e.payment_helpers import (
    TOTAL,
    NoJitter,
    Shop,
    audit_trail,
    deliver_fake,
    deliver_stripe,
    drain,
    fake_record,
    inbox_rows,
    invoice_of,
    issued_invoice,
    ok,
    open_shop,
    outbox_rows,
    payments_of,
    refunds_of,
    stripe_api_fixture,  # noqa: F401 (the stripe_api fixture)
    usd,
)
from tests.e2e.team_helpers import join
from tests.fakes.stripe_standin import StripeStandIn

# stripe 16.1's HTTPXClient hands its encoded form body to httpx as data=: the SDK's business.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning")


async def intent_for(client: Any, shop: Shop, invoice_id: str, **body: Any) -> dict[str, Any]:
    response = await client.post(
        f"/v1/invoices/{invoice_id}/payment-intent", json=body, headers=shop.owner.auth
    )
    intent = await ok(response)
    conforms(PaymentIntentOut, intent)
    return intent


async def stripe_pays(
    client: Any, container: Any, stripe_api: StripeStandIn, shop: Shop, intent_id: str
) -> None:
    """The customer pays the intent; Stripe sends its event; the worker records it."""
    event = stripe_api.mark_succeeded(intent_id)
    assert (await deliver_stripe(client, shop, event)).status_code == 200
    await drain(container)


async def refund(client: Any, who: Any, invoice_id: str, amount: int, **fields: Any) -> Any:
    headers = who.auth | fields.pop("headers", {})
    payload = {"amount": usd(amount)} | fields
    return await client.post(f"/v1/invoices/{invoice_id}/refunds", json=payload, headers=headers)


async def paid_through_stripe(
    client: Any, container: Any, stripe_api: StripeStandIn
) -> tuple[Shop, dict[str, Any], dict[str, Any]]:
    """A shop whose invoice was paid in full through Stripe: (shop, invoice, payment)."""
    shop = await open_shop(client, container, "stripe")
    invoice = await issued_invoice(client, shop)
    intent = await intent_for(client, shop, invoice["id"])
    await stripe_pays(client, container, stripe_api, shop, intent["id"])
    [payment] = await payments_of(client, shop, invoice["id"])
    return shop, invoice, payment


# --- paying through Stripe ----------------------------------------------------------------------


async def test_a_payment_intent_is_made_for_the_amount_due_with_the_invoices_ids_and_a_retry_is_the_same(
    client, container, stripe_api
):
    shop = await open_shop(client, container, "stripe")
    invoice = await issued_invoice(client, shop)
    before = stripe_api.objects_created

    first = await intent_for(client, shop, invoice["id"])
    again = await intent_for(client, shop, invoice["id"])

    assert again == first
    assert first["provider"] == "stripe"
    assert first["amount"] == usd(TOTAL)
    assert first["status"] == "requires_payment_method"
    assert first["client_secret"].startswith(first["id"] + "_secret_")
    assert stripe_api.objects_created == before + 1
    sent = stripe_api.requests[-1]
    assert sent.form["amount"] == str(TOTAL)
    assert sent.form["currency"] == "usd"
    assert sent.nested("metadata") == {
        "tenant_id": shop.owner.tenant_id,
        "invoice_id": invoice["id"],
        "invoice_number": invoice["number"],
    }
    assert sent.headers["idempotency-key"] == (
        f"invoice-{invoice['id']}-intent-due-{TOTAL}-amount-{TOTAL}-attempt-1"
    )
    newer = await intent_for(client, shop, invoice["id"], attempt=2)
    assert newer["id"] != first["id"]


async def test_paying_through_stripe_marks_the_invoice_paid_once_whatever_the_duplicate_deliveries(
    client, container, database, stripe_api
):
    shop = await open_shop(client, container, "stripe")
    invoice = await issued_invoice(client, shop)
    intent = await intent_for(client, shop, invoice["id"])
    event = stripe_api.mark_succeeded(intent["id"])

    answers = await asyncio.gather(*(deliver_stripe(client, shop, event) for _ in range(3)))
    await drain(container)
    again = await deliver_stripe(client, shop, event)
    await drain(container)

    assert sorted([(await a.get_json())["received"] for a in answers]) == [0, 0, 1]
    assert (await again.get_json()) == {"received": 0, "duplicates": 1}
    paid = await invoice_of(client, shop, invoice["id"])
    assert (paid["status"], paid["amount_paid"], paid["amount_due"]) == ("paid", usd(TOTAL), usd(0))
    [payment] = await payments_of(client, shop, invoice["id"])
    conforms(PaymentOut, payment)
    assert (payment["kind"], payment["method"], payment["external_id"], payment["reference"]) == (
        "payment",
        "card",
        intent["id"],
        "stripe",
    )
    assert [row["status"] for row in inbox_rows(database, shop.tenant_id)] == ["done"]
    trail = audit_trail(database, shop.tenant_id, "payment.recorded", "invoice.payment_requested")
    assert trail == [
        ("invoice.payment_requested", "user", invoice["id"]),
        ("payment.recorded", "system", payment["id"]),
    ]


async def test_a_part_paid_online_then_the_rest_make_the_invoice_partially_paid_then_paid(
    client, container, stripe_api
):
    shop = await open_shop(client, container, "stripe")
    invoice = await issued_invoice(client, shop)

    deposit = await intent_for(client, shop, invoice["id"], amount=usd(5_000))
    await stripe_pays(client, container, stripe_api, shop, deposit["id"])
    partly = await invoice_of(client, shop, invoice["id"])
    rest = await intent_for(client, shop, invoice["id"])
    await stripe_pays(client, container, stripe_api, shop, rest["id"])
    paid = await invoice_of(client, shop, invoice["id"])

    assert deposit["amount"] == usd(5_000)
    assert (partly["status"], partly["amount_due"]) == ("partially_paid", usd(TOTAL - 5_000))
    assert rest["amount"] == usd(TOTAL - 5_000)
    assert (paid["status"], paid["amount_paid"]) == ("paid", usd(TOTAL))


async def test_a_payment_link_is_a_stripe_checkout_page_and_paying_on_it_pays_the_invoice(
    client, container, stripe_api
):
    shop = await open_shop(client, container, "stripe")
    invoice = await issued_invoice(client, shop)

    response = await client.post(
        f"/v1/invoices/{invoice['id']}/payment-link",
        json={"success_url": "https://hopper.example/thanks", "cancel_url": "https://hopper.example/invoice"},
        headers=shop.owner.auth,
    )
    link = await ok(response)
    conforms(PaymentLinkOut, link)
    session = stripe_api.checkout_sessions[link["id"]]
    paid_event = stripe_api.complete_checkout(link["id"])
    await deliver_stripe(client, shop, paid_event)
    await drain(container)

    assert (link["url"], link["amount"], link["provider"]) == (session["url"], usd(TOTAL), "stripe")
    assert link["expires_at"] is not None
    assert session["success_url"] == "https://hopper.example/thanks"
    assert session["customer_email"] == "grace-pays@example.com"
    assert (await invoice_of(client, shop, invoice["id"]))["status"] == "paid"


async def test_draft_void_and_paid_invoices_refuse_intents_and_links_and_an_overpayment_is_refused(
    client, container, stripe_api
):
    shop = await open_shop(client, container, "stripe")
    draft = await ok(
        await client.post(
            "/v1/invoices",
            json={
                "customer_id": shop.customer_id,
                "lines": [{"description": "x", "quantity": "1", "unit_price": usd(100)}],
            },
            headers=shop.owner.auth,
        ),
        201,
    )
    void = await issued_invoice(client, shop)
    await ok(
        await client.post(
            f"/v1/invoices/{void['id']}/void", json={"reason": "Wrong"}, headers=shop.owner.auth
        )
    )
    paid = await issued_invoice(client, shop)
    await ok(
        await client.post(
            f"/v1/invoices/{paid['id']}/payments",
            json={"amount": usd(TOTAL), "method": "cash"},
            headers=shop.owner.auth,
        ),
        201,
    )
    open_one = await issued_invoice(client, shop)
    created_before = stripe_api.objects_created

    for path in ("payment-intent", "payment-link"):
        for invoice_id, code in (
            (draft["id"], "invoice_not_issued"),
            (void["id"], "invoice_void"),
            (paid["id"], "invoice_paid"),
        ):
            response = await client.post(
                f"/v1/invoices/{invoice_id}/{path}", json={}, headers=shop.owner.auth
            )
            await expect_problem(response, 409, code)
        too_much = await client.post(
            f"/v1/invoices/{open_one['id']}/{path}", json={"amount": usd(TOTAL + 1)}, headers=shop.owner.auth
        )
        await expect_problem(too_much, 409, "overpayment")
        euros = await client.post(
            f"/v1/invoices/{open_one['id']}/{path}",
            json={"amount": {"amount": 100, "currency": "EUR"}},
            headers=shop.owner.auth,
        )
        await expect_problem(euros, 400, "validation_error")
        unknown = await client.post(
            f"/v1/invoices/{open_one['id']}/{path}", json={"tip": 1}, headers=shop.owner.auth
        )
        await expect_problem(unknown, 400)
    bad_url = await client.post(
        f"/v1/invoices/{open_one['id']}/payment-link",
        json={"success_url": "javascript:alert(1)"},
        headers=shop.owner.auth,
    )
    await expect_problem(bad_url, 400, "validation_error")
    assert stripe_api.objects_created == created_before


async def test_without_a_connected_provider_or_the_payments_feature_payment_requests_are_refused(
    client, container
):
    unconnected_shop = await open_shop(client, container)
    unconnected_invoice = await issued_invoice(client, unconnected_shop)
    switched_off = await open_shop(client, container, "fake_payments")
    switched_off_invoice = await issued_invoice(client, switched_off)
    await set_flags(
        SetFlags(switched_off.tenant_id, {"payments": False}),
        uuid.uuid4(),
        container.units()(switched_off.tenant_id),
        container.clock(),
    )
    stranger = await sign_up(client)

    unconnected = await client.post(
        f"/v1/invoices/{unconnected_invoice['id']}/payment-intent",
        json={},
        headers=unconnected_shop.owner.auth,
    )
    off = await client.post(
        f"/v1/invoices/{switched_off_invoice['id']}/payment-link", json={}, headers=switched_off.owner.auth
    )
    other_tenant = await client.post(
        f"/v1/invoices/{unconnected_invoice['id']}/payment-intent", json={}, headers=stranger.auth
    )

    await expect_problem(unconnected, 409, "provider_not_connected")
    await expect_problem(off, 403, "feature_disabled")
    await expect_problem(other_tenant, 404, "not_found")


async def test_when_stripe_is_down_an_intent_is_a_503_and_when_it_refuses_a_502(
    client, container, stripe_api
):
    shop = await open_shop(client, container, "stripe")
    invoice = await issued_invoice(client, shop)
    url = f"/v1/invoices/{invoice['id']}/payment-intent"

    stripe_api.fail_next(status=503)
    down = await client.post(url, json={}, headers=shop.owner.auth)
    stripe_api.fail_next(status=401)
    refused = await client.post(url, json={}, headers=shop.owner.auth)
    fine = await client.post(url, json={}, headers=shop.owner.auth)

    await expect_problem(down, 503, "provider_unavailable")
    await expect_problem(refused, 502, "provider_refused")
    assert fine.status_code == 200


# --- refunds through Stripe ---------------------------------------------------------------------


async def test_a_refund_of_a_stripe_payment_is_reserved_sent_under_our_refund_id_and_settled_once(
    client, container, database, stripe_api
):
    shop, invoice, payment = await paid_through_stripe(client, container, stripe_api)

    response = await refund(client, shop.owner, invoice["id"], 4_000, payment_id=payment["id"], reason="Late")
    pending = await ok(response, 202)
    conforms(RefundOut, pending)
    assert response.headers["Location"] == f"/v1/invoices/{invoice['id']}/refunds/{pending['id']}"
    assert (pending["status"], pending["amount"], pending["provider"]) == ("pending", usd(4_000), "stripe")
    assert (await invoice_of(client, shop, invoice["id"]))["amount_refunded"] == usd(0)  # not yet given back

    await drain(container)
    settled = await ok(await client.get(response.headers["Location"], headers=shop.owner.auth))
    pi = payment["external_id"]
    sent = [r for r in stripe_api.requests if r.path == "/v1/refunds" and r.form.get("payment_intent") == pi]
    [at_stripe] = [r for r in stripe_api.refunds.values() if r["payment_intent"] == pi]
    # Stripe's events for it (refund.created, charge.refunded) come after the job's answer
    # settled it: nothing changes.
    events = [e for e in stripe_api.events if e["data"]["object"].get("payment_intent") == pi]
    assert sorted(e["type"] for e in events) == ["charge.refunded", "refund.created"]
    for event in events:
        assert (await deliver_stripe(client, shop, event)).status_code == 200
    await drain(container)

    assert [r.headers["idempotency-key"] for r in sent] == [pending["id"]]
    assert sent[0].form["amount"] == "4000"
    assert sent[0].nested("metadata") == {
        "tenant_id": shop.owner.tenant_id,
        "invoice_id": invoice["id"],
        "refund_id": pending["id"],
        "reason": "Late",
    }
    assert (settled["status"], settled["provider_refund_id"]) == ("succeeded", at_stripe["id"])
    after = await invoice_of(client, shop, invoice["id"])
    assert (after["status"], after["amount_paid"], after["amount_refunded"]) == (
        "partially_paid",
        usd(TOTAL - 4_000),
        usd(4_000),
    )
    refunds = [p for p in await payments_of(client, shop, invoice["id"]) if p["kind"] == "refund"]
    assert [(p["id"], p["external_id"], p["refunded_payment_id"]) for p in refunds] == [
        (settled["refund_payment_id"], at_stripe["id"], payment["id"])
    ]
    listed = await ok(await client.get(f"/v1/invoices/{invoice['id']}/refunds", headers=shop.owner.auth))
    conforms(RefundListOut, listed)
    assert [r["id"] for r in listed["data"]] == [pending["id"]]
    assert [row["status"] for row in outbox_rows(database, shop.tenant_id, REFUND_KIND)] == ["done"]
    assert audit_trail(
        database, shop.tenant_id, "refund.requested", "refund.recorded", "refund.succeeded"
    ) == [
        ("refund.requested", "user", pending["id"]),
        ("refund.recorded", "system", settled["refund_payment_id"]),
        ("refund.succeeded", "system", pending["id"]),
    ]


async def test_a_refund_stripe_settles_later_is_settled_by_its_webhook(client, container, stripe_api):
    shop, invoice, payment = await paid_through_stripe(client, container, stripe_api)
    stripe_api.refunds_settle_later = True
    try:
        pending = await ok(
            await refund(client, shop.owner, invoice["id"], TOTAL, payment_id=payment["id"]), 202
        )
        await drain(container)
    finally:
        stripe_api.refunds_settle_later = False
    waiting = await ok(
        await client.get(f"/v1/invoices/{invoice['id']}/refunds/{pending['id']}", headers=shop.owner.auth)
    )

    updated = stripe_api.settle_refund(waiting["provider_refund_id"], "succeeded")
    await deliver_stripe(client, shop, updated)
    await drain(container)
    done = await ok(
        await client.get(f"/v1/invoices/{invoice['id']}/refunds/{pending['id']}", headers=shop.owner.auth)
    )

    assert (waiting["status"], waiting["provider_refund_id"][:3]) == ("pending", "re_")
    assert done["status"] == "succeeded"
    after = await invoice_of(client, shop, invoice["id"])
    assert (after["status"], after["amount_refunded"]) == ("sent", usd(TOTAL))


async def test_a_refund_stripe_refuses_fails_releases_its_amount_and_another_can_go(
    client, container, database, stripe_api
):
    shop, invoice, payment = await paid_through_stripe(client, container, stripe_api)
    stripe_api.fail_next(status=400)

    first = await ok(await refund(client, shop.owner, invoice["id"], TOTAL, payment_id=payment["id"]), 202)
    meanwhile = await refund(client, shop.owner, invoice["id"], 1, payment_id=payment["id"])
    await drain(container)
    failed = await ok(
        await client.get(f"/v1/invoices/{invoice['id']}/refunds/{first['id']}", headers=shop.owner.auth)
    )
    second = await refund(client, shop.owner, invoice["id"], TOTAL, payment_id=payment["id"])

    await expect_problem(meanwhile, 409, "refund_exceeds_payment")
    assert failed["status"] == "failed"
    assert failed["failure_reason"].startswith("stripe: ")
    assert second.status_code == 202
    assert (await invoice_of(client, shop, invoice["id"]))["amount_refunded"] == usd(0)
    assert ("refund.failed", "system", first["id"]) in audit_trail(database, shop.tenant_id, "refund.failed")


async def test_a_refund_event_before_its_payment_is_retried_until_the_payment_exists_then_applied_once(
    client, container, database, stripe_api
):
    shop = await open_shop(client, container, "stripe")
    invoice = await issued_invoice(client, shop)
    intent = await intent_for(client, shop, invoice["id"])
    paid_event = stripe_api.mark_succeeded(intent["id"])
    # Refunded in Stripe's dashboard at once: its events overtake the payment's.
    adapter = await container.provider_registry().payments_for(shop.tenant_id)
    await adapter.refund(RefundRequest(intent["id"], 2_000, idempotency_key=str(uuid.uuid4())))
    refund_events = [
        e
        for e in stripe_api.events
        if e["type"] == "refund.created" and e["data"]["object"]["payment_intent"] == intent["id"]
    ]

    for event in refund_events:
        await deliver_stripe(client, shop, event)
    await container.worker(idle_seconds=0, batch=1000, rng=NoJitter()).run_once()
    early = inbox_rows(database, shop.tenant_id)
    await deliver_stripe(client, shop, paid_event)
    await deliver_stripe(client, shop, refund_events[0])  # and once more, for good measure
    await drain(container, done=lambda: _all_done(database, shop))

    [(status, attempts, error)] = [(r["status"], r["attempts"], r["last_error"]) for r in early]
    assert (status, attempts) == ("pending", 1)
    assert "RetryLater" in error
    after = await invoice_of(client, shop, invoice["id"])
    assert (after["status"], after["amount_paid"], after["amount_refunded"]) == (
        "partially_paid",
        usd(TOTAL - 2_000),
        usd(2_000),
    )
    kinds = sorted(p["kind"] for p in await payments_of(client, shop, invoice["id"]))
    assert kinds == ["payment", "refund"]


async def _all_done(database: Any, shop: Shop) -> bool:
    return all(row["status"] == "done" for row in inbox_rows(database, shop.tenant_id))


async def test_20_concurrent_refund_requests_of_30_percent_each_reserve_3_and_never_refund_more_than_captured(
    client, container, stripe_api
):
    shop, invoice, payment = await paid_through_stripe(client, container, stripe_api)
    share = TOTAL * 30 // 100

    answers = await asyncio.gather(
        *(refund(client, shop.owner, invoice["id"], share, payment_id=payment["id"]) for _ in range(20))
    )
    statuses = sorted(a.status_code for a in answers)
    await drain(container)

    assert statuses == [202] * 3 + [409] * 17
    for answer in answers:
        if answer.status_code == 409:
            assert (await answer.get_json())["code"] == "refund_exceeds_payment"
    at_stripe = [r for r in stripe_api.refunds.values() if r["payment_intent"] == payment["external_id"]]
    assert sorted(r["amount"] for r in at_stripe) == [share] * 3
    after = await invoice_of(client, shop, invoice["id"])
    assert after["amount_refunded"] == usd(3 * share)
    assert after["amount_refunded"]["amount"] <= TOTAL
    assert [r["status"] for r in await refunds_of(client, shop, invoice["id"])] == ["succeeded"] * 3


async def test_a_refund_retried_with_its_idempotency_key_is_reserved_once(client, container, stripe_api):
    shop, invoice, payment = await paid_through_stripe(client, container, stripe_api)
    key = {"Idempotency-Key": f"refund-{uuid.uuid4()}"}

    first = await refund(client, shop.owner, invoice["id"], 1_000, payment_id=payment["id"], headers=key)
    again = await refund(client, shop.owner, invoice["id"], 1_000, payment_id=payment["id"], headers=key)
    other = await refund(client, shop.owner, invoice["id"], 2_000, payment_id=payment["id"], headers=key)

    assert (first.status_code, again.status_code) == (202, 202)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (await again.get_json())["id"] == (await first.get_json())["id"]
    await expect_problem(other, 422, "idempotency_key_reused")
    assert len(await refunds_of(client, shop, invoice["id"])) == 1


async def test_a_provider_refund_takes_no_external_id_and_a_payment_of_another_invoice_is_refused(
    client, container, stripe_api
):
    shop, invoice, payment = await paid_through_stripe(client, container, stripe_api)
    other_invoice = await issued_invoice(client, shop)
    await ok(
        await client.post(
            f"/v1/invoices/{other_invoice['id']}/payments",
            json={"amount": usd(1_000), "method": "cash"},
            headers=shop.owner.auth,
        ),
        201,
    )

    with_external_id = await refund(
        client, shop.owner, invoice["id"], 100, payment_id=payment["id"], external_id="re_mine"
    )
    elsewhere = await refund(client, shop.owner, other_invoice["id"], 100, payment_id=payment["id"])

    await expect_problem(with_external_id, 400, "validation_error")
    await expect_problem(elsewhere, 400, "validation_error")
    assert await refunds_of(client, shop, invoice["id"]) == []


# --- refunds by hand, permissions, isolation ----------------------------------------------------


async def test_a_manual_payment_is_refunded_at_once_and_leaves_room_for_refunds_in_flight(
    client, container, stripe_api
):
    shop = await open_shop(client, container, "stripe")
    invoice = await issued_invoice(client, shop)
    cash = await ok(
        await client.post(
            f"/v1/invoices/{invoice['id']}/payments",
            json={"amount": usd(5_000), "method": "cash"},
            headers=shop.owner.auth,
        ),
        201,
    )
    online = await intent_for(client, shop, invoice["id"])
    await stripe_pays(client, container, stripe_api, shop, online["id"])
    card = next(p for p in await payments_of(client, shop, invoice["id"]) if p["method"] == "card")
    await ok(await refund(client, shop.owner, invoice["id"], TOTAL - 5_000, payment_id=card["id"]), 202)

    too_much = await refund(client, shop.owner, invoice["id"], 5_001)
    by_hand = await refund(
        client, shop.owner, invoice["id"], 5_000, payment_id=cash["id"], reason="Cash back"
    )

    await expect_problem(too_much, 409, "refund_exceeds_paid")
    recorded = await ok(by_hand, 201)
    conforms(PaymentOut, recorded)
    assert (recorded["kind"], recorded["method"], recorded["refunded_payment_id"]) == (
        "refund",
        "cash",
        cash["id"],
    )
    assert by_hand.headers["Location"] == f"/v1/invoices/{invoice['id']}/payments/{recorded['id']}"


async def test_members_cannot_refund_and_another_tenant_sees_no_refund(
    client, container, database, stripe_api
):
    shop, invoice, payment = await paid_through_stripe(client, container, stripe_api)
    member = await join(client, database, shop.owner, "member")
    pending = await ok(await refund(client, shop.owner, invoice["id"], 100, payment_id=payment["id"]), 202)
    stranger = await sign_up(client)

    by_member = await refund(client, member, invoice["id"], 100, payment_id=payment["id"])
    member_reads = await client.get(f"/v1/invoices/{invoice['id']}/refunds", headers=member.auth)
    member_pays = await client.post(
        f"/v1/invoices/{invoice['id']}/payment-intent", json={}, headers=member.auth
    )
    strangers = [
        await client.get(f"/v1/invoices/{invoice['id']}/refunds", headers=stranger.auth),
        await client.get(f"/v1/invoices/{invoice['id']}/refunds/{pending['id']}", headers=stranger.auth),
        await refund(client, stranger, invoice["id"], 100, payment_id=payment["id"]),
        await client.post(f"/v1/invoices/{invoice['id']}/payment-link", json={}, headers=stranger.auth),
    ]

    await expect_problem(by_member, 403, "forbidden")
    assert member_reads.status_code == 200
    await expect_problem(member_pays, 409, "invoice_paid")  # allowed: members take payments
    for response in strangers:
        await expect_problem(response, 404, "not_found")


# --- the fake provider --------------------------------------------------------------------------


async def test_with_the_fake_provider_a_signed_payment_event_pays_and_a_refund_settles_from_its_answer(
    client, container, database
):
    shop = await open_shop(client, container, "fake_payments")
    invoice = await issued_invoice(client, shop)
    intent = await intent_for(client, shop, invoice["id"])
    link = await ok(
        await client.post(f"/v1/invoices/{invoice['id']}/payment-link", json={}, headers=shop.owner.auth)
    )
    [(label, asked)] = [
        (lbl, r)
        for lbl, r in fake_record(container).payment_links
        if r.metadata["invoice_id"] == invoice["id"]
    ]
    paid = {
        "payment_id": intent["id"],
        "amount": TOTAL,
        "currency": "USD",
        "metadata": {"tenant_id": shop.owner.tenant_id, "invoice_id": invoice["id"]},
    }

    forged = await client.post(shop.webhook_url, json={"type": "payment.succeeded", "data": paid})
    delivered = await deliver_fake(client, shop, "payment.succeeded", paid)
    await drain(container)
    [payment] = await payments_of(client, shop, invoice["id"])
    pending = await ok(await refund(client, shop.owner, invoice["id"], 3_000, payment_id=payment["id"]), 202)
    await drain(container)
    settled = await ok(
        await client.get(f"/v1/invoices/{invoice['id']}/refunds/{pending['id']}", headers=shop.owner.auth)
    )

    await expect_problem(forged, 400, "webhook_rejected")
    assert delivered.status_code == 200
    assert (intent["provider"], intent["id"][:8], link["url"][:22]) == (
        "fake_payments",
        "fake_pi_",
        "https://pay.fake.test/",
    )
    assert (label, asked.amount, asked.success_url) == ("till", TOTAL, container.settings().app_url)
    assert (payment["external_id"], payment["reference"]) == (intent["id"], "fake_payments")
    [(_, sent)] = [(lbl, r) for lbl, r in fake_record(container).refunds if r.payment_id == intent["id"]]
    assert (sent.amount, sent.idempotency_key, sent.metadata["refund_id"]) == (
        3_000,
        pending["id"],
        pending["id"],
    )
    assert settled["status"] == "succeeded"
    after = await invoice_of(client, shop, invoice["id"])
    assert (after["status"], after["amount_refunded"]) == ("partially_paid", usd(3_000))


async def test_a_fake_refund_that_keeps_failing_is_given_up_at_its_last_attempt_and_released(
    client, container, database
):
    shop = await open_shop(client, container, "fake_payments")
    invoice = await issued_invoice(client, shop)
    intent = await intent_for(client, shop, invoice["id"])
    paid = {
        "payment_id": intent["id"],
        "amount": TOTAL,
        "currency": "USD",
        "metadata": {"invoice_id": invoice["id"]},
    }
    await deliver_fake(client, shop, "payment.succeeded", paid)
    await drain(container)
    [payment] = await payments_of(client, shop, invoice["id"])
    fake_record(container).refund_failures.extend(
        ProviderError("down", retryable=True, status=503) for _ in range(8)
    )

    pending = await ok(await refund(client, shop.owner, invoice["id"], TOTAL, payment_id=payment["id"]), 202)
    await drain(container, done=lambda: _refund_settled(client, shop, invoice["id"], pending["id"]))

    failed = await ok(
        await client.get(f"/v1/invoices/{invoice['id']}/refunds/{pending['id']}", headers=shop.owner.auth)
    )
    [job] = outbox_rows(database, shop.tenant_id, REFUND_KIND)
    assert (failed["status"], failed["failure_reason"]) == ("failed", "fake_payments: down")
    assert (job["status"], job["attempts"]) == ("dead", 8)
    assert fake_record(container).refund_failures == []


async def _refund_settled(client: Any, shop: Shop, invoice_id: str, refund_id: str) -> bool:
    found = await ok(
        await client.get(f"/v1/invoices/{invoice_id}/refunds/{refund_id}", headers=shop.owner.auth)
    )
    return bool(found["status"] != "pending")


async def test_a_refund_of_a_payment_whose_provider_was_disconnected_fails_and_releases_its_amount(
    client, container
):
    shop = await open_shop(client, container, "fake_payments")
    invoice = await issued_invoice(client, shop)
    intent = await intent_for(client, shop, invoice["id"])
    paid = {
        "payment_id": intent["id"],
        "amount": TOTAL,
        "currency": "USD",
        "metadata": {"invoice_id": invoice["id"]},
    }
    await deliver_fake(client, shop, "payment.succeeded", paid)
    await drain(container)
    [payment] = await payments_of(client, shop, invoice["id"])
    integration_id = shop.webhook_url.rsplit("/", 1)[1]
    assert (
        await client.delete(f"/v1/integrations/{integration_id}", headers=shop.owner.auth)
    ).status_code == 204
    asked_before = len(fake_record(container).refunds)

    pending = await ok(await refund(client, shop.owner, invoice["id"], 1_000, payment_id=payment["id"]), 202)
    await drain(container, done=lambda: _refund_settled(client, shop, invoice["id"], pending["id"]))

    failed = await ok(
        await client.get(f"/v1/invoices/{invoice['id']}/refunds/{pending['id']}", headers=shop.owner.auth)
    )
    assert failed["status"] == "failed"
    assert "no longer the connected payments provider" in failed["failure_reason"]
    assert len(fake_record(container).refunds) == asked_before  # nothing was sent anywhere
    assert (await invoice_of(client, shop, invoice["id"]))["amount_refunded"] == usd(0)
