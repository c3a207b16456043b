"""Benchmark: the call analytics reports and the calls export over a year of a tenant's calls.

Not a test: it prints figures. It starts ``switchboard serve`` on a fresh data directory under
/tmp (an embedded PostgreSQL), or on a fresh database it creates on the server of
``--database-url`` / ``SWITCHBOARD_DATABASE_URL`` (an owner URL; the database is dropped at the
end), which migrates it. Over the HTTP API it signs up a tenant and sets its time zone
(America/New_York); then, as the database owner and in bulk (COPY: the inserts are not what is
measured), it adds 20 agents, 5,000 customers and N calls (``--calls``, 100,000 by default) over
the last 365 days, with realistic directions, statuses, durations, outcomes, sentiments,
evaluations and cost components, and paid invoices (some partly refunded) for a share of the
customers, many of them paid within days of a call. It ANALYZEs the tables, as autovacuum would.

Then it times, one request at a time over a keep-alive loopback connection with an owner's
token (so routing, validation, the use case, the app role's queries under row-level security
and the JSON are all included), each case ``--repeat`` times after one unmeasured request:

  GET /v1/analytics/calls   30, 90 and 365 days, and 365 days for the busiest agent
  GET /v1/analytics/costs   30 and 365 days, attribution_days=7
  GET /v1/calls/export      the calls created in the last 30 days, streamed CSV: bytes/s, time
                            to the first byte, and the server worker's RSS while it streams

Every report is checked against the generated data (its total of calls) before timing.
Target: a 365-day report's median under 500 ms.

    .venv/bin/python benchmarks/analytics.py
    .venv/bin/python benchmarks/analytics.py --calls 20000 --repeat 3
    .venv/bin/python benchmarks/analytics.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

Exit status: 0 when the run was valid (every answer 200 with the expected totals, whether or
not the target was met), 1 when it was not, 2 on bad arguments. The last line printed is a JSON
summary.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

import list_customers as lc
import webhook_ingest as wi

HOST = lc.HOST  # loopback only, always
TIME_ZONE = "America/New_York"
PASSWORD = "bench-" + secrets.token_urlsafe(12)
TARGET_YEAR_MS = 500.0
DAYS = 365
AGENTS = 20
RSS_SAMPLE_SECONDS = 0.005
READ_CHUNK = 64 * 1024


def main() -> int:
    args = _arguments()
    data_dir = Path(tempfile.mkdtemp(prefix="sbanalytics-", dir="/tmp"))
    server: lc.Server | None = None
    database: FreshDatabase | None = None
    signal.signal(signal.SIGTERM, lc._exit_on_sigterm)
    signal.signal(signal.SIGALRM, wi._out_of_time)
    signal.alarm(int(args.max_seconds))
    try:
        if args.server_url:
            database = FreshDatabase(args.server_url)
            args.database_url = database.create()
        server = lc.Server(args, data_dir)
        return run(args, server)
    except (lc.BenchmarkError, wi.OutOfTime, psycopg.Error) as error:
        print(f"\nbenchmark failed: {error}", flush=True)
        if server is not None:
            server.print_log_tail()
        return 1
    finally:
        signal.alarm(0)
        if server is not None:
            server.stop()
        if database is not None and not args.keep:
            database.drop()
        if args.keep:
            kept = f" and database {args.database_url}" if database is not None else ""
            print(f"kept data directory {data_dir}{kept}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


def run(args: argparse.Namespace, server: lc.Server) -> int:
    print(
        f"switchboard analytics benchmark: {args.calls:,} calls over {DAYS} days, {args.customers:,} "
        f"customers, {AGENTS} agents; {args.server}, {args.workers} worker(s); repeat {args.repeat}",
        flush=True,
    )
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
        f"python {sys.version.split()[0]}",
        flush=True,
    )
    where = "a fresh database on --database-url's server" if args.database_url else "embedded PostgreSQL"
    print(f"data directory {server.data_dir}, {where}", flush=True)
    ready_seconds = server.start()
    print(f"\nserver ready in {ready_seconds:.2f} s", flush=True)

    tenant = register_tenant(server)
    owner_url = args.database_url or wi.Database(server.data_dir).url
    started = time.perf_counter()
    data = Dataset.generate(args, tenant.tenant_id, random.Random(args.seed))
    generated = time.perf_counter() - started
    started = time.perf_counter()
    data.store(owner_url)
    stored = time.perf_counter() - started
    print(
        f"tenant {tenant.tenant_id} ({TIME_ZONE}): {len(data.calls):,} calls, {len(data.customers):,} "
        f"customers, {len(data.agents)} agents, {len(data.invoices):,} paid invoices, "
        f"{data.payment_count:,} payments and {data.refund_count:,} refunds; "
        f"generated in {generated:.1f} s, copied and analyzed in {stored:.1f} s",
        flush=True,
    )

    session = lc.Session(server, tenant.email, PASSWORD)
    client = Client(server.port, session)
    today = datetime.now(ZoneInfo(TIME_ZONE)).date()
    busiest = data.busiest_agent()
    cases = report_cases(today, busiest)
    problems: list[str] = []
    for case in cases:
        problems += check_report(client, case, data)
    print(f"check: {len(cases)} reports answered 200 with the expected totals", flush=True)
    if problems:
        for problem in problems:
            print(f"  PROBLEM: {problem}")

    print(f"\ntiming, {args.repeat} requests per case, one at a time:", flush=True)
    timings = [time_report(client, case, args.repeat) for case in cases]
    exports = [time_export(client, server, today, data) for _ in range(max(1, min(args.repeat, 3)))]
    for export in exports:
        problems += export.problems
    return report(args, ready_seconds, data, timings, exports, problems)


def report(
    args: argparse.Namespace,
    ready_seconds: float,
    data: Dataset,
    timings: list[Timing],
    exports: list[Export],
    problems: list[str],
) -> int:
    valid = not problems and all(t.valid for t in timings)
    year = [t for t in timings if t.case.days == DAYS]
    year_ok = all(t.median_ms < TARGET_YEAR_MS for t in year)

    print("\nresults (milliseconds, client-observed, whole answer read):")
    print(f"  {'request':52} {'median':>8} {'min':>8} {'max':>8} {'bytes':>10}")
    for timing in timings:
        print(
            f"  {timing.case.label:52} {timing.median_ms:8.1f} {timing.min_ms:8.1f} {timing.max_ms:8.1f} "
            f"{timing.bytes:10,}"
        )
    export = _median_export(exports)
    print(
        f"  {'export, calls created in the last 30 days (CSV)':52} {export['median_ms']:8.1f} "
        f"{export['min_ms']:8.1f} {export['max_ms']:8.1f} {export['bytes']:10,}"
    )
    print(
        f"  export: {export['rows']:,} rows, {export['mib_per_s']:.1f} MiB/s, {export['rows_per_s']:,.0f} "
        f"rows/s, first byte after {export['first_byte_ms']:.1f} ms; server worker RSS "
        f"{export['rss_before_mib']:.1f} MiB before, peak {export['rss_peak_mib']:.1f} MiB while streaming "
        f"(+{export['rss_growth_mib']:.1f} MiB)"
    )
    print(
        f"  365-day reports: slowest median {max(t.median_ms for t in year):.1f} ms "
        f"(target < {TARGET_YEAR_MS:g} ms)  {lc._verdict(year_ok)}"
    )
    for problem in problems:
        print(f"  INVALID RUN: {problem}")

    summary = {
        "benchmark": "analytics",
        "server": args.server,
        "workers": args.workers,
        "repeat": args.repeat,
        "database": "external" if args.database_url else "embedded",
        "cpus": os.cpu_count(),
        "time_to_ready_s": round(ready_seconds, 3),
        "calls": len(data.calls),
        "customers": len(data.customers),
        "agents": len(data.agents),
        "invoices": len(data.invoices),
        "payments": data.payment_count,
        "refunds": data.refund_count,
        "reports": {t.case.key: t.summary() for t in timings},
        "export": export,
        "target_year_ms": TARGET_YEAR_MS,
        "year_pass": year_ok,
        "valid": valid,
        "problems": problems,
    }
    print(json.dumps(summary, separators=(",", ":")), flush=True)
    return 0 if valid else 1


# ---------------------------------------------------------------------------------------------
# The database and the tenant


class FreshDatabase:
    """A new database on the given server, for this run only."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.name = f"sbbench_analytics_{secrets.token_hex(4)}"

    def create(self) -> str:
        with psycopg.connect(self.server_url, autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        return make_conninfo(self.server_url, dbname=self.name)

    def drop(self) -> None:
        with (
            contextlib.suppress(psycopg.Error),
            psycopg.connect(self.server_url, autocommit=True) as connection,
        ):
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
            )


