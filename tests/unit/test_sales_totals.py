"""Sales arithmetic and rules: the rounding rule, totals that add up for any lines (Hypothesis),
number patterns, currencies, and the derived states of quotes and invoices."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.adapters.memory.store import MemoryStore
from switchboard.adapters.memory.unit_of_work import MemoryUnitOfWork
from switchboard.core.customers.model import Customer
from switchboard.core.errors import InvalidInput
from switchboard.core.identity.model import Principal, User
from switchboard.core.sales import handlers
from switchboard.core.sales.currencies import MINOR_UNITS, clean_currency, format_money
from switchboard.core.sales.model import BillTo, Invoice, InvoiceStatus, Quote, QuoteStatus
from switchboard.core.sales.numbering import clean_pattern
from switchboard.core.sales.totals import (
    MAX_LINES,
    LineInput,
    decimal_text,
    price_line,
    priced_lines,
    round_minor,
    totals_of,
)
from switchboard.core.tenancy.model import Membership, Role, Tenant

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)


# --- the rounding rule -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exact", "rounded"),
    [("0.5", 1), ("1.5", 2), ("2.5", 3), ("2.4999", 2), ("2.5001", 3), ("0.4999", 0), ("7", 7)],
)
def test_amounts_round_half_up_to_whole_minor_units(exact, rounded):
    assert round_minor(Decimal(exact)) == rounded


def test_a_line_rounds_its_subtotal_discount_and_tax_each_in_turn():
    # 2.5 x 19.99 = 49.975 -> 49.98; 10% of it = 4.998 -> 5.00; net 44.98; 8.875% = 3.991975 -> 3.99
    line = price_line("Pipe", Decimal("2.5"), 1999, Decimal("8.875"), Decimal("10"))

    assert (line.subtotal, line.discount, line.net, line.tax, line.total) == (4998, 500, 4498, 399, 4897)


def test_a_document_total_is_the_sum_of_its_rounded_lines_not_the_rounded_sum():
    # Three lines of 0.3333 each: each rounds to 0, while the exact sum (0.9999) would round to 1.
    lines = priced_lines([LineInput("Third", "0.3333", 1)] * 3)

    assert totals_of(lines).total == 0


# --- totals add up, whatever the lines ---------------------------------------------------------


def _decimal_text(places: int, highest: int, positive: bool = False) -> st.SearchStrategy[str]:
    scale = 10**places
    lowest = 1 if positive else 0
    return st.integers(lowest, highest * scale).map(lambda n: decimal_text(Decimal(n) / scale))


LINE_INPUTS = st.builds(
    LineInput,
    description=st.text(
        st.characters(codec="utf-8", categories=["L", "N", "Zs"]), min_size=1, max_size=40
    ).filter(lambda text: text.strip() != ""),
    quantity=_decimal_text(4, 1_000_000, positive=True),
    unit_price=st.integers(0, 10**11),
    tax_rate=_decimal_text(3, 100),
    discount_percent=_decimal_text(3, 100),
)


@given(st.lists(LINE_INPUTS, max_size=MAX_LINES))
@settings(max_examples=300, deadline=None)
def test_for_any_lines_every_total_is_the_sum_of_the_rounded_line_amounts(inputs):
    lines = priced_lines(inputs)
    totals = totals_of(lines)

    assert totals.subtotal == sum(line.subtotal for line in lines)
    assert totals.discount == sum(line.discount for line in lines)
    assert totals.net == sum(line.net for line in lines)
    assert totals.tax == sum(line.tax for line in lines)
    assert totals.total == sum(line.total for line in lines)
    assert totals.total == totals.subtotal - totals.discount + totals.tax
    for line in lines:
        exact = line.quantity * line.unit_price
        assert abs(line.subtotal - exact) <= Decimal("0.5")
        assert 0 <= line.discount <= line.subtotal
        assert abs(line.discount - line.subtotal * line.discount_percent / 100) <= Decimal("0.5")
        assert line.net == line.subtotal - line.discount
        assert abs(line.tax - line.net * line.tax_rate / 100) <= Decimal("0.5")
        assert line.total == line.net + line.tax


def _invoice_through_the_use_case(inputs: list[LineInput]) -> Invoice:
    """Create the invoice as the API does, in memory storage, and read it back."""

    async def scenario() -> Invoice:
        store = MemoryStore()
        units = partial(MemoryUnitOfWork, store)
        tenant = Tenant(uuid4(), "Shop", NOW, NOW)
        user = User(uuid4(), f"{uuid4().hex}@example.test", "Owner", NOW, NOW)
        customer = Customer(uuid4(), tenant.id, "Grace", None, None, NOW, NOW)
        async with units(tenant.id, user.id) as uow:
            await uow.tenants.add(tenant)
            await uow.users.add(user, "hash")
            await uow.memberships.add(Membership(tenant.id, user.id, Role.OWNER, NOW))
            await uow.customers.add(customer)
            await uow.commit()
        principal = Principal(user.id, tenant.id, Role.OWNER)
        clock = type("Clock", (), {"now": lambda self: NOW})()
        created = await handlers.create_invoice(
            handlers.CreateInvoice(customer.id, inputs), principal, units(tenant.id, user.id), clock
        )
        return await handlers.get_invoice(created.id, principal, units(tenant.id, user.id))

    return asyncio.run(scenario())


@given(st.lists(LINE_INPUTS, min_size=1, max_size=8))
@settings(max_examples=40, deadline=None)
def test_for_any_lines_a_stored_invoices_totals_are_the_sums_of_its_rounded_lines(inputs):
    invoice = _invoice_through_the_use_case(inputs)

    assert invoice.totals == totals_of(invoice.lines)
    assert invoice.totals.total == sum(line.total for line in invoice.lines)
    assert invoice.totals.tax == sum(line.tax for line in invoice.lines)
    assert invoice.totals.discount == sum(line.discount for line in invoice.lines)
    assert len(invoice.lines) == len(inputs)


# --- line input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "problem"),
    [
        ("1e3", "decimal number"),
        ("1,5", "decimal number"),
        ("NaN", "decimal number"),
        ("", "decimal number"),
        ("0", "greater than 0"),
        ("-1", "greater than 0"),
        ("1.00001", "at most 4 decimal places"),
        ("1000000.0001", "at most 1000000"),
    ],
)
def test_a_quantity_must_be_a_plain_positive_decimal_string(written, problem):
    with pytest.raises(InvalidInput) as refused:
        priced_lines([LineInput("Item", written, 100)])

    assert refused.value.errors[0].field == "lines.0.quantity"
    assert problem in refused.value.errors[0].message


def test_every_problem_of_every_line_is_reported_at_once():
    with pytest.raises(InvalidInput) as refused:
        priced_lines(
            [
                LineInput(" ", "1", -1, "101", "-5"),
                LineInput("Fine", "2", 100),
                LineInput("Dollars", "1", 100, currency="USD"),
            ],
            currency="EUR",
        )

    assert {e.field for e in refused.value.errors} == {
        "lines.0.description",
        "lines.0.unit_price",
        "lines.0.tax_rate",
        "lines.0.discount_percent",
        "lines.2.unit_price.currency",
    }


def test_decimals_are_kept_in_one_spelling():
    line = priced_lines([LineInput("Item", "2.50", 100, "20.000", "0.0")])[0]

    assert (
        decimal_text(line.quantity),
        decimal_text(line.tax_rate),
        decimal_text(line.discount_percent),
    ) == (
        "2.5",
        "20",
        "0",
    )


# --- numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "seq", "on", "number"),
    [
        ("INV-{yyyy}-{seq:05}", 42, date(2026, 1, 5), "INV-2026-00042"),
        ("F/{yy}/{mm}/{seq}", 7, date(2031, 12, 1), "F/31/12/7"),
        ("#{seq:03}", 12345, date(2026, 1, 1), "#12345"),
    ],
)
def test_a_pattern_renders_its_placeholders(pattern, seq, on, number):
    assert clean_pattern(pattern, "p").render(seq, on) == number


def test_the_sequence_restarts_yearly_only_when_the_pattern_shows_the_year():
    assert clean_pattern("INV-{yyyy}-{seq}", "p").period(date(2026, 5, 1)) == "2026"
    assert clean_pattern("INV-{yy}{seq}", "p").period(date(2026, 5, 1)) == "2026"
    assert clean_pattern("INV-{mm}-{seq}", "p").period(date(2026, 5, 1)) == ""


@pytest.mark.parametrize(
    "pattern",
    ["INV", "{seq}{seq}", "A{foo}{seq}", "A{seq:00}", "A{seq:013}", 'A"{seq}', "A{{seq}}", "x" * 61],
)
def test_a_pattern_without_exactly_one_sequence_or_with_odd_text_is_refused(pattern):
    with pytest.raises(InvalidInput):
        clean_pattern(pattern, "invoice_number_pattern")


# --- currencies --------------------------------------------------------------------------------


def test_currency_codes_are_iso_4217_in_upper_case():
    assert clean_currency(" eur ") == "EUR"
    for bad in ("EURO", "XXX", "XAU", "US", "ABC"):
        with pytest.raises(InvalidInput):
            clean_currency(bad)


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (123456, "USD", "1,234.56 USD"),
        (1999, "JPY", "1,999 JPY"),
        (1999, "KWD", "1.999 KWD"),
        (-5, "EUR", "-0.05 EUR"),
    ],
)
def test_money_is_written_with_the_currencys_minor_units(amount, currency, text):
    assert format_money(amount, currency) == text


def test_the_currency_table_has_the_known_exceptions_to_two_digits():
    assert {code for code, digits in MINOR_UNITS.items() if digits == 3} == {
        "BHD",
        "IQD",
        "JOD",
        "KWD",
        "LYD",
        "OMR",
        "TND",
    }
    assert MINOR_UNITS["JPY"] == MINOR_UNITS["KRW"] == 0
    assert MINOR_UNITS["EUR"] == MINOR_UNITS["USD"] == 2


# --- derived states ----------------------------------------------------------------------------


def _quote(status: QuoteStatus, valid_until: date) -> Quote:
    return Quote(
        uuid4(), uuid4(), "Q-1", BillTo(uuid4(), "G", None), "USD", (), totals_of([]), "",
        valid_until, status, NOW, NOW, link_token_hash="h",
    )  # fmt: skip


def test_a_sent_quote_expires_at_the_end_of_its_validity_date_utc():
    quote = _quote(QuoteStatus.SENT, NOW.date())

    assert not quote.expired(NOW.replace(hour=23, minute=59, second=59))
    assert quote.expired(datetime.combine(NOW.date() + timedelta(days=1), datetime.min.time(), UTC))
    assert quote.link_live(NOW)
    assert not _quote(QuoteStatus.ACCEPTED, NOW.date() - timedelta(days=9)).expired(NOW)


def test_an_invoice_is_overdue_only_while_money_is_due_after_its_due_date():
    def invoice(status: InvoiceStatus, due: date) -> Invoice:
        return Invoice(
            uuid4(), uuid4(), "I-1", BillTo(uuid4(), "G", None), "USD", (), totals_of([]), "", 30,
            status, NOW, NOW, due_date=due,
        )  # fmt: skip

    yesterday = NOW.date() - timedelta(days=1)
    assert invoice(InvoiceStatus.SENT, yesterday).overdue(NOW)
    assert invoice(InvoiceStatus.PARTIALLY_PAID, yesterday).overdue(NOW)
    assert not invoice(InvoiceStatus.SENT, NOW.date()).overdue(NOW)
    assert not invoice(InvoiceStatus.PAID, yesterday).overdue(NOW)
    assert not invoice(InvoiceStatus.VOID, yesterday).overdue(NOW)


def test_the_currency_table_is_iso_4217_less_metals_and_accounting_units():
    pycountry = pytest.importorskip("pycountry")
    not_money = {
        "XAD",
        "XAG",
        "XAU",
        "XBA",
        "XBB",
        "XBC",
        "XBD",
        "XDR",
        "XPD",
        "XPT",
        "XSU",
        "XTS",
        "XUA",
        "XXX",
    }

    assert set(MINOR_UNITS) == {currency.alpha_3 for currency in pycountry.currencies} - not_money
