"""The read side of call analytics: sums over a tenant's calls and payments for a window of days.

An attribute of the unit of work (``uow.call_reports``), confined to its tenant like every
repository. Implementations sum in storage (GROUP BY in the database), never by handing every
call to the caller; the rates, averages and zero-filled days are the core's
(core/analytics/model.py).
"""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from switchboard.core.analytics.model import AttributedRevenue, CallStats, CostStats, ReportWindow


class CallReports(Protocol):
    async def call_stats(self, window: ReportWindow, agent_id: UUID | None = None) -> CallStats:
        """Sums over the calls whose time (started, else created) falls in the window, by day of
        the window's time zone, by agent, by ended reason and by sentiment; only ``agent_id``'s
        calls when given."""
        ...

    async def cost_stats(self, window: ReportWindow, agent_id: UUID | None = None) -> CostStats:
        """The same calls' costs (those that carry one), in micro-units per currency: by cost
        component, by agent and by day."""
        ...

    async def attributed_revenue(
        self, window: ReportWindow, attribution_days: int, agent_id: UUID | None = None
    ) -> list[AttributedRevenue]:
        """Payments attributed to the window's calls by ``model.attributed_call``, summed per
        agent and currency: each payment goes to its customer's latest answered call at or
        before it, within ``attribution_days``; refunds of those payments are summed beside
        them."""
        ...
