"""Reading and renaming the caller's own tenant."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from switchboard.core.errors import NotFound, PreconditionFailed
from switchboard.core.identity.model import Principal
from switchboard.core.tenancy.model import Tenant, clean_tenant_name
from switchboard.core.tenancy.permissions import Action, require

if TYPE_CHECKING:  # ports appear in annotations only; the core imports nothing outside itself
    from switchboard.ports.clock import Clock
    from switchboard.ports.persistence import UnitOfWork


@dataclass(frozen=True)
class RenameTenant:
    name: str
    if_match: int | None = None


async def get_tenant(principal: Principal, uow: UnitOfWork) -> Tenant:
    require(principal, Action.TENANT_READ)
    async with uow:
        tenant = await uow.tenants.get()
    if tenant is None:
        raise NotFound("the tenant does not exist")
    return tenant


async def rename_tenant(cmd: RenameTenant, principal: Principal, uow: UnitOfWork, clock: Clock) -> Tenant:
    require(principal, Action.TENANT_UPDATE)
    name = clean_tenant_name(cmd.name)
    async with uow:
        current = await uow.tenants.get()
        if current is None:
            raise NotFound("the tenant does not exist")
        if cmd.if_match is not None and cmd.if_match != current.version:
            raise PreconditionFailed("the tenant changed since it was read")
        renamed = replace(current, name=name, updated_at=clock.now(), version=current.version + 1)
        if not await uow.tenants.update(renamed, expected_version=current.version):
            raise PreconditionFailed("the tenant changed while it was being renamed")
        changes = {"name": {"from": current.name, "to": renamed.name}}
        await uow.audit.record("tenant.updated", "tenant", str(current.id), changes)
        await uow.commit()
    return renamed
