"""Storage ports: repositories, the unit of work, and the one way to cross tenants.

Every unit of work is bound to one tenant when it is made. Adapters guarantee that nothing read
or written through it can belong to another tenant: the postgres adapter by row-level security,
the memory adapter by filtering on the same key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self
from uuid import UUID

from switchboard.core.apikeys.model import ApiKey, KeyCandidate
from switchboard.core.audit.model import AuditContext, AuditEvent, AuditFilter
from switchboard.core.customers.model import Customer
from switchboard.core.customers.timeline import TimelineEntry
from switchboard.core.flags.model import FlagChange, FlagOverride
from switchboard.core.identity.model import (
    AccountToken,
    AdminCandidate,
    ExternalIdentityLink,
    LoginCandidate,
    MfaFactor,
    RefreshToken,
    Session,
    TokenPurpose,
    User,
)
from switchboard.core.integrations.model import Capability, Integration
from switchboard.core.pagination import Page, PageRequest, Position
from switchboard.core.queues.model import InboxEvent, OutboxMessage
from switchboard.core.tenancy.model import Invitation, Member, Membership, Role, Tenant, TenantStatus
from switchboard.core.webhooks.model import Delivery, WebhookEndpoint
from switchboard.ports.analytics import CallReports
from switchboard.ports.avatar_video import AvatarCatalogRepository, AvatarVideoRepository
from switchboard.ports.calendar import (
    CalendarEventLinkRepository,
    ExternalBusyRepository,
    ResourceCalendarRepository,
)
from switchboard.ports.calls import (
    AgentVersionRepository,
    CallRepository,
    KnowledgeFileRepository,
    PhoneNumberRepository,
    VoiceAgentRepository,
)
from switchboard.ports.messaging import MessageRepository, SmsOptOutRepository
from switchboard.ports.provider_payments import ProviderPaymentRepository, ProviderRefundRepository
from switchboard.ports.reminders import ReminderSettingsRepository
from switchboard.ports.sales import (
    InvoiceRepository,
    PaymentRepository,
    QuoteRepository,
    SalesCounterRepository,
    SalesSettingsRepository,
)
from switchboard.ports.scheduling import (
    AppointmentRepository,
    CalendarFeedRepository,
    ResourceOverrideRepository,
    ResourceRepository,
)


class TenantRepository(Protocol):
    async def add(self, tenant: Tenant) -> None: ...

    async def get(self) -> Tenant | None:
        """The unit of work's own tenant."""
        ...

    async def update(self, tenant: Tenant, expected_version: int) -> bool:
        """Store the name, time zone, updated_at and version if the stored version is still
        ``expected_version``."""
        ...

    async def set_status(self, status: TenantStatus, at: datetime) -> None:
        """Suspend or reactivate the unit of work's own tenant."""
        ...


class UserRepository(Protocol):
    async def add(self, user: User, password_hash: str | None) -> None:
        """Create the acting user's account (``password_hash`` None: outside sign-in only).
        Raises ``Conflict(code="email_taken")`` when the email already has an account."""
        ...

    async def get(self, user_id: UUID) -> User | None:
        """A user visible from this tenant: the acting user, or a member of the tenant."""
        ...

    async def set_password_hash(self, user_id: UUID, password_hash: str, at: datetime) -> None:
        """Change the acting user's own hash; a no-op for anyone else."""
        ...

    async def mark_email_verified(self, user_id: UUID, at: datetime) -> None:
        """Record that the acting user proved they read mail at their address; a no-op for
        anyone else, and for an address already verified."""
        ...


class MembershipRepository(Protocol):
    async def add(self, membership: Membership) -> None:
        """Raises ``Conflict(code="already_member")`` when the user already belongs here."""
        ...

    async def get(self, user_id: UUID) -> Membership | None: ...

    async def list(self) -> list[Member]:
        """Every member of the tenant with their account, oldest membership first."""
        ...

    async def set_role(self, user_id: UUID, role: Role) -> bool: ...

    async def remove(self, user_id: UUID) -> bool:
        """End the membership; the member's sessions and refresh tokens in this tenant go too."""
        ...

    async def count_owners(self, *, for_update: bool = False) -> int:
        """The tenant's owners; ``for_update`` locks their memberships until the unit ends, so
        two concurrent demotions cannot both see a second owner."""
        ...


