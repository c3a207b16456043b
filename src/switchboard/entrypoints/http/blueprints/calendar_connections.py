"""Connected calendars over HTTP: connecting a Google or Outlook account, linking resources.

``POST /v1/calendar-connections`` answers the provider's consent page for the caller's tenant;
the provider sends the person back to ``GET /v1/calendar-connections/{provider}/callback``, a
public route whose signed ``state`` is its only credential (``callbacks`` below). The account
becomes the tenant's ``calendar`` integration (``/v1/integrations``: shown with its tokens
masked, disabled or deleted there). ``/v1/resources/{id}/calendar`` links a resource to one of
the account's calendars.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from dependency_injector.wiring import Provide, inject
from pydantic import BaseModel, ConfigDict, Field
from quart import Blueprint, Response
from quart_schema import (
    document_response,
    security_scheme_blueprint,
    tag,
    validate_querystring,
    validate_request,
)

from switchboard.core.scheduling import calendar_sync
from switchboard.core.scheduling.calendar_model import CALENDAR_ID_MAX
from switchboard.core.scheduling.calendar_sync import CalendarConnections, Linked
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.auth import acting, client, current_principal, require_principal
from switchboard.entrypoints.http.blueprints.integrations import IntegrationOut, render_integration
from switchboard.entrypoints.http.errors import ApiError
from switchboard.entrypoints.http.features import requires_feature
from switchboard.entrypoints.http.idempotency import idempotent
from switchboard.entrypoints.http.responses import etag, json_response
from switchboard.entrypoints.settings import Settings
from switchboard.ports.clock import Clock
from switchboard.ports.persistence import UnitOfWorkFactory
from switchboard.ports.providers import ProviderError

blueprint = Blueprint("calendar_connections", __name__, url_prefix="/v1")
blueprint.before_request(require_principal)
blueprint.before_request(requires_feature("integrations"))

# Public: where the provider sends the browser back; the signed state is the credential.
callbacks = Blueprint("calendar_callbacks", __name__, url_prefix="/v1/calendar-connections")
security_scheme_blueprint(callbacks, [])

STATE_MAX = 4000
CODE_MAX = 4000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConnectIn(Strict):
    provider: str = Field(
        min_length=1,
        max_length=40,
        description="A calendar provider slug: google_calendar or outlook_calendar",
    )


class AuthorizationOut(BaseModel):
    object: Literal["calendar_authorization"]
    provider: str
    authorization_url: str = Field(description="Send the person who connects the account here")
    expires_at: datetime = Field(description="The provider's answer is accepted until then")


class CallbackQuery(BaseModel):
    """What the provider adds to the redirect (other parameters it sends are ignored)."""

    code: str | None = Field(default=None, max_length=CODE_MAX)
    state: str | None = Field(default=None, max_length=STATE_MAX)
    error: str | None = Field(default=None, max_length=200)


class LinkIn(Strict):
    calendar_id: str = Field(
        min_length=1,
        max_length=CALENDAR_ID_MAX,
        description="A calendar of the connected account; 'primary' is the account's own",
    )


class ResourceCalendarOut(BaseModel):
    object: Literal["resource_calendar"]
    resource_id: UUID
    integration_id: UUID
    provider: str
    calendar_id: str
    synced_at: datetime | None = Field(description="When the calendar's changes were last read")
    created_at: datetime
    updated_at: datetime


def render_link(linked: Linked) -> dict[str, Any]:
    link = linked.link
    return {
        "object": "resource_calendar",
        "resource_id": link.resource_id,
        "integration_id": link.integration_id,
        "provider": linked.provider,
        "calendar_id": link.calendar_id,
        "synced_at": link.synced_at,
        "created_at": link.created_at,
        "updated_at": link.updated_at,
    }


def callback_url(settings: Settings, provider: str) -> str:
    return f"{settings.public_url.rstrip('/')}/v1/calendar-connections/{provider}/callback"


# --- connecting an account ---------------------------------------------------------------------


@blueprint.post("/calendar-connections")
@tag(["calendars"])
@validate_request(ConnectIn)
@document_response(AuthorizationOut)
@idempotent
@inject
async def start_calendar_connection(
    data: ConnectIn,
    connections: CalendarConnections = Provide[Container.calendar_connections],
    settings: Settings = Provide[Container.settings],
) -> Response:
    """Start connecting a calendar account (owners and admins): where to send the person, whose
    consent brings them back to the callback within ten minutes."""
    started = await calendar_sync.start_connection(
        data.provider, callback_url(settings, data.provider), current_principal(), connections
    )
    body = {
        "object": "calendar_authorization",
        "provider": started.provider,
        "authorization_url": started.authorization_url,
        "expires_at": started.expires_at,
    }
    return json_response(body)


@callbacks.get("/<string:provider>/callback")
@tag(["calendars"])
@validate_querystring(CallbackQuery)
@document_response(IntegrationOut)
@inject
async def finish_calendar_connection(
    provider: str,
    query_args: CallbackQuery,
    connections: CalendarConnections = Provide[Container.calendar_connections],
    settings: Settings = Provide[Container.settings],
) -> Response:
    """Where the provider sends the person back: the account becomes the tenant's calendar
    integration (201; 200 when the same account was connected before and gets new tokens)."""
    if query_args.error:
        code = query_args.error if query_args.error.replace("_", "").isalnum() else "an error"
        raise ApiError(400, f"the provider did not grant access: {code}", "calendar_access_denied")
    if not query_args.code or not query_args.state:
        raise ApiError(400, "the provider's answer has no code or no state", "bad_request")
    try:
        finished = await calendar_sync.finish_connection(
            provider,
            query_args.code,
            query_args.state,
            callback_url(settings, provider),
            connections,
            client(),
        )
    except ProviderError as error:
        status = 503 if error.retryable else 502
        raise ApiError(
            status,
            str(error),
            "calendar_provider_unavailable" if error.retryable else "calendar_provider_refused",
        ) from error
    integration = finished.view.integration
    headers = {"ETag": etag(integration.version)}
    if finished.created:
        headers["Location"] = f"/v1/integrations/{integration.id}"
    return json_response(
        render_integration(finished.view), status=201 if finished.created else 200, headers=headers
    )


# --- linking resources -------------------------------------------------------------------------


@blueprint.post("/resources/<uuid:resource_id>/calendar")
@tag(["calendars"])
@validate_request(LinkIn)
@document_response(ResourceCalendarOut, 201)
@idempotent
@inject
async def link_calendar(
    resource_id: UUID,
    data: LinkIn,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Link the resource to a calendar of the connected account (201; 200 replacing an earlier
    link): its busy times count against availability, its appointments are written there."""
    command = calendar_sync.LinkCalendar(resource_id, data.calendar_id)
    linked = await calendar_sync.link_calendar(command, *acting(units), clock)
    return json_response(render_link(linked), status=201 if linked.created else 200)


@blueprint.get("/resources/<uuid:resource_id>/calendar")
@tag(["calendars"])
@document_response(ResourceCalendarOut)
@inject
async def get_calendar_link(
    resource_id: UUID, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """The calendar the resource is linked to, and when its changes were last read."""
    return json_response(render_link(await calendar_sync.get_calendar_link(resource_id, *acting(units))))


@blueprint.delete("/resources/<uuid:resource_id>/calendar")
@tag(["calendars"])
@inject
async def unlink_calendar(
    resource_id: UUID,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Unlink the resource's calendar; the events written there for its appointments are deleted."""
    await calendar_sync.unlink_calendar(resource_id, *acting(units), clock)
    return Response(status=204)


@blueprint.post("/resources/<uuid:resource_id>/calendar/sync")
@tag(["calendars"])
@document_response(ResourceCalendarOut, 202)
@idempotent
@inject
async def sync_calendar(
    resource_id: UUID,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Read the calendar's changes now rather than at the next periodic sync (202: queued)."""
    linked = await calendar_sync.sync_now(resource_id, *acting(units), clock)
    return json_response(render_link(linked), status=202)