@dataclass(frozen=True)
class Tenant:
    tenant_id: uuid.UUID
    email: str


def register_tenant(server: lc.Server) -> Tenant:
    email = f"owner-{secrets.token_hex(4)}@example.com"
    owner = wi._call(
        server,
        "POST",
        "/v1/auth/register",
        {"tenant_name": "Analytics Bench", "name": "Dana Analyst", "email": email, "password": PASSWORD},
        expect=201,
    )
    token = owner["access_token"]
    tenant = wi._call(server, "PATCH", "/v1/tenant", {"time_zone": TIME_ZONE}, token=token)
    if tenant["time_zone"] != TIME_ZONE:
        raise lc.BenchmarkError(f"the tenant's time zone was not set: {tenant}")
    return Tenant(uuid.UUID(owner["tenant"]["id"]), email)


# ---------------------------------------------------------------------------------------------
# The data: a year of a small call centre's calls

# (ended_reason, weight) for calls that were answered, and for outbound calls that were not.
ANSWERED_REASONS = (
    ("customer-ended-call", 46),
    ("assistant-ended-call", 28),
    ("assistant-forwarded-call", 9),
    ("silence-timed-out", 6),
    ("voicemail", 5),
    ("exceeded-max-duration", 2),
    ("pipeline-error-openai-llm-failed", 1),
)
UNANSWERED_REASONS = (("customer-did-not-answer", 70), ("customer-busy", 20), ("twilio-failed-to-connect", 3))
# Per minute of call, in micro-units of USD: carrier, speech to text, model, speech, platform.
COST_PER_MINUTE = {
    "transport": 8_500,
    "speech_to_text": 10_000,
    "model": 22_000,
    "text_to_speech": 36_000,
    "platform": 50_000,
}
# Calls per local hour of day (8 am to 8 pm busy, a trickle at night).
HOURLY = (1, 1, 1, 1, 1, 2, 4, 8, 14, 18, 19, 18, 15, 16, 18, 17, 15, 12, 9, 6, 4, 3, 2, 1)
CALL_COLUMNS = (
    "tenant_id", "id", "integration_id", "provider_call_id", "direction", "status", "ended_reason",
    "agent_id", "customer_id", "business_number", "customer_number", "scheduled_at", "started_at",
    "ended_at", "duration_seconds", "transcript", "summary", "success", "sentiment", "cost_currency",
    "cost_transport", "cost_speech_to_text", "cost_model", "cost_text_to_speech", "cost_platform",
    "cost_total", "feedback_rating", "feedback_at", "created_at", "updated_at",
)  # fmt: skip
STATUS, STARTED_AT, DURATION, COST_CURRENCY, CREATED_AT = map(
    CALL_COLUMNS.index, ("status", "started_at", "duration_seconds", "cost_currency", "created_at")
)
INVOICE_COLUMNS = (
    "tenant_id", "id", "customer_id", "customer_name", "customer_email", "currency", "lines", "subtotal",
    "discount_total", "net_total", "tax_total", "total", "notes", "number", "payment_terms_days",
    "status", "issue_date", "due_date", "issued_at", "amount_paid", "amount_refunded", "paid_at",
    "created_at", "updated_at", "version",
)  # fmt: skip
PAYMENT_COLUMNS = (
    "tenant_id", "id", "invoice_id", "customer_id", "kind", "amount", "currency", "method", "reference",
    "refunded_payment_id", "reason", "received_at", "created_at",
)  # fmt: skip
TRANSCRIPT_LINES = (
    ("agent", "Thanks for calling, this is the front desk assistant. How can I help?"),
    ("customer", "Hi, I'd like to move my appointment to later this week if possible."),
    ("agent", "Of course. I have Thursday at 2 pm or Friday at 10 am. Which suits you?"),
    ("customer", "Thursday at two works."),
    ("tool", "book_appointment: confirmed"),
    ("agent", "You're booked for Thursday at 2 pm. Anything else I can help with?"),
)


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([name for name, _ in weighted], [weight for _, weight in weighted])[0]


