"""How a platform's HTTP failures become ``ProviderError``, for the plugins that share the rule.

A network failure is worth another try; so are a timeout (408), a conflict (409), throttling
(429) and the platform's own failures (5xx). Any other answer of 400 or more is a refusal that
the same request would meet again.
"""

from __future__ import annotations

from switchboard.ports.providers import ProviderError

RETRYABLE_STATUSES = frozenset({408, 409, 429})


def unreachable(platform: str, error: Exception) -> ProviderError:
    """The platform could not be reached (or did not answer in time): retryable."""
    return ProviderError(f"{platform} could not be reached: {type(error).__name__}", retryable=True)


def failed_answer(platform: str, status: int, message: str) -> ProviderError:
    """The platform answered ``status`` (400 or more), saying ``message``."""
    return ProviderError(
        f"{platform} answered {status}: {message}",
        retryable=status in RETRYABLE_STATUSES or status >= 500,
        status=status,
    )