class RefreshTokenRepository(Protocol):
    async def add(self, token: RefreshToken) -> None: ...

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None:
        """The token, locked against concurrent use until the unit of work ends."""
        ...

    async def mark_used(self, token_id: UUID, used_at: datetime) -> None: ...

    async def revoke_family(self, family_id: UUID, revoked_at: datetime) -> None: ...

    async def revoke_for_user(self, user_id: UUID, revoked_at: datetime) -> None:
        """Revoke every live refresh token the user holds in this tenant."""
        ...


class SessionRepository(Protocol):
    """Sign-in sessions; a session's id is the family id of its refresh tokens."""

    async def add(self, session: Session) -> None: ...

    async def get(self, session_id: UUID) -> Session | None: ...

    async def list_active(self, user_id: UUID) -> list[Session]:
        """The user's sessions in this tenant that are not revoked, most recently seen first."""
        ...

    async def touch(self, session_id: UUID, at: datetime, ip: str | None, user_agent: str | None) -> None:
        """Record that the session was used (on each refresh)."""
        ...

    async def revoke(self, session_id: UUID, at: datetime) -> bool:
        """Revoke the session and its refresh tokens; False if there was no live session."""
        ...

    async def revoke_all(self, user_id: UUID, at: datetime, *, except_id: UUID | None = None) -> int:
        """Revoke every live session of the user here (but ``except_id``) and their refresh
        tokens; how many sessions were revoked."""
        ...


class MfaRepository(Protocol):
    """The acting user's second factor and recovery codes (rows belong to the person, not to
    a tenant: they are visible only while acting as that user)."""

    async def get(self, user_id: UUID, *, for_update: bool = False) -> MfaFactor | None: ...

    async def save(self, factor: MfaFactor) -> None:
        """Insert or replace the user's factor."""
        ...

    async def delete(self, user_id: UUID) -> None:
        """Remove the factor and every recovery code."""
        ...

    async def replace_recovery_codes(self, user_id: UUID, code_hashes: list[str]) -> None: ...

    async def use_recovery_code(self, user_id: UUID, code_hash: str, at: datetime) -> bool:
        """Mark an unused code used; False if there is no such unused code."""
        ...

    async def unused_recovery_codes(self, user_id: UUID) -> int: ...


class AccountTokenRepository(Protocol):
    """Tokens mailed to a person: email verification, password reset, unlock (acting user's)."""

    async def add(self, token: AccountToken) -> None: ...

    async def get_by_hash(self, token_hash: str) -> AccountToken | None:
        """The token, locked against concurrent use until the unit of work ends."""
        ...

    async def mark_used(self, token_id: UUID, at: datetime) -> None: ...

    async def void_outstanding(self, user_id: UUID, purpose: TokenPurpose, at: datetime) -> None:
        """Mark every unused token of that purpose used: only the newest one mailed works."""
        ...


class ExternalIdentityRepository(Protocol):
    async def add(self, link: ExternalIdentityLink) -> None:
        """Link an outside identity to the acting user. Raises ``Conflict(code="identity_linked")``
        when (provider, subject) is already linked."""
        ...

    async def list(self, user_id: UUID) -> list[ExternalIdentityLink]: ...


class InvitationRepository(Protocol):
    async def add(self, invitation: Invitation) -> None:
        """Raises ``Conflict(code="invitation_pending")`` when the email has one outstanding
        (neither accepted nor revoked) in this tenant."""
        ...

    async def get(self, invitation_id: UUID, *, for_update: bool = False) -> Invitation | None: ...

    async def list_outstanding(self) -> list[Invitation]:
        """Neither accepted nor revoked (expired ones included, so they can be resent),
        newest first."""
        ...

    async def save(self, invitation: Invitation) -> None:
        """Store token_hash, expires_at, accepted_at, accepted_by and revoked_at."""
        ...


