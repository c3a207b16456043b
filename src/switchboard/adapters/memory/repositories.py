"""Repositories over the memory store, scoped exactly as row-level security scopes PostgreSQL's.

A tenant's rows are keyed by (tenant_id, ...) and shown only to a unit of work of that tenant (none
at all to a unit of work without a tenant); a person's rows (second factor, recovery codes, mailed
tokens, linked identities) are shown only while acting as that person, whatever the tenant.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID, uuid4

from switchboard.adapters.memory.store import Transaction
from switchboard.core.apikeys.model import ApiKey
from switchboard.core.audit.model import SYSTEM, AuditContext, AuditEvent, AuditFilter
from switchboard.core.customers.model import Customer
from switchboard.core.customers.timeline import TimelineEntry, history_entry, newest_after
from switchboard.core.errors import Conflict
from switchboard.core.flags.model import FlagChange, FlagOverride
from switchboard.core.identity.model import (
    AccountToken,
    ExternalIdentityLink,
    MfaFactor,
    RefreshToken,
    Session,
    TokenPurpose,
    User,
)
from switchboard.core.integrations.model import Capability, Integration
from switchboard.core.pagination import Page, PageRequest, Position, page_from_overfetch
from switchboard.core.queues.model import InboxEvent, OutboxMessage
from switchboard.core.tenancy.model import (
    Access,
    Invitation,
    Member,
    Membership,
    Role,
    Tenant,
    TenantStatus,
)
from switchboard.core.webhooks.model import Delivery, WebhookEndpoint
from switchboard.ports.persistence import IdempotencyRecord, StoredResponse


class _Scoped:
    def __init__(self, tx: Transaction, tenant_id: UUID | None, user_id: UUID | None) -> None:
        self._tx = tx
        self._tenant_id = tenant_id
        self._user_id = user_id

    def _check_own_tenant(self, row_tenant: UUID) -> None:
        """What row-level security and the foreign key to tenants refuse on PostgreSQL."""
        if self._tenant_id is None or row_tenant != self._tenant_id:
            raise PermissionError("row violates the tenant isolation policy")
        if row_tenant not in self._tx.read("tenants"):
            raise LookupError("no such tenant")

    def _is_acting_user(self, row_user: UUID) -> bool:
        """The own-rows policy of a person's tables: the acting user's rows, nobody else's."""
        return self._user_id is not None and row_user == self._user_id

    def _check_own_user(self, row_user: UUID) -> None:
        """What the own-rows policy and the foreign key to users refuse on PostgreSQL."""
        if not self._is_acting_user(row_user):
            raise PermissionError("row violates the own-rows policy")
        if row_user not in self._tx.read("users"):
            raise LookupError("no such user")


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
            current,
            name=tenant.name,
            time_zone=tenant.time_zone,
            updated_at=tenant.updated_at,
            version=tenant.version,
        )
        return True

    async def set_status(self, status: TenantStatus, at: datetime) -> None:
        current = await self.get()
        if current is not None:
            # Not a versioned edit: suspension is a platform admin's and must win over a rename.
            self._tx.write("tenants")[current.id] = replace(current, status=status, updated_at=at)


class MemoryUserRepository(_Scoped):
    async def add(self, user: User, password_hash: str | None) -> None:
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

    async def mark_email_verified(self, user_id: UUID, at: datetime) -> None:
        user = await self.get(user_id)
        if user is not None and user_id == self._user_id and user.email_verified_at is None:
            self._tx.write("users")[user_id] = replace(user, email_verified_at=at, updated_at=at)


