"""Storage ports: repositories, the unit of work, and the one way to cross tenants.

Every unit of work is bound to one tenant when it is made. Adapters guarantee that nothing read
or written through it can belong to another tenant: the postgres adapter by row-level security,
the memory adapter by filtering on the same key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from switchboard.core.customers.model import Customer
from switchboard.core.flags.model import FlagChange, FlagOverride
from switchboard.core.identity.model import AdminCandidate, LoginCandidate, RefreshToken, User
from switchboard.core.integrations.model import Capability, Integration
from switchboard.core.pagination import Page, PageRequest
from switchboard.core.queues.model import InboxEvent, OutboxMessage
from switchboard.core.tenancy.model import Membership, Tenant
from switchboard.core.webhooks.model import Delivery, WebhookEndpoint


class TenantRepository(Protocol):
    async def add(self, tenant: Tenant) -> None: ...

    async def get(self) -> Tenant | None:
        """The unit of work's own tenant."""
        ...

    async def update(self, tenant: Tenant, expected_version: int) -> bool:
        """Store the name, updated_at and version if the stored version is still
        ``expected_version``."""
        ...


class UserRepository(Protocol):
    async def add(self, user: User, password_hash: str) -> None:
        """Raises ``Conflict(code="email_taken")`` when the email already has an account."""
        ...

    async def get(self, user_id: UUID) -> User | None:
        """A user visible from this tenant: the acting user, or a member of the tenant."""
        ...

    async def set_password_hash(self, user_id: UUID, password_hash: str, at: datetime) -> None:
        """Change the acting user's own hash; a no-op for anyone else."""
        ...


class MembershipRepository(Protocol):
    async def add(self, membership: Membership) -> None: ...

    async def get(self, user_id: UUID) -> Membership | None: ...


class RefreshTokenRepository(Protocol):
    async def add(self, token: RefreshToken) -> None: ...

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None:
        """The token, locked against concurrent use until the unit of work ends."""
        ...

    async def mark_used(self, token_id: UUID, used_at: datetime) -> None: ...

    async def revoke_family(self, family_id: UUID, revoked_at: datetime) -> None: ...


class CustomerRepository(Protocol):
    async def add(self, customer: Customer) -> None: ...

    async def add_many(self, customers: list[Customer]) -> None:
        """Bulk import, in one statement where the storage allows."""
        ...

    async def get(self, customer_id: UUID, *, for_update: bool = False) -> Customer | None: ...

    async def list(self, page: PageRequest, search: str | None = None) -> Page[Customer]:
        """Newest first; ``search`` matches name, email or phone, case-insensitively."""
        ...

    async def update(self, customer: Customer, expected_version: int) -> bool:
        """Store the writable fields (name, email, phone, updated_at, version) if the stored
        version is still ``expected_version``; identity and creation time never change."""
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
    customers: CustomerRepository
    integrations: IntegrationRepository
    flags: FlagRepository
    outbox: OutboxRepository
    inbox: InboxRepository
    webhook_endpoints: WebhookEndpointRepository
    deliveries: DeliveryRepository
    idempotency_keys: IdempotencyRepository

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
    def __call__(self, tenant_id: UUID, user_id: UUID | None = None) -> UnitOfWork:
        """A unit of work scoped to ``tenant_id``, acting for ``user_id`` when known."""
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
