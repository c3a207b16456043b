"""Reading and changing the caller's own tenant: its name and its time zone."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from switchboard.core.errors import NotFound, PreconditionFailed
from switchboard.core.identity.model import Principal
from switchboard.core.scheduling.model import check_time_zone
from switchboard.core.tenancy.model import Tenant, clean_tenant_name
from switchboard.core.tenancy.permissions import Action, require

if TYPE_CHECKING:  # ports appear in annotations only; the core imports nothing outside itself
    from switchboard.ports.clock import Clock
    from switchboard.ports.persistence import UnitOfWork


@dataclass(frozen=True)
class UpdateTenant:
    name: str | None = None
    time_zone: str | None = None  # an IANA name
    if_match: int | None = None


async def get_tenant(principal: Principal, uow: UnitOfWork) -> Tenant:
    require(principal, Action.TENANT_READ)
    async with uow:
        tenant = await uow.tenants.get()
    if tenant is None:
        raise NotFound("the tenant does not exist")
    return tenant


async def update_tenant(cmd: UpdateTenant, principal: Principal, uow: UnitOfWork, clock: Clock) -> Tenant:
    """Change the name and/or the time zone; fields left None stay as they are."""
    require(principal, Action.TENANT_UPDATE)
    name = clean_tenant_name(cmd.name) if cmd.name is not None else None
    time_zone = check_time_zone(cmd.time_zone) if cmd.time_zone is not None else None
    async with uow:
        current = await uow.tenants.get()
        if current is None:
            raise NotFound("the tenant does not exist")
        if cmd.if_match is not None and cmd.if_match != current.version:
            raise PreconditionFailed("the tenant changed since it was read")
        wanted = {"name": name, "time_zone": time_zone}
        changes = {
            field: {"from": getattr(current, field), "to": value}
            for field, value in wanted.items()
            if value is not None and value != getattr(current, field)
        }
        if not changes:
            return current
        updated = replace(
            current,
            **{field: change["to"] for field, change in changes.items()},
            updated_at=clock.now(),
            version=current.version + 1,
        )
        if not await uow.tenants.update(updated, expected_version=current.version):
            raise PreconditionFailed("the tenant changed while it was being updated")
        await uow.audit.record("tenant.updated", "tenant", str(current.id), changes)
        await uow.commit()
    return updated
