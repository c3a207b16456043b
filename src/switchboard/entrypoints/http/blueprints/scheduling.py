"""Scheduling over HTTP: resources and their overrides, appointments, availability, and the
public iCalendar feed of a resource (``/ical/<token>.ics``, outside /v1: its address is its
only credential)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import icalendar
from dependency_injector.wiring import Provide, inject
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from quart import Blueprint, Response, request
from quart_schema import document_response, hide, tag, validate_querystring, validate_request

from switchboard.core.scheduling import handlers
from switchboard.core.scheduling.availability import (
    DURATION_MAX_MINUTES,
    DURATION_MIN_MINUTES,
    STEP_MIN_MINUTES,
)
from switchboard.core.scheduling.model import (
    BUFFER_MAX,
    INTERVALS_PER_DAY_MAX,
    LOCATION_MAX,
    NAME_MAX,
    NOTES_MAX,
    REASON_MAX,
    SERVICE_MAX,
    TIME_ZONE_MAX,
    WEEKDAYS,
    Appointment,
    AppointmentStatus,
    DayHours,
    Resource,
    ResourceKind,
    ResourceOverride,
)
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.auth import acting, require_principal
from switchboard.entrypoints.http.blueprints.schemas import ListOut
from switchboard.entrypoints.http.idempotency import idempotent
from switchboard.entrypoints.http.pagination import ListQuery, encode_cursor, page_request
from switchboard.entrypoints.http.responses import etag, if_match_version, json_response, list_response
from switchboard.ports.clock import Clock
from switchboard.ports.persistence import IdentityDirectory, UnitOfWorkFactory
from switchboard.ports.scheduling import BusyTimes

blueprint = Blueprint("scheduling", __name__, url_prefix="/v1")
blueprint.before_request(require_principal)

# Public: the feed's secret address is the credential, so no bearer token is asked for.
feeds = Blueprint("calendar_feeds", __name__)

DATE_LENGTH = 10  # YYYY-MM-DD
CLOCK_LENGTH = 5  # HH:MM


# --- request and response models ---------------------------------------------------------------


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IntervalIn(Strict):
    start: str = Field(max_length=CLOCK_LENGTH, description="HH:MM, local time of the resource")
    end: str = Field(max_length=CLOCK_LENGTH, description="HH:MM, after start; 24:00 for midnight")


DayIn = list[IntervalIn]


class WorkingHoursIn(Strict):
    """Each weekday's intervals, in the resource's time zone; a day left out or empty is closed."""

    monday: DayIn = Field(default_factory=list, max_length=INTERVALS_PER_DAY_MAX)
    tuesday: DayIn = Field(default_factory=list, max_length=INTERVALS_PER_DAY_MAX)
    wednesday: DayIn = Field(default_factory=list, max_length=INTERVALS_PER_DAY_MAX)
    thursday: DayIn = Field(default_factory=list, max_length=INTERVALS_PER_DAY_MAX)
    friday: DayIn = Field(default_factory=list, max_length=INTERVALS_PER_DAY_MAX)
    saturday: DayIn = Field(default_factory=list, max_length=INTERVALS_PER_DAY_MAX)
    sunday: DayIn = Field(default_factory=list, max_length=INTERVALS_PER_DAY_MAX)


class ResourceIn(Strict):
    name: str = Field(min_length=1, max_length=NAME_MAX)
    kind: ResourceKind
    time_zone: str = Field(max_length=TIME_ZONE_MAX, description="IANA name, e.g. Europe/London")
    buffer_before: int = Field(default=0, ge=0, le=BUFFER_MAX, description="Minutes kept free before")
    buffer_after: int = Field(default=0, ge=0, le=BUFFER_MAX, description="Minutes kept free after")
    working_hours: WorkingHoursIn | None = None


class ResourcePatch(Strict):
    """Only the fields sent change; ``working_hours`` replaces the whole week."""

    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX)
    kind: ResourceKind | None = None
    time_zone: str | None = Field(default=None, max_length=TIME_ZONE_MAX)
    buffer_before: int | None = Field(default=None, ge=0, le=BUFFER_MAX)
    buffer_after: int | None = Field(default=None, ge=0, le=BUFFER_MAX)
    working_hours: WorkingHoursIn | None = None


class IntervalOut(BaseModel):
    start: str
    end: str


class ResourceOut(BaseModel):
    object: Literal["resource"]
    id: UUID
    name: str
    kind: ResourceKind
    time_zone: str
    buffer_before: int
    buffer_after: int
    working_hours: dict[str, list[IntervalOut]]
    created_at: datetime
    updated_at: datetime


class ResourceListOut(ListOut[ResourceOut]):
    """Resources, newest first."""


class ResourceListQuery(ListQuery):
    kind: ResourceKind | None = None


class OverrideIn(Strict):
    date: str = Field(max_length=DATE_LENGTH, description="YYYY-MM-DD, a local date of the resource")
    intervals: list[IntervalIn] | None = Field(default=None, max_length=INTERVALS_PER_DAY_MAX)
    closed: bool | None = Field(default=None, description="true: closed all day (a holiday)")
    reason: str | None = Field(default=None, max_length=REASON_MAX)


class OverridePatch(Strict):
    intervals: list[IntervalIn] | None = Field(default=None, max_length=INTERVALS_PER_DAY_MAX)
    closed: bool | None = None
    reason: str | None = Field(default=None, max_length=REASON_MAX)


class OverrideOut(BaseModel):
    object: Literal["resource_override"]
    resource_id: UUID
    date: str
    closed: bool
    intervals: list[IntervalOut]
    reason: str | None
    created_at: datetime
    updated_at: datetime


class OverrideListOut(ListOut[OverrideOut]):
    """A resource's overrides in a range of dates, by date; bounded by the range, never paged."""


