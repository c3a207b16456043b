"""The business tools a voice agent may be given, described for the platform's language model.

Each definition's ``parameters`` is the JSON Schema the platform hands its model; the same
arguments are checked again when a call runs the tool (core/calls/live.py), since a model may
send anything. Ids come from earlier answers (``find_customer`` names the caller's customer id
and upcoming appointment ids; ``check_availability`` names resource ids), and every time is an
ISO 8601 date-time with its UTC offset, so nothing depends on the platform guessing a time zone.
"""

from __future__ import annotations

from typing import Any

from switchboard.core.calls.model import BusinessTool, ToolDefinition

_UUID = {"type": "string", "format": "uuid"}
_INSTANT = {
    "type": "string",
    "format": "date-time",
    "description": "ISO 8601 date-time with its UTC offset, e.g. 2026-03-14T09:30:00-05:00",
}
_E164 = {
    "type": "string",
    "pattern": r"^\+[1-9][0-9]{6,14}$",
    "description": "phone number in E.164 form, e.g. +15551234567",
}
_DURATION = {"type": "integer", "minimum": 5, "maximum": 480, "description": "length in minutes"}


def _schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


TOOL_DEFINITIONS: dict[BusinessTool, ToolDefinition] = {
    BusinessTool.FIND_CUSTOMER: ToolDefinition(
        name=BusinessTool.FIND_CUSTOMER.value,
        description=(
            "Look up the business's customers by phone number, email or name. Returns at most five "
            "matches with their customer id, name, contact details and upcoming appointments (with "
            "appointment ids and times in the business's time zone). Use it before booking, "
            "rescheduling or cancelling when the caller's customer id is not already known."
        ),
        parameters=_schema(
            {
                "phone": {**_E164, "description": "the customer's phone number in E.164 form"},
                "email": {"type": "string", "maxLength": 254, "description": "the customer's email"},
                "name": {
                    "type": "string",
                    "minLength": 2,
                    "maxLength": 200,
                    "description": "all or part of the name",
                },
            },
            [],
        ),
    ),
    BusinessTool.CHECK_AVAILABILITY: ToolDefinition(
        name=BusinessTool.CHECK_AVAILABILITY.value,
        description=(
            "Find free appointment slots between two instants (at most 62 days apart) for a given "
            "length. Without resource_id every bookable resource (person, room, equipment) is "
            "checked. Returns up to ten slots per resource, each with the resource id and name and "
            "its start and end in the resource's time zone; book one with book_appointment."
        ),
        parameters=_schema(
            {
                "window_start": {
                    **_INSTANT,
                    "description": "look for slots from this instant (ISO 8601 with offset)",
                },
                "window_end": {**_INSTANT, "description": "until this instant (ISO 8601 with offset)"},
                "duration_minutes": _DURATION,
                "resource_id": {**_UUID, "description": "only this resource's slots"},
            },
            ["window_start", "window_end", "duration_minutes"],
        ),
    ),
    BusinessTool.BOOK_APPOINTMENT: ToolDefinition(
        name=BusinessTool.BOOK_APPOINTMENT.value,
        description=(
            "Book an appointment for a customer with a resource at a start time. The slot is checked "
            "again when booking: if it has been taken meanwhile the answer says so, and the caller "
            "should be offered another slot from check_availability. Returns the appointment id "
            "and its time in the business's time zone."
        ),
        parameters=_schema(
            {
                "customer_id": {
                    **_UUID,
                    "description": "the customer, from find_customer or the caller context",
                },
                "resource_id": {**_UUID, "description": "the resource, from check_availability"},
                "start": {**_INSTANT, "description": "when the appointment starts (ISO 8601 with offset)"},
                "duration_minutes": _DURATION,
                "service": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 200,
                    "description": "what it is for",
                },
                "notes": {
                    "type": "string",
                    "maxLength": 2000,
                    "description": "anything the caller asked to note",
                },
            },
            ["customer_id", "resource_id", "start", "duration_minutes", "service"],
        ),
    ),
    BusinessTool.RESCHEDULE_APPOINTMENT: ToolDefinition(
        name=BusinessTool.RESCHEDULE_APPOINTMENT.value,
        description=(
            "Move one of the caller's upcoming appointments to a new start time, keeping its length "
            "unless duration_minutes is given. The new time is checked like a booking."
        ),
        parameters=_schema(
            {
                "appointment_id": {**_UUID, "description": "the appointment, from find_customer"},
                "start": {**_INSTANT, "description": "the new start (ISO 8601 with offset)"},
                "duration_minutes": _DURATION,
            },
            ["appointment_id", "start"],
        ),
    ),
    BusinessTool.CANCEL_APPOINTMENT: ToolDefinition(
        name=BusinessTool.CANCEL_APPOINTMENT.value,
        description=(
            "Cancel one of the caller's upcoming appointments; its time becomes free again. Confirm "
            "with the caller which appointment before calling this."
        ),
        parameters=_schema(
            {
                "appointment_id": {**_UUID, "description": "the appointment, from find_customer"},
            },
            ["appointment_id"],
        ),
    ),
    BusinessTool.CREATE_QUOTE_DRAFT: ToolDefinition(
        name=BusinessTool.CREATE_QUOTE_DRAFT.value,
        description=(
            "Write a draft quote for a customer with the work or items they asked a price for. "
            "The draft is not sent: the team reviews and sends it. Prices are in minor units of "
            "the business's currency (cents). Returns the quote number and its total."
        ),
        parameters=_schema(
            {
                "customer_id": {
                    **_UUID,
                    "description": "the customer, from find_customer or the caller context",
                },
                "lines": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 50,
                    "items": _schema(
                        {
                            "description": {"type": "string", "minLength": 1, "maxLength": 500},
                            "quantity": {"type": "number", "exclusiveMinimum": 0, "description": "how many"},
                            "unit_price": {
                                "type": "integer",
                                "minimum": 0,
                                "description": "price of one, in minor units (cents)",
                            },
                        },
                        ["description", "quantity", "unit_price"],
                    ),
                },
                "notes": {"type": "string", "maxLength": 2000, "description": "what the caller described"},
            },
            ["customer_id", "lines"],
        ),
    ),
    BusinessTool.TAKE_MESSAGE: ToolDefinition(
        name=BusinessTool.TAKE_MESSAGE.value,
        description=(
            "Take a message for the team when the caller wants someone to call back or the request "
            "is beyond the other tools. The message is added to the customer's record (a new "
            "customer is created for an unknown caller) and emailed to the team at once."
        ),
        parameters=_schema(
            {
                "message": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 2000,
                    "description": "the message",
                },
                "caller_name": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 200,
                    "description": "who is calling",
                },
                "callback_number": {
                    **_E164,
                    "description": "where to call back, when not the number calling",
                },
                "customer_id": {**_UUID, "description": "the customer, when known"},
                "urgent": {"type": "boolean", "description": "the caller needs an answer today"},
            },
            ["message"],
        ),
    ),
}


def definitions_for(
    tools: list[BusinessTool] | tuple[BusinessTool, ...] | frozenset[BusinessTool],
) -> tuple[ToolDefinition, ...]:
    """The definitions of the tools an agent was given, in the catalogue's order."""
    given = {BusinessTool(tool) for tool in tools}
    return tuple(definition for tool, definition in TOOL_DEFINITIONS.items() if tool in given)
