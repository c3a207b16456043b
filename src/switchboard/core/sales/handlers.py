"""Sales use cases: settings, quotes and invoices (payments live in ``payments.py``, the
customer's public quote page in ``public.py``).

Who may do what (core/tenancy/permissions.py): everyone reads (SALES_READ); every member drafts,
sends, converts and issues, and records payments (SALES_WRITE); owners and admins change the
settings, void invoices and refund (SALES_MANAGE). An API key needs ``sales:read`` or
``sales:write`` (write also manages).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, NoReturn
from uuid import UUID, uuid4

from switchboard.core.audit.model import diff
from switchboard.core.errors import Conflict, InvalidInput, NotFound, PreconditionFailed, gather
from switchboard.core.identity.model import Principal, new_opaque_token
from switchboard.core.pagination import Page, PageRequest
from switchboard.core.queues.model import new_outbox_message
from switchboard.core.reminders import handlers as reminders
from switchboard.core.sales.currencies import clean_currency, format_money
from switchboard.core.sales.model import (
    MAX_TERMS_DAYS,
    MAX_VALIDITY_DAYS,
    REASON_MAX,
    BillTo,
    CounterKind,
    DocumentParty,
    Invoice,
    InvoiceFilter,
    InvoiceStatus,
    Quote,
    QuoteFilter,
    QuoteStatus,
    SalesDocument,
    SalesSettings,
    clean_days,
    clean_notes,
    clean_text,
    end_of,
    today,
)
from switchboard.core.sales.numbering import clean_pattern
from switchboard.core.sales.totals import Line, LineInput, decimal_text, priced_lines, totals_of
from switchboard.core.tenancy.permissions import Action, require

if TYPE_CHECKING:  # ports appear in annotations only; the core imports nothing outside itself
    from switchboard.ports.clock import Clock
    from switchboard.ports.documents import DocumentRenderer
    from switchboard.ports.persistence import UnitOfWork

QUOTE_NOT_FOUND = "no quote with this id"
INVOICE_NOT_FOUND = "no invoice with this id"
EMAIL_KIND = "email.send"  # the tenant's email provider, as the worker sends it
LINK_TOKEN_PREFIX = "sbq_"  # noqa: S105 (a prefix that makes leaked links recognisable)


# --- settings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpdateSalesSettings:
    changes: dict[str, Any]  # only the fields the client sent
    if_match: int | None = None


async def get_sales_settings(principal: Principal, uow: UnitOfWork) -> SalesSettings:
    require(principal, Action.SALES_READ)
    async with uow:
        return await settings_of(uow, principal.tenant_id)


async def update_sales_settings(
    cmd: UpdateSalesSettings, principal: Principal, uow: UnitOfWork, clock: Clock
) -> SalesSettings:
    require(principal, Action.SALES_MANAGE)
    changes = _settings_changes(cmd.changes)
    async with uow:
        current = await settings_of(uow, principal.tenant_id)
        if cmd.if_match is not None and cmd.if_match != current.version:
            raise PreconditionFailed("the sales settings changed since they were read")
        updated = replace(current, **changes, updated_at=clock.now(), version=current.version + 1)
        if not await uow.sales_settings.save(updated, expected_version=current.version):
            raise PreconditionFailed("the sales settings changed while they were being updated")
        changed = diff(_settings_fields(current), _settings_fields(updated))
        await uow.audit.record("sales_settings.updated", "sales_settings", str(principal.tenant_id), changed)
        await uow.commit()
    return updated


async def settings_of(uow: UnitOfWork, tenant_id: UUID) -> SalesSettings:
    return await uow.sales_settings.get() or SalesSettings(tenant_id)


def _settings_changes(changes: dict[str, Any]) -> dict[str, Any]:
    checks = {
        "currency": lambda value: clean_currency(str(value)),
        "invoice_number_pattern": lambda value: clean_pattern(str(value), "invoice_number_pattern").text,
        "quote_number_pattern": lambda value: clean_pattern(str(value), "quote_number_pattern").text,
        "payment_terms_days": lambda value: clean_days(value, "payment_terms_days", MAX_TERMS_DAYS),
        "quote_validity_days": lambda value: clean_days(value, "quote_validity_days", MAX_VALIDITY_DAYS),
    }
    unknown = sorted(set(changes) - set(checks))
    if unknown:
        raise InvalidInput.single(unknown[0], "is not a sales setting")
    return gather({name: partial(checks[name], value) for name, value in changes.items()})


def _settings_fields(settings: SalesSettings) -> dict[str, Any]:
    return {
        "currency": settings.currency,
        "invoice_number_pattern": settings.invoice_number_pattern,
        "quote_number_pattern": settings.quote_number_pattern,
        "payment_terms_days": settings.payment_terms_days,
        "quote_validity_days": settings.quote_validity_days,
    }


# --- quotes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateQuote:
    customer_id: UUID
    lines: list[LineInput] = field(default_factory=list)
    notes: str | None = None
    valid_until: date | None = None  # default: today plus the tenant's quote validity


@dataclass(frozen=True)
class UpdateQuote:
    quote_id: UUID
    # Only what the client sent: customer_id, lines (replaces them all), notes, valid_until.
    changes: dict[str, Any]
    if_match: int | None = None


@dataclass(frozen=True)
class ListQuotes:
    page: PageRequest = field(default_factory=PageRequest)
    filters: QuoteFilter = field(default_factory=QuoteFilter)


@dataclass(frozen=True)
class SendQuote:
    quote_id: UUID
    public_url: str  # where this API answers: the mailed link is {public_url}/q/{token}


@dataclass(frozen=True)
class SentQuote:
    quote: Quote
    link: str  # the public page's address; shown to the sender once, also mailed


async def create_quote(cmd: CreateQuote, principal: Principal, uow: UnitOfWork, clock: Clock) -> Quote:
    require(principal, Action.SALES_WRITE)
    notes = clean_notes(cmd.notes)
    now = clock.now()
    async with uow:
        settings = await settings_of(uow, principal.tenant_id)
        lines = priced_lines(cmd.lines, settings.currency)
        valid_until = _valid_until(cmd.valid_until, now) or today(now) + timedelta(
            days=settings.quote_validity_days
        )
        bill_to = await _bill_to(uow, cmd.customer_id)
        number = await _next_number(uow, settings, CounterKind.QUOTE, today(now))
        quote = Quote(
            id=uuid4(),
            tenant_id=principal.tenant_id,
            number=number,
            bill_to=bill_to,
            currency=settings.currency,
            lines=lines,
            totals=totals_of(lines),
            notes=notes,
            valid_until=valid_until,
            status=QuoteStatus.DRAFT,
            created_at=now,
            updated_at=now,
        )
        await uow.quotes.add(quote)
        await uow.audit.record("quote.created", "quote", str(quote.id), quote_fields(quote))
        await uow.commit()
    return quote


async def get_quote(quote_id: UUID, principal: Principal, uow: UnitOfWork) -> Quote:
    require(principal, Action.SALES_READ)
    async with uow:
        return await _quote(uow, quote_id)


async def list_quotes(cmd: ListQuotes, principal: Principal, uow: UnitOfWork) -> Page[Quote]:
    require(principal, Action.SALES_READ)
    async with uow:
        return await uow.quotes.list(cmd.page, cmd.filters)


async def update_quote(cmd: UpdateQuote, principal: Principal, uow: UnitOfWork, clock: Clock) -> Quote:
    require(principal, Action.SALES_WRITE)
    now = clock.now()
    async with uow:
        current = await _quote(uow, cmd.quote_id, for_update=True)
        _check_version(current.version, cmd.if_match, "quote")
        if current.status is not QuoteStatus.DRAFT:
            raise Conflict("only a draft quote can be changed: make a new quote instead", code="quote_locked")
        allowed = {"customer_id", "lines", "notes", "valid_until"}
        changes = _document_changes(cmd.changes, now, allowed, current.currency)
        updated = replace(
            current, **await _resolved(uow, changes), updated_at=now, version=current.version + 1
        )
        updated = replace(updated, totals=totals_of(updated.lines))
        if not await uow.quotes.update(updated, expected_version=current.version):
            raise PreconditionFailed("the quote changed while it was being updated")
        changed = diff(quote_fields(current), quote_fields(updated))
        await uow.audit.record("quote.updated", "quote", str(updated.id), changed)
        await uow.commit()
    return updated


async def delete_quote(quote_id: UUID, if_match: int | None, principal: Principal, uow: UnitOfWork) -> None:
    require(principal, Action.SALES_WRITE)
    async with uow:
        current = await _quote(uow, quote_id, for_update=True)
        _check_version(current.version, if_match, "quote")
        if current.status is not QuoteStatus.DRAFT:
            raise Conflict("only a draft quote can be deleted", code="quote_locked")
        await uow.quotes.delete(quote_id)
        await uow.audit.record("quote.deleted", "quote", str(quote_id), quote_fields(current))
        await uow.commit()


async def send_quote(cmd: SendQuote, principal: Principal, uow: UnitOfWork, clock: Clock) -> SentQuote:
    """Mail the customer a link to the quote's public page, where they accept or reject it.

    A draft becomes sent; sending a sent quote again mails a new link and the old one stops
    working. The link works until the end of the validity date (UTC), or until revoked.
    """
    require(principal, Action.SALES_WRITE)
    now = clock.now()
    plain, token_hash = new_opaque_token(LINK_TOKEN_PREFIX)
    link = f"{cmd.public_url.rstrip('/')}/q/{plain}"
    async with uow:
        current = await _quote(uow, cmd.quote_id, for_update=True)
        if current.status not in (QuoteStatus.DRAFT, QuoteStatus.SENT):
            raise Conflict(f"the quote was already {current.status}", code="quote_decided")
        if not current.lines:
            raise Conflict("a quote needs at least one line before it is sent", code="quote_incomplete")
        if now >= end_of(current.valid_until):
            raise Conflict(
                "the quote's validity date has passed: change valid_until (drafts) or make a new quote",
                code="quote_expired",
            )
        bill_to = current.bill_to
        if current.status is QuoteStatus.DRAFT:
            bill_to = await _bill_to(uow, bill_to.customer_id, refresh_of=bill_to)
        if not bill_to.email:
            raise Conflict("the customer has no email address to send the quote to", code="no_email")
        updated = replace(
            current,
            bill_to=bill_to,
            status=QuoteStatus.SENT,
            sent_at=now,
            link_token_hash=token_hash,
            updated_at=now,
            version=current.version + 1,
        )
        if not await uow.quotes.update(updated, expected_version=current.version):
            raise PreconditionFailed("the quote changed while it was being sent")
        seller = await _seller(uow)
        await uow.outbox.add(
            new_outbox_message(
                principal.tenant_id,
                EMAIL_KIND,
                {
                    "to": bill_to.email,
                    "subject": f"Quote {updated.number} from {seller}",
                    "text": _quote_mail(updated, seller, link),
                },
                now,
            )
        )
        await reminders.quote_sent(uow, updated, now)
        changes = {"status": {"from": current.status.value, "to": updated.status.value}, "to": bill_to.email}
        await uow.audit.record("quote.sent", "quote", str(updated.id), changes)
        await uow.commit()
    return SentQuote(updated, link)


async def decide_quote(
    quote_id: UUID, accept: bool, principal: Principal, uow: UnitOfWork, clock: Clock
) -> Quote:
    """Record the customer's answer on their behalf (given by phone, say); the public page is
    the customer's own way (``public.answer_quote_link``)."""
    require(principal, Action.SALES_WRITE)
    async with uow:
        current = await _quote(uow, quote_id, for_update=True)
        decided = await record_decision(uow, current, accept, clock.now())
        await uow.commit()
    return decided