class OverrideListQuery(Strict):
    from_: str | None = Field(default=None, alias="from", max_length=DATE_LENGTH)
    to: str | None = Field(default=None, max_length=DATE_LENGTH)


class AppointmentIn(Strict):
    resource_id: UUID
    customer_id: UUID
    service: str = Field(min_length=1, max_length=SERVICE_MAX, description="What the appointment is for")
    start: AwareDatetime
    end: AwareDatetime
    location: str | None = Field(default=None, max_length=LOCATION_MAX)
    notes: str | None = Field(default=None, max_length=NOTES_MAX)


class AppointmentPatch(Strict):
    """Only the fields sent change; a new start, end or resource is checked like a booking."""

    resource_id: UUID | None = None
    customer_id: UUID | None = None
    service: str | None = Field(default=None, min_length=1, max_length=SERVICE_MAX)
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    location: str | None = Field(default=None, max_length=LOCATION_MAX)
    notes: str | None = Field(default=None, max_length=NOTES_MAX)


class StatusIn(Strict):
    status: AppointmentStatus


class AppointmentOut(BaseModel):
    object: Literal["appointment"]
    id: UUID
    resource_id: UUID
    customer_id: UUID
    service: str
    start: datetime
    end: datetime
    location: str | None
    notes: str | None
    status: AppointmentStatus
    created_at: datetime
    updated_at: datetime


class AppointmentListOut(ListOut[AppointmentOut]):
    """Appointments, newest booking first."""


class AppointmentListQuery(ListQuery):
    resource_id: UUID | None = None
    customer_id: UUID | None = None
    status: AppointmentStatus | None = None
    starts_after: AwareDatetime | None = None
    starts_before: AwareDatetime | None = None


class AvailabilityQuery(Strict):
    resource_id: UUID
    from_: AwareDatetime = Field(alias="from")
    to: AwareDatetime = Field(description="At most 62 days after from")
    duration: int = Field(ge=DURATION_MIN_MINUTES, le=DURATION_MAX_MINUTES, description="Minutes")
    step: int | None = Field(
        default=None,
        ge=STEP_MIN_MINUTES,
        le=DURATION_MAX_MINUTES,
        description="Minutes; the duration if left out",
    )