class MemoryMembershipRepository(_Scoped):
    async def add(self, membership: Membership) -> None:
        self._check_own_tenant(membership.tenant_id)
        if membership.user_id not in self._tx.read("users"):
            raise LookupError("membership of an unknown user")
        key = (membership.tenant_id, membership.user_id)
        if key in self._tx.read("memberships"):
            raise Conflict("this person is already a member of the tenant", code="already_member")
        self._tx.insert("memberships", key, membership)

    async def get(self, user_id: UUID) -> Membership | None:
        return self._tx.read("memberships").get((self._tenant_id, user_id))

    async def list(self) -> list[Member]:
        users = self._tx.read("users")
        return [
            Member(
                user_id=m.user_id,
                email=users[m.user_id].email,
                name=users[m.user_id].name,
                role=m.role,
                joined_at=m.created_at,
                email_verified=users[m.user_id].email_verified_at is not None,
            )
            for m in sorted(self._own(), key=lambda m: (m.created_at, m.user_id))
        ]

    async def set_role(self, user_id: UUID, role: Role) -> bool:
        current = await self.get(user_id)
        if current is None:
            return False
        self._tx.write("memberships")[(self._tenant_id, user_id)] = replace(current, role=role)
        return True

    async def remove(self, user_id: UUID) -> bool:
        if self._tx.write("memberships").pop((self._tenant_id, user_id), None) is None:
            return False
        # ON DELETE CASCADE of the (tenant_id, user_id) foreign keys on PostgreSQL.
        for table in ("sessions", "refresh_tokens"):
            _delete_where(self._tx, table, self._tenant_id, lambda row: row.user_id == user_id)
        return True

    async def count_owners(self, *, for_update: bool = False) -> int:
        # No lock needed: units of work never overlap in memory.
        return sum(1 for m in self._own() if m.role == Role.OWNER)

    def _own(self) -> list[Membership]:
        return [m for (tid, _), m in self._tx.read("memberships").items() if tid == self._tenant_id]


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
        _revoke_refresh_tokens(self._tx, self._tenant_id, revoked_at, lambda t: t.family_id == family_id)

    async def revoke_for_user(self, user_id: UUID, revoked_at: datetime) -> None:
        _revoke_refresh_tokens(self._tx, self._tenant_id, revoked_at, lambda t: t.user_id == user_id)

    def _own_tokens(self) -> list[RefreshToken]:
        return [t for (tid, _), t in self._tx.read("refresh_tokens").items() if tid == self._tenant_id]


class MemorySessionRepository(_Scoped):
    async def add(self, session: Session) -> None:
        self._check_own_tenant(session.tenant_id)
        if (session.tenant_id, session.user_id) not in self._tx.read("memberships"):
            raise LookupError("session of someone who is not a member of the tenant")
        self._tx.insert("sessions", (session.tenant_id, session.id), session)

    async def get(self, session_id: UUID) -> Session | None:
        return self._tx.read("sessions").get((self._tenant_id, session_id))

    async def list_active(self, user_id: UUID) -> list[Session]:
        live = [s for s in self._own() if s.user_id == user_id and s.revoked_at is None]
        return sorted(live, key=lambda s: (s.last_seen_at, s.id), reverse=True)

    async def touch(self, session_id: UUID, at: datetime, ip: str | None, user_agent: str | None) -> None:
        current = await self.get(session_id)
        if current is not None:
            self._tx.write("sessions")[(self._tenant_id, session_id)] = replace(
                current, last_seen_at=at, ip=ip, user_agent=user_agent
            )

    async def revoke(self, session_id: UUID, at: datetime) -> bool:
        return self._revoke(lambda s: s.id == session_id, at) == 1

    async def revoke_all(self, user_id: UUID, at: datetime, *, except_id: UUID | None = None) -> int:
        return self._revoke(lambda s: s.user_id == user_id and s.id != except_id, at)

    def _revoke(self, which: Callable[[Session], bool], at: datetime) -> int:
        """Revoke the live sessions ``which`` picks and their refresh tokens (a session's id is
        its tokens' family id); how many sessions."""
        doomed = {s.id: s for s in self._own() if s.revoked_at is None and which(s)}
        for session in doomed.values():
            self._tx.write("sessions")[(self._tenant_id, session.id)] = replace(session, revoked_at=at)
        _revoke_refresh_tokens(self._tx, self._tenant_id, at, lambda t: t.family_id in doomed)
        return len(doomed)

    def _own(self) -> list[Session]:
        return [s for (tid, _), s in self._tx.read("sessions").items() if tid == self._tenant_id]


