"""Paying invoices online, and refunds: through the tenant's payments provider (Stripe), or
recorded by hand for money taken by hand. docs/payments.md has the whole story.

- ``POST /v1/invoices/{id}/payment-intent``: a payment intent for the amount due (or less), whose
  client secret a payment form confirms;
- ``POST /v1/invoices/{id}/payment-link``: a page the provider hosts where the customer pays;
- ``POST /v1/invoices/{id}/refunds``: a refund. Of a payment taken through the provider, it is
  reserved at once and sent to the provider (202, a ``refund`` that settles later); of anything
  else it is recorded at once (201, the refund ``payment``);
- ``GET /v1/invoices/{id}/refunds`` and ``/refunds/{refund_id}``: refunds through the provider.

The payments themselves arrive from the provider's verified webhooks, processed by the worker.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from dependency_injector.wiring import Provide, inject
from pydantic import BaseModel, ConfigDict, Field
from quart import Blueprint, Response
from quart_schema import document_response, tag, validate_request

from switchboard.core.sales import payments as manual
from switchboard.core.sales import provider_payments as core
from switchboard.core.sales.provider_payments import MAX_ATTEMPT, URL_MAX, ProviderRefund, RefundStatus
from switchboard.entrypoints import online_payments
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.auth import acting, require_principal
from switchboard.entrypoints.http.blueprints.sales import (
    MoneyIn,
    MoneyOut,
    PaymentOut,
    RefundIn,
    render_payment,
)
from switchboard.entrypoints.http.blueprints.schemas import ListOut
from switchboard.entrypoints.http.idempotency import idempotent
from switchboard.entrypoints.http.responses import json_response
from switchboard.entrypoints.settings import Settings
from switchboard.ports.clock import Clock
from switchboard.ports.persistence import UnitOfWork, UnitOfWorkFactory
from switchboard.ports.providers import ProviderRegistry

blueprint = Blueprint("payments", __name__, url_prefix="/v1")
blueprint.before_request(require_principal)


# --- request and response models ---------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PaymentIntentIn(_Strict):
    amount: MoneyIn | None = Field(default=None, description="Default: everything due. Less pays part.")
    attempt: int = Field(
        default=1,
        ge=1,
        le=MAX_ATTEMPT,
        description="1 unless the customer's previous intent was cancelled: a new attempt asks for a "
        "new one. The same request again answers the same intent.",
    )


class PaymentLinkIn(PaymentIntentIn):
    success_url: str | None = Field(
        default=None,
        max_length=URL_MAX,
        description="Where the customer lands after paying; default the app.",
    )
    cancel_url: str | None = Field(default=None, max_length=URL_MAX)


class PaymentIntentOut(BaseModel):
    object: Literal["payment_intent"]
    invoice_id: UUID
    provider: str
    id: str = Field(description="The provider's id of the intent (Stripe: pi_...).")
    client_secret: str | None = Field(description="For the payment form to confirm the intent.")
    amount: MoneyOut
    status: str


class PaymentLinkOut(BaseModel):
    object: Literal["payment_link"]
    invoice_id: UUID
    provider: str
    id: str = Field(description="The provider's id of the page (Stripe: a Checkout Session, cs_...).")
    url: str
    amount: MoneyOut
    expires_at: datetime | None


class RefundOut(BaseModel):
    object: Literal["refund"]
    id: UUID
    invoice_id: UUID
    payment_id: UUID
    provider: str
    amount: MoneyOut
    reason: str | None
    status: RefundStatus
    provider_refund_id: str | None
    refund_payment_id: UUID | None = Field(description="The refund recorded once it succeeded.")
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime


class RefundListOut(ListOut[RefundOut]):
    """Every refund of the invoice through its payments provider, oldest first (one page)."""


def render_refund(refund: ProviderRefund) -> dict[str, Any]:
    return {
        "object": "refund",
        "id": refund.id,
        "invoice_id": refund.invoice_id,
        "payment_id": refund.payment_id,
        "provider": refund.provider,
        "amount": {"amount": refund.amount, "currency": refund.currency},
        "reason": refund.reason,
        "status": refund.status.value,
        "provider_refund_id": refund.provider_refund_id,
        "refund_payment_id": refund.refund_payment_id,
        "failure_reason": refund.failure_reason,
        "created_at": refund.created_at,
        "updated_at": refund.updated_at,
    }


def _request(invoice_id: UUID, data: PaymentIntentIn) -> core.RequestPayment:
    link = data if isinstance(data, PaymentLinkIn) else None
    return core.RequestPayment(
        invoice_id=invoice_id,
        amount=data.amount.amount if data.amount else None,
        currency=data.amount.currency if data.amount else None,
        attempt=data.attempt,
        success_url=link.success_url if link else None,
        cancel_url=link.cancel_url if link else None,
    )


def _unit(units: UnitOfWorkFactory) -> Any:
    def unit() -> UnitOfWork:
        return acting(units)[1]

    return unit


# --- paying ------------------------------------------------------------------------------------


@blueprint.post("/invoices/<uuid:invoice_id>/payment-intent")
@tag(["payments"])
@validate_request(PaymentIntentIn)
@document_response(PaymentIntentOut)
@idempotent
@inject
async def create_payment_intent(
    invoice_id: UUID,
    data: PaymentIntentIn,
    units: UnitOfWorkFactory = Provide[Container.units],
    registry: ProviderRegistry = Provide[Container.provider_registry],
) -> Response:
    """A payment intent at the tenant's payments provider for the amount due (or less), with the
    tenant's and invoice's ids as metadata. 409 for a draft, void or paid invoice; 503 when the
    provider cannot be reached, 502 when it refuses."""
    principal, _ = acting(units)
    requested = await online_payments.create_payment_intent(
        _request(invoice_id, data), principal, _unit(units), registry
    )
    intent = requested.intent
    assert intent is not None
    body = {
        "object": "payment_intent",
        "invoice_id": invoice_id,
        "provider": requested.plan.provider,
        "id": intent.provider_id,
        "client_secret": intent.client_secret,
        "amount": {"amount": intent.amount, "currency": intent.currency},
        "status": intent.status,
    }
    return json_response(body)


@blueprint.post("/invoices/<uuid:invoice_id>/payment-link")
@tag(["payments"])
@validate_request(PaymentLinkIn)
@document_response(PaymentLinkOut)
@idempotent
@inject
async def create_payment_link(
    invoice_id: UUID,
    data: PaymentLinkIn,
    units: UnitOfWorkFactory = Provide[Container.units],
    registry: ProviderRegistry = Provide[Container.provider_registry],
    settings: Settings = Provide[Container.settings],
) -> Response:
    """A payment page the provider hosts (Stripe Checkout) for the amount due (or less). 409 for
    a draft, void or paid invoice."""
    principal, _ = acting(units)
    requested = await online_payments.create_payment_link(
        _request(invoice_id, data), principal, _unit(units), registry, settings.app_url
    )
    link = requested.link
    assert link is not None
    body = {
        "object": "payment_link",
        "invoice_id": invoice_id,
        "provider": requested.plan.provider,
        "id": link.provider_id,
        "url": link.url,
        "amount": {"amount": link.amount, "currency": link.currency},
        "expires_at": link.expires_at,
    }
    return json_response(body)


# --- refunds -----------------------------------------------------------------------------------


@blueprint.post("/invoices/<uuid:invoice_id>/refunds")
@tag(["invoices"])
@validate_request(RefundIn)
@document_response(PaymentOut, 201)
@document_response(RefundOut, 202)
@idempotent
@inject
async def refund(
    invoice_id: UUID,
    data: RefundIn,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Give money back; owners and admins. Never more than the invoice holds (409
    ``refund_exceeds_paid``) nor than is left of ``payment_id`` (409 ``refund_exceeds_payment``),
    counting refunds still in flight.

    A payment taken through the payments provider is refunded through it: 202 with a
    ``refund`` (``pending``) that the provider's answer or event settles
    (``GET /v1/invoices/{id}/refunds/{refund_id}``). Anything else is recorded at once: 201
    with the refund ``payment`` (200 with the first one for a repeated ``external_id``)."""
    command = manual.RecordRefund(
        invoice_id,
        data.amount.amount,
        data.payment_id,
        data.reason,
        data.external_id,
        data.method,
        data.received_at,
        data.amount.currency,
    )
    outcome = await core.request_refund(command, *acting(units), clock)
    if outcome.pending is not None:
        pending = outcome.pending
        headers = {"Location": f"/v1/invoices/{invoice_id}/refunds/{pending.id}"}
        return json_response(render_refund(pending), status=202, headers=headers)
    assert outcome.recorded is not None
    payment = outcome.recorded.payment
    headers = {"Location": f"/v1/invoices/{payment.invoice_id}/payments/{payment.id}"}
    return json_response(
        render_payment(payment), status=201 if outcome.recorded.created else 200, headers=headers
    )


@blueprint.get("/invoices/<uuid:invoice_id>/refunds")
@tag(["invoices"])
@document_response(RefundListOut)
@inject
async def list_refunds(invoice_id: UUID, units: UnitOfWorkFactory = Provide[Container.units]) -> Response:
    """The invoice's refunds through its payments provider, oldest first. (Every refund, by
    hand or not, is also a ``refund`` payment in ``GET /v1/invoices/{id}/payments`` once done.)"""
    refunds = await core.list_refunds(invoice_id, *acting(units))
    body = {
        "object": "list",
        "data": [render_refund(r) for r in refunds],
        "has_more": False,
        "next_cursor": None,
    }
    return json_response(body)


@blueprint.get("/invoices/<uuid:invoice_id>/refunds/<uuid:refund_id>")
@tag(["invoices"])
@document_response(RefundOut)
@inject
async def get_refund(
    invoice_id: UUID, refund_id: UUID, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """One refund through the payments provider: pending, succeeded or failed."""
    return json_response(render_refund(await core.get_refund(invoice_id, refund_id, *acting(units))))
