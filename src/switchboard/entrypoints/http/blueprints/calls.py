"""Calls over HTTP: outbound calls, the call list and records, ending, feedback, and recordings.

A recording is never shown by the platform's address: ``GET /v1/calls/{id}/recording`` hands
out a link to ``/recordings/<token>`` (outside /v1: the signed, five-minute token is its only
credential), which streams the bytes read from the platform.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import structlog
from dependency_injector.wiring import Provide, inject
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from quart import Blueprint, Response
from quart_schema import document_response, hide, tag, validate_querystring, validate_request

from switchboard.core.calls import calls as handlers
from switchboard.core.calls.model import CallDirection, CallStatus, CostComponent, Sentiment, Speaker
from switchboard.core.calls.records import Call, CallFilter
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.auth import acting, require_principal
from switchboard.entrypoints.http.blueprints.schemas import ListOut
from switchboard.entrypoints.http.errors import ApiError
from switchboard.entrypoints.http.idempotency import idempotent
from switchboard.entrypoints.http.pagination import ListQuery, encode_cursor, page_request
from switchboard.entrypoints.http.responses import etag, json_response, list_response
from switchboard.entrypoints.settings import Settings
from switchboard.ports.clock import Clock
from switchboard.ports.persistence import UnitOfWorkFactory
from switchboard.ports.recordings import (
    RecordingLinkRefused,
    RecordingLinks,
    RecordingSource,
    RecordingUnavailable,
)

log = structlog.get_logger("switchboard.calls")

blueprint = Blueprint("calls", __name__, url_prefix="/v1")
blueprint.before_request(require_principal)

# Public: the signed token in the address is the credential, so no bearer token is asked for.
recordings = Blueprint("call_recordings", __name__)

E164_MAX = 16  # "+" and at most 15 digits
TOKEN_MAX = 2000


# --- request and response models ---------------------------------------------------------------


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CallIn(Strict):
    agent_id: UUID = Field(description="The agent that makes the call; it must be published")
    customer_id: UUID | None = Field(default=None, description="Call this customer's phone number")
    to: str | None = Field(
        default=None, max_length=E164_MAX, description="Or call this E.164 number, e.g. +14155550123"
    )
    scheduled_at: AwareDatetime | None = Field(
        default=None, description="When to call, in the future and within 30 days; now if left out"
    )


class FeedbackIn(Strict):
    rating: int = Field(ge=1, le=5, strict=True, description="1 (bad) to 5 (excellent)")
    comment: str | None = Field(default=None, max_length=handlers.COMMENT_MAX)


class CallFilterQuery(BaseModel):
    """The calls' filters as query parameters: the calls list's and the calls export's."""

    model_config = ConfigDict(extra="forbid")

    status: CallStatus | None = None
    direction: CallDirection | None = None
    sentiment: Sentiment | None = None
    agent_id: UUID | None = None
    customer_id: UUID | None = None
    created_after: AwareDatetime | None = None
    created_before: AwareDatetime | None = None
    started_after: AwareDatetime | None = None
    started_before: AwareDatetime | None = None
    min_duration: int | None = Field(default=None, ge=0, le=10**7, description="Seconds")

    def to_filter(self) -> CallFilter:
        fields = self.model_dump(exclude=set(ListQuery.model_fields))
        minimum = fields.pop("min_duration")
        return CallFilter(**fields, min_duration_seconds=minimum)


class CallListQuery(CallFilterQuery, ListQuery):  # paging's fields come first, then the filters
    pass


class CostOut(BaseModel):
    """In millionths of the currency's unit (platforms price fractions of a cent)."""

    currency: str
    total_micros: int
    components_micros: dict[CostComponent, int]


class FeedbackOut(BaseModel):
    rating: int
    comment: str | None
    given_by: UUID | None
    given_at: datetime


class TranscriptEntryOut(BaseModel):
    speaker: Speaker
    text: str
    seconds_from_start: float
    duration_seconds: float | None


