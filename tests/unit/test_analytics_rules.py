"""The report rules: windows of local days, rates, series that cover every day once, and the
rule that attributes a payment to a call."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.core.analytics.model import (
    MAX_RANGE_DAYS,
    AttributableCall,
    AttributedRevenue,
    CallCounts,
    CallStats,
    CostStats,
    ReceivedPayment,
    ReportWindow,
    answered,
    attributed_call,
    average,
    call_report,
    clean_attribution_days,
    cost_report,
    daily_series,
    day_of,
    rate,
)
from switchboard.core.errors import InvalidInput

NEW_YORK = "America/New_York"
ZONES = st.sampled_from(
    ["UTC", NEW_YORK, "Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu", "America/Santiago"]
)
DAYS = st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31))


@st.composite
def windows(draw: st.DrawFn) -> ReportWindow:
    first = draw(DAYS)
    length = draw(st.integers(min_value=1, max_value=MAX_RANGE_DAYS))
    return ReportWindow.of(first, first + timedelta(days=length - 1), draw(ZONES))


@given(windows())
def test_a_daily_series_holds_every_day_of_the_window_exactly_once_in_order(window: ReportWindow):
    series = daily_series(window, {}, 0)

    days = [day for day, _ in series]
    assert days[0] == window.first_day
    assert days[-1] == window.last_day
    assert len(days) == len(set(days)) == (window.last_day - window.first_day).days + 1
    assert days == sorted(days)


@given(windows(), st.integers(min_value=0, max_value=10**6))
def test_every_instant_of_a_window_falls_on_one_of_its_days(window: ReportWindow, seconds: int):
    span = (window.ends_before - window.starts_at).total_seconds()
    instant = window.starts_at + timedelta(seconds=seconds % int(span))

    assert window.holds(instant)
    assert window.first_day <= day_of(instant, window.time_zone) <= window.last_day


@given(windows())
def test_the_instants_just_outside_a_window_fall_on_the_days_beside_it(window: ReportWindow):
    before = window.starts_at - timedelta(microseconds=1)

    assert not window.holds(before)
    assert not window.holds(window.ends_before)
    assert day_of(before, window.time_zone) < window.first_day
    assert day_of(window.ends_before, window.time_zone) > window.last_day


@given(st.integers(min_value=-5, max_value=10**6), st.integers(min_value=0, max_value=10**6))
def test_a_rate_is_within_zero_and_one_or_none_when_there_is_nothing_to_measure(part: int, whole: int):
    result = rate(part, whole)

    if whole == 0:
        assert result is None
    else:
        assert result is not None
        assert 0.0 <= result <= 1.0


def test_rates_and_averages_of_some_calls():
    counts = CallCounts(calls=4, answered=3, evaluated=2, succeeded=1, timed=3, duration_seconds=300)

    assert counts.answer_rate == 0.75
    assert counts.success_rate == 0.5
    assert counts.average_duration_seconds == 100
    assert CallCounts().answer_rate is None
    assert average(0, 0) is None


def test_a_new_york_spring_day_is_23_hours_and_an_autumn_day_25():
    spring = ReportWindow.of(date(2026, 3, 8), date(2026, 3, 8), NEW_YORK)
    autumn = ReportWindow.of(date(2026, 11, 1), date(2026, 11, 1), NEW_YORK)

    assert spring.starts_at == datetime(2026, 3, 8, 5, tzinfo=UTC)
    assert spring.ends_before - spring.starts_at == timedelta(hours=23)
    assert autumn.starts_at == datetime(2026, 11, 1, 4, tzinfo=UTC)
    assert autumn.ends_before - autumn.starts_at == timedelta(hours=25)
    # The repeated hour of 1 November: 01:30 EDT and 01:30 EST are both that day.
    assert day_of(datetime(2026, 11, 1, 5, 30, tzinfo=UTC), NEW_YORK) == date(2026, 11, 1)
    assert day_of(datetime(2026, 11, 1, 6, 30, tzinfo=UTC), NEW_YORK) == date(2026, 11, 1)


def test_a_window_ends_on_or_after_its_start_and_covers_at_most_366_days():
    ReportWindow.of(date(2024, 1, 1), date(2024, 12, 31), "UTC")  # 366 days, a leap year

    with pytest.raises(InvalidInput) as too_long:
        ReportWindow.of(date(2024, 1, 1), date(2025, 1, 1), "UTC")
    assert too_long.value.errors[0].field == "to"
    with pytest.raises(InvalidInput):
        ReportWindow.of(date(2024, 1, 2), date(2024, 1, 1), "UTC")


@pytest.mark.parametrize("days", [0, -1, 91, True])
def test_the_attribution_window_is_1_to_90_days(days: int):
    with pytest.raises(InvalidInput):
        clean_attribution_days(days)


@pytest.mark.parametrize(
    ("status", "duration", "expected"),
    [
        ("in_progress", None, True),
        ("forwarding", 0, True),
        ("ended", 12, True),
        ("ended", 0, False),
        ("ended", None, False),
        ("ringing", None, False),
    ],
)
def test_a_call_is_answered_when_it_is_live_or_lasted(status: str, duration: int | None, expected: bool):
    assert answered(status, duration) is expected


def test_a_call_report_fills_missing_days_with_zeros_and_sums_them_into_totals():
    window = ReportWindow.of(date(2026, 1, 1), date(2026, 1, 3), "UTC")
    agent = uuid4()
    stats = CallStats(
        by_day={date(2026, 1, 2): CallCounts(calls=2, inbound=2, answered=1)},
        by_agent={agent: CallCounts(calls=2, inbound=2, answered=1), None: CallCounts()},
        outcomes={"silence-timed-out": 1, None: 1},
        sentiments={"neutral": 1, None: 1},
    )

    report = call_report(window, None, stats)

    assert [counts.calls for _, counts in report.daily] == [0, 2, 0]
    assert report.totals == CallCounts(calls=2, inbound=2, answered=1)
    assert report.sentiments == {"positive": 0, "neutral": 1, "negative": 0, "unknown": 1}
    assert report.outcomes == [(None, 1), ("silence-timed-out", 1)]
    assert report.by_agent == [(agent, CallCounts(calls=2, inbound=2, answered=1))]


def test_a_cost_report_keeps_currencies_apart_and_sets_revenue_beside_each_agents_cost():
    window = ReportWindow.of(date(2026, 1, 1), date(2026, 1, 2), "UTC")
    agent = uuid4()
    stats = CostStats(
        by_component={("USD", "model"): 30, ("EUR", "model"): 5, ("USD", "transport"): 10},
        by_agent={("USD", agent): 40, ("EUR", None): 5},
        by_day={("USD", date(2026, 1, 2)): 40, ("EUR", date(2026, 1, 2)): 5},
        calls_with_cost=3,
    )
    revenue = [AttributedRevenue(agent, "USD", 2, 1_000, 100), AttributedRevenue(None, "USD", 1, 50, 0)]

    report = cost_report(window, 7, None, ["transport", "model"], stats, revenue)

    assert [(line.currency, line.amount_micros) for line in report.totals] == [("EUR", 5), ("USD", 40)]
    assert [
        (name, [(x.currency, x.amount_micros) for x in lines]) for name, lines in report.by_component
    ] == [
        ("transport", [("USD", 10)]),
        ("model", [("EUR", 5), ("USD", 30)]),
    ]
    assert report.daily[0] == (date(2026, 1, 1), [])
    by_agent = {item.agent_id: item for item in report.by_agent}
    assert by_agent[agent].revenue == [revenue[0]]
    assert revenue[0].net == 900
    assert report.revenue == [AttributedRevenue(None, "USD", 3, 1_050, 100)]


CALL_TIMES = st.lists(st.integers(min_value=0, max_value=30 * 24), max_size=8)


@given(CALL_TIMES, st.integers(min_value=0, max_value=30 * 24), st.integers(min_value=1, max_value=20))
def test_a_payment_goes_to_the_latest_call_at_or_before_it_within_the_window_or_to_none(
    call_hours: list[int], payment_hour: int, days: int
):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    customer = uuid4()
    calls = [AttributableCall(uuid4(), uuid4(), customer, start + timedelta(hours=h)) for h in call_hours]
    paid = ReceivedPayment(uuid4(), customer, start + timedelta(hours=payment_hour))

    chosen = attributed_call(paid, calls, days)

    eligible = [c for c in calls if paid.received_at - timedelta(days=days) < c.at <= paid.received_at]
    if not eligible:
        assert chosen is None
    else:
        assert chosen in eligible
        assert all(c.at <= chosen.at for c in eligible)


def test_another_customers_call_earns_nothing():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    call = AttributableCall(uuid4(), None, uuid4(), now)

    assert attributed_call(ReceivedPayment(uuid4(), UUID(int=1), now), [call], 7) is None
