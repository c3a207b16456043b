"""Invoices paid online through the tenant's payments provider (Stripe, the fake provider), and
refunds of those payments given back through it.

The core decides and records; the entrypoints talk to the provider (``entrypoints/online_payments``
builds the provider's request from a plan made here, calls it, and hands the answer back):

- Paying: ``plan_payment`` checks the invoice can take money (issued, not void, not paid) and
  says what to ask the provider for: the amount due (or less), the tenant's and invoice's ids as
  metadata, and an idempotency key derived from the invoice, the amount due, the amount and the
  attempt, so a retried request never makes a second payment intent or page.
- A verified ``payment succeeded`` event (``PaymentSucceeded``, translated from the provider's
  own by its plugin) is recorded once per provider payment id (``record_online_payment``), with
  the invoice row locked: the invoice becomes partially paid or paid exactly once whatever the
  duplication or order of events. The payment is marked as taken through that provider.
- Refunding a provider payment (``request_refund``) reserves the amount in the invoice's
  transaction: with the invoice row locked, what was refunded plus what is being refunded plus
  the new amount may not pass what the payment captured, so concurrent requests can never refund
  more than was captured. The refund then leaves through the outbox, with our refund's id as the
  provider's idempotency key, and is settled once (``apply_refund_notice``) by whichever comes
  first, the provider's answer to that job or its refund event, recorded once per provider
  refund id. A refund that fails releases its reservation. A manual payment's refund is
  recorded at once (``payments.apply_refund``), also leaving room for the refunds in flight.

Every provider refund row changes only under its invoice's row lock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from uuid import UUID, uuid4

from switchboard.core.errors import Conflict, DomainError, InvalidInput, NotFound, PreconditionFailed
from switchboard.core.identity.model import Principal
from switchboard.core.integrations.model import Capability
from switchboard.core.queues.model import PermanentFailure, new_outbox_message
from switchboard.core.sales.handlers import INVOICE_NOT_FOUND
from switchboard.core.sales.model import (
    REASON_MAX,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentKind,
    PaymentMethod,
    clean_amount,
    clean_text,
)
from switchboard.core.sales.payments import (
    PaymentRecorded,
    RecordPayment,
    RecordRefund,
    apply_payment,
    apply_refund,
)
from switchboard.core.tenancy.permissions import Action, require

if TYPE_CHECKING:  # ports appear in annotations only; the core imports nothing outside itself
    from switchboard.ports.clock import Clock
    from switchboard.ports.persistence import UnitOfWork

REFUND_KIND = "payments.refund"  # the outbox job that sends a refund to the provider
REFUND_NOT_FOUND = "no refund with this id on this invoice"
MAX_ATTEMPT = 1000
URL_MAX = 2000
_PROVIDER_ID = re.compile(r"^[\x21-\x7e]{1,255}$")


class RefundStatus(StrEnum):
    PENDING = "pending"  # reserved, sent or about to be sent to the provider
    SUCCEEDED = "succeeded"  # the money went back: recorded as a refund payment
    FAILED = "failed"  # the provider refused or could not do it: the reservation is released


@dataclass(frozen=True)
class ProviderPayment:
    """A payment of an invoice taken online through a provider, by the provider's id for it."""

    tenant_id: UUID
    payment_id: UUID  # the payment recorded (payments table)
    invoice_id: UUID
    provider: str  # the provider's slug: "stripe", "fake_payments"
    provider_payment_id: str  # the provider's id: a Stripe payment intent "pi_..."
    created_at: datetime


@dataclass(frozen=True)
class ProviderRefund:
    """A refund of a provider payment, asked of the provider; amounts in minor units."""

    id: UUID  # also the provider's idempotency key for it
    tenant_id: UUID
    invoice_id: UUID
    payment_id: UUID  # the payment it refunds
    provider: str
    provider_payment_id: str
    amount: int
    currency: str
    reason: str | None
    status: RefundStatus
    created_at: datetime
    updated_at: datetime
    provider_refund_id: str | None = None  # the provider's id: a Stripe refund "re_..."
    refund_payment_id: UUID | None = None  # the refund recorded once it succeeded
    failure_reason: str | None = None
    version: int = 1

    @property
    def is_pending(self) -> bool:
        return self.status is RefundStatus.PENDING


