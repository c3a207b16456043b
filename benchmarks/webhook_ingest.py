"""Benchmark: verified Stripe webhooks accepted per second, and acknowledgement to processed.

Not a test: it prints figures. It starts ``switchboard serve`` on a fresh data directory under
/tmp (an embedded PostgreSQL), then one ``switchboard worker`` on the same data directory. It
signs up a tenant, creates a platform admin with the CLI who turns ``payments`` on for it, and
connects a Stripe integration, whose ``webhook_url`` receives every event. Then:

  (a) ingest: C connections POST distinct ``payment_intent.succeeded`` events (unique ``evt_``
      ids, about 1.4 KB, each signed with ``stripe.WebhookSignature.generate_signature_header``
      when it is sent) as fast as the server acknowledges them: accepted events per second and
      the p50/p99 of the acknowledgement. The worker runs meanwhile; how long it then takes to
      drain the backlog is measured too.
  (b) acknowledgement to processed: events at a steady rate (200/s by default, well under what
      the worker can do, so it is not simply backlogged), and for each the time from its 200
      (this process's clock) to its ``webhook_events.finished_at`` (the worker's clock, same
      machine), read from the database as its owner.
  (c) duplicates: 5 copies of one event sent at once on 5 connections: all must be answered
      200, with exactly one row stored for the event, processed once (done, attempts 1).

The server, the worker, PostgreSQL and the generator share the machine's cores; the CPU of each
is measured from /proc and printed. The generator is the built-in asyncio one of
``list_customers.py`` (its connection class, subclassed so each request is a new signed event).

    .venv/bin/python benchmarks/webhook_ingest.py
    .venv/bin/python benchmarks/webhook_ingest.py --duration 20 --connections 64 --log-level warning

Exit status: 0 when the run was valid (every request answered 200, every event stored once and
processed in time, the duplicates deduplicated), 1 when it was not, 2 on bad arguments. The
last line printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import stripe
from psycopg.conninfo import make_conninfo

import list_customers as lc

HOST = lc.HOST  # loopback only, always
DUPLICATE_COPIES = 5
DEFAULT_STEADY_RATE = 200.0
POLL_SECONDS = 0.05
MEASURABLE_BACKLOG = 100  # events: below this, a drain rate is mostly the polling interval
PASSWORD = "bench-" + secrets.token_urlsafe(12)
WEBHOOK_SECRET = "whsec_" + secrets.token_urlsafe(24)


def main() -> int:
    args = _arguments()
    data_dir = Path(tempfile.mkdtemp(prefix="sbhook-", dir="/tmp"))
    server: lc.Server | None = None
    worker: WorkerProcess | None = None
    signal.signal(signal.SIGTERM, lc._exit_on_sigterm)
    signal.signal(signal.SIGALRM, _out_of_time)
    signal.alarm(int(args.max_seconds))
    try:
        server = lc.Server(args, data_dir)
        worker = WorkerProcess(server)
        return run(args, server, worker)
    except (lc.BenchmarkError, OutOfTime) as error:
        print(f"\nbenchmark failed: {error}", flush=True)
        if server is not None:
            server.print_log_tail()
        if worker is not None:
            worker.print_log_tail()
        return 1
    finally:
        signal.alarm(0)
        if worker is not None:
            worker.stop()  # first: stopping the server stops the database under the worker
        if server is not None:
            server.stop()
        if args.keep:
            print(f"kept data directory {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


def run(args: argparse.Namespace, server: lc.Server, worker: WorkerProcess) -> int:
    print(
        f"switchboard webhook ingest benchmark: {args.server}, {args.workers} workers + 1 switchboard "
        f"worker (batch {args.batch}), {args.connections} connections, {args.duration:g} s after "
        f"{args.warmup:g} s warm-up; steady {_describe_rate(args)} for {args.steady_duration:g} s"
        + ("; worker held (SIGSTOP) during (a)" if args.hold_worker else ""),
        flush=True,
    )
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
        f"python {sys.version.split()[0]}; generator {lc._describe_generator('builtin')}",
        flush=True,
    )
    print(f"data directory {server.data_dir}, embedded PostgreSQL", flush=True)
    ready_seconds = server.start()
    print(f"\nserver ready in {ready_seconds:.2f} s", flush=True)
    worker.start(args.batch, args.ready_timeout)
    print(f"worker ready (pid {worker.pid})", flush=True)

    database = Database(server.data_dir)
    path = setup_tenant(server, worker)
    source = EventSource(server.port, path, WEBHOOK_SECRET)
    print(
        f"stripe integration connected, payments on; webhook_url {path}\n"
        f"event: {source.body_bytes:,} bytes of JSON; building and signing one costs "
        f"{source.cost_us():.0f} us in the generator",
        flush=True,
    )
    check = check_one(server, source, database)
    print(f"check: one event -> 200, processed {check * 1000:.0f} ms after its acknowledgement", flush=True)
    idle = measure_idle(args, server, worker, database)
    print(f"idle ({args.idle:g} s, nothing to do): {idle.line()}", flush=True)

    held = " (worker held: it processes nothing until (a) ends)" if args.hold_worker else ""
    print(f"\n(a) ingest, as fast as the server acknowledges{held}:", flush=True)
    if args.hold_worker:
        worker.hold()
    try:
        flood = run_async(ingest(args, server, worker, source.phase("a")))
    finally:
        worker.release()
    print(f"  {flood.line()}", flush=True)
    drain = measure_drain(args, server, worker, database, flood)
    print(f"  {drain.line()}", flush=True)
    stored_a = database.rows(flood.load.events.prefix)
    flood_lag = _lags(flood.load.acks, stored_a)
    kept_up = flood.processed_in_window(stored_a)
    print(f"  the worker processed {kept_up:,.0f} events/s during the measured window of (a)", flush=True)
    if args.steady_rate is None:
        # 200/s unless that is more than half of what this machine accepts: the worker must not
        # be backlogged, nor the server saturated, for the figure to mean latency, not queueing.
        args.steady_rate = min(DEFAULT_STEADY_RATE, max(10.0, round(flood.rps / 2, -1)))

    print(f"\n(b) acknowledgement to processed at {args.steady_rate:g} events/s:", flush=True)
    steady = run_async(steady_load(args, server, worker, source.phase("b")))
    stored_b = database.wait_processed(steady.load.events.prefix, len(steady.load.acks), args.settle_timeout)
    steady_lag = _lags(steady.load.acks, stored_b)
    print(f"  {steady.line()}", flush=True)
    print(f"  {steady_lag.line()}", flush=True)
    print(f"  {steady_lag.spread()}", flush=True)

    print(f"\n(c) {DUPLICATE_COPIES} copies of one event at once:", flush=True)
    duplicates = check_duplicates(args, server, source.phase("c"), database)
    print(f"  {duplicates.line()}", flush=True)

    return report(
        args,
        ready_seconds,
        source,
        idle,
        flood,
        kept_up,
        drain,
        _stored_check(flood.load, stored_a),
        flood_lag,
        steady,
        _stored_check(steady.load, stored_b),
        steady_lag,
        duplicates,
    )


def report(
    args: argparse.Namespace,
    ready_seconds: float,
    source: EventSource,
    idle: Idle,
    flood: Flood,
    kept_up: float,
    drain: Drain,
    stored_a: StoredCheck,
    flood_lag: Lags,
    steady: Steady,
    stored_b: StoredCheck,
    steady_lag: Lags,
    duplicates: Duplicates,
) -> int:
    problems = []
    if flood.failed:
        problems.append(f"(a) {flood.non_200} non-200 answers, {flood.socket_errors} socket errors")
    if not drain.drained:
        problems.append(f"(a) backlog not drained within {args.drain_timeout:g} s")
    problems += [f"(a) {p}" for p in stored_a.problems] + [f"(b) {p}" for p in stored_b.problems]
    if steady.failed:
        problems.append(f"(b) {steady.non_200} non-200 answers, {steady.socket_errors} socket errors")
    if steady_lag.missing:
        problems.append(f"(b) {steady_lag.missing} acknowledged events never processed")
    problems += [f"(c) {p}" for p in duplicates.problems]
    valid = not problems
    # The drain is too short, and the idle server too much in it, for its own figure to count.
    others = max(flood.others_cores, steady.others_cores)
    noisy = others > lc.NOISY_CORES

    print("\nresults:")
    print(
        f"  ingest                {flood.rps:9,.0f} events/s accepted   ack p50 {flood.p50_ms:6.2f} ms   "
        f"p99 {flood.p99_ms:6.2f} ms   ({args.connections} connections)"
    )
    print(
        f"  backlog drain         {drain.backlog:,} events pending at the end of (a), drained in "
        f"{drain.seconds:.2f} s ({drain.rate:,.0f} events/s by one worker); during (a) it processed "
        f"{kept_up:,.0f} events/s"
    )
    print(
        f"  ack -> processed      p50 {steady_lag.p50_ms:6.1f} ms   p99 {steady_lag.p99_ms:6.1f} ms   "
        f"max {steady_lag.max_ms:6.1f} ms   at {steady.rate:,.0f} events/s (n={steady_lag.count:,})"
    )
    if drain.backlog > flood.rps / 2:  # more than half a second of ingest left to process
        why = "backlogged: the ingest outran the worker"
    else:
        why = "the worker kept up; the 200s themselves were queued, so some events were done before theirs"
    print(
        f"  ack -> processed      p50 {flood_lag.p50_ms:6.0f} ms   p99 {flood_lag.p99_ms:6.0f} ms   "
        f"min {flood_lag.min_ms:6.0f} ms   during (a) ({why})"
    )
    print(f"  {DUPLICATE_COPIES} duplicate copies     {duplicates.verdict()}")
    print(f"  idle worker           {idle.line()}")
    print(
        "  CPU per event in (a) (server workers / PostgreSQL / switchboard worker / generator): "
        f"{_cpu_split(flood)}; generator {flood.generator_cpu_s / flood.seconds:.2f} cores"
    )
    if drain.measurable:
        print(
            "  CPU per event processed while draining (switchboard worker / PostgreSQL): "
            f"{drain.per_event_us(drain.worker_cpu_s):.0f} / "
            f"{drain.per_event_us(drain.postgres_cpu_s):.0f} us; "
            f"worker {drain.worker_cpu_s / drain.cpu_seconds if drain.cpu_seconds else 0:.2f} cores"
        )
    else:
        print(
            f"  the backlog ({drain.backlog} events) was too small for a drain rate or its CPU to mean "
            "anything: --hold-worker measures the worker alone"
        )
    if noisy:
        print(
            f"  WARNING: other processes used up to {others:.2f} cores during the measurements; "
            "rerun on a quiet machine"
        )
    print(
        "  CPU per event in (b) (server workers / PostgreSQL / switchboard worker / generator): "
        f"{_cpu_split(steady)}"
    )
    if steady.late:
        print(
            f"  NOTE: {steady.late} events of (b) were skipped (no free connection when due): the server "
            "did not keep up with that rate; lower --steady-rate"
        )
    for problem in problems:
        print(f"  INVALID RUN: {problem}")

    summary = {
        "benchmark": "webhook_ingest",
        "server": args.server,
        "workers": args.workers,
        "switchboard_workers": 1,
        "worker_batch": args.batch,
        "connections": args.connections,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "cpus": os.cpu_count(),
        "time_to_ready_s": round(ready_seconds, 3),
        "event_bytes": source.body_bytes,
        "sign_us": round(source.cost_us(), 1),
        "idle": idle.summary(),
        "worker_held_during_ingest": args.hold_worker,
        "ingest": flood.summary(),
        "worker_events_per_s_during_ingest": round(kept_up, 1),
        "drain": drain.summary(),
        "ingest_ack_to_processed": flood_lag.summary(),
        "steady": steady.summary() | {"ack_to_processed": steady_lag.summary()},
        "duplicates": duplicates.summary(),
        "valid": valid,
        "problems": problems,
        "others_cores_max": round(others, 3),
        "noisy": noisy,
    }
    print(json.dumps(summary, separators=(",", ":")), flush=True)
    return 0 if valid else 1


# ---------------------------------------------------------------------------------------------
# The worker process, the tenant, the database


class WorkerProcess:
    """One ``switchboard worker``, attached to the embedded database ``serve`` started."""

    def __init__(self, server: lc.Server) -> None:
        self.env = {**server.env, "SWITCHBOARD_DATA_DIR": str(server.data_dir)}
        self.log_path = server.data_dir / "worker.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.pid = 0
        self.held = False

    def start(self, batch: int, timeout: float) -> None:
        command = [*lc._switchboard_command(), "worker", "--batch", str(batch)]
        with open(self.log_path, "wb") as log:
            # stdout carries its structured log; kept in the data directory, read on failure.
            self.process = subprocess.Popen(
                command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.pid = self.process.pid
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise lc.BenchmarkError(f"switchboard worker exited with status {self.process.returncode}")
            with contextlib.suppress(OSError):
                if b"worker_started" in self.log_path.read_bytes():
                    return
            time.sleep(lc.READY_POLL_SECONDS)
        raise lc.BenchmarkError(f"switchboard worker not started after {timeout:g} s")

    def hold(self) -> None:
        """SIGSTOP: the worker claims nothing until released (its connections stay open, idle)."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.pid, signal.SIGSTOP)
            self.held = True

    def release(self) -> None:
        if self.held and self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGCONT)
            self.held = False

    def cpu_seconds(self) -> float:
        return lc._cpu([self.pid]).get(self.pid, 0.0) if self.pid else 0.0

    def stop(self) -> None:
        """SIGINT (the worker finishes its batch and leaves the database running), then force."""
        if self.process is None:
            return
        self.release()  # a stopped process would not see the SIGINT
        process, self.process = self.process, None
        lc.interrupt(process, "worker")
        if process.returncode not in (0, None):
            print(f"worker exited with status {process.returncode}", flush=True)

    def print_log_tail(self) -> None:
        with contextlib.suppress(OSError):
            tail = self.log_path.read_text(errors="replace")[-3000:]
            if tail.strip():
                print(f"--- worker log (last lines) ---\n{tail}", flush=True)


