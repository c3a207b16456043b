"""Messaging storage ports: text messages with customers, and the numbers that opted out.

Attributes of the unit of work (``uow.messages``, ``uow.sms_opt_outs``), confined to its tenant
like every other repository.
"""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from switchboard.core.customers.timeline import TimelineEntry
from switchboard.core.messaging.model import Message, MessageFilter, SmsOptOut
from switchboard.core.pagination import Page, PageRequest, Position


class MessageRepository(Protocol):
    """A ``TimelineSource`` too (ports/persistence.py): messages are about a customer."""

    async def timeline(self, customer_id: UUID, after: Position | None, limit: int) -> list[TimelineEntry]:
        """The customer's messages as timeline entries (``model.timeline_entry``), placed at their
        creation, newest first, strictly after ``after``, at most ``limit``."""
        ...

    async def add(self, message: Message) -> None:
        """Raises ``Conflict(code="message_exists")`` when the tenant already has a message with
        the same ``(provider, provider_message_id)``."""
        ...

    async def get(self, message_id: UUID, *, for_update: bool = False) -> Message | None:
        """``for_update`` locks the message until the unit of work ends."""
        ...

    async def get_by_provider_id(
        self, provider: str, provider_message_id: str, *, for_update: bool = False
    ) -> Message | None: ...

    async def update(self, message: Message, expected_version: int) -> bool:
        """Store status, from_number, provider, provider_message_id, error, updated_at and version
        if the stored version is still ``expected_version``; the same refusal as ``add``."""
        ...

    async def list(self, filters: MessageFilter, page: PageRequest) -> Page[Message]:
        """Newest first (by creation). (Defined last: it shadows ``list`` in later annotations.)"""
        ...


class SmsOptOutRepository(Protocol):
    async def get(self, phone: str) -> SmsOptOut | None:
        """The opt-out of this E.164 number, if it has one."""
        ...

    async def add(self, opt_out: SmsOptOut) -> bool:
        """Record the opt-out unless the number already has one; True if recorded (concurrent
        opt-outs of one number record exactly one)."""
        ...

    async def remove(self, phone: str) -> SmsOptOut | None:
        """Opt the number back in; the opt-out it had, if any."""
        ...

    async def list(self, page: PageRequest) -> Page[SmsOptOut]:
        """Newest opt-out first, by (opted_out_at, id)."""
        ...