class MemoryMfaRepository(_Scoped):
    """``mfa_factors`` is keyed by user_id; ``recovery_codes`` by (user_id, code_hash), holding
    when the code was used (None: unused)."""

    async def get(self, user_id: UUID, *, for_update: bool = False) -> MfaFactor | None:
        return self._tx.read("mfa_factors").get(user_id) if self._is_acting_user(user_id) else None

    async def save(self, factor: MfaFactor) -> None:
        self._check_own_user(factor.user_id)
        self._tx.write("mfa_factors")[factor.user_id] = factor

    async def delete(self, user_id: UUID) -> None:
        if self._is_acting_user(user_id):
            self._tx.write("mfa_factors").pop(user_id, None)
            self._drop_codes(user_id)

    async def replace_recovery_codes(self, user_id: UUID, code_hashes: list[str]) -> None:
        if self._is_acting_user(user_id):
            self._drop_codes(user_id)
        if code_hashes:  # on PostgreSQL, only the inserts can break the own-rows policy
            self._check_own_user(user_id)
        for code_hash in code_hashes:
            self._tx.insert("recovery_codes", (user_id, code_hash), None)

    async def use_recovery_code(self, user_id: UUID, code_hash: str, at: datetime) -> bool:
        key = (user_id, code_hash)
        codes = self._tx.read("recovery_codes")
        if not self._is_acting_user(user_id) or key not in codes or codes[key] is not None:
            return False
        self._tx.write("recovery_codes")[key] = at
        return True

    async def unused_recovery_codes(self, user_id: UUID) -> int:
        if not self._is_acting_user(user_id):
            return 0
        codes = self._tx.read("recovery_codes").items()
        return sum(1 for (owner, _), used_at in codes if owner == user_id and used_at is None)

    def _drop_codes(self, user_id: UUID) -> None:
        codes = self._tx.write("recovery_codes")
        for key in [key for key in codes if key[0] == user_id]:
            del codes[key]


class MemoryAccountTokenRepository(_Scoped):
    async def add(self, token: AccountToken) -> None:
        self._check_own_user(token.user_id)
        # The unique constraint spans every user's tokens, visible or not.
        if any(t.token_hash == token.token_hash for t in self._tx.read("account_tokens").values()):
            raise ValueError("duplicate token_hash in account_tokens")
        self._tx.insert("account_tokens", token.id, token)

    async def get_by_hash(self, token_hash: str) -> AccountToken | None:
        return next((t for t in self._own() if t.token_hash == token_hash), None)

    async def mark_used(self, token_id: UUID, at: datetime) -> None:
        token = self._tx.read("account_tokens").get(token_id)
        if token is not None and self._is_acting_user(token.user_id):
            self._tx.write("account_tokens")[token_id] = replace(token, used_at=at)

    async def void_outstanding(self, user_id: UUID, purpose: TokenPurpose, at: datetime) -> None:
        for token in self._own():
            if token.user_id == user_id and token.purpose == purpose and token.used_at is None:
                self._tx.write("account_tokens")[token.id] = replace(token, used_at=at)

    def _own(self) -> list[AccountToken]:
        return [t for t in self._tx.read("account_tokens").values() if self._is_acting_user(t.user_id)]


class MemoryExternalIdentityRepository(_Scoped):
    async def add(self, link: ExternalIdentityLink) -> None:
        self._check_own_user(link.user_id)
        key = (link.provider, link.subject)
        # The primary key spans every user's links: linked to anyone is linked.
        if key in self._tx.read("external_identities"):
            raise Conflict("this outside identity is already linked to an account", code="identity_linked")
        self._tx.insert("external_identities", key, link)

    async def list(self, user_id: UUID) -> list[ExternalIdentityLink]:
        if not self._is_acting_user(user_id):
            return []
        links = [link for link in self._tx.read("external_identities").values() if link.user_id == user_id]
        return sorted(links, key=lambda link: (link.created_at, link.provider, link.subject))


class MemoryInvitationRepository(_Scoped):
    async def add(self, invitation: Invitation) -> None:
        self._check_own_tenant(invitation.tenant_id)
        self._check_unique(invitation)
        self._tx.insert("invitations", (invitation.tenant_id, invitation.id), invitation)

    async def get(self, invitation_id: UUID, *, for_update: bool = False) -> Invitation | None:
        return self._tx.read("invitations").get((self._tenant_id, invitation_id))

    async def list_outstanding(self) -> list[Invitation]:
        outstanding = [i for i in self._own() if _outstanding(i)]
        return sorted(outstanding, key=lambda i: (i.created_at, i.id), reverse=True)

    async def save(self, invitation: Invitation) -> None:
        current = await self.get(invitation.id)
        if current is None:
            return
        merged = replace(
            current,
            token_hash=invitation.token_hash,
            expires_at=invitation.expires_at,
            accepted_at=invitation.accepted_at,
            accepted_by=invitation.accepted_by,
            revoked_at=invitation.revoked_at,
        )
        self._check_unique(merged)
        self._tx.write("invitations")[(self._tenant_id, invitation.id)] = merged

    def _own(self) -> list[Invitation]:
        return [i for (tid, _), i in self._tx.read("invitations").items() if tid == self._tenant_id]

    def _check_unique(self, invitation: Invitation) -> None:
        """What the unique constraint on (tenant_id, token_hash) and the partial unique index on
        outstanding (tenant_id, email) refuse on PostgreSQL."""
        others = [i for i in self._own() if i.id != invitation.id]
        if any(i.token_hash == invitation.token_hash for i in others):
            raise ValueError("duplicate token_hash in invitations")
        if _outstanding(invitation) and any(_outstanding(i) and i.email == invitation.email for i in others):
            raise Conflict("this address already has an outstanding invitation", code="invitation_pending")


