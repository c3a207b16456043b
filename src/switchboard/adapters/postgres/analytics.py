"""Call reports on PostgreSQL: each report is one statement that sums in the database.

A call's day is ``(coalesce(started_at, created_at) AT TIME ZONE :time_zone)::date``: the
tenant's calendar day, whatever the offset was that day. The window is matched on the same
time, written as two ranges (started calls by ``started_at``, never-started ones by
``created_at``) so each can use an index. Several breakdowns come from one scan with GROUPING
SETS; ``grouping()`` tells which breakdown a row belongs to.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    Interval,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
    true,
    tuple_,
)

from switchboard.adapters.postgres.repositories import Row, _Repository
from switchboard.adapters.postgres.statements import compile_sql
from switchboard.adapters.postgres.tables import calls, payments
from switchboard.core.analytics.model import (
    ANSWERED_STATUSES,
    AttributedRevenue,
    CallCounts,
    CallStats,
    CostStats,
    ReportWindow,
)
from switchboard.core.calls.model import CallDirection, CostComponent

# Constants are written into the SQL (statements are compiled once, without their values).
_ZERO: ColumnElement[int] = literal_column("0")
_CALL_AT = func.coalesce(calls.c.started_at, calls.c.created_at)


def _text(value: str) -> ColumnElement[str]:
    return literal_column(f"'{value}'")


def _answered(status: ColumnElement[str], duration: ColumnElement[int]) -> ColumnElement[bool]:
    """model.answered: in progress or forwarding now, or lasted more than zero seconds."""
    return or_(
        status.in_([_text(name) for name in sorted(ANSWERED_STATUSES)]),
        func.coalesce(duration, _ZERO) > _ZERO,
    )


def _in_window() -> ColumnElement[bool]:
    starts_at: ColumnElement[datetime] = bindparam("starts_at")
    ends_before: ColumnElement[datetime] = bindparam("ends_before")
    return and_(
        calls.c.tenant_id == bindparam("tenant_id"),
        or_(
            and_(calls.c.started_at >= starts_at, calls.c.started_at < ends_before),
            and_(
                calls.c.started_at.is_(None),
                calls.c.created_at >= starts_at,
                calls.c.created_at < ends_before,
            ),
        ),
    )


_REPORTED_COLUMNS = (
    "agent_id", "direction", "status", "ended_reason", "duration_seconds", "success", "sentiment",
    "cost_currency", "cost_total", *(f"cost_{component.value}" for component in CostComponent),
)  # fmt: skip


def _window_calls(for_agent: bool, *conditions: ColumnElement[bool]) -> Any:
    """The window's calls (only the agent's when ``for_agent``), with their local day."""
    day = cast(func.timezone(bindparam("time_zone"), _CALL_AT), Date).label("day")
    columns = [calls.c[name] for name in _REPORTED_COLUMNS]
    statement = select(*columns, day).where(_in_window(), *conditions)
    if for_agent:
        statement = statement.where(calls.c.agent_id == bindparam("agent_id"))
    return statement.subquery("window_calls")


def _total(column: ColumnElement[Any]) -> ColumnElement[int]:
    """SUM of a bigint is numeric in PostgreSQL: back to a whole number, 0 for no rows."""
    return cast(func.coalesce(func.sum(column), _ZERO), BigInteger)


@cache
def _call_stats_sql(for_agent: bool) -> str:
    c = _window_calls(for_agent)
    answered = _answered(c.c.status, c.c.duration_seconds)
    statement = select(
        func.grouping(c.c.day).label("no_day"),
        func.grouping(c.c.agent_id).label("no_agent"),
        func.grouping(c.c.ended_reason).label("no_reason"),
        c.c.day,
        c.c.agent_id,
        c.c.ended_reason,
        c.c.sentiment,
        func.count().label("calls"),
        func.count().filter(c.c.direction == _text(CallDirection.INBOUND.value)).label("inbound"),
        func.count().filter(c.c.direction == _text(CallDirection.OUTBOUND.value)).label("outbound"),
        func.count().filter(answered).label("answered"),
        func.count().filter(c.c.success.is_not(None)).label("evaluated"),
        func.count().filter(c.c.success.is_(True)).label("succeeded"),
        func.count().filter(c.c.duration_seconds > _ZERO).label("timed"),
        _total(c.c.duration_seconds).label("duration_seconds"),
    ).group_by(func.grouping_sets(c.c.day, c.c.agent_id, c.c.ended_reason, c.c.sentiment))
    return compile_sql(statement)


_COMPONENT_COLUMNS = {component.value: f"cost_{component.value}" for component in CostComponent}


@cache
def _cost_stats_sql(for_agent: bool) -> str:
    c = _window_calls(for_agent, calls.c.cost_currency.is_not(None))
    statement = select(
        func.grouping(c.c.agent_id).label("no_agent"),
        func.grouping(c.c.day).label("no_day"),
        c.c.cost_currency.label("currency"),
        c.c.agent_id,
        c.c.day,
        func.count().label("calls"),
        _total(c.c.cost_total).label("total"),
        *(_total(c.c[column]).label(name) for name, column in _COMPONENT_COLUMNS.items()),
    ).group_by(
        func.grouping_sets(
            tuple_(c.c.cost_currency),
            tuple_(c.c.cost_currency, c.c.agent_id),
            tuple_(c.c.cost_currency, c.c.day),
        )
    )
    return compile_sql(statement)


@cache
def _attributed_revenue_sql(for_agent: bool) -> str:
    paid = payments.alias("paid")
    refunds = payments.alias("refunds")
    # The customer's latest answered call at or before the payment: one entry of
    # calls_answered_by_customer_idx (migration 0021), whose expression this is. CASE, not
    # COALESCE: under row-level security only the first may be an index condition.
    call_at = case((calls.c.started_at.is_(None), calls.c.created_at), else_=calls.c.started_at)
    earning_call = (
        select(calls.c.agent_id, call_at.label("at"))
        .where(
            calls.c.tenant_id == paid.c.tenant_id,
            calls.c.customer_id == paid.c.customer_id,
            _answered(calls.c.status, calls.c.duration_seconds),
            call_at <= paid.c.received_at,
        )
        .order_by(call_at.desc(), calls.c.id.desc())
        .limit(literal_column("1"))
        .lateral("earning_call")
    )
    refunded = (
        select(refunds.c.refunded_payment_id, func.sum(refunds.c.amount).label("amount"))
        .where(
            refunds.c.tenant_id == bindparam("tenant_id"),
            refunds.c.kind == _text("refund"),
            refunds.c.refunded_payment_id.is_not(None),
        )
        .group_by(refunds.c.refunded_payment_id)
        .subquery("refunded")
    )
    statement = (
        select(
            earning_call.c.agent_id,
            paid.c.currency,
            func.count().label("payments"),
            _total(paid.c.amount).label("received"),
            _total(refunded.c.amount).label("refunded"),
        )
        .select_from(
            paid.join(earning_call, true()).outerjoin(refunded, refunded.c.refunded_payment_id == paid.c.id)
        )
        .where(
            paid.c.tenant_id == bindparam("tenant_id"),
            paid.c.kind == _text("payment"),
            paid.c.received_at >= bindparam("starts_at"),
            paid.c.received_at < bindparam("payments_before"),
            # Within the window of days: checked on that latest call, as any earlier one is
            # further still, so the index scan stops at one entry.
            earning_call.c.at > paid.c.received_at - bindparam("attribution_window", type_=Interval),
            earning_call.c.at >= bindparam("starts_at"),
            earning_call.c.at < bindparam("ends_before"),
        )
        .group_by(earning_call.c.agent_id, paid.c.currency)
        .order_by(earning_call.c.agent_id, paid.c.currency)
    )
    if for_agent:
        statement = statement.where(earning_call.c.agent_id == bindparam("agent_id"))
    return compile_sql(statement)


_COUNT_FIELDS = (
    "calls",
    "inbound",
    "outbound",
    "answered",
    "evaluated",
    "succeeded",
    "timed",
    "duration_seconds",
)


def _counts(row: Row) -> CallCounts:
    return CallCounts(*(int(row[name]) for name in _COUNT_FIELDS))


class PostgresCallReports(_Repository):
    async def call_stats(self, window: ReportWindow, agent_id: UUID | None = None) -> CallStats:
        rows = await self._all(_call_stats_sql(agent_id is not None), self._params(window, agent_id))
        stats = CallStats()
        for row in rows:
            if not row["no_day"]:
                stats.by_day[row["day"]] = _counts(row)
            elif not row["no_agent"]:
                stats.by_agent[row["agent_id"]] = _counts(row)
            elif not row["no_reason"]:
                stats.outcomes[row["ended_reason"]] = int(row["calls"])
            else:
                stats.sentiments[row["sentiment"]] = int(row["calls"])
        return stats

    async def cost_stats(self, window: ReportWindow, agent_id: UUID | None = None) -> CostStats:
        rows = await self._all(_cost_stats_sql(agent_id is not None), self._params(window, agent_id))
        by_component: dict[tuple[str, str], int] = {}
        by_agent: dict[tuple[str, UUID | None], int] = {}
        by_day: dict[tuple[str, date], int] = {}
        calls_with_cost = 0
        for row in rows:
            currency = row["currency"]
            if not row["no_agent"]:
                by_agent[(currency, row["agent_id"])] = int(row["total"])
            elif not row["no_day"]:
                by_day[(currency, row["day"])] = int(row["total"])
            else:
                calls_with_cost += int(row["calls"])
                for name in _COMPONENT_COLUMNS:
                    if row[name]:
                        by_component[(currency, name)] = int(row[name])
        return CostStats(by_component, by_agent, by_day, calls_with_cost)

    async def attributed_revenue(
        self, window: ReportWindow, attribution_days: int, agent_id: UUID | None = None
    ) -> list[AttributedRevenue]:
        span = timedelta(days=attribution_days)
        params = self._params(window, agent_id) | {
            "attribution_window": span,
            "payments_before": window.ends_before + span,
        }
        rows = await self._all(_attributed_revenue_sql(agent_id is not None), params)
        return [
            AttributedRevenue(
                row["agent_id"],
                row["currency"],
                int(row["payments"]),
                int(row["received"]),
                int(row["refunded"]),
            )
            for row in rows
        ]

    def _params(self, window: ReportWindow, agent_id: UUID | None) -> Row:
        return {
            "tenant_id": self._tenant_id,
            "starts_at": window.starts_at,
            "ends_before": window.ends_before,
            "time_zone": window.time_zone,
            "agent_id": agent_id,
        }