@dataclass
class Dataset:
    tenant_id: uuid.UUID
    agents: list[uuid.UUID]
    customers: list[tuple[uuid.UUID, str, str, str]]  # id, name, email, phone
    calls: list[tuple[Any, ...]]
    call_days: list[tuple[date, uuid.UUID | None]]  # each call's local day and agent, for checks
    invoices: list[tuple[Any, ...]] = field(default_factory=list)
    payments: list[tuple[Any, ...]] = field(default_factory=list)
    payment_count: int = 0
    refund_count: int = 0

    @classmethod
    def generate(cls, args: argparse.Namespace, tenant_id: uuid.UUID, rng: random.Random) -> Dataset:
        zone = ZoneInfo(TIME_ZONE)
        now = datetime.now(UTC)
        today = now.astimezone(zone).date()
        integration_id = uuid.uuid4()
        agents = [uuid.uuid4() for _ in range(AGENTS)]
        agent_weights = [1 / (rank + 1) for rank in range(AGENTS)]  # a few busy agents, a long tail
        customers = [
            (uuid.uuid4(), f"Customer {n:05d}", f"customer{n:05d}@example.com", f"+1212555{n:04d}")
            for n in range(args.customers)
        ]
        customer_weights = [1 / (rank + 10) ** 0.8 for rank in range(len(customers))]
        business_numbers = [f"+1646555{n:04d}" for n in range(AGENTS)]
        calls: list[tuple[Any, ...]] = []
        call_days: list[tuple[date, uuid.UUID | None]] = []
        answered_by_customer: dict[int, list[datetime]] = {}
        agent_of = rng.choices(range(AGENTS), agent_weights, k=args.calls)
        customer_of = rng.choices(range(len(customers)), customer_weights, k=args.calls)
        hours = rng.choices(range(24), HOURLY, k=args.calls)
        for n in range(args.calls):
            day = today - timedelta(days=rng.randrange(DAYS))
            local = datetime(day.year, day.month, day.day, hours[n], rng.randrange(60), rng.randrange(60))
            at = local.replace(tzinfo=zone).astimezone(UTC)
            if at > now:
                at = now - timedelta(seconds=rng.randrange(60, 6 * 3600))
            agent = agents[agent_of[n]] if rng.random() > 0.03 else None
            customer_index = customer_of[n] if rng.random() > 0.12 else None
            customer = customers[customer_index] if customer_index is not None else None
            direction = "inbound" if rng.random() < 0.65 else "outbound"
            row = _call_row(
                rng, now, at, direction, tenant_id, integration_id, agent, customer, business_numbers
            )
            calls.append(row)
            started_at, duration, status = row[STARTED_AT], row[DURATION], row[STATUS]
            call_days.append(((started_at or row[CREATED_AT]).astimezone(zone).date(), agent))
            if customer_index is not None and (
                status in ("in_progress", "forwarding") or (duration or 0) > 0
            ):
                answered_by_customer.setdefault(customer_index, []).append(started_at or row[CREATED_AT])
        data = cls(tenant_id, agents, customers, calls, call_days)
        data._add_sales(rng, now, answered_by_customer)
        return data

    def _add_sales(self, rng: random.Random, now: datetime, answered: dict[int, list[datetime]]) -> None:
        """Paid invoices for a third of the customers; most paid within a week of a call."""
        paying = rng.sample(range(len(self.customers)), len(self.customers) // 3)
        serial = 0
        for index in paying:
            customer_id, name, email, _ = self.customers[index]
            their_calls = answered.get(index, [])
            for _ in range(rng.randint(1, 4)):
                if their_calls and rng.random() < 0.7:
                    paid_at = rng.choice(their_calls) + timedelta(hours=rng.uniform(0.5, 24 * 9))
                else:
                    paid_at = now - timedelta(days=rng.uniform(0, DAYS))
                if paid_at > now:
                    continue
                serial += 1
                total = rng.choice((4_500, 9_900, 12_000, 25_000, 48_000, 150_000))
                created = paid_at - timedelta(days=rng.uniform(0, 14))
                refunded = total // rng.choice((1, 2, 4)) if rng.random() < 0.04 else 0
                invoice_id = uuid.uuid4()
                line = {
                    "description": "Service visit",
                    "quantity": "1",
                    "unit_price": total,
                    "tax_rate": "0",
                    "discount_percent": "0",
                    "subtotal": total,
                    "discount": 0,
                    "net": total,
                    "tax": 0,
                    "total": total,
                }
                self.invoices.append(
                    (
                        self.tenant_id, invoice_id, customer_id, name, email, "USD", json.dumps([line]),
                        total, 0, total, 0, total, "", f"INV-{serial:06d}", 14, "paid",
                        created.date(), created.date() + timedelta(days=14), created, total, refunded,
                        paid_at, created, paid_at, 3,
                    )
                )  # fmt: skip
                payment_id = uuid.uuid4()
                self.payments.append(
                    (
                        self.tenant_id, payment_id, invoice_id, customer_id, "payment", total, "USD", "card",
                        None, None, None, paid_at, paid_at,
                    )
                )  # fmt: skip
                self.payment_count += 1
                if refunded:
                    refund_at = min(now, paid_at + timedelta(days=rng.uniform(1, 20)))
                    self.payments.append(
                        (
                            self.tenant_id, uuid.uuid4(), invoice_id, customer_id, "refund", refunded, "USD",
                            "card", None, payment_id, "goodwill", refund_at, refund_at,
                        )
                    )  # fmt: skip
                    self.refund_count += 1

    def store(self, owner_url: str) -> None:
        """COPY everything in one transaction as the database owner, then ANALYZE."""
        now = datetime.now(UTC)
        with psycopg.connect(owner_url) as connection, connection.cursor() as cursor:
            with cursor.copy(
                "COPY voice_agents (tenant_id, id, name, voice_provider, voice_id, model_provider, model,"
                " system_prompt, first_message, tools, current_version, created_at, updated_at)"
                " FROM STDIN"
            ) as copy:
                for n, agent_id in enumerate(self.agents):
                    copy.write_row(
                        (
                            self.tenant_id, agent_id, f"Agent {n + 1:02d}", "11labs", "rachel", "openai",
                            "gpt-4o-mini", "You answer the phone for a busy clinic.", "Hello!",
                            ["find_customer", "check_availability", "book_appointment"], 1, now, now,
                        )
                    )  # fmt: skip
            with cursor.copy(
                "COPY customers (tenant_id, id, name, email, phone, created_at, updated_at) FROM STDIN"
            ) as copy:
                for customer_id, name, email, phone in self.customers:
                    copy.write_row((self.tenant_id, customer_id, name, email, phone, now, now))
            _copy(cursor, "calls", CALL_COLUMNS, self.calls)
            _copy(cursor, "invoices", INVOICE_COLUMNS, self.invoices)
            _copy(cursor, "payments", PAYMENT_COLUMNS, self.payments)
        with psycopg.connect(owner_url, autocommit=True) as connection:
            for table in ("voice_agents", "customers", "calls", "invoices", "payments"):
                connection.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(table)))

    def busiest_agent(self) -> uuid.UUID:
        counts = Counter(agent for _, agent in self.call_days if agent is not None)
        return counts.most_common(1)[0][0]

    def expected_calls(self, first: date, last: date, agent: uuid.UUID | None) -> int:
        return sum(1 for day, of in self.call_days if first <= day <= last and (agent is None or of == agent))

    def calls_created_since(self, since: datetime) -> int:
        return sum(1 for row in self.calls if row[CREATED_AT] > since)


