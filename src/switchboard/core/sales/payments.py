"""Payments and refunds on issued invoices: manual ones (cash, bank transfer, cheque) from the
API, and provider ones (Stripe) from verified webhooks processed by the worker.

Every payment and refund of an invoice takes the invoice's row lock first, so they apply one at
a time: an invoice is never paid past its total, and refunds never exceed what was paid, however
many requests race. A payment or refund with an ``external_id`` (the provider's id for it, or a
bank transaction's) is recorded once per tenant: a repeat, concurrent or late, returns the one
already recorded and changes nothing.

For provider webhooks, call ``record_provider_payment`` and ``record_provider_refund`` with a
unit of work of the invoice's tenant (``units(tenant_id)``: audited as the system). They apply
exactly the rules of the manual paths, without a principal.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

from switchboard.core.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from switchboard.core.identity.model import Principal
from switchboard.core.sales.handlers import INVOICE_NOT_FOUND
from switchboard.core.sales.model import (
    EXTERNAL_ID_MAX,
    REASON_MAX,
    REFERENCE_MAX,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentKind,
    PaymentMethod,
    clean_amount,
    clean_text,
)
from switchboard.core.tenancy.permissions import Action, require

if TYPE_CHECKING:  # ports appear in annotations only; the core imports nothing outside itself
    from switchboard.ports.clock import Clock
    from switchboard.ports.persistence import UnitOfWork

# How far ahead of the server's clock a stated receipt time may be (clock skew), no further.
RECEIVED_AT_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class RecordPayment:
    invoice_id: UUID
    amount: int  # minor units of the invoice's currency, > 0, at most what is due
    method: PaymentMethod
    reference: str | None = None  # for people: a cheque number, a transfer's reference
    external_id: str | None = None  # idempotency: recorded once per tenant
    received_at: datetime | None = None  # default: now
    currency: str | None = None  # when given, it must be the invoice's


@dataclass(frozen=True)
class RecordRefund:
    invoice_id: UUID
    amount: int  # minor units, > 0, at most what was paid (and left unrefunded)
    payment_id: UUID | None = None  # refund this payment of the invoice (at most its amount)
    reason: str | None = None
    external_id: str | None = None  # idempotency: recorded once per tenant
    method: PaymentMethod | None = None  # default: the refunded payment's, else "other"
    received_at: datetime | None = None  # when the money went back; default now
    currency: str | None = None  # when given, it must be the invoice's


@dataclass(frozen=True)
class PaymentRecorded:
    payment: Payment  # the payment or refund, new or the one already recorded
    invoice: Invoice  # the invoice after it
    created: bool  # False: its external_id was already recorded and nothing changed


async def record_payment(
    cmd: RecordPayment, principal: Principal, uow: UnitOfWork, clock: Clock
) -> PaymentRecorded:
    require(principal, Action.SALES_WRITE)
    return await record_provider_payment(cmd, uow, clock)


async def record_refund(
    cmd: RecordRefund, principal: Principal, uow: UnitOfWork, clock: Clock
) -> PaymentRecorded:
    require(principal, Action.SALES_MANAGE)
    return await record_provider_refund(cmd, uow, clock)


async def record_provider_payment(cmd: RecordPayment, uow: UnitOfWork, clock: Clock) -> PaymentRecorded:
    """Record money received, with no permission check: for a verified provider event.

    Raises ``NotFound`` (no such invoice), ``InvalidInput``, or ``Conflict`` with code
    ``invoice_not_issued`` (a draft), ``invoice_void``, ``overpayment`` (more than is due,
    including any payment of an invoice already paid) or ``external_id_taken`` (the id was
    recorded for another invoice, or as a refund).
    """
    async with uow:
        recorded = await apply_payment(cmd, uow, clock.now())
        if recorded.created:
            await uow.commit()
    return recorded


async def apply_payment(cmd: RecordPayment, uow: UnitOfWork, now: datetime) -> PaymentRecorded:
    """``record_provider_payment``'s work inside a unit of work the caller opened and commits
    (with more of its own: provider_payments.py), raising the same errors."""
    amount = clean_amount(cmd.amount)
    reference = clean_text(cmd.reference, "reference", REFERENCE_MAX)
    external_id = _external_id(cmd.external_id)
    received_at = _received_at(cmd.received_at, now)
    invoice = await _locked_invoice(uow, cmd.invoice_id)
    _check_currency(cmd.currency, invoice)
    repeat = await _repeat(uow, external_id, invoice, PaymentKind.PAYMENT)
    if repeat is not None:
        return PaymentRecorded(repeat, invoice, created=False)
    _check_issued(invoice)
    if amount > invoice.amount_due:
        raise Conflict(
            f"the payment of {amount} exceeds the {invoice.amount_due} due on the invoice",
            code="overpayment",
        )
    payment = Payment(
        id=uuid4(),
        tenant_id=invoice.tenant_id,
        invoice_id=invoice.id,
        customer_id=invoice.bill_to.customer_id,
        kind=PaymentKind.PAYMENT,
        amount=amount,
        currency=invoice.currency,
        method=cmd.method,
        reference=reference,
        external_id=external_id,
        received_at=received_at,
        created_at=now,
    )
    await uow.payments.add(payment)
    updated = await _settle(uow, invoice, invoice.amount_paid + amount, invoice.amount_refunded, now)
    changes = {
        "invoice_id": str(invoice.id),
        "amount": amount,
        "currency": invoice.currency,
        "method": cmd.method.value,
        "reference": reference,
        "external_id": external_id,
    }
    await uow.audit.record("payment.recorded", "payment", str(payment.id), changes)
    return PaymentRecorded(payment, updated, created=True)


async def record_provider_refund(cmd: RecordRefund, uow: UnitOfWork, clock: Clock) -> PaymentRecorded:
    """Record money given back, with no permission check: for a verified provider event.

    Raises ``NotFound``, ``InvalidInput`` (``payment_id`` names no payment of this invoice), or
    ``Conflict`` with code ``invoice_not_issued``, ``invoice_void``, ``refund_exceeds_paid``
    (more than the invoice holds: a refund seen before its payment lands here, and succeeds
    when retried after it), ``refund_exceeds_payment`` (more than is left of that payment) or
    ``external_id_taken``.
    """
    async with uow:
        recorded = await apply_refund(cmd, uow, clock.now())
        if recorded.created:
            await uow.commit()
    return recorded


async def apply_refund(cmd: RecordRefund, uow: UnitOfWork, now: datetime) -> PaymentRecorded:
    """``record_provider_refund``'s work inside a unit of work the caller opened and commits
    (with more of its own: provider_payments.py), raising the same errors."""
    amount = clean_amount(cmd.amount)
    reason = clean_text(cmd.reason, "reason", REASON_MAX)
    external_id = _external_id(cmd.external_id)
    received_at = _received_at(cmd.received_at, now)
    invoice = await _locked_invoice(uow, cmd.invoice_id)
    _check_currency(cmd.currency, invoice)
    repeat = await _repeat(uow, external_id, invoice, PaymentKind.REFUND)
    if repeat is not None:
        return PaymentRecorded(repeat, invoice, created=False)
    _check_issued(invoice)
    if amount > invoice.amount_paid:
        raise Conflict(
            f"the refund of {amount} exceeds the {invoice.amount_paid} paid on the invoice",
            code="refund_exceeds_paid",
        )
    method = cmd.method
    if cmd.payment_id is not None:
        refunded = await _refundable_payment(uow, invoice, cmd.payment_id, amount)
        method = method or refunded.method
    refund = Payment(
        id=uuid4(),
        tenant_id=invoice.tenant_id,
        invoice_id=invoice.id,
        customer_id=invoice.bill_to.customer_id,
        kind=PaymentKind.REFUND,
        amount=amount,
        currency=invoice.currency,
        method=method or PaymentMethod.OTHER,
        reference=None,
        external_id=external_id,
        received_at=received_at,
        created_at=now,
        refunded_payment_id=cmd.payment_id,
        reason=reason,
    )
    await uow.payments.add(refund)
    updated = await _settle(uow, invoice, invoice.amount_paid - amount, invoice.amount_refunded + amount, now)
    changes = {
        "invoice_id": str(invoice.id),
        "amount": amount,
        "currency": invoice.currency,
        "payment_id": str(cmd.payment_id) if cmd.payment_id else None,
        "reason": reason,
        "external_id": external_id,
    }
    await uow.audit.record("refund.recorded", "payment", str(refund.id), changes)
    return PaymentRecorded(refund, updated, created=True)


async def list_payments(invoice_id: UUID, principal: Principal, uow: UnitOfWork) -> list[Payment]:
    """The invoice's payments and refunds, oldest first."""
    require(principal, Action.SALES_READ)
    async with uow:
        if await uow.invoices.get(invoice_id) is None:
            raise NotFound(INVOICE_NOT_FOUND)
        return await uow.payments.list_for_invoice(invoice_id)