async def record_decision(uow: UnitOfWork, quote: Quote, accept: bool, now: datetime) -> Quote:
    """Accept or reject a sent quote (locked by the caller). Idempotent: the same answer again
    changes nothing; the other answer, or any answer to a draft or expired quote, is refused."""
    wanted = QuoteStatus.ACCEPTED if accept else QuoteStatus.REJECTED
    if quote.status is wanted:
        return quote
    if quote.status is not QuoteStatus.SENT:
        if quote.status is QuoteStatus.DRAFT:
            raise Conflict("the quote has not been sent yet", code="quote_not_sent")
        raise Conflict(f"the quote was already {quote.status}", code="quote_decided")
    if quote.expired(now):
        raise Conflict(f"the quote expired at the end of {quote.valid_until}", code="quote_expired")
    decided = replace(quote, status=wanted, decided_at=now, updated_at=now, version=quote.version + 1)
    if not await uow.quotes.update(decided, expected_version=quote.version):
        raise PreconditionFailed("the quote changed while it was being answered")
    changes = {"status": {"from": quote.status.value, "to": wanted.value}}
    await uow.audit.record(f"quote.{wanted.value}", "quote", str(quote.id), changes)
    return decided


async def revoke_quote_link(quote_id: UUID, principal: Principal, uow: UnitOfWork, clock: Clock) -> Quote:
    """The mailed link stops working at once; sending again makes a new one."""
    require(principal, Action.SALES_WRITE)
    now = clock.now()
    async with uow:
        current = await _quote(uow, quote_id, for_update=True)
        if current.link_token_hash is None:
            return current
        updated = replace(current, link_token_hash=None, updated_at=now, version=current.version + 1)
        if not await uow.quotes.update(updated, expected_version=current.version):
            raise PreconditionFailed("the quote changed while its link was being revoked")
        await uow.audit.record("quote.link_revoked", "quote", str(quote_id))
        await uow.commit()
    return updated