def _call_row(
    rng: random.Random,
    now: datetime,
    at: datetime,
    direction: str,
    tenant_id: uuid.UUID,
    integration_id: uuid.UUID,
    agent: uuid.UUID | None,
    customer: tuple[uuid.UUID, str, str, str] | None,
    business_numbers: list[str],
) -> tuple[Any, ...]:
    """One call as the platform's messages would have left it."""
    recent = (now - at).total_seconds() < 1800
    outcome = rng.random()
    scheduled_at = at - timedelta(hours=rng.uniform(1, 48)) if direction == "outbound" else None
    if direction == "outbound" and outcome < 0.015:
        status = rng.choice(("scheduled", "queued"))
        answered = started = False
    elif direction == "outbound" and outcome < 0.28:
        status, answered, started = "ended", False, False  # never picked up
    elif direction == "inbound" and outcome < 0.04:
        status, answered, started = "ended", False, True  # hung up at once
    else:
        status, answered, started = "ended", True, True
    if recent and answered and rng.random() < 0.3:
        status = rng.choice(("in_progress", "forwarding"))
    duration: int | None = None
    started_at = ended_at = None
    if started:
        started_at = at
        if status == "ended":
            duration = min(1800, max(5, round(rng.lognormvariate(5.0, 0.7)))) if answered else 0
            ended_at = started_at + timedelta(seconds=duration)
    elif status == "ended":
        ended_at = at + timedelta(seconds=rng.randint(20, 45))
    ended_reason = None
    if status == "ended":
        ended_reason = _pick(rng, ANSWERED_REASONS if answered else UNANSWERED_REASONS)
        if direction == "inbound" and not answered:
            ended_reason = "customer-ended-call"
    judged = status == "ended" and answered
    success = (rng.random() < 0.68) if judged and rng.random() < 0.85 else None
    sentiment = None
    if judged and rng.random() < 0.9:
        sentiment = rng.choices(("positive", "neutral", "negative"), (45, 35, 20))[0]
    costs = dict.fromkeys(COST_PER_MINUTE, 0)
    currency = None
    if status == "ended" and rng.random() > 0.03:  # a few calls never get their cost reported
        currency = "USD"
        minutes = (duration or 0) / 60
        for name, per_minute in COST_PER_MINUTE.items():
            costs[name] = round(per_minute * minutes * rng.uniform(0.9, 1.1))
        if not answered:
            costs["transport"] += 1_200  # the attempt itself
    transcript = "[]"
    summary = None
    if answered and status == "ended":
        lines = TRANSCRIPT_LINES[: rng.randint(2, len(TRANSCRIPT_LINES))]
        transcript = json.dumps(
            [
                {"speaker": speaker, "text": text, "seconds_from_start": 4.0 * n, "duration_seconds": 3.5}
                for n, (speaker, text) in enumerate(lines)
            ]
        )
        summary = "The caller asked to move an appointment; the agent rebooked it."
    feedback = rng.randint(1, 5) if judged and rng.random() < 0.05 else None
    feedback_at = ended_at + timedelta(hours=1) if feedback and ended_at else None
    created_at = scheduled_at or at
    updated_at = ended_at or at
    return (
        tenant_id, uuid.uuid4(), integration_id, f"call_{uuid.uuid4().hex}", direction, status, ended_reason,
        agent, customer[0] if customer else None, rng.choice(business_numbers),
        customer[3] if customer else f"+1917555{rng.randrange(10_000):04d}", scheduled_at, started_at,
        ended_at, duration, transcript, summary, success, sentiment, currency,
        *costs.values(), sum(costs.values()), feedback, feedback_at, created_at, updated_at,
    )  # fmt: skip