async def get_payment(invoice_id: UUID, payment_id: UUID, principal: Principal, uow: UnitOfWork) -> Payment:
    require(principal, Action.SALES_READ)
    async with uow:
        payment = await uow.payments.get(payment_id)
    if payment is None or payment.invoice_id != invoice_id:
        raise NotFound("no payment with this id on this invoice")
    return payment


async def find_payment(external_id: str, uow: UnitOfWork) -> Payment | None:
    """The payment or refund recorded with this external id (a provider's), if any."""
    async with uow:
        return await uow.payments.get_by_external_id(external_id)


async def _locked_invoice(uow: UnitOfWork, invoice_id: UUID) -> Invoice:
    invoice = await uow.invoices.get(invoice_id, for_update=True)
    if invoice is None:
        raise NotFound(INVOICE_NOT_FOUND)
    return invoice


async def _repeat(
    uow: UnitOfWork, external_id: str | None, invoice: Invoice, kind: PaymentKind
) -> Payment | None:
    """The payment already recorded under ``external_id``: a repeat when it is the same kind
    on the same invoice, a conflict otherwise."""
    if external_id is None:
        return None
    recorded = await uow.payments.get_by_external_id(external_id)
    if recorded is None:
        return None
    if recorded.invoice_id != invoice.id or recorded.kind is not kind:
        raise Conflict(
            f"external_id {external_id!r} was already recorded as a {recorded.kind} of another invoice",
            code="external_id_taken",
        )
    return recorded


