"""Tenant-scoped transactions on a psycopg pool, and the cross-tenant directory."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any, Self
from uuid import UUID

import psycopg
from psycopg import AsyncClientCursor, AsyncConnection
from psycopg_pool import AsyncConnectionPool

from switchboard.adapters.postgres.repositories import (
    PostgresCustomerRepository,
    PostgresDeliveryRepository,
    PostgresFlagRepository,
    PostgresIdempotencyRepository,
    PostgresInboxRepository,
    PostgresIntegrationRepository,
    PostgresMembershipRepository,
    PostgresOutboxRepository,
    PostgresRefreshTokenRepository,
    PostgresTenantRepository,
    PostgresUserRepository,
    PostgresWebhookEndpointRepository,
    Transaction,
)
from switchboard.core.identity.model import AdminCandidate, LoginCandidate

Pool = AsyncConnectionPool[AsyncConnection[dict[str, Any]]]
JOBS_CHANNEL = "switchboard_jobs"  # see migration 0006

# Transaction-local (third argument true): the setting ends with the transaction, so a pooled
# connection never carries one tenant's scope into the next request. BEGIN travels in the same
# message (pool connections are in autocommit mode, so psycopg sends no BEGIN of its own): one
# round trip instead of two. Several statements in one message need client-side binding.
_BEGIN_IN_SCOPE = "BEGIN; SELECT set_config('app.tenant_id', %s, true), set_config('app.user_id', %s, true)"


class PostgresUnitOfWork:
    def __init__(self, pool: Pool, tenant_id: UUID, user_id: UUID | None = None) -> None:
        self._pool = pool
        self._tenant_id = tenant_id
        self._user_id = user_id
        self._conn: AsyncConnection[dict[str, Any]] | None = None

    async def __aenter__(self) -> Self:
        conn = await self._pool.getconn()
        try:
            async with AsyncClientCursor(conn) as cursor:
                await cursor.execute(_BEGIN_IN_SCOPE, (str(self._tenant_id), str(self._user_id or "")))
        except BaseException:
            await self._pool.putconn(conn)
            raise
        self._conn = conn
        self._tx = tx = Transaction(conn)
        self.tenants = PostgresTenantRepository(tx, self._tenant_id)
        self.users = PostgresUserRepository(tx, self._tenant_id)
        self.memberships = PostgresMembershipRepository(tx, self._tenant_id)
        self.refresh_tokens = PostgresRefreshTokenRepository(tx, self._tenant_id)
        self.customers = PostgresCustomerRepository(tx, self._tenant_id)
        self.integrations = PostgresIntegrationRepository(tx, self._tenant_id)
        self.flags = PostgresFlagRepository(tx, self._tenant_id)
        self.outbox = PostgresOutboxRepository(tx, self._tenant_id)
        self.inbox = PostgresInboxRepository(tx, self._tenant_id)
        self.webhook_endpoints = PostgresWebhookEndpointRepository(tx, self._tenant_id)
        self.deliveries = PostgresDeliveryRepository(tx, self._tenant_id)
        self.idempotency_keys = PostgresIdempotencyRepository(tx, self._tenant_id)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        self._tx.finish()
        try:
            await conn.rollback()  # no round trip after a commit; undoes everything otherwise
        finally:
            await self._pool.putconn(conn)

    async def commit(self) -> None:
        # The tenant setting ends with the transaction, so the unit of work ends with it too.
        await self._tx.conn.commit()
        self._tx.finish()

    async def rollback(self) -> None:
        await self._tx.conn.rollback()
        self._tx.finish()


class PostgresIdentityDirectory:
    """Calls the SECURITY DEFINER ``directory_*`` functions: the only cross-tenant reads."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def find_login(self, email: str) -> LoginCandidate | None:
        row = await self._call("SELECT * FROM directory_find_login(%s)", email)
        return LoginCandidate(row["user_id"], row["password_hash"], list(row["tenant_ids"])) if row else None

    async def find_refresh_token(self, token_hash: str) -> tuple[UUID, UUID] | None:
        row = await self._call("SELECT * FROM directory_find_refresh_token(%s)", token_hash)
        return (row["tenant_id"], row["user_id"]) if row else None

    async def find_admin(self, email: str) -> AdminCandidate | None:
        row = await self._call("SELECT * FROM directory_find_admin(%s)", email)
        return AdminCandidate(row["admin_id"], row["password_hash"]) if row else None

    async def find_integration(self, integration_id: UUID) -> tuple[UUID, str] | None:
        row = await self._call("SELECT * FROM directory_find_integration(%s)", integration_id)
        return (row["tenant_id"], row["provider"]) if row else None

    async def _call(self, sql: str, argument: object) -> dict[str, Any] | None:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(sql, (argument,))
            return await cursor.fetchone()


class PostgresJobClaims:
    """Calls the SECURITY DEFINER ``directory_claim_*`` functions (see migration 0004), and
    listens for the notifications new queue rows send (migration 0006)."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._listener: AsyncConnection[Any] | None = None

    async def wait_for_work(self, at_most_seconds: float) -> bool:
        try:
            listener = await self._listening()
            async for _ in listener.notifies(timeout=at_most_seconds, stop_after=1):
                return True
        except psycopg.OperationalError:
            await self.close()  # a broken connection: listen afresh next time
            await asyncio.sleep(at_most_seconds)
        return False

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            await listener.close()

    async def _listening(self) -> AsyncConnection[Any]:
        if self._listener is None or self._listener.closed:
            self._listener = await AsyncConnection.connect(self._pool.conninfo, autocommit=True)
            await self._listener.execute(f"LISTEN {JOBS_CHANNEL}")
        return self._listener

    async def claim_outbox(self, limit: int, lease_seconds: int) -> list[tuple[UUID, UUID]]:
        return await self._claim("SELECT * FROM directory_claim_outbox(%s, %s)", limit, lease_seconds)

    async def claim_inbox(self, limit: int, lease_seconds: int) -> list[tuple[UUID, UUID]]:
        return await self._claim("SELECT * FROM directory_claim_webhook_events(%s, %s)", limit, lease_seconds)

    async def _claim(self, sql: str, limit: int, lease_seconds: int) -> list[tuple[UUID, UUID]]:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(sql, (limit, lease_seconds))
            return [(row["tenant_id"], row["id"]) for row in await cursor.fetchall()]
