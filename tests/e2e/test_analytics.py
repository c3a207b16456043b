"""Call analytics over HTTP: the tenant's time zone, the calls and costs reports (JSON and CSV),
revenue attributed to calls from real invoices and payments, and the streamed calls export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from pydantic import BaseModel

from switchboard.core.calls.agents import Agent
from switchboard.core.calls.model import CallCost, CallDirection, CallStatus, CostComponent, Sentiment
from switchboard.core.calls.records import Call, CallFilter
from switchboard.core.identity.model import Principal
from switchboard.core.pagination import MAX_LIMIT
from switchboard.core.tenancy.model import Role
from switchboard.entrypoints.http.blueprints.analytics import (
    CALL_CSV_COLUMNS,
    CallReportOut,
    CostReportOut,
    call_csv_lines,
)
from switchboard.entrypoints.http.blueprints.schemas import TenantOut
from switchboard.ports.persistence import UnitOfWork
from tests.e2e.admin_helpers import add_member, bearer, create_key
from tests.e2e.helpers import SignedUp, conforms, create_customer, expect_problem, sign_up

NEW_YORK = "America/New_York"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def documented(model: type[BaseModel], body: dict[str, Any]) -> None:
    """The body validates against its documented model and has exactly its (aliased) keys."""
    model.model_validate(body)
    assert set(body) == {field.alias or name for name, field in model.model_fields.items()}


async def set_time_zone(client: Any, who: SignedUp, time_zone: str) -> Any:
    return await client.patch("/v1/tenant", json={"time_zone": time_zone}, headers=who.auth)


async def add_agent(container: Any, tenant_id: str, name: str = "Receptionist") -> UUID:
    now = datetime.now(UTC)
    agent = Agent(
        id=uuid4(),
        tenant_id=UUID(tenant_id),
        name=name,
        voice_provider="vapi",
        voice_id="jennifer",
        model_provider="openai",
        model="gpt-4o",
        system_prompt="Answer the phone.",
        first_message=None,
        tools=(),
        current_version=1,
        published_version=None,
        provider_agent_id=None,
        sync_status=None,
        sync_error=None,
        synced_at=None,
        created_at=now,
        updated_at=now,
    )
    async with container.units()(UUID(tenant_id)) as uow:
        await uow.voice_agents.add(agent)
        await uow.commit()
    return agent.id


def make_call(tenant_id: str, when: datetime, **fields: Any) -> Call:
    values: dict[str, Any] = dict(
        id=uuid4(),
        tenant_id=UUID(tenant_id),
        integration_id=uuid4(),
        provider_call_id=None,
        direction=CallDirection.INBOUND,
        status=CallStatus.ENDED,
        created_at=when,
        updated_at=when,
        started_at=when,
        ended_at=when + timedelta(seconds=90),
        ended_reason="customer-ended-call",
    )
    return Call(**(values | fields))


async def add_calls(container: Any, tenant_id: str, *calls: Call) -> None:
    """Calls stored as the voice platform's messages leave them (core/calls/calls.py)."""
    async with container.units()(UUID(tenant_id)) as uow:
        for call in calls:
            await uow.calls.add(call)
        await uow.commit()


async def paid(client: Any, who: SignedUp, customer_id: str, amount: int, received_at: datetime) -> None:
    """An issued invoice of ``amount`` USD, paid in full at ``received_at``, over the sales API."""
    line = {
        "description": "Boiler service",
        "quantity": "1",
        "unit_price": {"amount": amount, "currency": "USD"},
    }
    created = await client.post(
        "/v1/invoices", json={"customer_id": customer_id, "lines": [line]}, headers=who.auth
    )
    assert created.status_code == 201, await created.get_data()
    invoice_id = (await created.get_json())["id"]
    issued = await client.post(f"/v1/invoices/{invoice_id}/issue", json={}, headers=who.auth)
    assert issued.status_code == 200, await issued.get_data()
    payment = {
        "amount": {"amount": amount, "currency": "USD"},
        "method": "card",
        "received_at": received_at.isoformat(),
    }
    recorded = await client.post(f"/v1/invoices/{invoice_id}/payments", json=payment, headers=who.auth)
    assert recorded.status_code == 201, await recorded.get_data()


