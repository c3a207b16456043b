"""Call reports on memory and PostgreSQL alike: the same seeded calls, invoices and payments give
the same sums, days cut in the tenant's time zone, payments attributed to calls by one rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from switchboard.core.analytics.model import (
    AttributedRevenue,
    CallCounts,
    CallStats,
    CostStats,
    ReportWindow,
)
from switchboard.core.calls.model import CallCost, CallDirection, CallStatus, CostComponent, Sentiment
from switchboard.core.calls.records import Call
from switchboard.core.sales.model import BillTo, Invoice, InvoiceStatus, Payment, PaymentKind, PaymentMethod
from switchboard.core.sales.totals import LineInput, priced_lines, totals_of
from tests.contract.conftest import Actor, Storage

NEW_YORK = "America/New_York"
LINES = priced_lines([LineInput("Boiler service", "1", 50_000)])


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def make_call(actor: Actor, when: datetime, **fields: Any) -> Call:
    """An inbound call that started at ``when`` and lasted a minute, unless told otherwise."""
    values: dict[str, Any] = dict(
        id=uuid4(),
        tenant_id=actor.tenant_id,
        integration_id=uuid4(),
        provider_call_id=None,
        direction=CallDirection.INBOUND,
        status=CallStatus.ENDED,
        created_at=when,
        updated_at=when,
        started_at=when,
        ended_at=when + timedelta(seconds=60),
        ended_reason="customer-ended-call",
    )
    return Call(**(values | fields))


def cost(currency: str = "USD", **components: int) -> CallCost:
    return CallCost(currency, {CostComponent(name): amount for name, amount in components.items()})


async def in_zone(storage: Storage, time_zone: str) -> Actor:
    actor = await storage.new_tenant()
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        tenant = await uow.tenants.get()
        assert tenant is not None
        moved = replace(tenant, time_zone=time_zone, version=tenant.version + 1)
        assert await uow.tenants.update(moved, expected_version=tenant.version)
        await uow.commit()
    return actor


async def add_calls(storage: Storage, actor: Actor, *calls: Call) -> None:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        for call in calls:
            await uow.calls.add(call)
        await uow.commit()


async def add_payments(storage: Storage, actor: Actor, customer_id: UUID, *payments: Payment) -> None:
    """The payments, on an invoice of ``customer_id`` they are made to belong to."""
    now = datetime.now(UTC)
    invoice = Invoice(
        id=uuid4(),
        tenant_id=actor.tenant_id,
        number=None,
        bill_to=BillTo(customer_id, "Grace Hopper", None),
        currency="USD",
        lines=LINES,
        totals=totals_of(LINES),
        notes="",
        payment_terms_days=14,
        status=InvoiceStatus.DRAFT,
        created_at=now,
        updated_at=now,
    )
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.invoices.add(invoice)
        for payment in payments:
            await uow.payments.add(replace(payment, invoice_id=invoice.id))
        await uow.commit()


def payment(actor: Actor, customer_id: UUID, received_at: datetime, amount: int, **fields: Any) -> Payment:
    values: dict[str, Any] = dict(
        id=uuid4(),
        tenant_id=actor.tenant_id,
        invoice_id=uuid4(),
        customer_id=customer_id,
        kind=PaymentKind.PAYMENT,
        amount=amount,
        currency="USD",
        method=PaymentMethod.CARD,
        reference=None,
        external_id=None,
        received_at=received_at,
        created_at=received_at,
    )
    return Payment(**(values | fields))


async def call_stats(
    storage: Storage, actor: Actor, window: ReportWindow, agent: UUID | None = None
) -> CallStats:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        return await uow.call_reports.call_stats(window, agent)


async def cost_stats(
    storage: Storage, actor: Actor, window: ReportWindow, agent: UUID | None = None
) -> CostStats:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        return await uow.call_reports.cost_stats(window, agent)


async def revenue(
    storage: Storage, actor: Actor, window: ReportWindow, days: int = 7, agent: UUID | None = None
) -> list[AttributedRevenue]:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        return await uow.call_reports.attributed_revenue(window, days, agent)


MARCH = ReportWindow.of(date(2026, 3, 7), date(2026, 3, 9), NEW_YORK)


# --- time zone ---------------------------------------------------------------------------------


async def test_a_tenant_reads_back_the_time_zone_it_was_given_and_utc_before(storage: Storage):
    actor = await storage.new_tenant()
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        before = await uow.tenants.get()
    assert before is not None
    assert before.time_zone == "UTC"

    await in_zone(storage, NEW_YORK)  # another tenant: this one keeps UTC
    moved = await in_zone(storage, "Asia/Kolkata")

    async with storage.units(moved.tenant_id, moved.user_id) as uow:
        after = await uow.tenants.get()
    assert after is not None
    assert after.time_zone == "Asia/Kolkata"


# --- calls -------------------------------------------------------------------------------------


async def test_a_tenant_without_calls_has_empty_stats(storage: Storage):
    actor = await in_zone(storage, NEW_YORK)

    assert await call_stats(storage, actor, MARCH) == CallStats()
    assert await cost_stats(storage, actor, MARCH) == CostStats()
    assert await revenue(storage, actor, MARCH) == []


async def test_calls_fall_on_the_tenants_local_day_across_the_spring_change(storage: Storage):
    # Clocks in New York go from 02:00 EST to 03:00 EDT on 8 March 2026: that day has 23 hours.
    actor = await in_zone(storage, NEW_YORK)
    await add_calls(
        storage,
        actor,
        make_call(actor, at("2026-03-07T04:59:59")),  # 6 March, 23:59:59 EST: before the window
        make_call(actor, at("2026-03-07T05:00:00")),  # 7 March, 00:00 EST: the first instant
        make_call(actor, at("2026-03-08T04:30:00")),  # 7 March, 23:30 EST
        make_call(actor, at("2026-03-08T05:30:00")),  # 8 March, 00:30 EST
        make_call(actor, at("2026-03-09T03:59:00")),  # 8 March, 23:59 EDT
        make_call(actor, at("2026-03-09T04:00:00")),  # 9 March, 00:00 EDT
        make_call(actor, at("2026-03-10T03:59:59")),  # 9 March, 23:59:59 EDT: the last instant
        make_call(actor, at("2026-03-10T04:00:00")),  # 10 March: after the window
    )

    stats = await call_stats(storage, actor, MARCH)

    assert {day: counts.calls for day, counts in stats.by_day.items()} == {
        date(2026, 3, 7): 2,
        date(2026, 3, 8): 2,
        date(2026, 3, 9): 2,
    }


async def test_calls_fall_on_the_tenants_local_day_across_the_autumn_change(storage: Storage):
    # On 1 November 2026 New York goes back from 02:00 EDT to 01:00 EST: that day has 25 hours.
    actor = await in_zone(storage, NEW_YORK)
    await add_calls(
        storage,
        actor,
        make_call(actor, at("2026-11-01T03:59:00")),  # 31 October, 23:59 EDT
        make_call(actor, at("2026-11-01T04:00:00")),  # 1 November, 00:00 EDT
        make_call(actor, at("2026-11-01T05:30:00")),  # 01:30 EDT
        make_call(actor, at("2026-11-01T06:30:00")),  # 01:30 EST, the repeated hour
        make_call(actor, at("2026-11-02T04:59:00")),  # 1 November, 23:59 EST
        make_call(actor, at("2026-11-02T05:00:00")),  # 2 November, 00:00 EST
    )
    window = ReportWindow.of(date(2026, 11, 1), date(2026, 11, 1), NEW_YORK)

    stats = await call_stats(storage, actor, window)

    assert {day: counts.calls for day, counts in stats.by_day.items()} == {date(2026, 11, 1): 4}


async def test_call_stats_sum_directions_answers_evaluations_durations_outcomes_and_sentiment(
    storage: Storage,
):
    actor = await in_zone(storage, "UTC")
    agent, other_agent = uuid4(), uuid4()
    day = at("2026-05-04T10:00:00")
    await add_calls(
        storage,
        actor,
        make_call(actor, day, agent_id=agent, success=True, sentiment=Sentiment.POSITIVE),
        make_call(
            actor,
            day + timedelta(hours=1),
            agent_id=agent,
            direction=CallDirection.OUTBOUND,
            ended_at=day + timedelta(hours=1, seconds=150),
            success=False,
            sentiment=Sentiment.NEGATIVE,
            ended_reason="assistant-ended-call",
        ),
        # Rang out: ended without lasting a second, so not answered.
        make_call(
            actor,
            day + timedelta(hours=2),
            agent_id=other_agent,
            direction=CallDirection.OUTBOUND,
            ended_at=day + timedelta(hours=2),
            ended_reason="customer-did-not-answer",
        ),
        # Still in progress: answered, no duration yet, no outcome yet.
        make_call(
            actor, day + timedelta(hours=3), status=CallStatus.IN_PROGRESS, ended_at=None, ended_reason=None
        ),
        # Scheduled for later and never started: counted on the day it was made.
        make_call(
            actor,
            day + timedelta(days=1),
            direction=CallDirection.OUTBOUND,
            status=CallStatus.SCHEDULED,
            started_at=None,
            ended_at=None,
            ended_reason=None,
            agent_id=agent,
        ),
    )
    window = ReportWindow.of(date(2026, 5, 4), date(2026, 5, 5), "UTC")

    stats = await call_stats(storage, actor, window)

    assert stats.by_day == {
        date(2026, 5, 4): CallCounts(
            calls=4,
            inbound=2,
            outbound=2,
            answered=3,
            evaluated=2,
            succeeded=1,
            timed=2,
            duration_seconds=210,
        ),
        date(2026, 5, 5): CallCounts(calls=1, outbound=1),
    }
    assert stats.by_agent == {
        agent: CallCounts(
            calls=3,
            inbound=1,
            outbound=2,
            answered=2,
            evaluated=2,
            succeeded=1,
            timed=2,
            duration_seconds=210,
        ),
        other_agent: CallCounts(calls=1, outbound=1),
        None: CallCounts(calls=1, inbound=1, answered=1),
    }
    assert stats.outcomes == {
        "customer-ended-call": 1,
        "assistant-ended-call": 1,
        "customer-did-not-answer": 1,
        None: 2,
    }
    assert stats.sentiments == {"positive": 1, "negative": 1, None: 3}

    only_agent = await call_stats(storage, actor, window, agent)
    assert set(only_agent.by_agent) == {agent}
    assert sum(counts.calls for counts in only_agent.by_day.values()) == 3


async def test_another_tenants_calls_never_count(storage: Storage):
    actor = await in_zone(storage, NEW_YORK)
    stranger = await in_zone(storage, NEW_YORK)
    shared_agent = uuid4()
    await add_calls(storage, stranger, make_call(stranger, at("2026-03-08T15:00:00"), agent_id=shared_agent))
    customer = uuid4()
    await add_calls(
        storage,
        stranger,
        make_call(stranger, at("2026-03-08T16:00:00"), customer_id=customer, cost=cost(model=10)),
    )
    await add_payments(
        storage, stranger, customer, payment(stranger, customer, at("2026-03-08T17:00:00"), 900)
    )

    assert await call_stats(storage, actor, MARCH) == CallStats()
    assert await call_stats(storage, actor, MARCH, shared_agent) == CallStats()
    assert await cost_stats(storage, actor, MARCH) == CostStats()
    assert await revenue(storage, actor, MARCH) == []


# --- costs -------------------------------------------------------------------------------------


async def test_costs_sum_by_component_agent_and_local_day_without_mixing_currencies(storage: Storage):
    actor = await in_zone(storage, NEW_YORK)
    agent = uuid4()
    await add_calls(
        storage,
        actor,
        make_call(actor, at("2026-03-08T04:30:00"), agent_id=agent, cost=cost(transport=1_000, model=2_500)),
        make_call(actor, at("2026-03-08T12:00:00"), agent_id=agent, cost=cost(model=500, platform=50_000)),
        make_call(actor, at("2026-03-09T12:00:00"), cost=cost("EUR", speech_to_text=7, text_to_speech=3)),
        make_call(actor, at("2026-03-09T13:00:00"), agent_id=agent),  # no cost reported yet
    )

    stats = await cost_stats(storage, actor, MARCH)

    assert stats.by_component == {
        ("USD", "transport"): 1_000,
        ("USD", "model"): 3_000,
        ("USD", "platform"): 50_000,
        ("EUR", "speech_to_text"): 7,
        ("EUR", "text_to_speech"): 3,
    }
    assert stats.by_agent == {("USD", agent): 54_000, ("EUR", None): 10}
    assert stats.by_day == {
        ("USD", date(2026, 3, 7)): 3_500,
        ("USD", date(2026, 3, 8)): 50_500,
        ("EUR", date(2026, 3, 9)): 10,
    }
    assert stats.calls_with_cost == 3

    only_agent = await cost_stats(storage, actor, MARCH, agent)
    assert only_agent.by_agent == {("USD", agent): 54_000}


# --- revenue attributed to calls ---------------------------------------------------------------


async def test_a_payment_goes_to_the_customers_latest_answered_call_before_it_within_the_window(
    storage: Storage,
):
    actor = await in_zone(storage, "UTC")
    customer, earlier_agent, later_agent, missed_agent = uuid4(), uuid4(), uuid4(), uuid4()
    await add_calls(
        storage,
        actor,
        make_call(actor, at("2026-06-01T09:00:00"), customer_id=customer, agent_id=earlier_agent),
        make_call(actor, at("2026-06-03T09:00:00"), customer_id=customer, agent_id=later_agent),
        # Later still, but never answered: it earns nothing.
        make_call(
            actor,
            at("2026-06-04T09:00:00"),
            customer_id=customer,
            agent_id=missed_agent,
            ended_at=at("2026-06-04T09:00:00"),
        ),
    )
    received = payment(actor, customer, at("2026-06-05T09:00:00"), 12_000)
    refund = payment(
        actor,
        customer,
        at("2026-06-20T09:00:00"),
        2_000,
        kind=PaymentKind.REFUND,
        refunded_payment_id=received.id,
    )
    await add_payments(storage, actor, customer, received, refund)
    june = ReportWindow.of(date(2026, 6, 1), date(2026, 6, 30), "UTC")

    assert await revenue(storage, actor, june) == [AttributedRevenue(later_agent, "USD", 1, 12_000, 2_000)]
    assert await revenue(storage, actor, june, agent=earlier_agent) == []
    assert await revenue(storage, actor, june, agent=later_agent) == [
        AttributedRevenue(later_agent, "USD", 1, 12_000, 2_000)
    ]


async def test_a_payment_outside_the_attribution_window_or_before_any_call_is_attributed_to_none(
    storage: Storage,
):
    actor = await in_zone(storage, "UTC")
    customer, agent = uuid4(), uuid4()
    await add_calls(
        storage, actor, make_call(actor, at("2026-06-10T09:00:00"), customer_id=customer, agent_id=agent)
    )
    await add_payments(
        storage,
        actor,
        customer,
        payment(actor, customer, at("2026-06-09T09:00:00"), 100),  # before the call
        payment(actor, customer, at("2026-06-17T09:00:00"), 200),  # exactly 7 days on: outside
        payment(actor, customer, at("2026-06-17T08:59:59"), 400),  # just inside
        payment(actor, customer, at("2026-06-10T09:00:00"), 800),  # at the very time of the call
        payment(actor, uuid4(), at("2026-06-11T09:00:00"), 1_600),  # another customer's
    )
    june = ReportWindow.of(date(2026, 6, 1), date(2026, 6, 30), "UTC")

    assert await revenue(storage, actor, june) == [AttributedRevenue(agent, "USD", 2, 1_200, 0)]
    assert await revenue(storage, actor, june, days=8) == [AttributedRevenue(agent, "USD", 3, 1_400, 0)]


async def test_a_payment_counts_in_the_window_of_its_call_even_when_received_after_it(storage: Storage):
    actor = await in_zone(storage, NEW_YORK)
    customer, agent = uuid4(), uuid4()
    # 9 March, 23:00 EDT: the last day of the window; paid two days later.
    await add_calls(
        storage, actor, make_call(actor, at("2026-03-10T03:00:00"), customer_id=customer, agent_id=agent)
    )
    await add_payments(
        storage,
        actor,
        customer,
        payment(actor, customer, at("2026-03-12T03:00:00"), 5_000),
        payment(actor, customer, at("2026-03-12T04:00:00"), 700, currency="EUR"),
    )
    next_days = ReportWindow.of(date(2026, 3, 10), date(2026, 3, 12), NEW_YORK)

    assert await revenue(storage, actor, MARCH) == [
        AttributedRevenue(agent, "EUR", 1, 700, 0),
        AttributedRevenue(agent, "USD", 1, 5_000, 0),
    ]
    # Its call is not in these days: the payment is not counted twice.
    assert await revenue(storage, actor, next_days) == []
