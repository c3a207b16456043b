"""The built-in Stripe plugin: payments (payment intents, hosted payment pages, refunds) and
Stripe's webhooks.

One provider, slug ``stripe``, capability ``payments``. A tenant's configuration is its Stripe
secret key (``sk_...``, or a restricted ``rk_...`` key) and the signing secret of its webhook
endpoint (``whsec_...``); both are secrets. Where requests go is not the tenant's to choose: it
is Stripe's API, or the operator's stand-in named by ``SWITCHBOARD_STRIPE_API_BASE`` (tests,
local development).

Calls go through the official SDK, ``stripe.StripeClient``, with its async methods
(``client.v1.payment_intents.create_async``, ``client.v1.checkout.sessions.create_async``,
``client.v1.refunds.create_async``) over its httpx client, so nothing blocks the event loop.
Each call gets a client of its own, built from the adapter's configuration and closed
afterwards: no module-level key (``stripe.api_key`` is never set), nothing shared between
tenants, no connection left open by an adapter that is dropped.
The SDK does not retry (``max_network_retries=0``): retrying is the outbox worker's job, and
the request's ``idempotency_key`` is sent as Stripe's ``Idempotency-Key``, so a retried call
replays Stripe's first answer instead of charging or refunding twice.

Errors. Every failure of a call is raised as ``ProviderError``, whose ``retryable`` says whether
the same call (same idempotency key) may succeed later:

- retryable: the network failed or timed out; Stripe answered 429 (rate limited), 409 (a lock
  or a concurrent request with the same key) or 5xx. A ``Stripe-Should-Retry`` header, when
  Stripe sends one, overrides the status either way.
- not retryable: any other 4xx. ``PaymentDeclined`` (a ``ProviderError``) is a card error, 402,
  with Stripe's ``code`` and ``decline_code``; a wrong key (401), a missing permission (403), a
  refused parameter (400, ``param`` names it), a reused idempotency key with other parameters
  (400 ``idempotency_error``) and an unknown object (404) are plain ``ProviderError``s.

The message of a ``ProviderError`` is Stripe's own (Stripe masks API keys in what it says).

A payment link is a Checkout Session (mode ``payment``, one line for the amount): the customer
pays on Stripe's page, and the payment intent it makes carries the request's metadata, so its
``payment_intent.succeeded`` event names the invoice like a payment intent made directly.

Webhooks are verified with the SDK's own ``stripe.Webhook.construct_event`` (HMAC-SHA256 of
``<timestamp>.<body>`` with the endpoint's secret, in the ``Stripe-Signature`` header), with a
tolerance of 300 seconds on the timestamp. ``PAYMENT_EVENTS`` reads the events that tell of
payments and refunds into the core's words: ``payment_intent.succeeded`` (``amount_received``);
``refund.created``, ``refund.updated`` and ``refund.failed`` (sent for every refund since API
version 2024-10-28.acacia); and ``charge.refunded``, whose charge lists its refunds only on API
versions before 2022-11-15 (newer ones send the refund events instead).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import stripe
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from switchboard.core.integrations.model import Capability
from switchboard.core.queues.model import PermanentFailure
from switchboard.core.sales.provider_payments import (
    PaymentNotice,
    PaymentSucceeded,
    RefundChanged,
    provider_id,
    refund_status,
)
from switchboard.plugins import ProviderSpec, hookimpl
from switchboard.plugins.spec import operator_api_base
from switchboard.ports.providers import (
    IncomingWebhook,
    PaymentIntent,
    PaymentIntentRequest,
    PaymentLink,
    PaymentLinkRequest,
    ProviderError,
    ProviderEvent,
    Refund,
    RefundRequest,
    WebhookRejected,
)

if TYPE_CHECKING:
    from stripe.params import PaymentIntentCreateParams, RefundCreateParams
    from stripe.params.checkout import SessionCreateParams

__all__ = [
    "API_BASE_SETTING",
    "PAYMENT_EVENTS",
    "PaymentDeclined",
    "ProviderError",
    "StripeConfig",
    "StripePayments",
    "StripePlugin",
    "verify_stripe_webhook",
]

API_BASE_SETTING = "SWITCHBOARD_STRIPE_API_BASE"  # the operator's stand-in, never a tenant's
WEBHOOK_TOLERANCE_SECONDS = 300
TIMEOUT_SECONDS = 30.0
SIGNATURE_HEADER = "stripe-signature"
REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})


class PaymentDeclined(ProviderError):
    """The card was declined (Stripe's ``card_error``, 402): never retryable as it stands."""

    def __init__(self, message: str, *, decline_code: str | None = None, **details: Any) -> None:
        super().__init__(message, retryable=False, **details)
        self.decline_code = decline_code


class StripeConfig(BaseModel):
    """One tenant's Stripe account. There is deliberately no base URL here: see API_BASE_SETTING."""

    model_config = ConfigDict(extra="forbid")

    secret_key: SecretStr = Field(min_length=8, max_length=255)
    webhook_secret: SecretStr = Field(min_length=8, max_length=255)

    @field_validator("secret_key")
    @classmethod
    def _a_secret_or_restricted_key(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("sk_", "rk_")):
            raise ValueError(
                "must be a secret key (sk_...) or a restricted key (rk_...), not a publishable one"
            )
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _a_signing_secret(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith("whsec_"):
            raise ValueError("must be the webhook endpoint's signing secret (whsec_...)")
        return value


class StripePayments:
    """The PaymentsPort for one tenant's Stripe account."""

    def __init__(self, config: StripeConfig, api_base: str | None = None) -> None:
        self._config = config
        self._api_base = api_base

    async def create_payment_intent(self, request: PaymentIntentRequest) -> PaymentIntent:
        params: PaymentIntentCreateParams = {"amount": request.amount, "currency": request.currency.lower()}
        if request.description:
            params["description"] = request.description
        if request.metadata:
            params["metadata"] = dict(request.metadata)
        async with self._client() as client:
            intent = await client.v1.payment_intents.create_async(params, _options(request.idempotency_key))
        return PaymentIntent(
            provider_id=intent.id,
            amount=intent.amount,
            currency=intent.currency.upper(),
            status=intent.status,
            client_secret=intent.client_secret,
        )

    async def create_payment_link(self, request: PaymentLinkRequest) -> PaymentLink:
        """A Checkout Session for the amount, as one line named by the description."""
        params: SessionCreateParams = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": request.currency.lower(),
                        "unit_amount": request.amount,
                        "product_data": {"name": request.description[:250] or "Payment"},
                    },
                }
            ],
            "success_url": request.success_url,
            "payment_intent_data": {"metadata": dict(request.metadata)},
        }
        if request.description:
            params["payment_intent_data"]["description"] = request.description
        if request.metadata:
            params["metadata"] = dict(request.metadata)
        if request.cancel_url:
            params["cancel_url"] = request.cancel_url
        if request.customer_email:
            params["customer_email"] = request.customer_email
        async with self._client() as client:
            session = await client.v1.checkout.sessions.create_async(
                params, _options(request.idempotency_key)
            )
        expires_at = session.expires_at
        return PaymentLink(
            provider_id=session.id,
            url=session.url or "",
            amount=session.amount_total if session.amount_total is not None else request.amount,
            currency=(session.currency or request.currency).upper(),
            expires_at=datetime.fromtimestamp(expires_at, UTC) if isinstance(expires_at, int) else None,
        )

    async def refund(self, request: RefundRequest) -> Refund:
        params: RefundCreateParams = {"payment_intent": request.payment_id}
        if request.amount is not None:
            params["amount"] = request.amount
        metadata = {key: value[:500] for key, value in request.metadata.items()}  # Stripe's limit
        if request.reason in REFUND_REASONS:
            params["reason"] = request.reason
        elif request.reason:
            metadata["reason"] = request.reason[:500]
        if metadata:
            params["metadata"] = metadata
        async with self._client() as client:
            refund = await client.v1.refunds.create_async(params, _options(request.idempotency_key))
        payment_intent = refund.payment_intent
        return Refund(
            provider_id=refund.id,
            payment_id=payment_intent if isinstance(payment_intent, str) else request.payment_id,
            amount=refund.amount,
            currency=refund.currency.upper(),
            status=refund.status or "pending",
        )

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[stripe.StripeClient]:
        """A client for one call, with this adapter's key; Stripe's errors become ProviderErrors."""
        # Building the httpx client reads the SDK's CA bundle from disk: off the event loop.
        http_client = await asyncio.to_thread(stripe.HTTPXClient, timeout=TIMEOUT_SECONDS)
        try:
            yield stripe.StripeClient(
                self._config.secret_key.get_secret_value(),
                base_addresses={"api": self._api_base} if self._api_base else None,
                max_network_retries=0,
                http_client=http_client,
            )
        except stripe.StripeError as error:
            raise _translated(error) from error
        finally:
            await http_client.close_async()  # type: ignore[no-untyped-call]  # untyped in the SDK