def setup_tenant(server: lc.Server, worker: WorkerProcess) -> str:
    """A new tenant with payments on (by a platform admin) and a Stripe integration: its webhook path."""
    suffix = secrets.token_hex(4)
    owner = _call(
        server,
        "POST",
        "/v1/auth/register",
        {
            "tenant_name": "Webhook Bench",
            "name": "Bench Owner",
            "email": f"owner-{suffix}@example.com",
            "password": PASSWORD,
        },
        expect=201,
    )
    tenant_id, token = owner["tenant"]["id"], owner["access_token"]

    admin_email = f"admin-{suffix}@example.com"
    command = [*lc._switchboard_command(), "admin", "create", "--email", admin_email]
    env = {**worker.env, "SWITCHBOARD_ADMIN_PASSWORD": PASSWORD}  # not on a command line
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired as error:
        raise lc.BenchmarkError("switchboard admin create took longer than 120 s") from error
    if done.returncode != 0:
        raise lc.BenchmarkError(
            f"switchboard admin create failed ({done.returncode}):\n{done.stderr[-2000:]}"
        )
    admin = _call(server, "POST", "/v1/admin/auth/login", {"email": admin_email, "password": PASSWORD})
    flags = _call(
        server,
        "PATCH",
        f"/v1/admin/tenants/{tenant_id}/flags",
        {"flags": {"payments": True}},
        token=admin["access_token"],
    )
    if not flags["flags"]["payments"]["enabled"]:
        raise lc.BenchmarkError(f"payments still off after the admin's change: {flags['flags']}")

    integration = _call(
        server,
        "POST",
        "/v1/integrations",
        {
            "provider": "stripe",
            "config": {"secret_key": "sk_test_" + secrets.token_hex(12), "webhook_secret": WEBHOOK_SECRET},
        },
        token=token,
        expect=201,
    )
    return str(integration["webhook_url"])


