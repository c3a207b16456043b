"""Quotes, invoices and payments as entries of their customer's timeline."""

from __future__ import annotations

from switchboard.core.customers.timeline import TimelineEntry, TimelineKind, TimelineRef
from switchboard.core.sales.currencies import format_money
from switchboard.core.sales.model import Invoice, Payment, PaymentKind, Quote


def quote_entry(quote: Quote) -> TimelineEntry:
    summary = f"Quote {quote.number} for {format_money(quote.totals.total, quote.currency)} ({quote.status})"
    return TimelineEntry(
        quote.created_at, quote.id, TimelineKind.QUOTE, summary, TimelineRef("quote", quote.id)
    )


def invoice_entry(invoice: Invoice) -> TimelineEntry:
    name = f"Invoice {invoice.number}" if invoice.number else "Draft invoice"
    summary = f"{name} for {format_money(invoice.totals.total, invoice.currency)} ({invoice.status})"
    ref = TimelineRef("invoice", invoice.id)
    return TimelineEntry(invoice.created_at, invoice.id, TimelineKind.INVOICE, summary, ref)


def payment_entry(payment: Payment) -> TimelineEntry:
    what = "Payment" if payment.kind is PaymentKind.PAYMENT else "Refund"
    summary = (
        f"{what} of {format_money(payment.amount, payment.currency)} by {payment.method.replace('_', ' ')}"
    )
    ref = TimelineRef("payment", payment.id)
    return TimelineEntry(payment.created_at, payment.id, TimelineKind.PAYMENT, summary, ref)
