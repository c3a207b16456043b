"""The live-call tool server's ledger of tool runs, kept in the tenant's idempotency keys.

Keys are made by the core (``core/calls/live.py``) so that none can equal an HTTP
``Idempotency-Key`` (they contain a space, which that header may not), and they expire with the
others.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from switchboard.core.calls.live import HeldRun
from switchboard.ports.persistence import IdempotencyRecord, StoredResponse, UnitOfWork, UnitOfWorkFactory

_ANSWERED = 200


class IdempotencyKeyLedger:
    """Implements ``ToolRunLedger`` (ports/live_calls.py) on ``uow.idempotency_keys``."""

    def __init__(self, units: UnitOfWorkFactory) -> None:
        self._units = units

    async def claim(
        self,
        tenant_id: UUID,
        key: str,
        fingerprint: str,
        now: datetime,
        lifetime: timedelta,
        stale_after: timedelta,
    ) -> HeldRun | None:
        async with self._units(tenant_id) as uow:
            held = await uow.idempotency_keys.claim(
                IdempotencyRecord(key, fingerprint, now, now + lifetime), stale_before=now - stale_after
            )
            await uow.commit()
        if held is None:
            return None
        return HeldRun(held.fingerprint, held.response.body if held.response is not None else None)

    async def complete(self, uow: UnitOfWork, key: str, answer: bytes) -> None:
        await uow.idempotency_keys.complete(key, StoredResponse(_ANSWERED, {}, answer))

    async def release(self, tenant_id: UUID, key: str) -> None:
        async with self._units(tenant_id) as uow:
            await uow.idempotency_keys.release(key)
            await uow.commit()