class CallSummaryOut(BaseModel):
    object: Literal["call"]
    id: UUID
    direction: CallDirection
    status: CallStatus
    ended_reason: str | None
    agent_id: UUID | None
    customer_id: UUID | None
    business_number: str | None
    customer_number: str | None
    scheduled_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    duration_seconds: int | None
    summary: str | None
    structured_data: dict[str, Any]
    success: bool | None
    sentiment: Sentiment | None
    cost: CostOut | None
    has_recording: bool
    feedback: FeedbackOut | None
    provider_call_id: str | None
    created_at: datetime
    updated_at: datetime


class CallOut(CallSummaryOut):
    transcript: list[TranscriptEntryOut]


class CallListOut(ListOut[CallSummaryOut]):
    """Calls, newest first, without their transcripts."""


class RecordingLinkOut(BaseModel):
    object: Literal["recording_link"]
    url: str = Field(description="Works for anyone who holds it until expires_at")
    expires_at: datetime


# --- renderers ---------------------------------------------------------------------------------


def render_call_summary(call: Call) -> dict[str, Any]:
    cost, feedback = call.cost, call.feedback
    return {
        "object": "call",
        "id": call.id,
        "direction": call.direction.value,
        "status": call.status.value,
        "ended_reason": call.ended_reason,
        "agent_id": call.agent_id,
        "customer_id": call.customer_id,
        "business_number": call.business_number,
        "customer_number": call.customer_number,
        "scheduled_at": call.scheduled_at,
        "started_at": call.started_at,
        "ended_at": call.ended_at,
        "duration_seconds": call.duration_seconds,
        "summary": call.summary,
        "structured_data": call.structured_data,
        "success": call.success,
        "sentiment": call.sentiment.value if call.sentiment else None,
        "cost": {
            "currency": cost.currency,
            "total_micros": cost.total,
            "components_micros": {c.value: cost.components.get(c, 0) for c in CostComponent},
        }
        if cost
        else None,
        # Whether there is one to ask a link for; the platform's address itself is never shown.
        "has_recording": call.recording_url is not None,
        "feedback": {
            "rating": feedback.rating,
            "comment": feedback.comment,
            "given_by": feedback.given_by,
            "given_at": feedback.given_at,
        }
        if feedback
        else None,
        "provider_call_id": call.provider_call_id,
        "created_at": call.created_at,
        "updated_at": call.updated_at,
    }


def render_call(call: Call) -> dict[str, Any]:
    transcript = [
        {
            "speaker": e.speaker.value,
            "text": e.text,
            "seconds_from_start": e.seconds_from_start,
            "duration_seconds": e.duration_seconds,
        }
        for e in call.transcript
    ]
    return render_call_summary(call) | {"transcript": transcript}


def _versioned(call: Call, status: int = 200, location: str | None = None) -> Response:
    headers = {"ETag": etag(call.version)}
    if location is not None:
        headers["Location"] = location
    return json_response(render_call(call), status=status, headers=headers)


# --- routes ------------------------------------------------------------------------------------


