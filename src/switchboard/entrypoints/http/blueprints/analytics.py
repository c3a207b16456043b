"""Call analytics: the calls and costs reports (JSON or CSV), and the calls export (CSV).

Reports cover whole days of the tenant's time zone (``GET /v1/tenant``); every CSV streams as it
is written, the calls export page by page, so no download holds more than one page of calls.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from dependency_injector.wiring import Provide, inject
from pydantic import BaseModel, ConfigDict, Field
from quart import Blueprint, Response
from quart_schema import document_response, tag, validate_querystring

from switchboard.core.analytics import handlers
from switchboard.core.analytics.model import (
    DEFAULT_ATTRIBUTION_DAYS,
    MAX_ATTRIBUTION_DAYS,
    AttributedRevenue,
    CallCounts,
    CallReport,
    CostLine,
    CostReport,
)
from switchboard.core.calls.model import CostComponent
from switchboard.core.calls.records import Call, CallFilter
from switchboard.core.identity.model import Principal
from switchboard.core.identity.sessions import context_of
from switchboard.core.pagination import MAX_LIMIT, Page, PageRequest
from switchboard.core.scheduling.model import parse_day
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.auth import acting, client, current_principal, require_principal
from switchboard.entrypoints.http.blueprints.calls import CallFilterQuery
from switchboard.entrypoints.http.csv_stream import csv_line, csv_response
from switchboard.entrypoints.http.responses import json_response
from switchboard.ports.persistence import UnitOfWork, UnitOfWorkFactory

blueprint = Blueprint("analytics", __name__, url_prefix="/v1")
blueprint.before_request(require_principal)

DATE_LENGTH = 10  # YYYY-MM-DD
DATE_HELP = "YYYY-MM-DD, a day in the tenant's time zone; the range is inclusive, at most 366 days"


# --- request and response models -----------------------------------------------------------------


class ReportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from", max_length=DATE_LENGTH, description=DATE_HELP)
    to: str = Field(max_length=DATE_LENGTH, description=DATE_HELP)
    agent_id: UUID | None = Field(default=None, description="only this agent's calls")
    format: Literal["json", "csv"] = "json"

    def days(self) -> tuple[date, date]:
        return parse_day(self.from_, "from"), parse_day(self.to, "to")


class CallReportQuery(ReportQuery):
    by: Literal["day", "agent", "outcome", "sentiment"] = Field(
        default="day", description="the rows of the CSV (format=csv)"
    )


class CostReportQuery(ReportQuery):
    attribution_days: int = Field(
        default=DEFAULT_ATTRIBUTION_DAYS,
        ge=1,
        le=MAX_ATTRIBUTION_DAYS,
        description="a payment counts for a call when received within this many days after it",
    )
    by: Literal["day", "agent", "component"] = Field(
        default="day", description="the rows of the CSV (format=csv)"
    )


class CallCountsOut(BaseModel):
    calls: int
    inbound: int
    outbound: int
    answered: int
    answer_rate: float | None = Field(description="answered / calls; null without calls")
    evaluated: int = Field(description="calls with a success evaluation")
    succeeded: int
    success_rate: float | None = Field(description="succeeded / evaluated; null without evaluations")
    total_duration_seconds: int
    average_duration_seconds: float | None = Field(description="over the calls that lasted")


class OutcomeOut(BaseModel):
    ended_reason: str | None
    calls: int


class AgentCallsOut(CallCountsOut):
    agent_id: UUID | None


class DayCallsOut(CallCountsOut):
    date: str


class SentimentOut(BaseModel):
    positive: int
    neutral: int
    negative: int
    unknown: int


class CallReportOut(BaseModel):
    object: Literal["call_report"]
    from_: str = Field(alias="from")
    to: str
    time_zone: str
    agent_id: UUID | None
    totals: CallCountsOut
    outcomes: list[OutcomeOut]
    sentiment: SentimentOut
    by_agent: list[AgentCallsOut]
    daily: list[DayCallsOut]


class CostOut(BaseModel):
    amount_micros: int = Field(description="millionths of the currency's unit")
    currency: str


class MoneyOut(BaseModel):
    amount: int = Field(description="minor units")
    currency: str


class RevenueOut(BaseModel):
    currency: str
    payments: int
    received: MoneyOut
    refunded: MoneyOut
    net: MoneyOut


class ComponentCostOut(BaseModel):
    component: CostComponent
    costs: list[CostOut]


class AgentEconomicsOut(BaseModel):
    agent_id: UUID | None
    costs: list[CostOut]
    revenue: list[RevenueOut]


class DayCostOut(BaseModel):
    date: str
    costs: list[CostOut]


class CostReportOut(BaseModel):
    object: Literal["cost_report"]
    from_: str = Field(alias="from")
    to: str
    time_zone: str
    agent_id: UUID | None
    attribution_days: int
    calls_with_cost: int
    totals: list[CostOut]
    by_component: list[ComponentCostOut]
    by_agent: list[AgentEconomicsOut]
    daily: list[DayCostOut]
    revenue: list[RevenueOut]


class CallExportQuery(CallFilterQuery):
    """The calls list's filters, by the same names (``GET /v1/calls``), without paging."""


