"""The built-in Stripe plugin: its configuration, payment intents and refunds through the official
SDK, the errors it raises, and Stripe's webhook signatures.

Nothing of the SDK is mocked: ``stripe.StripeClient`` talks HTTP to a local stand-in
(``tests/fakes/stripe_standin.py``) that answers like Stripe and records what it was sent, and
webhooks are signed with the SDK's own ``WebhookSignature.generate_signature_header``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pluggy
import pytest
import stripe

from switchboard import __version__
from switchboard.core.errors import InvalidInput
from switchboard.plugins import hookspecs
from switchboard.plugins.manager import PluginCatalog, _register, build_plugin_catalog
from switchboard.plugins.stripe import (
    API_BASE_SETTING,
    PaymentDeclined,
    ProviderError,
    StripePayments,
    StripePlugin,
)
from switchboard.ports.providers import (
    Capability,
    IncomingWebhook,
    PaymentIntent,
    PaymentIntentRequest,
    Refund,
    RefundRequest,
    WebhookRejected,
)
from tests.fakes.stripe_standin import StripeStandIn

# stripe 16.1's HTTPXClient hands its encoded form body to httpx as data=, which httpx 0.28
# deprecates in favour of content=: the SDK's business, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning")

SECRET_KEY = "sk_test_51TenantA0123456789abcdef"
OTHER_SECRET_KEY = "rk_live_51TenantB0123456789abcdef"
WEBHOOK_SECRET = "whsec_tenantA0123456789abcdefghij"
CONFIG = {"secret_key": SECRET_KEY, "webhook_secret": WEBHOOK_SECRET}
WEBHOOK_URL = "https://switchboard.example/v1/webhooks/stripe/6f1c1b9e-6c39-4bde-9d1e-2b2f0c1d2e3f"

BOILER_SERVICE = PaymentIntentRequest(
    amount=12_950,
    currency="USD",
    description="Boiler service, 14 Elm Street",
    metadata={"invoice_id": "inv_0042", "tenant": "acme-plumbing"},
    idempotency_key="invoice-0042-payment",
)


@pytest.fixture
def stripe_api() -> Iterator[StripeStandIn]:
    with StripeStandIn() as standin:
        yield standin


def catalog_with_stripe(monkeypatch: pytest.MonkeyPatch, api_base: str) -> PluginCatalog:
    """The built-in catalog, as the server builds it, with the operator's stand-in setting.

    Until StripePlugin is listed in BUILTIN_PLUGINS it is registered here the way the catalog
    registers a built-in plugin.
    """
    monkeypatch.setenv(API_BASE_SETTING, api_base)
    catalog = build_plugin_catalog(load_entry_points=False)
    if "stripe" not in catalog.specs:
        _register(catalog, StripePlugin(), StripePlugin.name, __version__)
    return catalog


@pytest.fixture
def catalog(monkeypatch: pytest.MonkeyPatch, stripe_api: StripeStandIn) -> PluginCatalog:
    return catalog_with_stripe(monkeypatch, stripe_api.api_base)


def payments(catalog: PluginCatalog, config: dict[str, str] = CONFIG) -> StripePayments:
    """What the provider registry does for each use: validate, store, build from what is stored."""
    stored = catalog.validate_config("stripe", config).values
    adapter = catalog.build("stripe", stored)
    assert isinstance(adapter, StripePayments)
    return adapter


async def paid_intent(catalog: PluginCatalog, stripe_api: StripeStandIn, amount: int = 12_950) -> str:
    """A payment intent the customer has paid, ready to be refunded."""
    request = PaymentIntentRequest(amount=amount, currency="EUR", description="Drain unblocking")
    intent = await payments(catalog).create_payment_intent(request)
    stripe_api.mark_succeeded(intent.provider_id)
    return intent.provider_id


# --- the plugin and its configuration ----------------------------------------------------------


def test_the_plugin_offers_one_payments_provider_with_two_secrets_and_a_webhook_verifier(catalog):
    stripe_plugin = next(p for p in catalog.plugins if p.name == "stripe")

    assert stripe_plugin.error is None
    assert [spec.slug for spec in stripe_plugin.providers] == ["stripe"]
    spec = catalog.specs["stripe"]
    assert spec.capability is Capability.PAYMENTS
    assert spec.secret_fields == {"secret_key", "webhook_secret"}
    assert spec.verify_webhook is not None
    description = catalog.describe("stripe")
    assert description is not None
    assert (description.name, description.plugin) == ("Stripe", "stripe")


def test_a_good_configuration_is_accepted_and_its_secrets_are_kept_whole(catalog):
    validated = catalog.validate_config("stripe", dict(CONFIG))

    assert validated.values == CONFIG
    assert validated.secret_fields == {"secret_key", "webhook_secret"}


def test_a_restricted_key_is_accepted_as_well_as_a_secret_key(catalog):
    validated = catalog.validate_config("stripe", CONFIG | {"secret_key": OTHER_SECRET_KEY})

    assert validated.values["secret_key"] == OTHER_SECRET_KEY


@pytest.mark.parametrize(
    ("config", "fields"),
    [
        ({}, {"config.secret_key", "config.webhook_secret"}),
        (CONFIG | {"secret_key": "pk_test_51TenantA0123456789abcdef"}, {"config.secret_key"}),
        (CONFIG | {"secret_key": "0123456789abcdef0123"}, {"config.secret_key"}),
        (CONFIG | {"webhook_secret": "0123456789abcdef0123"}, {"config.webhook_secret"}),
        (CONFIG | {"api_base": "http://169.254.169.254"}, {"config.api_base"}),
        (CONFIG | {"colour": "red"}, {"config.colour"}),
    ],
    ids=[
        "missing fields",
        "publishable key",
        "not a stripe key",
        "not a signing secret",
        "a tenant choosing where requests go",
        "unknown field",
    ],
)
def test_a_bad_configuration_is_refused_field_by_field_without_echoing_the_secret(catalog, config, fields):
    with pytest.raises(InvalidInput) as raised:
        catalog.validate_config("stripe", config)

    assert {error.field for error in raised.value.errors} == fields
    assert "51TenantA" not in str(raised.value)


def test_the_operator_points_every_tenant_at_a_stand_in_through_the_environment(monkeypatch):
    monkeypatch.setenv(API_BASE_SETTING, "http://127.0.0.1:12111/")
    assert StripePlugin().api_base == "http://127.0.0.1:12111"
    assert StripePlugin(api_base="http://127.0.0.1:9").api_base == "http://127.0.0.1:9"

    monkeypatch.delenv(API_BASE_SETTING)
    assert StripePlugin().api_base is None  # Stripe's own API


# --- payment intents ---------------------------------------------------------------------------


async def test_creating_a_payment_intent_sends_stripes_form_fields_the_secret_key_and_the_idempotency_key(
    catalog, stripe_api
):
    intent = await payments(catalog).create_payment_intent(BOILER_SERVICE)

    [sent] = stripe_api.requests
    assert (sent.method, sent.path) == ("POST", "/v1/payment_intents")
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert sent.headers["authorization"] == f"Bearer {SECRET_KEY}"
    assert sent.headers["idempotency-key"] == "invoice-0042-payment"
    assert sent.form == {
        "amount": "12950",
        "currency": "usd",
        "description": "Boiler service, 14 Elm Street",
        "metadata[invoice_id]": "inv_0042",
        "metadata[tenant]": "acme-plumbing",
    }
    [created] = stripe_api.payment_intents.values()
    assert intent == PaymentIntent(
        provider_id=created["id"],
        amount=12_950,
        currency="USD",
        status="requires_payment_method",
        client_secret=created["client_secret"],
    )
    assert intent.provider_id.startswith("pi_")


async def test_the_same_idempotency_key_twice_creates_one_payment_intent_and_answers_the_same(
    catalog, stripe_api
):
    first = await payments(catalog).create_payment_intent(BOILER_SERVICE)
    retried = await payments(catalog).create_payment_intent(BOILER_SERVICE)

    assert retried == first
    assert len(stripe_api.requests) == 2
    assert stripe_api.objects_created == 1


async def test_two_requests_without_idempotency_keys_create_two_payment_intents(catalog, stripe_api):
    request = PaymentIntentRequest(amount=5_000, currency="GBP", description="Call-out fee")

    first = await payments(catalog).create_payment_intent(request)
    second = await payments(catalog).create_payment_intent(request)

    assert first.provider_id != second.provider_id
    assert first.currency == second.currency == "GBP"
    assert stripe_api.objects_created == 2


async def test_reusing_an_idempotency_key_for_another_amount_is_refused_and_not_retryable(
    catalog, stripe_api
):
    await payments(catalog).create_payment_intent(BOILER_SERVICE)
    other = PaymentIntentRequest(99, "USD", "Something else", idempotency_key=BOILER_SERVICE.idempotency_key)

    with pytest.raises(ProviderError) as raised:
        await payments(catalog).create_payment_intent(other)

    assert (raised.value.status, raised.value.retryable) == (400, False)
    assert stripe_api.objects_created == 1


async def test_each_tenants_adapter_sends_its_own_secret_key(monkeypatch):
    with StripeStandIn(accepted_keys={SECRET_KEY, OTHER_SECRET_KEY}) as stripe_api:
        catalog = catalog_with_stripe(monkeypatch, stripe_api.api_base)
        first = payments(catalog)
        second = payments(catalog, {"secret_key": OTHER_SECRET_KEY, "webhook_secret": WEBHOOK_SECRET})

        await first.create_payment_intent(BOILER_SERVICE)
        await second.create_payment_intent(BOILER_SERVICE)  # the same key, another Stripe account
        await first.create_payment_intent(BOILER_SERVICE)

        assert [r.api_key for r in stripe_api.requests] == [SECRET_KEY, OTHER_SECRET_KEY, SECRET_KEY]
        assert stripe_api.objects_created == 2  # idempotency keys belong to one Stripe account
    assert stripe.api_key is None  # nothing was set process-wide


async def test_a_payment_intent_in_flight_leaves_the_event_loop_free(monkeypatch):
    with StripeStandIn(delay=0.3) as slow_stripe:
        adapter = payments(catalog_with_stripe(monkeypatch, slow_stripe.api_base))
        ticks = 0

        async def tick_until(done: asyncio.Future[Any]) -> None:
            nonlocal ticks
            while not done.done():
                ticks += 1
                await asyncio.sleep(0.01)

        call = asyncio.ensure_future(adapter.create_payment_intent(BOILER_SERVICE))
        await asyncio.gather(call, tick_until(call))

    assert call.result().amount == BOILER_SERVICE.amount
    assert ticks >= 10, f"the event loop ran only {ticks} times during a 0.3 s call"


# --- refunds -----------------------------------------------------------------------------------


async def test_a_refund_without_an_amount_refunds_the_whole_payment(catalog, stripe_api):
    payment_id = await paid_intent(catalog, stripe_api)

    refund = await payments(catalog).refund(RefundRequest(payment_id, idempotency_key="refund-1"))

    sent = stripe_api.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/v1/refunds")
    assert sent.form == {"payment_intent": payment_id}
    assert sent.headers["idempotency-key"] == "refund-1"
    [created] = stripe_api.refunds.values()
    assert refund == Refund(created["id"], payment_id, 12_950, "EUR", "succeeded")
    assert refund.provider_id.startswith("re_")


async def test_a_partial_refund_sends_its_amount_and_a_second_one_can_refund_the_rest(catalog, stripe_api):
    payment_id = await paid_intent(catalog, stripe_api)

    part = await payments(catalog).refund(RefundRequest(payment_id, amount=2_950, idempotency_key="r-1"))
    rest = await payments(catalog).refund(RefundRequest(payment_id, idempotency_key="r-2"))

    assert stripe_api.requests[-2].form == {"payment_intent": payment_id, "amount": "2950"}
    assert (part.amount, rest.amount) == (2_950, 10_000)
    assert part.provider_id != rest.provider_id
    with pytest.raises(ProviderError) as raised:
        await payments(catalog).refund(RefundRequest(payment_id, amount=1, idempotency_key="r-3"))
    assert (raised.value.status, raised.value.code, raised.value.retryable) == (
        400,
        "charge_already_refunded",
        False,
    )


async def test_the_same_refund_retried_with_its_idempotency_key_refunds_once(catalog, stripe_api):
    payment_id = await paid_intent(catalog, stripe_api)
    request = RefundRequest(payment_id, amount=1_000, idempotency_key="refund-once")

    first = await payments(catalog).refund(request)
    retried = await payments(catalog).refund(request)

    assert retried == first
    assert len(stripe_api.refunds) == 1


async def test_a_reason_stripe_knows_is_sent_as_the_reason_and_any_other_is_kept_in_metadata(
    catalog, stripe_api
):
    payment_id = await paid_intent(catalog, stripe_api, amount=2_000)

    await payments(catalog).refund(RefundRequest(payment_id, 500, "requested_by_customer"))
    await payments(catalog).refund(RefundRequest(payment_id, 500, "Technician arrived two hours late"))

    known, other = stripe_api.requests[-2:]
    assert known.form["reason"] == "requested_by_customer"
    assert "reason" not in other.form
    assert other.nested("metadata") == {"reason": "Technician arrived two hours late"}


async def test_refunding_a_payment_the_customer_has_not_paid_is_refused_and_not_retryable(
    catalog, stripe_api
):
    unpaid = await payments(catalog).create_payment_intent(BOILER_SERVICE)

    with pytest.raises(ProviderError) as raised:
        await payments(catalog).refund(RefundRequest(unpaid.provider_id))

    assert (raised.value.status, raised.value.retryable) == (400, False)
    assert not stripe_api.refunds


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503, 429, 409])
async def test_a_server_error_rate_limit_or_lock_from_stripe_is_a_retryable_provider_error(
    catalog, stripe_api, status
):
    stripe_api.fail_next(status=status)

    with pytest.raises(ProviderError) as raised:
        await payments(catalog).create_payment_intent(BOILER_SERVICE)

    error = raised.value
    assert not isinstance(error, PaymentDeclined)
    assert (error.status, error.retryable) == (status, True)
    assert (error.details["request_id"] or "").startswith("req_")
    assert len(stripe_api.requests) == 1  # the SDK does not retry behind the outbox's back
    assert stripe_api.objects_created == 0


async def test_a_retry_after_a_server_error_with_the_same_idempotency_key_creates_one_payment_intent(
    catalog, stripe_api
):
    stripe_api.fail_next(status=500)
    with pytest.raises(ProviderError):
        await payments(catalog).create_payment_intent(BOILER_SERVICE)

    first = await payments(catalog).create_payment_intent(BOILER_SERVICE)
    again = await payments(catalog).create_payment_intent(BOILER_SERVICE)

    assert first == again
    assert stripe_api.objects_created == 1


async def test_a_declined_card_is_a_payment_declined_error_that_is_not_retryable(catalog, stripe_api):
    stripe_api.fail_next(status=402)

    with pytest.raises(PaymentDeclined) as raised:
        await payments(catalog).create_payment_intent(BOILER_SERVICE)

    error = raised.value
    assert (error.status, error.retryable) == (402, False)
    assert (error.code, error.decline_code) == ("card_declined", "generic_decline")
    assert str(error) == "Your card was declined."


async def test_stripes_should_retry_header_overrides_the_status(catalog, stripe_api):
    stripe_api.fail_next(status=500, should_retry=False)
    stripe_api.fail_next(status=409, should_retry=False)
    stripe_api.fail_next(status=400, should_retry=True)

    outcomes = []
    for _ in range(3):
        with pytest.raises(ProviderError) as raised:
            await payments(catalog).create_payment_intent(BOILER_SERVICE)
        outcomes.append((raised.value.status, raised.value.retryable))

    assert outcomes == [(500, False), (409, False), (400, True)]


async def test_a_secret_key_stripe_does_not_know_is_not_retryable_and_never_shows_the_key(monkeypatch):
    with StripeStandIn(accepted_keys={OTHER_SECRET_KEY}) as stripe_api:
        adapter = payments(catalog_with_stripe(monkeypatch, stripe_api.api_base))

        with pytest.raises(ProviderError) as raised:
            await adapter.create_payment_intent(BOILER_SERVICE)

    assert (raised.value.status, raised.value.retryable) == (401, False)
    assert SECRET_KEY not in str(raised.value)


async def test_an_unreachable_stripe_is_a_retryable_provider_error(monkeypatch):
    with StripeStandIn() as gone:
        api_base = gone.api_base  # its port is closed once the block ends
    adapter = payments(catalog_with_stripe(monkeypatch, api_base))

    with pytest.raises(ProviderError) as raised:
        await adapter.create_payment_intent(BOILER_SERVICE)

    assert raised.value.retryable is True
    assert raised.value.status is None


# --- webhooks ----------------------------------------------------------------------------------

EVENT = {
    "id": "evt_3PqRsT2eZvKYlo2C0a1b2c3d",
    "object": "event",
    "api_version": "2025-09-30.clover",
    "created": 1_760_000_000,
    "data": {
        "object": {
            "id": "pi_3PqRsT2eZvKYlo2C1x2y3z4w",
            "object": "payment_intent",
            "amount": 12_950,
            "amount_received": 12_950,
            "currency": "usd",
            "metadata": {"invoice_id": "inv_0042"},
            "payment_method_types": ["card"],
            "status": "succeeded",
        }
    },
    "livemode": False,
    "pending_webhooks": 1,
    "request": {"id": None, "idempotency_key": "invoice-0042-payment"},
    "type": "payment_intent.succeeded",
}


def signed_by_stripe(
    event: dict[str, Any] = EVENT, secret: str = WEBHOOK_SECRET, timestamp: int | None = None
) -> IncomingWebhook:
    """The call Stripe makes, signed with the SDK's own helper."""
    body = json.dumps(event, separators=(",", ":"))
    signature = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=timestamp)
    headers = {"content-type": "application/json; charset=utf-8", "stripe-signature": signature}
    return IncomingWebhook(headers=headers, body=body.encode(), url=WEBHOOK_URL)


