"""The calls repository on PostgreSQL.

Every change to a call runs under its row lock (SELECT ... FOR UPDATE). A platform's first
messages about a call it started (an inbound call) may arrive together: ``add_or_lock`` inserts
with ON CONFLICT DO NOTHING on (tenant, integration, provider call id), which waits for a
concurrent insert of the same call to finish, then locks whichever row won.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any
from uuid import UUID

from psycopg.errors import UniqueViolation
from psycopg.types.json import Jsonb
from sqlalchemy import ColumnElement, and_, bindparam, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from switchboard.adapters.postgres.repositories import (
    Row,
    _Repository,
    customer_timeline_params,
    customer_timeline_sql,
    newest_first,
    this_row,
    versioned_update,
)
from switchboard.adapters.postgres.statements import compile_sql
from switchboard.adapters.postgres.tables import calls
from switchboard.core.calls.model import (
    CallCost,
    CallDirection,
    CallStatus,
    CostComponent,
    Sentiment,
    Speaker,
    TranscriptEntry,
)
from switchboard.core.calls.records import Call, CallFeedback, CallFilter, call_exists, timeline_entry
from switchboard.core.customers.timeline import TimelineEntry
from switchboard.core.pagination import Page, PageRequest, Position

UNIQUE_PROVIDER_CALL = "calls_tenant_id_provider_call_id_key"

_THIS_CALL = this_row(calls)
_BY_PROVIDER_ID = and_(
    calls.c.tenant_id == bindparam("tenant_id"),
    calls.c.integration_id == bindparam("integration_id"),
    calls.c.provider_call_id == bindparam("provider_call_id"),
)
_INSERT = compile_sql(insert(calls))
_INSERT_UNLESS_KNOWN = compile_sql(
    pg_insert(calls).on_conflict_do_nothing(
        index_elements=["tenant_id", "integration_id", "provider_call_id"]
    )
)
_GET = compile_sql(select(calls).where(_THIS_CALL))
_GET_FOR_UPDATE = compile_sql(select(calls).where(_THIS_CALL).with_for_update())
_FIND = compile_sql(select(calls).where(_BY_PROVIDER_ID))
_FIND_FOR_UPDATE = compile_sql(select(calls).where(_BY_PROVIDER_ID).with_for_update())
_UPDATE = versioned_update(
    calls,
    *(name for name in calls.c.keys() if name not in {"tenant_id", "id", "integration_id", "created_at"}),  # noqa: SIM118
)

_FILTERS: dict[str, Callable[[], ColumnElement[bool]]] = {
    "status": lambda: calls.c.status == bindparam("status"),
    "direction": lambda: calls.c.direction == bindparam("direction"),
    "sentiment": lambda: calls.c.sentiment == bindparam("sentiment"),
    "agent_id": lambda: calls.c.agent_id == bindparam("agent_id"),
    "customer_id": lambda: calls.c.customer_id == bindparam("customer_id"),
    "created_after": lambda: calls.c.created_at > bindparam("created_after"),
    "created_before": lambda: calls.c.created_at < bindparam("created_before"),
    "started_after": lambda: calls.c.started_at > bindparam("started_after"),
    "started_before": lambda: calls.c.started_at < bindparam("started_before"),
    "min_duration_seconds": lambda: calls.c.duration_seconds >= bindparam("min_duration_seconds"),
}


@cache
def _list_sql(after: bool, filters: frozenset[str]) -> str:
    statement = newest_first(calls, after)
    return compile_sql(statement.where(*(_FILTERS[name]() for name in sorted(filters))))


_TIMELINE = {after: customer_timeline_sql(calls, after) for after in (False, True)}


def _transcript_document(entries: tuple[TranscriptEntry, ...]) -> list[dict[str, Any]]:
    return [
        {
            "speaker": e.speaker.value,
            "text": e.text,
            "seconds_from_start": e.seconds_from_start,
            "duration_seconds": e.duration_seconds,
        }
        for e in entries
    ]


def _transcript(document: list[Mapping[str, Any]]) -> tuple[TranscriptEntry, ...]:
    return tuple(
        TranscriptEntry(
            speaker=Speaker(e["speaker"]),
            text=e["text"],
            seconds_from_start=e["seconds_from_start"],
            duration_seconds=e.get("duration_seconds"),
        )
        for e in document
    )


def _cost(row: Row) -> CallCost | None:
    if row["cost_currency"] is None:
        return None
    components = {c: row[f"cost_{c.value}"] for c in CostComponent if row[f"cost_{c.value}"]}
    return CallCost(row["cost_currency"], components)


def _feedback(row: Row) -> CallFeedback | None:
    if row["feedback_rating"] is None:
        return None
    return CallFeedback(
        row["feedback_rating"], row["feedback_comment"], row["feedback_by"], row["feedback_at"]
    )


def _call(row: Row) -> Call:
    return Call(
        id=row["id"],
        tenant_id=row["tenant_id"],
        integration_id=row["integration_id"],
        provider_call_id=row["provider_call_id"],
        direction=CallDirection(row["direction"]),
        status=CallStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        ended_reason=row["ended_reason"],
        agent_id=row["agent_id"],
        customer_id=row["customer_id"],
        business_number=row["business_number"],
        customer_number=row["customer_number"],
        scheduled_at=row["scheduled_at"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        transcript=_transcript(row["transcript"]),
        summary=row["summary"],
        structured_data=row["structured_data"],
        success=row["success"],
        sentiment=Sentiment(row["sentiment"]) if row["sentiment"] else None,
        cost=_cost(row),
        recording_url=row["recording_url"],
        feedback=_feedback(row),
        version=row["version"],
    )


def _call_values(call: Call) -> Row:
    cost = call.cost
    feedback = call.feedback
    values: Row = {
        "tenant_id": call.tenant_id,
        "id": call.id,
        "integration_id": call.integration_id,
        "provider_call_id": call.provider_call_id,
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
        "transcript": Jsonb(_transcript_document(call.transcript)),
        "summary": call.summary,
        "structured_data": Jsonb(call.structured_data),
        "success": call.success,
        "sentiment": call.sentiment.value if call.sentiment else None,
        "cost_currency": cost.currency if cost else None,
        "cost_total": cost.total if cost else 0,
        "recording_url": call.recording_url,
        "feedback_rating": feedback.rating if feedback else None,
        "feedback_comment": feedback.comment if feedback else None,
        "feedback_by": feedback.given_by if feedback else None,
        "feedback_at": feedback.given_at if feedback else None,
        "created_at": call.created_at,
        "updated_at": call.updated_at,
        "version": call.version,
    }
    for component in CostComponent:
        values[f"cost_{component.value}"] = cost.components.get(component, 0) if cost else 0
    return values


def _filter_value(value: Any) -> Any:
    return value.value if hasattr(value, "value") else value


class PostgresCallRepository(_Repository):
    async def timeline(self, customer_id: UUID, after: Position | None, limit: int) -> list[TimelineEntry]:
        params = customer_timeline_params(self._tenant_id, customer_id, after, limit)
        rows = await self._all(_TIMELINE[after is not None], params)
        return [timeline_entry(_call(row)) for row in rows]

    async def add(self, call: Call) -> None:
        await self._refusing_duplicates(_INSERT, _call_values(call), UNIQUE_PROVIDER_CALL, call_exists())

    async def get(self, call_id: UUID, *, for_update: bool = False) -> Call | None:
        sql = _GET_FOR_UPDATE if for_update else _GET
        row = await self._one(sql, {"tenant_id": self._tenant_id, "id": call_id})
        return _call(row) if row else None

    async def find_by_provider_call_id(
        self, integration_id: UUID, provider_call_id: str, *, for_update: bool = False
    ) -> Call | None:
        params = {
            "tenant_id": self._tenant_id,
            "integration_id": integration_id,
            "provider_call_id": provider_call_id,
        }
        row = await self._one(_FIND_FOR_UPDATE if for_update else _FIND, params)
        return _call(row) if row else None

    async def add_or_lock(self, call: Call) -> Call:
        if call.provider_call_id is None:
            raise ValueError("add_or_lock needs the provider's call id")
        await self._conn.execute(_INSERT_UNLESS_KNOWN, _call_values(call))
        stored = await self.find_by_provider_call_id(
            call.integration_id, call.provider_call_id, for_update=True
        )
        if stored is None:  # only a row another tenant holds could hide it: impossible by the key
            raise LookupError("the call was neither inserted nor found")
        return stored

    async def update(self, call: Call, expected_version: int) -> bool:
        params = _call_values(call) | {"tenant_id": self._tenant_id, "expected_version": expected_version}
        # No savepoint (this is the hot path of every platform message): a refusal ends the unit.
        try:
            return await self._count(_UPDATE, params) == 1
        except UniqueViolation as error:
            if error.diag.constraint_name != UNIQUE_PROVIDER_CALL:
                raise
            raise call_exists() from error

    async def list(self, filters: CallFilter, page: PageRequest) -> Page[Call]:
        wanted: Row = {}
        for name in _FILTERS:
            value = getattr(filters, name)
            if value is not None:
                wanted[name] = _filter_value(value)
        return await self._page(_list_sql(page.after is not None, frozenset(wanted)), wanted, page, _call)
