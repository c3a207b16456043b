"""Sales: the tenant's settings, quotes, invoices, payments and refunds, and their PDFs.

Money on the wire is ``{"amount": <minor units>, "currency": "EUR"}``; a price or a payment
sent in another currency than its document's is refused. Quantities and percentages are
decimal strings ("1.5"), never floats. docs/sales.md has the rules (rounding, numbering, who may
do what).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from dependency_injector.wiring import Provide, inject
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from quart import Blueprint, Response
from quart_schema import document_response, tag, validate_querystring, validate_request

from switchboard.core.sales import handlers, payments
from switchboard.core.sales.model import (
    EXTERNAL_ID_MAX,
    NOTES_MAX,
    REASON_MAX,
    REFERENCE_MAX,
    Invoice,
    InvoiceFilter,
    InvoiceStatus,
    Payment,
    PaymentKind,
    PaymentMethod,
    Quote,
    QuoteFilter,
    QuoteStatus,
    SalesSettings,
    today,
)
from switchboard.core.sales.numbering import PATTERN_MAX
from switchboard.core.sales.totals import DESCRIPTION_MAX, MAX_LINES, Line, LineInput, decimal_text
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.auth import acting, require_principal
from switchboard.entrypoints.http.blueprints.schemas import ListOut
from switchboard.entrypoints.http.errors import ApiError
from switchboard.entrypoints.http.idempotency import idempotent
from switchboard.entrypoints.http.pagination import ListQuery, encode_cursor, page_request
from switchboard.entrypoints.http.responses import etag, if_match_version, json_response, list_response
from switchboard.entrypoints.settings import Settings
from switchboard.ports.clock import Clock
from switchboard.ports.documents import DocumentRenderer
from switchboard.ports.persistence import UnitOfWorkFactory

blueprint = Blueprint("sales", __name__, url_prefix="/v1")
blueprint.before_request(require_principal)

DECIMAL_MAX = 32
MAX_MINOR_UNITS = 10**13


# --- request models ----------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MoneyIn(_Strict):
    amount: int = Field(ge=0, le=MAX_MINOR_UNITS, description="Minor units (cents for USD).")
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217; must be the document's.")


class LineIn(_Strict):
    description: str = Field(min_length=1, max_length=DESCRIPTION_MAX)
    quantity: str = Field(max_length=DECIMAL_MAX, description='A decimal string, e.g. "1.5".')
    unit_price: MoneyIn
    tax_rate: str = Field(default="0", max_length=DECIMAL_MAX, description='Percent, e.g. "20".')
    discount_percent: str = Field(default="0", max_length=DECIMAL_MAX, description='Percent, e.g. "10".')

    def to_input(self) -> LineInput:
        return LineInput(
            self.description,
            self.quantity,
            self.unit_price.amount,
            self.tax_rate,
            self.discount_percent,
            self.unit_price.currency,
        )


class SettingsPatch(_Strict):
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    invoice_number_pattern: str | None = Field(default=None, max_length=PATTERN_MAX * 2)
    quote_number_pattern: str | None = Field(default=None, max_length=PATTERN_MAX * 2)
    payment_terms_days: int | None = None
    quote_validity_days: int | None = None


class QuoteIn(_Strict):
    customer_id: UUID
    lines: list[LineIn] = Field(default_factory=list, max_length=MAX_LINES)
    notes: str | None = Field(default=None, max_length=NOTES_MAX)
    valid_until: date | None = None


class QuotePatch(_Strict):
    """Only the fields sent change; ``lines`` replaces every line."""

    customer_id: UUID | None = None
    lines: list[LineIn] | None = Field(default=None, max_length=MAX_LINES)
    notes: str | None = Field(default=None, max_length=NOTES_MAX)
    valid_until: date | None = None


class InvoiceIn(_Strict):
    customer_id: UUID
    lines: list[LineIn] = Field(default_factory=list, max_length=MAX_LINES)
    notes: str | None = Field(default=None, max_length=NOTES_MAX)
    payment_terms_days: int | None = None


class InvoicePatch(_Strict):
    """Only the fields sent change; ``lines`` replaces every line. Drafts only."""

    customer_id: UUID | None = None
    lines: list[LineIn] | None = Field(default=None, max_length=MAX_LINES)
    notes: str | None = Field(default=None, max_length=NOTES_MAX)
    payment_terms_days: int | None = None


class VoidIn(_Strict):
    reason: str = Field(min_length=1, max_length=REASON_MAX)


class PaymentIn(_Strict):
    amount: MoneyIn
    method: PaymentMethod
    reference: str | None = Field(default=None, max_length=REFERENCE_MAX)
    external_id: str | None = Field(
        default=None,
        max_length=EXTERNAL_ID_MAX,
        description="The payment's id elsewhere (a bank transaction's); recorded once.",
    )
    received_at: AwareDatetime | None = None


class RefundIn(_Strict):
    amount: MoneyIn
    payment_id: UUID | None = Field(default=None, description="Refund this payment of the invoice.")
    reason: str | None = Field(default=None, max_length=REASON_MAX)
    external_id: str | None = Field(default=None, max_length=EXTERNAL_ID_MAX)
    method: PaymentMethod | None = None
    received_at: AwareDatetime | None = None


class QuoteListQuery(ListQuery):
    status: QuoteStatus | None = None
    customer_id: UUID | None = None


class InvoiceListQuery(ListQuery):
    status: InvoiceStatus | None = None
    customer_id: UUID | None = None
    overdue: bool | None = Field(default=None, description="true: only invoices past their due date.")


# --- response models ---------------------------------------------------------------------------


class MoneyOut(BaseModel):
    amount: int
    currency: str


class BillToOut(BaseModel):
    name: str
    email: str | None


class LineOut(BaseModel):
    description: str
    quantity: str
    unit_price: MoneyOut
    tax_rate: str
    discount_percent: str
    subtotal: MoneyOut
    discount: MoneyOut
    tax: MoneyOut
    total: MoneyOut


class SettingsOut(BaseModel):
    object: Literal["sales_settings"]
    currency: str
    invoice_number_pattern: str
    quote_number_pattern: str
    payment_terms_days: int
    quote_validity_days: int
    updated_at: datetime | None


class QuoteOut(BaseModel):
    object: Literal["quote"]
    id: UUID
    number: str
    customer_id: UUID
    bill_to: BillToOut
    status: QuoteStatus
    expired: bool
    currency: str
    lines: list[LineOut]
    subtotal: MoneyOut
    discount: MoneyOut
    tax: MoneyOut
    total: MoneyOut
    notes: str
    valid_until: date
    link_active: bool
    sent_at: datetime | None
    decided_at: datetime | None
    invoice_id: UUID | None
    created_at: datetime
    updated_at: datetime


class SentQuoteOut(QuoteOut):
    """The sent quote and its public link, shown this once (it is also mailed)."""

    link: str


class InvoiceOut(BaseModel):
    object: Literal["invoice"]
    id: UUID
    number: str | None
    customer_id: UUID
    bill_to: BillToOut
    status: InvoiceStatus
    overdue: bool
    currency: str
    lines: list[LineOut]
    subtotal: MoneyOut
    discount: MoneyOut
    tax: MoneyOut
    total: MoneyOut
    amount_paid: MoneyOut
    amount_refunded: MoneyOut
    amount_due: MoneyOut
    notes: str
    payment_terms_days: int
    issue_date: date | None
    due_date: date | None
    issued_at: datetime | None
    paid_at: datetime | None
    voided_at: datetime | None
    void_reason: str | None
    quote_id: UUID | None
    created_at: datetime
    updated_at: datetime


class PaymentOut(BaseModel):
    object: Literal["payment"]
    id: UUID
    invoice_id: UUID
    kind: PaymentKind
    amount: MoneyOut
    method: PaymentMethod
    reference: str | None
    external_id: str | None
    refunded_payment_id: UUID | None
    reason: str | None
    received_at: datetime
    created_at: datetime


class QuoteListOut(ListOut[QuoteOut]):
    """A page of quotes, newest first."""


class InvoiceListOut(ListOut[InvoiceOut]):
    """A page of invoices, newest first."""


class PaymentListOut(ListOut[PaymentOut]):
    """Every payment and refund of an invoice, oldest first (one page)."""


# --- renderers ---------------------------------------------------------------------------------


def _money(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def _line(line: Line, currency: str) -> dict[str, Any]:
    return {
        "description": line.description,
        "quantity": decimal_text(line.quantity),
        "unit_price": _money(line.unit_price, currency),
        "tax_rate": decimal_text(line.tax_rate),
        "discount_percent": decimal_text(line.discount_percent),
        "subtotal": _money(line.subtotal, currency),
        "discount": _money(line.discount, currency),
        "tax": _money(line.tax, currency),
        "total": _money(line.total, currency),
    }


def _document(document: Quote | Invoice) -> dict[str, Any]:
    currency = document.currency
    return {
        "id": document.id,
        "number": document.number,
        "customer_id": document.bill_to.customer_id,
        "bill_to": {"name": document.bill_to.name, "email": document.bill_to.email},
        "status": document.status.value,
        "currency": currency,
        "lines": [_line(line, currency) for line in document.lines],
        "subtotal": _money(document.totals.subtotal, currency),
        "discount": _money(document.totals.discount, currency),
        "tax": _money(document.totals.tax, currency),
        "total": _money(document.totals.total, currency),
        "notes": document.notes,
        "created_at": document.created_at,
        "updated_at": document.updated_at,
    }


def render_quote(quote: Quote, now: datetime) -> dict[str, Any]:
    return (
        {"object": "quote"}
        | _document(quote)
        | {
            "expired": quote.expired(now),
            "valid_until": quote.valid_until,
            "link_active": quote.link_live(now),
            "sent_at": quote.sent_at,
            "decided_at": quote.decided_at,
            "invoice_id": quote.invoice_id,
        }
    )


def render_invoice(invoice: Invoice, now: datetime) -> dict[str, Any]:
    currency = invoice.currency
    return (
        {"object": "invoice"}
        | _document(invoice)
        | {
            "overdue": invoice.overdue(now),
            "amount_paid": _money(invoice.amount_paid, currency),
            "amount_refunded": _money(invoice.amount_refunded, currency),
            "amount_due": _money(invoice.amount_due, currency),
            "payment_terms_days": invoice.payment_terms_days,
            "issue_date": invoice.issue_date,
            "due_date": invoice.due_date,
            "issued_at": invoice.issued_at,
            "paid_at": invoice.paid_at,
            "voided_at": invoice.voided_at,
            "void_reason": invoice.void_reason,
            "quote_id": invoice.quote_id,
        }
    )


def render_payment(payment: Payment) -> dict[str, Any]:
    return {
        "object": "payment",
        "id": payment.id,
        "invoice_id": payment.invoice_id,
        "kind": payment.kind.value,
        "amount": _money(payment.amount, payment.currency),
        "method": payment.method.value,
        "reference": payment.reference,
        "external_id": payment.external_id,
        "refunded_payment_id": payment.refunded_payment_id,
        "reason": payment.reason,
        "received_at": payment.received_at,
        "created_at": payment.created_at,
    }


def render_settings(settings: SalesSettings) -> dict[str, Any]:
    return {
        "object": "sales_settings",
        "currency": settings.currency,
        "invoice_number_pattern": settings.invoice_number_pattern,
        "quote_number_pattern": settings.quote_number_pattern,
        "payment_terms_days": settings.payment_terms_days,
        "quote_validity_days": settings.quote_validity_days,
        "updated_at": settings.updated_at,
    }


def _quote_response(quote: Quote, clock: Clock, status: int = 200, **extra: Any) -> Response:
    headers = {"ETag": etag(quote.version)}
    if status == 201:
        headers["Location"] = f"/v1/quotes/{quote.id}"
    return json_response(render_quote(quote, clock.now()) | extra, status=status, headers=headers)


def _invoice_response(invoice: Invoice, clock: Clock, status: int = 200) -> Response:
    headers = {"ETag": etag(invoice.version)}
    if status == 201:
        headers["Location"] = f"/v1/invoices/{invoice.id}"
    return json_response(render_invoice(invoice, clock.now()), status=status, headers=headers)


def _payment_response(recorded: payments.PaymentRecorded) -> Response:
    payment = recorded.payment
    headers = {"Location": f"/v1/invoices/{payment.invoice_id}/payments/{payment.id}"}
    return json_response(render_payment(payment), status=201 if recorded.created else 200, headers=headers)


def _pdf(body: bytes, renderer: DocumentRenderer, name: str) -> Response:
    return Response(
        body,
        content_type=renderer.media_type,
        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
    )


# --- settings ----------------------------------------------------------------------------------


@blueprint.get("/sales/settings")
@tag(["sales"])
@document_response(SettingsOut)
@inject
async def get_settings(units: UnitOfWorkFactory = Provide[Container.units]) -> Response:
    """The tenant's sales settings (the defaults until changed), with their ETag."""
    settings = await handlers.get_sales_settings(*acting(units))
    return json_response(render_settings(settings), headers={"ETag": etag(settings.version)})