def test_a_webhook_signed_as_stripe_signs_it_is_verified_into_one_event(catalog):
    [event] = catalog.verify_webhook("stripe", dict(CONFIG), signed_by_stripe())

    assert event.event_id == "evt_3PqRsT2eZvKYlo2C0a1b2c3d"
    assert event.type == "payment_intent.succeeded"
    assert event.data == EVENT
    assert json.loads(json.dumps(event.data)) == EVENT  # plain JSON, as the inbox stores it
    assert event.occurred_at == datetime.fromtimestamp(1_760_000_000, UTC)


def test_a_webhook_signed_just_inside_the_five_minute_tolerance_is_accepted(catalog):
    incoming = signed_by_stripe(timestamp=int(time.time()) - 280)

    assert [e.event_id for e in catalog.verify_webhook("stripe", dict(CONFIG), incoming)] == [EVENT["id"]]


def tampered(incoming: IncomingWebhook) -> IncomingWebhook:
    body = incoming.body.replace(b'"amount":12950', b'"amount":1')
    assert body != incoming.body
    return IncomingWebhook(incoming.headers, body, incoming.url)


def without_signature(incoming: IncomingWebhook) -> IncomingWebhook:
    headers = {k: v for k, v in incoming.headers.items() if k != "stripe-signature"}
    return IncomingWebhook(headers, incoming.body, incoming.url)


