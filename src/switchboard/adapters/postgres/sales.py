"""Sales repositories on PostgreSQL: settings, counters, quotes, invoices, payments.

Lines are stored inside their document as JSONB (decimals as strings, amounts as integers);
totals are columns. Locks (``for_update``, the counter upsert) hold until the unit of work ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from typing import Any
from uuid import UUID

from psycopg.errors import UniqueViolation
from psycopg.types.json import Jsonb
from sqlalchemy import (
    and_,
    bindparam,
    delete,
    insert,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert

from switchboard.adapters.postgres.repositories import (
    Row,
    _Repository,
    customer_timeline_params,
    customer_timeline_sql,
    newest_first,
    this_row,
    versioned_update,
)
from switchboard.adapters.postgres.statements import compile_sql
from switchboard.adapters.postgres.tables import invoices, payments, quotes, sales_counters, sales_settings
from switchboard.core.customers.timeline import TimelineEntry
from switchboard.core.errors import Conflict
from switchboard.core.pagination import Page, PageRequest, Position
from switchboard.core.sales.model import (
    BillTo,
    CounterKind,
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
)
from switchboard.core.sales.timeline import invoice_entry, payment_entry, quote_entry
from switchboard.core.sales.totals import Line, Totals, decimal_text

NUMBER_TAKEN = "another document of this tenant already has this number: change the number pattern"


# --- shared --------------------------------------------------------------------------------------


def _line_json(line: Line) -> dict[str, Any]:
    return {
        "description": line.description,
        "quantity": decimal_text(line.quantity),
        "unit_price": line.unit_price,
        "tax_rate": decimal_text(line.tax_rate),
        "discount_percent": decimal_text(line.discount_percent),
        "subtotal": line.subtotal,
        "discount": line.discount,
        "net": line.net,
        "tax": line.tax,
        "total": line.total,
    }


def _line(document: Mapping[str, Any]) -> Line:
    return Line(
        description=document["description"],
        quantity=Decimal(document["quantity"]),
        unit_price=document["unit_price"],
        tax_rate=Decimal(document["tax_rate"]),
        discount_percent=Decimal(document["discount_percent"]),
        subtotal=document["subtotal"],
        discount=document["discount"],
        net=document["net"],
        tax=document["tax"],
        total=document["total"],
    )


def _document_values(document: Quote | Invoice) -> Row:
    totals = document.totals
    return {
        "tenant_id": document.tenant_id,
        "id": document.id,
        "customer_id": document.bill_to.customer_id,
        "customer_name": document.bill_to.name,
        "customer_email": document.bill_to.email,
        "currency": document.currency,
        "lines": Jsonb([_line_json(line) for line in document.lines]),
        "subtotal": totals.subtotal,
        "discount_total": totals.discount,
        "net_total": totals.net,
        "tax_total": totals.tax,
        "total": totals.total,
        "notes": document.notes,
        "number": document.number,
        "created_at": document.created_at,
        "updated_at": document.updated_at,
        "version": document.version,
    }


def _document_fields(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "tenant_id": row["tenant_id"],
        "number": row["number"],
        "bill_to": BillTo(row["customer_id"], row["customer_name"], row["customer_email"]),
        "currency": row["currency"],
        "lines": tuple(_line(item) for item in row["lines"]),
        "totals": Totals(
            row["subtotal"], row["discount_total"], row["net_total"], row["tax_total"], row["total"]
        ),
        "notes": row["notes"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "version": row["version"],
    }


class _SalesRepository(_Repository):
    async def _write(self, sql: str, params: Row, conflicts: Mapping[str, Conflict]) -> int:
        """Run a write that unique constraints may refuse; each named refusal becomes its
        conflict. Inside a savepoint, so the unit of work can go on."""
        try:
            async with self._conn.transaction():
                return await self._count(sql, params)
        except UniqueViolation as error:
            conflict = conflicts.get(error.diag.constraint_name or "")
            if conflict is None:
                raise
            raise conflict from error


# --- settings and counters ---------------------------------------------------------------------

_SETTINGS_GET = compile_sql(
    select(sales_settings).where(sales_settings.c.tenant_id == bindparam("tenant_id"))
)
_SETTINGS_INSERT = compile_sql(pg_insert(sales_settings).on_conflict_do_nothing(index_elements=["tenant_id"]))
_SETTINGS_UPDATE = compile_sql(
    update(sales_settings)
    .where(
        sales_settings.c.tenant_id == bindparam("tenant_id"),
        sales_settings.c.version == bindparam("expected_version"),
    )
    .values({c.name: bindparam(c.name) for c in sales_settings.columns if c.name != "tenant_id"})
)


class PostgresSalesSettingsRepository(_SalesRepository):
    async def get(self) -> SalesSettings | None:
        row = await self._one(_SETTINGS_GET, {"tenant_id": self._tenant_id})
        return SalesSettings(**row) if row else None

    async def save(self, settings: SalesSettings, expected_version: int) -> bool:
        params: Row = {
            "tenant_id": self._tenant_id,
            "currency": settings.currency,
            "invoice_number_pattern": settings.invoice_number_pattern,
            "quote_number_pattern": settings.quote_number_pattern,
            "payment_terms_days": settings.payment_terms_days,
            "quote_validity_days": settings.quote_validity_days,
            "updated_at": settings.updated_at,
            "version": settings.version,
            "expected_version": expected_version,
        }
        if expected_version == 0:
            return await self._count(_SETTINGS_INSERT, params) == 1
        return await self._count(_SETTINGS_UPDATE, params) == 1


# One statement: made at 1, or counted on; the row stays locked until the transaction ends.
_COUNTER_NEXT = compile_sql(
    pg_insert(sales_counters)
    .values(
        tenant_id=bindparam("tenant_id"),
        kind=bindparam("kind"),
        period=bindparam("period"),
        last_value=literal_column("1"),
    )
    .on_conflict_do_update(
        index_elements=["tenant_id", "kind", "period"],
        set_={"last_value": sales_counters.c.last_value + literal_column("1")},
    )
    .returning(sales_counters.c.last_value)
)


class PostgresSalesCounterRepository(_SalesRepository):
    async def next_value(self, kind: CounterKind, period: str) -> int:
        params = {"tenant_id": self._tenant_id, "kind": kind.value, "period": period}
        row = await self._one(_COUNTER_NEXT, params)
        assert row is not None
        return int(row["last_value"])


# --- quotes ------------------------------------------------------------------------------------

_THIS_QUOTE = this_row(quotes)
_QUOTE_INSERT = compile_sql(insert(quotes))
_QUOTE_GET = compile_sql(select(quotes).where(_THIS_QUOTE))
_QUOTE_GET_FOR_UPDATE = compile_sql(select(quotes).where(_THIS_QUOTE).with_for_update())
_QUOTE_UPDATE = versioned_update(
    quotes,
    "customer_id",
    "customer_name",
    "customer_email",
    "lines",
    "subtotal",
    "discount_total",
    "net_total",
    "tax_total",
    "total",
    "notes",
    "valid_until",
    "status",
    "sent_at",
    "decided_at",
    "invoice_id",
    "link_token_hash",
    "updated_at",
    "version",
)
_QUOTE_DELETE = compile_sql(delete(quotes).where(_THIS_QUOTE))
_QUOTE_TIMELINE = {after: customer_timeline_sql(quotes, after) for after in (False, True)}


@cache
def _quote_list_sql(after: bool, status: bool, customer: bool) -> str:
    statement = newest_first(quotes, after)
    if status:
        statement = statement.where(quotes.c.status == bindparam("status"))
    if customer:
        statement = statement.where(quotes.c.customer_id == bindparam("customer_id"))
    return compile_sql(statement)


def _quote_values(quote: Quote) -> Row:
    return _document_values(quote) | {
        "valid_until": quote.valid_until,
        "status": quote.status.value,
        "sent_at": quote.sent_at,
        "decided_at": quote.decided_at,
        "invoice_id": quote.invoice_id,
        "link_token_hash": quote.link_token_hash,
    }


def _quote(row: Row) -> Quote:
    return Quote(
        **_document_fields(row),
        valid_until=row["valid_until"],
        status=QuoteStatus(row["status"]),
        sent_at=row["sent_at"],
        decided_at=row["decided_at"],
        invoice_id=row["invoice_id"],
        link_token_hash=row["link_token_hash"],
    )


class PostgresQuoteRepository(_SalesRepository):
    async def add(self, quote: Quote) -> None:
        conflicts = {"quotes_tenant_id_number_key": Conflict(NUMBER_TAKEN, code="number_taken")}
        await self._write(_QUOTE_INSERT, _quote_values(quote), conflicts)

    async def get(self, quote_id: UUID, *, for_update: bool = False) -> Quote | None:
        sql = _QUOTE_GET_FOR_UPDATE if for_update else _QUOTE_GET
        row = await self._one(sql, {"tenant_id": self._tenant_id, "id": quote_id})
        return _quote(row) if row else None

    async def timeline(self, customer_id: UUID, after: Position | None, limit: int) -> list[TimelineEntry]:
        params = customer_timeline_params(self._tenant_id, customer_id, after, limit)
        return [
            quote_entry(_quote(row)) for row in await self._all(_QUOTE_TIMELINE[after is not None], params)
        ]

    async def list(self, page: PageRequest, filters: QuoteFilter) -> Page[Quote]:
        params: Row = {
            "status": filters.status.value if filters.status else None,
            "customer_id": filters.customer_id,
        }
        sql = _quote_list_sql(
            page.after is not None, filters.status is not None, filters.customer_id is not None
        )
        return await self._page(sql, params, page, _quote)

    async def update(self, quote: Quote, expected_version: int) -> bool:
        params = _quote_values(quote) | {"tenant_id": self._tenant_id, "expected_version": expected_version}
        return await self._count(_QUOTE_UPDATE, params) == 1

    async def delete(self, quote_id: UUID) -> bool:
        return await self._count(_QUOTE_DELETE, {"tenant_id": self._tenant_id, "id": quote_id}) == 1


# --- invoices ----------------------------------------------------------------------------------

_THIS_INVOICE = this_row(invoices)
_INVOICE_INSERT = compile_sql(insert(invoices))
_INVOICE_GET = compile_sql(select(invoices).where(_THIS_INVOICE))
_INVOICE_GET_FOR_UPDATE = compile_sql(select(invoices).where(_THIS_INVOICE).with_for_update())
_INVOICE_UPDATE = versioned_update(
    invoices,
    "number",
    "customer_id",
    "customer_name",
    "customer_email",
    "lines",
    "subtotal",
    "discount_total",
    "net_total",
    "tax_total",
    "total",
    "notes",
    "payment_terms_days",
    "status",
    "issue_date",
    "due_date",
    "issued_at",
    "amount_paid",
    "amount_refunded",
    "paid_at",
    "voided_at",
    "void_reason",
    "updated_at",
    "version",
)
_INVOICE_DELETE = compile_sql(delete(invoices).where(_THIS_INVOICE))
_INVOICE_TIMELINE = {after: customer_timeline_sql(invoices, after) for after in (False, True)}
_OPEN = text("invoices.status IN ('sent', 'partially_paid')")  # issued, money due


@cache
def _invoice_list_sql(after: bool, status: bool, customer: bool, due_before: bool) -> str:
    statement = newest_first(invoices, after)
    if status:
        statement = statement.where(invoices.c.status == bindparam("status"))
    if customer:
        statement = statement.where(invoices.c.customer_id == bindparam("customer_id"))
    if due_before:
        statement = statement.where(and_(_OPEN, invoices.c.due_date < bindparam("due_before")))
    return compile_sql(statement)


def _invoice_values(invoice: Invoice) -> Row:
    return _document_values(invoice) | {
        "payment_terms_days": invoice.payment_terms_days,
        "status": invoice.status.value,
        "quote_id": invoice.quote_id,
        "issue_date": invoice.issue_date,
        "due_date": invoice.due_date,
        "issued_at": invoice.issued_at,
        "amount_paid": invoice.amount_paid,
        "amount_refunded": invoice.amount_refunded,
        "paid_at": invoice.paid_at,
        "voided_at": invoice.voided_at,
        "void_reason": invoice.void_reason,
    }


def _invoice(row: Row) -> Invoice:
    return Invoice(
        **_document_fields(row),
        payment_terms_days=row["payment_terms_days"],
        status=InvoiceStatus(row["status"]),
        quote_id=row["quote_id"],
        issue_date=row["issue_date"],
        due_date=row["due_date"],
        issued_at=row["issued_at"],
        amount_paid=row["amount_paid"],
        amount_refunded=row["amount_refunded"],
        paid_at=row["paid_at"],
        voided_at=row["voided_at"],
        void_reason=row["void_reason"],
    )


class PostgresInvoiceRepository(_SalesRepository):
    async def add(self, invoice: Invoice) -> None:
        conflicts = {
            "invoices_tenant_id_quote_id_key": Conflict(
                "the quote was already converted to an invoice", code="already_converted"
            ),
            "invoices_tenant_id_number_key": Conflict(NUMBER_TAKEN, code="number_taken"),
        }
        await self._write(_INVOICE_INSERT, _invoice_values(invoice), conflicts)

    async def get(self, invoice_id: UUID, *, for_update: bool = False) -> Invoice | None:
        sql = _INVOICE_GET_FOR_UPDATE if for_update else _INVOICE_GET
        row = await self._one(sql, {"tenant_id": self._tenant_id, "id": invoice_id})
        return _invoice(row) if row else None

    async def timeline(self, customer_id: UUID, after: Position | None, limit: int) -> list[TimelineEntry]:
        params = customer_timeline_params(self._tenant_id, customer_id, after, limit)
        rows = await self._all(_INVOICE_TIMELINE[after is not None], params)
        return [invoice_entry(_invoice(row)) for row in rows]

    async def list(self, page: PageRequest, filters: InvoiceFilter) -> Page[Invoice]:
        params: Row = {
            "status": filters.status.value if filters.status else None,
            "customer_id": filters.customer_id,
            "due_before": filters.due_before,
        }
        sql = _invoice_list_sql(
            page.after is not None,
            filters.status is not None,
            filters.customer_id is not None,
            filters.due_before is not None,
        )
        return await self._page(sql, params, page, _invoice)

    async def update(self, invoice: Invoice, expected_version: int) -> bool:
        params = _invoice_values(invoice) | {
            "tenant_id": self._tenant_id,
            "expected_version": expected_version,
        }
        conflicts = {"invoices_tenant_id_number_key": Conflict(NUMBER_TAKEN, code="number_taken")}
        return await self._write(_INVOICE_UPDATE, params, conflicts) == 1

    async def delete(self, invoice_id: UUID) -> bool:
        return await self._count(_INVOICE_DELETE, {"tenant_id": self._tenant_id, "id": invoice_id}) == 1


# --- payments ----------------------------------------------------------------------------------

_PAYMENT_INSERT = compile_sql(insert(payments))
_PAYMENT_GET = compile_sql(select(payments).where(this_row(payments)))
_PAYMENT_BY_EXTERNAL_ID = compile_sql(
    select(payments).where(
        payments.c.tenant_id == bindparam("tenant_id"), payments.c.external_id == bindparam("external_id")
    )
)
_PAYMENTS_OF_INVOICE = compile_sql(
    select(payments)
    .where(payments.c.tenant_id == bindparam("tenant_id"), payments.c.invoice_id == bindparam("invoice_id"))
    .order_by(payments.c.created_at, payments.c.id)
)
_PAYMENT_TIMELINE = {after: customer_timeline_sql(payments, after) for after in (False, True)}


def _payment_values(payment: Payment) -> Row:
    return {
        "tenant_id": payment.tenant_id,
        "id": payment.id,
        "invoice_id": payment.invoice_id,
        "customer_id": payment.customer_id,
        "kind": payment.kind.value,
        "amount": payment.amount,
        "currency": payment.currency,
        "method": payment.method.value,
        "reference": payment.reference,
        "external_id": payment.external_id,
        "refunded_payment_id": payment.refunded_payment_id,
        "reason": payment.reason,
        "received_at": payment.received_at,
        "created_at": payment.created_at,
    }


def _payment(row: Row) -> Payment:
    return Payment(**(row | {"kind": PaymentKind(row["kind"]), "method": PaymentMethod(row["method"])}))


class PostgresPaymentRepository(_SalesRepository):
    async def add(self, payment: Payment) -> None:
        conflicts = {
            "payments_tenant_id_external_id_key": Conflict(
                f"external_id {payment.external_id!r} was already recorded", code="external_id_taken"
            )
        }
        await self._write(_PAYMENT_INSERT, _payment_values(payment), conflicts)

    async def get(self, payment_id: UUID) -> Payment | None:
        row = await self._one(_PAYMENT_GET, {"tenant_id": self._tenant_id, "id": payment_id})
        return _payment(row) if row else None

    async def get_by_external_id(self, external_id: str) -> Payment | None:
        row = await self._one(
            _PAYMENT_BY_EXTERNAL_ID, {"tenant_id": self._tenant_id, "external_id": external_id}
        )
        return _payment(row) if row else None

    async def timeline(self, customer_id: UUID, after: Position | None, limit: int) -> list[TimelineEntry]:
        params = customer_timeline_params(self._tenant_id, customer_id, after, limit)
        rows = await self._all(_PAYMENT_TIMELINE[after is not None], params)
        return [payment_entry(_payment(row)) for row in rows]

    async def list_for_invoice(self, invoice_id: UUID) -> list[Payment]:
        rows = await self._all(_PAYMENTS_OF_INVOICE, {"tenant_id": self._tenant_id, "invoice_id": invoice_id})
        return [_payment(row) for row in rows]


__all__ = [
    "PostgresInvoiceRepository",
    "PostgresPaymentRepository",
    "PostgresQuoteRepository",
    "PostgresSalesCounterRepository",
    "PostgresSalesSettingsRepository",
]
