"""Call reports: the rules that turn stored calls and payments into rates, averages and days.

A report covers whole days in the tenant's time zone, ``first_day`` to ``last_day`` inclusive.
A call belongs to the day (in that zone) of its time: when it started, or, for a call that never
started, when it was created. Those days are cut from the zone's own midnights, so a day can be
23 or 25 hours long across a daylight-saving change and still holds each call exactly once.

Storage answers with sums (``CallCounts``, cost and revenue totals); rates and averages are
computed here, and every day of the range appears in a series, with zeros where nothing
happened.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar
from uuid import UUID

from switchboard.core.errors import InvalidInput

MAX_RANGE_DAYS = 366
DEFAULT_ATTRIBUTION_DAYS = 7
MAX_ATTRIBUTION_DAYS = 90

T = TypeVar("T")


def zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def start_of_day(day: date, time_zone: str) -> datetime:
    """The first instant of ``day`` in ``time_zone``, in UTC (midnight, or the first time after
    it where a zone skips midnight)."""
    local = datetime.combine(day, time(), tzinfo=zone(time_zone))
    return local.astimezone(UTC)


def day_of(instant: datetime, time_zone: str) -> date:
    """The calendar day ``instant`` falls on in ``time_zone``."""
    return instant.astimezone(zone(time_zone)).date()


@dataclass(frozen=True)
class ReportWindow:
    """Whole days of the tenant's calendar, ``first_day`` to ``last_day`` inclusive."""

    first_day: date
    last_day: date
    time_zone: str

    @classmethod
    def of(cls, first_day: date, last_day: date, time_zone: str) -> ReportWindow:
        if last_day < first_day:
            raise InvalidInput.single("to", "must be on or after from")
        if last_day >= date.max:  # the window ends at the start of the day after its last
            raise InvalidInput.single("to", f"must be before {date.max.isoformat()}")
        if (last_day - first_day).days + 1 > MAX_RANGE_DAYS:
            raise InvalidInput.single("to", f"a report covers at most {MAX_RANGE_DAYS} days")
        return cls(first_day, last_day, time_zone)

    @property
    def starts_at(self) -> datetime:
        return start_of_day(self.first_day, self.time_zone)

    @property
    def ends_before(self) -> datetime:
        """The first instant after the last day: the window is [starts_at, ends_before)."""
        return start_of_day(self.last_day + timedelta(days=1), self.time_zone)

    def days(self) -> Iterator[date]:
        day = self.first_day
        while day <= self.last_day:
            yield day
            day += timedelta(days=1)

    def holds(self, instant: datetime) -> bool:
        return self.starts_at <= instant < self.ends_before


def clean_attribution_days(value: int) -> int:
    if isinstance(value, bool) or not 1 <= value <= MAX_ATTRIBUTION_DAYS:
        raise InvalidInput.single(
            "attribution_days", f"must be a whole number of days from 1 to {MAX_ATTRIBUTION_DAYS}"
        )
    return value


# A call reached a person when it went in progress: it is in progress or being forwarded now, or
# it has ended having lasted more than zero seconds (the SQL adapter mirrors this).
ANSWERED_STATUSES = frozenset({"in_progress", "forwarding"})


def answered(status: str, duration_seconds: int | None) -> bool:
    return status in ANSWERED_STATUSES or (duration_seconds or 0) > 0


def call_time(started_at: datetime | None, created_at: datetime) -> datetime:
    """When a call counts as having happened: its start, or its creation if it never started."""
    return started_at if started_at is not None else created_at


