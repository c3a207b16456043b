"""Tenant-scoped transactions on a psycopg pool, and the cross-tenant directory."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any, Self
from uuid import UUID

import psycopg
from psycopg import AsyncClientCursor, AsyncConnection
from psycopg_pool import AsyncConnectionPool

from switchboard.adapters.postgres.analytics import PostgresCallReports
from switchboard.adapters.postgres.avatar_videos import (
    PostgresAvatarCatalogRepository,
    PostgresAvatarVideoRepository,
)
from switchboard.adapters.postgres.calendars import (
    PostgresCalendarEventLinkRepository,
    PostgresExternalBusyRepository,
    PostgresResourceCalendarRepository,
)
from switchboard.adapters.postgres.calls import PostgresCallRepository
from switchboard.adapters.postgres.knowledge import PostgresKnowledgeFileRepository
from switchboard.adapters.postgres.messages import PostgresMessageRepository, PostgresSmsOptOutRepository
from switchboard.adapters.postgres.provider_payments import (
    PostgresProviderPaymentRepository,
    PostgresProviderRefundRepository,
)
from switchboard.adapters.postgres.reminders import PostgresReminderSettingsRepository
from switchboard.adapters.postgres.repositories import (
    PostgresAccountTokenRepository,
    PostgresApiKeyRepository,
    PostgresAuditRepository,
    PostgresCustomerRepository,
    PostgresDeliveryRepository,
    PostgresExternalIdentityRepository,
    PostgresFlagRepository,
    PostgresIdempotencyRepository,
    PostgresInboxRepository,
    PostgresIntegrationRepository,
    PostgresInvitationRepository,
    PostgresMembershipRepository,
    PostgresMfaRepository,
    PostgresOutboxRepository,
    PostgresRefreshTokenRepository,
    PostgresSessionRepository,
    PostgresTenantRepository,
    PostgresUserRepository,
    PostgresWebhookEndpointRepository,
    Transaction,
    scopes_from_json,
)
from switchboard.adapters.postgres.sales import (
    PostgresInvoiceRepository,
    PostgresPaymentRepository,
    PostgresQuoteRepository,
    PostgresSalesCounterRepository,
    PostgresSalesSettingsRepository,
)
from switchboard.adapters.postgres.scheduling import (
    PostgresAppointmentRepository,
    PostgresCalendarFeedRepository,
    PostgresResourceOverrideRepository,
    PostgresResourceRepository,
)
from switchboard.adapters.postgres.voice_agents import (
    PostgresAgentVersionRepository,
    PostgresPhoneNumberRepository,
    PostgresVoiceAgentRepository,
)
from switchboard.core.apikeys.model import KeyCandidate
from switchboard.core.audit.model import AuditContext
from switchboard.core.flags.model import Plan
from switchboard.core.identity.model import AdminCandidate, LoginCandidate
from switchboard.core.pagination import Page, PageRequest, Position, page_from_overfetch
from switchboard.core.tenancy.model import Role, Tenant, TenantStatus
from switchboard.ports.persistence import TenantSummary

Pool = AsyncConnectionPool[AsyncConnection[dict[str, Any]]]
JOBS_CHANNEL = "switchboard_jobs"  # see migration 0006

# Transaction-local (third argument true): the setting ends with the transaction, so a pooled
# connection never carries one tenant's scope into the next request. BEGIN travels in the same
# message (pool connections are in autocommit mode, so psycopg sends no BEGIN of its own): one
# round trip instead of two. Several statements in one message need client-side binding.
_BEGIN_IN_SCOPE = "BEGIN; SELECT set_config('app.tenant_id', %s, true), set_config('app.user_id', %s, true)"


class PostgresUnitOfWork:
    """One transaction scoped to a tenant and an acting user.

    With no tenant, app.tenant_id is '': every tenant table reads empty (and refuses writes), and
    only the acting user's own rows are visible (their account, second factor, mailed tokens,
    linked identities).
    """

    def __init__(
        self,
        pool: Pool,
        tenant_id: UUID | None,
        user_id: UUID | None = None,
        context: AuditContext | None = None,
    ) -> None:
        self._pool = pool
        self._tenant_id = tenant_id
        self._user_id = user_id
        self._context = context
        self._conn: AsyncConnection[dict[str, Any]] | None = None

    async def __aenter__(self) -> Self:
        conn = await self._pool.getconn()
        try:
            async with AsyncClientCursor(conn) as cursor:
                await cursor.execute(_BEGIN_IN_SCOPE, (str(self._tenant_id or ""), str(self._user_id or "")))
        except BaseException:
            await self._pool.putconn(conn)
            raise
        self._conn = conn
        self._tx = tx = Transaction(conn)
        self.tenants = PostgresTenantRepository(tx, self._tenant_id)
        self.users = PostgresUserRepository(tx, self._tenant_id)
        self.memberships = PostgresMembershipRepository(tx, self._tenant_id)
        self.refresh_tokens = PostgresRefreshTokenRepository(tx, self._tenant_id)
        self.sessions = PostgresSessionRepository(tx, self._tenant_id)
        self.mfa = PostgresMfaRepository(tx, self._tenant_id)
        self.account_tokens = PostgresAccountTokenRepository(tx, self._tenant_id)
        self.external_identities = PostgresExternalIdentityRepository(tx, self._tenant_id)
        self.invitations = PostgresInvitationRepository(tx, self._tenant_id)
        self.api_keys = PostgresApiKeyRepository(tx, self._tenant_id)
        self.audit = PostgresAuditRepository(tx, self._tenant_id, self._context)
        self.customers = PostgresCustomerRepository(tx, self._tenant_id)
        self.integrations = PostgresIntegrationRepository(tx, self._tenant_id)
        self.flags = PostgresFlagRepository(tx, self._tenant_id)
        self.outbox = PostgresOutboxRepository(tx, self._tenant_id)
        self.inbox = PostgresInboxRepository(tx, self._tenant_id)
        self.webhook_endpoints = PostgresWebhookEndpointRepository(tx, self._tenant_id)
        self.deliveries = PostgresDeliveryRepository(tx, self._tenant_id)
        self.idempotency_keys = PostgresIdempotencyRepository(tx, self._tenant_id)
        self.sales_settings = PostgresSalesSettingsRepository(tx, self._tenant_id)
        self.sales_counters = PostgresSalesCounterRepository(tx, self._tenant_id)
        self.quotes = PostgresQuoteRepository(tx, self._tenant_id)
        self.invoices = PostgresInvoiceRepository(tx, self._tenant_id)
        self.payments = PostgresPaymentRepository(tx, self._tenant_id)
        self.provider_payments = PostgresProviderPaymentRepository(tx, self._tenant_id)
        self.provider_refunds = PostgresProviderRefundRepository(tx, self._tenant_id)
        self.reminder_settings = PostgresReminderSettingsRepository(tx, self._tenant_id)
        self.messages = PostgresMessageRepository(tx, self._tenant_id)
        self.sms_opt_outs = PostgresSmsOptOutRepository(tx, self._tenant_id)
        self.avatar_videos = PostgresAvatarVideoRepository(tx, self._tenant_id)
        self.avatar_catalogs = PostgresAvatarCatalogRepository(tx, self._tenant_id)
        self.resources = PostgresResourceRepository(tx, self._tenant_id)
        self.resource_overrides = PostgresResourceOverrideRepository(tx, self._tenant_id)
        self.appointments = PostgresAppointmentRepository(tx, self._tenant_id)
        self.calendar_feeds = PostgresCalendarFeedRepository(tx, self._tenant_id)
        self.resource_calendars = PostgresResourceCalendarRepository(tx, self._tenant_id)
        self.calendar_busy = PostgresExternalBusyRepository(tx, self._tenant_id)
        self.calendar_events = PostgresCalendarEventLinkRepository(tx, self._tenant_id)
        self.voice_agents = PostgresVoiceAgentRepository(tx, self._tenant_id)
        self.agent_versions = PostgresAgentVersionRepository(tx, self._tenant_id)
        self.phone_numbers = PostgresPhoneNumberRepository(tx, self._tenant_id)
        self.calls = PostgresCallRepository(tx, self._tenant_id)
        self.knowledge_files = PostgresKnowledgeFileRepository(tx, self._tenant_id)
        self.call_reports = PostgresCallReports(tx, self._tenant_id)
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

    async def find_account_token(self, token_hash: str) -> UUID | None:
        row = await self._call("SELECT directory_find_account_token(%s) AS user_id", token_hash)
        return row["user_id"] if row else None

    async def find_external_identity(self, provider: str, subject: str) -> UUID | None:
        row = await self._call(
            "SELECT directory_find_external_identity(%s, %s) AS user_id", provider, subject
        )
        return row["user_id"] if row else None

    async def find_invitation(self, token_hash: str) -> tuple[UUID, UUID] | None:
        row = await self._call("SELECT * FROM directory_find_invitation(%s)", token_hash)
        return (row["tenant_id"], row["invitation_id"]) if row else None

    async def find_quote_link(self, token_hash: str) -> tuple[UUID, UUID] | None:
        row = await self._call("SELECT * FROM directory_find_quote_link(%s)", token_hash)
        return (row["tenant_id"], row["quote_id"]) if row else None

    async def find_calendar_feed(self, token_hash: str) -> tuple[UUID, UUID] | None:
        row = await self._call("SELECT * FROM directory_find_calendar_feed(%s)", token_hash)
        return (row["tenant_id"], row["resource_id"]) if row else None

    async def find_api_key(self, secret_hash: str) -> KeyCandidate | None:
        row = await self._call("SELECT * FROM directory_find_api_key(%s)", secret_hash)
        if row is None:
            return None
        return KeyCandidate(
            key_id=row["key_id"],
            tenant_id=row["tenant_id"],
            scopes=scopes_from_json(row["scopes"]),
            allowed_origins=tuple(row["allowed_origins"]),
            expires_at=row["expires_at"],
            revoked_at=row["revoked_at"],
            tenant_active=row["tenant_active"],
        )

    async def check_session(self, tenant_id: UUID, user_id: UUID, session_id: UUID) -> Role | None:
        row = await self._call(
            "SELECT directory_check_session(%s, %s, %s) AS role", tenant_id, user_id, session_id
        )
        return Role(row["role"]) if row and row["role"] is not None else None

    async def list_tenants(
        self, page: PageRequest, status: TenantStatus | None = None
    ) -> Page[TenantSummary]:
        after_at, after_id = (page.after.created_at, page.after.id) if page.after else (None, None)
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT * FROM directory_list_tenants(%s::text, %s::timestamptz, %s::uuid, %s::integer)",
                (status.value if status else None, after_at, after_id, page.limit + 1),
            )
            rows = await cursor.fetchall()
        summaries = [
            TenantSummary(
                Tenant(
                    id=row["id"],
                    name=row["name"],
                    created_at=row["created_at"],
                    updated_at=row["updated_at"],
                    version=row["version"],
                    plan=Plan(row["plan"]),
                    status=TenantStatus(row["status"]),
                    time_zone=row["time_zone"],
                ),
                members=row["members"],
            )
            for row in rows
        ]
        return page_from_overfetch(
            summaries, page.limit, lambda summary: Position(summary.tenant.created_at, summary.tenant.id)
        )

    async def _call(self, sql: str, *arguments: object) -> dict[str, Any] | None:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(sql, arguments)
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
