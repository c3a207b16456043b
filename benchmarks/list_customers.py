"""Benchmark: an authenticated ``GET /v1/customers?limit=20`` against ``GET /health/live``.

Not a test: it prints figures. It starts ``switchboard serve`` on a fresh data directory under
/tmp (an embedded PostgreSQL unless ``--database-url`` is given), times the first ready answer,
fills a tenant with ``switchboard demo``, signs in, then loads both endpoints of the same server in
the same run with the same generator, and prints requests per second, p50 and p99 latency, the
ratio list/live (live is the ceiling: the same server doing nothing) and the RSS of each worker.

Targets: the list endpoint at 40% or more of the live ceiling, and its p99 under 50 ms.

Load generator: ``wrk`` when it is on PATH (cheap, written in C), else a built-in asyncio one
(HTTP/1.1 keep-alive, one request in flight per connection). Both count every non-200 answer; a
run with any is invalid. On a small machine the generator competes with the server and the
database for the same cores, so its own CPU is measured and printed too.

    .venv/bin/python benchmarks/list_customers.py                      # uvicorn, auto generator
    .venv/bin/python benchmarks/list_customers.py --server hypercorn --repeat 3
    .venv/bin/python benchmarks/list_customers.py --generator builtin --duration 20
    .venv/bin/python benchmarks/list_customers.py --log-level warning   # without the access log

Each line also shows CPU per request of the server workers, PostgreSQL and the generator (from
/proc), and the cores used by unrelated processes: above 0.25 the run is flagged as noisy.

Exit status: 0 when the run was valid (whether or not the targets were met), 1 when it was not
(errors, or the server failed), 2 on bad arguments. The last line printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import http.client
import importlib.util
import json
import math
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

HOST = "127.0.0.1"  # loopback only, always
LIVE_PATH = "/health/live"
LIST_PATH = "/v1/customers?limit=20"
TARGET_RATIO = 0.40
TARGET_P99_MS = 50.0
READY_POLL_SECONDS = 0.020
NOISY_CORES = 0.25  # CPU used by unrelated processes during a measurement worth a warning
TOKEN_REUSE_SECONDS = 600  # access tokens last 900 s: sign in again before they run out
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def main() -> int:
    args = _arguments()
    generator = _choose_generator(args.generator)
    data_dir = Path(tempfile.mkdtemp(prefix="sbbench-", dir="/tmp"))
    server: Server | None = None
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        server = Server(args, data_dir)
        return run(args, generator, server)
    except BenchmarkError as error:
        print(f"\nbenchmark failed: {error}", flush=True)
        if server is not None:
            server.print_log_tail()
        return 1
    finally:
        if server is not None:
            server.stop()
        if args.keep:
            print(f"kept data directory {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


def run(args: argparse.Namespace, generator: str, server: Server) -> int:
    print(
        f"switchboard list benchmark: {args.server}, {args.workers} workers, {args.connections} "
        f"connections, {args.duration:g} s per measurement after {args.warmup:g} s warm-up, "
        f"repeat {args.repeat}",
        flush=True,
    )
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
        f"python {sys.version.split()[0]}; generator {_describe_generator(generator)}",
        flush=True,
    )
    database = "external (--database-url)" if args.database_url else "embedded PostgreSQL"
    print(f"data directory {server.data_dir}, database {database}", flush=True)

    ready_seconds = server.start()
    fresh = "fresh data directory" if not args.database_url else "external database"
    print(f"\ntime to ready ({fresh}): {ready_seconds:.2f} s", flush=True)
    idle_rss = server.worker_rss()
    print("worker RSS at ready:     " + _format_rss(idle_rss), flush=True)

    started = time.perf_counter()
    email, password = server.demo(args.customers)
    print(f"demo tenant with {args.customers:,} customers created in {time.perf_counter() - started:.1f} s")
    session = Session(server, email, password)
    _check_endpoints(server, session)

    runs: dict[str, list[LoadResult]] = {"live": [], "list": []}
    for round_ in range(1, args.repeat + 1):
        for name, path in (("live", LIVE_PATH), ("list", LIST_PATH)):
            token = session.token() if path == LIST_PATH else None  # fresh enough for this run
            result = measure(args, generator, server, path, token)
            runs[name].append(result)
            label = f"[{round_}/{args.repeat}] {name:4} {path:24}"
            print(f"{label} {result.line()}", flush=True)

    loaded_rss = server.worker_rss()
    print("\nworker RSS after load:   " + _format_rss(loaded_rss), flush=True)
    return report(args, generator, server, ready_seconds, idle_rss, loaded_rss, runs)


def report(
    args: argparse.Namespace,
    generator: str,
    server: Server,
    ready_seconds: float,
    idle_rss: dict[int, float],
    loaded_rss: dict[int, float],
    runs: dict[str, list[LoadResult]],
) -> int:
    live, listing = _median(runs["live"]), _median(runs["list"])
    ratio = listing["rps"] / live["rps"] if live["rps"] else 0.0
    errors = sum(r.non_200 + r.socket_errors for rs in runs.values() for r in rs)
    valid = errors == 0
    ratio_ok, p99_ok = ratio >= TARGET_RATIO, listing["p99_ms"] < TARGET_P99_MS
    medians = " (medians)" if args.repeat > 1 else ""

    print(f"\nresults{medians}:")
    for name, figures, path in (("live", live, LIVE_PATH), ("list", listing, LIST_PATH)):
        print(
            f"  {name:4} {path:24} {figures['rps']:9,.0f} req/s   p50 {figures['p50_ms']:7.2f} ms   "
            f"p99 {figures['p99_ms']:7.2f} ms"
        )
    print(f"  ratio list/live          {ratio:9.1%}   (target >= {TARGET_RATIO:.0%})  {_verdict(ratio_ok)}")
    print(
        f"  list p99                 {listing['p99_ms']:7.2f} ms   "
        f"(target < {TARGET_P99_MS:g} ms)  {_verdict(p99_ok)}"
    )
    print(f"  time to ready            {ready_seconds:7.2f} s")
    print(f"  worker RSS after load    {_format_rss(loaded_rss)}")
    print("  CPU per request (server workers / PostgreSQL / generator), and generator share of a core:")
    for name in ("live", "list"):
        figures = _median_cpu(runs[name])
        print(
            f"    {name:4} {figures['server_us']:6.0f} us / {figures['postgres_us']:6.0f} us / "
            f"{figures['generator_us']:5.0f} us    generator {figures['generator_cores']:.2f} cores"
        )
    others = max(r.others_cores for rs in runs.values() for r in rs)
    noisy = others > NOISY_CORES
    if noisy:
        print(
            f"  WARNING: other processes used up to {others:.2f} cores during the measurements; "
            "the figures understate this server: rerun on a quiet machine"
        )
    if not valid:
        print(f"  INVALID RUN: {errors} failed requests (non-200 answers or socket errors)")

    summary = {
        "benchmark": "list_customers",
        "server": args.server,
        "workers": args.workers,
        "connections": args.connections,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "repeat": args.repeat,
        "customers": args.customers,
        "generator": generator,
        "database": "external" if args.database_url else "embedded",
        "cpus": os.cpu_count(),
        "time_to_ready_s": round(ready_seconds, 3),
        "live": _rounded(live),
        "list": _rounded(listing),
        "ratio": round(ratio, 4),
        "target_ratio": TARGET_RATIO,
        "target_p99_ms": TARGET_P99_MS,
        "ratio_pass": ratio_ok,
        "p99_pass": p99_ok,
        "pass": valid and ratio_ok and p99_ok,
        "valid": valid,
        "errors": errors,
        "others_cores_max": round(others, 3),
        "noisy": noisy,
        "worker_rss_mib_ready": [round(v, 1) for v in idle_rss.values()],
        "worker_rss_mib": [round(v, 1) for v in loaded_rss.values()],
        "cpu_us_per_request": {name: _rounded(_median_cpu(runs[name])) for name in ("live", "list")},
        "runs": {name: [r.summary() for r in results] for name, results in runs.items()},
    }
    print(json.dumps(summary, separators=(",", ":")), flush=True)
    return 0 if valid else 1


# ---------------------------------------------------------------------------------------------
# The server under test


class BenchmarkError(Exception):
    pass


class Server:
    """One ``switchboard serve`` process (its own session), its workers and its database."""

    def __init__(self, args: argparse.Namespace, data_dir: Path) -> None:
        self.args = args
        self.data_dir = data_dir
        self.port = _free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.log_path = data_dir / "server-stderr.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("SWITCHBOARD_") and k != "PROMETHEUS_MULTIPROC_DIR"
        }
        if args.database_url:
            self.env["SWITCHBOARD_DATABASE_URL"] = args.database_url
        if args.log_level:
            self.env["SWITCHBOARD_LOG_LEVEL"] = args.log_level

    def start(self) -> float:
        """Spawn the server; return the seconds from spawn to the first 200 from /health/ready."""
        command = [
            *_switchboard_command(),
            "serve",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--workers",
            str(self.args.workers),
            "--server",
            self.args.server,
            "--data-dir",
            str(self.data_dir),
        ]
        with open(self.log_path, "wb") as log:
            started = time.perf_counter()
            # stdout carries one access-log line per request: discard it, as a collector would.
            self.process = subprocess.Popen(
                command, env=self.env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True
            )
        deadline = started + self.args.ready_timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise BenchmarkError(f"switchboard serve exited with status {self.process.returncode}")
            if _get_status(self.port, "/health/ready", timeout=1.0) == 200:
                return time.perf_counter() - started
            time.sleep(READY_POLL_SECONDS)
        raise BenchmarkError(f"not ready after {self.args.ready_timeout:g} s")

    def demo(self, customers: int) -> tuple[str, str]:
        command = [
            *_switchboard_command(),
            "demo",
            "--customers",
            str(customers),
            "--data-dir",
            str(self.data_dir),
        ]
        try:
            done = subprocess.run(
                command, env=self.env, capture_output=True, text=True, timeout=self.args.demo_timeout
            )
        except subprocess.TimeoutExpired as error:
            raise BenchmarkError(f"switchboard demo took longer than {self.args.demo_timeout:g} s") from error
        if done.returncode != 0:
            raise BenchmarkError(f"switchboard demo failed ({done.returncode}):\n{done.stderr[-3000:]}")
        email = re.search(r"^email:\s*(\S+)", done.stdout, re.MULTILINE)
        password = re.search(r"^password:\s*(\S+)", done.stdout, re.MULTILINE)
        if not email or not password:
            raise BenchmarkError(f"could not read the demo credentials from:\n{done.stdout}")
        return email.group(1), password.group(1)

    def workers(self) -> list[int]:
        """The serve process's Python descendants, PostgreSQL and its helpers excluded."""
        if self.process is None:
            return []
        found = []
        pending = _children(self.process.pid)
        while pending:
            pid = pending.pop()
            if _comm(pid) in {"postgres", "postmaster", "pg_ctl", "initdb"}:
                continue
            if "spawn_main" in _cmdline(pid):  # multiprocessing spawn: a server worker
                found.append(pid)
            pending.extend(_children(pid))
        return sorted(found)

    def postgres(self) -> list[int]:
        """The embedded postmaster and its children (none for an external database)."""
        if self.args.database_url:
            return []
        try:
            pid = int((self.data_dir / "postgres" / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return []
        return [pid, *_children(pid)]

    def worker_rss(self) -> dict[int, float]:
        return {pid: _rss_mib(pid) for pid in self.workers()}

    def stop(self) -> None:
        """SIGINT, as an operator would; it stops the embedded PostgreSQL itself. Then force."""
        if self.process is None:
            return
        process, self.process = self.process, None
        interrupt(process, "server")
        self._stop_orphaned_postgres()

    def _stop_orphaned_postgres(self) -> None:
        postgres = self.postgres()
        if not postgres or not Path(f"/proc/{postgres[0]}").exists():
            return
        print("embedded PostgreSQL still running: stopping it", flush=True)
        with contextlib.suppress(ProcessLookupError):
            os.kill(postgres[0], signal.SIGINT)  # fast shutdown
        deadline = time.monotonic() + 15
        while Path(f"/proc/{postgres[0]}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in self.postgres() or postgres:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def print_log_tail(self) -> None:
        with contextlib.suppress(OSError):
            tail = self.log_path.read_text(errors="replace")[-4000:]
            if tail.strip():
                print(f"--- server stderr (last lines) ---\n{tail}", flush=True)


class Session:
    """An access token for the demo owner, renewed before it expires."""

    def __init__(self, server: Server, email: str, password: str) -> None:
        self.server, self.email, self.password = server, email, password
        self._token, self._issued = "", 0.0

    def token(self) -> str:
        if time.monotonic() - self._issued > TOKEN_REUSE_SECONDS or not self._token:
            body = json.dumps({"email": self.email, "password": self.password})
            status, answer = _request(
                self.server.port, "POST", "/v1/auth/login", body, {"Content-Type": "application/json"}
            )
            if status != 200:
                raise BenchmarkError(f"login answered {status}: {answer[:500]!r}")
            self._token, self._issued = json.loads(answer)["access_token"], time.monotonic()
        return self._token


def _check_endpoints(server: Server, session: Session) -> None:
    status, body = _request(server.port, "GET", LIVE_PATH)
    if status != 200:
        raise BenchmarkError(f"{LIVE_PATH} answered {status}")
    headers = {"Authorization": f"Bearer {session.token()}"}
    status, body = _request(server.port, "GET", LIST_PATH, headers=headers)
    if status != 200:
        raise BenchmarkError(f"{LIST_PATH} answered {status}: {body[:500]!r}")
    page = json.loads(body)
    print(
        f"check: {LIST_PATH} -> 200, {len(page['data'])} customers, {len(body):,} bytes, "
        f"has_more={page['has_more']}; {LIVE_PATH} -> 200",
        flush=True,
    )


# ---------------------------------------------------------------------------------------------
# Measuring


@dataclass
class LoadResult:
    generator: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    non_200: int
    socket_errors: int
    statuses: dict[str, int] = field(default_factory=dict)
    generator_cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    postgres_cpu_s: float = 0.0
    machine_cpu_s: float = 0.0  # every process on the machine, busy time

    @property
    def others_cores(self) -> float:
        """Cores used by processes that are neither server, database nor generator."""
        ours = self.server_cpu_s + self.postgres_cpu_s + self.generator_cpu_s
        return max(0.0, self.machine_cpu_s - ours) / self.seconds if self.seconds else 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def per_request_us(self, cpu_seconds: float) -> float:
        return cpu_seconds / self.requests * 1e6 if self.requests else 0.0

    def line(self) -> str:
        errors = f"  ERRORS non-200 {self.non_200} socket {self.socket_errors}" if self.failed else ""
        return (
            f"{self.rps:9,.0f} req/s  p50 {self.p50_ms:6.2f} ms  p99 {self.p99_ms:6.2f} ms  "
            f"max {self.max_ms:6.1f} ms  n={self.requests:,}  "
            f"cpu/req server {self.per_request_us(self.server_cpu_s):.0f} us, "
            f"pg {self.per_request_us(self.postgres_cpu_s):.0f} us, "
            f"generator {self.per_request_us(self.generator_cpu_s):.0f} us "
            f"({self.generator_cpu_s / self.seconds:.2f} cores); "
            f"others {self.others_cores:.2f} cores{errors}"
        )

    @property
    def failed(self) -> bool:
        return bool(self.non_200 or self.socket_errors)

    def summary(self) -> dict[str, object]:
        figures = asdict(self)
        figures["rps"] = round(self.rps, 1)
        figures["others_cores"] = round(self.others_cores, 3)
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}


def measure(
    args: argparse.Namespace, generator: str, server: Server, path: str, token: str | None
) -> LoadResult:
    if generator == "wrk":
        return _measure_wrk(args, server, path, token)
    return _measure_builtin(args, server, path, token)


class CpuMeter:
    """CPU seconds spent between start() and stop(): server workers, PostgreSQL, whole machine.

    The machine's figure shows whether something else (another benchmark, a test suite) was
    competing for the cores, which on a small machine moves every other figure.
    """

    def __init__(self, server: Server) -> None:
        self.server = server

    def start(self) -> None:
        self.before = _cpu(self.server.workers()), _cpu(self.server.postgres()), _machine_busy()

    def stop(self) -> tuple[float, float, float]:
        workers, postgres = _cpu(self.server.workers()), _cpu(self.server.postgres())
        return (
            _spent(self.before[0], workers),
            _spent(self.before[1], postgres),
            _machine_busy() - self.before[2],
        )


def _spent(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


# wrk: a Lua script adds the token, counts every non-200 per thread and prints exact percentiles.
_WRK_SCRIPT = """
wrk.method = "GET"
{auth}
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) non200 = 0 end
function response(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end
function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("non200") end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"non200":%d,"socket_errors":%d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, bad, e.connect + e.read + e.write + e.timeout))
end
"""


def _measure_wrk(args: argparse.Namespace, server: Server, path: str, token: str | None) -> LoadResult:
    script = server.data_dir / "wrk.lua"
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"' if token else ""
    script.write_text(_WRK_SCRIPT.format(auth=auth))
    script.chmod(0o600)
    url = f"{server.base}{path}"
    threads = min(args.wrk_threads, args.connections)

    def wrk(seconds: float) -> str:
        command = [
            "wrk",
            f"-t{threads}",
            f"-c{args.connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(script),
            url,
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
        except subprocess.TimeoutExpired as error:
            raise BenchmarkError("wrk did not finish in time") from error
        if done.returncode != 0:
            raise BenchmarkError(f"wrk failed ({done.returncode}): {done.stderr[-2000:]}")
        return done.stdout

    if args.warmup > 0:
        wrk(args.warmup)
    meter = CpuMeter(server)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    meter.start()
    output = wrk(args.duration)
    server_cpu, postgres_cpu, machine_cpu = meter.stop()
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    match = re.search(r"^WRKJSON (\{.*\})$", output, re.MULTILINE)
    if match is None:
        raise BenchmarkError(f"could not read wrk's summary:\n{output}")
    figures = json.loads(match.group(1))
    generator_cpu = (children_after.ru_utime - children_before.ru_utime) + (
        children_after.ru_stime - children_before.ru_stime
    )
    return LoadResult(
        generator="wrk",
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        max_ms=figures["max_us"] / 1000,
        non_200=figures["non200"],
        socket_errors=figures["socket_errors"],
        generator_cpu_s=generator_cpu,
        server_cpu_s=server_cpu,
        postgres_cpu_s=postgres_cpu,
        machine_cpu_s=machine_cpu,
    )


class _Load:
    """Shared state of one built-in load run."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.sending = True  # connections keep sending until the window closes
        self.measuring = False
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.socket_errors = 0
        self.in_flight = 0
        self.idle = asyncio.Event()


class _Connection(asyncio.Protocol):
    """One keep-alive connection: send, read the whole response, record, send again."""

    def __init__(self, load: _Load, lost: asyncio.Future[None]) -> None:
        self.load = load
        self.lost = lost
        self.buffer = bytearray()
        self.needed = -1  # bytes of the current response, once its head has arrived
        self.status = 0
        self.sent = 0.0
        self.waiting = False  # a request is out and its answer not complete
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        self.load.in_flight += 1
        self.waiting = True
        self.sent = time.perf_counter()
        self.transport.write(self.load.request)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        if self.needed < 0:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end]).lower()
            self.status = int(head[9:12])
            at = head.find(b"\r\ncontent-length:")
            if at >= 0:
                self.needed = end + 4 + int(head[at + 17 : head.find(b"\r", at + 2)])
            elif b"transfer-encoding: chunked" in head:
                last = buffer.find(b"\r\n0\r\n\r\n", end + 4)
                if last < 0:
                    return
                self.needed = last + 7
            else:
                self.needed = end + 4  # no body
        if len(buffer) < self.needed:
            return
        latency = time.perf_counter() - self.sent
        del buffer[: self.needed]
        self.needed = -1
        self.waiting = False
        load = self.load
        load.in_flight -= 1
        if load.measuring:
            load.latencies.append(latency)
            load.statuses[self.status] += 1
        if load.sending:
            self._send()
        elif load.in_flight == 0:
            load.idle.set()

    def connection_lost(self, exc: Exception | None) -> None:
        load = self.load
        if self.waiting:
            self.waiting = False
            load.in_flight -= 1  # the answer never came
            load.socket_errors += 1
        elif load.sending:
            load.socket_errors += 1  # the server closed a keep-alive connection mid-run
        if not load.sending and load.in_flight == 0:
            load.idle.set()
        if not self.lost.done():
            self.lost.set_result(None)


def interrupt(process: subprocess.Popen[bytes], name: str) -> None:
    """SIGINT, as an operator would, then force after 30 s; then kill its group (any child
    process left behind)."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop within 30 s after SIGINT: killing it", flush=True)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


async def _connection_loop(load: _Load, port: int, connection: type[_Connection] | None = None) -> None:
    """Keep one connection open for the whole run, reconnecting if the server drops it."""
    loop = asyncio.get_running_loop()
    while load.sending:
        lost: asyncio.Future[None] = loop.create_future()
        try:
            transport, _ = await loop.create_connection(
                functools.partial(connection or _Connection, load, lost), HOST, port
            )
        except OSError:
            load.socket_errors += 1
            await asyncio.sleep(0.05)
            continue
        try:
            await lost
        finally:
            transport.close()


async def _builtin_run(args: argparse.Namespace, server: Server, path: str, token: str | None) -> LoadResult:
    headers = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{server.port}\r\nAccept: application/json\r\n"
    if token:
        headers += f"Authorization: Bearer {token}\r\n"
    load = _Load((headers + "\r\n").encode())
    tasks = [asyncio.create_task(_connection_loop(load, server.port)) for _ in range(args.connections)]
    meter = CpuMeter(server)
    try:
        await asyncio.sleep(args.warmup)
        meter.start()
        cpu_before = time.process_time()
        started = time.perf_counter()
        load.measuring = True
        await asyncio.sleep(args.duration)
        load.measuring = False
        seconds = time.perf_counter() - started
        generator_cpu = time.process_time() - cpu_before
        server_cpu, postgres_cpu, machine_cpu = meter.stop()
        load.sending = False
        if load.in_flight:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(load.idle.wait(), timeout=10)
    finally:
        load.sending = False
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    latencies = sorted(load.latencies)
    statuses = {str(k): v for k, v in sorted(load.statuses.items())}
    return LoadResult(
        generator="builtin",
        requests=len(latencies),
        seconds=seconds,
        p50_ms=_percentile(latencies, 0.50) * 1000,
        p99_ms=_percentile(latencies, 0.99) * 1000,
        max_ms=(latencies[-1] if latencies else 0.0) * 1000,
        non_200=sum(v for k, v in load.statuses.items() if k != 200),
        socket_errors=load.socket_errors,
        statuses=statuses,
        generator_cpu_s=generator_cpu,
        server_cpu_s=server_cpu,
        postgres_cpu_s=postgres_cpu,
        machine_cpu_s=machine_cpu,
    )


def _measure_builtin(args: argparse.Namespace, server: Server, path: str, token: str | None) -> LoadResult:
    with _event_loop() as runner:
        return runner.run(_builtin_run(args, server, path, token))


def _event_loop() -> asyncio.Runner:
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


# ---------------------------------------------------------------------------------------------
# Helpers


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per endpoint")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load before measuring")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--server", choices=["uvicorn", "hypercorn"], default="uvicorn")
    parser.add_argument("--customers", type=int, default=50_000, help="customers in the demo tenant")
    parser.add_argument("--repeat", type=int, default=1, help="alternate live/list N times; report medians")
    parser.add_argument(
        "--generator", choices=["auto", "wrk", "builtin"], default="auto", help="auto: wrk when on PATH"
    )
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--database-url", help="use this PostgreSQL (owner URL) instead of an embedded one")
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="server log level (default: the server's own, info: one access-log line per request)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    parser.add_argument("--ready-timeout", type=float, default=180.0, help=argparse.SUPPRESS)
    parser.add_argument("--demo-timeout", type=float, default=1800.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.duration <= 0 or args.warmup < 0 or args.connections < 1 or args.repeat < 1 or args.workers < 1:
        parser.error("--duration, --connections, --workers and --repeat must be positive")
    return args


def _choose_generator(wanted: str) -> str:
    if wanted == "auto":
        return "wrk" if shutil.which("wrk") else "builtin"
    if wanted == "wrk" and not shutil.which("wrk"):
        print("wrk is not on PATH: use --generator builtin (or auto)", file=sys.stderr)
        raise SystemExit(2)
    return wanted


def _describe_generator(generator: str) -> str:
    if generator == "wrk":
        return f"wrk ({shutil.which('wrk')})"
    if importlib.util.find_spec("uvloop") is None:
        return "built-in asyncio (stdlib loop)"
    return "built-in asyncio (uvloop)"


def _switchboard_command() -> list[str]:
    script = Path(sys.executable).parent / "switchboard"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from switchboard.entrypoints.cli import main; main()"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _request(
    port: int, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    except OSError as error:
        raise BenchmarkError(f"{method} {path} failed: {error}") from error
    finally:
        connection.close()


def _get_status(port: int, path: str, timeout: float) -> int | None:
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found.extend(int(child) for child in (task / "children").read_text().split())
    return found


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _cpu(pids: list[int]) -> dict[int, float]:
    """utime + stime in seconds, per process."""
    seconds = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # fields[0] is field 3, state
        seconds[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return seconds


def _machine_busy() -> float:
    """Seconds of CPU time all processors spent busy since boot (not idle, not waiting for I/O)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def _rss_mib(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _format_rss(rss: dict[int, float]) -> str:
    if not rss:
        return "no workers found"
    return ", ".join(f"pid {pid} {mib:.1f} MiB" for pid, mib in rss.items())


def _percentile(ordered: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q of all values at or below it."""
    if not ordered:
        return 0.0
    rank = math.ceil(round(q * len(ordered), 9))
    return ordered[min(max(rank, 1), len(ordered)) - 1]


def _median(results: list[LoadResult]) -> dict[str, float]:
    return {
        "rps": statistics.median(r.rps for r in results),
        "p50_ms": statistics.median(r.p50_ms for r in results),
        "p99_ms": statistics.median(r.p99_ms for r in results),
    }


def _median_cpu(results: list[LoadResult]) -> dict[str, float]:
    return {
        "server_us": statistics.median(r.per_request_us(r.server_cpu_s) for r in results),
        "postgres_us": statistics.median(r.per_request_us(r.postgres_cpu_s) for r in results),
        "generator_us": statistics.median(r.per_request_us(r.generator_cpu_s) for r in results),
        "generator_cores": statistics.median(r.generator_cpu_s / r.seconds for r in results),
    }


def _rounded(figures: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 3) for k, v in figures.items()}


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main())
