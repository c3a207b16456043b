"""The calls repository over the memory store, behaving as the PostgreSQL one does.

Units of work never overlap in memory (the store's lock serialises them), so ``for_update`` and
``add_or_lock`` need no lock of their own; the unique (integration, provider call id) pair is
mirrored.
"""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from switchboard.adapters.memory.repositories import _Scoped, newest_first
from switchboard.core.calls.records import Call, CallFilter, call_exists, timeline_entry
from switchboard.core.customers.timeline import TimelineEntry, newest_after
from switchboard.core.pagination import Page, PageRequest, Position

TABLE = "calls"


class MemoryCallRepository(_Scoped):
    async def timeline(self, customer_id: UUID, after: Position | None, limit: int) -> list[TimelineEntry]:
        return newest_after(
            [timeline_entry(c) for c in self._own() if c.customer_id == customer_id], after, limit
        )

    async def add(self, call: Call) -> None:
        self._check_own_tenant(call.tenant_id)
        if self._taken(call):
            raise call_exists()
        self._tx.insert(TABLE, (call.tenant_id, call.id), call)

    async def get(self, call_id: UUID, *, for_update: bool = False) -> Call | None:
        found: Call | None = self._tx.read(TABLE).get((self._tenant_id, call_id))
        return found

    async def find_by_provider_call_id(
        self, integration_id: UUID, provider_call_id: str, *, for_update: bool = False
    ) -> Call | None:
        return next(
            (
                c
                for c in self._own()
                if c.integration_id == integration_id and c.provider_call_id == provider_call_id
            ),
            None,
        )

    async def add_or_lock(self, call: Call) -> Call:
        if call.provider_call_id is None:
            raise ValueError("add_or_lock needs the provider's call id")
        stored = await self.find_by_provider_call_id(call.integration_id, call.provider_call_id)
        if stored is not None:
            return stored
        await self.add(call)
        return call

    async def update(self, call: Call, expected_version: int) -> bool:
        current = await self.get(call.id)
        if current is None or current.version != expected_version:
            return False
        updated = replace(
            call,
            tenant_id=current.tenant_id,
            id=current.id,
            integration_id=current.integration_id,
            created_at=current.created_at,
        )
        if self._taken(updated):
            raise call_exists()
        self._tx.write(TABLE)[(self._tenant_id, call.id)] = updated
        return True

    async def list(self, filters: CallFilter, page: PageRequest) -> Page[Call]:
        return newest_first([c for c in self._own() if filters.matches(c)], page)

    def _own(self) -> list[Call]:
        return [c for (tid, _), c in self._tx.read(TABLE).items() if tid == self._tenant_id]

    def _taken(self, call: Call) -> bool:
        """What calls_tenant_id_provider_call_id_key refuses on PostgreSQL."""
        return call.provider_call_id is not None and any(
            other.id != call.id
            and other.integration_id == call.integration_id
            and other.provider_call_id == call.provider_call_id
            for other in self._own()
        )
