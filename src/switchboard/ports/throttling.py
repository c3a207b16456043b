"""Counting failed attempts, shared by every server instance when the storage is shared."""

from __future__ import annotations

from typing import Protocol

from switchboard.core.security.throttling import ThrottlePolicy, ThrottleStatus


class AttemptThrottle(Protocol):
    async def status(self, policy: ThrottlePolicy, key: str) -> ThrottleStatus:
        """Whether ``key`` may make an attempt now, and if not, for how long it must wait."""
        ...

    async def record_failure(self, policy: ThrottlePolicy, key: str) -> ThrottleStatus:
        """Count one failed attempt in every tier; the status right after it."""
        ...

    async def clear(self, policy: ThrottlePolicy, key: str) -> None:
        """Forget every counted failure of ``key`` (after an unlock, or a success that resets)."""
        ...