def _call(
    server: lc.Server, method: str, path: str, body: object, token: str | None = None, expect: int = 200
) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    status, answer = lc._request(server.port, method, path, json.dumps(body), headers)
    if status != expect:
        raise lc.BenchmarkError(f"{method} {path} answered {status}: {answer[:500]!r}")
    return json.loads(answer)


@dataclass(frozen=True)
class Row:
    status: str
    attempts: int
    finished: float | None  # finished_at as a Unix timestamp


class Database:
    """The embedded database as its owner (a superuser: RLS does not hide other tenants' rows)."""

    def __init__(self, data_dir: Path) -> None:
        self.url = make_conninfo(host=str(data_dir / "postgres"), user="postgres", dbname="switchboard")

    def _query(self, sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url, autocommit=True) as connection:
            return connection.execute(sql, params).fetchall()

    def commits(self) -> int:
        """Transactions committed in the database so far (statistics flushed about every second)."""
        found = self._query("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()", ())
        return int(found[0][0])

    def pending(self) -> int:
        return int(self._query("SELECT count(*) FROM webhook_events WHERE status = 'pending'", ())[0][0])

    def rows(self, prefix: str) -> dict[str, list[Row]]:
        """Every stored row whose event id starts with prefix, by event id."""
        found: dict[str, list[Row]] = {}
        for event_id, status, attempts, finished_at in self._query(
            "SELECT event_id, status, attempts, finished_at FROM webhook_events"
            " WHERE provider = 'stripe' AND event_id LIKE %s",
            (prefix.replace("_", r"\_") + "%",),
        ):
            finished = finished_at.timestamp() if finished_at is not None else None
            found.setdefault(event_id, []).append(Row(status, attempts, finished))
        return found

    def wait_processed(self, prefix: str, expected: int, timeout: float) -> dict[str, list[Row]]:
        """The rows once all expected are stored and none is pending, or whatever is there at timeout."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.rows(prefix)
            settled = sum(1 for found in rows.values() for row in found if row.status != "pending")
            if (settled >= expected and len(rows) >= expected) or time.monotonic() > deadline:
                return rows
            time.sleep(POLL_SECONDS * 2)


# ---------------------------------------------------------------------------------------------
# Signed events


# A payment_intent.succeeded event as Stripe sends it (API version 2024-06-20), about 1.4 KB.
def _event(event_id: str, serial: int, created: int) -> dict[str, Any]:
    intent = f"pi_3Q{serial:08d}{event_id[-8:]}"
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": created,
        "data": {
            "object": {
                "id": intent,
                "object": "payment_intent",
                "amount": 2000 + serial % 9000,
                "amount_capturable": 0,
                "amount_details": {"tip": {}},
                "amount_received": 2000 + serial % 9000,
                "application": None,
                "application_fee_amount": None,
                "automatic_payment_methods": {"allow_redirects": "always", "enabled": True},
                "canceled_at": None,
                "cancellation_reason": None,
                "capture_method": "automatic_async",
                "client_secret": f"{intent}_secret_xK7u2Gv0TgP4mQbN8wLcZ",
                "confirmation_method": "automatic",
                "created": created - 2,
                "currency": "usd",
                "customer": f"cus_R{serial:010d}",
                "description": "Voice agent minutes, monthly plan",
                "invoice": None,
                "last_payment_error": None,
                "latest_charge": f"ch_3Q{serial:08d}{event_id[-8:]}",
                "livemode": False,
                "metadata": {"order_id": f"ord_{serial:08d}", "source": "switchboard-bench"},
                "next_action": None,
                "on_behalf_of": None,
                "payment_method": f"pm_1Q{serial:08d}AbCdEfGh",
                "payment_method_options": {
                    "card": {"installments": None, "network": None, "request_three_d_secure": "automatic"}
                },
                "payment_method_types": ["card"],
                "processing": None,
                "receipt_email": None,
                "setup_future_usage": None,
                "shipping": None,
                "statement_descriptor": None,
                "status": "succeeded",
                "transfer_group": None,
            }
        },
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": f"req_{serial:012d}", "idempotency_key": f"bench-{serial:08d}"},
        "type": "payment_intent.succeeded",
    }


@dataclass(frozen=True)
class Signed:
    event_id: str
    request: bytes  # the whole HTTP/1.1 request


class EventSource:
    """Builds the HTTP request of a new event, signed with the endpoint's secret when taken."""

    def __init__(self, port: int, path: str, secret: str) -> None:
        self.head = (
            f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUser-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)"
            "\r\nContent-Type: application/json; charset=utf-8\r\nAccept: */*\r\n"
        )
        self.secret = secret
        self.run = secrets.token_hex(3)  # event ids unique across runs too
        self.body_bytes = len(self.body("evt_" + "0" * 24, 0))
        self._cost_us: float | None = None

    def phase(self, name: str) -> Events:
        return Events(self, f"evt_{self.run}{name}_")

    def body(self, event_id: str, serial: int) -> str:
        return json.dumps(_event(event_id, serial, int(time.time())), separators=(",", ":"))

    def sign(self, event_id: str, serial: int) -> Signed:
        body = self.body(event_id, serial)
        header = stripe.WebhookSignature.generate_signature_header(
            body, self.secret, timestamp=int(time.time())
        )
        data = body.encode()
        request = f"{self.head}Stripe-Signature: {header}\r\nContent-Length: {len(data)}\r\n\r\n".encode()
        return Signed(event_id, request + data)

    def cost_us(self) -> float:
        """CPU to build and sign one event in this process, measured once over 2,000 events."""
        if self._cost_us is None:
            started = time.process_time()
            for serial in range(2000):
                self.sign(f"evt_cost{serial:020d}", serial)
            self._cost_us = (time.process_time() - started) / 2000 * 1e6
        return self._cost_us