class ProviderUnavailable(DomainError):
    """The payments provider could not be reached or failed on its side: try again later."""

    code = "provider_unavailable"


class ProviderRefused(DomainError):
    """The payments provider refused the request (a bad key, an amount it does not accept...)."""

    code = "provider_refused"


class RetryLater(Exception):
    """An event that cannot apply yet (a refund whose payment is not recorded): the inbox
    keeps it and tries again with backoff."""


# --- what providers tell, in our words (their plugins translate their events) ------------------


@dataclass(frozen=True)
class PaymentSucceeded:
    provider_payment_id: str
    amount: int  # what was received, minor units
    currency: str
    metadata: Mapping[str, str] = field(default_factory=dict)  # what we attached: tenant_id, invoice_id


@dataclass(frozen=True)
class RefundChanged:
    provider_refund_id: str
    provider_payment_id: str
    amount: int
    currency: str
    status: RefundStatus
    metadata: Mapping[str, str] = field(default_factory=dict)  # ours carry refund_id
    failure_reason: str | None = None


PaymentNotice = PaymentSucceeded | RefundChanged


# --- paying online -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestPayment:
    invoice_id: UUID
    amount: int | None = None  # default: everything due; less pays part of it
    currency: str | None = None  # when given, it must be the invoice's
    attempt: int = 1  # a new attempt (2, 3...) asks for a new intent or page
    success_url: str | None = None  # a payment page's: where the customer lands after paying
    cancel_url: str | None = None


@dataclass(frozen=True)
class PaymentPlan:
    """What to ask the tenant's payments provider for, in our words."""

    tenant_id: UUID
    invoice_id: UUID
    provider: str  # the provider the tenant pays through now
    amount: int
    currency: str
    description: str
    customer_email: str | None
    metadata: dict[str, str]
    idempotency_key: str
    success_url: str | None = None
    cancel_url: str | None = None


async def plan_payment(
    cmd: RequestPayment, principal: Principal, uow: UnitOfWork, *, link: bool = False
) -> PaymentPlan:
    """Check the invoice can be paid and say what to ask the provider for.

    Raises ``NotFound``, ``InvalidInput`` (amount, currency, attempt, URLs), or ``Conflict`` with
    code ``invoice_not_issued`` (a draft), ``invoice_void``, ``invoice_paid``, ``overpayment``
    (more than is due) or ``provider_not_connected``.
    """
    require(principal, Action.SALES_WRITE)
    if isinstance(cmd.attempt, bool) or not 1 <= cmd.attempt <= MAX_ATTEMPT:
        raise InvalidInput.single("attempt", f"must be a whole number from 1 to {MAX_ATTEMPT}")
    success_url = _url(cmd.success_url, "success_url") if link else None
    cancel_url = _url(cmd.cancel_url, "cancel_url") if link else None
    async with uow:
        invoice = await _invoice(uow, cmd.invoice_id)
        if cmd.currency is not None and cmd.currency.upper() != invoice.currency:
            raise InvalidInput.single(
                "amount.currency", f"must be {invoice.currency}, the invoice's currency"
            )
        _check_payable(invoice)
        due = invoice.amount_due
        amount = due if cmd.amount is None else clean_amount(cmd.amount)
        if amount > due:
            raise Conflict(
                f"the payment of {amount} exceeds the {due} due on the invoice", code="overpayment"
            )
        integration = await uow.integrations.enabled_for(Capability.PAYMENTS)
        if integration is None:
            raise Conflict("no payments provider is connected", code="provider_not_connected")
        tenant = await uow.tenants.get()
    kind = "link" if link else "intent"
    seller = f" from {tenant.name}" if tenant is not None else ""
    return PaymentPlan(
        tenant_id=invoice.tenant_id,
        invoice_id=invoice.id,
        provider=integration.provider,
        amount=amount,
        currency=invoice.currency,
        description=f"Invoice {invoice.number}{seller}",
        customer_email=invoice.bill_to.email,
        metadata={
            "tenant_id": str(invoice.tenant_id),
            "invoice_id": str(invoice.id),
            "invoice_number": invoice.number or "",
        },
        # The same request again (a client's retry) asks the provider for the same object.
        idempotency_key=f"invoice-{invoice.id}-{kind}-due-{due}-amount-{amount}-attempt-{cmd.attempt}",
        success_url=success_url,
        cancel_url=cancel_url,
    )


