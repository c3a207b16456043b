"""A tenant's providers: connect one, see it (secrets masked), change it, disconnect it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from dependency_injector.wiring import Provide, inject
from pydantic import BaseModel, ConfigDict, Field
from quart import Blueprint, Response
from quart_schema import document_response, tag, validate_querystring, validate_request

from switchboard.core.integrations import handlers
from switchboard.core.integrations.handlers import IntegrationView
from switchboard.core.integrations.model import Capability
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.auth import acting, require_principal
from switchboard.entrypoints.http.blueprints.schemas import ListOut
from switchboard.entrypoints.http.features import requires_feature
from switchboard.entrypoints.http.idempotency import idempotent
from switchboard.entrypoints.http.pagination import ListQuery, encode_cursor, page_request
from switchboard.entrypoints.http.responses import etag, if_match_version, json_response, list_response
from switchboard.ports.clock import Clock
from switchboard.ports.persistence import UnitOfWorkFactory
from switchboard.ports.providers import ProviderCatalog, SecretBox

blueprint = Blueprint("integrations", __name__, url_prefix="/v1/integrations")
blueprint.before_request(require_principal)
blueprint.before_request(requires_feature("integrations"))

CONFIG_FIELDS_MAX = 50


class IntegrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str = Field(
        min_length=1, max_length=40, description="A provider slug from `switchboard plugins list`."
    )
    config: dict[str, Any] = Field(
        max_length=CONFIG_FIELDS_MAX, description="Validated by the provider's plugin."
    )
    enabled: bool = True


class IntegrationPatch(BaseModel):
    """Only what is sent changes; configuration fields not sent (secrets included) are kept."""

    model_config = ConfigDict(extra="forbid")

    config: dict[str, Any] | None = Field(default=None, max_length=CONFIG_FIELDS_MAX)
    enabled: bool | None = None


class IntegrationOut(BaseModel):
    object: Literal["integration"]
    id: UUID
    provider: str
    capability: Capability
    enabled: bool
    config: dict[str, Any] = Field(description="Secrets are masked: '••••' and their last four characters.")
    webhook_url: str = Field(description="Where this provider's events for this tenant are delivered.")
    created_at: datetime
    updated_at: datetime


class IntegrationListOut(ListOut[IntegrationOut]):
    """A page of integrations, newest first."""


def render_integration(view: IntegrationView) -> dict[str, Any]:
    integration = view.integration
    return {
        "object": "integration",
        "id": integration.id,
        "provider": integration.provider,
        "capability": integration.capability.value,
        "enabled": integration.enabled,
        "config": view.config,
        "webhook_url": f"/v1/webhooks/{integration.provider}/{integration.id}",
        "created_at": integration.created_at,
        "updated_at": integration.updated_at,
    }


def _integration_response(view: IntegrationView, status: int = 200) -> Response:
    headers = {"ETag": etag(view.integration.version)}
    if status == 201:
        headers["Location"] = f"/v1/integrations/{view.integration.id}"
    return json_response(render_integration(view), status=status, headers=headers)


@blueprint.post("")
@tag(["integrations"])
@validate_request(IntegrationIn)
@document_response(IntegrationOut, 201)
@idempotent
@inject
async def connect(
    data: IntegrationIn,
    units: UnitOfWorkFactory = Provide[Container.units],
    catalog: ProviderCatalog = Provide[Container.plugins],
    box: SecretBox = Provide[Container.secret_box],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Connect a provider (owners and admins). Its credentials are encrypted at rest."""
    command = handlers.ConnectProvider(data.provider, data.config, data.enabled)
    view = await handlers.connect_provider(command, *acting(units), catalog, box, clock)
    return _integration_response(view, status=201)


@blueprint.get("")
@tag(["integrations"])
@validate_querystring(ListQuery)
@document_response(IntegrationListOut)
@inject
async def list_all(
    query_args: ListQuery,
    units: UnitOfWorkFactory = Provide[Container.units],
    box: SecretBox = Provide[Container.secret_box],
) -> Response:
    """List the tenant's integrations, newest first."""
    page = await handlers.list_integrations(page_request(query_args), *acting(units), box)
    return list_response(page, render_integration, encode_cursor)


@blueprint.get("/<uuid:integration_id>")
@tag(["integrations"])
@document_response(IntegrationOut)
@inject
async def get_one(
    integration_id: UUID,
    units: UnitOfWorkFactory = Provide[Container.units],
    box: SecretBox = Provide[Container.secret_box],
) -> Response:
    """One integration, with its secrets masked."""
    return _integration_response(await handlers.get_integration(integration_id, *acting(units), box))


@blueprint.patch("/<uuid:integration_id>")
@tag(["integrations"])
@validate_request(IntegrationPatch)
@document_response(IntegrationOut)
@inject
async def update(
    integration_id: UUID,
    data: IntegrationPatch,
    units: UnitOfWorkFactory = Provide[Container.units],
    catalog: ProviderCatalog = Provide[Container.plugins],
    box: SecretBox = Provide[Container.secret_box],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Change configuration fields or enable/disable. Honours If-Match."""
    command = handlers.UpdateIntegration(integration_id, data.config, data.enabled, if_match_version())
    view = await handlers.update_integration(command, *acting(units), catalog, box, clock)
    return _integration_response(view)


@blueprint.delete("/<uuid:integration_id>")
@tag(["integrations"])
@inject
async def delete(integration_id: UUID, units: UnitOfWorkFactory = Provide[Container.units]) -> Response:
    """Disconnect a provider. Honours If-Match."""
    await handlers.delete_integration(integration_id, if_match_version(), *acting(units))
    return Response(status=204)