class Events:
    """The distinct events of one phase: ids share a prefix, so the phase's rows can be found."""

    def __init__(self, source: EventSource, prefix: str) -> None:
        self.source, self.prefix, self.count = source, prefix, 0

    def next(self) -> Signed:
        self.count += 1
        return self.source.sign(f"{self.prefix}{self.count:08d}", self.count)


# ---------------------------------------------------------------------------------------------
# The generator: list_customers' keep-alive connection, with a new signed event per request


class _EventLoad(lc._Load):
    def __init__(self, events: Events, paced: bool = False) -> None:
        super().__init__(b"")
        self.events = events
        self.paced = paced  # connections wait in `free` for the pacer instead of sending again
        self.free: deque[_EventConnection] = deque()
        self.acks: dict[str, float] = {}  # event id -> time.time() at its 200
        self.answers: Counter[int] = Counter()  # every answer, measured or not
        self.late = 0  # paced events skipped: no free connection when they were due
        self.connections = 0  # how many connections the load opens
        self.all_free = asyncio.Event()


class _EventConnection(lc._Connection):
    """Sends ``load.events.next()`` instead of a fixed request; records when each was answered."""

    load: _EventLoad

    def __init__(self, load: _EventLoad, lost: asyncio.Future[None]) -> None:
        super().__init__(load, lost)
        self.event: Signed | None = None

    def _send(self) -> None:  # called by the base class when the previous answer is complete
        self._settle()
        if self.load.paced:
            self.load.free.append(self)
            if len(self.load.free) >= self.load.connections:
                self.load.all_free.set()
        else:
            self.post(self.load.events.next())

    def post(self, event: Signed) -> None:
        assert self.transport is not None
        self.event = event
        self.load.in_flight += 1
        self.waiting = True
        self.sent = time.perf_counter()
        self.transport.write(event.request)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self.waiting:  # the answer is complete and nothing was sent after it
            self._settle()

    def _settle(self) -> None:
        if self.event is None or self.waiting:
            return
        now = time.time()
        self.load.answers[self.status] += 1
        if self.status == 200:
            self.load.acks[self.event.event_id] = now
        self.event = None

    def connection_lost(self, exc: Exception | None) -> None:
        with contextlib.suppress(ValueError):
            self.load.free.remove(self)
        super().connection_lost(exc)


async def _finish(load: _EventLoad, tasks: list[asyncio.Task[None]]) -> None:
    load.sending = False
    try:
        if load.in_flight:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(load.idle.wait(), timeout=10)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def run_async(coroutine: Any) -> Any:
    with lc._event_loop() as runner:
        try:
            return runner.run(coroutine)
        except asyncio.CancelledError:
            if _deadline["passed"]:
                raise OutOfTime("--max-seconds reached: stopped") from None
            raise