class ApiKeyRepository(Protocol):
    async def add(self, key: ApiKey) -> None: ...

    async def get(self, key_id: UUID) -> ApiKey | None: ...

    async def list(self, page: PageRequest) -> Page[ApiKey]:
        """Newest first, revoked ones included."""
        ...

    async def revoke(self, key_id: UUID, at: datetime) -> bool:
        """False when there is no such key or it was already revoked."""
        ...


class AuditRepository(Protocol):
    async def record(
        self,
        action: str,
        target_type: str | None = None,
        target_id: str | None = None,
        changes: dict[str, Any] | None = None,
    ) -> None:
        """Append an entry stamped with the unit of work's actor and client and the time now."""
        ...

    async def list(self, filters: AuditFilter, page: PageRequest) -> Page[AuditEvent]:
        """Newest first."""
        ...


class TimelineSource(Protocol):
    """A repository that contributes entries to customers' timelines (core/customers/timeline.py).

    Implemented by every repository whose rows are about a customer; listed in the core's
    ``timeline.SOURCES`` with the action a principal needs to see its entries.
    """

    async def timeline(self, customer_id: UUID, after: Position | None, limit: int) -> list[TimelineEntry]:
        """At most ``limit`` entries about the customer, newest first by (occurred_at, id),
        strictly after ``after`` (a keyset position; ``created_at`` is the entry's occurred_at).
        ``limit`` may exceed a page's maximum by one. Entries are read from stored rows, never
        invented; each entry's id is unique across every source."""
        ...


class CustomerRepository(TimelineSource, Protocol):
    async def add(self, customer: Customer) -> None: ...

    async def add_many(self, customers: list[Customer]) -> None:
        """Bulk import, in one statement where the storage allows."""
        ...

    async def get(self, customer_id: UUID, *, for_update: bool = False) -> Customer | None: ...

    async def find_by_phone(self, phone: str) -> Customer | None:
        """The tenant's earliest customer whose stored (normalised, E.164) phone is ``phone``."""
        ...

    async def timeline(self, customer_id: UUID, after: Position | None, limit: int) -> list[TimelineEntry]:
        """The customer's own history (defined before ``list``, which shadows it): the audit
        log's entries whose target is the customer, as ``timeline.history_entry`` makes them."""
        ...

    async def list(
        self, page: PageRequest, search: str | None = None, tag: str | None = None
    ) -> Page[Customer]:
        """Newest first; ``search`` matches name, email or phone, case-insensitively; ``tag``
        (normalised) keeps the customers that carry it."""
        ...

    async def update(self, customer: Customer, expected_version: int) -> bool:
        """Store the writable fields (name, email, phone, addresses, tags, notes,
        preferred_channel, updated_at, version) if the stored version is still
        ``expected_version``; identity and creation time never change."""
        ...

    async def delete(self, customer_id: UUID) -> bool: ...


class FlagRepository(Protocol):
    async def overrides(self) -> dict[str, bool]: ...

    async def set_override(self, override: FlagOverride) -> None:
        """Insert or replace the tenant's override of ``override.key``."""
        ...

    async def remove_override(self, key: str) -> None: ...

    async def record(self, change: FlagChange) -> None:
        """Append to the change log, which is never updated or deleted."""
        ...

    async def changes(self, limit: int) -> list[FlagChange]:
        """The newest ``limit`` changes, newest first."""
        ...


class OutboxRepository(Protocol):
    async def add(self, message: OutboxMessage) -> None: ...

    async def get(self, job_id: UUID, *, for_update: bool = False) -> OutboxMessage | None: ...

    async def save(self, message: OutboxMessage) -> None:
        """Store its status, attempts, next_attempt_at, locked_until, last_error, finished_at."""
        ...


class InboxRepository(Protocol):
    async def add_if_new(self, event: InboxEvent) -> bool:
        """Store the event unless one with its (provider, event_id) is there; True if stored.
        Concurrent duplicates store exactly one."""
        ...

    async def get(self, job_id: UUID, *, for_update: bool = False) -> InboxEvent | None: ...

    async def save(self, event: InboxEvent) -> None:
        """Store its status, attempts, next_attempt_at, locked_until, last_error, finished_at."""
        ...