def _outstanding(invitation: Invitation) -> bool:
    """Neither accepted nor revoked; expiry does not count, as in the partial unique index."""
    return invitation.accepted_at is None and invitation.revoked_at is None


class MemoryApiKeyRepository(_Scoped):
    async def add(self, key: ApiKey) -> None:
        self._check_own_tenant(key.tenant_id)
        if any(k.secret_hash == key.secret_hash for k in self._own()):
            raise ValueError("duplicate secret_hash in api_keys")
        # Stored, not shared: a database would not see the caller's later changes to the scopes;
        # and read back as PostgreSQL's adapter reads them, each access an Access.
        scopes = {family: Access(access) for family, access in key.scopes.items()}
        stored = replace(key, scopes=scopes, allowed_origins=tuple(key.allowed_origins))
        self._tx.insert("api_keys", (key.tenant_id, key.id), stored)

    async def get(self, key_id: UUID) -> ApiKey | None:
        return self._tx.read("api_keys").get((self._tenant_id, key_id))

    async def list(self, page: PageRequest) -> Page[ApiKey]:
        return newest_first(self._own(), page)

    async def revoke(self, key_id: UUID, at: datetime) -> bool:
        current = await self.get(key_id)
        if current is None or current.revoked_at is not None:
            return False
        self._tx.write("api_keys")[(self._tenant_id, key_id)] = replace(current, revoked_at=at)
        return True

    def _own(self) -> list[ApiKey]:
        return [k for (tid, _), k in self._tx.read("api_keys").items() if tid == self._tenant_id]


class MemoryAuditRepository(_Scoped):
    """Append-only, as the PostgreSQL grants make the table: there is no way to change an entry."""

    def __init__(
        self,
        tx: Transaction,
        tenant_id: UUID | None,
        user_id: UUID | None,
        context: AuditContext | None,
        now: Callable[[], datetime],
    ) -> None:
        super().__init__(tx, tenant_id, user_id)
        self._context = context or SYSTEM
        self._now = now  # strictly increasing across the store, so the log's order is stable

    async def record(
        self,
        action: str,
        target_type: str | None = None,
        target_id: str | None = None,
        changes: dict[str, Any] | None = None,
    ) -> None:
        tenant_id = self._tenant_id
        if tenant_id is None:
            raise PermissionError("row violates the tenant isolation policy")
        self._check_own_tenant(tenant_id)
        client = self._context.client
        event = AuditEvent(
            id=uuid4(),
            tenant_id=tenant_id,
            occurred_at=self._now(),
            actor=self._context.actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            ip=client.ip,
            user_agent=client.user_agent,
            request_id=client.request_id,
            changes=_as_jsonb(changes or {}),
        )
        self._tx.insert("audit_events", (tenant_id, event.id), event)

    async def list(self, filters: AuditFilter, page: PageRequest) -> Page[AuditEvent]:
        rows = self._tx.read("audit_events").items()
        matching = [e for (tid, _), e in rows if tid == self._tenant_id and _matches(e, filters)]
        found = _keyset_page(matching, page, lambda e: Position(e.occurred_at, e.id))
        # Copies: changing what was read must not change the log.
        return replace(found, items=[replace(e, changes=copy.deepcopy(e.changes)) for e in found.items])


def _matches(event: AuditEvent, filters: AuditFilter) -> bool:
    return (
        (filters.action is None or event.action == filters.action)
        and (filters.actor_id is None or event.actor.id == filters.actor_id)
        and (filters.target_type is None or event.target_type == filters.target_type)
        and (filters.target_id is None or event.target_id == filters.target_id)
        and (filters.occurred_after is None or event.occurred_at > filters.occurred_after)
        and (filters.occurred_before is None or event.occurred_at < filters.occurred_before)
    )


def _as_jsonb(changes: dict[str, Any]) -> dict[str, Any]:
    """The changes as a JSONB column gives them back: refused if not JSON (as psycopg refuses to
    adapt them), with tuples as lists and every key a string."""
    stored: dict[str, Any] = json.loads(json.dumps(changes, allow_nan=False))
    return stored


