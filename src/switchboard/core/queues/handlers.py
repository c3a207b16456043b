"""Running one claimed job: read it in its tenant, do the work outside any transaction, settle it."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol, TypeVar
from uuid import UUID

from switchboard.core.queues.model import (
    InboxEvent,
    JobStatus,
    OutboxMessage,
    PermanentFailure,
    failed,
    succeeded,
)

if TYPE_CHECKING:  # ports appear in annotations only; the core imports nothing outside itself
    from switchboard.ports.clock import Clock
    from switchboard.ports.persistence import UnitOfWork, UnitOfWorkFactory

J = TypeVar("J", OutboxMessage, InboxEvent)

INBOX_MAX_ATTEMPTS = 8


class _Queue(Protocol[J]):
    async def get(self, job_id: UUID, *, for_update: bool = False) -> J | None: ...

    async def save(self, job: J) -> None: ...


async def run_outbox_message(
    tenant_id: UUID,
    job_id: UUID,
    units: UnitOfWorkFactory,
    perform: Callable[[OutboxMessage], Awaitable[None]],
    clock: Clock,
    rng: random.Random,
) -> JobStatus | None:
    return await _run(tenant_id, job_id, units, lambda uow: uow.outbox, perform, clock, rng, None)


async def run_inbox_event(
    tenant_id: UUID,
    job_id: UUID,
    units: UnitOfWorkFactory,
    process: Callable[[InboxEvent], Awaitable[None]],
    clock: Clock,
    rng: random.Random,
) -> JobStatus | None:
    return await _run(
        tenant_id, job_id, units, lambda uow: uow.inbox, process, clock, rng, INBOX_MAX_ATTEMPTS
    )


async def _run(
    tenant_id: UUID,
    job_id: UUID,
    units: UnitOfWorkFactory,
    queue_of: Callable[[UnitOfWork], _Queue[J]],
    work: Callable[[J], Awaitable[None]],
    clock: Clock,
    rng: random.Random,
    max_attempts: int | None,
) -> JobStatus | None:
    """None when the job is gone or already settled (another worker finished it)."""
    async with units(tenant_id) as uow:
        job = await queue_of(uow).get(job_id)
    if job is None or job.status != JobStatus.PENDING:
        return None
    limit = max_attempts if max_attempts is not None else getattr(job, "max_attempts", 1)
    error: BaseException | None = None
    if job.attempts > limit:
        # Claimed more often than allowed: each earlier claim ended with its worker dying.
        error = PermanentFailure(f"claimed {job.attempts} times; it never finished")
    else:
        try:
            # No transaction is open while the outside world is called.
            await work(job)
        except Exception as caught:  # every failure is recorded on the job; none stops the worker
            error = caught
    async with units(tenant_id) as uow:
        queue = queue_of(uow)
        current = await queue.get(job_id, for_update=True)
        if current is None or current.status != JobStatus.PENDING:
            return None
        settled = (
            succeeded(current, clock.now())
            if error is None
            else failed(current, error, clock.now(), rng, limit)
        )
        await queue.save(settled)
        await uow.commit()
    return settled.status
