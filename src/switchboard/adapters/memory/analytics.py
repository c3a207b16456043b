"""Call reports over the memory store: the same sums the PostgreSQL adapter's GROUP BYs give."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, timedelta
from uuid import UUID

from switchboard.adapters.memory.repositories import _Scoped
from switchboard.core.analytics.model import (
    AttributableCall,
    AttributedRevenue,
    CallCounts,
    CallStats,
    CostStats,
    ReceivedPayment,
    ReportWindow,
    answered,
    attributed_call,
    call_time,
    day_of,
)
from switchboard.core.calls.model import CallDirection
from switchboard.core.calls.records import Call
from switchboard.core.sales.model import Payment, PaymentKind


class MemoryCallReports(_Scoped):
    async def call_stats(self, window: ReportWindow, agent_id: UUID | None = None) -> CallStats:
        by_day: dict[date, CallCounts] = {}
        by_agent: dict[UUID | None, CallCounts] = {}
        outcomes: Counter[str | None] = Counter()
        sentiments: Counter[str | None] = Counter()
        for call in self._calls(window, agent_id):
            counts = _counts(call)
            day = day_of(call_time(call.started_at, call.created_at), window.time_zone)
            by_day[day] = by_day.get(day, CallCounts()) + counts
            by_agent[call.agent_id] = by_agent.get(call.agent_id, CallCounts()) + counts
            outcomes[call.ended_reason] += 1
            sentiments[call.sentiment.value if call.sentiment else None] += 1
        return CallStats(by_day, by_agent, dict(outcomes), dict(sentiments))

    async def cost_stats(self, window: ReportWindow, agent_id: UUID | None = None) -> CostStats:
        by_component: Counter[tuple[str, str]] = Counter()
        by_agent: Counter[tuple[str, UUID | None]] = Counter()
        by_day: Counter[tuple[str, date]] = Counter()
        calls_with_cost = 0
        for call in self._calls(window, agent_id):
            if call.cost is None:
                continue
            calls_with_cost += 1
            currency = call.cost.currency
            for component, amount in call.cost.components.items():
                by_component[(currency, component.value)] += amount
            day = day_of(call_time(call.started_at, call.created_at), window.time_zone)
            by_agent[(currency, call.agent_id)] += call.cost.total
            by_day[(currency, day)] += call.cost.total
        return CostStats(dict(by_component), dict(by_agent), dict(by_day), calls_with_cost)

    async def attributed_revenue(
        self, window: ReportWindow, attribution_days: int, agent_id: UUID | None = None
    ) -> list[AttributedRevenue]:
        attributable = [
            AttributableCall(c.id, c.agent_id, c.customer_id, call_time(c.started_at, c.created_at))
            for c in self._own_calls()
            if c.customer_id is not None and answered(c.status.value, c.duration_seconds)
        ]
        payments = self._own_payments()
        refunded = Counter[UUID]()
        for refund in payments:
            if refund.kind is PaymentKind.REFUND and refund.refunded_payment_id is not None:
                refunded[refund.refunded_payment_id] += refund.amount
        latest = window.ends_before + timedelta(days=attribution_days)
        sums: dict[tuple[UUID | None, str], tuple[int, int, int]] = {}
        for payment in payments:
            if (
                payment.kind is not PaymentKind.PAYMENT
                or not window.starts_at <= payment.received_at < latest
            ):
                continue
            received = ReceivedPayment(payment.id, payment.customer_id, payment.received_at)
            call = attributed_call(received, attributable, attribution_days)
            if (
                call is None
                or not window.holds(call.at)
                or (agent_id is not None and call.agent_id != agent_id)
            ):
                continue
            count, amount, back = sums.get((call.agent_id, payment.currency), (0, 0, 0))
            sums[(call.agent_id, payment.currency)] = (
                count + 1,
                amount + payment.amount,
                back + refunded[payment.id],
            )
        return [
            AttributedRevenue(agent, currency, *totals)
            for (agent, currency), totals in sorted(
                sums.items(), key=lambda item: (str(item[0][0]), item[0][1])
            )
        ]

    def _calls(self, window: ReportWindow, agent_id: UUID | None) -> Iterable[Call]:
        for call in self._own_calls():
            if agent_id is not None and call.agent_id != agent_id:
                continue
            if window.holds(call_time(call.started_at, call.created_at)):
                yield call

    def _own_calls(self) -> list[Call]:
        return [c for (tid, _), c in self._tx.read("calls").items() if tid == self._tenant_id]

    def _own_payments(self) -> list[Payment]:
        return [p for (tid, _), p in self._tx.read("payments").items() if tid == self._tenant_id]


def _counts(call: Call) -> CallCounts:
    duration = call.duration_seconds or 0
    return CallCounts(
        calls=1,
        inbound=int(call.direction is CallDirection.INBOUND),
        outbound=int(call.direction is CallDirection.OUTBOUND),
        answered=int(answered(call.status.value, call.duration_seconds)),
        evaluated=int(call.success is not None),
        succeeded=int(call.success is True),
        timed=int(duration > 0),
        duration_seconds=duration,
    )