def _options(idempotency_key: str | None) -> stripe.RequestOptions:
    return {"idempotency_key": idempotency_key} if idempotency_key else {}


def _translated(error: stripe.StripeError) -> ProviderError:
    """Stripe's exception as ours; see the module's docstring for what is retryable."""
    details: dict[str, Any] = {
        "status": error.http_status,
        "code": error.code,
        "param": getattr(error, "param", None),
        "request_id": error.request_id,
    }
    message = error.user_message or type(error).__name__
    if isinstance(error, stripe.CardError):
        decline_code = error.error.decline_code if error.error is not None else None
        return PaymentDeclined(message, decline_code=decline_code, **details)
    status = error.http_status
    advice = (error.headers or {}).get("stripe-should-retry")
    if advice in ("true", "false"):
        retryable = advice == "true"
    elif isinstance(error, stripe.APIConnectionError) or status is None:
        retryable = True  # never reached Stripe, or no answer: try again with the same key
    else:
        retryable = status in (409, 429) or status >= 500
    return ProviderError(message, retryable=retryable, **details)


def verify_stripe_webhook(config: StripeConfig, incoming: IncomingWebhook) -> list[ProviderEvent]:
    """Stripe's signature checked by the SDK; raises WebhookRejected when it does not hold."""
    signature = incoming.headers.get(SIGNATURE_HEADER)
    if not signature:
        raise WebhookRejected("missing Stripe-Signature header")
    try:
        event = stripe.Webhook.construct_event(
            incoming.body,
            signature,
            config.webhook_secret.get_secret_value(),
            tolerance=WEBHOOK_TOLERANCE_SECONDS,
        )
    except stripe.SignatureVerificationError as error:
        reason = "stale timestamp" if "tolerance" in str(error) else "bad signature"
        raise WebhookRejected(f"Stripe-Signature: {reason}") from error
    except (ValueError, TypeError, AttributeError) as error:
        # Signed, but not UTF-8, not JSON, not a JSON object (the SDK trips over a list with an
        # AttributeError) or not a snapshot event.
        raise WebhookRejected("malformed Stripe event") from error
    # A StripeObject is not a dict (16.x refuses .get on it): read the event as plain JSON data.
    data = event.to_dict(for_json=True) if isinstance(event, stripe.StripeObject) else {}
    event_id, event_type, created = data.get("id"), data.get("type"), data.get("created")
    if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str) or not event_type:
        raise WebhookRejected("malformed Stripe event")
    return [
        ProviderEvent(
            event_id=event_id,
            type=event_type,
            data=data,
            occurred_at=datetime.fromtimestamp(created, UTC) if isinstance(created, int) else None,
        )
    ]