# ---------------------------------------------------------------------------------------------
# Idle: what the worker costs when there is nothing to do


@dataclass
class Idle:
    seconds: float
    worker_cpu_s: float
    postgres_cpu_s: float
    commits: int
    commit_seconds: float  # between the two readings of the commit counter

    def line(self) -> str:
        figures = self.summary()
        return (
            f"worker {figures['worker_cores']:.3f} cores, PostgreSQL {figures['postgres_cores']:.3f} cores, "
            f"{figures['transactions_per_s']:.0f} transactions/s committed in the database"
        )

    def summary(self) -> dict[str, object]:
        return {
            "seconds": round(self.seconds, 3),
            "worker_cores": round(self.worker_cpu_s / self.seconds, 4) if self.seconds else 0.0,
            "postgres_cores": round(self.postgres_cpu_s / self.seconds, 4) if self.seconds else 0.0,
            "transactions_per_s": round(self.commits / self.commit_seconds, 1)
            if self.commit_seconds
            else 0.0,
        }


def measure_idle(
    args: argparse.Namespace, server: lc.Server, worker: WorkerProcess, database: Database
) -> Idle:
    time.sleep(1.1)  # let the statistics of the check reach pg_stat_database
    meter = Meter(server, worker)
    before, read_at = database.commits(), time.monotonic()
    meter.start()
    time.sleep(args.idle)
    _server, postgres_cpu, _machine = meter.stop()
    after = database.commits() - 1  # less the first reading's own transaction
    return Idle(
        meter.seconds, meter.worker_cpu, postgres_cpu, max(0, after - before), time.monotonic() - read_at
    )


# ---------------------------------------------------------------------------------------------
# (a) ingest and the drain that follows


class Meter(lc.CpuMeter):
    """lc.CpuMeter plus the switchboard worker process."""

    def __init__(self, server: lc.Server, worker: WorkerProcess) -> None:
        super().__init__(server)
        self.worker = worker

    def start(self) -> None:
        super().start()
        self.worker_before = self.worker.cpu_seconds()
        self.wall = time.perf_counter()

    def stop(self) -> tuple[float, float, float]:
        self.worker_cpu = self.worker.cpu_seconds() - self.worker_before
        self.seconds = time.perf_counter() - self.wall
        return super().stop()


class _Measured:
    """What Flood and Steady share: validity, and CPU used by processes other than ours."""

    non_200: int
    socket_errors: int
    seconds: float
    server_cpu_s: float
    postgres_cpu_s: float
    worker_cpu_s: float
    generator_cpu_s: float
    machine_cpu_s: float

    @property
    def failed(self) -> bool:
        return bool(self.non_200 or self.socket_errors)

    @property
    def others_cores(self) -> float:
        ours = self.server_cpu_s + self.postgres_cpu_s + self.worker_cpu_s + self.generator_cpu_s
        return max(0.0, self.machine_cpu_s - ours) / self.seconds if self.seconds else 0.0


@dataclass
class Flood(_Measured):
    load: _EventLoad
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    non_200: int
    socket_errors: int
    statuses: dict[str, int]
    generator_cpu_s: float
    server_cpu_s: float
    postgres_cpu_s: float
    worker_cpu_s: float
    machine_cpu_s: float
    stopped_at: float  # time.time() when the last answer of the load came back
    window: tuple[float, float]  # time.time() at the start and the end of the measured window

    def processed_in_window(self, rows: dict[str, list[Row]]) -> float:
        """Events per second the worker finished (any of this phase's) inside the measured window."""
        start, end = self.window
        done = sum(1 for found in rows.values() for r in found if r.finished and start <= r.finished < end)
        return done / (end - start) if end > start else 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def per_event_us(self, cpu: float) -> float:
        return cpu / self.requests * 1e6 if self.requests else 0.0

    def line(self) -> str:
        errors = f"  ERRORS non-200 {self.non_200} socket {self.socket_errors}" if self.failed else ""
        return (
            f"{self.rps:9,.0f} events/s  ack p50 {self.p50_ms:6.2f} ms  p99 {self.p99_ms:6.2f} ms  "
            f"max {self.max_ms:6.1f} ms  n={self.requests:,} (+{len(self.load.acks) - self.requests:,} "
            f"outside the window)  cpu/event server {self.per_event_us(self.server_cpu_s):.0f} us, "
            f"pg {self.per_event_us(self.postgres_cpu_s):.0f} us, "
            f"worker {self.per_event_us(self.worker_cpu_s):.0f} us, "
            f"generator {self.per_event_us(self.generator_cpu_s):.0f} us "
            f"({self.generator_cpu_s / self.seconds:.2f} cores); others {self.others_cores:.2f} cores{errors}"
        )

    def summary(self) -> dict[str, object]:
        return {
            "events_per_s": round(self.rps, 1),
            "accepted": self.requests,
            "accepted_total": len(self.load.acks),
            "seconds": round(self.seconds, 3),
            "ack_p50_ms": round(self.p50_ms, 3),
            "ack_p99_ms": round(self.p99_ms, 3),
            "ack_max_ms": round(self.max_ms, 3),
            "non_200": self.non_200,
            "socket_errors": self.socket_errors,
            "statuses": self.statuses,
            "cpu_us_per_event": {
                "server": round(self.per_event_us(self.server_cpu_s), 1),
                "postgres": round(self.per_event_us(self.postgres_cpu_s), 1),
                "worker": round(self.per_event_us(self.worker_cpu_s), 1),
                "generator": round(self.per_event_us(self.generator_cpu_s), 1),
            },
            "generator_cores": round(self.generator_cpu_s / self.seconds, 3) if self.seconds else 0.0,
            "others_cores": round(self.others_cores, 3),
        }