async def note_payment_requested(plan: PaymentPlan, kind: str, provider_id: str, uow: UnitOfWork) -> None:
    """Audit that the customer was asked to pay online (``kind``: "payment_intent" or
    "payment_link"), once the provider answered."""
    changes = {
        "kind": kind,
        "provider": plan.provider,
        "provider_id": provider_id,
        "amount": plan.amount,
        "currency": plan.currency,
    }
    async with uow:
        await uow.audit.record("invoice.payment_requested", "invoice", str(plan.invoice_id), changes)
        await uow.commit()


async def record_online_payment(
    notice: PaymentSucceeded,
    provider: str,
    tenant_id: UUID,
    received_at: datetime | None,
    uow: UnitOfWork,
    clock: Clock,
) -> PaymentRecorded | None:
    """Record a provider's verified payment of an invoice, once per provider payment id.

    None when the payment is not one of ours (no invoice in its metadata). A payment that can
    never apply (no such invoice, another currency, more than is due, a void invoice, another
    tenant's) raises ``PermanentFailure``: the event is parked as dead with the reason, for a
    person to look at (the money was captured).
    """
    invoice_id = _uuid(notice.metadata.get("invoice_id"))
    if invoice_id is None:
        return None
    _check_tenant(notice.metadata, tenant_id)
    now = clock.now()
    command = RecordPayment(
        invoice_id=invoice_id,
        amount=notice.amount,
        method=PaymentMethod.CARD,
        reference=provider,
        external_id=notice.provider_payment_id,
        # The provider's clock, when it says; never ahead of ours.
        received_at=min(received_at, now) if received_at is not None else None,
        currency=notice.currency,
    )
    async with uow:
        try:
            recorded = await apply_payment(command, uow, now)
        except (NotFound, InvalidInput, Conflict) as error:
            raise PermanentFailure(f"{provider} payment {notice.provider_payment_id}: {error}") from error
        if await uow.provider_payments.get(recorded.payment.id) is None:
            link = ProviderPayment(
                tenant_id=tenant_id,
                payment_id=recorded.payment.id,
                invoice_id=invoice_id,
                provider=provider,
                provider_payment_id=notice.provider_payment_id,
                created_at=now,
            )
            await uow.provider_payments.add(link)
            await uow.commit()
    return recorded


# --- refunds -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefundOutcome:
    """A manual payment's refund is recorded at once; a provider payment's is reserved and sent."""

    recorded: PaymentRecorded | None = None
    pending: ProviderRefund | None = None


async def request_refund(
    cmd: RecordRefund, principal: Principal, uow: UnitOfWork, clock: Clock
) -> RefundOutcome:
    """Refund part or all of what an invoice holds.

    A payment taken through a provider (``payment_id`` naming one) is refunded through it: the
    amount is reserved now, with the invoice row locked, and the refund leaves through the
    outbox. Anything else is recorded at once, as ``payments.record_refund`` does. Either way,
    refunds in flight count as given back: ``Conflict`` ``refund_exceeds_payment`` or
    ``refund_exceeds_paid`` when the new one would pass what was captured.
    """
    require(principal, Action.SALES_MANAGE)
    now = clock.now()
    amount = clean_amount(cmd.amount)
    async with uow:
        invoice = await _invoice(uow, cmd.invoice_id, for_update=True)
        if cmd.currency is not None and cmd.currency.upper() != invoice.currency:
            raise InvalidInput.single(
                "amount.currency", f"must be {invoice.currency}, the invoice's currency"
            )
        in_flight = [r for r in await uow.provider_refunds.list_for_invoice(invoice.id) if r.is_pending]
        reserved = sum(r.amount for r in in_flight)
        link = await uow.provider_payments.get(cmd.payment_id) if cmd.payment_id is not None else None
        if link is None or link.invoice_id != invoice.id:
            if amount <= invoice.amount_paid < amount + reserved:
                raise Conflict(
                    f"the refund of {amount} exceeds the {invoice.amount_paid - reserved} paid on the "
                    f"invoice and not already being refunded",
                    code="refund_exceeds_paid",
                )
            recorded = await apply_refund(cmd, uow, now)
            if recorded.created:
                await uow.commit()
            return RefundOutcome(recorded=recorded)
        refund = await _reserve(cmd, amount, invoice, link, in_flight, uow, now)
        await uow.commit()
    return RefundOutcome(pending=refund)