def with_signature(value: str) -> Any:
    def change(incoming: IncomingWebhook) -> IncomingWebhook:
        return IncomingWebhook(incoming.headers | {"stripe-signature": value}, incoming.body, incoming.url)

    return change


def signed_body(body: bytes) -> IncomingWebhook:
    signature = stripe.WebhookSignature.generate_signature_header(body.decode(), WEBHOOK_SECRET)
    return IncomingWebhook({"stripe-signature": signature}, body, WEBHOOK_URL)


@pytest.mark.parametrize(
    "incoming",
    [
        signed_by_stripe(secret="whsec_anotherEndpoint0123456789ab"),
        tampered(signed_by_stripe()),
        signed_by_stripe(timestamp=int(time.time()) - 301),
        without_signature(signed_by_stripe()),
        with_signature("")(signed_by_stripe()),
        with_signature("t=not-a-time,v1=00")(signed_by_stripe()),
        with_signature("t=1760000000,v0=abc")(signed_by_stripe()),
        signed_body(b"this is not json"),
        signed_body(b'{"object":"v2.core.event","id":"evt_thin","type":"v1.billing.meter.error"}'),
        signed_body(b'[{"id":"evt_1","type":"payment_intent.succeeded"}]'),
        signed_body(b'{"object":"event","data":{}}'),
    ],
    ids=[
        "wrong secret",
        "tampered body",
        "stale timestamp",
        "missing header",
        "empty header",
        "garbled header",
        "no v1 signature",
        "signed but not JSON",
        "signed thin event",
        "signed list",
        "signed event without id or type",
    ],
)
def test_a_webhook_that_is_not_provably_from_stripe_and_fresh_is_rejected(catalog, incoming):
    with pytest.raises(WebhookRejected):
        catalog.verify_webhook("stripe", dict(CONFIG), incoming)


def test_a_webhook_signed_for_one_tenant_is_rejected_with_another_tenants_secret(catalog):
    other_tenant = CONFIG | {"webhook_secret": "whsec_tenantB0123456789abcdefghij"}

    with pytest.raises(WebhookRejected, match="signature"):
        catalog.verify_webhook("stripe", other_tenant, signed_by_stripe())


def test_a_stale_webhook_is_rejected_as_stale(catalog):
    with pytest.raises(WebhookRejected, match="stale"):
        catalog.verify_webhook("stripe", dict(CONFIG), signed_by_stripe(timestamp=int(time.time()) - 600))


def test_the_plugin_registers_on_its_own_in_a_fresh_plugin_manager():
    """The helper above registers StripePlugin the way build_plugin_catalog registers built-ins."""
    manager = pluggy.PluginManager("switchboard")
    manager.add_hookspecs(hookspecs)
    catalog = PluginCatalog(manager)

    _register(catalog, StripePlugin(api_base="http://127.0.0.1:9"), StripePlugin.name, __version__)

    assert [(p.name, p.version, p.error) for p in catalog.plugins] == [("stripe", __version__, None)]
