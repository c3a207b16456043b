from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from types import TracebackType
from typing import Self
from uuid import UUID

from switchboard.adapters.memory.repositories import (
    MemoryCustomerRepository,
    MemoryDeliveryRepository,
    MemoryFlagRepository,
    MemoryIdempotencyRepository,
    MemoryInboxRepository,
    MemoryIntegrationRepository,
    MemoryMembershipRepository,
    MemoryOutboxRepository,
    MemoryRefreshTokenRepository,
    MemoryTenantRepository,
    MemoryUserRepository,
    MemoryWebhookEndpointRepository,
)
from switchboard.adapters.memory.store import MemoryStore, Transaction
from switchboard.core.identity.model import AdminCandidate, LoginCandidate
from switchboard.core.queues.model import JobStatus
from switchboard.ports.clock import Clock


class MemoryUnitOfWork:
    def __init__(self, store: MemoryStore, tenant_id: UUID, user_id: UUID | None = None) -> None:
        self._store = store
        self._tx = Transaction(store)
        scope = (self._tx, tenant_id, user_id)
        self.tenants = MemoryTenantRepository(*scope)
        self.users = MemoryUserRepository(*scope)
        self.memberships = MemoryMembershipRepository(*scope)
        self.refresh_tokens = MemoryRefreshTokenRepository(*scope)
        self.customers = MemoryCustomerRepository(*scope)
        self.integrations = MemoryIntegrationRepository(*scope)
        self.flags = MemoryFlagRepository(*scope)
        self.outbox = MemoryOutboxRepository(*scope)
        self.inbox = MemoryInboxRepository(*scope)
        self.webhook_endpoints = MemoryWebhookEndpointRepository(*scope)
        self.deliveries = MemoryDeliveryRepository(*scope)
        self.idempotency_keys = MemoryIdempotencyRepository(*scope)

    async def __aenter__(self) -> Self:
        await self._store.lock.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._tx.rollback()
        finally:
            self._store.lock.release()

    async def commit(self) -> None:
        self._tx.commit()

    async def rollback(self) -> None:
        self._tx.rollback()


class MemoryIdentityDirectory:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def find_login(self, email: str) -> LoginCandidate | None:
        tables = self._store.tables
        user = next((u for u in tables["users"].values() if u.email == email), None)
        if user is None:
            return None
        memberships = sorted(
            (m for m in tables["memberships"].values() if m.user_id == user.id),
            key=lambda m: (m.created_at, m.tenant_id),
        )
        password_hash = tables["password_hashes"][user.id]
        return LoginCandidate(user.id, password_hash, [m.tenant_id for m in memberships])

    async def find_admin(self, email: str) -> AdminCandidate | None:
        admin = self._store.tables["platform_admins"].get(email)
        return AdminCandidate(admin["id"], admin["password_hash"]) if admin else None

    async def find_integration(self, integration_id: UUID) -> tuple[UUID, str] | None:
        for (tenant_id, row_id), integration in self._store.tables["integrations"].items():
            if row_id == integration_id:
                return tenant_id, integration.provider
        return None

    async def find_refresh_token(self, token_hash: str) -> tuple[UUID, UUID] | None:
        for token in self._store.tables["refresh_tokens"].values():
            if token.token_hash == token_hash:
                return token.tenant_id, token.user_id
        return None


class MemoryJobClaims:
    """Claims due rows of every tenant, leasing them as the PostgreSQL functions do."""

    def __init__(self, store: MemoryStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def claim_outbox(self, limit: int, lease_seconds: int) -> list[tuple[UUID, UUID]]:
        return await self._claim("outbox", limit, lease_seconds)

    async def claim_inbox(self, limit: int, lease_seconds: int) -> list[tuple[UUID, UUID]]:
        return await self._claim("webhook_events", limit, lease_seconds)

    async def wait_for_work(self, at_most_seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._store.work_added.wait(), at_most_seconds)
        except TimeoutError:
            return False
        self._store.work_added.clear()
        return True

    async def close(self) -> None:
        return None

    async def _claim(self, table: str, limit: int, lease_seconds: int) -> list[tuple[UUID, UUID]]:
        async with self._store.lock:
            now = self._clock.now()
            rows = self._store.tables[table]
            due = sorted(
                (
                    (key, job)
                    for key, job in rows.items()
                    if job.status == JobStatus.PENDING
                    and job.next_attempt_at <= now
                    and (job.locked_until is None or job.locked_until < now)
                ),
                key=lambda pair: pair[1].next_attempt_at,
            )[:limit]
            lease = now + timedelta(seconds=lease_seconds)
            for key, job in due:
                rows[key] = replace(job, locked_until=lease, attempts=job.attempts + 1)
            return [key for key, _ in due]