def _copy(
    cursor: psycopg.Cursor[Any], table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


# ---------------------------------------------------------------------------------------------
# Requests


class Client:
    """One keep-alive loopback connection, with the owner's (renewed) token."""

    def __init__(self, port: int, session: lc.Session) -> None:
        self.port, self.session = port, session
        self.connection = http.client.HTTPConnection(HOST, port, timeout=120)

    def open(self, path: str) -> http.client.HTTPResponse:
        headers = {"Authorization": f"Bearer {self.session.token()}", "Accept": "application/json"}
        for attempt in (1, 2):
            try:
                self.connection.request("GET", path, headers=headers)
                return self.connection.getresponse()
            except (OSError, http.client.HTTPException) as error:
                self.connection.close()  # the server closed an idle connection: once more
                self.connection = http.client.HTTPConnection(HOST, self.port, timeout=120)
                if attempt == 2:
                    raise lc.BenchmarkError(f"GET {path} failed: {error}") from error
        raise AssertionError("unreachable")

    def get(self, path: str) -> tuple[int, bytes, float]:
        self.session.token()  # a sign-in, when one is due, is not part of the timing
        started = time.perf_counter()
        response = self.open(path)
        body = response.read()
        return response.status, body, time.perf_counter() - started


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    path: str
    days: int
    first: date
    last: date
    agent: uuid.UUID | None


def report_cases(today: date, busiest: uuid.UUID) -> list[Case]:
    cases = []
    for report, days, agent, extra in (
        ("calls", 30, None, {}),
        ("calls", 90, None, {}),
        ("calls", DAYS, None, {}),
        ("calls", DAYS, busiest, {}),
        ("costs", 30, None, {"attribution_days": 7}),
        ("costs", DAYS, None, {"attribution_days": 7}),
    ):
        first = today - timedelta(days=days - 1)
        query: dict[str, Any] = {"from": first.isoformat(), "to": today.isoformat()}
        if agent is not None:
            query["agent_id"] = str(agent)
        query |= extra
        for_agent = ", one agent" if agent else ""
        cases.append(
            Case(
                key=f"{report}_{days}d" + ("_agent" if agent else ""),
                label=f"GET /v1/analytics/{report}, {days} days{for_agent}",
                path=f"/v1/analytics/{report}?{urlencode(query)}",
                days=days,
                first=first,
                last=today,
                agent=agent,
            )
        )
    return cases


def check_report(client: Client, case: Case, data: Dataset) -> list[str]:
    status, body, _ = client.get(case.path)
    if status != 200:
        return [f"{case.label} answered {status}: {body[:300]!r}"]
    answer = json.loads(body)
    expected = data.expected_calls(case.first, case.last, case.agent)
    if answer["object"] == "call_report":
        found = answer["totals"]["calls"]
        if len(answer["daily"]) != case.days:
            return [f"{case.label}: {len(answer['daily'])} days in daily, not {case.days}"]
    else:
        found = answer["calls_with_cost"]
        expected = sum(
            1
            for (day, _), row in zip(data.call_days, data.calls, strict=True)
            if case.first <= day <= case.last and row[COST_CURRENCY] is not None
        )
        if not answer["revenue"]:
            return [f"{case.label}: no revenue attributed"]
    if found != expected:
        return [f"{case.label}: {found:,} calls, expected {expected:,}"]
    return []


@dataclass
class Timing:
    case: Case
    seconds: list[float]
    bytes: int
    statuses: list[int]

    @property
    def valid(self) -> bool:
        return all(status == 200 for status in self.statuses)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.seconds) * 1000

    @property
    def min_ms(self) -> float:
        return min(self.seconds) * 1000

    @property
    def max_ms(self) -> float:
        return max(self.seconds) * 1000

    def summary(self) -> dict[str, object]:
        return {
            "median_ms": round(self.median_ms, 2),
            "min_ms": round(self.min_ms, 2),
            "max_ms": round(self.max_ms, 2),
            "bytes": self.bytes,
            "runs_ms": [round(s * 1000, 2) for s in self.seconds],
        }


