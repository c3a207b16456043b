"""What platform admins do to tenants: list them, suspend and reactivate them, and act as one
of their users for support."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING
from uuid import UUID

from switchboard.core.audit.model import Actor, ActorType, AuditContext
from switchboard.core.errors import NotFound
from switchboard.core.identity.model import Client, Principal, TokenPair
from switchboard.core.identity.sessions import Identity, start_session
from switchboard.core.tenancy.model import Tenant, TenantStatus

if TYPE_CHECKING:
    from switchboard.core.pagination import Page, PageRequest
    from switchboard.ports.persistence import TenantSummary


def as_admin(admin_id: UUID, client: Client) -> AuditContext:
    return AuditContext(Actor(ActorType.PLATFORM_ADMIN, admin_id), client)


async def list_tenants(
    page: PageRequest, status: TenantStatus | None, ports: Identity
) -> Page[TenantSummary]:
    return await ports.directory.list_tenants(page, status)


async def set_status(
    admin_id: UUID, tenant_id: UUID, status: TenantStatus, ports: Identity, client: Client
) -> Tenant:
    """Suspension takes effect on the tenant's next request: every token and key is checked
    against the tenant's status each time."""
    async with ports.units(tenant_id, None, as_admin(admin_id, client)) as uow:
        tenant = await uow.tenants.get()
        if tenant is None:
            raise NotFound("no such tenant")
        if tenant.status is not status:
            await uow.tenants.set_status(status, ports.clock.now())
            action = "tenant.suspended" if status is TenantStatus.SUSPENDED else "tenant.reactivated"
            await uow.audit.record(action, "tenant", str(tenant_id))
        await uow.commit()
    return replace(tenant, status=status)


async def impersonate(
    admin_id: UUID, tenant_id: UUID, user_id: UUID, ports: Identity, client: Client
) -> TokenPair:
    """An access token for ``user_id`` that names the admin as its actor (RFC 8693 ``act``).

    No refresh token: support sessions end when the access token does. Everything done with it
    is audited as the admin acting as the user, and it cannot touch the user's credentials.
    """
    async with ports.units(tenant_id, user_id, as_admin(admin_id, client)) as uow:
        tenant = await uow.tenants.get()
        membership = await uow.memberships.get(user_id)
        if tenant is None or membership is None:
            raise NotFound("no such member in this tenant")
        if tenant.status is TenantStatus.SUSPENDED:
            raise NotFound("the tenant is suspended")
        principal = Principal(user_id, tenant_id, membership.role, impersonator_id=admin_id)
        pair = await start_session(uow, principal, ports, client, refresh=False)
        await uow.audit.record("admin.impersonation_started", "user", str(user_id))
        await uow.commit()
    return pair