async def get_report(client: Any, who: SignedUp | dict[str, str], path: str, **query: Any) -> dict[str, Any]:
    headers = who.auth if isinstance(who, SignedUp) else who
    response = await client.get(path, query_string=query, headers=headers)
    assert response.status_code == 200, await response.get_data()
    body: dict[str, Any] = await response.get_json()
    return body


async def csv_rows(response: Any) -> list[list[str]]:
    assert response.status_code == 200, await response.get_data()
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    return list(csv.reader(io.StringIO((await response.get_data()).decode())))


# --- the tenant's time zone --------------------------------------------------------------------


async def test_a_tenant_starts_in_utc_and_an_owner_sets_an_iana_time_zone(client):
    owner = await sign_up(client)
    before = await client.get("/v1/tenant", headers=owner.auth)
    assert (await before.get_json())["time_zone"] == "UTC"

    response = await set_time_zone(client, owner, NEW_YORK)

    assert response.status_code == 200
    body = await response.get_json()
    conforms(TenantOut, body)
    assert body["time_zone"] == NEW_YORK
    assert response.headers["ETag"] != before.headers["ETag"]
    after = await client.get("/v1/tenant", headers=owner.auth)
    assert (await after.get_json())["time_zone"] == NEW_YORK


@pytest.mark.parametrize(
    "time_zone", ["Mars/Olympus_Mons", "Eastern Standard Time", "", "x" * 65, "../../etc/passwd"]
)
async def test_a_time_zone_that_is_not_an_iana_name_is_refused_and_changes_nothing(client, time_zone):
    owner = await sign_up(client)

    problem = await expect_problem(await set_time_zone(client, owner, time_zone), 400, "validation_error")

    assert problem["errors"][0]["field"] == "time_zone"
    assert (await (await client.get("/v1/tenant", headers=owner.auth)).get_json())["time_zone"] == "UTC"


async def test_a_tenant_patch_with_nothing_to_change_is_refused(client):
    owner = await sign_up(client)

    await expect_problem(
        await client.patch("/v1/tenant", json={}, headers=owner.auth), 400, "validation_error"
    )


async def test_a_member_may_not_set_the_time_zone(client, database):
    owner = await sign_up(client)
    member = await add_member(client, database, owner)

    await expect_problem(await set_time_zone(client, member, NEW_YORK), 403, "forbidden")


# --- the calls report --------------------------------------------------------------------------


