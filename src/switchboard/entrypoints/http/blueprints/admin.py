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
from quart_schema import document_response, security_scheme_blueprint, tag, validate_request

from switchboard.core.errors import AuthenticationFailed
from switchboard.core.flags import handlers
from switchboard.core.flags.model import FLAGS, FlagChange
from switchboard.core.identity.model import EMAIL_MAX, PASSWORD_MAX
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.blueprints.schemas import FlagOut, TenantOut, render_flags, render_tenant
from switchboard.entrypoints.http.responses import json_response
from switchboard.ports.clock import Clock
from switchboard.ports.persistence import IdentityDirectory, UnitOfWorkFactory
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
    return json_response(_render(await handlers.set_flags(command, g.admin_id, units(tenant_id), clock)))