async def convert_quote(quote_id: UUID, principal: Principal, uow: UnitOfWork, clock: Clock) -> Invoice:
    """A draft invoice with the accepted quote's lines, linked both ways. Once per quote: the
    quote is locked while it converts, and storage refuses a second invoice for it."""
    require(principal, Action.SALES_WRITE)
    now = clock.now()
    async with uow:
        quote = await _quote(uow, quote_id, for_update=True)
        if quote.invoice_id is not None:
            raise Conflict(
                f"the quote was already converted to invoice {quote.invoice_id}", code="already_converted"
            )
        if quote.status is not QuoteStatus.ACCEPTED:
            raise Conflict("only an accepted quote can be converted to an invoice", code="quote_not_accepted")
        settings = await settings_of(uow, principal.tenant_id)
        invoice = Invoice(
            id=uuid4(),
            tenant_id=principal.tenant_id,
            number=None,
            bill_to=quote.bill_to,
            currency=quote.currency,
            lines=quote.lines,
            totals=quote.totals,
            notes=quote.notes,
            payment_terms_days=settings.payment_terms_days,
            status=InvoiceStatus.DRAFT,
            created_at=now,
            updated_at=now,
            quote_id=quote.id,
        )
        await uow.invoices.add(invoice)
        linked = replace(quote, invoice_id=invoice.id, updated_at=now, version=quote.version + 1)
        if not await uow.quotes.update(linked, expected_version=quote.version):
            raise PreconditionFailed("the quote changed while it was being converted")
        await uow.audit.record("invoice.created", "invoice", str(invoice.id), invoice_fields(invoice))
        await uow.audit.record("quote.converted", "quote", str(quote.id), {"invoice_id": str(invoice.id)})
        await uow.commit()
    return invoice