class SlotOut(BaseModel):
    start: datetime
    end: datetime


class AvailabilityOut(BaseModel):
    object: Literal["availability"]
    resource_id: UUID
    time_zone: str
    duration: int
    step: int
    slots: list[SlotOut]


class FeedOut(BaseModel):
    object: Literal["calendar_feed"]
    resource_id: UUID
    url: str = Field(description="Shown this once; anyone with it can read the feed until it is revoked")
    created_at: datetime


# --- renderers ---------------------------------------------------------------------------------


def _intervals(hours: DayHours) -> list[dict[str, str]]:
    return [{"start": start, "end": end} for start, end in (interval.render() for interval in hours)]


def render_resource(resource: Resource) -> dict[str, Any]:
    return {
        "object": "resource",
        "id": resource.id,
        "name": resource.name,
        "kind": resource.kind.value,
        "time_zone": resource.time_zone,
        "buffer_before": resource.buffer_before,
        "buffer_after": resource.buffer_after,
        "working_hours": {name: _intervals(resource.working_hours[i]) for i, name in enumerate(WEEKDAYS)},
        "created_at": resource.created_at,
        "updated_at": resource.updated_at,
    }


def render_override(override: ResourceOverride) -> dict[str, Any]:
    return {
        "object": "resource_override",
        "resource_id": override.resource_id,
        "date": override.day.isoformat(),
        "closed": override.closed,
        "intervals": _intervals(override.intervals),
        "reason": override.reason,
        "created_at": override.created_at,
        "updated_at": override.updated_at,
    }


def render_appointment(appointment: Appointment) -> dict[str, Any]:
    return {
        "object": "appointment",
        "id": appointment.id,
        "resource_id": appointment.resource_id,
        "customer_id": appointment.customer_id,
        "service": appointment.service,
        "start": appointment.starts_at,
        "end": appointment.ends_at,
        "location": appointment.location,
        "notes": appointment.notes,
        "status": appointment.status.value,
        "created_at": appointment.created_at,
        "updated_at": appointment.updated_at,
    }


def _pairs(intervals: list[IntervalIn] | None) -> list[tuple[str, str]] | None:
    return None if intervals is None else [(i.start, i.end) for i in intervals]


def _week(hours: WorkingHoursIn) -> dict[str, list[tuple[str, str]]]:
    return {day: [(i.start, i.end) for i in getattr(hours, day)] for day in WEEKDAYS}


def _versioned(
    body: dict[str, Any], version: int, status: int = 200, location: str | None = None
) -> Response:
    headers = {"ETag": etag(version)}
    if location is not None:
        headers["Location"] = location
    return json_response(body, status=status, headers=headers)


# --- resources ---------------------------------------------------------------------------------


@blueprint.post("/resources")
@tag(["scheduling"])
@validate_request(ResourceIn)
@document_response(ResourceOut, 201)
@idempotent
@inject
async def create_resource(
    data: ResourceIn,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Create a bookable resource (staff member, room, vehicle). Honours Idempotency-Key."""
    command = handlers.CreateResource(
        name=data.name,
        kind=data.kind.value,
        time_zone=data.time_zone,
        buffer_before=data.buffer_before,
        buffer_after=data.buffer_after,
        working_hours=_week(data.working_hours) if data.working_hours else None,
    )
    resource = await handlers.create_resource(command, *acting(units), clock)
    return _versioned(render_resource(resource), resource.version, 201, f"/v1/resources/{resource.id}")


@blueprint.get("/resources")
@tag(["scheduling"])
@validate_querystring(ResourceListQuery)
@document_response(ResourceListOut)
@inject
async def list_resources(
    query_args: ResourceListQuery, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """List resources, newest first; ``kind`` filters."""
    kind = query_args.kind.value if query_args.kind else None
    page = await handlers.list_resources(
        handlers.ListResources(page_request(query_args), kind), *acting(units)
    )
    return list_response(page, render_resource, encode_cursor)


@blueprint.get("/resources/<uuid:resource_id>")
@tag(["scheduling"])
@document_response(ResourceOut)
@inject
async def get_resource(resource_id: UUID, units: UnitOfWorkFactory = Provide[Container.units]) -> Response:
    """Fetch one resource with its weekly hours, and its ETag."""
    resource = await handlers.get_resource(resource_id, *acting(units))
    return _versioned(render_resource(resource), resource.version)


@blueprint.patch("/resources/<uuid:resource_id>")
@tag(["scheduling"])
@validate_request(ResourcePatch)
@document_response(ResourceOut)
@inject
async def update_resource(
    resource_id: UUID,
    data: ResourcePatch,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Change a resource; new hours and buffers apply to later bookings. Honours If-Match."""
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)  # null is refused by the core
    if data.working_hours is not None:
        changes["working_hours"] = _week(data.working_hours)
    if data.kind is not None:
        changes["kind"] = data.kind.value
    command = handlers.UpdateResource(resource_id, changes, if_match_version())
    resource = await handlers.update_resource(command, *acting(units), clock)
    return _versioned(render_resource(resource), resource.version)