def time_report(client: Client, case: Case, repeat: int) -> Timing:
    client.get(case.path)  # unmeasured: the worker's statement cache and PostgreSQL's buffers
    seconds, statuses, size = [], [], 0
    for _ in range(repeat):
        status, body, elapsed = client.get(case.path)
        seconds.append(elapsed)
        statuses.append(status)
        size = len(body)
    timing = Timing(case, seconds, size, statuses)
    bad = "" if timing.valid else f"  NON-200 {statuses}"
    print(
        f"  {case.label:52} median {timing.median_ms:7.1f} ms  min {timing.min_ms:7.1f}  "
        f"max {timing.max_ms:7.1f}  {size:,} bytes{bad}",
        flush=True,
    )
    return timing


@dataclass
class Export:
    seconds: float
    first_byte_seconds: float
    bytes: int
    rows: int
    rss_before_mib: float
    rss_peak_mib: float
    problems: list[str]


class RssSampler:
    """The server workers' RSS, sampled in a thread until stopped: the highest seen per worker."""

    def __init__(self, server: lc.Server) -> None:
        # One worker: the serve process answers itself (no worker processes are spawned).
        self.pids = server.workers() or ([server.process.pid] if server.process else [])
        self.before = {pid: lc._rss_mib(pid) for pid in self.pids}
        self.peak = dict(self.before)
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> RssSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.running = False
        self.thread.join()

    def _sample(self) -> None:
        while self.running:
            for pid in self.pids:
                self.peak[pid] = max(self.peak[pid], lc._rss_mib(pid))
            time.sleep(RSS_SAMPLE_SECONDS)

    def busiest(self) -> tuple[float, float]:
        """Before and peak of the worker that grew most (the one that served the export)."""
        if not self.pids:
            return 0.0, 0.0
        pid = max(self.pids, key=lambda p: self.peak[p] - self.before[p])
        return self.before[pid], self.peak[pid]