# --- invoices ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateInvoice:
    customer_id: UUID
    lines: list[LineInput] = field(default_factory=list)
    notes: str | None = None
    payment_terms_days: int | None = None  # default: the tenant's


@dataclass(frozen=True)
class UpdateInvoice:
    invoice_id: UUID
    # Only what the client sent: customer_id, lines (replaces them all), notes, payment_terms_days.
    changes: dict[str, Any]
    if_match: int | None = None


@dataclass(frozen=True)
class ListInvoices:
    page: PageRequest = field(default_factory=PageRequest)
    filters: InvoiceFilter = field(default_factory=InvoiceFilter)


@dataclass(frozen=True)
class VoidInvoice:
    invoice_id: UUID
    reason: str


async def create_invoice(cmd: CreateInvoice, principal: Principal, uow: UnitOfWork, clock: Clock) -> Invoice:
    require(principal, Action.SALES_WRITE)
    notes = clean_notes(cmd.notes)
    terms = None
    if cmd.payment_terms_days is not None:
        terms = clean_days(cmd.payment_terms_days, "payment_terms_days", MAX_TERMS_DAYS)
    now = clock.now()
    async with uow:
        settings = await settings_of(uow, principal.tenant_id)
        lines = priced_lines(cmd.lines, settings.currency)
        invoice = Invoice(
            id=uuid4(),
            tenant_id=principal.tenant_id,
            number=None,
            bill_to=await _bill_to(uow, cmd.customer_id),
            currency=settings.currency,
            lines=lines,
            totals=totals_of(lines),
            notes=notes,
            payment_terms_days=settings.payment_terms_days if terms is None else terms,
            status=InvoiceStatus.DRAFT,
            created_at=now,
            updated_at=now,
        )
        await uow.invoices.add(invoice)
        await uow.audit.record("invoice.created", "invoice", str(invoice.id), invoice_fields(invoice))
        await uow.commit()
    return invoice