@blueprint.patch("/sales/settings")
@tag(["sales"])
@validate_request(SettingsPatch)
@document_response(SettingsOut)
@inject
async def update_settings(
    data: SettingsPatch,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Change the currency of new documents, number patterns or default terms. Honours If-Match."""
    command = handlers.UpdateSalesSettings(data.model_dump(exclude_unset=True), if_match_version())
    settings = await handlers.update_sales_settings(command, *acting(units), clock)
    return json_response(render_settings(settings), headers={"ETag": etag(settings.version)})


# --- quotes ------------------------------------------------------------------------------------


@blueprint.post("/quotes")
@tag(["quotes"])
@validate_request(QuoteIn)
@document_response(QuoteOut, 201)
@idempotent
@inject
async def create_quote(
    data: QuoteIn,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Draft a quote in the tenant's currency; it gets its number now. Honours Idempotency-Key."""
    command = handlers.CreateQuote(
        data.customer_id, [line.to_input() for line in data.lines], data.notes, data.valid_until
    )
    quote = await handlers.create_quote(command, *acting(units), clock)
    return _quote_response(quote, clock, status=201)


@blueprint.get("/quotes")
@tag(["quotes"])
@validate_querystring(QuoteListQuery)
@document_response(QuoteListOut)
@inject
async def list_quotes(
    query_args: QuoteListQuery,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """List quotes, newest first; filter by ``status`` and ``customer_id``."""
    filters = QuoteFilter(query_args.status, query_args.customer_id)
    page = await handlers.list_quotes(handlers.ListQuotes(page_request(query_args), filters), *acting(units))
    now = clock.now()
    return list_response(page, lambda quote: render_quote(quote, now), encode_cursor)


@blueprint.get("/quotes/<uuid:quote_id>")
@tag(["quotes"])
@document_response(QuoteOut)
@inject
async def get_quote(
    quote_id: UUID,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Fetch one quote, with its ETag."""
    return _quote_response(await handlers.get_quote(quote_id, *acting(units)), clock)


@blueprint.patch("/quotes/<uuid:quote_id>")
@tag(["quotes"])
@validate_request(QuotePatch)
@document_response(QuoteOut)
@inject
async def update_quote(
    quote_id: UUID,
    data: QuotePatch,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Change a draft quote (409 once sent). Honours If-Match."""
    changes = data.model_dump(exclude_unset=True)
    if data.lines is not None:
        changes["lines"] = [line.to_input() for line in data.lines]
    command = handlers.UpdateQuote(quote_id, changes, if_match_version())
    return _quote_response(await handlers.update_quote(command, *acting(units), clock), clock)


@blueprint.delete("/quotes/<uuid:quote_id>")
@tag(["quotes"])
@inject
async def delete_quote(quote_id: UUID, units: UnitOfWorkFactory = Provide[Container.units]) -> Response:
    """Delete a draft quote (409 once sent). Honours If-Match."""
    await handlers.delete_quote(quote_id, if_match_version(), *acting(units))
    return Response(status=204)


@blueprint.post("/quotes/<uuid:quote_id>/send")
@tag(["quotes"])
@document_response(SentQuoteOut)
@inject
async def send_quote(
    quote_id: UUID,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
    settings: Settings = Provide[Container.settings],
) -> Response:
    """Mail the customer a link to the quote's public page (a new link each time: the previous
    one stops working). The link is in this answer too, this once."""
    command = handlers.SendQuote(quote_id, settings.public_url)
    sent = await handlers.send_quote(command, *acting(units), clock)
    return _quote_response(sent.quote, clock, link=sent.link)


@blueprint.post("/quotes/<uuid:quote_id>/accept")
@tag(["quotes"])
@document_response(QuoteOut)
@inject
async def accept_quote(
    quote_id: UUID,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Record that the customer accepted a sent quote (by phone, say). Idempotent."""
    return _quote_response(await handlers.decide_quote(quote_id, True, *acting(units), clock), clock)


@blueprint.post("/quotes/<uuid:quote_id>/reject")
@tag(["quotes"])
@document_response(QuoteOut)
@inject
async def reject_quote(
    quote_id: UUID,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Record that the customer declined a sent quote. Idempotent."""
    return _quote_response(await handlers.decide_quote(quote_id, False, *acting(units), clock), clock)


@blueprint.delete("/quotes/<uuid:quote_id>/link")
@tag(["quotes"])
@inject
async def revoke_quote_link(
    quote_id: UUID,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Withdraw the quote's public link at once."""
    await handlers.revoke_quote_link(quote_id, *acting(units), clock)
    return Response(status=204)


@blueprint.post("/quotes/<uuid:quote_id>/convert")
@tag(["quotes"])
@document_response(InvoiceOut, 201)
@idempotent
@inject
async def convert_quote(
    quote_id: UUID,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Make a draft invoice from an accepted quote, once (409 ``already_converted`` after)."""
    invoice = await handlers.convert_quote(quote_id, *acting(units), clock)
    return _invoice_response(invoice, clock, status=201)


@blueprint.get("/quotes/<uuid:quote_id>.pdf")
@tag(["quotes"])
@inject
async def quote_pdf(
    quote_id: UUID,
    units: UnitOfWorkFactory = Provide[Container.units],
    renderer: DocumentRenderer = Provide[Container.document_renderer],
) -> Response:
    """The quote as a PDF."""
    body = await handlers.quote_pdf(quote_id, *acting(units), renderer)
    return _pdf(body, renderer, f"quote-{quote_id}")


# --- invoices ----------------------------------------------------------------------------------


@blueprint.post("/invoices")
@tag(["invoices"])
@validate_request(InvoiceIn)
@document_response(InvoiceOut, 201)
@idempotent
@inject
async def create_invoice(
    data: InvoiceIn,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Draft an invoice in the tenant's currency; it gets its number when issued."""
    command = handlers.CreateInvoice(
        data.customer_id, [line.to_input() for line in data.lines], data.notes, data.payment_terms_days
    )
    invoice = await handlers.create_invoice(command, *acting(units), clock)
    return _invoice_response(invoice, clock, status=201)


@blueprint.get("/invoices")
@tag(["invoices"])
@validate_querystring(InvoiceListQuery)
@document_response(InvoiceListOut)
@inject
async def list_invoices(
    query_args: InvoiceListQuery,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """List invoices, newest first; filter by ``status``, ``customer_id``, ``overdue=true``."""
    now = clock.now()
    if query_args.overdue is False:
        raise ApiError(
            400,
            "overdue filters only with true",
            "validation_error",
            errors=[{"field": "overdue", "message": "may only be true"}],
        )
    filters = InvoiceFilter(
        query_args.status, query_args.customer_id, today(now) if query_args.overdue else None
    )
    command = handlers.ListInvoices(page_request(query_args), filters)
    page = await handlers.list_invoices(command, *acting(units))
    return list_response(page, lambda invoice: render_invoice(invoice, now), encode_cursor)


@blueprint.get("/invoices/<uuid:invoice_id>")
@tag(["invoices"])
@document_response(InvoiceOut)
@inject
async def get_invoice(
    invoice_id: UUID,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Fetch one invoice, with its ETag."""
    return _invoice_response(await handlers.get_invoice(invoice_id, *acting(units)), clock)


@blueprint.patch("/invoices/<uuid:invoice_id>")
@tag(["invoices"])
@validate_request(InvoicePatch)
@document_response(InvoiceOut)
@inject
async def update_invoice(
    invoice_id: UUID,
    data: InvoicePatch,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Change a draft invoice; an issued one is locked (409 ``invoice_locked``: void it and
    issue a new one). Honours If-Match."""
    changes = data.model_dump(exclude_unset=True)
    if data.lines is not None:
        changes["lines"] = [line.to_input() for line in data.lines]
    command = handlers.UpdateInvoice(invoice_id, changes, if_match_version())
    return _invoice_response(await handlers.update_invoice(command, *acting(units), clock), clock)


@blueprint.delete("/invoices/<uuid:invoice_id>")
@tag(["invoices"])
@inject
async def delete_invoice(invoice_id: UUID, units: UnitOfWorkFactory = Provide[Container.units]) -> Response:
    """Delete a draft invoice (it has no number yet). Honours If-Match."""
    await handlers.delete_invoice(invoice_id, if_match_version(), *acting(units))
    return Response(status=204)


@blueprint.post("/invoices/<uuid:invoice_id>/issue")
@tag(["invoices"])
@document_response(InvoiceOut)
@inject
async def issue_invoice(
    invoice_id: UUID,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Issue a draft: it takes the next number of the tenant's pattern and is locked."""
    return _invoice_response(await handlers.issue_invoice(invoice_id, *acting(units), clock), clock)


@blueprint.post("/invoices/<uuid:invoice_id>/void")
@tag(["invoices"])
@validate_request(VoidIn)
@document_response(InvoiceOut)
@inject
async def void_invoice(
    invoice_id: UUID,
    data: VoidIn,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Void an issued invoice that holds no payment; it keeps its number."""
    command = handlers.VoidInvoice(invoice_id, data.reason)
    return _invoice_response(await handlers.void_invoice(command, *acting(units), clock), clock)


@blueprint.get("/invoices/<uuid:invoice_id>.pdf")
@tag(["invoices"])
@inject
async def invoice_pdf(
    invoice_id: UUID,
    units: UnitOfWorkFactory = Provide[Container.units],
    renderer: DocumentRenderer = Provide[Container.document_renderer],
) -> Response:
    """The invoice as a PDF."""
    body = await handlers.invoice_pdf(invoice_id, *acting(units), renderer)
    return _pdf(body, renderer, f"invoice-{invoice_id}")


@blueprint.post("/invoices/<uuid:invoice_id>/payments")
@tag(["invoices"])
@validate_request(PaymentIn)
@document_response(PaymentOut, 201)
@idempotent
@inject
async def record_payment(
    invoice_id: UUID,
    data: PaymentIn,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Record money received (cash, bank transfer, cheque...). At most what is due (409
    ``overpayment``). A payment whose ``external_id`` was already recorded is not recorded
    again: the answer is 200 with the payment recorded the first time."""
    command = payments.RecordPayment(
        invoice_id,
        data.amount.amount,
        data.method,
        data.reference,
        data.external_id,
        data.received_at,
        data.amount.currency,
    )
    return _payment_response(await payments.record_payment(command, *acting(units), clock))


@blueprint.get("/invoices/<uuid:invoice_id>/payments")
@tag(["invoices"])
@document_response(PaymentListOut)
@inject
async def list_payments(invoice_id: UUID, units: UnitOfWorkFactory = Provide[Container.units]) -> Response:
    """Every payment and refund of the invoice, oldest first."""
    recorded = await payments.list_payments(invoice_id, *acting(units))
    body = {
        "object": "list",
        "data": [render_payment(p) for p in recorded],
        "has_more": False,
        "next_cursor": None,
    }
    return json_response(body)


@blueprint.get("/invoices/<uuid:invoice_id>/payments/<uuid:payment_id>")
@tag(["invoices"])
@document_response(PaymentOut)
@inject
async def get_payment(
    invoice_id: UUID, payment_id: UUID, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """One payment or refund of the invoice."""
    payment = await payments.get_payment(invoice_id, payment_id, *acting(units))
    return json_response(render_payment(payment))


# POST /invoices/{invoice_id}/refunds lives in payments.py: a refund of a payment taken through
# the payments provider goes back through it; any other is recorded as payments.record_refund does.