async def test_the_calls_report_counts_calls_on_the_tenants_local_days_across_daylight_saving(
    client, container
):
    owner = await sign_up(client)
    assert (await set_time_zone(client, owner, NEW_YORK)).status_code == 200
    agent = await add_agent(container, owner.tenant_id)
    await add_calls(
        container,
        owner.tenant_id,
        make_call(owner.tenant_id, at("2026-03-07T04:59:00")),  # 6 March locally: outside
        make_call(owner.tenant_id, at("2026-03-08T04:30:00"), agent_id=agent, success=True),  # 7 March
        make_call(owner.tenant_id, at("2026-03-08T05:30:00"), agent_id=agent, success=False),  # 8 March
        make_call(
            owner.tenant_id,
            at("2026-03-09T03:59:00"),  # 8 March, 23:59 EDT
            direction=CallDirection.OUTBOUND,
            ended_at=at("2026-03-09T03:59:00"),
            ended_reason="customer-did-not-answer",
            sentiment=Sentiment.NEGATIVE,
        ),
    )

    body = await get_report(
        client, owner, "/v1/analytics/calls", **{"from": "2026-03-06", "to": "2026-03-09"}
    )

    documented(CallReportOut, body)
    assert body["time_zone"] == NEW_YORK
    assert [(d["date"], d["calls"]) for d in body["daily"]] == [
        ("2026-03-06", 1),
        ("2026-03-07", 1),
        ("2026-03-08", 2),
        ("2026-03-09", 0),
    ]
    totals = body["totals"]
    assert (totals["calls"], totals["inbound"], totals["outbound"], totals["answered"]) == (4, 3, 1, 3)
    assert totals["answer_rate"] == 0.75
    assert totals["success_rate"] == 0.5
    assert totals["total_duration_seconds"] == 270
    assert totals["average_duration_seconds"] == 90
    assert {"ended_reason": "customer-did-not-answer", "calls": 1} in body["outcomes"]
    assert body["sentiment"] == {"positive": 0, "neutral": 0, "negative": 1, "unknown": 3}
    assert [(a["agent_id"], a["calls"]) for a in body["by_agent"]] == [(str(agent), 2), (None, 2)]

    only_agent = await get_report(
        client,
        owner,
        "/v1/analytics/calls",
        **{"from": "2026-03-06", "to": "2026-03-09", "agent_id": str(agent)},
    )
    assert only_agent["totals"]["calls"] == 2
    assert only_agent["agent_id"] == str(agent)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2026-02-30", "to": "2026-03-01"}, "from"),
        ({"from": "2026-03-01", "to": "01/03/2026"}, "to"),
        ({"from": "2026-03-02", "to": "2026-03-01"}, "to"),
        ({"from": "2024-01-01", "to": "2025-01-01"}, "to"),  # 366 days plus one
        ({"to": "2026-03-01"}, "from"),
        ({"from": "2026-03-01", "to": "2026-03-02", "agent_id": "not-a-uuid"}, "agent_id"),
        ({"from": "2026-03-01", "to": "2026-03-02", "limit": "5"}, "limit"),
        ({"from": "2026-03-01", "to": "2026-03-02", "format": "xlsx"}, "format"),
    ],
)
async def test_bad_report_ranges_are_refused_with_400(client, query, field):
    owner = await sign_up(client)

    for path in ("/v1/analytics/calls", "/v1/analytics/costs"):
        response = await client.get(path, query_string=query, headers=owner.auth)
        problem = await expect_problem(response, 400, "validation_error")
        assert field in {error["field"] for error in problem.get("errors", [])}, problem


async def test_a_full_year_of_366_days_is_one_report(client):
    owner = await sign_up(client)

    body = await get_report(
        client, owner, "/v1/analytics/calls", **{"from": "2024-01-01", "to": "2024-12-31"}
    )

    assert len(body["daily"]) == 366


async def test_another_tenants_agent_is_not_found_and_its_calls_never_show(client, container):
    owner = await sign_up(client)
    stranger = await sign_up(client)
    their_agent = await add_agent(container, stranger.tenant_id, "Their agent")
    await add_calls(
        container,
        stranger.tenant_id,
        make_call(stranger.tenant_id, at("2026-04-02T12:00:00"), agent_id=their_agent),
    )
    query = {"from": "2026-04-01", "to": "2026-04-03", "agent_id": str(their_agent)}

    for path in ("/v1/analytics/calls", "/v1/analytics/costs"):
        response = await client.get(path, query_string=query, headers=owner.auth)
        problem = await expect_problem(response, 404, "not_found")
        assert str(their_agent) not in problem["detail"]
    unfiltered = await get_report(
        client, owner, "/v1/analytics/calls", **{"from": "2026-04-01", "to": "2026-04-03"}
    )
    assert unfiltered["totals"]["calls"] == 0
    exported = await csv_rows(await client.get("/v1/calls/export", headers=owner.auth))
    assert exported == [list(CALL_CSV_COLUMNS)]


async def test_members_and_keys_without_the_analytics_scope_are_refused_and_a_scoped_key_reads(
    client, database
):
    owner = await sign_up(client)
    member = await add_member(client, database, owner)
    scoped = await create_key(client, owner, {"analytics": "read"})
    unscoped = await create_key(client, owner, {"customers": "read"})
    query = {"from": "2026-04-01", "to": "2026-04-01"}

    await expect_problem(
        await client.get("/v1/analytics/calls", query_string=query, headers=member.auth), 403
    )
    await expect_problem(
        await client.get("/v1/analytics/costs", query_string=query, headers=bearer(unscoped["secret"])), 403
    )
    await expect_problem(await client.get("/v1/calls/export", headers=bearer(unscoped["secret"])), 403)
    assert (await get_report(client, bearer(scoped["secret"]), "/v1/analytics/costs", **query))[
        "totals"
    ] == []


