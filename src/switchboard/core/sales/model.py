"""Quotes, invoices, payments and a tenant's sales settings.

Statuses are stored; ``expired`` (a sent quote past its validity date) and ``overdue`` (an
issued invoice with money still due after its due date) are derived from the date, so they
need no job to flip them. Dates (validity, issue, due) are calendar dates in UTC: a quote valid
until 2026-12-31 can be accepted until the end of that day, UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from uuid import UUID

from switchboard.core.errors import InvalidInput
from switchboard.core.sales.numbering import NumberPattern
from switchboard.core.sales.totals import Line, Totals
from switchboard.core.text import refuse_control_characters

NOTES_MAX = 2000
REFERENCE_MAX = 200
EXTERNAL_ID_MAX = 255
REASON_MAX = 500
MAX_TERMS_DAYS = 365
MAX_VALIDITY_DAYS = 365
MAX_AMOUNT = 10**13

DEFAULT_CURRENCY = "USD"
DEFAULT_INVOICE_PATTERN = "INV-{yyyy}-{seq:05}"
DEFAULT_QUOTE_PATTERN = "QUO-{yyyy}-{seq:05}"
DEFAULT_TERMS_DAYS = 30
DEFAULT_VALIDITY_DAYS = 30


class QuoteStatus(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    VOID = "void"


class PaymentKind(StrEnum):
    PAYMENT = "payment"
    REFUND = "refund"


class PaymentMethod(StrEnum):
    CASH = "cash"
    BANK_TRANSFER = "bank_transfer"
    CHEQUE = "cheque"
    CARD = "card"  # a card payment taken through a provider (Stripe) or a terminal
    OTHER = "other"


class CounterKind(StrEnum):
    QUOTE = "quote"
    INVOICE = "invoice"


@dataclass(frozen=True)
class SalesSettings:
    tenant_id: UUID
    currency: str = DEFAULT_CURRENCY
    invoice_number_pattern: str = DEFAULT_INVOICE_PATTERN
    quote_number_pattern: str = DEFAULT_QUOTE_PATTERN
    payment_terms_days: int = DEFAULT_TERMS_DAYS
    quote_validity_days: int = DEFAULT_VALIDITY_DAYS
    updated_at: datetime | None = None
    version: int = 0  # 0: never saved, the defaults apply

    def pattern(self, kind: CounterKind) -> NumberPattern:
        text = self.invoice_number_pattern if kind is CounterKind.INVOICE else self.quote_number_pattern
        return NumberPattern(text)


@dataclass(frozen=True)
class BillTo:
    """The customer as they were when the document was last written: a sent document keeps
    naming them so even if the customer is later renamed or deleted."""

    customer_id: UUID
    name: str
    email: str | None


@dataclass(frozen=True)
class Quote:
    id: UUID
    tenant_id: UUID
    number: str
    bill_to: BillTo
    currency: str
    lines: tuple[Line, ...]
    totals: Totals
    notes: str
    valid_until: date
    status: QuoteStatus
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None = None
    decided_at: datetime | None = None  # accepted or rejected
    invoice_id: UUID | None = None  # the invoice it was converted to
    # The public link's token, hashed; None: no link, or revoked.
    link_token_hash: str | None = None
    version: int = 1

    def expired(self, now: datetime) -> bool:
        return self.status is QuoteStatus.SENT and now >= end_of(self.valid_until)

    def link_live(self, now: datetime) -> bool:
        return self.link_token_hash is not None and now < end_of(self.valid_until)


@dataclass(frozen=True)
class Invoice:
    id: UUID
    tenant_id: UUID
    number: str | None  # given when issued
    bill_to: BillTo
    currency: str
    lines: tuple[Line, ...]
    totals: Totals
    notes: str
    payment_terms_days: int
    status: InvoiceStatus
    created_at: datetime
    updated_at: datetime
    quote_id: UUID | None = None
    issue_date: date | None = None
    due_date: date | None = None
    issued_at: datetime | None = None
    amount_paid: int = 0  # payments less refunds
    amount_refunded: int = 0
    paid_at: datetime | None = None
    voided_at: datetime | None = None
    void_reason: str | None = None
    version: int = 1

    @property
    def amount_due(self) -> int:
        if self.status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
            return 0
        return self.totals.total - self.amount_paid

    def overdue(self, now: datetime) -> bool:
        return (
            self.status in (InvoiceStatus.SENT, InvoiceStatus.PARTIALLY_PAID)
            and self.due_date is not None
            and now >= end_of(self.due_date)
        )


@dataclass(frozen=True)
class Payment:
    """Money in (a payment) or out (a refund) on an invoice; amount always positive."""

    id: UUID
    tenant_id: UUID
    invoice_id: UUID
    customer_id: UUID  # the invoice's, so a customer's payments are found without the invoice
    kind: PaymentKind
    amount: int
    currency: str
    method: PaymentMethod
    reference: str | None
    # The payment's id outside Switchboard (a Stripe payment intent or refund, a bank
    # transaction): recorded once per tenant, so a repeat of the same payment changes nothing.
    external_id: str | None
    received_at: datetime
    created_at: datetime
    refunded_payment_id: UUID | None = None  # a refund of one particular payment
    reason: str | None = None


@dataclass(frozen=True)
class QuoteFilter:
    status: QuoteStatus | None = None
    customer_id: UUID | None = None


@dataclass(frozen=True)
class InvoiceFilter:
    status: InvoiceStatus | None = None
    customer_id: UUID | None = None
    # Issued, money due, and due before this date (the overdue ones as of a day).
    due_before: date | None = None


@dataclass(frozen=True)
class DocumentParty:
    name: str
    email: str | None = None


@dataclass(frozen=True)
class SalesDocument:
    """What a rendered quote or invoice shows: everything the renderer needs, nothing else."""

    kind: CounterKind
    number: str | None
    status: str
    seller: DocumentParty
    bill_to: DocumentParty
    currency: str
    lines: tuple[Line, ...]
    totals: Totals
    notes: str
    dates: tuple[tuple[str, date], ...]  # ("Issued", ...), ("Due", ...), ("Valid until", ...)
    amount_paid: int | None = None
    amount_due: int | None = None
    extra: tuple[str, ...] = field(default_factory=tuple)


def end_of(day: date) -> datetime:
    """The first instant after ``day``, UTC."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


def today(now: datetime) -> date:
    return now.astimezone(UTC).date()


def clean_notes(notes: str | None, field: str = "notes") -> str:
    text = (notes or "").strip()
    if len(text) > NOTES_MAX:
        raise InvalidInput.single(field, f"must be at most {NOTES_MAX} characters")
    refuse_control_characters(text.replace("\n", "").replace("\r", "").replace("\t", ""), field)
    return text


def clean_days(value: int, field: str, highest: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= highest:
        raise InvalidInput.single(field, f"must be a whole number of days from 0 to {highest}")
    return value


def clean_text(value: str | None, field: str, max_length: int) -> str | None:
    if value is None or not value.strip():
        return None
    text = " ".join(value.split())
    if len(text) > max_length:
        raise InvalidInput.single(field, f"must be at most {max_length} characters")
    refuse_control_characters(text, field)
    return text


def clean_amount(value: int, field: str = "amount") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_AMOUNT:
        raise InvalidInput.single(field, "must be a positive whole number of minor units")
    return value
