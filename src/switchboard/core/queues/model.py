"""Durable queues: the outbox (side effects to perform) and the inbox (provider events to
process). Rows are retried with exponential backoff and full jitter, then parked as dead."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar
from uuid import UUID, uuid4

FIRST_RETRY = timedelta(seconds=2)
LONGEST_RETRY = timedelta(hours=1)
DEFAULT_MAX_ATTEMPTS = 8
ERROR_MAX = 1000


class JobStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    DEAD = "dead"


@dataclass(frozen=True)
class OutboxMessage:
    id: UUID
    tenant_id: UUID
    kind: str  # what to do, e.g. "email.send"
    payload: dict[str, Any]
    max_attempts: int
    created_at: datetime
    status: JobStatus
    attempts: int  # claims so far, counted when claimed, so a job that kills workers still ends
    next_attempt_at: datetime
    locked_until: datetime | None = None
    last_error: str | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class InboxEvent:
    id: UUID
    tenant_id: UUID
    integration_id: UUID
    provider: str
    event_id: str
    type: str
    data: dict[str, Any]
    occurred_at: datetime | None
    received_at: datetime
    status: JobStatus
    attempts: int
    next_attempt_at: datetime
    locked_until: datetime | None = None
    last_error: str | None = None
    finished_at: datetime | None = None


Job = TypeVar("Job", OutboxMessage, InboxEvent)


class PermanentFailure(Exception):
    """A job that retrying cannot fix (bad payload, a provider's definite refusal)."""


def new_outbox_message(
    tenant_id: UUID,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> OutboxMessage:
    return OutboxMessage(uuid4(), tenant_id, kind, payload, max_attempts, now, JobStatus.PENDING, 0, now)


def retry_delay(attempts: int, rng: random.Random) -> timedelta:
    """Full jitter: anywhere up to 2 s, 4 s, 8 s, ... capped at an hour, so retries spread out."""
    ceiling: timedelta = min(LONGEST_RETRY, FIRST_RETRY * 2 ** max(0, attempts - 1))
    return ceiling * rng.random()


def succeeded(job: Job, now: datetime) -> Job:
    return replace(job, status=JobStatus.DONE, locked_until=None, last_error=None, finished_at=now)


def failed(job: Job, error: BaseException, now: datetime, rng: random.Random, max_attempts: int) -> Job:
    """Schedule a retry, or park the job as dead after its last attempt or a permanent failure."""
    message = f"{type(error).__name__}: {error}"[:ERROR_MAX]
    if isinstance(error, PermanentFailure) or job.attempts >= max_attempts:
        return replace(job, status=JobStatus.DEAD, locked_until=None, last_error=message, finished_at=now)
    return replace(
        job, next_attempt_at=now + retry_delay(job.attempts, rng), locked_until=None, last_error=message
    )
