"""Reminder settings: which reminders go to customers, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from dependency_injector.wiring import Provide, inject
from pydantic import BaseModel, ConfigDict
from quart import Blueprint, Response
from quart_schema import document_response, tag, validate_request

from switchboard.core.reminders import handlers
from switchboard.core.reminders.model import SETTINGS_FIELDS, ReminderSettings
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.auth import acting, require_principal
from switchboard.entrypoints.http.responses import etag, if_match_version, json_response
from switchboard.ports.clock import Clock
from switchboard.ports.persistence import UnitOfWorkFactory

blueprint = Blueprint("reminders", __name__, url_prefix="/v1")
blueprint.before_request(require_principal)


class ReminderSettingsPatch(BaseModel):
    """Only the fields sent change; ranges are checked by the use case (every problem at once)."""

    model_config = ConfigDict(extra="forbid")

    appointment_confirmation: bool | None = None
    appointment_reminder: bool | None = None
    appointment_reminder_hours: int | None = None
    quote_follow_up: bool | None = None
    quote_follow_up_days: int | None = None
    invoice_overdue: bool | None = None
    invoice_overdue_days: int | None = None
    invoice_overdue_repeat_days: int | None = None
    invoice_overdue_max: int | None = None


class ReminderSettingsOut(BaseModel):
    object: Literal["reminder_settings"]
    appointment_confirmation: bool
    appointment_reminder: bool
    appointment_reminder_hours: int
    quote_follow_up: bool
    quote_follow_up_days: int
    invoice_overdue: bool
    invoice_overdue_days: int
    invoice_overdue_repeat_days: int
    invoice_overdue_max: int
    updated_at: datetime | None


def render_settings(settings: ReminderSettings) -> dict[str, Any]:
    fields = {name: getattr(settings, name) for name in SETTINGS_FIELDS}
    return {"object": "reminder_settings"} | fields | {"updated_at": settings.updated_at}


def _response(settings: ReminderSettings) -> Response:
    return json_response(render_settings(settings), headers={"ETag": etag(settings.version)})


@blueprint.get("/reminders/settings")
@tag(["reminders"])
@document_response(ReminderSettingsOut)
@inject
async def get_reminder_settings(units: UnitOfWorkFactory = Provide[Container.units]) -> Response:
    """The tenant's reminder settings (the defaults until changed), with their ETag."""
    return _response(await handlers.get_reminder_settings(*acting(units)))


@blueprint.patch("/reminders/settings")
@tag(["reminders"])
@validate_request(ReminderSettingsPatch)
@document_response(ReminderSettingsOut)
@inject
async def update_reminder_settings(
    data: ReminderSettingsPatch,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Turn reminders on or off and change their timing. Managers only; honours If-Match."""
    command = handlers.UpdateReminderSettings(data.model_dump(exclude_unset=True), if_match_version())
    return _response(await handlers.update_reminder_settings(command, *acting(units), clock))
