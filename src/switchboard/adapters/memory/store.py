"""In-memory storage: first-class, for tests and for running without a database.

Transactions are serialised by one lock and work on copy-on-write tables, so a unit of work sees
its own writes, commits all of them at once, and leaves nothing behind when it rolls back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from switchboard.ports.persistence import UnitOfWorkFinished

TABLES = (
    "tenants",
    "users",
    "password_hashes",
    "memberships",
    "refresh_tokens",
    "customers",
    "integrations",
    "feature_flag_overrides",
    "feature_flag_changes",
    "platform_admins",
    "outbox",
    "webhook_events",
    "webhook_endpoints",
    "webhook_deliveries",
    "idempotency_keys",
    "sessions",
    "invitations",
    "api_keys",
    "audit_events",
    "resources",
    "resource_overrides",
    "appointments",
    "calendar_feeds",
    "resource_calendars",
    "calendar_busy_events",
    "calendar_event_links",
    "sales_settings",
    "sales_counters",
    "quotes",
    "invoices",
    "payments",
    "provider_payments",
    "provider_refunds",
    "reminder_settings",
    "sms_messages",
    "sms_opt_outs",
    "avatar_videos",
    "avatar_catalogs",
    "voice_agents",
    "agent_versions",
    "phone_numbers",
    "calls",
    "knowledge_files",
    # A person's rows, not a tenant's: keyed without tenant_id and shown only to their user.
    "mfa_factors",
    "recovery_codes",
    "account_tokens",
    "external_identities",
)


QUEUES = frozenset({"outbox", "webhook_events"})


@dataclass
class MemoryStore:
    tables: dict[str, dict[Any, Any]] = field(default_factory=lambda: {t: {} for t in TABLES})
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Set when a commit adds to a queue, as PostgreSQL's NOTIFY does.
    work_added: asyncio.Event = field(default_factory=asyncio.Event)
    last_audit_at: datetime | None = None
    _deferred: list[Callable[[], None]] = field(default_factory=list, init=False, repr=False)

    def write_outside(self, write: Callable[[], None]) -> None:
        """Make a write that belongs to no unit of work, as a PostgreSQL function's own statement.

        Made while a unit of work is open, it waits for that unit to end: written at once, it
        would be undone when the unit commits its copy of the table.
        """
        if self.lock.locked():
            self._deferred.append(write)
        else:
            write()

    def release(self) -> None:
        """End the open unit of work: make the writes that waited for it, then let the next in."""
        try:
            while self._deferred:
                self._deferred.pop(0)()
        finally:
            self.lock.release()

    def audit_time(self) -> datetime:
        """Now, but always later than the previous entry's time: the audit log's (occurred_at, id)
        order is then the order of recording, even for entries made within one microsecond."""
        now = datetime.now(UTC)
        if self.last_audit_at is not None and now <= self.last_audit_at:
            now = self.last_audit_at + timedelta(microseconds=1)
        self.last_audit_at = now
        return now


class Transaction:
    """The tables as one unit of work sees them."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._copies: dict[str, dict[Any, Any]] = {}
        self._finished = False

    def read(self, table: str) -> dict[Any, Any]:
        self._check_open()
        return self._copies.get(table, self._store.tables[table])

    def write(self, table: str) -> dict[Any, Any]:
        self._check_open()
        if table not in self._copies:
            self._copies[table] = dict(self._store.tables[table])
        return self._copies[table]

    def insert(self, table: str, key: Any, row: Any) -> None:
        """Add a row under a key that must be new, as a primary key demands."""
        if key in self.read(table):
            raise ValueError(f"duplicate key {key!r} in {table}")
        self.write(table)[key] = row

    def commit(self) -> None:
        self._check_open()
        self._store.tables.update(self._copies)
        if QUEUES.intersection(self._copies):
            self._store.work_added.set()
        self.rollback()

    def rollback(self) -> None:
        self._copies = {}
        self._finished = True

    def _check_open(self) -> None:
        if self._finished:
            raise UnitOfWorkFinished("this unit of work has committed or rolled back")