async def _reserve(
    cmd: RecordRefund,
    amount: int,
    invoice: Invoice,
    link: ProviderPayment,
    in_flight: list[ProviderRefund],
    uow: UnitOfWork,
    now: datetime,
) -> ProviderRefund:
    set_by_provider = {"external_id": cmd.external_id, "method": cmd.method, "received_at": cmd.received_at}
    given = sorted(name for name, value in set_by_provider.items() if value is not None)
    if given:
        raise InvalidInput.single(given[0], f"is set by {link.provider} for a payment taken through it")
    reason = clean_text(cmd.reason, "reason", REASON_MAX)
    if invoice.status is InvoiceStatus.VOID:
        raise Conflict("the invoice is void", code="invoice_void")
    history = await uow.payments.list_for_invoice(invoice.id)
    payment = next((p for p in history if p.id == link.payment_id), None)
    if payment is None:
        raise InvalidInput.single("payment_id", "is not a payment of this invoice")
    refunded = sum(p.amount for p in history if p.refunded_payment_id == payment.id)
    reserved_here = sum(r.amount for r in in_flight if r.payment_id == payment.id)
    left = payment.amount - refunded - reserved_here
    if amount > left:
        raise Conflict(
            f"the refund of {amount} exceeds the {max(left, 0)} left of that payment "
            f"({refunded} refunded, {reserved_here} being refunded)",
            code="refund_exceeds_payment",
        )
    available = invoice.amount_paid - sum(r.amount for r in in_flight)
    if amount > available:
        raise Conflict(
            f"the refund of {amount} exceeds the {max(available, 0)} paid on the invoice and not "
            f"already being refunded",
            code="refund_exceeds_paid",
        )
    refund = ProviderRefund(
        id=uuid4(),
        tenant_id=invoice.tenant_id,
        invoice_id=invoice.id,
        payment_id=payment.id,
        provider=link.provider,
        provider_payment_id=link.provider_payment_id,
        amount=amount,
        currency=invoice.currency,
        reason=reason,
        status=RefundStatus.PENDING,
        created_at=now,
        updated_at=now,
    )
    await uow.provider_refunds.add(refund)
    await uow.outbox.add(
        new_outbox_message(invoice.tenant_id, REFUND_KIND, {"refund_id": str(refund.id)}, now)
    )
    changes = {
        "invoice_id": str(invoice.id),
        "payment_id": str(payment.id),
        "amount": amount,
        "currency": invoice.currency,
        "reason": reason,
        "provider": link.provider,
        "status": refund.status.value,
    }
    await uow.audit.record("refund.requested", "refund", str(refund.id), changes)
    return refund


@dataclass(frozen=True)
class RefundPlan:
    """A reserved refund to send, and the provider the tenant pays through now (None: none)."""

    refund: ProviderRefund
    current_provider: str | None

    @property
    def metadata(self) -> dict[str, str]:
        return {
            "tenant_id": str(self.refund.tenant_id),
            "invoice_id": str(self.refund.invoice_id),
            "refund_id": str(self.refund.id),
        }


async def refund_to_send(refund_id: UUID, uow: UnitOfWork) -> RefundPlan | None:
    """The pending refund the outbox job names; None once it is settled (nothing to send)."""
    async with uow:
        refund = await uow.provider_refunds.get(refund_id)
        if refund is None or refund.status is not RefundStatus.PENDING:
            return None
        integration = await uow.integrations.enabled_for(Capability.PAYMENTS)
    return RefundPlan(refund, integration.provider if integration is not None else None)


async def fail_refund(refund_id: UUID, reason: str, uow: UnitOfWork, clock: Clock) -> ProviderRefund | None:
    """The provider refused the refund, or it could not be sent: release its reservation."""
    async with uow:
        refund = await uow.provider_refunds.get(refund_id)
        if refund is None:
            return None
        await _invoice(uow, refund.invoice_id, for_update=True)
        refund = await uow.provider_refunds.get(refund_id)
        if refund is None or refund.status is not RefundStatus.PENDING:
            return refund
        failed = replace(refund, status=RefundStatus.FAILED, failure_reason=reason[:REASON_MAX])
        failed = await _change(uow, refund, failed, clock.now())
        await uow.commit()
    return failed


