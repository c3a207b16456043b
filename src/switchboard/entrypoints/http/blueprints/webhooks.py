"""Incoming provider webhooks: verified, stored once per event, acknowledged before processing."""

from __future__ import annotations

from uuid import UUID

from dependency_injector.wiring import Provide, inject
from pydantic import BaseModel
from quart import Blueprint, Response, request
from quart_schema import document_response, security_scheme_blueprint, tag

from switchboard.core.integrations.webhooks import receive_webhook
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.responses import json_response
from switchboard.ports.clock import Clock
from switchboard.ports.persistence import IdentityDirectory, UnitOfWorkFactory
from switchboard.ports.providers import IncomingWebhook, ProviderCatalog, SecretBox

blueprint = Blueprint("webhooks", __name__, url_prefix="/v1/webhooks")
security_scheme_blueprint(blueprint, [])  # providers prove themselves by signature, not token


class WebhookReceivedOut(BaseModel):
    received: int
    duplicates: int


@blueprint.post("/<string:provider>/<uuid:connection_id>")
@tag(["webhooks"])
@document_response(WebhookReceivedOut)
@inject
async def receive(
    provider: str,
    connection_id: UUID,
    directory: IdentityDirectory = Provide[Container.directory],
    units: UnitOfWorkFactory = Provide[Container.units],
    catalog: ProviderCatalog = Provide[Container.plugins],
    box: SecretBox = Provide[Container.secret_box],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """A provider's event for one connection (the integration's webhook_url). Acknowledged once
    stored; the worker processes it. A repeated event is acknowledged and stored once."""
    incoming = IncomingWebhook(
        headers={name.lower(): value for name, value in request.headers.items()},
        body=await request.get_data(),
        url=request.url,
    )
    received = await receive_webhook(provider, connection_id, incoming, directory, units, catalog, box, clock)
    return json_response({"received": received.stored, "duplicates": received.duplicates})