async def ingest(args: argparse.Namespace, server: lc.Server, worker: WorkerProcess, events: Events) -> Flood:
    """lc._builtin_run's schedule: connections send back to back, measured after the warm-up."""
    load = _EventLoad(events)
    tasks = [
        asyncio.create_task(lc._connection_loop(load, server.port, _EventConnection))
        for _ in range(args.connections)
    ]
    meter = Meter(server, worker)
    try:
        await asyncio.sleep(args.warmup)
        meter.start()
        cpu_before = time.process_time()
        load.measuring = True
        window_start = time.time()
        await asyncio.sleep(args.duration)
        load.measuring = False
        window = (window_start, time.time())
        generator_cpu = time.process_time() - cpu_before
        server_cpu, postgres_cpu, machine_cpu = meter.stop()
    finally:
        await _finish(load, tasks)
    stopped_at = max(load.acks.values(), default=time.time())
    latencies = sorted(load.latencies)
    non_200 = sum(v for k, v in load.answers.items() if k != 200)  # warm-up and tail included
    return Flood(
        load=load,
        requests=len(latencies),
        seconds=meter.seconds,
        p50_ms=lc._percentile(latencies, 0.50) * 1000,
        p99_ms=lc._percentile(latencies, 0.99) * 1000,
        max_ms=(latencies[-1] if latencies else 0.0) * 1000,
        non_200=non_200,
        socket_errors=load.socket_errors,
        statuses={str(k): v for k, v in sorted(load.answers.items())},
        generator_cpu_s=generator_cpu,
        server_cpu_s=server_cpu,
        postgres_cpu_s=postgres_cpu,
        worker_cpu_s=meter.worker_cpu,
        machine_cpu_s=machine_cpu,
        stopped_at=stopped_at,
        window=window,
    )


@dataclass
class Drain:
    backlog: int  # pending rows right after (a)
    seconds: float  # from the end of (a) to the last finished_at
    drained: bool
    worker_cpu_s: float
    postgres_cpu_s: float
    machine_cpu_s: float
    cpu_seconds: float  # wall time over which the CPU was measured

    @property
    def rate(self) -> float:
        return self.backlog / self.seconds if self.seconds > 0 else 0.0

    @property
    def measurable(self) -> bool:
        return self.backlog >= MEASURABLE_BACKLOG and self.seconds >= 0.5

    @property
    def others_cores(self) -> float:
        ours = self.worker_cpu_s + self.postgres_cpu_s
        # the idle server workers and this process's polling count as others here: a rough figure
        return max(0.0, self.machine_cpu_s - ours) / self.cpu_seconds if self.cpu_seconds else 0.0

    def per_event_us(self, cpu: float) -> float:
        return cpu / self.backlog * 1e6 if self.backlog else 0.0

    def line(self) -> str:
        state = "drained" if self.drained else "NOT drained"
        cpu = (
            f"; cpu/event worker {self.per_event_us(self.worker_cpu_s):.0f} us, "
            f"pg {self.per_event_us(self.postgres_cpu_s):.0f} us"
        )
        return (
            f"backlog {self.backlog:,} events pending at the end; {state} in {self.seconds:.2f} s "
            f"({self.rate:,.0f} events/s){cpu if self.measurable else ''}"
        )

    def summary(self) -> dict[str, object]:
        return {
            "backlog": self.backlog,
            "seconds": round(self.seconds, 3),
            "events_per_s": round(self.rate, 1),
            "drained": self.drained,
            "measurable": self.measurable,
            "cpu_us_per_event": {
                "worker": round(self.per_event_us(self.worker_cpu_s), 1),
                "postgres": round(self.per_event_us(self.postgres_cpu_s), 1),
            },
        }


def measure_drain(
    args: argparse.Namespace, server: lc.Server, worker: WorkerProcess, database: Database, flood: Flood
) -> Drain:
    meter = Meter(server, worker)
    meter.start()
    backlog = database.pending()
    deadline = time.monotonic() + args.drain_timeout
    while (pending := database.pending()) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    _server_cpu, postgres_cpu, machine_cpu = meter.stop()
    finished = [row.finished for rows in database.rows(flood.load.events.prefix).values() for row in rows]
    last = max((f for f in finished if f is not None), default=flood.stopped_at)
    return Drain(
        backlog=backlog,
        seconds=max(0.0, last - flood.stopped_at),
        drained=pending == 0,
        worker_cpu_s=meter.worker_cpu,
        postgres_cpu_s=postgres_cpu,
        machine_cpu_s=machine_cpu,
        cpu_seconds=meter.seconds,
    )


# ---------------------------------------------------------------------------------------------
# (b) a steady rate, and the time from acknowledgement to processed


@dataclass
class Steady(_Measured):
    load: _EventLoad
    rate: float  # events sent per second, as achieved
    seconds: float
    ack_p50_ms: float
    ack_p99_ms: float
    non_200: int
    socket_errors: int
    late: int
    generator_cpu_s: float
    server_cpu_s: float
    postgres_cpu_s: float
    worker_cpu_s: float
    machine_cpu_s: float

    def per_event_us(self, cpu: float) -> float:
        return cpu / self.load.events.count * 1e6 if self.load.events.count else 0.0

    def line(self) -> str:
        errors = f"  ERRORS non-200 {self.non_200} socket {self.socket_errors}" if self.failed else ""
        return (
            f"sent {self.load.events.count:,} events in {self.seconds:.2f} s ({self.rate:,.0f}/s), "
            f"{len(self.load.acks):,} answered 200; ack p50 {self.ack_p50_ms:.2f} ms, "
            f"p99 {self.ack_p99_ms:.2f} ms; others {self.others_cores:.2f} cores{errors}"
        )

    def summary(self) -> dict[str, object]:
        return {
            "events_per_s": round(self.rate, 1),
            "sent": self.load.events.count,
            "accepted": len(self.load.acks),
            "ack_p50_ms": round(self.ack_p50_ms, 3),
            "ack_p99_ms": round(self.ack_p99_ms, 3),
            "non_200": self.non_200,
            "socket_errors": self.socket_errors,
            "late": self.late,
            "cpu_us_per_event": {
                "server": round(self.per_event_us(self.server_cpu_s), 1),
                "postgres": round(self.per_event_us(self.postgres_cpu_s), 1),
                "worker": round(self.per_event_us(self.worker_cpu_s), 1),
                "generator": round(self.per_event_us(self.generator_cpu_s), 1),
            },
            "others_cores": round(self.others_cores, 3),
        }


