"""Repositories over the memory store, scoped to one tenant exactly as row-level security is."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime
from typing import Protocol, TypeVar
from uuid import UUID

from switchboard.adapters.memory.store import Transaction
from switchboard.core.customers.model import Customer
from switchboard.core.errors import Conflict
from switchboard.core.flags.model import FlagChange, FlagOverride
from switchboard.core.identity.model import RefreshToken, User
from switchboard.core.integrations.model import Capability, Integration
from switchboard.core.pagination import Page, PageRequest, Position, page_from_overfetch
from switchboard.core.queues.model import InboxEvent, OutboxMessage
from switchboard.core.tenancy.model import Membership, Tenant
from switchboard.core.webhooks.model import Delivery, WebhookEndpoint
from switchboard.ports.persistence import IdempotencyRecord, StoredResponse


class _Scoped:
    def __init__(self, tx: Transaction, tenant_id: UUID, user_id: UUID | None) -> None:
        self._tx = tx
        self._tenant_id = tenant_id
        self._user_id = user_id

    def _check_own_tenant(self, row_tenant: UUID) -> None:
        """What row-level security and the foreign key to tenants refuse on PostgreSQL."""
        if row_tenant != self._tenant_id:
            raise PermissionError("row violates the tenant isolation policy")
        if row_tenant not in self._tx.read("tenants"):
            raise LookupError("no such tenant")


class MemoryTenantRepository(_Scoped):
    async def add(self, tenant: Tenant) -> None:
        if tenant.id != self._tenant_id:
            raise PermissionError("row violates the tenant isolation policy")
        self._tx.insert("tenants", tenant.id, tenant)

    async def get(self) -> Tenant | None:
        return self._tx.read("tenants").get(self._tenant_id)

    async def update(self, tenant: Tenant, expected_version: int) -> bool:
        current = await self.get()
        if current is None or tenant.id != current.id or current.version != expected_version:
            return False
        self._tx.write("tenants")[tenant.id] = replace(
            current, name=tenant.name, updated_at=tenant.updated_at, version=tenant.version
        )
        return True


class MemoryUserRepository(_Scoped):
    async def add(self, user: User, password_hash: str) -> None:
        if user.id != self._user_id:
            raise PermissionError("a user can only be created as the acting user")
        users = self._tx.read("users")
        if any(existing.email == user.email for existing in users.values()):
            raise Conflict("an account with this email already exists", code="email_taken")
        self._tx.insert("users", user.id, user)
        self._tx.write("password_hashes")[user.id] = password_hash

    async def get(self, user_id: UUID) -> User | None:
        visible = user_id == self._user_id or (self._tenant_id, user_id) in self._tx.read("memberships")
        return self._tx.read("users").get(user_id) if visible else None

    async def set_password_hash(self, user_id: UUID, password_hash: str, at: datetime) -> None:
        user = await self.get(user_id)
        if user is not None and user_id == self._user_id:
            self._tx.write("users")[user_id] = replace(user, updated_at=at)
            self._tx.write("password_hashes")[user_id] = password_hash


class MemoryMembershipRepository(_Scoped):
    async def add(self, membership: Membership) -> None:
        self._check_own_tenant(membership.tenant_id)
        if membership.user_id not in self._tx.read("users"):
            raise LookupError("membership of an unknown user")
        self._tx.insert("memberships", (membership.tenant_id, membership.user_id), membership)

    async def get(self, user_id: UUID) -> Membership | None:
        return self._tx.read("memberships").get((self._tenant_id, user_id))


class MemoryRefreshTokenRepository(_Scoped):
    async def add(self, token: RefreshToken) -> None:
        self._check_own_tenant(token.tenant_id)
        if (token.tenant_id, token.user_id) not in self._tx.read("memberships"):
            raise LookupError("refresh token for someone who is not a member of the tenant")
        self._tx.insert("refresh_tokens", (token.tenant_id, token.id), token)

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None:
        return next(
            (t for t in self._own_tokens() if t.token_hash == token_hash),
            None,
        )

    async def mark_used(self, token_id: UUID, used_at: datetime) -> None:
        key = (self._tenant_id, token_id)
        token = self._tx.read("refresh_tokens").get(key)
        if token is not None:
            self._tx.write("refresh_tokens")[key] = replace(token, used_at=used_at)

    async def revoke_family(self, family_id: UUID, revoked_at: datetime) -> None:
        table = self._tx.write("refresh_tokens")
        for token in self._own_tokens():
            if token.family_id == family_id and token.revoked_at is None:
                table[(token.tenant_id, token.id)] = replace(token, revoked_at=revoked_at)

    def _own_tokens(self) -> list[RefreshToken]:
        return [t for (tid, _), t in self._tx.read("refresh_tokens").items() if tid == self._tenant_id]


class MemoryCustomerRepository(_Scoped):
    async def add(self, customer: Customer) -> None:
        self._check_own_tenant(customer.tenant_id)
        self._tx.insert("customers", (customer.tenant_id, customer.id), customer)

    async def add_many(self, customers: list[Customer]) -> None:
        for customer in customers:
            await self.add(customer)

    async def get(self, customer_id: UUID, *, for_update: bool = False) -> Customer | None:
        return self._tx.read("customers").get((self._tenant_id, customer_id))

    async def list(self, page: PageRequest, search: str | None = None) -> Page[Customer]:
        rows = [c for (tid, _), c in self._tx.read("customers").items() if tid == self._tenant_id]
        if search:
            needle = search.lower()
            rows = [c for c in rows if any(needle in (v or "").lower() for v in (c.name, c.email, c.phone))]
        return _newest_first(rows, page)

    async def update(self, customer: Customer, expected_version: int) -> bool:
        current = await self.get(customer.id)
        if current is None or current.version != expected_version:
            return False
        self._tx.write("customers")[(self._tenant_id, customer.id)] = replace(
            current,
            name=customer.name,
            email=customer.email,
            phone=customer.phone,
            updated_at=customer.updated_at,
            version=customer.version,
        )
        return True

    async def delete(self, customer_id: UUID) -> bool:
        return self._tx.write("customers").pop((self._tenant_id, customer_id), None) is not None


class MemoryIdempotencyRepository(_Scoped):
    async def claim(self, record: IdempotencyRecord, stale_before: datetime) -> IdempotencyRecord | None:
        self._check_own_tenant(self._tenant_id)
        key = (self._tenant_id, record.key)
        held: IdempotencyRecord | None = self._tx.read("idempotency_keys").get(key)
        live = held is not None and held.expires_at > record.created_at
        if live and (held.response is not None or held.created_at >= stale_before):
            return held
        self._tx.write("idempotency_keys")[key] = record
        return None

    async def complete(self, key: str, response: StoredResponse) -> None:
        held = self._tx.read("idempotency_keys").get((self._tenant_id, key))
        if held is not None:
            self._tx.write("idempotency_keys")[(self._tenant_id, key)] = replace(held, response=response)

    async def release(self, key: str) -> None:
        self._tx.write("idempotency_keys").pop((self._tenant_id, key), None)


class MemoryIntegrationRepository(_Scoped):
    async def add(self, integration: Integration) -> None:
        self._check_own_tenant(integration.tenant_id)
        self._check_capability_free(integration)
        self._tx.insert("integrations", (integration.tenant_id, integration.id), integration)

    async def get(self, integration_id: UUID, *, for_update: bool = False) -> Integration | None:
        return self._tx.read("integrations").get((self._tenant_id, integration_id))

    async def list(self, page: PageRequest) -> Page[Integration]:
        return _newest_first(self._own(), page)

    async def enabled_for(self, capability: Capability) -> Integration | None:
        return self._enabled_for(capability)

    async def update(self, integration: Integration, expected_version: int) -> bool:
        current = await self.get(integration.id)
        if current is None or current.version != expected_version:
            return False
        merged = replace(
            current,
            enabled=integration.enabled,
            sealed_config=integration.sealed_config,
            secret_fields=integration.secret_fields,
            updated_at=integration.updated_at,
            version=integration.version,
        )
        self._check_capability_free(merged)  # the stored capability, as the index sees it
        self._tx.write("integrations")[(self._tenant_id, integration.id)] = merged
        return True

    async def delete(self, integration_id: UUID) -> bool:
        return self._tx.write("integrations").pop((self._tenant_id, integration_id), None) is not None

    def _own(self) -> list[Integration]:
        return [i for (tid, _), i in self._tx.read("integrations").items() if tid == self._tenant_id]

    def _check_capability_free(self, integration: Integration) -> None:
        """What the partial unique index refuses on PostgreSQL."""
        holder = self._enabled_for(integration.capability)
        if integration.enabled and holder is not None and holder.id != integration.id:
            raise Conflict(
                "another enabled integration already serves this capability", code="capability_taken"
            )

    def _enabled_for(self, capability: Capability) -> Integration | None:
        return next((i for i in self._own() if i.enabled and i.capability == capability), None)


class MemoryFlagRepository(_Scoped):
    async def overrides(self) -> dict[str, bool]:
        return {
            o.key: o.enabled
            for (tid, _), o in self._tx.read("feature_flag_overrides").items()
            if tid == self._tenant_id
        }

    async def set_override(self, override: FlagOverride) -> None:
        self._check_own_tenant(override.tenant_id)
        self._tx.write("feature_flag_overrides")[(override.tenant_id, override.key)] = override

    async def remove_override(self, key: str) -> None:
        self._tx.write("feature_flag_overrides").pop((self._tenant_id, key), None)

    async def record(self, change: FlagChange) -> None:
        self._check_own_tenant(change.tenant_id)
        self._tx.insert("feature_flag_changes", (change.tenant_id, change.id), change)

    async def changes(self, limit: int) -> list[FlagChange]:
        own = [c for (tid, _), c in self._tx.read("feature_flag_changes").items() if tid == self._tenant_id]
        return sorted(own, key=lambda c: (c.changed_at, c.id), reverse=True)[:limit]


class MemoryOutboxRepository(_Scoped):
    async def add(self, message: OutboxMessage) -> None:
        self._check_own_tenant(message.tenant_id)
        # Stored, not shared: a database would not see the caller's later changes either.
        stored = replace(message, payload=copy.deepcopy(message.payload))
        self._tx.insert("outbox", (message.tenant_id, message.id), stored)

    async def get(self, job_id: UUID, *, for_update: bool = False) -> OutboxMessage | None:
        return self._tx.read("outbox").get((self._tenant_id, job_id))

    async def save(self, message: OutboxMessage) -> None:
        _save_queue_state(self._tx, "outbox", (self._tenant_id, message.id), message)


class MemoryInboxRepository(_Scoped):
    async def add_if_new(self, event: InboxEvent) -> bool:
        self._check_own_tenant(event.tenant_id)
        rows = self._tx.read("webhook_events")
        if any(
            (tid, e.provider, e.event_id) == (self._tenant_id, event.provider, event.event_id)
            for (tid, _), e in rows.items()
        ):
            return False
        self._tx.insert(
            "webhook_events", (event.tenant_id, event.id), replace(event, data=copy.deepcopy(event.data))
        )
        return True

    async def get(self, job_id: UUID, *, for_update: bool = False) -> InboxEvent | None:
        return self._tx.read("webhook_events").get((self._tenant_id, job_id))

    async def save(self, event: InboxEvent) -> None:
        _save_queue_state(self._tx, "webhook_events", (self._tenant_id, event.id), event)


class MemoryWebhookEndpointRepository(_Scoped):
    async def add(self, endpoint: WebhookEndpoint) -> None:
        self._check_own_tenant(endpoint.tenant_id)
        self._tx.insert("webhook_endpoints", (endpoint.tenant_id, endpoint.id), endpoint)

    async def get(self, endpoint_id: UUID) -> WebhookEndpoint | None:
        return self._tx.read("webhook_endpoints").get((self._tenant_id, endpoint_id))

    async def enabled(self) -> list[WebhookEndpoint]:
        return [e for e in self._own() if e.enabled]

    async def list(self, page: PageRequest) -> Page[WebhookEndpoint]:
        return _newest_first(self._own(), page)

    async def delete(self, endpoint_id: UUID) -> bool:
        return self._tx.write("webhook_endpoints").pop((self._tenant_id, endpoint_id), None) is not None

    def _own(self) -> list[WebhookEndpoint]:
        return [e for (tid, _), e in self._tx.read("webhook_endpoints").items() if tid == self._tenant_id]


class MemoryDeliveryRepository(_Scoped):
    async def add(self, delivery: Delivery) -> None:
        self._check_own_tenant(delivery.tenant_id)
        self._tx.insert("webhook_deliveries", (delivery.tenant_id, delivery.id), delivery)

    async def list(self, endpoint_id: UUID, page: PageRequest) -> Page[Delivery]:
        rows = self._tx.read("webhook_deliveries").items()
        return _newest_first(
            [d for (tid, _), d in rows if tid == self._tenant_id and d.endpoint_id == endpoint_id], page
        )


def _save_queue_state(
    tx: Transaction, table: str, key: tuple[UUID, UUID], job: OutboxMessage | InboxEvent
) -> None:
    """Only the queue state changes, as on PostgreSQL."""
    current = tx.read(table).get(key)
    if current is not None:
        tx.write(table)[key] = replace(
            current,
            status=job.status,
            attempts=job.attempts,
            next_attempt_at=job.next_attempt_at,
            locked_until=job.locked_until,
            last_error=job.last_error,
            finished_at=job.finished_at,
        )


class _Dated(Protocol):
    created_at: datetime
    id: UUID


D = TypeVar("D", bound=_Dated)


def _newest_first(rows: list[D], page: PageRequest) -> Page[D]:
    """The same keyset order and paging as the PostgreSQL adapter's ``newest_first``."""
    rows = sorted(rows, key=lambda r: (r.created_at, r.id), reverse=True)
    if page.after is not None:
        after = (page.after.created_at, page.after.id)
        rows = [r for r in rows if (r.created_at, r.id) < after]
    return page_from_overfetch(rows[: page.limit + 1], page.limit, lambda r: Position(r.created_at, r.id))