class JobClaims(Protocol):
    """Claiming due queue rows of every tenant: the worker's one crossing, through the directory.

    A claim leases each row (another worker skips it until the lease ends) and counts an attempt;
    it answers only (tenant_id, id) pairs: the work itself runs in the row's tenant.
    """

    async def claim_outbox(self, limit: int, lease_seconds: int) -> list[tuple[UUID, UUID]]: ...

    async def claim_inbox(self, limit: int, lease_seconds: int) -> list[tuple[UUID, UUID]]: ...

    async def wait_for_work(self, at_most_seconds: float) -> bool:
        """Wait until new rows may be due (True) or ``at_most_seconds`` pass (False)."""
        ...

    async def close(self) -> None: ...


class WebhookEndpointRepository(Protocol):
    async def add(self, endpoint: WebhookEndpoint) -> None: ...

    async def get(self, endpoint_id: UUID) -> WebhookEndpoint | None: ...

    async def enabled(self) -> list[WebhookEndpoint]:
        """Every enabled endpoint of the tenant (defined before ``list``, which shadows it)."""
        ...

    async def list(self, page: PageRequest) -> Page[WebhookEndpoint]: ...

    async def delete(self, endpoint_id: UUID) -> bool: ...


class DeliveryRepository(Protocol):
    async def add(self, delivery: Delivery) -> None:
        """Append to the delivery log, which is never changed afterwards."""
        ...

    async def list(self, endpoint_id: UUID, page: PageRequest) -> Page[Delivery]: ...


class IntegrationRepository(Protocol):
    async def add(self, integration: Integration) -> None:
        """Raises ``Conflict(code="capability_taken")`` when another enabled integration of the
        tenant already serves the same capability."""
        ...

    async def get(self, integration_id: UUID, *, for_update: bool = False) -> Integration | None: ...

    async def list(self, page: PageRequest) -> Page[Integration]: ...

    async def enabled_for(self, capability: Capability) -> Integration | None: ...

    async def update(self, integration: Integration, expected_version: int) -> bool:
        """Store enabled, sealed_config, secret_fields, updated_at and version if the stored
        version is still ``expected_version``; same conflict as ``add``."""
        ...

    async def delete(self, integration_id: UUID) -> bool: ...


@dataclass(frozen=True)
class StoredResponse:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class IdempotencyRecord:
    """A POST made with an Idempotency-Key: what it was, and once answered, the answer."""

    key: str
    fingerprint: str
    created_at: datetime
    expires_at: datetime
    response: StoredResponse | None = None


class IdempotencyRepository(Protocol):
    async def claim(self, record: IdempotencyRecord, stale_before: datetime) -> IdempotencyRecord | None:
        """Store ``record`` and return None, unless its key is taken: then return the holder.

        A key is free again once its record expired, or when it was claimed before
        ``stale_before`` and never answered (the request died mid-way).
        """
        ...

    async def complete(self, key: str, response: StoredResponse) -> None: ...

    async def release(self, key: str) -> None: ...


class UnitOfWorkFinished(RuntimeError):
    """A repository was used after its unit of work committed or rolled back."""