async def steady_load(
    args: argparse.Namespace, server: lc.Server, worker: WorkerProcess, events: Events
) -> Steady:
    """Open loop: one event every 1/rate s on whichever connection is free."""
    load = _EventLoad(events, paced=True)
    load.measuring = True
    load.connections = args.steady_connections
    tasks = [
        asyncio.create_task(lc._connection_loop(load, server.port, _EventConnection))
        for _ in range(args.steady_connections)
    ]
    loop = asyncio.get_running_loop()
    try:
        with contextlib.suppress(TimeoutError):  # every connection open and waiting
            await asyncio.wait_for(load.all_free.wait(), timeout=10)
        total = round(args.steady_rate * args.steady_duration)
        meter = Meter(server, worker)
        meter.start()
        cpu_before = time.process_time()
        started = loop.time()
        for serial in range(total):
            delay = started + serial / args.steady_rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if load.free:
                load.free.popleft().post(events.next())
            else:
                load.late += 1
        seconds = loop.time() - started
        generator_cpu = time.process_time() - cpu_before
        server_cpu, postgres_cpu, machine_cpu = meter.stop()
    finally:
        await _finish(load, tasks)
    latencies = sorted(load.latencies)
    return Steady(
        load=load,
        rate=events.count / seconds if seconds else 0.0,
        seconds=seconds,
        ack_p50_ms=lc._percentile(latencies, 0.50) * 1000,
        ack_p99_ms=lc._percentile(latencies, 0.99) * 1000,
        non_200=sum(v for k, v in load.answers.items() if k != 200),
        socket_errors=load.socket_errors,
        late=load.late,
        generator_cpu_s=generator_cpu,
        server_cpu_s=server_cpu,
        postgres_cpu_s=postgres_cpu,
        worker_cpu_s=meter.worker_cpu,
        machine_cpu_s=machine_cpu,
    )


@dataclass
class Lags:
    """Acknowledgement (client clock) to finished_at (worker clock), in seconds, sorted."""

    values: list[float]
    missing: int  # acknowledged but not processed (or not stored)

    @property
    def count(self) -> int:
        return len(self.values)

    @property
    def p50_ms(self) -> float:
        return lc._percentile(self.values, 0.50) * 1000

    @property
    def p99_ms(self) -> float:
        return lc._percentile(self.values, 0.99) * 1000

    @property
    def max_ms(self) -> float:
        return (self.values[-1] if self.values else 0.0) * 1000

    @property
    def min_ms(self) -> float:
        return (self.values[0] if self.values else 0.0) * 1000

    def line(self) -> str:
        missing = f"  {self.missing} NOT PROCESSED" if self.missing else ""
        below = sum(1 for v in self.values if v < 0)
        negative = f" ({below} finished before their ack reached the client)" if below else ""
        return (
            f"ack -> processed p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, max {self.max_ms:.1f} ms, "
            f"min {self.min_ms:.1f} ms, n={self.count:,}{negative}{missing}"
        )

    def spread(self) -> str:
        """Percentiles from p10 to p90, to show the shape (a worker polling every T ms when idle
        spreads the lag evenly over about T ms)."""
        cuts = (0.10, 0.25, 0.50, 0.75, 0.90)
        shown = ", ".join(f"p{round(q * 100)} {lc._percentile(self.values, q) * 1000:.1f}" for q in cuts)
        return f"spread (ms): {shown}"

    def summary(self) -> dict[str, object]:
        return {
            "p10_ms": round(lc._percentile(self.values, 0.10) * 1000, 2),
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "max_ms": round(self.max_ms, 2),
            "min_ms": round(self.min_ms, 2),
            "count": self.count,
            "missing": self.missing,
        }


def _lags(acks: dict[str, float], rows: dict[str, list[Row]]) -> Lags:
    values, missing = [], 0
    for event_id, acked in acks.items():
        found = rows.get(event_id, [])
        finished = found[0].finished if len(found) == 1 else None
        if finished is None:
            missing += 1
        else:
            values.append(finished - acked)
    return Lags(sorted(values), missing)


@dataclass
class StoredCheck:
    problems: list[str]


def _stored_check(load: _EventLoad, rows: dict[str, list[Row]]) -> StoredCheck:
    """Every acknowledged event stored once, done, claimed once; nothing stored that was not sent."""
    problems = []
    not_stored = sum(1 for event_id in load.acks if event_id not in rows)
    twice = sum(1 for found in rows.values() if len(found) > 1)
    not_done = sum(1 for found in rows.values() for row in found if row.status != "done")
    reclaimed = sum(1 for found in rows.values() for row in found if row.attempts != 1)
    if not_stored:
        problems.append(f"{not_stored} acknowledged events not stored")
    if twice:
        problems.append(f"{twice} events stored more than once")
    if not_done:
        problems.append(f"{not_done} rows not done")
    if reclaimed:
        problems.append(f"{reclaimed} rows claimed more than once (attempts != 1)")
    return StoredCheck(problems)


def check_one(server: lc.Server, source: EventSource, database: Database) -> float:
    """One event end to end before measuring anything: seconds from its 200 to processed."""
    events = source.phase("0")
    signed = events.next()
    head, _, body = signed.request.partition(b"\r\n\r\n")
    headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
    headers.pop("Host")
    path = head.split(b" ", 2)[1].decode()
    status, answer = lc._request(server.port, "POST", path, body.decode(), headers)
    acked = time.time()
    if status != 200 or json.loads(answer) != {"received": 1, "duplicates": 0}:
        raise lc.BenchmarkError(f"the first event was answered {status}: {answer[:500]!r}")
    rows = database.wait_processed(events.prefix, 1, 30)
    found = rows.get(signed.event_id, [])
    if len(found) != 1 or found[0].status != "done" or found[0].finished is None:
        raise lc.BenchmarkError(f"the first event was not processed within 30 s: {found}")
    return found[0].finished - acked


# ---------------------------------------------------------------------------------------------
# (c) duplicates


