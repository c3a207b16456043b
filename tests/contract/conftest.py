"""Every storage contract test runs once per adapter: in memory, and on PostgreSQL.

The PostgreSQL database is shared by the whole session, so a test never assumes it is empty:
each one makes its own tenants and users, with fresh ids and emails.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from uuid import UUID, uuid4

import pytest

from switchboard.adapters.memory.store import MemoryStore
from switchboard.adapters.memory.unit_of_work import MemoryIdentityDirectory, MemoryUnitOfWork
from switchboard.adapters.postgres.unit_of_work import PostgresIdentityDirectory, PostgresUnitOfWork
from switchboard.core.customers.model import Customer
from switchboard.core.identity.model import RefreshToken, User
from switchboard.core.tenancy.model import Membership, Role, Tenant
from switchboard.ports.persistence import IdentityDirectory, UnitOfWork, UnitOfWorkFactory


def utc_now() -> datetime:
    """Now, at the microsecond precision both adapters store."""
    return datetime.now(UTC)


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid4().hex}@example.test"


@dataclass(frozen=True)
class Actor:
    """A tenant and the owner acting in it."""

    tenant_id: UUID
    user_id: UUID
    user: User
    password_hash: str


@dataclass
class Storage:
    """One adapter's unit-of-work factory and identity directory, with helpers to fill them."""

    name: str
    units: UnitOfWorkFactory
    directory: IdentityDirectory

    async def new_tenant(self, *, at: datetime | None = None) -> Actor:
        """A tenant with its owner, made exactly as sign-up makes them."""
        now = at or utc_now()
        tenant = Tenant(id=uuid4(), name=f"Tenant {uuid4().hex[:8]}", created_at=now, updated_at=now)
        user = User(id=uuid4(), email=unique_email(), name="Owner", created_at=now, updated_at=now)
        password_hash = "$argon2id$not-a-real-hash-" + uuid4().hex
        async with self.units(tenant.id, user.id) as uow:
            await uow.tenants.add(tenant)
            await uow.users.add(user, password_hash)
            await uow.memberships.add(Membership(tenant.id, user.id, Role.OWNER, now))
            await uow.commit()
        return Actor(tenant.id, user.id, user, password_hash)

    async def commit_work(
        self, tenant_id: UUID, user_id: UUID | None, work: Callable[[UnitOfWork], Awaitable[object]]
    ) -> None:
        """Do ``work`` in a unit of work of ``tenant_id`` acting as ``user_id``, then commit."""
        async with self.units(tenant_id, user_id) as uow:
            await work(uow)
            await uow.commit()

    async def add_member(
        self, actor: Actor, user_id: UUID, role: Role = Role.MEMBER, at: datetime | None = None
    ) -> Membership:
        """Make an existing account a member of ``actor``'s tenant."""
        membership = Membership(actor.tenant_id, user_id, role, at or utc_now())
        async with self.units(actor.tenant_id, actor.user_id) as uow:
            await uow.memberships.add(membership)
            await uow.commit()
        return membership

    async def add_customers(self, actor: Actor, *customers: Customer) -> None:
        async with self.units(actor.tenant_id, actor.user_id) as uow:
            for customer in customers:
                await uow.customers.add(customer)
            await uow.commit()

    async def get_customer(self, actor: Actor, customer_id: UUID) -> Customer | None:
        async with self.units(actor.tenant_id, actor.user_id) as uow:
            return await uow.customers.get(customer_id)

    async def add_refresh_tokens(self, actor: Actor, *tokens: RefreshToken) -> None:
        async with self.units(actor.tenant_id, actor.user_id) as uow:
            for token in tokens:
                await uow.refresh_tokens.add(token)
            await uow.commit()

    async def get_refresh_token(self, actor: Actor, token_hash: str) -> RefreshToken | None:
        async with self.units(actor.tenant_id, actor.user_id) as uow:
            return await uow.refresh_tokens.get_by_hash(token_hash)


def make_token(
    actor: Actor, *, family_id: UUID | None = None, revoked_at: datetime | None = None
) -> RefreshToken:
    now = utc_now()
    return RefreshToken(
        id=uuid4(),
        tenant_id=actor.tenant_id,
        user_id=actor.user_id,
        family_id=family_id or uuid4(),
        token_hash=uuid4().hex + uuid4().hex,
        created_at=now,
        expires_at=now + timedelta(days=30),
        revoked_at=revoked_at,
    )


def make_customer(
    tenant_id: UUID,
    *,
    name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    created_at: datetime | None = None,
) -> Customer:
    at = created_at or utc_now()
    return Customer(
        id=uuid4(),
        tenant_id=tenant_id,
        name=name or f"Customer {uuid4().hex[:8]}",
        email=email,
        phone=phone,
        created_at=at,
        updated_at=at,
    )


@pytest.fixture(params=["memory", "postgres"])
def storage(request: pytest.FixtureRequest) -> Storage:
    """The adapter under test. A sync fixture, so the postgres pool is only made when needed."""
    if request.param == "memory":
        store = MemoryStore()
        return Storage("memory", partial(MemoryUnitOfWork, store), MemoryIdentityDirectory(store))
    pool = request.getfixturevalue("app_pool")
    return Storage("postgres", partial(PostgresUnitOfWork, pool), PostgresIdentityDirectory(pool))
