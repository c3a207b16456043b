"""Sales repositories over the memory store, behaving as the PostgreSQL ones do.

The store runs one unit of work at a time, so every lock PostgreSQL takes (a document
``for_update``, a counter being drawn from) is held here by construction. The constraints the
schema enforces (unique numbers, one invoice per quote, one payment per external id, foreign
keys, amounts within bounds) are checked here too.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from uuid import UUID

from switchboard.adapters.memory.repositories import _Scoped, newest_first
from switchboard.core.customers.timeline import TimelineEntry, newest_after
from switchboard.core.errors import Conflict
from switchboard.core.pagination import Page, PageRequest, Position
from switchboard.core.sales.model import (
    CounterKind,
    Invoice,
    InvoiceFilter,
    InvoiceStatus,
    Payment,
    Quote,
    QuoteFilter,
    SalesSettings,
)
from switchboard.core.sales.timeline import invoice_entry, payment_entry, quote_entry

NUMBER_TAKEN = "another document of this tenant already has this number: change the number pattern"
_OPEN = (InvoiceStatus.SENT, InvoiceStatus.PARTIALLY_PAID)


class MemorySalesSettingsRepository(_Scoped):
    async def get(self) -> SalesSettings | None:
        found: SalesSettings | None = self._tx.read("sales_settings").get(self._tenant_id)
        return found

    async def save(self, settings: SalesSettings, expected_version: int) -> bool:
        tenant_id = self._tenant_id
        if tenant_id is None:
            raise PermissionError("row violates the tenant isolation policy")
        self._check_own_tenant(tenant_id)
        current = self._tx.read("sales_settings").get(tenant_id)
        stored_version = current.version if current is not None else 0
        if stored_version != expected_version:
            return False
        self._tx.write("sales_settings")[tenant_id] = replace(settings, tenant_id=tenant_id)
        return True


class MemorySalesCounterRepository(_Scoped):
    async def next_value(self, kind: CounterKind, period: str) -> int:
        tenant_id = self._tenant_id
        if tenant_id is None:
            raise PermissionError("row violates the tenant isolation policy")
        self._check_own_tenant(tenant_id)
        key = (tenant_id, kind.value, period)
        value = int(self._tx.read("sales_counters").get(key, 0)) + 1
        self._tx.write("sales_counters")[key] = value
        return value


class MemoryQuoteRepository(_Scoped):
    async def add(self, quote: Quote) -> None:
        self._check_own_tenant(quote.tenant_id)
        if any(q.number == quote.number for q in self._own()):
            raise Conflict(NUMBER_TAKEN, code="number_taken")
        self._tx.insert("quotes", (quote.tenant_id, quote.id), quote)

    async def get(self, quote_id: UUID, *, for_update: bool = False) -> Quote | None:
        found: Quote | None = self._tx.read("quotes").get((self._tenant_id, quote_id))
        return found

    async def timeline(self, customer_id: UUID, after: Position | None, limit: int) -> list[TimelineEntry]:
        entries = [quote_entry(q) for q in self._own() if q.bill_to.customer_id == customer_id]
        return newest_after(entries, after, limit)

    async def list(self, page: PageRequest, filters: QuoteFilter) -> Page[Quote]:
        rows = [
            q
            for q in self._own()
            if (filters.status is None or q.status is filters.status)
            and (filters.customer_id is None or q.bill_to.customer_id == filters.customer_id)
        ]
        return newest_first(rows, page)

    async def update(self, quote: Quote, expected_version: int) -> bool:
        current = await self.get(quote.id)
        if current is None or current.version != expected_version:
            return False
        self._tx.write("quotes")[(self._tenant_id, quote.id)] = replace(
            quote,
            tenant_id=current.tenant_id,
            number=current.number,
            currency=current.currency,
            created_at=current.created_at,
        )
        return True

    async def delete(self, quote_id: UUID) -> bool:
        if any(i.quote_id == quote_id for i in _own_invoices(self)):
            raise ValueError("invoices_quote_fkey: the quote has an invoice")
        return self._tx.write("quotes").pop((self._tenant_id, quote_id), None) is not None

    def _own(self) -> list[Quote]:
        return [q for (tid, _), q in self._tx.read("quotes").items() if tid == self._tenant_id]


def _own_invoices(scoped: _Scoped) -> list[Invoice]:
    rows = scoped._tx.read("invoices").items()
    return [i for (tid, _), i in rows if tid == scoped._tenant_id]


class MemoryInvoiceRepository(_Scoped):
    async def add(self, invoice: Invoice) -> None:
        self._check_own_tenant(invoice.tenant_id)
        own = _own_invoices(self)
        if invoice.quote_id is not None:
            if (invoice.tenant_id, invoice.quote_id) not in self._tx.read("quotes"):
                raise LookupError("invoices_quote_fkey: no such quote")
            if any(i.quote_id == invoice.quote_id for i in own):
                raise Conflict("the quote was already converted to an invoice", code="already_converted")
        _check_invoice(invoice, own)
        self._tx.insert("invoices", (invoice.tenant_id, invoice.id), invoice)

    async def get(self, invoice_id: UUID, *, for_update: bool = False) -> Invoice | None:
        found: Invoice | None = self._tx.read("invoices").get((self._tenant_id, invoice_id))
        return found

    async def timeline(self, customer_id: UUID, after: Position | None, limit: int) -> list[TimelineEntry]:
        entries = [invoice_entry(i) for i in _own_invoices(self) if i.bill_to.customer_id == customer_id]
        return newest_after(entries, after, limit)

    async def list(self, page: PageRequest, filters: InvoiceFilter) -> Page[Invoice]:
        rows = [i for i in _own_invoices(self) if _matches(i, filters)]
        return newest_first(rows, page)

    async def update(self, invoice: Invoice, expected_version: int) -> bool:
        current = await self.get(invoice.id)
        if current is None or current.version != expected_version:
            return False
        stored = replace(
            invoice,
            tenant_id=current.tenant_id,
            currency=current.currency,
            quote_id=current.quote_id,
            created_at=current.created_at,
        )
        _check_invoice(stored, [i for i in _own_invoices(self) if i.id != invoice.id])
        self._tx.write("invoices")[(self._tenant_id, invoice.id)] = stored
        return True

    async def delete(self, invoice_id: UUID) -> bool:
        if any(p.invoice_id == invoice_id for p in _own_payments(self)):
            raise ValueError("payments_invoice_fkey: the invoice has payments")
        return self._tx.write("invoices").pop((self._tenant_id, invoice_id), None) is not None


def _check_invoice(invoice: Invoice, others: list[Invoice]) -> None:
    """The table's checks and its unique number."""
    if not 0 <= invoice.amount_paid <= invoice.totals.total or invoice.amount_refunded < 0:
        raise ValueError("invoices_amount_paid_check: amounts out of bounds")
    if (invoice.status is InvoiceStatus.DRAFT) != (invoice.number is None):
        raise ValueError("invoices_number_check: a number exactly when issued")
    if invoice.number is not None and any(i.number == invoice.number for i in others):
        raise Conflict(NUMBER_TAKEN, code="number_taken")