def time_export(client: Client, server: lc.Server, today: date, data: Dataset) -> Export:
    since = datetime.now(UTC) - timedelta(days=30)
    path = "/v1/calls/export?" + urlencode({"created_after": since.isoformat().replace("+00:00", "Z")})
    client.session.token()
    size = lines = 0
    with RssSampler(server) as sampler:
        started = time.perf_counter()
        response = client.open(path)
        first_byte = 0.0
        while chunk := response.read1(READ_CHUNK):
            if not first_byte:
                first_byte = time.perf_counter() - started
            size += len(chunk)
            lines += chunk.count(b"\n")
        elapsed = time.perf_counter() - started
    before, peak = sampler.busiest()
    problems = []
    expected = data.calls_created_since(since)
    if response.status != 200:
        problems.append(f"the export answered {response.status}")
    elif abs(lines - 1 - expected) > expected * 0.001 + 2:  # calls created while it ran are few
        problems.append(f"the export had {lines - 1:,} rows, expected about {expected:,}")
    export = Export(elapsed, first_byte, size, lines - 1, before, peak, problems)
    print(
        f"  {'GET /v1/calls/export, created in the last 30 days':52} {elapsed * 1000:7.1f} ms  "
        f"{size:,} bytes, {lines - 1:,} rows, first byte {first_byte * 1000:.1f} ms, "
        f"RSS {before:.1f} -> peak {peak:.1f} MiB",
        flush=True,
    )
    return export


