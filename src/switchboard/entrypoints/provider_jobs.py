"""What an outbox job does when the provider it calls fails, for the jobs that send one request
per record (a text, a video, a refund) and fail that record when they give up."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from switchboard.core.queues.model import OutboxMessage, PermanentFailure
from switchboard.ports.providers import ProviderError


async def retry_or_fail(
    error: ProviderError, job: OutboxMessage, provider: str, fail: Callable[[str], Awaitable[None]]
) -> None:
    """Raise ``error`` again while a retry may help and attempts remain (the worker sends the
    same request later). Otherwise ``fail`` the record with the provider's reason; a job that ran
    out of attempts then ends as a PermanentFailure, a refusal simply ends."""
    if error.retryable and job.attempts < job.max_attempts:
        raise error
    await fail(f"{provider}: {error}")
    if error.retryable:
        raise PermanentFailure(f"{provider} could not be reached: {error}") from error
