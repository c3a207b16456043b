"""A tenant's own URLs that receive Switchboard events, signed per Standard Webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from dependency_injector.wiring import Provide, inject
from pydantic import BaseModel, ConfigDict, Field
from quart import Blueprint, Response
from quart_schema import document_response, tag, validate_querystring, validate_request

from switchboard.core.webhooks import handlers
from switchboard.core.webhooks.model import DESCRIPTION_MAX, EVENT_TYPES, URL_MAX, Delivery, WebhookEndpoint
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.auth import acting, require_principal
from switchboard.entrypoints.http.blueprints.schemas import ListOut
from switchboard.entrypoints.http.idempotency import idempotent
from switchboard.entrypoints.http.pagination import ListQuery, encode_cursor, page_request
from switchboard.entrypoints.http.responses import json_response, list_response
from switchboard.entrypoints.settings import Settings
from switchboard.ports.clock import Clock
from switchboard.ports.persistence import UnitOfWorkFactory
from switchboard.ports.providers import SecretBox, WebhookSender

blueprint = Blueprint("webhook_endpoints", __name__, url_prefix="/v1/webhook-endpoints")
blueprint.before_request(require_principal)


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=URL_MAX)
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    event_types: list[str] = Field(
        default_factory=list, max_length=len(EVENT_TYPES), description="Empty: every event."
    )


class EndpointOut(BaseModel):
    object: Literal["webhook_endpoint"]
    id: UUID
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    created_at: datetime


class CreatedEndpointOut(EndpointOut):
    secret: str = Field(description="The signing secret (Standard Webhooks), shown this once.")


class EndpointListOut(ListOut[EndpointOut]):
    """A page of webhook endpoints, newest first."""


class DeliveryOut(BaseModel):
    object: Literal["webhook_delivery"]
    id: UUID
    event_id: UUID
    event_type: str
    attempt: int
    status_code: int | None
    error: str | None
    duration_ms: int
    created_at: datetime


class DeliveryListOut(ListOut[DeliveryOut]):
    """A page of delivery attempts, newest first."""


def render_endpoint(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "object": "webhook_endpoint",
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types),
        "enabled": endpoint.enabled,
        "created_at": endpoint.created_at,
    }


def render_delivery(delivery: Delivery) -> dict[str, Any]:
    return {
        "object": "webhook_delivery",
        "id": delivery.id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "attempt": delivery.attempt,
        "status_code": delivery.status_code,
        "error": delivery.error,
        "duration_ms": delivery.duration_ms,
        "created_at": delivery.created_at,
    }


@blueprint.post("")
@tag(["webhooks"])
@validate_request(EndpointIn)
@document_response(CreatedEndpointOut, 201)
@idempotent
@inject
async def create_endpoint(
    data: EndpointIn,
    units: UnitOfWorkFactory = Provide[Container.units],
    sender: WebhookSender = Provide[Container.webhook_sender],
    box: SecretBox = Provide[Container.secret_box],
    clock: Clock = Provide[Container.clock],
    settings: Settings = Provide[Container.settings],
) -> Response:
    """Register a URL to receive events (owners and admins). It must resolve to public addresses."""
    command = handlers.CreateEndpoint(data.url, data.description, tuple(data.event_types))
    endpoint, secret = await handlers.create_endpoint(
        command, *acting(units), sender, box, clock, allow_plain_http=settings.webhooks_allow_loopback
    )
    return json_response(
        render_endpoint(endpoint) | {"secret": secret},
        status=201,
        headers={"Location": f"/v1/webhook-endpoints/{endpoint.id}"},
    )


@blueprint.get("")
@tag(["webhooks"])
@validate_querystring(ListQuery)
@document_response(EndpointListOut)
@inject
async def list_endpoints(
    query_args: ListQuery, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """The tenant's webhook endpoints, newest first."""
    page = await handlers.list_endpoints(page_request(query_args), *acting(units))
    return list_response(page, render_endpoint, encode_cursor)


@blueprint.get("/<uuid:endpoint_id>")
@tag(["webhooks"])
@document_response(EndpointOut)
@inject
async def get_endpoint(endpoint_id: UUID, units: UnitOfWorkFactory = Provide[Container.units]) -> Response:
    """One webhook endpoint (its secret is never shown again)."""
    return json_response(render_endpoint(await handlers.get_endpoint(endpoint_id, *acting(units))))


@blueprint.delete("/<uuid:endpoint_id>")
@tag(["webhooks"])
@inject
async def delete_endpoint(endpoint_id: UUID, units: UnitOfWorkFactory = Provide[Container.units]) -> Response:
    """Stop sending events to this URL. Queued deliveries to it are dropped."""
    await handlers.delete_endpoint(endpoint_id, *acting(units))
    return Response(status=204)


@blueprint.get("/<uuid:endpoint_id>/deliveries")
@tag(["webhooks"])
@validate_querystring(ListQuery)
@document_response(DeliveryListOut)
@inject
async def list_deliveries(
    endpoint_id: UUID, query_args: ListQuery, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """Every delivery attempt to this endpoint, newest first."""
    page = await handlers.list_deliveries(endpoint_id, page_request(query_args), *acting(units))
    return list_response(page, render_delivery, encode_cursor)
