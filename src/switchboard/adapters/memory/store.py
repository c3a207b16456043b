"""In-memory storage: first-class, for tests and for running without a database.

Transactions are serialised by one lock and work on copy-on-write tables, so a unit of work sees
its own writes, commits all of them at once, and leaves nothing behind when it rolls back.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
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
)


QUEUES = frozenset({"outbox", "webhook_events"})


@dataclass
class MemoryStore:
    tables: dict[str, dict[Any, Any]] = field(default_factory=lambda: {t: {} for t in TABLES})
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Set when a commit adds to a queue, as PostgreSQL's NOTIFY does.
    work_added: asyncio.Event = field(default_factory=asyncio.Event)


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
