"""The audit log: filtered, paged, and exported as CSV."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import orjson
from dependency_injector.wiring import Provide, inject
from pydantic import AwareDatetime, BaseModel, Field
from quart import Blueprint, Response
from quart_schema import document_response, tag, validate_querystring

from switchboard.core.audit import handlers
from switchboard.core.audit.model import AuditEvent, AuditFilter
from switchboard.core.identity.sessions import context_of
from switchboard.core.pagination import MAX_LIMIT, PageRequest
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.auth import acting, client, current_principal, require_principal
from switchboard.entrypoints.http.blueprints.schemas import ListOut
from switchboard.entrypoints.http.csv_stream import csv_line
from switchboard.entrypoints.http.pagination import ListQuery, encode_cursor, page_request
from switchboard.entrypoints.http.responses import list_response
from switchboard.ports.persistence import UnitOfWork, UnitOfWorkFactory

blueprint = Blueprint("audit", __name__, url_prefix="/v1/audit-logs")
blueprint.before_request(require_principal)
CSV_COLUMNS = (
    "id", "occurred_at", "actor_type", "actor_id", "on_behalf_of_admin", "action",
    "target_type", "target_id", "ip", "user_agent", "request_id", "changes",
)  # fmt: skip


class AuditFilters(BaseModel):
    action: str | None = Field(default=None, max_length=100)
    actor_id: UUID | None = None
    target_type: str | None = Field(default=None, max_length=100)
    target_id: str | None = Field(default=None, max_length=200)
    occurred_after: AwareDatetime | None = None
    occurred_before: AwareDatetime | None = None

    def to_filter(self) -> AuditFilter:
        return AuditFilter(
            self.action,
            self.actor_id,
            self.target_type,
            self.target_id,
            self.occurred_after,
            self.occurred_before,
        )


class AuditQuery(ListQuery, AuditFilters):
    pass


class ExportQuery(AuditFilters):
    model_config = {"extra": "forbid"}


class ActorOut(BaseModel):
    type: Literal["user", "api_key", "platform_admin", "system", "customer", "voice_agent"]
    id: UUID | None
    on_behalf_of_admin: UUID | None
    call_id: UUID | None = Field(default=None, description="the call a voice agent acted in (voice agents)")


class AuditEventOut(BaseModel):
    object: Literal["audit_event"]
    id: UUID
    occurred_at: datetime
    actor: ActorOut
    action: str
    target_type: str | None
    target_id: str | None
    ip: str | None
    user_agent: str | None
    request_id: str | None
    changes: dict[str, Any]


class AuditListOut(ListOut[AuditEventOut]):
    """Audit entries, newest first."""


def render_event(event: AuditEvent) -> dict[str, Any]:
    return {
        "object": "audit_event",
        "id": event.id,
        "occurred_at": event.occurred_at,
        "actor": {
            "type": event.actor.type.value,
            "id": event.actor.id,
            "on_behalf_of_admin": event.actor.on_behalf_of_admin,
        }
        | ({"call_id": event.actor.call_id} if event.actor.call_id is not None else {}),
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "changes": event.changes,
    }


@blueprint.get("")
@tag(["audit log"])
@validate_querystring(AuditQuery)
@document_response(AuditListOut)
@inject
async def list_events(
    query_args: AuditQuery, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """Who did what, newest first; filter by action, actor, target and time."""
    page = await handlers.list_events(query_args.to_filter(), page_request(query_args), *acting(units))
    return list_response(page, render_event, lambda position: encode_cursor(position))


@blueprint.get("/export")
@tag(["audit log"])
@validate_querystring(ExportQuery)
@inject
async def export_events(
    query_args: ExportQuery, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """The whole (filtered) log as CSV, streamed page by page, newest first."""
    filters = query_args.to_filter()
    principal = current_principal()
    # The body streams after the view returns, outside the request: fix the scope now.
    context = context_of(principal, client())

    def unit() -> UnitOfWork:
        return units(principal.tenant_id, principal.user_id, context)

    first = await handlers.list_events(filters, PageRequest(MAX_LIMIT), principal, unit())

    async def rows() -> AsyncIterator[bytes]:
        yield csv_line(CSV_COLUMNS)
        page = first
        while True:
            for event in page.items:
                yield csv_line(_csv_row(event))
            if page.next_position is None:
                return
            page = await handlers.list_events(
                filters, PageRequest(MAX_LIMIT, page.next_position), principal, unit()
            )

    headers = {"Content-Disposition": 'attachment; filename="audit-log.csv"'}
    return Response(rows(), content_type="text/csv; charset=utf-8", headers=headers)


def _csv_row(event: AuditEvent) -> tuple[Any, ...]:
    return (
        event.id,
        event.occurred_at.isoformat().replace("+00:00", "Z"),
        event.actor.type.value,
        event.actor.id or "",
        event.actor.on_behalf_of_admin or "",
        event.action,
        event.target_type or "",
        event.target_id or "",
        event.ip or "",
        event.user_agent or "",
        event.request_id or "",
        orjson.dumps(event.changes).decode(),
    )
