"""What an entrypoint does when the provider it calls fails: in a request, a domain error for the
client (``guarded``); in an outbox job that sends one request per record (a text, a video, a
refund), a retry or the record's failure (``retry_or_fail``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from switchboard.core.queues.model import OutboxMessage, PermanentFailure
from switchboard.core.sales.provider_payments import ProviderRefused, ProviderUnavailable
from switchboard.ports.providers import ProviderError

log = structlog.get_logger("switchboard.providers")

T = TypeVar("T")


async def guarded(provider: str, call: Awaitable[T], failure_event: str) -> T:
    """``call``'s answer; a provider failure is logged as ``failure_event`` and becomes
    ``ProviderUnavailable`` (a retry may help) or ``ProviderRefused``."""
    try:
        return await call
    except ProviderError as error:
        log.warning(failure_event, provider=provider, status=error.status, code=error.code)
        if error.retryable:
            raise ProviderUnavailable(f"{provider} could not be reached; try again shortly") from error
        raise ProviderRefused(f"{provider} refused the request: {error}") from error


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