def rate(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` as a fraction in [0, 1]; None when there is nothing to measure."""
    if whole <= 0:
        return None
    return min(max(part, 0), whole) / whole


def average(total: int, count: int) -> float | None:
    return total / count if count > 0 else None


# --- calls --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallCounts:
    """Sums over a set of calls. ``answered``: reached a person (went in progress, or lasted
    more than zero seconds); ``evaluated``: carry a success evaluation, ``succeeded`` of those
    judged a success; ``timed``: have a duration above zero, whose seconds ``duration_seconds``
    adds up."""

    calls: int = 0
    inbound: int = 0
    outbound: int = 0
    answered: int = 0
    evaluated: int = 0
    succeeded: int = 0
    timed: int = 0
    duration_seconds: int = 0

    def __add__(self, other: CallCounts) -> CallCounts:
        return CallCounts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @property
    def answer_rate(self) -> float | None:
        return rate(self.answered, self.calls)

    @property
    def success_rate(self) -> float | None:
        return rate(self.succeeded, self.evaluated)

    @property
    def average_duration_seconds(self) -> float | None:
        return average(self.duration_seconds, self.timed)


@dataclass(frozen=True)
class CallStats:
    """What storage answers for the calls of a window: sums by day, by agent, by outcome (the
    ended reason, None for calls not ended or ended without one) and by sentiment (None: not
    judged). Keys with no calls may be absent."""

    by_day: dict[date, CallCounts] = field(default_factory=dict)
    by_agent: dict[UUID | None, CallCounts] = field(default_factory=dict)
    outcomes: dict[str | None, int] = field(default_factory=dict)
    sentiments: dict[str | None, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CallReport:
    window: ReportWindow
    agent_id: UUID | None
    totals: CallCounts
    outcomes: list[tuple[str | None, int]]  # most frequent first
    sentiments: dict[str, int]  # every sentiment, and "unknown"
    by_agent: list[tuple[UUID | None, CallCounts]]  # most calls first, calls without an agent last
    daily: list[tuple[date, CallCounts]]  # every day of the window, in order


SENTIMENT_NAMES = ("positive", "neutral", "negative")
UNKNOWN = "unknown"


def call_report(window: ReportWindow, agent_id: UUID | None, stats: CallStats) -> CallReport:
    daily = daily_series(window, stats.by_day, CallCounts())
    totals = sum((counts for _, counts in daily), CallCounts())
    sentiments = {name: 0 for name in (*SENTIMENT_NAMES, UNKNOWN)}
    for name, count in stats.sentiments.items():
        key = name if name in SENTIMENT_NAMES else UNKNOWN
        sentiments[key] += count
    outcomes = sorted(
        ((reason, count) for reason, count in stats.outcomes.items() if count),
        key=lambda item: (-item[1], item[0] or ""),
    )
    by_agent = sorted(
        ((agent, counts) for agent, counts in stats.by_agent.items() if counts.calls),
        key=lambda item: (-item[1].calls, item[0] is None, str(item[0])),
    )
    return CallReport(window, agent_id, totals, outcomes, sentiments, by_agent, daily)


def daily_series(window: ReportWindow, by_day: dict[date, T], empty: T) -> list[tuple[date, T]]:
    """Every day of the window exactly once, in order, ``empty`` where storage had nothing."""
    return [(day, by_day.get(day, empty)) for day in window.days()]


# --- costs and revenue --------------------------------------------------------------------------


@dataclass(frozen=True)
class CostLine:
    """A sum of call costs in micro-units of ``currency`` (platforms bill fractions of a cent)
    for one key: a cost component, an agent (None: calls without one) or a day."""

    currency: str
    amount_micros: int


@dataclass(frozen=True)
class AttributedRevenue:
    """Payments attributed to one agent's calls, in minor units of ``currency``: ``received``
    the payments, ``refunded`` what was since refunded of those same payments."""

    agent_id: UUID | None
    currency: str
    payments: int
    received: int
    refunded: int

    @property
    def net(self) -> int:
        return self.received - self.refunded


@dataclass(frozen=True)
class CostStats:
    """What storage answers for the costs of a window's calls, each sum per currency."""

    by_component: dict[tuple[str, str], int] = field(default_factory=dict)  # (currency, component)
    by_agent: dict[tuple[str, UUID | None], int] = field(default_factory=dict)  # (currency, agent)
    by_day: dict[tuple[str, date], int] = field(default_factory=dict)  # (currency, day)
    calls_with_cost: int = 0


@dataclass(frozen=True)
class AgentEconomics:
    """One agent's calls' cost beside the revenue attributed to them, each per currency."""

    agent_id: UUID | None
    costs: list[CostLine]
    revenue: list[AttributedRevenue]


@dataclass(frozen=True)
class CostReport:
    window: ReportWindow
    attribution_days: int
    agent_id: UUID | None
    totals: list[CostLine]  # per currency
    by_component: list[tuple[str, list[CostLine]]]  # every component, in the vocabulary's order
    by_agent: list[AgentEconomics]
    daily: list[tuple[date, list[CostLine]]]  # every day of the window
    revenue: list[AttributedRevenue]  # per currency, over every agent (agent_id None)
    calls_with_cost: int


def cost_report(
    window: ReportWindow,
    attribution_days: int,
    agent_id: UUID | None,
    components: Iterable[str],
    stats: CostStats,
    revenue: list[AttributedRevenue],
) -> CostReport:
    totals: dict[str, int] = {}
    for (currency, _), amount in stats.by_component.items():
        totals[currency] = totals.get(currency, 0) + amount
    by_component = [
        (
            name,
            _lines(
                (currency, amount) for (currency, key), amount in stats.by_component.items() if key == name
            ),
        )
        for name in components
    ]
    agents = {agent for _, agent in stats.by_agent} | {line.agent_id for line in revenue}
    by_agent = [
        AgentEconomics(
            agent,
            _lines((currency, amount) for (currency, key), amount in stats.by_agent.items() if key == agent),
            sorted((line for line in revenue if line.agent_id == agent), key=lambda line: line.currency),
        )
        for agent in agents
    ]
    by_agent.sort(
        key=lambda item: (
            -sum(line.amount_micros for line in item.costs),
            item.agent_id is None,
            str(item.agent_id),
        )
    )
    days: dict[date, list[CostLine]] = {}
    for (currency, day), amount in sorted(stats.by_day.items()):
        days.setdefault(day, []).append(CostLine(currency, amount))
    return CostReport(
        window,
        attribution_days,
        agent_id,
        _lines(totals.items()),
        by_component,
        by_agent,
        daily_series(window, days, []),
        revenue_totals(revenue),
        stats.calls_with_cost,
    )


def revenue_totals(revenue: Iterable[AttributedRevenue]) -> list[AttributedRevenue]:
    """The same sums over every agent, one per currency."""
    merged: dict[str, AttributedRevenue] = {}
    for line in revenue:
        seen = merged.get(line.currency, AttributedRevenue(None, line.currency, 0, 0, 0))
        merged[line.currency] = AttributedRevenue(
            None,
            line.currency,
            seen.payments + line.payments,
            seen.received + line.received,
            seen.refunded + line.refunded,
        )
    return [merged[currency] for currency in sorted(merged)]


def _lines(amounts: Iterable[tuple[str, int]]) -> list[CostLine]:
    summed: dict[str, int] = {}
    for currency, amount in amounts:
        summed[currency] = summed.get(currency, 0) + amount
    return [CostLine(currency, amount) for currency, amount in sorted(summed.items())]


# --- attribution --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttributableCall:
    """An answered call with a known customer: what a payment can be attributed to."""

    id: UUID
    agent_id: UUID | None
    customer_id: UUID
    at: datetime


@dataclass(frozen=True)
class ReceivedPayment:
    id: UUID
    customer_id: UUID
    received_at: datetime


def attributed_call(
    payment: ReceivedPayment, calls: Iterable[AttributableCall], attribution_days: int
) -> AttributableCall | None:
    """The call a payment is attributed to: the customer's most recent answered call at or
    before the payment and less than ``attribution_days`` days before it (ties: the greater call
    id, as the database orders them). None: no call earned it.

    Each payment goes to one call at most, so no payment counts twice, whichever report or
    range asks; it counts in a report when its call falls in the report's window.
    """
    earliest = payment.received_at - timedelta(days=attribution_days)
    candidates = [
        call
        for call in calls
        if call.customer_id == payment.customer_id and earliest < call.at <= payment.received_at
    ]
    return max(candidates, key=lambda call: (call.at, call.id), default=None)
