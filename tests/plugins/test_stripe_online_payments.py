"""The Stripe plugin's hosted payment pages (Checkout Sessions), refunds that name Switchboard's
refund, and the payment and refund events it reads into the core's words.

As in test_stripe_plugin.py, nothing of the SDK is mocked: it talks HTTP to the local stand-in,
and events are the stand-in's own, shaped as Stripe sends them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from switchboard import __version__
from switchboard.core.queues.model import PermanentFailure
from switchboard.core.sales.provider_payments import PaymentSucceeded, RefundChanged, RefundStatus
from switchboard.plugins.manager import PluginCatalog, _register, build_plugin_catalog
from switchboard.plugins.stripe import API_BASE_SETTING, PAYMENT_EVENTS, StripePayments, StripePlugin
from switchboard.ports.providers import (
    PaymentIntentRequest,
    PaymentLinkRequest,
    ProviderError,
    ProviderEvent,
    RefundRequest,
)
from tests.fakes.stripe_standin import StripeStandIn

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning")

CONFIG = {
    "secret_key": "sk_test_51OnlinePay0123456789abc",
    "webhook_secret": "whsec_online0123456789abcdefgh",
}
METADATA = {
    "tenant_id": "7d6f0c2e-1111-4c1e-9a55-5b0b8f2f7a10",
    "invoice_id": "0b9f9d1e-2222-4f55-8e1c-3c1d2f8e9a77",
}
LINK = PaymentLinkRequest(
    amount=15_460,
    currency="USD",
    description="Invoice INV-2026-00007 from Hopper Plumbing",
    success_url="https://hopper.example/thanks",
    cancel_url="https://hopper.example/invoice",
    customer_email="grace@example.com",
    metadata=METADATA,
    idempotency_key="invoice-7-link-due-15460-amount-15460-attempt-1",
)


@pytest.fixture
def stripe_api() -> Iterator[StripeStandIn]:
    with StripeStandIn() as standin:
        yield standin


@pytest.fixture
def adapter(monkeypatch: pytest.MonkeyPatch, stripe_api: StripeStandIn) -> StripePayments:
    monkeypatch.setenv(API_BASE_SETTING, stripe_api.api_base)
    catalog: PluginCatalog = build_plugin_catalog(load_entry_points=False)
    if "stripe" not in catalog.specs:
        _register(catalog, StripePlugin(), StripePlugin.name, __version__)
    built = catalog.build("stripe", catalog.validate_config("stripe", CONFIG).values)
    assert isinstance(built, StripePayments)
    return built


def event(stripe_event: dict) -> ProviderEvent:
    """As the webhook verifier hands a Stripe event to the inbox."""
    return ProviderEvent(stripe_event["id"], stripe_event["type"], stripe_event)


def read(stripe_event: dict) -> list:
    return PAYMENT_EVENTS[stripe_event["type"]](event(stripe_event))


# --- payment links ------------------------------------------------------------------------------


async def test_a_payment_link_is_a_checkout_session_for_the_amount_whose_intent_carries_the_metadata(
    adapter, stripe_api
):
    link = await adapter.create_payment_link(LINK)

    sent = stripe_api.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/v1/checkout/sessions")
    assert sent.headers["idempotency-key"] == LINK.idempotency_key
    assert sent.form["mode"] == "payment"
    assert sent.form["line_items[0][price_data][unit_amount]"] == "15460"
    assert sent.form["line_items[0][price_data][currency]"] == "usd"
    assert sent.form["line_items[0][price_data][product_data][name]"] == LINK.description
    assert sent.form["line_items[0][quantity]"] == "1"
    assert (sent.form["success_url"], sent.form["cancel_url"]) == (LINK.success_url, LINK.cancel_url)
    assert sent.form["customer_email"] == "grace@example.com"
    assert sent.nested("payment_intent_data[metadata]") == METADATA
    [session] = stripe_api.checkout_sessions.values()
    assert link.provider_id == session["id"]
    assert link.url == session["url"]
    assert link.url.startswith("https://checkout.stripe.com/")
    assert (link.amount, link.currency) == (15_460, "USD")
    assert link.expires_at == datetime.fromtimestamp(session["expires_at"], UTC)

    paid = stripe_api.complete_checkout(link.provider_id)

    assert read(paid) == [PaymentSucceeded(paid["data"]["object"]["id"], 15_460, "USD", METADATA)]


async def test_the_same_payment_link_request_twice_makes_one_checkout_session(adapter, stripe_api):
    first = await adapter.create_payment_link(LINK)
    again = await adapter.create_payment_link(LINK)

    assert again == first
    assert len(stripe_api.checkout_sessions) == 1


async def test_a_payment_link_stripe_refuses_is_a_provider_error_that_is_not_retried(adapter, stripe_api):
    stripe_api.fail_next(status=400)

    with pytest.raises(ProviderError) as raised:
        await adapter.create_payment_link(LINK)

    assert (raised.value.status, raised.value.retryable) == (400, False)


# --- refunds and the events that tell of them ------------------------------------------------------


async def paid(adapter: StripePayments, stripe_api: StripeStandIn, amount: int = 10_000) -> str:
    intent = await adapter.create_payment_intent(
        PaymentIntentRequest(amount, "EUR", "Boiler service", metadata=METADATA)
    )
    stripe_api.mark_succeeded(intent.provider_id)
    return intent.provider_id


async def test_a_refund_carries_switchboards_refund_in_its_metadata_beside_a_free_text_reason(
    adapter, stripe_api
):
    intent_id = await paid(adapter, stripe_api)
    ours = METADATA | {"refund_id": "5a0c3f7e-3333-4b8e-9f0a-1d2e3f4a5b6c"}

    await adapter.refund(
        RefundRequest(intent_id, 3_000, "Arrived late", idempotency_key="r-1", metadata=ours)
    )

    assert stripe_api.requests[-1].nested("metadata") == ours | {"reason": "Arrived late"}


async def test_a_payment_intent_succeeded_event_reads_as_the_amount_received_and_our_metadata(
    adapter, stripe_api
):
    intent = await adapter.create_payment_intent(
        PaymentIntentRequest(4_200, "EUR", "Deposit", metadata=METADATA)
    )

    succeeded = stripe_api.mark_succeeded(intent.provider_id)

    assert succeeded["type"] == "payment_intent.succeeded"
    assert read(succeeded) == [PaymentSucceeded(intent.provider_id, 4_200, "EUR", METADATA)]


async def test_refund_events_read_as_the_refund_with_its_status_and_metadata(adapter, stripe_api):
    intent_id = await paid(adapter, stripe_api)
    ours = {"refund_id": "5a0c3f7e-3333-4b8e-9f0a-1d2e3f4a5b6c"}
    refund = await adapter.refund(RefundRequest(intent_id, 2_500, idempotency_key="r-2", metadata=ours))

    [created] = stripe_api.events_of("refund.created")
    [charge_refunded] = stripe_api.events_of("charge.refunded")

    assert read(created) == [
        RefundChanged(refund.provider_id, intent_id, 2_500, "EUR", RefundStatus.SUCCEEDED, ours)
    ]
    assert read(charge_refunded) == []  # since 2022-11-15 the charge no longer lists its refunds


async def test_a_refund_stripe_settles_later_reads_pending_then_failed_with_the_reason(adapter, stripe_api):
    intent_id = await paid(adapter, stripe_api)
    stripe_api.refunds_settle_later = True
    refund = await adapter.refund(RefundRequest(intent_id, 2_500, idempotency_key="r-3"))

    [created] = stripe_api.events_of("refund.created")
    updated = stripe_api.settle_refund(refund.provider_id, "failed")
    [failed] = stripe_api.events_of("refund.failed")

    assert refund.status == "pending"
    assert [n.status for n in read(created)] == [RefundStatus.PENDING]
    [notice] = read(updated)
    assert notice.status is RefundStatus.FAILED
    assert notice.failure_reason == "Stripe: expired_or_canceled_card"
    assert read(failed) == [notice]


def test_a_charge_refunded_event_of_an_older_api_version_reads_each_refund_it_lists():
    charge_refunded = {
        "id": "evt_1Old",
        "object": "event",
        "api_version": "2020-08-27",
        "type": "charge.refunded",
        "data": {
            "object": {
                "id": "ch_1Old",
                "object": "charge",
                "payment_intent": "pi_1Old",
                "refunds": {
                    "object": "list",
                    "data": [
                        {
                            "id": "re_1",
                            "amount": 100,
                            "currency": "gbp",
                            "status": "succeeded",
                            "metadata": {},
                        },
                        {"id": "re_2", "amount": 50, "currency": "gbp", "status": "pending", "metadata": {}},
                    ],
                },
            }
        },
    }

    assert read(charge_refunded) == [
        RefundChanged("re_1", "pi_1Old", 100, "GBP", RefundStatus.SUCCEEDED, {}),
        RefundChanged("re_2", "pi_1Old", 50, "GBP", RefundStatus.PENDING, {}),
    ]


@pytest.mark.parametrize(
    "stripe_event",
    [
        {"id": "evt_1", "type": "payment_intent.succeeded", "data": {}},
        {
            "id": "evt_2",
            "type": "payment_intent.succeeded",
            "data": {"object": {"id": "pi_1", "currency": "usd"}},
        },
        {
            "id": "evt_3",
            "type": "refund.updated",
            "data": {"object": {"id": "re_1", "amount": 5, "currency": "usd"}},
        },
    ],
    ids=["no object", "no amount received", "refund of no payment intent"],
)
def test_a_malformed_payment_event_can_never_apply_and_fails_for_good(stripe_event):
    with pytest.raises(PermanentFailure):
        read(stripe_event)
