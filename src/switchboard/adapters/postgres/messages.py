"""Text messages and SMS opt-outs on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from uuid import UUID

from sqlalchemy import ColumnElement, and_, bindparam, delete, insert, select
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
from switchboard.adapters.postgres.tables import sms_messages, sms_opt_outs
from switchboard.core.customers.timeline import TimelineEntry
from switchboard.core.errors import Conflict
from switchboard.core.messaging.model import (
    Message,
    MessageDirection,
    MessageFilter,
    MessageStatus,
    SenderType,
    SmsOptOut,
    timeline_entry,
)
from switchboard.core.pagination import Page, PageRequest, Position

_MESSAGE_EXISTS = "the tenant already has a message with this provider id"
_PROVIDER_ID_KEY = "sms_messages_provider_message_id_key"

# --- messages ------------------------------------------------------------------------------------

_THIS_MESSAGE = this_row(sms_messages)
_MESSAGE_INSERT = compile_sql(insert(sms_messages))
_MESSAGE_GET = {
    False: compile_sql(select(sms_messages).where(_THIS_MESSAGE)),
    True: compile_sql(select(sms_messages).where(_THIS_MESSAGE).with_for_update()),
}
_BY_PROVIDER_ID = and_(
    sms_messages.c.tenant_id == bindparam("tenant_id"),
    sms_messages.c.provider == bindparam("provider"),
    sms_messages.c.provider_message_id == bindparam("provider_message_id"),
)
_MESSAGE_BY_PROVIDER_ID = {
    False: compile_sql(select(sms_messages).where(_BY_PROVIDER_ID)),
    True: compile_sql(select(sms_messages).where(_BY_PROVIDER_ID).with_for_update()),
}
_MESSAGE_UPDATE = versioned_update(
    sms_messages,
    "status",
    "from_number",
    "provider",
    "provider_message_id",
    "error",
    "updated_at",
    "version",
)
_MESSAGE_FILTERS: dict[str, Callable[[], ColumnElement[bool]]] = {
    "customer_id": lambda: sms_messages.c.customer_id == bindparam("customer_id"),
    "direction": lambda: sms_messages.c.direction == bindparam("direction"),
    "status": lambda: sms_messages.c.status == bindparam("status"),
    "created_after": lambda: sms_messages.c.created_at > bindparam("created_after"),
    "created_before": lambda: sms_messages.c.created_at < bindparam("created_before"),
}


@cache
def _message_list_sql(after: bool, filters: frozenset[str]) -> str:
    statement = newest_first(sms_messages, after)
    return compile_sql(statement.where(*(_MESSAGE_FILTERS[name]() for name in sorted(filters))))


_TIMELINE = {after: customer_timeline_sql(sms_messages, after) for after in (False, True)}


def _message(row: Row) -> Message:
    sender = row["sender_type"]
    return Message(
        **(
            row
            | {
                "direction": MessageDirection(row["direction"]),
                "status": MessageStatus(row["status"]),
                "sender_type": SenderType(sender) if sender else None,
            }
        )
    )


def _message_values(message: Message) -> Row:
    values = {name: getattr(message, name) for name in sms_messages.c.keys()}  # noqa: SIM118
    return values | {
        "direction": message.direction.value,
        "status": message.status.value,
        "sender_type": message.sender_type.value if message.sender_type else None,
    }


_CONFLICT = Conflict(_MESSAGE_EXISTS, code="message_exists")


class PostgresMessageRepository(_Repository):
    async def timeline(self, customer_id: UUID, after: Position | None, limit: int) -> list[TimelineEntry]:
        params = customer_timeline_params(self._tenant_id, customer_id, after, limit)
        rows = await self._all(_TIMELINE[after is not None], params)
        return [timeline_entry(_message(row)) for row in rows]

    async def add(self, message: Message) -> None:
        await self._refusing_duplicates(
            _MESSAGE_INSERT, _message_values(message), _PROVIDER_ID_KEY, _CONFLICT
        )

    async def get(self, message_id: UUID, *, for_update: bool = False) -> Message | None:
        row = await self._one(_MESSAGE_GET[for_update], {"tenant_id": self._tenant_id, "id": message_id})
        return _message(row) if row else None

    async def get_by_provider_id(
        self, provider: str, provider_message_id: str, *, for_update: bool = False
    ) -> Message | None:
        params = {
            "tenant_id": self._tenant_id,
            "provider": provider,
            "provider_message_id": provider_message_id,
        }
        row = await self._one(_MESSAGE_BY_PROVIDER_ID[for_update], params)
        return _message(row) if row else None

    async def update(self, message: Message, expected_version: int) -> bool:
        params = _message_values(message) | {
            "tenant_id": self._tenant_id,
            "expected_version": expected_version,
        }
        return await self._refusing_duplicates(_MESSAGE_UPDATE, params, _PROVIDER_ID_KEY, _CONFLICT) == 1

    async def list(self, filters: MessageFilter, page: PageRequest) -> Page[Message]:
        wanted: Row = {}
        for name in _MESSAGE_FILTERS:
            value = getattr(filters, name)
            if value is not None:
                wanted[name] = value.value if isinstance(value, MessageDirection | MessageStatus) else value
        sql = _message_list_sql(page.after is not None, frozenset(wanted))
        return await self._page(sql, wanted, page, _message)


# --- opt-outs ------------------------------------------------------------------------------------

_THIS_PHONE = and_(
    sms_opt_outs.c.tenant_id == bindparam("tenant_id"), sms_opt_outs.c.phone == bindparam("phone")
)
_OPT_OUT_GET = compile_sql(select(sms_opt_outs).where(_THIS_PHONE))
# A concurrent opt-out of the same number loses quietly: the first one stands.
_OPT_OUT_ADD = compile_sql(
    pg_insert(sms_opt_outs).on_conflict_do_nothing(constraint="sms_opt_outs_tenant_id_phone_key")
)
_OPT_OUT_REMOVE = compile_sql(delete(sms_opt_outs).where(_THIS_PHONE).returning(*sms_opt_outs.c))
_OPT_OUT_PAGE = {
    after: compile_sql(newest_first(sms_opt_outs, after, time_column="opted_out_at"))
    for after in (False, True)
}


def _opt_out_values(opt_out: SmsOptOut) -> Row:
    return {name: getattr(opt_out, name) for name in sms_opt_outs.c.keys()}  # noqa: SIM118


def _opt_out(row: Row) -> SmsOptOut:
    return SmsOptOut(**row)


def _opt_out_position(opt_out: SmsOptOut) -> Position:
    return Position(opt_out.opted_out_at, opt_out.id)


class PostgresSmsOptOutRepository(_Repository):
    async def get(self, phone: str) -> SmsOptOut | None:
        row = await self._one(_OPT_OUT_GET, {"tenant_id": self._tenant_id, "phone": phone})
        return _opt_out(row) if row else None

    async def add(self, opt_out: SmsOptOut) -> bool:
        return await self._count(_OPT_OUT_ADD, _opt_out_values(opt_out)) == 1

    async def remove(self, phone: str) -> SmsOptOut | None:
        row = await self._one(_OPT_OUT_REMOVE, {"tenant_id": self._tenant_id, "phone": phone})
        return _opt_out(row) if row else None

    async def list(self, page: PageRequest) -> Page[SmsOptOut]:
        return await self._page(
            _OPT_OUT_PAGE[page.after is not None], {}, page, _opt_out, position_of=_opt_out_position
        )


__all__ = ["PostgresMessageRepository", "PostgresSmsOptOutRepository"]