async def apply_refund_notice(
    notice: RefundChanged, provider: str, tenant_id: UUID, uow: UnitOfWork, clock: Clock
) -> PaymentRecorded | ProviderRefund | None:
    """Settle what the provider says of a refund (its answer to our request, or its event),
    once per provider refund id.

    A success is recorded as a refund of the payment (a refund made outside Switchboard, in
    the provider's dashboard, too) and settles our refund if it is one; a failure releases our
    reservation; a pending refund only notes the provider's id. A refund whose payment is not
    recorded yet raises ``RetryLater``.
    """
    _check_tenant(notice.metadata, tenant_id)
    ours = _uuid(notice.metadata.get("refund_id"))
    now = clock.now()
    async with uow:
        payment = await uow.payments.get_by_external_id(notice.provider_payment_id)
        own = await _own_refund(uow, ours, notice.provider_refund_id)
        if own is not None and own.provider_payment_id != notice.provider_payment_id:
            raise PermanentFailure(
                f"{provider} refund {notice.provider_refund_id} is of {notice.provider_payment_id}, "
                f"not of {own.provider_payment_id} as refund {own.id}"
            )
        invoice_id = own.invoice_id if own is not None else payment.invoice_id if payment else None
        if invoice_id is None:
            if notice.status is RefundStatus.SUCCEEDED:
                raise RetryLater(
                    f"no payment {notice.provider_payment_id} is recorded yet for {provider} refund "
                    f"{notice.provider_refund_id}"
                )
            return None
        await _invoice(uow, invoice_id, for_update=True)
        own = await _own_refund(uow, ours, notice.provider_refund_id)  # as it is, under the lock
        settled: PaymentRecorded | ProviderRefund | None
        if notice.status is RefundStatus.SUCCEEDED:
            if payment is None or payment.kind is not PaymentKind.PAYMENT:
                raise RetryLater(f"no payment {notice.provider_payment_id} is recorded yet")
            settled = await _record_success(notice, payment, own, uow, now)
        elif notice.status is RefundStatus.FAILED:
            settled = await _record_failure(notice, provider, own, payment, uow, now)
        else:
            settled = await _note_provider_id(notice, own, uow, now)
        await uow.commit()
    return settled


async def _record_success(
    notice: RefundChanged, payment: Payment, own: ProviderRefund | None, uow: UnitOfWork, now: datetime
) -> PaymentRecorded:
    command = RecordRefund(
        invoice_id=payment.invoice_id,
        amount=notice.amount,
        payment_id=payment.id,
        reason=own.reason if own is not None else None,
        external_id=notice.provider_refund_id,
        method=PaymentMethod.CARD,
        currency=notice.currency,
    )
    recorded = await apply_refund(command, uow, now)
    if own is not None and own.status is not RefundStatus.SUCCEEDED:
        # A failed one too: the provider did refund (it answered late), so the money went back.
        settled = replace(
            own,
            status=RefundStatus.SUCCEEDED,
            provider_refund_id=notice.provider_refund_id,
            refund_payment_id=recorded.payment.id,
            failure_reason=None,
        )
        await _change(uow, own, settled, now)
    return recorded


async def _record_failure(
    notice: RefundChanged,
    provider: str,
    own: ProviderRefund | None,
    payment: Payment | None,
    uow: UnitOfWork,
    now: datetime,
) -> ProviderRefund | None:
    if own is not None and own.status is RefundStatus.PENDING:
        failure = notice.failure_reason or f"{provider} could not refund the payment"
        failed = replace(
            own,
            status=RefundStatus.FAILED,
            provider_refund_id=notice.provider_refund_id,
            failure_reason=failure[:REASON_MAX],
        )
        return await _change(uow, own, failed, now)
    recorded = await uow.payments.get_by_external_id(notice.provider_refund_id)
    if recorded is not None:
        # Recorded as given back, and now the provider says it was not: a person must look.
        raise PermanentFailure(
            f"{provider} refund {notice.provider_refund_id} failed after it was recorded as refund "
            f"{recorded.id}: the money is back with the tenant; record it by hand"
        )
    return own


