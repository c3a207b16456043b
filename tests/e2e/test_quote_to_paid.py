"""The whole business chain over HTTP, with the fake payments provider and with Stripe (its local
stand-in): a customer, a quote sent and accepted on its public page, the invoice it becomes,
issued, paid online in part and then in full through signed webhooks, and partly refunded."""

from __future__ import annotations

from typing import Any

import pytest

from switchboard.entrypoints.http.blueprints.payments import PaymentIntentOut, PaymentLinkOut, RefundOut
from switchboard.entrypoints.http.blueprints.sales import InvoiceOut, PaymentListOut, QuoteOut, SentQuoteOut
from tests.e2e.helpers import conforms
from tests.e2e.payment_helpers import (
    BOILER,
    TOTAL,
    VALVE,
    Shop,
    audit_trail,
    deliver_fake,
    deliver_stripe,
    drain,
    invoice_of,
    ok,
    open_shop,
    stripe_api_fixture,  # noqa: F401 (the stripe_api fixture)
    usd,
)
from tests.fakes.stripe_standin import StripeStandIn

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning")

DEPOSIT = 5_000


class Customer:
    """What the customer does outside Switchboard: pay at the provider, which then tells us."""

    def __init__(self, client: Any, shop: Shop, invoice_id: str, stripe: StripeStandIn | None) -> None:
        self.client, self.shop, self.invoice_id, self.stripe = client, shop, invoice_id, stripe

    async def pays_intent(self, intent: dict[str, Any]) -> None:
        if self.stripe is not None:
            event = self.stripe.mark_succeeded(intent["id"])
            response = await deliver_stripe(self.client, self.shop, event)
        else:
            response = await deliver_fake(self.client, self.shop, "payment.succeeded", self._paid(intent))
        assert response.status_code == 200, await response.get_data()

    async def pays_on_page(self, link: dict[str, Any]) -> None:
        """Paid on the provider's page; the provider tells twice (a redelivery, and for the fake
        a second event of its own for the same payment)."""
        if self.stripe is not None:
            event = self.stripe.complete_checkout(link["id"])
            responses = [await deliver_stripe(self.client, self.shop, event) for _ in range(2)]
        else:  # the fake page's payment goes by the page's id
            responses = [
                await deliver_fake(self.client, self.shop, "payment.succeeded", self._paid(link))
                for _ in range(2)
            ]
        assert [r.status_code for r in responses] == [200, 200]

    def _paid(self, asked: dict[str, Any]) -> dict[str, Any]:
        metadata = {"tenant_id": self.shop.owner.tenant_id, "invoice_id": self.invoice_id}
        return {
            "payment_id": asked["id"],
            "amount": asked["amount"]["amount"],
            "currency": "USD",
            "metadata": metadata,
        }


@pytest.mark.parametrize("provider", ["fake_payments", "stripe"])
async def test_a_quote_accepted_on_its_page_becomes_an_invoice_paid_online_in_two_parts_then_partly_refunded(
    client, container, database, request, provider
):
    stripe: StripeStandIn | None = request.getfixturevalue("stripe_api") if provider == "stripe" else None
    shop = await open_shop(client, container, provider)
    auth = shop.owner.auth

    # The quote, sent, and accepted by the customer on its public page.
    quote = await ok(
        await client.post(
            "/v1/quotes", json={"customer_id": shop.customer_id, "lines": [BOILER, VALVE]}, headers=auth
        ),
        201,
    )
    conforms(QuoteOut, quote)
    sent = await ok(await client.post(f"/v1/quotes/{quote['id']}/send", headers=auth))
    conforms(SentQuoteOut, sent)
    page = "/q/" + sent["link"].rsplit("/q/", 1)[1]
    assert (await client.get(page)).status_code == 200
    assert (await client.post(f"{page}/accept")).status_code == 303

    # Converted once, issued.
    draft = await ok(await client.post(f"/v1/quotes/{quote['id']}/convert", headers=auth), 201)
    invoice = await ok(await client.post(f"/v1/invoices/{draft['id']}/issue", headers=auth))
    conforms(InvoiceOut, invoice)
    assert (invoice["status"], invoice["amount_due"], invoice["quote_id"]) == (
        "sent",
        usd(TOTAL),
        quote["id"],
    )
    customer = Customer(client, shop, invoice["id"], stripe)

    # A deposit through a payment intent.
    intent = await ok(
        await client.post(
            f"/v1/invoices/{invoice['id']}/payment-intent", json={"amount": usd(DEPOSIT)}, headers=auth
        )
    )
    conforms(PaymentIntentOut, intent)
    await customer.pays_intent(intent)
    await drain(container)
    partly = await invoice_of(client, shop, invoice["id"])
    assert (partly["status"], partly["amount_due"]) == ("partially_paid", usd(TOTAL - DEPOSIT))

    # The rest on the provider's payment page; its event is delivered twice.
    link = await ok(await client.post(f"/v1/invoices/{invoice['id']}/payment-link", json={}, headers=auth))
    conforms(PaymentLinkOut, link)
    assert link["amount"] == usd(TOTAL - DEPOSIT)
    await customer.pays_on_page(link)
    await drain(container)
    paid = await invoice_of(client, shop, invoice["id"])
    assert (paid["status"], paid["amount_paid"], paid["amount_due"]) == ("paid", usd(TOTAL), usd(0))
    assert paid["paid_at"] is not None

    # Part of the deposit goes back, through the provider.
    listed = await ok(await client.get(f"/v1/invoices/{invoice['id']}/payments", headers=auth))
    conforms(PaymentListOut, listed)
    deposit = next(p for p in listed["data"] if p["amount"] == usd(DEPOSIT))
    pending = await ok(
        await client.post(
            f"/v1/invoices/{invoice['id']}/refunds",
            json={"amount": usd(2_000), "payment_id": deposit["id"], "reason": "Parts cheaper than quoted"},
            headers=auth,
        ),
        202,
    )
    conforms(RefundOut, pending)
    await drain(container)
    settled = await ok(
        await client.get(f"/v1/invoices/{invoice['id']}/refunds/{pending['id']}", headers=auth)
    )
    assert settled["status"] == "succeeded"

    final = await invoice_of(client, shop, invoice["id"])
    assert (final["status"], final["amount_paid"], final["amount_refunded"], final["amount_due"]) == (
        "partially_paid",
        usd(TOTAL - 2_000),
        usd(2_000),
        usd(2_000),
    )
    history = (await ok(await client.get(f"/v1/invoices/{invoice['id']}/payments", headers=auth)))["data"]
    assert sorted((p["kind"], p["amount"]["amount"], p["method"]) for p in history) == [
        ("payment", DEPOSIT, "card"),
        ("payment", TOTAL - DEPOSIT, "card"),
        ("refund", 2_000, "card"),
    ]
    assert {p["reference"] for p in history if p["kind"] == "payment"} == {provider}
    assert [
        action
        for action, _, target in audit_trail(
            database,
            shop.tenant_id,
            "invoice.payment_requested",
            "payment.recorded",
            "invoice.status_changed",
            "refund.requested",
            "refund.recorded",
            "refund.succeeded",
        )
    ] == [
        "invoice.payment_requested",
        "invoice.status_changed",  # sent -> partially_paid, as the deposit is recorded
        "payment.recorded",
        "invoice.payment_requested",
        "invoice.status_changed",  # partially_paid -> paid
        "payment.recorded",
        "refund.requested",
        "invoice.status_changed",  # paid -> partially_paid, as the refund is recorded
        "refund.recorded",
        "refund.succeeded",
    ]