async def get_invoice(invoice_id: UUID, principal: Principal, uow: UnitOfWork) -> Invoice:
    require(principal, Action.SALES_READ)
    async with uow:
        return await _invoice(uow, invoice_id)


async def list_invoices(cmd: ListInvoices, principal: Principal, uow: UnitOfWork) -> Page[Invoice]:
    require(principal, Action.SALES_READ)
    async with uow:
        return await uow.invoices.list(cmd.page, cmd.filters)


async def update_invoice(cmd: UpdateInvoice, principal: Principal, uow: UnitOfWork, clock: Clock) -> Invoice:
    require(principal, Action.SALES_WRITE)
    now = clock.now()
    async with uow:
        current = await _invoice(uow, cmd.invoice_id, for_update=True)
        _check_version(current.version, cmd.if_match, "invoice")
        _check_draft(current)
        allowed = {"customer_id", "lines", "notes", "payment_terms_days"}
        changes = _document_changes(cmd.changes, now, allowed, current.currency)
        updated = replace(
            current, **await _resolved(uow, changes), updated_at=now, version=current.version + 1
        )
        updated = replace(updated, totals=totals_of(updated.lines))
        if not await uow.invoices.update(updated, expected_version=current.version):
            raise PreconditionFailed("the invoice changed while it was being updated")
        changed = diff(invoice_fields(current), invoice_fields(updated))
        await uow.audit.record("invoice.updated", "invoice", str(updated.id), changed)
        await uow.commit()
    return updated


async def delete_invoice(
    invoice_id: UUID, if_match: int | None, principal: Principal, uow: UnitOfWork
) -> None:
    """Only a draft, which has no number yet: deleting it leaves no gap in the numbering."""
    require(principal, Action.SALES_WRITE)
    async with uow:
        current = await _invoice(uow, invoice_id, for_update=True)
        _check_version(current.version, if_match, "invoice")
        _check_draft(current)
        if current.quote_id is not None:
            quote = await uow.quotes.get(current.quote_id, for_update=True)
            if quote is not None and quote.invoice_id == current.id:  # the quote may convert again
                await uow.quotes.update(
                    replace(quote, invoice_id=None, version=quote.version + 1), quote.version
                )
        await uow.invoices.delete(invoice_id)
        await uow.audit.record("invoice.deleted", "invoice", str(invoice_id), invoice_fields(current))
        await uow.commit()


async def issue_invoice(invoice_id: UUID, principal: Principal, uow: UnitOfWork, clock: Clock) -> Invoice:
    """Draft to sent: the next number of the tenant's pattern, the issue and due dates; from
    then on the invoice is locked. The number comes from the counter row locked in this same
    transaction, so concurrent issues get consecutive numbers and a failed one leaves no gap."""
    require(principal, Action.SALES_WRITE)
    now = clock.now()
    async with uow:
        current = await _invoice(uow, invoice_id, for_update=True)
        if current.status is not InvoiceStatus.DRAFT:
            raise Conflict(f"the invoice was already issued as {current.number}", code="already_issued")
        if not current.lines:
            raise Conflict(
                "an invoice needs at least one line before it is issued", code="invoice_incomplete"
            )
        settings = await settings_of(uow, principal.tenant_id)
        issued_on = today(now)
        bill_to = await _bill_to(uow, current.bill_to.customer_id, refresh_of=current.bill_to)
        number = await _next_number(uow, settings, CounterKind.INVOICE, issued_on)
        nothing_due = current.totals.total == 0
        issued = replace(
            current,
            number=number,
            bill_to=bill_to,
            status=InvoiceStatus.PAID if nothing_due else InvoiceStatus.SENT,
            issue_date=issued_on,
            due_date=issued_on + timedelta(days=current.payment_terms_days),
            issued_at=now,
            paid_at=now if nothing_due else None,
            updated_at=now,
            version=current.version + 1,
        )
        if not await uow.invoices.update(issued, expected_version=current.version):
            raise PreconditionFailed("the invoice changed while it was being issued")
        await reminders.invoice_issued(uow, issued, now)
        changes = {
            "status": {"from": current.status.value, "to": issued.status.value},
            "number": number,
            "due_date": str(issued.due_date),
            "total": issued.totals.total,
        }
        await uow.audit.record("invoice.issued", "invoice", str(invoice_id), changes)
        await uow.commit()
    return issued


