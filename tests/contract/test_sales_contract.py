"""Sales storage: settings, counters, quotes, invoices and payments, on memory and PostgreSQL
alike, and the guarantees that hold under concurrency (gapless numbers, a quote converted once,
payments recorded once, refunds never past what was paid)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from switchboard.core.errors import Conflict
from switchboard.core.identity.model import Principal
from switchboard.core.pagination import PageRequest, Position
from switchboard.core.sales import handlers, payments
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
from switchboard.core.sales.totals import LineInput, priced_lines, totals_of
from switchboard.core.tenancy.model import Role
from tests.contract.conftest import Actor, Storage, make_customer, utc_now

LINES = priced_lines([LineInput("Boiler service", "1.5", 8000, "20", "10"), LineInput("Valve", "2", 1250)])


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


CLOCK = Clock()


def owner_of(actor: Actor) -> Principal:
    return Principal(actor.user_id, actor.tenant_id, Role.OWNER)


def make_quote(actor: Actor, customer_id: UUID, **overrides: Any) -> Quote:
    now = utc_now()
    fields: dict[str, Any] = dict(
        id=uuid4(),
        tenant_id=actor.tenant_id,
        number=f"QUO-{uuid4().hex[:10]}",
        bill_to=BillTo(customer_id, "Grace Hopper", "grace@example.test"),
        currency="EUR",
        lines=LINES,
        totals=totals_of(LINES),
        notes="Thanks!",
        valid_until=now.date() + timedelta(days=30),
        status=QuoteStatus.DRAFT,
        created_at=now,
        updated_at=now,
    )
    return Quote(**(fields | overrides))


def make_invoice(actor: Actor, customer_id: UUID, **overrides: Any) -> Invoice:
    now = utc_now()
    fields: dict[str, Any] = dict(
        id=uuid4(),
        tenant_id=actor.tenant_id,
        number=None,
        bill_to=BillTo(customer_id, "Grace Hopper", None),
        currency="EUR",
        lines=LINES,
        totals=totals_of(LINES),
        notes="",
        payment_terms_days=14,
        status=InvoiceStatus.DRAFT,
        created_at=now,
        updated_at=now,
    )
    return Invoice(**(fields | overrides))


async def with_customer(storage: Storage) -> tuple[Actor, UUID]:
    actor = await storage.new_tenant()
    customer = make_customer(actor.tenant_id, name="Grace Hopper", email="grace@example.test")
    await storage.add_customers(actor, customer)
    return actor, customer.id


async def add(storage: Storage, actor: Actor, *documents: Quote | Invoice) -> None:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        for document in documents:
            if isinstance(document, Quote):
                await uow.quotes.add(document)
            else:
                await uow.invoices.add(document)
        await uow.commit()


async def issued_invoice(storage: Storage, actor: Actor, customer_id: UUID) -> Invoice:
    draft = make_invoice(actor, customer_id)
    await add(storage, actor, draft)
    return await handlers.issue_invoice(draft.id, owner_of(actor), storage.units(actor.tenant_id), CLOCK)


# --- settings and counters ---------------------------------------------------------------------


async def test_settings_are_absent_until_saved_then_saved_once_per_version(storage: Storage):
    actor = await storage.new_tenant()
    other = await storage.new_tenant()
    settings = SalesSettings(actor.tenant_id, currency="EUR", updated_at=utc_now(), version=1)

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.sales_settings.get() is None
        assert await uow.sales_settings.save(settings, expected_version=0) is True
        await uow.commit()
    async with storage.units(actor.tenant_id) as uow:
        assert await uow.sales_settings.save(replace(settings, currency="GBP"), expected_version=0) is False
        assert await uow.sales_settings.save(replace(settings, currency="JPY", version=2), 1) is True
        await uow.commit()

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.sales_settings.get() == replace(settings, currency="JPY", version=2)
    async with storage.units(other.tenant_id) as uow:
        assert await uow.sales_settings.get() is None


async def test_a_counter_counts_from_one_per_kind_period_and_tenant(storage: Storage):
    a = await storage.new_tenant()
    b = await storage.new_tenant()

    async with storage.units(a.tenant_id) as uow:
        drawn = [await uow.sales_counters.next_value(CounterKind.INVOICE, "2026") for _ in range(3)]
        drawn.append(await uow.sales_counters.next_value(CounterKind.INVOICE, "2027"))
        drawn.append(await uow.sales_counters.next_value(CounterKind.QUOTE, "2026"))
        await uow.commit()
    async with storage.units(b.tenant_id) as uow:
        drawn.append(await uow.sales_counters.next_value(CounterKind.INVOICE, "2026"))
        await uow.commit()

    assert drawn == [1, 2, 3, 1, 1, 1]


async def test_a_value_drawn_in_a_unit_of_work_that_rolls_back_is_drawn_again(storage: Storage):
    actor = await storage.new_tenant()

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.sales_counters.next_value(CounterKind.INVOICE, "") == 1
        await uow.commit()
    async with storage.units(actor.tenant_id) as uow:
        assert await uow.sales_counters.next_value(CounterKind.INVOICE, "") == 2  # rolled back
    async with storage.units(actor.tenant_id) as uow:
        assert await uow.sales_counters.next_value(CounterKind.INVOICE, "") == 2
        await uow.commit()


# --- quotes and invoices -----------------------------------------------------------------------


async def test_a_quote_reads_back_equal_with_its_decimal_lines_and_totals(storage: Storage):
    actor, customer_id = await with_customer(storage)
    quote = make_quote(actor, customer_id)
    await add(storage, actor, quote)

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.quotes.get(quote.id) == quote
        assert await uow.quotes.get(quote.id, for_update=True) == quote
    assert quote.lines[0].quantity == Decimal("1.5")


async def test_a_quote_update_needs_the_current_version_and_keeps_number_and_creation(storage: Storage):
    actor, customer_id = await with_customer(storage)
    quote = make_quote(actor, customer_id)
    await add(storage, actor, quote)
    sent = replace(quote, status=QuoteStatus.SENT, link_token_hash="ab" * 32, sent_at=utc_now(), version=2)

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.quotes.update(replace(sent, number="CHANGED"), expected_version=1) is True
        assert await uow.quotes.update(replace(sent, notes="late"), expected_version=1) is False
        await uow.commit()

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.quotes.get(quote.id) == sent


async def test_quote_numbers_are_unique_per_tenant_only(storage: Storage):
    a, customer_a = await with_customer(storage)
    b, customer_b = await with_customer(storage)
    first = make_quote(a, customer_a, number="QUO-1")
    await add(storage, a, first)

    with pytest.raises(Conflict) as refused:
        await add(storage, a, make_quote(a, customer_a, number="QUO-1"))
    await add(storage, b, make_quote(b, customer_b, number="QUO-1"))

    assert refused.value.code == "number_taken"


async def test_quotes_list_newest_first_filtered_and_never_another_tenants(storage: Storage):
    actor, customer_id = await with_customer(storage)
    other, other_customer = await with_customer(storage)
    start = utc_now()
    quotes = [
        make_quote(actor, customer_id, created_at=start + timedelta(seconds=i), status=status)
        for i, status in enumerate([QuoteStatus.DRAFT, QuoteStatus.SENT, QuoteStatus.SENT])
    ]
    await add(storage, actor, *quotes)
    await add(storage, other, make_quote(other, other_customer, status=QuoteStatus.SENT))

    async with storage.units(actor.tenant_id) as uow:
        everything = await uow.quotes.list(PageRequest(limit=2), QuoteFilter())
        rest = await uow.quotes.list(PageRequest(limit=2, after=everything.next_position), QuoteFilter())
        sent = await uow.quotes.list(PageRequest(), QuoteFilter(status=QuoteStatus.SENT))
        of_nobody = await uow.quotes.list(PageRequest(), QuoteFilter(customer_id=uuid4()))

    assert [q.id for q in everything.items + rest.items] == [q.id for q in reversed(quotes)]
    assert not rest.has_more
    assert [q.id for q in sent.items] == [quotes[2].id, quotes[1].id]
    assert of_nobody.items == []


async def test_another_tenants_quote_or_invoice_is_invisible_and_untouchable(storage: Storage):
    actor, customer_id = await with_customer(storage)
    other = await storage.new_tenant()
    quote = make_quote(actor, customer_id)
    invoice = make_invoice(actor, customer_id)
    await add(storage, actor, quote, invoice)

    async with storage.units(other.tenant_id) as uow:
        assert await uow.quotes.get(quote.id) is None
        assert await uow.invoices.get(invoice.id, for_update=True) is None
        assert await uow.quotes.update(replace(quote, version=2), expected_version=1) is False
        assert await uow.invoices.delete(invoice.id) is False
        await uow.commit()

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.quotes.get(quote.id) == quote
        assert await uow.invoices.get(invoice.id) == invoice


async def test_an_invoice_reads_back_equal_and_an_issued_update_is_stored(storage: Storage):
    actor, customer_id = await with_customer(storage)
    invoice = make_invoice(actor, customer_id)
    await add(storage, actor, invoice)
    today = utc_now().date()
    issued = replace(
        invoice,
        number="INV-9",
        status=InvoiceStatus.PARTIALLY_PAID,
        issue_date=today,
        due_date=today + timedelta(days=14),
        issued_at=utc_now(),
        amount_paid=100,
        amount_refunded=5,
        version=2,
    )

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.invoices.get(invoice.id) == invoice
        assert await uow.invoices.update(issued, expected_version=1) is True
        await uow.commit()

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.invoices.get(invoice.id) == issued


async def test_an_invoice_number_taken_in_the_tenant_is_refused_on_update(storage: Storage):
    actor, customer_id = await with_customer(storage)
    first, second = make_invoice(actor, customer_id), make_invoice(actor, customer_id)
    await add(storage, actor, first, second)
    today = utc_now().date()

    def issued(invoice: Invoice) -> Invoice:
        return replace(invoice, number="INV-1", status=InvoiceStatus.SENT, issue_date=today, version=2)

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.invoices.update(issued(first), expected_version=1)
        await uow.commit()
    async with storage.units(actor.tenant_id) as uow:
        with pytest.raises(Conflict) as refused:
            await uow.invoices.update(issued(second), expected_version=1)

    assert refused.value.code == "number_taken"


async def test_a_second_invoice_from_the_same_quote_is_refused_by_storage(storage: Storage):
    actor, customer_id = await with_customer(storage)
    quote = make_quote(actor, customer_id, status=QuoteStatus.ACCEPTED)
    await add(storage, actor, quote, make_invoice(actor, customer_id, quote_id=quote.id))

    with pytest.raises(Conflict) as refused:
        await add(storage, actor, make_invoice(actor, customer_id, quote_id=quote.id))

    assert refused.value.code == "already_converted"


async def test_invoices_filter_by_status_customer_and_due_before(storage: Storage):
    actor, customer_id = await with_customer(storage)
    today = utc_now().date()
    late = make_invoice(
        actor, customer_id, number="L-1", status=InvoiceStatus.SENT, due_date=today - timedelta(days=1)
    )
    paid_late = make_invoice(
        actor, customer_id, number="L-2", status=InvoiceStatus.PAID, due_date=today - timedelta(days=1)
    )
    on_time = make_invoice(
        actor, customer_id, number="L-3", status=InvoiceStatus.PARTIALLY_PAID, due_date=today
    )
    draft = make_invoice(actor, uuid4())
    await add(storage, actor, late, paid_late, on_time, draft)

    async with storage.units(actor.tenant_id) as uow:
        overdue = await uow.invoices.list(PageRequest(), InvoiceFilter(due_before=today))
        drafts = await uow.invoices.list(PageRequest(), InvoiceFilter(status=InvoiceStatus.DRAFT))
        of_customer = await uow.invoices.list(PageRequest(), InvoiceFilter(customer_id=customer_id))

    assert [i.id for i in overdue.items] == [late.id]
    assert [i.id for i in drafts.items] == [draft.id]
    assert {i.id for i in of_customer.items} == {late.id, paid_late.id, on_time.id}


# --- payments ----------------------------------------------------------------------------------


def make_payment(actor: Actor, invoice: Invoice, **overrides: Any) -> Payment:
    now = utc_now()
    fields: dict[str, Any] = dict(
        id=uuid4(),
        tenant_id=actor.tenant_id,
        invoice_id=invoice.id,
        customer_id=invoice.bill_to.customer_id,
        kind=PaymentKind.PAYMENT,
        amount=500,
        currency="EUR",
        method=PaymentMethod.CASH,
        reference="Till 2",
        external_id=None,
        received_at=now,
        created_at=now,
    )
    return Payment(**(fields | overrides))


async def test_payments_read_back_by_id_external_id_and_invoice_in_order(storage: Storage):
    actor, customer_id = await with_customer(storage)
    invoice = await issued_invoice(storage, actor, customer_id)
    first = make_payment(actor, invoice, external_id="pi_123")
    refund = make_payment(
        actor,
        invoice,
        kind=PaymentKind.REFUND,
        amount=200,
        refunded_payment_id=first.id,
        reason="goodwill",
        created_at=first.created_at + timedelta(seconds=1),
    )

    async with storage.units(actor.tenant_id) as uow:
        await uow.payments.add(first)
        await uow.payments.add(refund)
        await uow.commit()

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.payments.get(first.id) == first
        assert await uow.payments.get_by_external_id("pi_123") == first
        assert await uow.payments.get_by_external_id("pi_other") is None
        assert await uow.payments.list_for_invoice(invoice.id) == [first, refund]


async def test_an_external_id_is_recorded_once_per_tenant(storage: Storage):
    actor, customer_id = await with_customer(storage)
    invoice = await issued_invoice(storage, actor, customer_id)
    other, other_customer = await with_customer(storage)
    other_invoice = await issued_invoice(storage, other, other_customer)

    async with storage.units(actor.tenant_id) as uow:
        await uow.payments.add(make_payment(actor, invoice, external_id="pi_same"))
        await uow.commit()
    async with storage.units(actor.tenant_id) as uow:
        with pytest.raises(Conflict) as refused:
            await uow.payments.add(make_payment(actor, invoice, external_id="pi_same"))
    async with storage.units(other.tenant_id) as uow:
        await uow.payments.add(make_payment(other, other_invoice, external_id="pi_same"))
        await uow.commit()

    assert refused.value.code == "external_id_taken"


async def test_the_timelines_hold_the_customers_quotes_invoices_and_payments(storage: Storage):
    actor, customer_id = await with_customer(storage)
    quote = make_quote(actor, customer_id)
    await add(storage, actor, quote)
    invoice = await issued_invoice(storage, actor, customer_id)
    payment = make_payment(actor, invoice)
    async with storage.units(actor.tenant_id) as uow:
        await uow.payments.add(payment)
        await uow.commit()

    async with storage.units(actor.tenant_id) as uow:
        quotes = await uow.quotes.timeline(customer_id, None, 10)
        invoices = await uow.invoices.timeline(customer_id, None, 10)
        paid = await uow.payments.timeline(customer_id, None, 10)
        none_after = await uow.quotes.timeline(customer_id, Position(quotes[0].occurred_at, quotes[0].id), 10)
        nobody = await uow.invoices.timeline(uuid4(), None, 10)

    assert [(e.id, e.kind.value) for e in quotes] == [(quote.id, "quote")]
    assert [(e.ref.object, e.ref.id) for e in invoices] == [("invoice", invoice.id)]
    assert invoices[0].summary.startswith(f"Invoice {invoice.number} for ")
    assert [e.summary for e in paid] == ["Payment of 5.00 EUR by cash"]
    assert none_after == nobody == []


async def test_the_directory_finds_a_quote_by_its_link_token_hash_only(storage: Storage):
    actor, customer_id = await with_customer(storage)
    token_hash = uuid4().hex * 2
    quote = make_quote(actor, customer_id, link_token_hash=token_hash)
    await add(storage, actor, quote)

    assert await storage.directory.find_quote_link(token_hash) == (actor.tenant_id, quote.id)
    assert await storage.directory.find_quote_link(uuid4().hex * 2) is None


# --- guarantees under concurrency --------------------------------------------------------------


async def test_200_invoices_issued_concurrently_get_200_consecutive_numbers_and_other_tenants_too(
    storage: Storage,
):
    actor, customer_id = await with_customer(storage)
    other, other_customer = await with_customer(storage)
    drafts = [make_invoice(actor, customer_id) for _ in range(200)]
    other_drafts = [make_invoice(other, other_customer) for _ in range(20)]
    await add(storage, actor, *drafts)
    await add(storage, other, *other_drafts)

    async def issue(who: Actor, invoice: Invoice) -> str | None:
        issued = await handlers.issue_invoice(invoice.id, owner_of(who), storage.units(who.tenant_id), CLOCK)
        return issued.number

    numbers = await asyncio.gather(
        *(issue(actor, d) for d in drafts), *(issue(other, d) for d in other_drafts)
    )

    year = utc_now().year
    assert sorted(numbers[:200]) == [f"INV-{year}-{n:05d}" for n in range(1, 201)]  # type: ignore[type-var]
    assert sorted(numbers[200:]) == [f"INV-{year}-{n:05d}" for n in range(1, 21)]  # type: ignore[type-var]


async def test_an_accepted_quote_converted_by_20_concurrent_requests_becomes_exactly_one_invoice(
    storage: Storage,
):
    actor, customer_id = await with_customer(storage)
    quote = make_quote(actor, customer_id, status=QuoteStatus.ACCEPTED)
    await add(storage, actor, quote)

    async def convert() -> Invoice | Conflict:
        try:
            return await handlers.convert_quote(
                quote.id, owner_of(actor), storage.units(actor.tenant_id), CLOCK
            )
        except Conflict as conflict:
            return conflict

    outcomes = await asyncio.gather(*(convert() for _ in range(20)))

    made = [o for o in outcomes if isinstance(o, Invoice)]
    refused = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(made) == 1
    assert len(refused) == 19
    assert {c.code for c in refused} == {"already_converted"}
    async with storage.units(actor.tenant_id) as uow:
        linked = await uow.quotes.get(quote.id)
        invoices = await uow.invoices.list(PageRequest(), InvoiceFilter(customer_id=customer_id))
    assert linked is not None
    assert linked.invoice_id == made[0].id
    assert [i.id for i in invoices.items] == [made[0].id]
    assert made[0].lines == quote.lines
    assert made[0].quote_id == quote.id


async def test_the_same_external_payment_recorded_by_10_concurrent_calls_counts_once(storage: Storage):
    actor, customer_id = await with_customer(storage)
    invoice = await issued_invoice(storage, actor, customer_id)
    command = payments.RecordPayment(invoice.id, 1000, PaymentMethod.CARD, external_id="pi_once")

    outcomes = await asyncio.gather(
        *(payments.record_provider_payment(command, storage.units(actor.tenant_id), CLOCK) for _ in range(10))
    )

    assert sum(o.created for o in outcomes) == 1
    assert len({o.payment.id for o in outcomes}) == 1
    async with storage.units(actor.tenant_id) as uow:
        stored = await uow.invoices.get(invoice.id)
        recorded = await uow.payments.list_for_invoice(invoice.id)
    assert stored is not None
    assert stored.amount_paid == 1000
    assert stored.status is InvoiceStatus.PARTIALLY_PAID
    assert len(recorded) == 1


async def test_concurrent_refunds_never_refund_more_than_was_paid(storage: Storage):
    actor, customer_id = await with_customer(storage)
    invoice = await issued_invoice(storage, actor, customer_id)
    await payments.record_payment(
        payments.RecordPayment(invoice.id, 10_000, PaymentMethod.BANK_TRANSFER),
        owner_of(actor),
        storage.units(actor.tenant_id),
        CLOCK,
    )

    async def refund() -> str:
        try:
            await payments.record_refund(
                payments.RecordRefund(invoice.id, 3_000),
                owner_of(actor),
                storage.units(actor.tenant_id),
                CLOCK,
            )
        except Conflict as conflict:
            return conflict.code
        return "refunded"

    outcomes = await asyncio.gather(*(refund() for _ in range(10)))

    assert sorted(outcomes) == ["refund_exceeds_paid"] * 7 + ["refunded"] * 3
    async with storage.units(actor.tenant_id) as uow:
        stored = await uow.invoices.get(invoice.id)
    assert stored is not None
    assert (stored.amount_paid, stored.amount_refunded) == (1_000, 9_000)
    assert stored.status is InvoiceStatus.PARTIALLY_PAID