def _matches(invoice: Invoice, filters: InvoiceFilter) -> bool:
    return (
        (filters.status is None or invoice.status is filters.status)
        and (filters.customer_id is None or invoice.bill_to.customer_id == filters.customer_id)
        and (filters.due_before is None or _due_before(invoice, filters.due_before))
    )


def _due_before(invoice: Invoice, day: date) -> bool:
    return invoice.status in _OPEN and invoice.due_date is not None and invoice.due_date < day


def _own_payments(scoped: _Scoped) -> list[Payment]:
    rows = scoped._tx.read("payments").items()
    return [p for (tid, _), p in rows if tid == scoped._tenant_id]


class MemoryPaymentRepository(_Scoped):
    """Append-only, as the PostgreSQL grants make the table."""

    async def add(self, payment: Payment) -> None:
        self._check_own_tenant(payment.tenant_id)
        if (payment.tenant_id, payment.invoice_id) not in self._tx.read("invoices"):
            raise LookupError("payments_invoice_fkey: no such invoice")
        if payment.amount <= 0:
            raise ValueError("payments_amount_check: amount must be positive")
        if payment.external_id is not None and any(
            p.external_id == payment.external_id for p in _own_payments(self)
        ):
            raise Conflict(
                f"external_id {payment.external_id!r} was already recorded", code="external_id_taken"
            )
        self._tx.insert("payments", (payment.tenant_id, payment.id), payment)

    async def get(self, payment_id: UUID) -> Payment | None:
        found: Payment | None = self._tx.read("payments").get((self._tenant_id, payment_id))
        return found

    async def get_by_external_id(self, external_id: str) -> Payment | None:
        return next((p for p in _own_payments(self) if p.external_id == external_id), None)

    async def timeline(self, customer_id: UUID, after: Position | None, limit: int) -> list[TimelineEntry]:
        entries = [payment_entry(p) for p in _own_payments(self) if p.customer_id == customer_id]
        return newest_after(entries, after, limit)

    async def list_for_invoice(self, invoice_id: UUID) -> list[Payment]:
        rows = [p for p in _own_payments(self) if p.invoice_id == invoice_id]
        return sorted(rows, key=lambda p: (p.created_at, p.id))
