"""Platform administration: sign-in for platform admins, and per-tenant feature flags.

Platform admins are not tenant users: they sign in here, with tokens of their own audience, and
reach a tenant's data only through a unit of work scoped to that tenant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from dependency_injector.wiring import Provide, inject
from pydantic import BaseModel, ConfigDict, Field
from quart import Blueprint, Response, g, request
from quart_schema import (
    document_response,
    security_scheme_blueprint,
    tag,
    validate_querystring,
    validate_request,
)

from switchboard.core.errors import AuthenticationFailed
from switchboard.core.flags import handlers
from switchboard.core.flags.model import FLAGS, FlagChange
from switchboard.core.identity.model import EMAIL_MAX
from switchboard.core.identity.passwords import PASSWORD_MAX
from switchboard.core.identity.sessions import Identity
from switchboard.core.tenancy import admin
from switchboard.core.tenancy.admin import as_admin
from switchboard.core.tenancy.model import TenantStatus
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.auth import client
from switchboard.entrypoints.http.blueprints.schemas import (
    FlagOut,
    ListOut,
    TenantOut,
    render_flags,
    render_tenant,
)
from switchboard.entrypoints.http.pagination import ListQuery, encode_cursor, page_request
from switchboard.entrypoints.http.responses import json_response, list_response
from switchboard.ports.clock import Clock
from switchboard.ports.persistence import IdentityDirectory, TenantSummary, UnitOfWorkFactory
from switchboard.ports.security import AccessTokens, PasswordHasher

sign_in = Blueprint("admin_auth", __name__, url_prefix="/v1/admin/auth")
security_scheme_blueprint(sign_in, [])
blueprint = Blueprint("admin", __name__, url_prefix="/v1/admin")


@inject
async def require_admin(access_tokens: AccessTokens = Provide[Container.access_tokens]) -> None:
    if request.method == "OPTIONS":
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("send a platform admin token as 'Authorization: Bearer <token>'")
    g.admin_id = access_tokens.verify_admin(token.strip())


blueprint.before_request(require_admin)


class AdminLoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=EMAIL_MAX * 4)
    password: str = Field(max_length=PASSWORD_MAX * 4)


class AdminTokenOut(BaseModel):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int


class FlagsPatch(BaseModel):
    """Flag key to true or false (an override), or null (back to the plan's default)."""

    model_config = ConfigDict(extra="forbid")

    flags: dict[str, bool | None] = Field(max_length=len(FLAGS) + 10)


class FlagChangeOut(BaseModel):
    key: str
    old_value: bool | None
    new_value: bool | None
    actor: str
    changed_at: datetime


class TenantFlagsOut(BaseModel):
    object: Literal["tenant_feature_flags"]
    tenant: TenantOut
    flags: dict[str, FlagOut]
    changes: list[FlagChangeOut]


def _render(found: handlers.TenantFlags) -> dict[str, Any]:
    return {
        "object": "tenant_feature_flags",
        "tenant": render_tenant(found.tenant),
        "flags": render_flags(found.flags)["flags"],
        "changes": [_render_change(change) for change in found.changes],
    }


def _render_change(change: FlagChange) -> dict[str, Any]:
    return {
        "key": change.key,
        "old_value": change.old_value,
        "new_value": change.new_value,
        "actor": change.actor,
        "changed_at": change.changed_at,
    }


@sign_in.post("/login")
@tag(["admin"])
@validate_request(AdminLoginIn)
@document_response(AdminTokenOut)
@inject
async def admin_login(
    data: AdminLoginIn,
    directory: IdentityDirectory = Provide[Container.directory],
    hasher: PasswordHasher = Provide[Container.password_hasher],
    access_tokens: AccessTokens = Provide[Container.access_tokens],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Sign in as a platform admin (created with `switchboard admin create`)."""
    token = await handlers.admin_login(data.email, data.password, directory, hasher, access_tokens, clock)
    return json_response(
        {"access_token": token, "token_type": "Bearer", "expires_in": access_tokens.lifetime_seconds}
    )


@blueprint.get("/tenants/<uuid:tenant_id>/flags")
@tag(["admin"])
@document_response(TenantFlagsOut)
@inject
async def get_tenant_flags(tenant_id: UUID, units: UnitOfWorkFactory = Provide[Container.units]) -> Response:
    """A tenant's effective flags and their recent changes."""
    return json_response(_render(await handlers.flags_for_admin(tenant_id, units(tenant_id))))


@blueprint.patch("/tenants/<uuid:tenant_id>/flags")
@tag(["admin"])
@validate_request(FlagsPatch)
@document_response(TenantFlagsOut)
@inject
async def set_tenant_flags(
    tenant_id: UUID,
    data: FlagsPatch,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Turn flags on or off for one tenant, or back to its plan's default. Every change is logged."""
    command = handlers.SetFlags(tenant_id, data.flags)
    uow = units(tenant_id, None, as_admin(g.admin_id, client()))
    return json_response(_render(await handlers.set_flags(command, g.admin_id, uow, clock)))


class TenantStatusQuery(ListQuery):
    status: TenantStatus | None = None


class TenantWithStatusOut(TenantOut):
    status: TenantStatus


class AdminTenantOut(TenantWithStatusOut):
    members: int


class AdminTenantListOut(ListOut[AdminTenantOut]):
    """Every tenant, newest first."""


class ImpersonateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: UUID


class ImpersonationOut(BaseModel):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    tenant_id: UUID
    user_id: UUID


def _render_summary(summary: TenantSummary) -> dict[str, Any]:
    return render_tenant(summary.tenant) | {"status": summary.tenant.status.value, "members": summary.members}


@blueprint.get("/tenants")
@tag(["admin"])
@validate_querystring(TenantStatusQuery)
@document_response(AdminTenantListOut)
@inject
async def list_tenants(
    query_args: TenantStatusQuery, identity: Identity = Provide[Container.identity]
) -> Response:
    """Every tenant, newest first, optionally only the active or the suspended ones."""
    page = await admin.list_tenants(page_request(query_args), query_args.status, identity)
    return list_response(page, _render_summary, encode_cursor)


@blueprint.post("/tenants/<uuid:tenant_id>/suspend")
@tag(["admin"])
@document_response(TenantWithStatusOut)
@inject
async def suspend_tenant(tenant_id: UUID, identity: Identity = Provide[Container.identity]) -> Response:
    """Suspend a tenant: its tokens and API keys stop working on their next request."""
    tenant = await admin.set_status(g.admin_id, tenant_id, TenantStatus.SUSPENDED, identity, client())
    return json_response(render_tenant(tenant) | {"status": tenant.status.value})


@blueprint.post("/tenants/<uuid:tenant_id>/reactivate")
@tag(["admin"])
@document_response(TenantWithStatusOut)
@inject
async def reactivate_tenant(tenant_id: UUID, identity: Identity = Provide[Container.identity]) -> Response:
    """Lift a suspension: sign-in works again, and so do keys and tokens still within their
    lifetime (a suspension pauses a tenant; it does not end its sessions)."""
    tenant = await admin.set_status(g.admin_id, tenant_id, TenantStatus.ACTIVE, identity, client())
    return json_response(render_tenant(tenant) | {"status": tenant.status.value})


@blueprint.post("/tenants/<uuid:tenant_id>/impersonate")
@tag(["admin"])
@validate_request(ImpersonateIn)
@document_response(ImpersonationOut)
@inject
async def impersonate(
    tenant_id: UUID, data: ImpersonateIn, identity: Identity = Provide[Container.identity]
) -> Response:
    """Act as a member for support: an access token (no refresh token) whose ``act`` claim
    names you. Everything done with it is audited as you acting as them; it cannot change
    their password, second factor or API keys."""
    pair = await admin.impersonate(g.admin_id, tenant_id, data.user_id, identity, client())
    body = {
        "access_token": pair.access_token,
        "token_type": "Bearer",
        "expires_in": pair.expires_in,
        "tenant_id": tenant_id,
        "user_id": data.user_id,
    }
    return json_response(body)