def _median_export(exports: list[Export]) -> dict[str, Any]:
    seconds = statistics.median(e.seconds for e in exports)
    size = exports[0].bytes
    rows = exports[0].rows
    before = statistics.median(e.rss_before_mib for e in exports)
    peak = max(e.rss_peak_mib for e in exports)
    return {
        "median_ms": round(seconds * 1000, 2),
        "min_ms": round(min(e.seconds for e in exports) * 1000, 2),
        "max_ms": round(max(e.seconds for e in exports) * 1000, 2),
        "first_byte_ms": round(statistics.median(e.first_byte_seconds for e in exports) * 1000, 2),
        "bytes": size,
        "rows": rows,
        "mib_per_s": round(size / seconds / 2**20, 2) if seconds else 0.0,
        "rows_per_s": round(rows / seconds, 1) if seconds else 0.0,
        "rss_before_mib": round(before, 1),
        "rss_peak_mib": round(peak, 1),
        "rss_growth_mib": round(max(e.rss_peak_mib - e.rss_before_mib for e in exports), 1),
        "runs_ms": [round(e.seconds * 1000, 2) for e in exports],
    }


# ---------------------------------------------------------------------------------------------
# Helpers


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--calls", type=int, default=100_000, help="calls over the last 365 days")
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=7, help="measured requests per report")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--server", choices=["uvicorn", "hypercorn"], default="uvicorn")
    parser.add_argument(
        "--database-url",
        dest="server_url",
        default=os.environ.get("SWITCHBOARD_DATABASE_URL"),
        help="create the fresh database on this PostgreSQL (an owner URL, superuser) instead of an "
        "embedded one [SWITCHBOARD_DATABASE_URL]",
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="server log level (default: the server's own, info)",
    )
    parser.add_argument("--seed", type=int, default=6, help="the generated data's random seed")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="stop everything after this")
    parser.add_argument("--keep", action="store_true", help="keep the data directory (and database)")
    parser.add_argument("--ready-timeout", type=float, default=180.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.database_url = None  # lc.Server's option: set to the fresh database when there is a server URL
    if args.calls < 1 or args.customers < 1 or args.repeat < 1 or args.workers < 1 or args.max_seconds < 1:
        parser.error("--calls, --customers, --repeat, --workers and --max-seconds must be positive")
    return args


if __name__ == "__main__":
    sys.exit(main())
