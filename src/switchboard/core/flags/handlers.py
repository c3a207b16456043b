"""Reading flags, toggling them as a platform admin, and enforcing them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

from switchboard.core.errors import AuthenticationFailed, InvalidInput, NotFound, gather
from switchboard.core.flags.model import (
    EffectiveFlag,
    FeatureDisabled,
    FlagChange,
    FlagOverride,
    check_known,
    effective_flags,
)
from switchboard.core.identity.model import Principal, normalize_email
from switchboard.core.tenancy.model import Tenant
from switchboard.core.tenancy.permissions import Action, require

if TYPE_CHECKING:  # ports appear in annotations only; the core imports nothing outside itself
    from switchboard.ports.clock import Clock
    from switchboard.ports.persistence import IdentityDirectory, UnitOfWork
    from switchboard.ports.security import AccessTokens, PasswordHasher

RECENT_CHANGES = 50
BAD_ADMIN_CREDENTIALS = "the email or password is not correct"


@dataclass(frozen=True)
class TenantFlags:
    tenant: Tenant
    flags: dict[str, EffectiveFlag]
    changes: list[FlagChange]


@dataclass(frozen=True)
class SetFlags:
    tenant_id: UUID
    changes: dict[str, bool | None]  # None: back to the plan's default


async def flags_of_my_tenant(principal: Principal, uow: UnitOfWork) -> dict[str, EffectiveFlag]:
    require(principal, Action.TENANT_READ)
    async with uow:
        return await _effective(uow)


async def require_feature(key: str, uow: UnitOfWork) -> None:
    """Raise ``FeatureDisabled`` unless the unit of work's tenant has ``key`` on."""
    async with uow:
        await ensure_enabled(uow, key)


async def ensure_enabled(uow: UnitOfWork, key: str) -> None:
    """The same check inside a unit of work that is already open."""
    if not (await _effective(uow))[key].enabled:
        raise FeatureDisabled(key)


async def flags_for_admin(tenant_id: UUID, uow: UnitOfWork) -> TenantFlags:
    async with uow:
        tenant = await uow.tenants.get()
        if tenant is None:
            raise NotFound("no tenant with this id")
        flags = effective_flags(tenant.plan, await uow.flags.overrides())
        changes = await uow.flags.changes(RECENT_CHANGES)
    return TenantFlags(tenant, flags, changes)


async def set_flags(cmd: SetFlags, admin_id: UUID, uow: UnitOfWork, clock: Clock) -> TenantFlags:
    """Apply overrides, recording every real change with who made it."""
    gather({key: partial(check_known, key) for key in cmd.changes})
    actor = f"platform_admin:{admin_id}"
    now = clock.now()
    async with uow:
        tenant = await uow.tenants.get()
        if tenant is None:
            raise NotFound("no tenant with this id")
        current = await uow.flags.overrides()
        for key, wanted in sorted(cmd.changes.items()):
            old = current.get(key)
            if old == wanted:
                continue
            if wanted is None:
                await uow.flags.remove_override(key)
            else:
                await uow.flags.set_override(FlagOverride(cmd.tenant_id, key, wanted, now, actor))
            await uow.flags.record(FlagChange(uuid4(), cmd.tenant_id, key, old, wanted, actor, now))
            flag_change = {key: {"from": old, "to": wanted}}
            await uow.audit.record("feature_flag.changed", "feature_flag", key, flag_change)
        overrides, changes = await uow.flags.overrides(), await uow.flags.changes(RECENT_CHANGES)
        await uow.commit()
    return TenantFlags(tenant, effective_flags(tenant.plan, overrides), changes)


async def admin_login(
    email: str,
    password: str,
    directory: IdentityDirectory,
    hasher: PasswordHasher,
    access_tokens: AccessTokens,
    clock: Clock,
) -> str:
    try:
        normalized: str | None = normalize_email(email)
    except InvalidInput:
        normalized = None
    candidate = await directory.find_admin(normalized) if normalized else None
    password_ok = await hasher.verify(candidate.password_hash if candidate else None, password)
    if candidate is None or not password_ok:
        raise AuthenticationFailed(BAD_ADMIN_CREDENTIALS)
    return access_tokens.issue_admin(candidate.admin_id, clock.now())


async def _effective(uow: UnitOfWork) -> dict[str, EffectiveFlag]:
    tenant = await uow.tenants.get()
    if tenant is None:
        raise NotFound("the tenant does not exist")
    return effective_flags(tenant.plan, await uow.flags.overrides())