# --- the costs report and attributed revenue ---------------------------------------------------


async def test_the_costs_report_sets_each_agents_costs_beside_the_payments_its_calls_brought(
    client, container
):
    owner = await sign_up(client)
    ada, bob = (
        await add_agent(container, owner.tenant_id, "Ada"),
        await add_agent(container, owner.tenant_id, "Bob"),
    )
    grace = await create_customer(client, owner, name="Grace")
    alan = await create_customer(client, owner, name="Alan", phone="+14155550101")
    usd = CallCost("USD", {CostComponent.TRANSPORT: 12_000, CostComponent.MODEL: 30_500})
    await add_calls(
        container,
        owner.tenant_id,
        make_call(
            owner.tenant_id, at("2026-05-01T15:00:00"), agent_id=ada, customer_id=UUID(grace["id"]), cost=usd
        ),
        make_call(
            owner.tenant_id, at("2026-05-03T15:00:00"), agent_id=bob, customer_id=UUID(grace["id"]), cost=usd
        ),
        make_call(
            owner.tenant_id,
            at("2026-05-02T15:00:00"),
            agent_id=ada,
            customer_id=UUID(alan["id"]),
            cost=CallCost("EUR", {CostComponent.PLATFORM: 5_000}),
        ),
    )
    await paid(client, owner, grace["id"], 25_000, at("2026-05-04T10:00:00"))  # Bob's call was the latest
    await paid(client, owner, alan["id"], 9_900, at("2026-05-05T10:00:00"))  # Ada's call, 3 days before
    await paid(client, owner, alan["id"], 1_000, at("2026-05-20T10:00:00"))  # 18 days on: nobody's

    body = await get_report(
        client, owner, "/v1/analytics/costs", **{"from": "2026-05-01", "to": "2026-05-31"}
    )

    documented(CostReportOut, body)
    assert body["attribution_days"] == 7
    assert body["calls_with_cost"] == 3
    assert body["totals"] == [
        {"amount_micros": 5_000, "currency": "EUR"},
        {"amount_micros": 85_000, "currency": "USD"},
    ]
    components = {item["component"]: item["costs"] for item in body["by_component"]}
    assert list(components) == [c.value for c in CostComponent]
    assert components["model"] == [{"amount_micros": 61_000, "currency": "USD"}]
    agents = {item["agent_id"]: item for item in body["by_agent"]}
    assert agents[str(bob)]["costs"] == [{"amount_micros": 42_500, "currency": "USD"}]
    assert agents[str(bob)]["revenue"] == [
        {
            "currency": "USD",
            "payments": 1,
            "received": {"amount": 25_000, "currency": "USD"},
            "refunded": {"amount": 0, "currency": "USD"},
            "net": {"amount": 25_000, "currency": "USD"},
        }
    ]
    assert agents[str(ada)]["costs"] == [
        {"amount_micros": 5_000, "currency": "EUR"},
        {"amount_micros": 42_500, "currency": "USD"},
    ]
    assert [r["received"]["amount"] for r in agents[str(ada)]["revenue"]] == [9_900]
    assert [(r["payments"], r["received"]["amount"]) for r in body["revenue"]] == [(2, 34_900)]
    daily = {day["date"]: day["costs"] for day in body["daily"]}
    assert len(daily) == 31
    assert daily["2026-05-02"] == [{"amount_micros": 5_000, "currency": "EUR"}]
    assert daily["2026-05-10"] == []

    longer = await get_report(
        client,
        owner,
        "/v1/analytics/costs",
        **{"from": "2026-05-01", "to": "2026-05-31", "attribution_days": 30},
    )
    assert [(r["payments"], r["received"]["amount"]) for r in longer["revenue"]] == [(3, 35_900)]


