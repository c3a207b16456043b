"""Readiness: can this process serve? The database answers and its schema is current."""

from __future__ import annotations

import asyncio

from switchboard.adapters.postgres.database import head_revision, schema_revision
from switchboard.adapters.postgres.unit_of_work import Pool

CHECK_TIMEOUT_SECONDS = 2.0


class PostgresReadiness:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._head = head_revision()

    async def check(self) -> str | None:
        """None when ready, else why not."""
        try:
            current = await asyncio.wait_for(schema_revision(self._pool), CHECK_TIMEOUT_SECONDS)
        except Exception as error:  # any failure to reach the database means not ready
            return f"database unreachable ({type(error).__name__})"
        if current != self._head:
            return f"schema at revision {current}, this code needs {self._head}"
        return None


class AlwaysReady:
    async def check(self) -> str | None:
        return None


Readiness = PostgresReadiness | AlwaysReady