@blueprint.post("/calls")
@tag(["calls"])
@validate_request(CallIn)
@document_response(CallOut, 201)
@idempotent
@inject
async def start_call(
    data: CallIn,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Start an outbound call: the agent calls the customer (or the number ``to``) now, or at
    ``scheduled_at``. 409 ``agent_not_published``, ``provider_not_connected``; 403
    ``feature_disabled`` when voice is off. Honours Idempotency-Key."""
    command = handlers.StartCall(data.agent_id, data.customer_id, data.to, data.scheduled_at)
    call = await handlers.start_call(command, *acting(units), clock)
    return _versioned(call, 201, f"/v1/calls/{call.id}")


@blueprint.get("/calls")
@tag(["calls"])
@validate_querystring(CallListQuery)
@document_response(CallListOut)
@inject
async def list_calls(
    query_args: CallListQuery, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """List calls, newest first; filter by status, direction, sentiment, agent, customer, when
    they were made or started, and a minimum duration in seconds."""
    listing = handlers.ListCalls(query_args.to_filter(), page_request(query_args))
    page = await handlers.list_calls(listing, *acting(units))
    return list_response(page, render_call_summary, encode_cursor)


@blueprint.get("/calls/<uuid:call_id>")
@tag(["calls"])
@document_response(CallOut)
@inject
async def get_call(call_id: UUID, units: UnitOfWorkFactory = Provide[Container.units]) -> Response:
    """Fetch one call with its transcript, analysis and cost, with its ETag."""
    return _versioned(await handlers.get_call(call_id, *acting(units)))


@blueprint.post("/calls/<uuid:call_id>/end")
@tag(["calls"])
@document_response(CallOut, 202)
@inject
async def end_call(
    call_id: UUID,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """End a call. A live call is hung up at the platform (202; its end arrives from the
    platform); one not started yet is cancelled at once (200). 409 ``call_ended`` if it has ended."""
    call = await handlers.end_call(call_id, *acting(units), clock)
    return _versioned(call, 200 if call.ended else 202)


@blueprint.post("/calls/<uuid:call_id>/feedback")
@tag(["calls"])
@validate_request(FeedbackIn)
@document_response(CallOut)
@inject
async def give_feedback(
    call_id: UUID,
    data: FeedbackIn,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Rate a call from 1 to 5, with an optional comment; a new rating replaces the previous one.
    Audited."""
    command = handlers.GiveFeedback(call_id, data.rating, data.comment)
    return _versioned(await handlers.give_feedback(command, *acting(units), clock))


@blueprint.get("/calls/<uuid:call_id>/recording")
@tag(["calls"])
@document_response(RecordingLinkOut)
@inject
async def recording_link(
    call_id: UUID,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
    links: RecordingLinks = Provide[Container.recording_links],
    settings: Settings = Provide[Container.settings],
) -> Response:
    """A link to the call's recording that works for five minutes; 404 when it has none."""
    call = await handlers.recording_of(call_id, *acting(units))
    token, expires_at = links.issue(call.tenant_id, call.id, clock.now())
    url = f"{settings.public_url.rstrip('/')}/recordings/{token}"
    return json_response({"object": "recording_link", "url": url, "expires_at": expires_at})


@recordings.get("/recordings/<token>")
@hide
@inject
async def stream_recording(
    token: str,
    units: UnitOfWorkFactory = Provide[Container.units],
    links: RecordingLinks = Provide[Container.recording_links],
    source: RecordingSource = Provide[Container.recording_source],
) -> Response:
    """The recording's bytes, read from the platform as they are sent; 403 for a link that was
    tampered with or has expired."""
    if len(token) > TOKEN_MAX:
        raise ApiError(403, "the recording link is not valid", "recording_link_invalid")
    try:
        tenant_id, call_id = links.verify(token)
    except RecordingLinkRefused as refused:
        code = "recording_link_expired" if refused.expired else "recording_link_invalid"
        raise ApiError(403, refused.detail, code) from refused
    address = await handlers.recording_address(call_id, units(tenant_id))
    try:
        stream = await source.open(address)
    except RecordingUnavailable as error:
        log.warning(
            "recording_unavailable", tenant_id=str(tenant_id), call_id=str(call_id), reason=str(error)
        )
        raise ApiError(
            502, "the voice platform did not hand over the recording", "recording_unavailable"
        ) from error
    headers = {
        "Cache-Control": "private, no-store",
        "Content-Disposition": f'inline; filename="call-{call_id}"',
        "Referrer-Policy": "no-referrer",
    }
    if stream.length is not None:
        headers["Content-Length"] = str(stream.length)
    return Response(stream.chunks, content_type=stream.media_type, headers=headers)