# --- the reports ---------------------------------------------------------------------------------


@blueprint.get("/analytics/calls")
@tag(["analytics"])
@validate_querystring(CallReportQuery)
@document_response(CallReportOut)
@inject
async def calls_report(
    query_args: CallReportQuery, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """Totals, answer and success rates, durations, outcomes, sentiment, by agent and by day
    (every day of the range, in the tenant's time zone). ``format=csv`` streams the rows named
    by ``by``."""
    first_day, last_day = query_args.days()
    query = handlers.CallReportQuery(first_day, last_day, query_args.agent_id)
    report = await handlers.calls_report(query, *acting(units))
    if query_args.format == "csv":
        return csv_response(
            _lines(CALL_CSV[query_args.by](report)), _filename("calls", report, query_args.by)
        )
    return json_response(render_call_report(report))


@blueprint.get("/analytics/costs")
@tag(["analytics"])
@validate_querystring(CostReportQuery)
@document_response(CostReportOut)
@inject
async def costs_report(
    query_args: CostReportQuery, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """What the calls cost, by component, agent and day (micro-units, per currency), and the
    payments attributed to them: each payment goes to its customer's latest answered call in
    the ``attribution_days`` before it. ``format=csv`` streams the rows named by ``by``."""
    first_day, last_day = query_args.days()
    query = handlers.CostReportQuery(first_day, last_day, query_args.agent_id, query_args.attribution_days)
    report = await handlers.costs_report(query, *acting(units))
    if query_args.format == "csv":
        return csv_response(
            _lines(COST_CSV[query_args.by](report)), _filename("costs", report, query_args.by)
        )
    return json_response(render_cost_report(report))


# --- the calls export ----------------------------------------------------------------------------

CALL_CSV_COLUMNS = (
    "id", "created_at", "started_at", "ended_at", "direction", "status", "ended_reason", "agent_id",
    "customer_id", "customer_number", "business_number", "duration_seconds", "success", "sentiment",
    "summary", "cost_currency", *(f"cost_{c.value}_micros" for c in CostComponent), "cost_total_micros",
    "feedback_rating",
)  # fmt: skip


@blueprint.get("/calls/export")
@tag(["analytics"])
@validate_querystring(CallExportQuery)
@inject
async def export_calls(
    query_args: CallExportQuery, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """Every call the filters match as CSV, newest first, streamed a page at a time (the calls
    list's filters; transcripts are left out)."""
    principal = current_principal()
    # The body streams after the view returns, outside the request: fix the scope now.
    context = context_of(principal, client())

    def unit() -> UnitOfWork:
        return units(principal.tenant_id, principal.user_id, context)

    filters = query_args.to_filter()
    # The first page is read before answering, so a refusal is a problem response, not a cut CSV.
    first = await handlers.calls_for_export(filters, PageRequest(MAX_LIMIT), principal, unit())
    return csv_response(call_csv_lines(filters, principal, unit, first), "calls.csv")


async def call_csv_lines(
    filters: CallFilter,
    principal: Principal,
    unit: Callable[[], UnitOfWork],
    first: Page[Call] | None = None,
) -> AsyncIterator[bytes]:
    """The header, then one line per call, one page of at most MAX_LIMIT calls in memory at once."""
    yield csv_line(CALL_CSV_COLUMNS)
    page = first or await handlers.calls_for_export(filters, PageRequest(MAX_LIMIT), principal, unit())
    while True:
        for call in page.items:
            yield csv_line(_call_row(call))
        if page.next_position is None:
            return
        page = await handlers.calls_for_export(
            filters, PageRequest(MAX_LIMIT, page.next_position), principal, unit()
        )


def _call_row(call: Call) -> tuple[Any, ...]:
    cost = call.cost
    components = cost.components if cost else {}
    return (
        call.id,
        _instant(call.created_at),
        _instant(call.started_at),
        _instant(call.ended_at),
        call.direction.value,
        call.status.value,
        call.ended_reason,
        call.agent_id,
        call.customer_id,
        call.customer_number,
        call.business_number,
        call.duration_seconds,
        _yes_no(call.success),
        call.sentiment.value if call.sentiment else None,
        call.summary,
        cost.currency if cost else None,
        *(components.get(component, 0) if cost else None for component in CostComponent),
        cost.total if cost else None,
        call.feedback.rating if call.feedback else None,
    )


def _instant(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _yes_no(value: bool | None) -> str | None:
    return None if value is None else ("true" if value else "false")


# --- rendering -----------------------------------------------------------------------------------


def _counts(counts: CallCounts) -> dict[str, Any]:
    return {
        "calls": counts.calls,
        "inbound": counts.inbound,
        "outbound": counts.outbound,
        "answered": counts.answered,
        "answer_rate": counts.answer_rate,
        "evaluated": counts.evaluated,
        "succeeded": counts.succeeded,
        "success_rate": counts.success_rate,
        "total_duration_seconds": counts.duration_seconds,
        "average_duration_seconds": counts.average_duration_seconds,
    }


def render_call_report(report: CallReport) -> dict[str, Any]:
    return {
        "object": "call_report",
        "from": report.window.first_day.isoformat(),
        "to": report.window.last_day.isoformat(),
        "time_zone": report.window.time_zone,
        "agent_id": report.agent_id,
        "totals": _counts(report.totals),
        "outcomes": [{"ended_reason": reason, "calls": calls} for reason, calls in report.outcomes],
        "sentiment": report.sentiments,
        "by_agent": [{"agent_id": agent} | _counts(counts) for agent, counts in report.by_agent],
        "daily": [{"date": day.isoformat()} | _counts(counts) for day, counts in report.daily],
    }


def _costs(lines: list[CostLine]) -> list[dict[str, Any]]:
    return [{"amount_micros": line.amount_micros, "currency": line.currency} for line in lines]


def _revenue(lines: list[AttributedRevenue]) -> list[dict[str, Any]]:
    def money(amount: int, currency: str) -> dict[str, Any]:
        return {"amount": amount, "currency": currency}

    return [
        {
            "currency": line.currency,
            "payments": line.payments,
            "received": money(line.received, line.currency),
            "refunded": money(line.refunded, line.currency),
            "net": money(line.net, line.currency),
        }
        for line in lines
    ]


def render_cost_report(report: CostReport) -> dict[str, Any]:
    return {
        "object": "cost_report",
        "from": report.window.first_day.isoformat(),
        "to": report.window.last_day.isoformat(),
        "time_zone": report.window.time_zone,
        "agent_id": report.agent_id,
        "attribution_days": report.attribution_days,
        "calls_with_cost": report.calls_with_cost,
        "totals": _costs(report.totals),
        "by_component": [{"component": name, "costs": _costs(lines)} for name, lines in report.by_component],
        "by_agent": [
            {"agent_id": item.agent_id, "costs": _costs(item.costs), "revenue": _revenue(item.revenue)}
            for item in report.by_agent
        ],
        "daily": [{"date": day.isoformat(), "costs": _costs(lines)} for day, lines in report.daily],
        "revenue": _revenue(report.revenue),
    }


# --- report rows as CSV --------------------------------------------------------------------------

COUNT_COLUMNS = (
    "calls", "inbound", "outbound", "answered", "answer_rate", "evaluated", "succeeded", "success_rate",
    "total_duration_seconds", "average_duration_seconds",
)  # fmt: skip


def _count_cells(counts: CallCounts) -> list[Any]:
    rendered = _counts(counts)
    return [_number(rendered[column]) for column in COUNT_COLUMNS]


def _number(value: Any) -> Any:
    """Rates and averages to four decimals; an empty cell where there is nothing to measure."""
    return round(value, 4) if isinstance(value, float) else value


def _calls_by_day(report: CallReport) -> Iterator[tuple[Any, ...]]:
    yield ("date", *COUNT_COLUMNS)
    for day, counts in report.daily:
        yield (day.isoformat(), *_count_cells(counts))


def _calls_by_agent(report: CallReport) -> Iterator[tuple[Any, ...]]:
    yield ("agent_id", *COUNT_COLUMNS)
    for agent, counts in report.by_agent:
        yield (agent, *_count_cells(counts))


def _calls_by_outcome(report: CallReport) -> Iterator[tuple[Any, ...]]:
    yield ("ended_reason", "calls")
    yield from report.outcomes


def _calls_by_sentiment(report: CallReport) -> Iterator[tuple[Any, ...]]:
    yield ("sentiment", "calls")
    yield from report.sentiments.items()


CALL_CSV = {
    "day": _calls_by_day,
    "agent": _calls_by_agent,
    "outcome": _calls_by_outcome,
    "sentiment": _calls_by_sentiment,
}


def _costs_by_day(report: CostReport) -> Iterator[tuple[Any, ...]]:
    """One row per day and currency, zeros included (a blank currency when nothing was billed)."""
    currencies = [line.currency for line in report.totals] or [None]
    yield ("date", "currency", "cost_micros")
    for day, lines in report.daily:
        amounts = {line.currency: line.amount_micros for line in lines}
        for currency in currencies:
            yield (day.isoformat(), currency, amounts.get(currency, 0) if currency else 0)


def _costs_by_agent(report: CostReport) -> Iterator[tuple[Any, ...]]:
    """Cost (micro-units) beside attributed revenue (minor units), per agent and currency."""
    yield ("agent_id", "currency", "cost_micros", "payments", "received", "refunded", "net")
    for item in report.by_agent:
        costs = {line.currency: line.amount_micros for line in item.costs}
        revenue = {line.currency: line for line in item.revenue}
        for currency in sorted(costs.keys() | revenue.keys()):
            earned = revenue.get(currency)
            yield (
                item.agent_id,
                currency,
                costs.get(currency, 0),
                earned.payments if earned else 0,
                earned.received if earned else 0,
                earned.refunded if earned else 0,
                earned.net if earned else 0,
            )


def _costs_by_component(report: CostReport) -> Iterator[tuple[Any, ...]]:
    yield ("component", "currency", "cost_micros")
    for name, lines in report.by_component:
        for line in lines:
            yield (name, line.currency, line.amount_micros)


COST_CSV = {"day": _costs_by_day, "agent": _costs_by_agent, "component": _costs_by_component}


async def _lines(rows: Iterator[tuple[Any, ...]]) -> AsyncIterator[bytes]:
    for row in rows:
        yield csv_line(row)


def _filename(kind: str, report: CallReport | CostReport, by: str) -> str:
    window = report.window
    return f"{kind}-by-{by}-{window.first_day.isoformat()}-to-{window.last_day.isoformat()}.csv"
