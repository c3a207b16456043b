"""What the live-call tool server keeps between a platform's retries of one tool call."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from switchboard.core.calls.live import HeldRun
from switchboard.ports.persistence import UnitOfWork


class ToolRunLedger(Protocol):
    """One entry per tool call (``key``), so a retried call is answered, not run twice."""

    async def claim(
        self,
        tenant_id: UUID,
        key: str,
        fingerprint: str,
        now: datetime,
        lifetime: timedelta,
        stale_after: timedelta,
    ) -> HeldRun | None:
        """Take ``key`` for a run and answer None; or, when it is already taken, what holds it.
        A key is free again after ``lifetime``, or ``stale_after`` a claim that was never
        answered (its run died)."""
        ...

    async def complete(self, uow: UnitOfWork, key: str, answer: bytes) -> None:
        """Keep the run's answer for retries, in ``uow``'s transaction (committed by its owner
        with the call's transcript line, one transaction for both)."""
        ...

    async def release(self, tenant_id: UUID, key: str) -> None:
        """Free the key: the run failed on the system's side, and a retry runs afresh."""
        ...
