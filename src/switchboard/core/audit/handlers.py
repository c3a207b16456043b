"""Reading the audit log."""

from __future__ import annotations

from typing import TYPE_CHECKING

from switchboard.core.audit.model import AuditEvent, AuditFilter
from switchboard.core.pagination import Page, PageRequest
from switchboard.core.tenancy.permissions import Action, require

if TYPE_CHECKING:
    from switchboard.core.identity.model import Principal
    from switchboard.ports.persistence import UnitOfWork


async def list_events(
    filters: AuditFilter, page: PageRequest, principal: Principal, uow: UnitOfWork
) -> Page[AuditEvent]:
    require(principal, Action.AUDIT_LOG_READ)
    async with uow:
        return await uow.audit.list(filters, page)