@pytest.mark.parametrize("days", ["0", "91", "seven"])
async def test_an_attribution_window_outside_1_to_90_days_is_refused(client, days):
    owner = await sign_up(client)
    query = {"from": "2026-05-01", "to": "2026-05-02", "attribution_days": days}

    problem = await expect_problem(
        await client.get("/v1/analytics/costs", query_string=query, headers=owner.auth),
        400,
        "validation_error",
    )
    assert "attribution_days" in {error["field"] for error in problem["errors"]}


# --- CSV ---------------------------------------------------------------------------------------


async def test_reports_stream_as_csv_rows_by_day_agent_outcome_sentiment_and_component(client, container):
    owner = await sign_up(client)
    agent = await add_agent(container, owner.tenant_id)
    await add_calls(
        container,
        owner.tenant_id,
        make_call(
            owner.tenant_id,
            at("2026-06-02T09:00:00"),
            agent_id=agent,
            ended_reason="=cmd|' /C calc'!A0",
            cost=CallCost("USD", {CostComponent.MODEL: 700}),
        ),
    )
    days = {"from": "2026-06-01", "to": "2026-06-03", "format": "csv"}

    by_day = await csv_rows(await client.get("/v1/analytics/calls", query_string=days, headers=owner.auth))
    by_agent = await csv_rows(
        await client.get("/v1/analytics/calls", query_string=days | {"by": "agent"}, headers=owner.auth)
    )
    outcomes = await csv_rows(
        await client.get("/v1/analytics/calls", query_string=days | {"by": "outcome"}, headers=owner.auth)
    )
    sentiment = await csv_rows(
        await client.get("/v1/analytics/calls", query_string=days | {"by": "sentiment"}, headers=owner.auth)
    )
    costs_by_day = await csv_rows(
        await client.get("/v1/analytics/costs", query_string=days, headers=owner.auth)
    )
    costs_by_agent = await csv_rows(
        await client.get("/v1/analytics/costs", query_string=days | {"by": "agent"}, headers=owner.auth)
    )
    components = await csv_rows(
        await client.get("/v1/analytics/costs", query_string=days | {"by": "component"}, headers=owner.auth)
    )

    assert by_day[0][:3] == ["date", "calls", "inbound"]
    assert [(row[0], row[1], row[5]) for row in by_day[1:]] == [
        ("2026-06-01", "0", ""),
        ("2026-06-02", "1", "1.0"),
        ("2026-06-03", "0", ""),
    ]
    assert by_agent[1][:2] == [str(agent), "1"]
    assert outcomes == [["ended_reason", "calls"], ["'=cmd|' /C calc'!A0", "1"]]
    assert sentiment[1:] == [["positive", "0"], ["neutral", "0"], ["negative", "0"], ["unknown", "1"]]
    assert costs_by_day[1:] == [
        ["2026-06-01", "USD", "0"],
        ["2026-06-02", "USD", "700"],
        ["2026-06-03", "USD", "0"],
    ]
    assert costs_by_agent == [
        ["agent_id", "currency", "cost_micros", "payments", "received", "refunded", "net"],
        [str(agent), "USD", "700", "0", "0", "0", "0"],
    ]
    assert components == [["component", "currency", "cost_micros"], ["model", "USD", "700"]]