class UnitOfWork(Protocol):
    """One transaction in one tenant. Rolls back unless ``commit`` is called.

    It is finished once it commits or rolls back: using a repository after that raises
    ``UnitOfWorkFinished``; begin a new unit of work instead.
    """

    tenants: TenantRepository
    users: UserRepository
    memberships: MembershipRepository
    refresh_tokens: RefreshTokenRepository
    sessions: SessionRepository
    mfa: MfaRepository
    account_tokens: AccountTokenRepository
    external_identities: ExternalIdentityRepository
    invitations: InvitationRepository
    api_keys: ApiKeyRepository
    audit: AuditRepository
    customers: CustomerRepository
    integrations: IntegrationRepository
    flags: FlagRepository
    outbox: OutboxRepository
    inbox: InboxRepository
    webhook_endpoints: WebhookEndpointRepository
    deliveries: DeliveryRepository
    idempotency_keys: IdempotencyRepository
    resources: ResourceRepository
    resource_overrides: ResourceOverrideRepository
    appointments: AppointmentRepository
    calendar_feeds: CalendarFeedRepository
    # Connected calendars (ports/calendar.py): resource links, recorded busy times, pushed events.
    resource_calendars: ResourceCalendarRepository
    calendar_busy: ExternalBusyRepository
    calendar_events: CalendarEventLinkRepository
    sales_settings: SalesSettingsRepository
    sales_counters: SalesCounterRepository
    quotes: QuoteRepository
    invoices: InvoiceRepository
    payments: PaymentRepository
    provider_payments: ProviderPaymentRepository
    provider_refunds: ProviderRefundRepository
    reminder_settings: ReminderSettingsRepository
    # Text messages with customers, and opted-out numbers (ports/messaging.py).
    messages: MessageRepository
    sms_opt_outs: SmsOptOutRepository
    # Avatar videos (ports/avatar_video.py): the history, and the cached avatars and voices.
    avatar_videos: AvatarVideoRepository
    avatar_catalogs: AvatarCatalogRepository
    # Voice (ports/calls.py): agents, their versions, the platform's phone numbers.
    voice_agents: VoiceAgentRepository
    agent_versions: AgentVersionRepository
    phone_numbers: PhoneNumberRepository
    calls: CallRepository
    # Agents' knowledge base files and their extracted text (ports/calls.py).
    knowledge_files: KnowledgeFileRepository
    # Sums over calls and payments for the reports (ports/analytics.py).
    call_reports: CallReports

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(
        self, tenant_id: UUID | None, user_id: UUID | None = None, context: AuditContext | None = None
    ) -> UnitOfWork:
        """A unit of work scoped to ``tenant_id``, acting for ``user_id`` when known.

        With no tenant, only the acting user's own rows are visible (their account, second
        factor, mailed tokens, linked identities); every tenant's table reads empty.
        Without a context, audit entries name the system as the actor.
        """
        ...


class IdentityDirectory(Protocol):
    """The only lookups that cross tenants, for the moments before a tenant is known.

    Each answers the least that lets the caller pick a tenant; everything after that runs in a
    tenant-bound unit of work.
    """

    async def find_login(self, email: str) -> LoginCandidate | None: ...

    async def find_refresh_token(self, token_hash: str) -> tuple[UUID, UUID] | None:
        """(tenant_id, user_id) of the token with this hash, used or not."""
        ...

    async def find_admin(self, email: str) -> AdminCandidate | None:
        """A platform admin (not a tenant user) by email."""
        ...

    async def find_integration(self, integration_id: UUID) -> tuple[UUID, str] | None:
        """(tenant_id, provider slug) of a connection, for routing its incoming webhooks."""
        ...

    async def find_account_token(self, token_hash: str) -> UUID | None:
        """The user a mailed token (verification, reset, unlock) belongs to."""
        ...

    async def find_external_identity(self, provider: str, subject: str) -> UUID | None:
        """The user an outside identity is linked to."""
        ...

    async def find_invitation(self, token_hash: str) -> tuple[UUID, UUID] | None:
        """(tenant_id, invitation id) of the invitation with this token."""
        ...

    async def find_quote_link(self, token_hash: str) -> tuple[UUID, UUID] | None:
        """(tenant_id, quote id) of the quote whose public link has this token (revoked links
        have none), for the page a customer opens without an account."""
        ...

    async def find_calendar_feed(self, token_hash: str) -> tuple[UUID, UUID] | None:
        """(tenant_id, resource_id) of the calendar feed with this token hash, if its tenant is
        active: the public feed address names no tenant."""
        ...

    async def find_api_key(self, secret_hash: str) -> KeyCandidate | None:
        """The key with this hash, and whether its tenant is active. Notes the key as used
        (at most once a minute, so a busy key costs no write per request)."""
        ...

    async def check_session(self, tenant_id: UUID, user_id: UUID, session_id: UUID) -> Role | None:
        """The user's current role, if the tenant is active, the user still a member and the
        session live; else None. Runs on every request a user token makes."""
        ...

    async def list_tenants(
        self, page: PageRequest, status: TenantStatus | None = None
    ) -> Page[TenantSummary]:
        """Every tenant, newest first: for platform admins only."""
        ...


@dataclass(frozen=True)
class TenantSummary:
    tenant: Tenant
    members: int