class MemoryCustomerRepository(_Scoped):
    async def add(self, customer: Customer) -> None:
        self._check_own_tenant(customer.tenant_id)
        self._tx.insert("customers", (customer.tenant_id, customer.id), customer)

    async def add_many(self, customers: list[Customer]) -> None:
        for customer in customers:
            await self.add(customer)

    async def get(self, customer_id: UUID, *, for_update: bool = False) -> Customer | None:
        return self._tx.read("customers").get((self._tenant_id, customer_id))

    async def find_by_phone(self, phone: str) -> Customer | None:
        matching = [
            c
            for (tid, _), c in self._tx.read("customers").items()
            if tid == self._tenant_id and c.phone == phone
        ]
        return min(matching, key=lambda c: (c.created_at, c.id), default=None)

    async def list(
        self, page: PageRequest, search: str | None = None, tag: str | None = None
    ) -> Page[Customer]:
        rows = [c for (tid, _), c in self._tx.read("customers").items() if tid == self._tenant_id]
        if search:
            needle = search.lower()
            rows = [c for c in rows if any(needle in (v or "").lower() for v in (c.name, c.email, c.phone))]
        if tag:
            rows = [c for c in rows if tag in c.tags]
        return newest_first(rows, page)

    async def update(self, customer: Customer, expected_version: int) -> bool:
        current = await self.get(customer.id)
        if current is None or current.version != expected_version:
            return False
        self._tx.write("customers")[(self._tenant_id, customer.id)] = replace(
            current,
            name=customer.name,
            email=customer.email,
            phone=customer.phone,
            addresses=customer.addresses,
            tags=customer.tags,
            notes=customer.notes,
            preferred_channel=customer.preferred_channel,
            updated_at=customer.updated_at,
            version=customer.version,
        )
        return True

    async def delete(self, customer_id: UUID) -> bool:
        return self._tx.write("customers").pop((self._tenant_id, customer_id), None) is not None

    async def timeline(self, customer_id: UUID, after: Position | None, limit: int) -> list[TimelineEntry]:
        target = str(customer_id)
        entries = [
            history_entry(event.id, event.occurred_at, event.action, list(event.changes), customer_id)
            for (tid, _), event in self._tx.read("audit_events").items()
            if tid == self._tenant_id and event.target_type == "customer" and event.target_id == target
        ]
        return newest_after(entries, after, limit)


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
        return newest_first(self._own(), page)

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
        from switchboard.adapters.memory.calendars import forget_links_of_integration  # imports this module

        found = self._tx.write("integrations").pop((self._tenant_id, integration_id), None) is not None
        if found:  # ON DELETE CASCADE: the calendar links made through it
            forget_links_of_integration(self._tx, self._tenant_id, integration_id)
        return found

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
        return newest_first(self._own(), page)

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
        return newest_first(
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


def newest_first(rows: list[D], page: PageRequest) -> Page[D]:
    """The same keyset order and paging as the PostgreSQL adapter's ``newest_first``."""
    return _keyset_page(rows, page, lambda r: Position(r.created_at, r.id))


T = TypeVar("T")


def _keyset_page(rows: list[T], page: PageRequest, position: Callable[[T], Position]) -> Page[T]:
    """One page of ``rows`` in descending ``position`` order, from after ``page.after``."""

    def key(row: T) -> tuple[datetime, UUID]:
        at = position(row)
        return at.created_at, at.id

    rows = sorted(rows, key=key, reverse=True)
    if page.after is not None:
        after = (page.after.created_at, page.after.id)
        rows = [r for r in rows if key(r) < after]
    return page_from_overfetch(rows[: page.limit + 1], page.limit, position)


def _revoke_refresh_tokens(
    tx: Transaction, tenant_id: UUID | None, at: datetime, which: Callable[[RefreshToken], bool]
) -> None:
    """Revoke the tenant's unrevoked refresh tokens that ``which`` picks; revoked ones keep their time."""
    rows = tx.read("refresh_tokens")
    picked = [(k, t) for k, t in rows.items() if k[0] == tenant_id and t.revoked_at is None and which(t)]
    for key, token in picked:
        tx.write("refresh_tokens")[key] = replace(token, revoked_at=at)


def _delete_where(tx: Transaction, table: str, tenant_id: UUID | None, which: Callable[[Any], bool]) -> None:
    doomed = [key for key, row in tx.read(table).items() if key[0] == tenant_id and which(row)]
    for key in doomed:
        del tx.write(table)[key]