async def test_the_calls_export_writes_every_matching_call_with_formula_cells_defused(client, container):
    owner = await sign_up(client)
    agent = await add_agent(container, owner.tenant_id)
    hostile = make_call(
        owner.tenant_id,
        at("2026-07-01T10:00:00"),
        agent_id=agent,
        summary='=HYPERLINK("http://evil.example","click")',
        ended_reason="@SUM(A1:A9)",
        success=True,
        sentiment=Sentiment.POSITIVE,
        cost=CallCost("USD", {CostComponent.TRANSPORT: 1_500, CostComponent.PLATFORM: 500}),
    )
    outbound = make_call(owner.tenant_id, at("2026-07-02T10:00:00"), direction=CallDirection.OUTBOUND)
    await add_calls(container, owner.tenant_id, hostile, outbound)

    rows = await csv_rows(await client.get("/v1/calls/export", headers=owner.auth))
    inbound_only = await csv_rows(
        await client.get("/v1/calls/export", query_string={"direction": "inbound"}, headers=owner.auth)
    )

    assert rows[0] == list(CALL_CSV_COLUMNS)
    assert [row[0] for row in rows[1:]] == [str(outbound.id), str(hostile.id)]  # newest first
    exported = dict(zip(CALL_CSV_COLUMNS, rows[2], strict=True))
    assert exported["summary"] == '\'=HYPERLINK("http://evil.example","click")'
    assert exported["ended_reason"] == "'@SUM(A1:A9)"
    assert exported["started_at"] == "2026-07-01T10:00:00Z"
    assert exported["duration_seconds"] == "90"
    assert (exported["success"], exported["sentiment"]) == ("true", "positive")
    assert (exported["cost_currency"], exported["cost_transport_micros"], exported["cost_total_micros"]) == (
        "USD",
        "1500",
        "2000",
    )
    assert [row[0] for row in inbound_only[1:]] == [str(hostile.id)]
    for row in rows[1:]:
        assert all(cell[:1] not in ("=", "+", "-", "@") for cell in row), row


async def test_an_unknown_export_filter_is_refused_with_400(client):
    owner = await sign_up(client)

    for query in ({"limit": "5"}, {"status": "exploded"}, {"min_duration": "-1"}):
        await expect_problem(
            await client.get("/v1/calls/export", query_string=query, headers=owner.auth), 400
        )


async def test_a_big_export_streams_every_call_once_holding_one_page_at_a_time(client, container):
    owner = await sign_up(client)
    start = at("2026-08-01T00:00:00")
    calls = [make_call(owner.tenant_id, start + timedelta(minutes=i)) for i in range(2 * MAX_LIMIT + 50)]
    await add_calls(container, owner.tenant_id, *calls)

    rows = await csv_rows(await client.get("/v1/calls/export", headers=owner.auth))

    assert [row[0] for row in rows[1:]] == [str(call.id) for call in reversed(calls)]

    # The same stream, counting what each unit of work read: pages, never the whole table.
    pages: list[int] = []
    units = container.units()
    principal = _owner_principal(owner)

    def counting_unit() -> UnitOfWork:
        return CountingUnit(units(principal.tenant_id, principal.user_id), pages)  # type: ignore[return-value]

    lines = [line async for line in call_csv_lines(CallFilter(), principal, counting_unit)]
    assert len(lines) == len(calls) + 1
    assert pages == [MAX_LIMIT, MAX_LIMIT, 50]


class CountingUnit:
    """A unit of work that notes how many calls each page it lists holds."""

    def __init__(self, inner: UnitOfWork, pages: list[int]) -> None:
        self._inner = inner
        self._pages = pages

    async def __aenter__(self) -> CountingUnit:
        await self._inner.__aenter__()
        listing = self._inner.calls.list

        async def counted(filters: CallFilter, page: Any) -> Any:
            found = await listing(filters, page)
            self._pages.append(len(found.items))
            return found

        self._inner.calls.list = counted  # type: ignore[method-assign]
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._inner.__aexit__(*exc_info)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _owner_principal(owner: SignedUp) -> Principal:
    return Principal(UUID(owner.user_id), UUID(owner.tenant_id), Role.OWNER)


@pytest.mark.parametrize("query", [{"from": "9999-12-31", "to": "9999-12-31"}, {"format": "csv"}])
async def test_a_report_ending_on_the_last_day_a_date_can_hold_is_400_not_a_server_error(client, query):
    owner = await sign_up(client)
    last_day = {"from": "9999-12-31", "to": "9999-12-31"} | query

    for path in ("/v1/analytics/calls", "/v1/analytics/costs"):
        response = await client.get(path, query_string=last_day, headers=owner.auth)
        problem = await expect_problem(response, 400, "validation_error")
        assert {e["field"] for e in problem["errors"]} == {"to"}
