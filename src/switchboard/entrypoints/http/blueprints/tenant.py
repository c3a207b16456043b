"""The caller's own account and tenant."""

from __future__ import annotations

from dependency_injector.wiring import Provide, inject
from pydantic import BaseModel, ConfigDict, Field, model_validator
from quart import Blueprint, Response
from quart_schema import document_response, tag, validate_request

from switchboard.core.flags.handlers import flags_of_my_tenant
from switchboard.core.identity.handlers import who_am_i
from switchboard.core.tenancy import handlers
from switchboard.core.tenancy.model import TENANT_NAME_MAX
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.auth import acting, require_principal
from switchboard.entrypoints.http.blueprints.schemas import (
    FlagsOut,
    MeOut,
    TenantOut,
    render_flags,
    render_tenant,
    render_user,
)
from switchboard.entrypoints.http.responses import etag, if_match_version, json_response
from switchboard.ports.clock import Clock
from switchboard.ports.persistence import UnitOfWorkFactory

TIME_ZONE_MAX = 64

blueprint = Blueprint("tenant", __name__, url_prefix="/v1")
blueprint.before_request(require_principal)


class TenantPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=TENANT_NAME_MAX)
    # IANA name; the analytics reports cut their days in this zone.
    time_zone: str | None = Field(default=None, min_length=1, max_length=TIME_ZONE_MAX)

    @model_validator(mode="after")
    def something_to_change(self) -> TenantPatch:
        if self.name is None and self.time_zone is None:
            raise ValueError("give name, time_zone or both")
        return self


@blueprint.get("/me")
@tag(["tenant"])
@document_response(MeOut)
@inject
async def me(units: UnitOfWorkFactory = Provide[Container.units]) -> Response:
    """The signed-in user, the tenant the token is for, and the role held there."""
    found = await who_am_i(*acting(units))
    return json_response(
        {
            "object": "me",
            "user": render_user(found.user),
            "tenant": render_tenant(found.tenant),
            "role": found.role.value,
        }
    )


@blueprint.get("/tenant")
@tag(["tenant"])
@document_response(TenantOut)
@inject
async def get_tenant(units: UnitOfWorkFactory = Provide[Container.units]) -> Response:
    """The tenant the token is for."""
    tenant = await handlers.get_tenant(*acting(units))
    return json_response(render_tenant(tenant), headers={"ETag": etag(tenant.version)})


@blueprint.get("/tenant/flags")
@tag(["tenant"])
@document_response(FlagsOut)
@inject
async def tenant_flags(units: UnitOfWorkFactory = Provide[Container.units]) -> Response:
    """The features this tenant has on, from its plan and any override."""
    return json_response(render_flags(await flags_of_my_tenant(*acting(units))))


@blueprint.patch("/tenant")
@tag(["tenant"])
@validate_request(TenantPatch)
@document_response(TenantOut)
@inject
async def rename_tenant(
    data: TenantPatch,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Rename the tenant or set its time zone (owners and admins). Honours If-Match."""
    command = handlers.UpdateTenant(data.name, data.time_zone, if_match_version())
    tenant = await handlers.update_tenant(command, *acting(units), clock)
    return json_response(render_tenant(tenant), headers={"ETag": etag(tenant.version)})