# --- Stripe's events about payments and refunds, in the core's words -----------------------------


def _object(event: ProviderEvent) -> dict[str, Any]:
    """The object a snapshot event is about (``data.object``)."""
    inner = event.data.get("data")
    found = inner.get("object") if isinstance(inner, dict) else None
    if not isinstance(found, dict):
        raise PermanentFailure(f"Stripe event {event.event_id} carries no object")
    return found


def _metadata(source: dict[str, Any]) -> dict[str, str]:
    metadata = source.get("metadata")
    if not isinstance(metadata, dict):
        return {}
    return {str(key): value for key, value in metadata.items() if isinstance(value, str)}


def _amount(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _id_of(value: Any) -> str | None:
    """An id, or the id of an expanded object."""
    return provider_id(value.get("id") if isinstance(value, dict) else value)


def read_payment_succeeded(event: ProviderEvent) -> list[PaymentNotice]:
    """``payment_intent.succeeded``: what the intent received, and the metadata we gave it."""
    intent = _object(event)
    intent_id, amount, currency = (
        provider_id(intent.get("id")),
        _amount(intent.get("amount_received")),
        (intent.get("currency")),
    )
    if intent_id is None or amount is None or not isinstance(currency, str):
        raise PermanentFailure(
            f"Stripe event {event.event_id}: a payment intent without id, amount or currency"
        )
    return [PaymentSucceeded(intent_id, amount, currency.upper(), _metadata(intent))]


def _refund_notice(refund: dict[str, Any], payment_intent: Any, event_id: str) -> RefundChanged:
    refund_id, intent_id = (
        provider_id(refund.get("id")),
        _id_of(refund.get("payment_intent") or payment_intent),
    )
    amount, currency = _amount(refund.get("amount")), refund.get("currency")
    if refund_id is None or intent_id is None or amount is None or not isinstance(currency, str):
        raise PermanentFailure(
            f"Stripe event {event_id}: a refund without id, payment intent, amount or currency"
        )
    status = refund_status(refund.get("status"))
    failure = refund.get("failure_reason")
    return RefundChanged(
        refund_id,
        intent_id,
        amount,
        currency.upper(),
        status,
        _metadata(refund),
        failure_reason=f"Stripe: {failure}" if isinstance(failure, str) else None,
    )


def read_refund(event: ProviderEvent) -> list[PaymentNotice]:
    """``refund.created``, ``refund.updated``, ``refund.failed``: one refund as it stands."""
    return [_refund_notice(_object(event), None, event.event_id)]


def read_charge_refunded(event: ProviderEvent) -> list[PaymentNotice]:
    """``charge.refunded``: the refunds its charge lists (API versions before 2022-11-15 list
    them; newer ones do not, and send ``refund.*`` events for each instead)."""
    charge = _object(event)
    refunds = charge.get("refunds")
    listed = refunds.get("data") if isinstance(refunds, dict) else None
    if not isinstance(listed, list):
        return []
    return [
        _refund_notice(refund, charge.get("payment_intent"), event.event_id)
        for refund in listed
        if isinstance(refund, dict)
    ]


PAYMENT_EVENTS: dict[str, Callable[[ProviderEvent], list[PaymentNotice]]] = {
    "payment_intent.succeeded": read_payment_succeeded,
    "refund.created": read_refund,
    "refund.updated": read_refund,
    "refund.failed": read_refund,
    "charge.refunded": read_charge_refunded,
}


class StripePlugin:
    name = "stripe"

    def __init__(self, api_base: str | None = None) -> None:
        """``api_base`` (or ``SWITCHBOARD_STRIPE_API_BASE``) points every tenant's calls at a
        stand-in; unset, they go to Stripe's API."""
        self.api_base = operator_api_base(api_base, API_BASE_SETTING)
        # The SDK otherwise writes an id under the home directory and reports it on every call.
        stripe.enable_telemetry = False

    @hookimpl
    def switchboard_providers(self) -> list[ProviderSpec]:
        api_base = self.api_base
        return [
            ProviderSpec(
                slug="stripe",
                capability=Capability.PAYMENTS,
                name="Stripe",
                config_model=StripeConfig,
                build=lambda config: StripePayments(config, api_base),
                description="Takes card payments and refunds them through Stripe.",
                verify_webhook=verify_stripe_webhook,
                payment_events=PAYMENT_EVENTS,
            )
        ]