@dataclass
class Duplicates:
    statuses: list[int]
    bodies: list[dict[str, Any]]
    rows: list[Row]
    problems: list[str]

    def verdict(self) -> str:
        ok = "PASS" if not self.problems else "FAIL: " + "; ".join(self.problems)
        row = self.rows[0] if len(self.rows) == 1 else None
        stored = f"{len(self.rows)} row" + ("" if len(self.rows) == 1 else "s")
        state = f", status {row.status}, attempts {row.attempts}" if row else ""
        return f"answers {self.statuses}, {stored}{state}: {ok}"

    def line(self) -> str:
        received = sum(int(b.get("received", 0)) for b in self.bodies)
        duplicates = sum(int(b.get("duplicates", 0)) for b in self.bodies)
        return f"stored as new {received}, as duplicate {duplicates}; {self.verdict()}"

    def summary(self) -> dict[str, object]:
        return {
            "copies": len(self.statuses),
            "statuses": self.statuses,
            "received": sum(int(b.get("received", 0)) for b in self.bodies),
            "duplicates": sum(int(b.get("duplicates", 0)) for b in self.bodies),
            "rows": len(self.rows),
            "status": self.rows[0].status if len(self.rows) == 1 else None,
            "attempts": self.rows[0].attempts if len(self.rows) == 1 else None,
            "pass": not self.problems,
        }


async def _post_copies(port: int, request: bytes, copies: int) -> list[tuple[int, bytes]]:
    """The same request on `copies` connections, written at once once all are open."""
    connections = [await asyncio.open_connection(HOST, port) for _ in range(copies)]
    try:
        for _, writer in connections:
            writer.write(request)
        await asyncio.gather(*(writer.drain() for _, writer in connections))
        return await asyncio.wait_for(
            asyncio.gather(*(_read_answer(reader) for reader, _ in connections)), timeout=30
        )
    finally:
        for _, writer in connections:
            writer.close()


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
    length = re.search(r"\r\ncontent-length:\s*(\d+)", head)
    body = await reader.readexactly(int(length.group(1))) if length else b""
    return int(head[9:12]), body


def check_duplicates(
    args: argparse.Namespace, server: lc.Server, events: Events, database: Database
) -> Duplicates:
    signed = events.next()
    answers = run_async(_post_copies(server.port, signed.request, DUPLICATE_COPIES))
    statuses = [status for status, _ in answers]
    bodies = []
    for _, body in answers:
        with contextlib.suppress(ValueError):
            bodies.append(json.loads(body))
    database.wait_processed(events.prefix, 1, args.settle_timeout)
    time.sleep(1.0)  # a second claim, if there were one, would have happened by now
    rows = database.rows(events.prefix).get(signed.event_id, [])
    problems = []
    if statuses != [200] * DUPLICATE_COPIES:
        problems.append(f"answers {statuses}, not all 200")
    received = sum(int(b.get("received", 0)) for b in bodies)
    duplicates = sum(int(b.get("duplicates", 0)) for b in bodies)
    if (received, duplicates) != (1, DUPLICATE_COPIES - 1):
        problems.append(f"answers say {received} stored and {duplicates} duplicates")
    if len(rows) != 1:
        problems.append(f"{len(rows)} rows for the event")
    elif rows[0].status != "done" or rows[0].attempts != 1:
        problems.append(f"row status {rows[0].status}, attempts {rows[0].attempts}")
    return Duplicates(statuses, bodies, rows, problems)


# ---------------------------------------------------------------------------------------------
# Helpers


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of (a) measured")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of (a) before measuring")
    parser.add_argument("--connections", type=int, default=32, help="connections of (a)")
    parser.add_argument(
        "--steady-rate",
        type=float,
        help="events per second in (b) (default: 200, or half the rate accepted in (a) if lower)",
    )
    parser.add_argument("--steady-duration", type=float, default=10.0, help="seconds of (b)")
    parser.add_argument("--steady-connections", type=int, default=8, help="connections of (b)")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--server", choices=["uvicorn", "hypercorn"], default="uvicorn")
    parser.add_argument("--batch", type=int, default=20, help="switchboard worker --batch")
    parser.add_argument(
        "--hold-worker",
        action="store_true",
        help="SIGSTOP the worker during (a): the whole of (a) becomes the backlog it then drains",
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="server and worker log level (default: their own, info)",
    )
    parser.add_argument("--idle", type=float, default=3.0, help="seconds of idle measured before (a)")
    parser.add_argument("--drain-timeout", type=float, default=120.0, help="longest wait for the backlog")
    parser.add_argument("--settle-timeout", type=float, default=30.0, help="longest wait for (b) and (c)")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="stop everything after this")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    parser.add_argument("--ready-timeout", type=float, default=180.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.database_url = None  # lc.Server's option: this benchmark needs the embedded database
    if (
        args.duration <= 0
        or args.warmup < 0
        or min(args.connections, args.steady_connections, args.workers, args.batch) < 1
        or (args.steady_rate is not None and args.steady_rate <= 0)
        or args.steady_duration <= 0
        or args.max_seconds < 1
        or args.idle <= 0
    ):
        parser.error("durations, rates, connections, workers and batch must be positive")
    return args


def _cpu_split(result: Flood | Steady) -> str:
    parts = (result.server_cpu_s, result.postgres_cpu_s, result.worker_cpu_s, result.generator_cpu_s)
    return " / ".join(f"{result.per_event_us(cpu):.0f}" for cpu in parts) + " us"


def _describe_rate(args: argparse.Namespace) -> str:
    if args.steady_rate is not None:
        return f"{args.steady_rate:g}/s"
    return f"{DEFAULT_STEADY_RATE:g}/s (or half of (a)'s rate if lower)"


class OutOfTime(BaseException):
    """Not an Exception, so that no ``except Exception`` on its way out swallows it."""


_deadline = {"passed": False}


def _out_of_time(signum: int, frame: object) -> None:
    """SIGALRM: raise, or, inside an event loop (which would swallow anything raised from a signal
    handler), cancel its tasks; run_async turns the cancellation into OutOfTime."""
    _deadline["passed"] = True
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        raise OutOfTime("--max-seconds reached: stopped") from None
    for task in asyncio.all_tasks(loop):
        task.cancel()


if __name__ == "__main__":
    sys.exit(main())