async def void_invoice(cmd: VoidInvoice, principal: Principal, uow: UnitOfWork, clock: Clock) -> Invoice:
    """Cancel an issued invoice that holds no money (refund first); it keeps its number, so the
    numbering stays gapless. A draft is deleted instead."""
    require(principal, Action.SALES_MANAGE)
    reason = clean_text(cmd.reason, "reason", REASON_MAX)
    if reason is None:
        raise InvalidInput.single("reason", "must not be blank")
    now = clock.now()
    async with uow:
        current = await _invoice(uow, cmd.invoice_id, for_update=True)
        if current.status is InvoiceStatus.VOID:
            raise Conflict("the invoice is already void", code="invoice_void")
        if current.status is InvoiceStatus.DRAFT:
            raise Conflict("a draft invoice has no number yet: delete it instead", code="invoice_not_issued")
        if current.amount_paid > 0:
            raise Conflict(
                "the invoice holds payments: refund them before voiding it", code="invoice_has_payments"
            )
        voided = replace(
            current,
            status=InvoiceStatus.VOID,
            voided_at=now,
            void_reason=reason,
            updated_at=now,
            version=current.version + 1,
        )
        if not await uow.invoices.update(voided, expected_version=current.version):
            raise PreconditionFailed("the invoice changed while it was being voided")
        changes = {"status": {"from": current.status.value, "to": voided.status.value}, "reason": reason}
        await uow.audit.record("invoice.voided", "invoice", str(voided.id), changes)
        await uow.commit()
    return voided


# --- documents ---------------------------------------------------------------------------------


async def quote_pdf(
    quote_id: UUID, principal: Principal, uow: UnitOfWork, renderer: DocumentRenderer
) -> bytes:
    require(principal, Action.SALES_READ)
    async with uow:
        quote = await _quote(uow, quote_id)
        seller = await _seller(uow)
    return await renderer.render(quote_document(quote, seller))


async def invoice_pdf(
    invoice_id: UUID, principal: Principal, uow: UnitOfWork, renderer: DocumentRenderer
) -> bytes:
    require(principal, Action.SALES_READ)
    async with uow:
        invoice = await _invoice(uow, invoice_id)
        seller = await _seller(uow)
    return await renderer.render(invoice_document(invoice, seller))


def quote_document(quote: Quote, seller: str) -> SalesDocument:
    return SalesDocument(
        kind=CounterKind.QUOTE,
        number=quote.number,
        status=quote.status.value,
        seller=DocumentParty(seller),
        bill_to=DocumentParty(quote.bill_to.name, quote.bill_to.email),
        currency=quote.currency,
        lines=quote.lines,
        totals=quote.totals,
        notes=quote.notes,
        dates=(("Date", quote.created_at.date()), ("Valid until", quote.valid_until)),
    )


def invoice_document(invoice: Invoice, seller: str) -> SalesDocument:
    dates: tuple[tuple[str, date], ...] = ()
    if invoice.issue_date is not None and invoice.due_date is not None:
        dates = (("Issued", invoice.issue_date), ("Due", invoice.due_date))
    extra = (f"Void: {invoice.void_reason}",) if invoice.status is InvoiceStatus.VOID else ()
    issued = invoice.status is not InvoiceStatus.DRAFT
    return SalesDocument(
        kind=CounterKind.INVOICE,
        number=invoice.number,
        status=invoice.status.value,
        seller=DocumentParty(seller),
        bill_to=DocumentParty(invoice.bill_to.name, invoice.bill_to.email),
        currency=invoice.currency,
        lines=invoice.lines,
        totals=invoice.totals,
        notes=invoice.notes,
        dates=dates,
        amount_paid=invoice.amount_paid if issued else None,
        amount_due=invoice.amount_due if issued else None,
        extra=extra,
    )


# --- shared ------------------------------------------------------------------------------------


def quote_fields(quote: Quote) -> dict[str, Any]:
    return {
        "number": quote.number,
        "customer_id": str(quote.bill_to.customer_id),
        "currency": quote.currency,
        "lines": [_line_fields(line) for line in quote.lines],
        "total": quote.totals.total,
        "notes": quote.notes,
        "valid_until": str(quote.valid_until),
        "status": quote.status.value,
    }


