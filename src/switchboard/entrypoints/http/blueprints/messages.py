"""Text messages with customers over HTTP (docs/messaging.md).

- ``POST /v1/customers/{id}/messages``: text the customer (queued, sent by the worker);
- ``GET /v1/customers/{id}/messages``: the conversation with one customer, newest first;
- ``GET /v1/messages`` and ``/v1/messages/{id}``: every message of the tenant, with filters;
- ``GET /v1/sms-opt-outs``: the numbers that texted STOP (or another opt-out keyword).

Inbound messages and status callbacks arrive as the SMS provider's verified webhooks
(``/v1/webhooks/<provider>/<integration id>``), processed by the worker.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from dependency_injector.wiring import Provide, inject
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from quart import Blueprint, Response
from quart_schema import document_response, tag, validate_querystring, validate_request

from switchboard.core.messaging import handlers
from switchboard.core.messaging.model import (
    BODY_MAX,
    Message,
    MessageDirection,
    MessageStatus,
    SenderType,
    SmsOptOut,
)
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.auth import acting, require_principal
from switchboard.entrypoints.http.blueprints.schemas import ListOut
from switchboard.entrypoints.http.idempotency import idempotent
from switchboard.entrypoints.http.pagination import ListQuery, encode_cursor, page_request
from switchboard.entrypoints.http.responses import etag, json_response, list_response
from switchboard.ports.clock import Clock
from switchboard.ports.persistence import UnitOfWorkFactory

blueprint = Blueprint("messages", __name__, url_prefix="/v1")
blueprint.before_request(require_principal)


# --- request and response models ---------------------------------------------------------------


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(
        min_length=1,
        max_length=BODY_MAX,
        description="1 to 1600 characters; line breaks allowed, no other control characters.",
    )


class SenderOut(BaseModel):
    type: SenderType
    id: UUID | None = Field(description="The user or API key; null for Switchboard itself.")


class MessageOut(BaseModel):
    object: Literal["message"]
    id: UUID
    customer_id: UUID | None = Field(description="Null for an inbound text from an unknown number.")
    direction: MessageDirection
    from_number: str | None = Field(description="E.164; for an outbound text, once the provider says.")
    to_number: str
    body: str
    status: MessageStatus
    provider: str | None
    provider_message_id: str | None
    error: str | None = Field(description="Why a message failed or was blocked.")
    sent_by: SenderOut | None = Field(description="Who sent an outbound text; null for inbound ones.")
    created_at: datetime
    updated_at: datetime


class MessageListOut(ListOut[MessageOut]):
    """Text messages, newest first."""


class CustomerMessageQuery(ListQuery):
    direction: MessageDirection | None = None
    status: MessageStatus | None = None


class MessageListQuery(CustomerMessageQuery):
    customer_id: UUID | None = None
    created_after: AwareDatetime | None = None
    created_before: AwareDatetime | None = None


class OptOutOut(BaseModel):
    object: Literal["sms_opt_out"]
    id: UUID
    phone: str = Field(description="E.164")
    keyword: str = Field(
        description="What the number texted: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END or QUIT."
    )
    opted_out_at: datetime
    customer_id: UUID | None
    message_id: UUID | None = Field(description="The text that opted out.")


class OptOutListOut(ListOut[OptOutOut]):
    """Opted-out numbers, newest opt-out first. A number leaves the list when it texts START,
    YES or UNSTOP."""


# --- renderers ---------------------------------------------------------------------------------


def render_message(message: Message) -> dict[str, Any]:
    sender = (
        {"type": message.sender_type.value, "id": message.sender_id}
        if message.sender_type is not None
        else None
    )
    return {
        "object": "message",
        "id": message.id,
        "customer_id": message.customer_id,
        "direction": message.direction.value,
        "from_number": message.from_number,
        "to_number": message.to_number,
        "body": message.body,
        "status": message.status.value,
        "provider": message.provider,
        "provider_message_id": message.provider_message_id,
        "error": message.error,
        "sent_by": sender,
        "created_at": message.created_at,
        "updated_at": message.updated_at,
    }


def render_opt_out(opt_out: SmsOptOut) -> dict[str, Any]:
    return {
        "object": "sms_opt_out",
        "id": opt_out.id,
        "phone": opt_out.phone,
        "keyword": opt_out.keyword,
        "opted_out_at": opt_out.opted_out_at,
        "customer_id": opt_out.customer_id,
        "message_id": opt_out.message_id,
    }


def _list_command(query: CustomerMessageQuery, customer_id: UUID | None) -> handlers.ListMessages:
    wide = query if isinstance(query, MessageListQuery) else None
    return handlers.ListMessages(
        page=page_request(query),
        customer_id=customer_id,
        direction=query.direction.value if query.direction else None,
        status=query.status.value if query.status else None,
        created_after=wide.created_after if wide else None,
        created_before=wide.created_before if wide else None,
    )


# --- routes --------------------------------------------------------------------------------------


@blueprint.post("/customers/<uuid:customer_id>/messages")
@tag(["messages"])
@validate_request(MessageIn)
@document_response(MessageOut, 201)
@idempotent
@inject
async def send_message(
    customer_id: UUID,
    data: MessageIn,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Text the customer's phone through the tenant's SMS provider: 201 with the message
    ``queued``; the worker sends it. 403 ``feature_disabled`` without the sms feature, 422
    ``customer_has_no_phone``, 409 ``recipient_opted_out`` when the number texted STOP, 409
    ``provider_not_connected`` without an SMS provider. Honours Idempotency-Key."""
    command = handlers.SendMessage(customer_id=customer_id, body=data.body)
    message = await handlers.send_message(command, *acting(units), clock)
    headers = {"Location": f"/v1/messages/{message.id}", "ETag": etag(message.version)}
    return json_response(render_message(message), status=201, headers=headers)


@blueprint.get("/customers/<uuid:customer_id>/messages")
@tag(["messages"])
@validate_querystring(CustomerMessageQuery)
@document_response(MessageListOut)
@inject
async def list_customer_messages(
    customer_id: UUID, query_args: CustomerMessageQuery, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """The conversation with one customer, both ways, newest first."""
    page = await handlers.list_customer_messages(_list_command(query_args, customer_id), *acting(units))
    return list_response(page, render_message, encode_cursor)


@blueprint.get("/messages")
@tag(["messages"])
@validate_querystring(MessageListQuery)
@document_response(MessageListOut)
@inject
async def list_messages(
    query_args: MessageListQuery, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """Every text message of the tenant, newest first; filter by customer, direction, status and
    creation time (``created_after`` and ``created_before`` are exclusive)."""
    page = await handlers.list_messages(_list_command(query_args, query_args.customer_id), *acting(units))
    return list_response(page, render_message, encode_cursor)


@blueprint.get("/messages/<uuid:message_id>")
@tag(["messages"])
@document_response(MessageOut)
@inject
async def get_message(message_id: UUID, units: UnitOfWorkFactory = Provide[Container.units]) -> Response:
    """One text message, with its ETag."""
    message = await handlers.get_message(message_id, *acting(units))
    return json_response(render_message(message), headers={"ETag": etag(message.version)})


@blueprint.get("/sms-opt-outs")
@tag(["messages"])
@validate_querystring(ListQuery)
@document_response(OptOutListOut)
@inject
async def list_opt_outs(
    query_args: ListQuery, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """The numbers that opted out of the tenant's text messages; nothing is sent to them."""
    page = await handlers.list_opt_outs(page_request(query_args), *acting(units))
    return list_response(page, render_opt_out, encode_cursor)
