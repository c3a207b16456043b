"""The voice platform's phone numbers over HTTP: copy them here, and pick who answers each.

``POST /v1/phone-numbers/sync`` reads the platform's numbers in the request (a read, nothing
changes there); an assignment reaches the platform through the outbox.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from dependency_injector.wiring import Provide, inject
from pydantic import BaseModel, ConfigDict
from quart import Blueprint, Response
from quart_schema import document_response, tag, validate_querystring, validate_request

from switchboard.core.calls import agents as handlers
from switchboard.core.calls.agents import PhoneNumber
from switchboard.entrypoints import voice_sync
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.auth import acting, require_principal
from switchboard.entrypoints.http.blueprints.schemas import ListOut
from switchboard.entrypoints.http.features import requires_feature
from switchboard.entrypoints.http.idempotency import idempotent
from switchboard.entrypoints.http.pagination import ListQuery, encode_cursor, page_request
from switchboard.entrypoints.http.responses import etag, if_match_version, json_response, list_response
from switchboard.ports.clock import Clock
from switchboard.ports.persistence import UnitOfWorkFactory
from switchboard.ports.providers import ProviderRegistry

blueprint = Blueprint("phone_numbers", __name__, url_prefix="/v1")
blueprint.before_request(require_principal)
blueprint.before_request(requires_feature("voice"))


class PhoneNumberPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_id: UUID | None  # required: null unassigns


class PhoneNumberOut(BaseModel):
    object: Literal["phone_number"]
    id: UUID
    number: str
    name: str | None
    agent_id: UUID | None
    provider_id: str
    integration_id: UUID
    created_at: datetime
    updated_at: datetime


class PhoneNumberListOut(ListOut[PhoneNumberOut]):
    """Phone numbers, newest first."""


class PhoneNumberListQuery(ListQuery):
    agent_id: UUID | None = None


class SyncedOut(BaseModel):
    object: Literal["list"]
    data: list[PhoneNumberOut]


def render_phone_number(number: PhoneNumber) -> dict[str, Any]:
    return {
        "object": "phone_number",
        "id": number.id,
        "number": number.number,
        "name": number.name,
        "agent_id": number.agent_id,
        "provider_id": number.provider_id,
        "integration_id": number.integration_id,
        "created_at": number.created_at,
        "updated_at": number.updated_at,
    }


@blueprint.post("/phone-numbers/sync")
@tag(["phone numbers"])
@document_response(SyncedOut)
@idempotent
@inject
async def sync_phone_numbers(
    units: UnitOfWorkFactory = Provide[Container.units],
    registry: ProviderRegistry = Provide[Container.provider_registry],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Copy the voice platform's numbers here: new ones are added, known ones refreshed (their
    agent kept). Honours Idempotency-Key."""
    principal, _ = acting(units)
    numbers = await voice_sync.sync_phone_numbers(principal, lambda: acting(units)[1], registry, clock)
    return json_response({"object": "list", "data": [render_phone_number(n) for n in numbers]})


@blueprint.get("/phone-numbers")
@tag(["phone numbers"])
@validate_querystring(PhoneNumberListQuery)
@document_response(PhoneNumberListOut)
@inject
async def list_phone_numbers(
    query_args: PhoneNumberListQuery, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """List the numbers, newest first, each with the agent that answers it; ``agent_id`` filters."""
    command = handlers.ListPhoneNumbers(page_request(query_args), query_args.agent_id)
    page = await handlers.list_phone_numbers(command, *acting(units))
    return list_response(page, render_phone_number, encode_cursor)


@blueprint.get("/phone-numbers/<uuid:phone_number_id>")
@tag(["phone numbers"])
@document_response(PhoneNumberOut)
@inject
async def get_phone_number(
    phone_number_id: UUID, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """Fetch one number, and its ETag."""
    number = await handlers.get_phone_number(phone_number_id, *acting(units))
    return json_response(render_phone_number(number), headers={"ETag": etag(number.version)})


@blueprint.patch("/phone-numbers/<uuid:phone_number_id>")
@tag(["phone numbers"])
@validate_request(PhoneNumberPatch)
@document_response(PhoneNumberOut)
@inject
async def assign_phone_number(
    phone_number_id: UUID,
    data: PhoneNumberPatch,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Pick the agent that answers the number's inbound calls (null: none; the platform then
    asks Switchboard for each call). Honours If-Match."""
    command = handlers.AssignPhoneNumber(phone_number_id, data.agent_id, if_match_version())
    number = await handlers.assign_phone_number(command, *acting(units), clock)
    return json_response(render_phone_number(number), headers={"ETag": etag(number.version)})
