"""Text messages and SMS opt-outs over the memory store, with the checks the PostgreSQL schema
makes (keys, the unique provider id per tenant and provider, the one opt-out per number)."""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from switchboard.adapters.memory.repositories import _keyset_page, _Scoped
from switchboard.core.customers.timeline import TimelineEntry, newest_after
from switchboard.core.errors import Conflict
from switchboard.core.messaging.model import (
    BODY_MAX,
    Message,
    MessageDirection,
    MessageFilter,
    MessageStatus,
    SmsOptOut,
    timeline_entry,
)
from switchboard.core.pagination import Page, PageRequest, Position

_MESSAGE_EXISTS = "the tenant already has a message with this provider id"


def _matches(message: Message, filters: MessageFilter) -> bool:
    return (
        (filters.customer_id is None or message.customer_id == filters.customer_id)
        and (filters.direction is None or message.direction is filters.direction)
        and (filters.status is None or message.status is filters.status)
        and (filters.created_after is None or message.created_at > filters.created_after)
        and (filters.created_before is None or message.created_at < filters.created_before)
    )


class MemoryMessageRepository(_Scoped):
    async def timeline(self, customer_id: UUID, after: Position | None, limit: int) -> list[TimelineEntry]:
        entries = [timeline_entry(m) for m in self._own() if m.customer_id == customer_id]
        return newest_after(entries, after, limit)

    async def add(self, message: Message) -> None:
        self._check_own_tenant(message.tenant_id)
        self._check(message)
        self._tx.insert("sms_messages", (message.tenant_id, message.id), message)

    async def get(self, message_id: UUID, *, for_update: bool = False) -> Message | None:
        found: Message | None = self._tx.read("sms_messages").get((self._tenant_id, message_id))
        return found

    async def get_by_provider_id(
        self, provider: str, provider_message_id: str, *, for_update: bool = False
    ) -> Message | None:
        wanted = (provider, provider_message_id)
        return next((m for m in self._own() if (m.provider, m.provider_message_id) == wanted), None)

    async def update(self, message: Message, expected_version: int) -> bool:
        current = await self.get(message.id)
        if current is None or current.version != expected_version:
            return False
        stored = replace(
            current,
            status=message.status,
            from_number=message.from_number,
            provider=message.provider,
            provider_message_id=message.provider_message_id,
            error=message.error,
            updated_at=message.updated_at,
            version=message.version,
        )
        self._check(stored)
        self._tx.write("sms_messages")[(current.tenant_id, current.id)] = stored
        return True

    async def list(self, filters: MessageFilter, page: PageRequest) -> Page[Message]:
        rows = [m for m in self._own() if _matches(m, filters)]
        return _keyset_page(rows, page, lambda m: Position(m.created_at, m.id))

    def _check(self, message: Message) -> None:
        """The table's checks, then its unique provider id, as PostgreSQL checks them."""
        inbound = message.direction is MessageDirection.INBOUND
        if inbound != (message.status is MessageStatus.RECEIVED):
            raise ValueError("sms_messages_received_check: inbound exactly when received")
        if inbound != (message.sender_type is None):
            raise ValueError("sms_messages_sender_check: a sender exactly for outbound messages")
        if not inbound and not 1 <= len(message.body) <= BODY_MAX:
            raise ValueError("sms_messages_body_check: 1 to 1600 characters")
        if message.provider_message_id is not None and message.provider is not None:
            wanted = (message.provider, message.provider_message_id)
            if any((m.provider, m.provider_message_id) == wanted and m.id != message.id for m in self._own()):
                raise Conflict(_MESSAGE_EXISTS, code="message_exists")

    def _own(self) -> list[Message]:
        return [m for (tid, _), m in self._tx.read("sms_messages").items() if tid == self._tenant_id]


class MemorySmsOptOutRepository(_Scoped):
    async def get(self, phone: str) -> SmsOptOut | None:
        return next((o for o in self._own() if o.phone == phone), None)

    async def add(self, opt_out: SmsOptOut) -> bool:
        self._check_own_tenant(opt_out.tenant_id)
        if await self.get(opt_out.phone) is not None:
            return False
        self._tx.insert("sms_opt_outs", (opt_out.tenant_id, opt_out.id), opt_out)
        return True

    async def remove(self, phone: str) -> SmsOptOut | None:
        found = await self.get(phone)
        if found is not None:
            del self._tx.write("sms_opt_outs")[(found.tenant_id, found.id)]
        return found

    async def list(self, page: PageRequest) -> Page[SmsOptOut]:
        return _keyset_page(self._own(), page, lambda o: Position(o.opted_out_at, o.id))

    def _own(self) -> list[SmsOptOut]:
        return [o for (tid, _), o in self._tx.read("sms_opt_outs").items() if tid == self._tenant_id]
