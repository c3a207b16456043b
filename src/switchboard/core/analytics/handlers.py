"""Reading the call reports: what the calls cost, what they achieved, day by day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING
from uuid import UUID

from switchboard.core.analytics.model import (
    DEFAULT_ATTRIBUTION_DAYS,
    CallReport,
    CostReport,
    ReportWindow,
    call_report,
    clean_attribution_days,
    cost_report,
)
from switchboard.core.calls.model import CostComponent
from switchboard.core.calls.records import Call, CallFilter
from switchboard.core.errors import NotFound
from switchboard.core.pagination import Page, PageRequest
from switchboard.core.tenancy.permissions import Action, require

if TYPE_CHECKING:
    from switchboard.core.identity.model import Principal
    from switchboard.ports.persistence import UnitOfWork


@dataclass(frozen=True)
class CallReportQuery:
    first_day: date
    last_day: date
    agent_id: UUID | None = None


@dataclass(frozen=True)
class CostReportQuery:
    first_day: date
    last_day: date
    agent_id: UUID | None = None
    attribution_days: int = DEFAULT_ATTRIBUTION_DAYS


async def calls_report(query: CallReportQuery, principal: Principal, uow: UnitOfWork) -> CallReport:
    require(principal, Action.ANALYTICS_READ)
    async with uow:
        window = await _window(uow, query.first_day, query.last_day, query.agent_id)
        stats = await uow.call_reports.call_stats(window, query.agent_id)
    return call_report(window, query.agent_id, stats)


async def costs_report(query: CostReportQuery, principal: Principal, uow: UnitOfWork) -> CostReport:
    require(principal, Action.ANALYTICS_READ)
    attribution_days = clean_attribution_days(query.attribution_days)
    async with uow:
        window = await _window(uow, query.first_day, query.last_day, query.agent_id)
        stats = await uow.call_reports.cost_stats(window, query.agent_id)
        revenue = await uow.call_reports.attributed_revenue(window, attribution_days, query.agent_id)
    components = [component.value for component in CostComponent]
    return cost_report(window, attribution_days, query.agent_id, components, stats, revenue)


async def _window(uow: UnitOfWork, first_day: date, last_day: date, agent_id: UUID | None) -> ReportWindow:
    """The range in the tenant's own time zone; an agent of another tenant is not found."""
    tenant = await uow.tenants.get()
    if tenant is None:
        raise NotFound("the tenant does not exist")
    window = ReportWindow.of(first_day, last_day, tenant.time_zone)
    if agent_id is not None and await uow.voice_agents.get(agent_id) is None:
        raise NotFound("no such agent")
    return window


async def calls_for_export(
    filters: CallFilter, page: PageRequest, principal: Principal, uow: UnitOfWork
) -> Page[Call]:
    """One page of the calls list, for the CSV export (which pages through all of them)."""
    require(principal, Action.ANALYTICS_READ)
    async with uow:
        return await uow.calls.list(filters, page)