@blueprint.delete("/resources/<uuid:resource_id>")
@tag(["scheduling"])
@inject
async def delete_resource(resource_id: UUID, units: UnitOfWorkFactory = Provide[Container.units]) -> Response:
    """Delete a resource that no appointment names. Honours If-Match."""
    await handlers.delete_resource(handlers.DeleteResource(resource_id, if_match_version()), *acting(units))
    return Response(status=204)


# --- overrides ---------------------------------------------------------------------------------


@blueprint.post("/resources/<uuid:resource_id>/overrides")
@tag(["scheduling"])
@validate_request(OverrideIn)
@document_response(OverrideOut, 201)
@idempotent
@inject
async def create_override(
    resource_id: UUID,
    data: OverrideIn,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Give one local date its own hours, or close it (a holiday). Honours Idempotency-Key."""
    command = handlers.CreateOverride(
        resource_id, data.date, _pairs(data.intervals), data.closed, data.reason
    )
    override = await handlers.create_override(command, *acting(units), clock)
    location = f"/v1/resources/{resource_id}/overrides/{override.day.isoformat()}"
    return json_response(render_override(override), status=201, headers={"Location": location})


@blueprint.get("/resources/<uuid:resource_id>/overrides")
@tag(["scheduling"])
@validate_querystring(OverrideListQuery)
@document_response(OverrideListOut)
@inject
async def list_overrides(
    resource_id: UUID,
    query_args: OverrideListQuery,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """A resource's overrides from ``from`` (default today) to ``to`` (default a year later),
    at most 366 days apart, by date."""
    command = handlers.ListOverrides(resource_id, query_args.from_, query_args.to)
    found = await handlers.list_overrides(command, *acting(units), clock)
    body = {
        "object": "list",
        "data": [render_override(o) for o in found],
        "has_more": False,
        "next_cursor": None,
    }
    return json_response(body)


@blueprint.get("/resources/<uuid:resource_id>/overrides/<day>")
@tag(["scheduling"])
@document_response(OverrideOut)
@inject
async def get_override(
    resource_id: UUID, day: str, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """One override, by its date (YYYY-MM-DD)."""
    return json_response(render_override(await handlers.get_override(resource_id, day, *acting(units))))


@blueprint.patch("/resources/<uuid:resource_id>/overrides/<day>")
@tag(["scheduling"])
@validate_request(OverridePatch)
@document_response(OverrideOut)
@inject
async def update_override(
    resource_id: UUID,
    day: str,
    data: OverridePatch,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Change an override's hours, close or reopen its day, or change its reason."""
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    if "intervals" in changes:
        changes["intervals"] = _pairs(data.intervals)
    command = handlers.UpdateOverride(resource_id, day, changes)
    override = await handlers.update_override(command, *acting(units), clock)
    return json_response(render_override(override))


@blueprint.delete("/resources/<uuid:resource_id>/overrides/<day>")
@tag(["scheduling"])
@inject
async def delete_override(
    resource_id: UUID, day: str, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """Remove an override: the date keeps its weekday's hours again."""
    await handlers.delete_override(resource_id, day, *acting(units))
    return Response(status=204)


# --- calendar feed (management) ----------------------------------------------------------------


@blueprint.post("/resources/<uuid:resource_id>/feed")
@tag(["scheduling"])
@document_response(FeedOut, 201)
@idempotent
@inject
async def create_feed(
    resource_id: UUID,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Create the resource's iCalendar feed address, or rotate it (the old one stops working).
    The address is shown in this answer only."""
    feed, token = await handlers.create_feed(resource_id, *acting(units), clock)
    path = f"/ical/{token}.ics"
    body = {
        "object": "calendar_feed",
        "resource_id": feed.resource_id,
        "url": request.host_url.rstrip("/") + path,
        "created_at": feed.created_at,
    }
    return json_response(body, status=201)


@blueprint.delete("/resources/<uuid:resource_id>/feed")
@tag(["scheduling"])
@inject
async def revoke_feed(resource_id: UUID, units: UnitOfWorkFactory = Provide[Container.units]) -> Response:
    """Revoke the resource's feed address at once."""
    await handlers.revoke_feed(resource_id, *acting(units))
    return Response(status=204)


# --- appointments ------------------------------------------------------------------------------


@blueprint.post("/appointments")
@tag(["scheduling"])
@validate_request(AppointmentIn)
@document_response(AppointmentOut, 201)
@idempotent
@inject
async def book_appointment(
    data: AppointmentIn,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
    busy_times: BusyTimes = Provide[Container.busy_times],
) -> Response:
    """Book an appointment; 409 ``slot_taken`` when the resource is already booked then (buffers
    included), 409 ``outside_working_hours`` when it does not work then. Honours Idempotency-Key."""
    command = handlers.BookAppointment(
        resource_id=data.resource_id,
        customer_id=data.customer_id,
        service=data.service,
        start=data.start,
        end=data.end,
        location=data.location,
        notes=data.notes,
    )
    appointment = await handlers.book_appointment(command, *acting(units), clock, busy_times)
    location = f"/v1/appointments/{appointment.id}"
    return _versioned(render_appointment(appointment), appointment.version, 201, location)


@blueprint.get("/appointments")
@tag(["scheduling"])
@validate_querystring(AppointmentListQuery)
@document_response(AppointmentListOut)
@inject
async def list_appointments(
    query_args: AppointmentListQuery, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """List appointments, newest booking first; filter by resource, customer, status and start."""
    command = handlers.ListAppointments(
        page=page_request(query_args),
        resource_id=query_args.resource_id,
        customer_id=query_args.customer_id,
        status=query_args.status.value if query_args.status else None,
        starts_after=query_args.starts_after,
        starts_before=query_args.starts_before,
    )
    page = await handlers.list_appointments(command, *acting(units))
    return list_response(page, render_appointment, encode_cursor)


@blueprint.get("/appointments/<uuid:appointment_id>")
@tag(["scheduling"])
@document_response(AppointmentOut)
@inject
async def get_appointment(
    appointment_id: UUID, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """Fetch one appointment, with its ETag."""
    appointment = await handlers.get_appointment(appointment_id, *acting(units))
    return _versioned(render_appointment(appointment), appointment.version)


@blueprint.patch("/appointments/<uuid:appointment_id>")
@tag(["scheduling"])
@validate_request(AppointmentPatch)
@document_response(AppointmentOut)
@inject
async def update_appointment(
    appointment_id: UUID,
    data: AppointmentPatch,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
    busy_times: BusyTimes = Provide[Container.busy_times],
) -> Response:
    """Edit or move an appointment that is not final. Honours If-Match."""
    changes = {name: getattr(data, name) for name in data.model_fields_set}
    command = handlers.UpdateAppointment(appointment_id, changes, if_match_version())
    appointment = await handlers.update_appointment(command, *acting(units), clock, busy_times)
    return _versioned(render_appointment(appointment), appointment.version)


@blueprint.post("/appointments/<uuid:appointment_id>/status")
@tag(["scheduling"])
@validate_request(StatusIn)
@document_response(AppointmentOut)
@inject
async def change_status(
    appointment_id: UUID,
    data: StatusIn,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Confirm, cancel, complete or mark a no-show; 409 ``invalid_transition`` for a move the
    rules forbid, 409 ``not_started`` for completed or no-show before the start. Honours If-Match."""
    command = handlers.ChangeStatus(appointment_id, data.status.value, if_match_version())
    appointment = await handlers.change_status(command, *acting(units), clock)
    return _versioned(render_appointment(appointment), appointment.version)


@blueprint.delete("/appointments/<uuid:appointment_id>")
@tag(["scheduling"])
@inject
async def delete_appointment(
    appointment_id: UUID,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Delete an appointment (cancelling keeps it on record instead). Honours If-Match."""
    command = handlers.DeleteAppointment(appointment_id, if_match_version())
    await handlers.delete_appointment(command, *acting(units), clock)
    return Response(status=204)


# --- availability ------------------------------------------------------------------------------


@blueprint.get("/availability")
@tag(["scheduling"])
@validate_querystring(AvailabilityQuery)
@document_response(AvailabilityOut)
@inject
async def availability(
    query_args: AvailabilityQuery,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
    busy_times: BusyTimes = Provide[Container.busy_times],
) -> Response:
    """Free slots of a resource between ``from`` and ``to`` (at most 62 days), from now on: its
    working hours in its own time zone, overrides, buffers, appointments and calendar busy times."""
    command = handlers.FindSlots(
        resource_id=query_args.resource_id,
        window_start=query_args.from_,
        window_end=query_args.to,
        duration=query_args.duration,
        step=query_args.step,
    )
    found = await handlers.find_slots(command, *acting(units), clock, busy_times)
    body = {
        "object": "availability",
        "resource_id": found.resource.id,
        "time_zone": found.resource.time_zone,
        "duration": int(found.query.duration.total_seconds() // 60),
        "step": int(found.query.step.total_seconds() // 60),
        "slots": [{"start": slot.start, "end": slot.end} for slot in found.slots],
    }
    return json_response(body)


# --- the public feed ---------------------------------------------------------------------------

_CONFIRMED = {AppointmentStatus.CONFIRMED, AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW}


@feeds.get("/ical/<token>.ics")
@hide
@inject
async def read_feed(
    token: str,
    directory: IdentityDirectory = Provide[Container.directory],
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """The resource's appointments that are not cancelled, 90 days back to a year ahead, as
    iCalendar. Only what a calendar needs: the service, times, location and status; never the
    customer or the notes, since anyone holding the address can read it."""
    feed = await handlers.read_feed(token, directory, units, clock)
    body = render_ical(feed.resource, feed.appointments)
    headers = {"Cache-Control": "no-store", "Content-Disposition": 'inline; filename="calendar.ics"'}
    return Response(body, content_type="text/calendar; charset=utf-8", headers=headers)


def render_ical(resource: Resource, appointments: list[Appointment]) -> bytes:
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Switchboard//Scheduling//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", resource.name)
    calendar.add("x-wr-timezone", resource.time_zone)
    for appointment in appointments:
        event = icalendar.Event()
        event.add("uid", f"{appointment.id}@switchboard")
        event.add("dtstamp", appointment.updated_at)
        event.add("created", appointment.created_at)
        event.add("last-modified", appointment.updated_at)
        event.add("sequence", appointment.version - 1)
        event.add("dtstart", appointment.starts_at)
        event.add("dtend", appointment.ends_at)
        event.add("summary", appointment.service)
        if appointment.location:
            event.add("location", appointment.location)
        event.add("status", "CONFIRMED" if appointment.status in _CONFIRMED else "TENTATIVE")
        calendar.add_component(event)
    return calendar.to_ical()
