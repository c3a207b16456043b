"""The ``AttemptThrottle`` port on the ``limits`` library: counting is the library's, tiers are ours.

Storage is chosen by URI. ``memory://`` counts inside this process (one server, development,
tests); ``redis://host:port/db`` (or ``rediss://``, ``redis+unix:///path?db=0``, ``valkey://``)
keeps the counters in Redis, so every server instance pointed at the same database shares them.
The ``async+`` prefix the library wants for its asyncio storages is added when missing. Every call
is a coroutine of the library's asyncio API (coredis for Redis): nothing blocks the event loop.

Strategy: the moving window. It stores one timestamp per counted attempt and counts exactly the
attempts of the last ``per_seconds`` seconds, so "5 per 60 s" means exactly that, and the time
the library reports for an exhausted tier (its oldest counted attempt plus the window) is exactly
when the next attempt is allowed: the retry-after we announce is true. Its cost, one list entry
per attempt and key, is nothing for budgets of a few to a few hundred attempts. The sliding window
counter is cheaper per key but approximates the previous window by weighting, so a locked key
seeps back one attempt at a time at rates the policy never stated, and its reported reset time
is an estimate. Attempts refused by an exhausted tier are not recorded in that tier, so hammering
a locked key does not extend its lockout; the other tiers still count them.

Only a SHA-256 of the key (an email address, a client address) reaches the storage: Redis key
names are ``LIMITS:switchboard.throttle/<policy>/<sha256 hex>/<attempts>/<seconds>/second``.
Timestamps come from each server's wall clock (the library's choice), so instances sharing Redis
need synchronised clocks.

When the storage cannot be reached the throttle fails open: attempts are allowed and a warning is
logged each time, so an outage of Redis turns no sign-in into a 500; passwords, second factors
and tokens are still checked as always.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from dataclasses import dataclass

import structlog
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from switchboard.core.security.throttling import ThrottlePolicy, ThrottleStatus

NAMESPACE = "switchboard.throttle"
log = structlog.get_logger("switchboard.throttle")


@dataclass(frozen=True)
class _TierState:
    limit: int
    remaining: int
    wait_seconds: int  # 0 while the tier allows an attempt

    @property
    def exhausted(self) -> bool:
        return self.wait_seconds > 0


class LimitsAttemptThrottle:
    """Counts failures per policy tier with ``limits``' moving window, in memory or in Redis."""

    def __init__(self, storage_uri: str = "memory://") -> None:
        uri = storage_uri if storage_uri.startswith("async+") else f"async+{storage_uri}"
        storage = storage_from_string(uri, wrap_exceptions=True)
        if not isinstance(storage, Storage):  # pragma: no cover - storage_from_string maps async+ here
            raise ValueError(f"not an asyncio storage of the limits library: {storage_uri!r}")
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(storage)
        self._items: dict[ThrottlePolicy, tuple[RateLimitItem, ...]] = {}

    async def status(self, policy: ThrottlePolicy, key: str) -> ThrottleStatus:
        try:
            return await self._status(policy, key)
        except StorageError as error:
            return _unavailable(policy, "status", error)

    async def _status(self, policy: ThrottlePolicy, key: str) -> ThrottleStatus:
        items = self._items_for(policy)
        identifiers = _identifiers(policy, key)
        states = await asyncio.gather(*(self._tier_state(item, identifiers) for item in items))
        exhausted = [state for state in states if state.exhausted]
        if exhausted:
            # The tier with the longest wait binds; on a tie, the longer (later) tier.
            binding = max(reversed(exhausted), key=lambda state: state.wait_seconds)
        else:
            # Nothing exhausted: the tier closest to it binds; on a tie, the shorter (earlier) one.
            binding = min(states, key=lambda state: state.remaining)
        return ThrottleStatus(
            retry_after_seconds=binding.wait_seconds,
            locked_out=states[-1].exhausted,
            limit=binding.limit,
            remaining=binding.remaining,
        )

    async def record_failure(self, policy: ThrottlePolicy, key: str) -> ThrottleStatus:
        identifiers = _identifiers(policy, key)
        try:
            # hit() answers False, without raising or recording, in a tier already exhausted.
            await asyncio.gather(*(self._limiter.hit(item, *identifiers) for item in self._items_for(policy)))
            return await self._status(policy, key)
        except StorageError as error:
            return _unavailable(policy, "record_failure", error)

    async def clear(self, policy: ThrottlePolicy, key: str) -> None:
        identifiers = _identifiers(policy, key)
        try:
            await asyncio.gather(
                *(self._limiter.clear(item, *identifiers) for item in self._items_for(policy))
            )
        except StorageError as error:
            _unavailable(policy, "clear", error)

    async def aclose(self) -> None:
        """Close the storage's connections, if it has any (not part of the port: for shutdown)."""
        # limits has no public close: its Redis storage keeps the client on ``bridge.storage``.
        client = getattr(getattr(self._storage, "bridge", None), "storage", None)
        pool = getattr(client, "connection_pool", None)
        if pool is not None:
            pool.disconnect()

    async def _tier_state(self, item: RateLimitItem, identifiers: tuple[str, str]) -> _TierState:
        # One read per tier. For the moving window, remaining is the limit minus the attempts in
        # the window (so remaining == 0 is exactly when test() answers False), and reset_time is
        # when the oldest attempt in the window leaves it: the moment one more is allowed.
        stats = await self._limiter.get_window_stats(item, *identifiers)
        remaining = max(0, stats.remaining)
        wait = max(1, math.ceil(stats.reset_time - time.time())) if remaining == 0 else 0
        return _TierState(limit=item.amount, remaining=remaining, wait_seconds=wait)

    def _items_for(self, policy: ThrottlePolicy) -> tuple[RateLimitItem, ...]:
        items = self._items.get(policy)
        if items is None:
            if not policy.tiers:
                raise ValueError(f"throttle policy {policy.name!r} has no tiers")
            items = tuple(
                RateLimitItemPerSecond(tier.attempts, tier.per_seconds, namespace=NAMESPACE)
                for tier in policy.tiers
            )
            self._items[policy] = items
        return items


def _identifiers(policy: ThrottlePolicy, key: str) -> tuple[str, str]:
    return policy.name, hashlib.sha256(key.encode()).hexdigest()


def _unavailable(policy: ThrottlePolicy, operation: str, error: StorageError) -> ThrottleStatus:
    """Fail open, loudly."""
    log.warning("throttle_storage_unavailable", policy=policy.name, operation=operation, error=str(error))
    first = policy.tiers[0]
    return ThrottleStatus(
        retry_after_seconds=0, locked_out=False, limit=first.attempts, remaining=first.attempts
    )
