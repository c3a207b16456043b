"""Units of work on the memory store, and the directory and job claims that cross its tenants."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self
from uuid import UUID

from switchboard.adapters.memory.analytics import MemoryCallReports
from switchboard.adapters.memory.avatar_videos import (
    MemoryAvatarCatalogRepository,
    MemoryAvatarVideoRepository,
)
from switchboard.adapters.memory.calendars import (
    MemoryCalendarEventLinkRepository,
    MemoryExternalBusyRepository,
    MemoryResourceCalendarRepository,
)
from switchboard.adapters.memory.calls import MemoryCallRepository
from switchboard.adapters.memory.knowledge import MemoryKnowledgeFileRepository
from switchboard.adapters.memory.messages import MemoryMessageRepository, MemorySmsOptOutRepository
from switchboard.adapters.memory.provider_payments import (
    MemoryProviderPaymentRepository,
    MemoryProviderRefundRepository,
)
from switchboard.adapters.memory.reminders import MemoryReminderSettingsRepository
from switchboard.adapters.memory.repositories import (
    MemoryAccountTokenRepository,
    MemoryApiKeyRepository,
    MemoryAuditRepository,
    MemoryCustomerRepository,
    MemoryDeliveryRepository,
    MemoryExternalIdentityRepository,
    MemoryFlagRepository,
    MemoryIdempotencyRepository,
    MemoryInboxRepository,
    MemoryIntegrationRepository,
    MemoryInvitationRepository,
    MemoryMembershipRepository,
    MemoryMfaRepository,
    MemoryOutboxRepository,
    MemoryRefreshTokenRepository,
    MemorySessionRepository,
    MemoryTenantRepository,
    MemoryUserRepository,
    MemoryWebhookEndpointRepository,
    newest_first,
)
from switchboard.adapters.memory.sales import (
    MemoryInvoiceRepository,
    MemoryPaymentRepository,
    MemoryQuoteRepository,
    MemorySalesCounterRepository,
    MemorySalesSettingsRepository,
)
from switchboard.adapters.memory.scheduling import (
    MemoryAppointmentRepository,
    MemoryCalendarFeedRepository,
    MemoryResourceOverrideRepository,
    MemoryResourceRepository,
)
from switchboard.adapters.memory.store import MemoryStore, Transaction
from switchboard.adapters.memory.voice_agents import (
    MemoryAgentVersionRepository,
    MemoryPhoneNumberRepository,
    MemoryVoiceAgentRepository,
)
from switchboard.core.apikeys.model import KeyCandidate
from switchboard.core.audit.model import AuditContext
from switchboard.core.identity.model import AdminCandidate, LoginCandidate
from switchboard.core.pagination import Page, PageRequest
from switchboard.core.queues.model import JobStatus
from switchboard.core.tenancy.model import Role, TenantStatus
from switchboard.ports.clock import Clock
from switchboard.ports.persistence import TenantSummary

# How often the directory notes an API key as used, as the PostgreSQL function does.
KEY_USE_RESOLUTION = timedelta(minutes=1)


class MemoryUnitOfWork:
    def __init__(
        self,
        store: MemoryStore,
        tenant_id: UUID | None,
        user_id: UUID | None = None,
        context: AuditContext | None = None,
    ) -> None:
        self._store = store
        self._tx = Transaction(store)
        scope = (self._tx, tenant_id, user_id)
        self.tenants = MemoryTenantRepository(*scope)
        self.users = MemoryUserRepository(*scope)
        self.memberships = MemoryMembershipRepository(*scope)
        self.refresh_tokens = MemoryRefreshTokenRepository(*scope)
        self.sessions = MemorySessionRepository(*scope)
        self.mfa = MemoryMfaRepository(*scope)
        self.account_tokens = MemoryAccountTokenRepository(*scope)
        self.external_identities = MemoryExternalIdentityRepository(*scope)
        self.invitations = MemoryInvitationRepository(*scope)
        self.api_keys = MemoryApiKeyRepository(*scope)
        self.audit = MemoryAuditRepository(*scope, context, store.audit_time)
        self.customers = MemoryCustomerRepository(*scope)
        self.integrations = MemoryIntegrationRepository(*scope)
        self.flags = MemoryFlagRepository(*scope)
        self.outbox = MemoryOutboxRepository(*scope)
        self.inbox = MemoryInboxRepository(*scope)
        self.webhook_endpoints = MemoryWebhookEndpointRepository(*scope)
        self.deliveries = MemoryDeliveryRepository(*scope)
        self.idempotency_keys = MemoryIdempotencyRepository(*scope)
        self.sales_settings = MemorySalesSettingsRepository(*scope)
        self.sales_counters = MemorySalesCounterRepository(*scope)
        self.quotes = MemoryQuoteRepository(*scope)
        self.invoices = MemoryInvoiceRepository(*scope)
        self.payments = MemoryPaymentRepository(*scope)
        self.provider_payments = MemoryProviderPaymentRepository(*scope)
        self.provider_refunds = MemoryProviderRefundRepository(*scope)
        self.reminder_settings = MemoryReminderSettingsRepository(*scope)
        self.messages = MemoryMessageRepository(*scope)
        self.sms_opt_outs = MemorySmsOptOutRepository(*scope)
        self.avatar_videos = MemoryAvatarVideoRepository(*scope)
        self.avatar_catalogs = MemoryAvatarCatalogRepository(*scope)
        self.resources = MemoryResourceRepository(*scope)
        self.resource_overrides = MemoryResourceOverrideRepository(*scope)
        self.appointments = MemoryAppointmentRepository(*scope)
        self.calendar_feeds = MemoryCalendarFeedRepository(*scope)
        self.resource_calendars = MemoryResourceCalendarRepository(*scope)
        self.calendar_busy = MemoryExternalBusyRepository(*scope)
        self.calendar_events = MemoryCalendarEventLinkRepository(*scope)
        self.voice_agents = MemoryVoiceAgentRepository(*scope)
        self.agent_versions = MemoryAgentVersionRepository(*scope)
        self.phone_numbers = MemoryPhoneNumberRepository(*scope)
        self.calls = MemoryCallRepository(*scope)
        self.knowledge_files = MemoryKnowledgeFileRepository(*scope)
        self.call_reports = MemoryCallReports(*scope)

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
            self._store.release()

    async def commit(self) -> None:
        self._tx.commit()

    async def rollback(self) -> None:
        self._tx.rollback()


class MemoryIdentityDirectory:
    """Reads committed rows only, as the PostgreSQL functions read from their own transaction."""

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

    async def find_account_token(self, token_hash: str) -> UUID | None:
        tokens = self._store.tables["account_tokens"].values()
        return next((t.user_id for t in tokens if t.token_hash == token_hash), None)

    async def find_external_identity(self, provider: str, subject: str) -> UUID | None:
        link = self._store.tables["external_identities"].get((provider, subject))
        return link.user_id if link else None

    async def find_invitation(self, token_hash: str) -> tuple[UUID, UUID] | None:
        invitations = self._store.tables["invitations"].values()
        return next(((i.tenant_id, i.id) for i in invitations if i.token_hash == token_hash), None)

    async def find_quote_link(self, token_hash: str) -> tuple[UUID, UUID] | None:
        tables = self._store.tables
        for (tenant_id, quote_id), quote in tables["quotes"].items():
            tenant = tables["tenants"].get(tenant_id)
            active = tenant is not None and tenant.status == TenantStatus.ACTIVE
            if quote.link_token_hash == token_hash and active:
                return tenant_id, quote_id
        return None

    async def find_calendar_feed(self, token_hash: str) -> tuple[UUID, UUID] | None:
        tables = self._store.tables
        for (tenant_id, resource_id), feed in tables["calendar_feeds"].items():
            tenant = tables["tenants"].get(tenant_id)
            if feed.token_hash == token_hash and tenant is not None and tenant.status == TenantStatus.ACTIVE:
                return tenant_id, resource_id
        return None

    async def find_api_key(self, secret_hash: str) -> KeyCandidate | None:
        tables = self._store.tables
        key = next((k for k in tables["api_keys"].values() if k.secret_hash == secret_hash), None)
        if key is None:
            return None
        at = datetime.now(UTC)
        self._store.write_outside(lambda: self._note_use(key.tenant_id, key.id, at))
        tenant = tables["tenants"][key.tenant_id]
        return KeyCandidate(
            key_id=key.id,
            tenant_id=key.tenant_id,
            scopes=dict(key.scopes),  # the caller's own, as a row read from the database is
            allowed_origins=key.allowed_origins,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
            tenant_active=tenant.status == TenantStatus.ACTIVE,
        )

    async def check_session(self, tenant_id: UUID, user_id: UUID, session_id: UUID) -> Role | None:
        tables = self._store.tables
        tenant = tables["tenants"].get(tenant_id)
        membership = tables["memberships"].get((tenant_id, user_id))
        session = tables["sessions"].get((tenant_id, session_id))
        live = (
            tenant is not None
            and tenant.status == TenantStatus.ACTIVE
            and session is not None
            and session.user_id == user_id
            and session.revoked_at is None
        )
        return membership.role if live and membership is not None else None

    async def list_tenants(
        self, page: PageRequest, status: TenantStatus | None = None
    ) -> Page[TenantSummary]:
        tables = self._store.tables
        tenants = [t for t in tables["tenants"].values() if status is None or t.status == status]
        found = newest_first(tenants, page)
        members = Counter(tenant_id for tenant_id, _ in tables["memberships"])
        return Page([TenantSummary(t, members[t.id]) for t in found.items], found.next_position)

    def _note_use(self, tenant_id: UUID, key_id: UUID, at: datetime) -> None:
        """As ``directory_find_api_key`` does: an unrevoked key, at most once a minute."""
        keys = self._store.tables["api_keys"]
        key = keys.get((tenant_id, key_id))
        if (
            key is not None
            and key.revoked_at is None
            and (key.last_used_at is None or key.last_used_at < at - KEY_USE_RESOLUTION)
        ):
            keys[(tenant_id, key_id)] = replace(key, last_used_at=at)


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