def _check_currency(currency: str | None, invoice: Invoice) -> None:
    if currency is not None and currency.upper() != invoice.currency:
        raise InvalidInput.single("amount.currency", f"must be {invoice.currency}, the invoice's currency")


def _check_issued(invoice: Invoice) -> None:
    if invoice.status is InvoiceStatus.DRAFT:
        raise Conflict("the invoice has not been issued yet", code="invoice_not_issued")
    if invoice.status is InvoiceStatus.VOID:
        raise Conflict("the invoice is void", code="invoice_void")


async def _refundable_payment(uow: UnitOfWork, invoice: Invoice, payment_id: UUID, amount: int) -> Payment:
    history = await uow.payments.list_for_invoice(invoice.id)
    payment = next((p for p in history if p.id == payment_id and p.kind is PaymentKind.PAYMENT), None)
    if payment is None:
        raise InvalidInput.single("payment_id", "is not a payment of this invoice")
    already = sum(p.amount for p in history if p.refunded_payment_id == payment_id)
    if amount > payment.amount - already:
        raise Conflict(
            f"the refund of {amount} exceeds the {payment.amount - already} left of that payment",
            code="refund_exceeds_payment",
        )
    return payment


async def _settle(uow: UnitOfWork, invoice: Invoice, paid: int, refunded: int, now: datetime) -> Invoice:
    """Store the invoice's new amounts and the status they make; audit a change of status."""
    if paid >= invoice.totals.total:
        status = InvoiceStatus.PAID
    elif paid > 0:
        status = InvoiceStatus.PARTIALLY_PAID
    else:
        status = InvoiceStatus.SENT
    updated = replace(
        invoice,
        amount_paid=paid,
        amount_refunded=refunded,
        status=status,
        paid_at=(invoice.paid_at or now) if status is InvoiceStatus.PAID else None,
        updated_at=now,
        version=invoice.version + 1,
    )
    if not await uow.invoices.update(updated, expected_version=invoice.version):
        raise PreconditionFailed("the invoice changed while a payment was being applied")
    if status is not invoice.status:
        changes = {
            "status": {"from": invoice.status.value, "to": status.value},
            "amount_paid": {"from": invoice.amount_paid, "to": paid},
        }
        await uow.audit.record("invoice.status_changed", "invoice", str(invoice.id), changes)
    return updated


def _external_id(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if (
        not text
        or len(text) > EXTERNAL_ID_MAX
        or any(not char.isprintable() or char.isspace() for char in text)
    ):
        raise InvalidInput.single(
            "external_id", f"must be 1 to {EXTERNAL_ID_MAX} printable characters without spaces"
        )
    return text


def _received_at(value: datetime | None, now: datetime) -> datetime:
    if value is None:
        return now
    if value.tzinfo is None:
        raise InvalidInput.single("received_at", "must carry a time zone")
    if value > now + RECEIVED_AT_SKEW:
        raise InvalidInput.single("received_at", "must not be in the future")
    return value