def invoice_fields(invoice: Invoice) -> dict[str, Any]:
    return {
        "number": invoice.number,
        "customer_id": str(invoice.bill_to.customer_id),
        "currency": invoice.currency,
        "lines": [_line_fields(line) for line in invoice.lines],
        "total": invoice.totals.total,
        "notes": invoice.notes,
        "payment_terms_days": invoice.payment_terms_days,
        "status": invoice.status.value,
        "quote_id": str(invoice.quote_id) if invoice.quote_id else None,
    }


def _line_fields(line: Line) -> dict[str, Any]:
    return {
        "description": line.description,
        "quantity": decimal_text(line.quantity),
        "unit_price": line.unit_price,
        "tax_rate": decimal_text(line.tax_rate),
        "discount_percent": decimal_text(line.discount_percent),
        "total": line.total,
    }


async def _quote(uow: UnitOfWork, quote_id: UUID, *, for_update: bool = False) -> Quote:
    quote = await uow.quotes.get(quote_id, for_update=for_update)
    if quote is None:
        raise NotFound(QUOTE_NOT_FOUND)
    return quote


async def _invoice(uow: UnitOfWork, invoice_id: UUID, *, for_update: bool = False) -> Invoice:
    invoice = await uow.invoices.get(invoice_id, for_update=for_update)
    if invoice is None:
        raise NotFound(INVOICE_NOT_FOUND)
    return invoice


def _check_version(version: int, if_match: int | None, what: str) -> None:
    if if_match is not None and if_match != version:
        raise PreconditionFailed(f"the {what} changed since it was read")


def _check_draft(invoice: Invoice) -> None:
    if invoice.status is not InvoiceStatus.DRAFT:
        raise Conflict(
            f"invoice {invoice.number} was issued and is locked: void it and issue a new one",
            code="invoice_locked",
        )


async def _bill_to(uow: UnitOfWork, customer_id: UUID, refresh_of: BillTo | None = None) -> BillTo:
    """The customer as they are now; when refreshing a document's, a deleted customer leaves
    the document's copy as it was."""
    customer = await uow.customers.get(customer_id)
    if customer is None:
        if refresh_of is not None:
            return refresh_of
        raise InvalidInput.single("customer_id", "is not a customer of this tenant")
    return BillTo(customer.id, customer.name, customer.email)


async def _seller(uow: UnitOfWork) -> str:
    tenant = await uow.tenants.get()
    return tenant.name if tenant else "Switchboard"


async def _next_number(uow: UnitOfWork, settings: SalesSettings, kind: CounterKind, on: date) -> str:
    pattern = settings.pattern(kind)
    seq = await uow.sales_counters.next_value(kind, pattern.period(on))
    return pattern.render(seq, on)


def _valid_until(value: date | None, now: datetime) -> date | None:
    if value is not None and value < today(now):
        raise InvalidInput.single("valid_until", "must not be in the past")
    return value


def _document_changes(
    changes: dict[str, Any], now: datetime, allowed: set[str], currency: str
) -> dict[str, Any]:
    """The checked changes of a draft, each under the document field it replaces."""
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise InvalidInput.single(unknown[0], "cannot be changed")
    checks: dict[str, Any] = {
        "customer_id": lambda value: value if value is not None else _refuse_null("customer_id"),
        "lines": lambda value: (
            priced_lines(list(value), currency) if value is not None else _refuse_null("lines")
        ),
        "notes": clean_notes,
        "valid_until": lambda value: _valid_until(value, now) or _refuse_null("valid_until"),
        "payment_terms_days": lambda value: clean_days(value, "payment_terms_days", MAX_TERMS_DAYS),
    }
    return gather({name: partial(checks[name], value) for name, value in changes.items()})


def _refuse_null(name: str) -> NoReturn:
    raise InvalidInput.single(name, "must not be null")


async def _resolved(uow: UnitOfWork, changes: dict[str, Any]) -> dict[str, Any]:
    """Document fields from checked changes (a new customer becomes the new bill-to)."""
    fields = dict(changes)
    if "customer_id" in fields:
        fields["bill_to"] = await _bill_to(uow, fields.pop("customer_id"))
    return fields


def _quote_mail(quote: Quote, seller: str, link: str) -> str:
    return (
        f"Hello {quote.bill_to.name},\n\n"
        f"{seller} sent you quote {quote.number} for {format_money(quote.totals.total, quote.currency)}.\n\n"
        f"See it, and accept or decline it, at:\n{link}\n\n"
        f"The quote is valid until {quote.valid_until:%Y-%m-%d}."
    )