async def _note_provider_id(
    notice: RefundChanged, own: ProviderRefund | None, uow: UnitOfWork, now: datetime
) -> ProviderRefund | None:
    if own is not None and own.is_pending and own.provider_refund_id is None:
        return await _change(uow, own, replace(own, provider_refund_id=notice.provider_refund_id), now)
    return own


async def list_refunds(invoice_id: UUID, principal: Principal, uow: UnitOfWork) -> list[ProviderRefund]:
    """The invoice's refunds through its provider, oldest first."""
    require(principal, Action.SALES_READ)
    async with uow:
        await _invoice(uow, invoice_id)
        return await uow.provider_refunds.list_for_invoice(invoice_id)


async def get_refund(
    invoice_id: UUID, refund_id: UUID, principal: Principal, uow: UnitOfWork
) -> ProviderRefund:
    require(principal, Action.SALES_READ)
    async with uow:
        refund = await uow.provider_refunds.get(refund_id)
    if refund is None or refund.invoice_id != invoice_id:
        raise NotFound(REFUND_NOT_FOUND)
    return refund


# --- shared ------------------------------------------------------------------------------------

_REFUND_STATUSES = {
    "succeeded": RefundStatus.SUCCEEDED,
    "failed": RefundStatus.FAILED,
    "canceled": RefundStatus.FAILED,
    "cancelled": RefundStatus.FAILED,
}


def refund_status(value: object) -> RefundStatus:
    """A provider's word for a refund's state in ours: anything but done or given up (Stripe's
    ``pending``, ``requires_action``) is still pending."""
    return _REFUND_STATUSES.get(str(value).lower(), RefundStatus.PENDING)


def provider_id(value: object) -> str | None:
    """A provider's id as a plugin reads it from an event: printable, no spaces, at most 255."""
    return value if isinstance(value, str) and _PROVIDER_ID.match(value) else None


async def _invoice(uow: UnitOfWork, invoice_id: UUID, *, for_update: bool = False) -> Invoice:
    invoice = await uow.invoices.get(invoice_id, for_update=for_update)
    if invoice is None:
        raise NotFound(INVOICE_NOT_FOUND)
    return invoice


def _check_payable(invoice: Invoice) -> None:
    if invoice.status is InvoiceStatus.DRAFT:
        raise Conflict("the invoice has not been issued yet", code="invoice_not_issued")
    if invoice.status is InvoiceStatus.VOID:
        raise Conflict("the invoice is void", code="invoice_void")
    if invoice.status is InvoiceStatus.PAID or invoice.amount_due <= 0:
        raise Conflict("the invoice is paid", code="invoice_paid")


async def _own_refund(
    uow: UnitOfWork, refund_id: UUID | None, provider_refund_id: str
) -> ProviderRefund | None:
    own = await uow.provider_refunds.get(refund_id) if refund_id is not None else None
    return own or await uow.provider_refunds.get_by_provider_id(provider_refund_id)


async def _change(
    uow: UnitOfWork, refund: ProviderRefund, changed: ProviderRefund, now: datetime
) -> ProviderRefund:
    """Store ``changed`` (``refund`` with some fields changed); audit a change of status."""
    updated = replace(changed, updated_at=now, version=refund.version + 1)
    if not await uow.provider_refunds.update(updated, expected_version=refund.version):
        raise PreconditionFailed("the refund changed while it was being settled")
    if updated.status is not refund.status:
        audit = {
            "status": {"from": refund.status.value, "to": updated.status.value},
            "provider_refund_id": updated.provider_refund_id,
            "refund_payment_id": str(updated.refund_payment_id) if updated.refund_payment_id else None,
            "failure_reason": updated.failure_reason,
        }
        await uow.audit.record(f"refund.{updated.status.value}", "refund", str(refund.id), audit)
    return updated


def _check_tenant(metadata: Mapping[str, str], tenant_id: UUID) -> None:
    named = metadata.get("tenant_id")
    if named is not None and _uuid(named) != tenant_id:
        raise PermanentFailure("the event names another tenant than the connection it came through")


def _uuid(value: object) -> UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return UUID(value)
    except ValueError:
        return None


def _url(value: str | None, field_name: str) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if len(value) > URL_MAX or parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput.single(field_name, f"must be an http(s) address of at most {URL_MAX} characters")
    return value
