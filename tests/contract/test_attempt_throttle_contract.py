"""The AttemptThrottle contract: every implementation passes it, in memory and on Redis.

Redis is the one ``SWITCHBOARD_TEST_REDIS_URL`` names, else a real server started from a PyPI
package (see tests/contract/redis_server.py): never skipped. A configured server may hold other
data, so every test uses a policy name of its own and never flushes anything; the counters it
leaves expire within the longest window (4 s).

Tiers are short (3 per 2 s, then 5 per 4 s) so that one test only needs to really wait.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
from collections.abc import AsyncIterator, Iterator
from uuid import uuid4

import coredis
import pytest

from switchboard.adapters.throttling import LimitsAttemptThrottle
from switchboard.core.security.throttling import ThrottlePolicy, ThrottleStatus, Tier
from switchboard.ports.throttling import AttemptThrottle
from tests.contract import redis_server

SHORT = Tier(3, 2)
LONG = Tier(5, 4)
FRESH = ThrottleStatus(
    retry_after_seconds=0, locked_out=False, limit=SHORT.attempts, remaining=SHORT.attempts
)


def new_policy(*tiers: Tier) -> ThrottlePolicy:
    return ThrottlePolicy(f"contract_{uuid4().hex[:12]}", tiers or (SHORT, LONG))


def new_key() -> str:
    return f"someone-{uuid4().hex}@example.test"


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    # Over TCP on loopback, the way the servers reach Redis (a unix socket would dodge the port race).
    with redis_server.redis_url(tcp=True) as url:
        yield url


@pytest.fixture(params=["memory", "redis"])
async def throttle(request: pytest.FixtureRequest) -> AsyncIterator[AttemptThrottle]:
    """The implementation under test. Redis is only started when a redis case runs."""
    uri = "memory://" if request.param == "memory" else request.getfixturevalue("redis_url")
    implementation = LimitsAttemptThrottle(uri)
    yield implementation
    await implementation.aclose()


async def fail(throttle: AttemptThrottle, policy: ThrottlePolicy, key: str, times: int) -> ThrottleStatus:
    status = None
    for _ in range(times):
        status = await throttle.record_failure(policy, key)
    assert status is not None
    return status


async def test_a_fresh_key_is_allowed(throttle: AttemptThrottle) -> None:
    status = await throttle.status(new_policy(), new_key())

    assert status == FRESH
    assert status.allowed


async def test_failures_up_to_the_short_tier_stay_allowed_then_wait_at_most_its_window(
    throttle: AttemptThrottle,
) -> None:
    policy, key = new_policy(), new_key()

    first = await throttle.record_failure(policy, key)
    second = await throttle.record_failure(policy, key)
    third = await throttle.record_failure(policy, key)
    after = await throttle.status(policy, key)

    assert first == ThrottleStatus(0, locked_out=False, limit=3, remaining=2)
    assert second == ThrottleStatus(0, locked_out=False, limit=3, remaining=1)
    for status in (third, after):
        assert not status.allowed
        assert 1 <= status.retry_after_seconds <= SHORT.per_seconds
        assert (status.locked_out, status.limit, status.remaining) == (False, 3, 0)


async def test_the_announced_wait_is_enough(throttle: AttemptThrottle) -> None:
    policy, key = new_policy(Tier(3, 1), LONG), new_key()  # a 1 s short tier: the one real wait
    blocked = await fail(throttle, policy, key, 3)
    assert blocked.retry_after_seconds == 1

    await asyncio.sleep(blocked.retry_after_seconds + 0.05)
    status = await throttle.status(policy, key)

    # The short tier is whole again; the long one still holds the 3 failures, so it binds now.
    assert status == ThrottleStatus(0, locked_out=False, limit=LONG.attempts, remaining=2)


async def test_exhausting_the_long_tier_locks_out(throttle: AttemptThrottle) -> None:
    policy, key = new_policy(), new_key()

    locked = await fail(throttle, policy, key, LONG.attempts)

    assert locked.locked_out
    assert (locked.limit, locked.remaining) == (LONG.attempts, 0)  # the tier with the longest wait binds
    assert SHORT.per_seconds < locked.retry_after_seconds <= LONG.per_seconds
    assert await throttle.status(policy, key) == locked


async def test_failures_while_locked_out_neither_raise_nor_extend_the_lockout(
    throttle: AttemptThrottle,
) -> None:
    policy, key = new_policy(), new_key()
    locked = await fail(throttle, policy, key, LONG.attempts)

    again = await fail(throttle, policy, key, 3)

    assert again.locked_out
    assert again.retry_after_seconds <= locked.retry_after_seconds


async def test_concurrent_failures_are_each_counted_once(throttle: AttemptThrottle) -> None:
    policy, key = new_policy(), new_key()

    await asyncio.gather(*(throttle.record_failure(policy, key) for _ in range(4)))
    status = await throttle.status(policy, key)

    # The short tier took 3 of the 4 and refused the last; the long one took all 4.
    assert (status.allowed, status.locked_out, status.limit, status.remaining) == (False, False, 3, 0)
    assert (await throttle.record_failure(policy, key)).locked_out


async def test_keys_and_policies_are_independent(throttle: AttemptThrottle) -> None:
    policy, twin, key = new_policy(), new_policy(), new_key()  # twin: same tiers, another name
    await fail(throttle, policy, key, LONG.attempts)

    assert (await throttle.status(policy, key)).locked_out
    assert await throttle.status(policy, new_key()) == FRESH
    assert await throttle.status(twin, key) == FRESH
    assert (await throttle.record_failure(twin, key)).remaining == 2
    assert (await throttle.status(policy, key)).locked_out


async def test_clear_lets_the_key_go_again(throttle: AttemptThrottle) -> None:
    policy, key, other = new_policy(), new_key(), new_key()
    await fail(throttle, policy, key, LONG.attempts)
    await fail(throttle, policy, other, 1)

    await throttle.clear(policy, key)

    assert await throttle.status(policy, key) == FRESH
    assert (await throttle.record_failure(policy, key)).remaining == 2
    assert (await throttle.status(policy, other)).remaining == 2  # only that key was forgotten
    await throttle.clear(policy, new_key())  # forgetting a key never seen is fine


async def test_instances_on_the_same_redis_share_counts(redis_url: str) -> None:
    first, second = LimitsAttemptThrottle(redis_url), LimitsAttemptThrottle(redis_url)
    policy, key = new_policy(), new_key()
    try:
        await fail(first, policy, key, 2)
        assert (await second.status(policy, key)).remaining == 1

        await fail(second, policy, key, 3)
        assert (await first.status(policy, key)).locked_out

        await first.clear(policy, key)
        assert await second.status(policy, key) == FRESH
    finally:
        await first.aclose()
        await second.aclose()


async def test_only_a_hash_of_the_key_reaches_redis(redis_url: str) -> None:
    throttle = LimitsAttemptThrottle(redis_url)
    policy, key = new_policy(), new_key()
    client = coredis.Redis.from_url(redis_url.replace("redis+unix://", "unix://"), decode_responses=True)
    try:
        await throttle.record_failure(policy, key)

        names = await client.keys(f"*{policy.name}*")

        assert len(names) == len(policy.tiers)
        digest = hashlib.sha256(key.encode()).hexdigest()
        assert all(digest in name and key not in name for name in names)
    finally:
        await throttle.clear(policy, key)
        await throttle.aclose()
        client.connection_pool.disconnect()


async def test_an_unreachable_redis_fails_open_so_sign_in_still_answers() -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    throttle = LimitsAttemptThrottle(f"redis://127.0.0.1:{port}/0")
    policy, key = new_policy(Tier(1, 60)), new_key()

    after = await throttle.record_failure(policy, key)
    now = await throttle.status(policy, key)
    await throttle.clear(policy, key)

    assert after.allowed
    assert now.allowed
    assert not now.locked_out
