"""Repositories on a psycopg connection inside a tenant-scoped transaction.

Row-level security already confines every statement to the transaction's tenant; the explicit
``tenant_id`` conditions below are there for the planner (index use) and as a second guard.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from typing import Any, TypeVar
from uuid import UUID, uuid4

from psycopg import AsyncConnection
from psycopg.errors import UniqueViolation
from psycopg.types.json import Jsonb
from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    null,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert

from switchboard.adapters.postgres.statements import compile_sql
from switchboard.adapters.postgres.tables import (
    account_tokens,
    api_keys,
    audit_events,
    customers,
    external_identities,
    feature_flag_changes,
    feature_flag_overrides,
    idempotency_keys,
    integrations,
    invitations,
    memberships,
    mfa_factors,
    outbox,
    recovery_codes,
    refresh_tokens,
    sessions,
    tenants,
    users,
    webhook_deliveries,
    webhook_endpoints,
    webhook_events,
)
from switchboard.core.apikeys.model import ApiKey
from switchboard.core.audit.model import Actor, ActorType, AuditContext, AuditEvent, AuditFilter
from switchboard.core.customers.model import Address, ContactChannel, Customer, address_fields
from switchboard.core.customers.timeline import TimelineEntry, history_entry
from switchboard.core.errors import Conflict
from switchboard.core.flags.model import FlagChange, FlagOverride, Plan
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
from switchboard.core.queues.model import InboxEvent, JobStatus, OutboxMessage
from switchboard.core.tenancy.model import Access, Invitation, Member, Membership, Role, Tenant, TenantStatus
from switchboard.core.webhooks.model import Delivery, WebhookEndpoint
from switchboard.ports.persistence import IdempotencyRecord, StoredResponse, UnitOfWorkFinished

Row = dict[str, Any]
T = TypeVar("T")


def _values(record: object) -> Row:
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}  # type: ignore[arg-type]


class Transaction:
    """The connection of one unit of work, usable until that transaction ends."""

    def __init__(self, conn: AsyncConnection[Row]) -> None:
        self._conn: AsyncConnection[Row] | None = conn

    @property
    def conn(self) -> AsyncConnection[Row]:
        if self._conn is None:
            raise UnitOfWorkFinished("this unit of work has committed or rolled back")
        return self._conn

    def finish(self) -> None:
        self._conn = None


def _created_position(item: Any) -> Position:
    return Position(item.created_at, item.id)


class _Repository:
    def __init__(self, tx: Transaction, tenant_id: UUID | None) -> None:
        self._tx = tx
        self._tenant_id = tenant_id  # None: no tenant, every tenant table reads empty

    @property
    def _conn(self) -> AsyncConnection[Row]:
        return self._tx.conn

    async def _one(self, sql: str, params: Row) -> Row | None:
        cursor = await self._conn.execute(sql, params)
        return await cursor.fetchone()

    async def _all(self, sql: str, params: Row) -> list[Row]:
        cursor = await self._conn.execute(sql, params)
        return await cursor.fetchall()

    async def _count(self, sql: str, params: Row) -> int:
        cursor = await self._conn.execute(sql, params)
        return cursor.rowcount

    async def _page(
        self,
        sql: str,
        params: Row,
        page: PageRequest,
        make: Callable[[Row], T],
        position_of: Callable[[T], Position] = _created_position,
    ) -> Page[T]:
        """Run a ``newest_first`` statement for one page: ``limit + 1`` rows tell if more exist."""
        params = params | {"tenant_id": self._tenant_id, "limit": page.limit + 1}
        if page.after is not None:
            params |= {"after_created_at": page.after.created_at, "after_id": page.after.id}
        rows = [make(row) for row in await self._all(sql, params)]
        return page_from_overfetch(rows, page.limit, position_of)

    async def _refusing_duplicates(self, sql: str, params: Row, constraint: str, conflict: Conflict) -> int:
        """Run a write that the unique ``constraint`` may refuse; that refusal becomes ``conflict``.

        Inside a savepoint, so the failure stays contained and the unit of work can go on.
        """
        try:
            async with self._conn.transaction():
                return await self._count(sql, params)
        except UniqueViolation as error:
            if error.diag.constraint_name != constraint:
                raise
            raise conflict from error


def this_row(table: Table) -> ColumnElement[bool]:
    """The row of the unit of work's tenant with the given id."""
    return and_(table.c.tenant_id == bindparam("tenant_id"), table.c.id == bindparam("id"))


def versioned_update(table: Table, *columns: str) -> str:
    """Set ``columns`` of this row, only if it is still at ``expected_version``."""
    return compile_sql(
        update(table)
        .where(this_row(table), table.c.version == bindparam("expected_version"))
        .values({name: bindparam(name) for name in columns})
    )


def newest_first(table: Table, after: bool, time_column: str = "created_at") -> Select[Any]:
    """A tenant's rows newest first, from after a keyset position when ``after``."""
    time = table.c[time_column]
    statement = (
        select(table)
        .where(table.c.tenant_id == bindparam("tenant_id"))
        .order_by(time.desc(), table.c.id.desc())
        .limit(bindparam("limit"))
    )
    if after:
        position = tuple_(time, table.c.id)
        statement = statement.where(position < tuple_(bindparam("after_created_at"), bindparam("after_id")))
    return statement


def customer_timeline_sql(table: Table, after: bool, time_column: str = "created_at") -> str:
    """One customer's rows of ``table``, newest ``time_column`` first: a page of a timeline
    source."""
    statement = newest_first(table, after, time_column)
    return compile_sql(statement.where(table.c.customer_id == bindparam("customer_id")))


def customer_timeline_params(
    tenant_id: UUID | None, customer_id: UUID, after: Position | None, limit: int
) -> Row:
    params: Row = {"tenant_id": tenant_id, "customer_id": customer_id, "limit": limit}
    if after is not None:
        params |= {"after_created_at": after.created_at, "after_id": after.id}
    return params


_TENANT_INSERT = compile_sql(insert(tenants))
_TENANT_GET = compile_sql(select(tenants).where(tenants.c.id == bindparam("tenant_id")))
_TENANT_UPDATE = compile_sql(
    update(tenants)
    .where(tenants.c.id == bindparam("id"), tenants.c.version == bindparam("expected_version"))
    .values(
        name=bindparam("name"),
        time_zone=bindparam("time_zone"),
        updated_at=bindparam("updated_at"),
        version=bindparam("version"),
    )
)
# Not versioned: a rename racing a suspension writes other columns, so neither is lost.
_TENANT_SET_STATUS = compile_sql(
    update(tenants)
    .where(tenants.c.id == bindparam("tenant_id"))
    .values(status=bindparam("status"), updated_at=bindparam("at"))
)


def _tenant(row: Row) -> Tenant:
    return Tenant(**(row | {"plan": Plan(row["plan"]), "status": TenantStatus(row["status"])}))


class PostgresTenantRepository(_Repository):
    async def add(self, tenant: Tenant) -> None:
        values = _values(tenant) | {"plan": tenant.plan.value, "status": tenant.status.value}
        await self._conn.execute(_TENANT_INSERT, values)

    async def get(self) -> Tenant | None:
        row = await self._one(_TENANT_GET, {"tenant_id": self._tenant_id})
        return _tenant(row) if row else None

    async def update(self, tenant: Tenant, expected_version: int) -> bool:
        params = _values(tenant) | {"expected_version": expected_version}
        return await self._count(_TENANT_UPDATE, params) == 1

    async def set_status(self, status: TenantStatus, at: datetime) -> None:
        params = {"tenant_id": self._tenant_id, "status": status.value, "at": at}
        await self._conn.execute(_TENANT_SET_STATUS, params)


_USER_INSERT = compile_sql(insert(users))
# Every column but the password hash, which the application role may not read.
_USER_COLUMNS = [column for column in users.columns if column.name != "password_hash"]
_USER_GET = compile_sql(select(*_USER_COLUMNS).where(users.c.id == bindparam("user_id")))
_USER_SET_PASSWORD = compile_sql(
    update(users)
    .where(users.c.id == bindparam("user_id"))
    .values(password_hash=bindparam("password_hash"), updated_at=bindparam("now"))
)
# Row-level security lets a user update only their own row: anyone else's is left alone.
_USER_MARK_EMAIL_VERIFIED = compile_sql(
    update(users)
    .where(users.c.id == bindparam("user_id"), users.c.email_verified_at.is_(None))
    .values(email_verified_at=bindparam("at"), updated_at=bindparam("at"))
)


class PostgresUserRepository(_Repository):
    async def add(self, user: User, password_hash: str | None) -> None:
        try:
            async with self._conn.transaction():  # a savepoint: the failure stays contained
                await self._conn.execute(_USER_INSERT, _values(user) | {"password_hash": password_hash})
        except UniqueViolation as error:
            raise Conflict("an account with this email already exists", code="email_taken") from error

    async def get(self, user_id: UUID) -> User | None:
        row = await self._one(_USER_GET, {"user_id": user_id})
        return User(**row) if row else None

    async def set_password_hash(self, user_id: UUID, password_hash: str, at: datetime) -> None:
        params = {"user_id": user_id, "password_hash": password_hash, "now": at}
        await self._conn.execute(_USER_SET_PASSWORD, params)

    async def mark_email_verified(self, user_id: UUID, at: datetime) -> None:
        await self._conn.execute(_USER_MARK_EMAIL_VERIFIED, {"user_id": user_id, "at": at})


_THIS_MEMBERSHIP = and_(
    memberships.c.tenant_id == bindparam("tenant_id"), memberships.c.user_id == bindparam("user_id")
)
_MEMBERSHIP_INSERT = compile_sql(insert(memberships))
_MEMBERSHIP_GET = compile_sql(select(memberships).where(_THIS_MEMBERSHIP))
_MEMBERS = compile_sql(
    select(
        memberships.c.user_id,
        users.c.email,
        users.c.name,
        memberships.c.role,
        memberships.c.created_at.label("joined_at"),
        users.c.email_verified_at.is_not(None).label("email_verified"),
    )
    .join_from(memberships, users, users.c.id == memberships.c.user_id)
    .where(memberships.c.tenant_id == bindparam("tenant_id"))
    .order_by(memberships.c.created_at, memberships.c.user_id)
)
_MEMBERSHIP_SET_ROLE = compile_sql(update(memberships).where(_THIS_MEMBERSHIP).values(role=bindparam("role")))
# The member's sessions and refresh tokens go with the membership (ON DELETE CASCADE).
_MEMBERSHIP_DELETE = compile_sql(delete(memberships).where(_THIS_MEMBERSHIP))
_owners = select(memberships.c.user_id).where(
    memberships.c.tenant_id == bindparam("tenant_id"), memberships.c.role == bindparam("role")
)
# An aggregate cannot lock rows: lock the owners' memberships in a subquery, count outside it.
_OWNERS_COUNT = compile_sql(select(func.count().label("n")).select_from(_owners.subquery()))
_OWNERS_COUNT_FOR_UPDATE = compile_sql(
    select(func.count().label("n")).select_from(_owners.with_for_update().subquery())
)


def _membership(row: Row) -> Membership:
    return Membership(**(row | {"role": Role(row["role"])}))


class PostgresMembershipRepository(_Repository):
    async def add(self, membership: Membership) -> None:
        await self._refusing_duplicates(
            _MEMBERSHIP_INSERT,
            _values(membership) | {"role": membership.role.value},
            "memberships_pkey",
            Conflict("this person is already a member", code="already_member"),
        )

    async def get(self, user_id: UUID) -> Membership | None:
        row = await self._one(_MEMBERSHIP_GET, {"tenant_id": self._tenant_id, "user_id": user_id})
        return _membership(row) if row else None

    async def list(self) -> list[Member]:
        rows = await self._all(_MEMBERS, {"tenant_id": self._tenant_id})
        return [Member(**(row | {"role": Role(row["role"])})) for row in rows]

    async def set_role(self, user_id: UUID, role: Role) -> bool:
        params = {"tenant_id": self._tenant_id, "user_id": user_id, "role": role.value}
        return await self._count(_MEMBERSHIP_SET_ROLE, params) == 1

    async def remove(self, user_id: UUID) -> bool:
        return await self._count(_MEMBERSHIP_DELETE, {"tenant_id": self._tenant_id, "user_id": user_id}) == 1

    async def count_owners(self, *, for_update: bool = False) -> int:
        params = {"tenant_id": self._tenant_id, "role": Role.OWNER.value}
        row = await self._one(_OWNERS_COUNT_FOR_UPDATE if for_update else _OWNERS_COUNT, params)
        assert row is not None
        return int(row["n"])


_TOKEN_INSERT = compile_sql(insert(refresh_tokens))
_TOKEN_GET_FOR_UPDATE = compile_sql(
    select(refresh_tokens)
    .where(
        refresh_tokens.c.tenant_id == bindparam("tenant_id"),
        refresh_tokens.c.token_hash == bindparam("token_hash"),
    )
    .with_for_update()
)
_TOKEN_MARK_USED = compile_sql(
    update(refresh_tokens)
    .where(refresh_tokens.c.tenant_id == bindparam("tenant_id"), refresh_tokens.c.id == bindparam("id"))
    .values(used_at=bindparam("at"))
)
_TOKEN_REVOKE_FAMILY = compile_sql(
    update(refresh_tokens)
    .where(
        refresh_tokens.c.tenant_id == bindparam("tenant_id"),
        refresh_tokens.c.family_id == bindparam("family_id"),
        refresh_tokens.c.revoked_at.is_(None),
    )
    .values(revoked_at=bindparam("at"))
)
_TOKEN_REVOKE_FOR_USER = compile_sql(
    update(refresh_tokens)
    .where(
        refresh_tokens.c.tenant_id == bindparam("tenant_id"),
        refresh_tokens.c.user_id == bindparam("user_id"),
        refresh_tokens.c.revoked_at.is_(None),
    )
    .values(revoked_at=bindparam("at"))
)


class PostgresRefreshTokenRepository(_Repository):
    async def add(self, token: RefreshToken) -> None:
        await self._conn.execute(_TOKEN_INSERT, _values(token))

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None:
        params = {"tenant_id": self._tenant_id, "token_hash": token_hash}
        row = await self._one(_TOKEN_GET_FOR_UPDATE, params)
        return RefreshToken(**row) if row else None

    async def mark_used(self, token_id: UUID, used_at: datetime) -> None:
        await self._conn.execute(
            _TOKEN_MARK_USED, {"tenant_id": self._tenant_id, "id": token_id, "at": used_at}
        )

    async def revoke_family(self, family_id: UUID, revoked_at: datetime) -> None:
        params = {"tenant_id": self._tenant_id, "family_id": family_id, "at": revoked_at}
        await self._conn.execute(_TOKEN_REVOKE_FAMILY, params)

    async def revoke_for_user(self, user_id: UUID, revoked_at: datetime) -> None:
        params = {"tenant_id": self._tenant_id, "user_id": user_id, "at": revoked_at}
        await self._conn.execute(_TOKEN_REVOKE_FOR_USER, params)


_THIS_SESSION = this_row(sessions)
_SESSION_INSERT = compile_sql(insert(sessions))
_SESSION_GET = compile_sql(select(sessions).where(_THIS_SESSION))
_SESSIONS_ACTIVE = compile_sql(
    select(sessions)
    .where(
        sessions.c.tenant_id == bindparam("tenant_id"),
        sessions.c.user_id == bindparam("user_id"),
        sessions.c.revoked_at.is_(None),
    )
    .order_by(sessions.c.last_seen_at.desc(), sessions.c.id.desc())
)
_SESSION_TOUCH = compile_sql(
    update(sessions)
    .where(_THIS_SESSION)
    .values(last_seen_at=bindparam("at"), ip=bindparam("ip"), user_agent=bindparam("user_agent"))
)


def _revoking_sessions(*which: ColumnElement[bool]) -> str:
    """Revoke the live sessions that match ``which`` and their refresh tokens (a session's id is
    its tokens' family id), in one statement; it answers how many sessions it revoked."""
    revoked = (
        update(sessions)
        .where(sessions.c.tenant_id == bindparam("tenant_id"), sessions.c.revoked_at.is_(None), *which)
        .values(revoked_at=bindparam("at"))
        .returning(sessions.c.id)
        .cte("revoked_sessions")
    )
    tokens = (
        update(refresh_tokens)
        .where(
            refresh_tokens.c.tenant_id == bindparam("tenant_id"),
            refresh_tokens.c.family_id.in_(select(revoked.c.id)),
            refresh_tokens.c.revoked_at.is_(None),
        )
        .values(revoked_at=bindparam("at"))
        .cte("revoked_tokens")
    )
    return compile_sql(select(func.count().label("n")).select_from(revoked).add_cte(tokens))


_SESSION_REVOKE = _revoking_sessions(sessions.c.id == bindparam("id"))
_SESSIONS_REVOKE_ALL = _revoking_sessions(
    sessions.c.user_id == bindparam("user_id"), sessions.c.id.is_distinct_from(bindparam("except_id"))
)


class PostgresSessionRepository(_Repository):
    async def add(self, session: Session) -> None:
        await self._conn.execute(_SESSION_INSERT, _values(session))

    async def get(self, session_id: UUID) -> Session | None:
        row = await self._one(_SESSION_GET, {"tenant_id": self._tenant_id, "id": session_id})
        return Session(**row) if row else None

    async def list_active(self, user_id: UUID) -> list[Session]:
        rows = await self._all(_SESSIONS_ACTIVE, {"tenant_id": self._tenant_id, "user_id": user_id})
        return [Session(**row) for row in rows]

    async def touch(self, session_id: UUID, at: datetime, ip: str | None, user_agent: str | None) -> None:
        params = {
            "tenant_id": self._tenant_id,
            "id": session_id,
            "at": at,
            "ip": ip,
            "user_agent": user_agent,
        }
        await self._conn.execute(_SESSION_TOUCH, params)

    async def revoke(self, session_id: UUID, at: datetime) -> bool:
        return await self._revoked(_SESSION_REVOKE, {"id": session_id, "at": at}) == 1

    async def revoke_all(self, user_id: UUID, at: datetime, *, except_id: UUID | None = None) -> int:
        return await self._revoked(
            _SESSIONS_REVOKE_ALL, {"user_id": user_id, "at": at, "except_id": except_id}
        )

    async def _revoked(self, sql: str, params: Row) -> int:
        row = await self._one(sql, params | {"tenant_id": self._tenant_id})
        assert row is not None
        return int(row["n"])


# The next four tables belong to a person: row-level security shows the acting user's rows only,
# so each statement's user_id condition is there for the planner and as a second guard.
_MFA_OF_USER = mfa_factors.c.user_id == bindparam("user_id")
_MFA_GET = compile_sql(select(mfa_factors).where(_MFA_OF_USER))
_MFA_GET_FOR_UPDATE = compile_sql(select(mfa_factors).where(_MFA_OF_USER).with_for_update())
_mfa_upsert = pg_insert(mfa_factors)
_MFA_SAVE = compile_sql(
    _mfa_upsert.on_conflict_do_update(
        index_elements=["user_id"],
        set_={
            name: _mfa_upsert.excluded[name]
            for name in ("sealed_secret", "created_at", "confirmed_at", "last_used_step")
        },
    )
)
_MFA_DELETE = compile_sql(delete(mfa_factors).where(_MFA_OF_USER))
_RECOVERY_CODES_DELETE = compile_sql(
    delete(recovery_codes).where(recovery_codes.c.user_id == bindparam("user_id"))
)
_RECOVERY_CODE_INSERT = compile_sql(insert(recovery_codes))
_RECOVERY_CODE_USE = compile_sql(
    update(recovery_codes)
    .where(
        recovery_codes.c.user_id == bindparam("user_id"),
        recovery_codes.c.code_hash == bindparam("code_hash"),
        recovery_codes.c.used_at.is_(None),
    )
    .values(used_at=bindparam("at"))
)
_RECOVERY_CODES_UNUSED = compile_sql(
    select(func.count().label("n")).where(
        recovery_codes.c.user_id == bindparam("user_id"), recovery_codes.c.used_at.is_(None)
    )
)


class PostgresMfaRepository(_Repository):
    async def get(self, user_id: UUID, *, for_update: bool = False) -> MfaFactor | None:
        row = await self._one(_MFA_GET_FOR_UPDATE if for_update else _MFA_GET, {"user_id": user_id})
        return MfaFactor(**row) if row else None

    async def save(self, factor: MfaFactor) -> None:
        await self._conn.execute(_MFA_SAVE, _values(factor))

    async def delete(self, user_id: UUID) -> None:
        await self._conn.execute(_RECOVERY_CODES_DELETE, {"user_id": user_id})
        await self._conn.execute(_MFA_DELETE, {"user_id": user_id})

    async def replace_recovery_codes(self, user_id: UUID, code_hashes: list[str]) -> None:
        await self._conn.execute(_RECOVERY_CODES_DELETE, {"user_id": user_id})
        async with self._conn.cursor() as cursor:
            await cursor.executemany(
                _RECOVERY_CODE_INSERT,
                [{"user_id": user_id, "code_hash": code_hash, "used_at": None} for code_hash in code_hashes],
            )

    async def use_recovery_code(self, user_id: UUID, code_hash: str, at: datetime) -> bool:
        params = {"user_id": user_id, "code_hash": code_hash, "at": at}
        return await self._count(_RECOVERY_CODE_USE, params) == 1

    async def unused_recovery_codes(self, user_id: UUID) -> int:
        row = await self._one(_RECOVERY_CODES_UNUSED, {"user_id": user_id})
        assert row is not None
        return int(row["n"])


_ACCOUNT_TOKEN_INSERT = compile_sql(insert(account_tokens))
_ACCOUNT_TOKEN_GET_FOR_UPDATE = compile_sql(
    select(account_tokens).where(account_tokens.c.token_hash == bindparam("token_hash")).with_for_update()
)
_ACCOUNT_TOKEN_MARK_USED = compile_sql(
    update(account_tokens).where(account_tokens.c.id == bindparam("id")).values(used_at=bindparam("at"))
)
_ACCOUNT_TOKENS_VOID = compile_sql(
    update(account_tokens)
    .where(
        account_tokens.c.user_id == bindparam("user_id"),
        account_tokens.c.purpose == bindparam("purpose"),
        account_tokens.c.used_at.is_(None),
    )
    .values(used_at=bindparam("at"))
)


class PostgresAccountTokenRepository(_Repository):
    async def add(self, token: AccountToken) -> None:
        await self._conn.execute(_ACCOUNT_TOKEN_INSERT, _values(token) | {"purpose": token.purpose.value})

    async def get_by_hash(self, token_hash: str) -> AccountToken | None:
        row = await self._one(_ACCOUNT_TOKEN_GET_FOR_UPDATE, {"token_hash": token_hash})
        return AccountToken(**(row | {"purpose": TokenPurpose(row["purpose"])})) if row else None

    async def mark_used(self, token_id: UUID, at: datetime) -> None:
        await self._conn.execute(_ACCOUNT_TOKEN_MARK_USED, {"id": token_id, "at": at})

    async def void_outstanding(self, user_id: UUID, purpose: TokenPurpose, at: datetime) -> None:
        params = {"user_id": user_id, "purpose": purpose.value, "at": at}
        await self._conn.execute(_ACCOUNT_TOKENS_VOID, params)


_EXTERNAL_IDENTITY_INSERT = compile_sql(insert(external_identities))
_EXTERNAL_IDENTITIES_OF_USER = compile_sql(
    select(external_identities)
    .where(external_identities.c.user_id == bindparam("user_id"))
    .order_by(external_identities.c.created_at, external_identities.c.provider, external_identities.c.subject)
)


class PostgresExternalIdentityRepository(_Repository):
    async def add(self, link: ExternalIdentityLink) -> None:
        # (provider, subject) is unique platform-wide: a link of another user, invisible here,
        # is still refused.
        await self._refusing_duplicates(
            _EXTERNAL_IDENTITY_INSERT,
            _values(link),
            "external_identities_pkey",
            Conflict("this identity is already linked to an account", code="identity_linked"),
        )

    async def list(self, user_id: UUID) -> list[ExternalIdentityLink]:
        rows = await self._all(_EXTERNAL_IDENTITIES_OF_USER, {"user_id": user_id})
        return [ExternalIdentityLink(**row) for row in rows]


_THIS_INVITATION = this_row(invitations)
_INVITATION_INSERT = compile_sql(insert(invitations))
_INVITATION_GET = compile_sql(select(invitations).where(_THIS_INVITATION))
_INVITATION_GET_FOR_UPDATE = compile_sql(select(invitations).where(_THIS_INVITATION).with_for_update())
_INVITATIONS_OUTSTANDING = compile_sql(
    select(invitations)
    .where(
        invitations.c.tenant_id == bindparam("tenant_id"),
        invitations.c.accepted_at.is_(None),
        invitations.c.revoked_at.is_(None),
    )
    .order_by(invitations.c.created_at.desc(), invitations.c.id.desc())
)
_INVITATION_SAVE = compile_sql(
    update(invitations)
    .where(_THIS_INVITATION)
    .values(
        {
            name: bindparam(name)
            for name in ("token_hash", "expires_at", "accepted_at", "accepted_by", "revoked_at")
        }
    )
)


def _invitation(row: Row) -> Invitation:
    return Invitation(**(row | {"role": Role(row["role"])}))


class PostgresInvitationRepository(_Repository):
    async def add(self, invitation: Invitation) -> None:
        await self._refusing_duplicates(
            _INVITATION_INSERT,
            _values(invitation) | {"role": invitation.role.value},
            "invitations_one_outstanding_per_email",
            Conflict("this email already has an outstanding invitation", code="invitation_pending"),
        )

    async def get(self, invitation_id: UUID, *, for_update: bool = False) -> Invitation | None:
        sql = _INVITATION_GET_FOR_UPDATE if for_update else _INVITATION_GET
        row = await self._one(sql, {"tenant_id": self._tenant_id, "id": invitation_id})
        return _invitation(row) if row else None

    async def list_outstanding(self) -> list[Invitation]:
        return [
            _invitation(row)
            for row in await self._all(_INVITATIONS_OUTSTANDING, {"tenant_id": self._tenant_id})
        ]

    async def save(self, invitation: Invitation) -> None:
        params = _values(invitation) | {"tenant_id": self._tenant_id, "role": invitation.role.value}
        await self._conn.execute(_INVITATION_SAVE, params)


_THIS_API_KEY = this_row(api_keys)
_API_KEY_INSERT = compile_sql(insert(api_keys))
_API_KEY_GET = compile_sql(select(api_keys).where(_THIS_API_KEY))
_API_KEY_PAGE = {after: compile_sql(newest_first(api_keys, after)) for after in (False, True)}
_API_KEY_REVOKE = compile_sql(
    update(api_keys).where(_THIS_API_KEY, api_keys.c.revoked_at.is_(None)).values(revoked_at=bindparam("at"))
)


def scopes_from_json(document: Mapping[str, str]) -> dict[str, Access]:
    """An API key's scopes as stored (JSONB ``{"customers": "read"}``) in domain terms."""
    return {family: Access(access) for family, access in document.items()}


def _api_key(row: Row) -> ApiKey:
    return ApiKey(
        **(
            row
            | {"scopes": scopes_from_json(row["scopes"]), "allowed_origins": tuple(row["allowed_origins"])}
        )
    )


class PostgresApiKeyRepository(_Repository):
    async def add(self, key: ApiKey) -> None:
        values = _values(key) | {
            "scopes": Jsonb({family: Access(access).value for family, access in key.scopes.items()}),
            "allowed_origins": list(key.allowed_origins),
        }
        await self._conn.execute(_API_KEY_INSERT, values)

    async def get(self, key_id: UUID) -> ApiKey | None:
        row = await self._one(_API_KEY_GET, {"tenant_id": self._tenant_id, "id": key_id})
        return _api_key(row) if row else None

    async def list(self, page: PageRequest) -> Page[ApiKey]:
        return await self._page(_API_KEY_PAGE[page.after is not None], {}, page, _api_key)

    async def revoke(self, key_id: UUID, at: datetime) -> bool:
        return await self._count(_API_KEY_REVOKE, {"tenant_id": self._tenant_id, "id": key_id, "at": at}) == 1


# The time comes from the database clock, read when the row is written (clock_timestamp(), not
# the transaction's start): entries of one transaction keep the order they were recorded in.
_AUDIT_RECORD = compile_sql(
    insert(audit_events).values(
        {
            column.name: bindparam(column.name)
            for column in audit_events.columns
            if column.name != "occurred_at"
        }
        | {"occurred_at": func.clock_timestamp()}
    )
)
_AUDIT_FILTERS: dict[str, Callable[[], ColumnElement[bool]]] = {
    "action": lambda: audit_events.c.action == bindparam("action"),
    "actor_id": lambda: audit_events.c.actor_id == bindparam("actor_id"),
    "target_type": lambda: audit_events.c.target_type == bindparam("target_type"),
    "target_id": lambda: audit_events.c.target_id == bindparam("target_id"),
    "occurred_after": lambda: audit_events.c.occurred_at > bindparam("occurred_after"),
    "occurred_before": lambda: audit_events.c.occurred_at < bindparam("occurred_before"),
}


@cache
def _audit_list_sql(after: bool, filters: frozenset[str]) -> str:
    statement = newest_first(audit_events, after, time_column="occurred_at")
    return compile_sql(statement.where(*(_AUDIT_FILTERS[name]() for name in sorted(filters))))


def _audit_event(row: Row) -> AuditEvent:
    actor = Actor(
        ActorType(row.pop("actor_type")),
        row.pop("actor_id"),
        row.pop("on_behalf_of_admin"),
        row.pop("call_id"),
    )
    return AuditEvent(**row, actor=actor)


_SYSTEM = AuditContext(Actor(ActorType.SYSTEM, None))


class PostgresAuditRepository(_Repository):
    def __init__(self, tx: Transaction, tenant_id: UUID | None, context: AuditContext | None) -> None:
        super().__init__(tx, tenant_id)
        self._context = context or _SYSTEM

    async def record(
        self,
        action: str,
        target_type: str | None = None,
        target_id: str | None = None,
        changes: dict[str, Any] | None = None,
    ) -> None:
        actor, client = self._context.actor, self._context.client
        params = {
            "tenant_id": self._tenant_id,
            "id": uuid4(),
            "actor_type": actor.type.value,
            "actor_id": actor.id,
            "on_behalf_of_admin": actor.on_behalf_of_admin,
            "call_id": actor.call_id,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "ip": client.ip,
            "user_agent": client.user_agent,
            "request_id": client.request_id,
            "changes": Jsonb(changes or {}),
        }
        await self._conn.execute(_AUDIT_RECORD, params)

    async def list(self, filters: AuditFilter, page: PageRequest) -> Page[AuditEvent]:
        wanted = {name: value for name, value in _values(filters).items() if value is not None}
        sql = _audit_list_sql(page.after is not None, frozenset(wanted))
        return await self._page(
            sql, wanted, page, _audit_event, lambda event: Position(event.occurred_at, event.id)
        )


_THIS_CUSTOMER = this_row(customers)
_CUSTOMER_INSERT = compile_sql(insert(customers))
_CUSTOMER_GET = compile_sql(select(customers).where(_THIS_CUSTOMER))
_CUSTOMER_GET_FOR_UPDATE = compile_sql(select(customers).where(_THIS_CUSTOMER).with_for_update())
_CUSTOMER_BY_PHONE = compile_sql(
    select(customers)
    .where(customers.c.tenant_id == bindparam("tenant_id"), customers.c.phone == bindparam("phone"))
    .order_by(customers.c.created_at, customers.c.id)
    .limit(bindparam("limit"))
)
_CUSTOMER_UPDATE = versioned_update(
    customers,
    "name",
    "email",
    "phone",
    "addresses",
    "tags",
    "notes",
    "preferred_channel",
    "updated_at",
    "version",
)
_CUSTOMER_DELETE = compile_sql(delete(customers).where(_THIS_CUSTOMER))


@cache
def _customer_list_sql(after: bool, search: bool, tag: bool = False) -> str:
    statement = newest_first(customers, after)
    if search:
        pattern = bindparam("pattern")
        statement = statement.where(
            or_(
                customers.c.name.ilike(pattern, escape="\\"),
                customers.c.email.ilike(pattern, escape="\\"),
                customers.c.phone.ilike(pattern, escape="\\"),
            )
        )
    if tag:
        # tags @> ARRAY[tag]: the form the GIN index on tags serves.
        statement = statement.where(customers.c.tags.contains(bindparam("tags", type_=ARRAY(Text))))
    return compile_sql(statement)


def _like_pattern(search: str) -> str:
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _customer(row: Row) -> Customer:
    return Customer(
        **(
            row
            | {
                "addresses": tuple(Address(**address) for address in row["addresses"]),
                "tags": tuple(row["tags"]),
                "preferred_channel": ContactChannel(row["preferred_channel"]),
            }
        )
    )


def _customer_values(customer: Customer) -> Row:
    return _values(customer) | {
        "addresses": Jsonb([address_fields(address) for address in customer.addresses]),
        "tags": list(customer.tags),
        "preferred_channel": customer.preferred_channel.value,
    }


# The customer's own history for the timeline: the audit log's entries about the customer, with
# the names of the fields that changed (not their values, which can be long).
_CUSTOMER_HISTORY = {
    after: compile_sql(
        newest_first(audit_events, after, time_column="occurred_at")
        .with_only_columns(
            audit_events.c.id,
            audit_events.c.occurred_at,
            audit_events.c.action,
            literal_column("ARRAY(SELECT jsonb_object_keys(audit_events.changes))").label("changed"),
        )
        .where(
            audit_events.c.target_type == bindparam("target_type"),
            audit_events.c.target_id == bindparam("target_id"),
        )
    )
    for after in (False, True)
}


class PostgresCustomerRepository(_Repository):
    async def add(self, customer: Customer) -> None:
        await self._conn.execute(_CUSTOMER_INSERT, _customer_values(customer))

    async def add_many(self, customers: list[Customer]) -> None:
        # PostgreSQL refuses COPY FROM under row-level security; executemany pipelines instead.
        async with self._conn.cursor() as cursor:
            await cursor.executemany(_CUSTOMER_INSERT, [_customer_values(c) for c in customers])

    async def get(self, customer_id: UUID, *, for_update: bool = False) -> Customer | None:
        sql = _CUSTOMER_GET_FOR_UPDATE if for_update else _CUSTOMER_GET
        row = await self._one(sql, {"tenant_id": self._tenant_id, "id": customer_id})
        return _customer(row) if row else None

    async def find_by_phone(self, phone: str) -> Customer | None:
        params = {"tenant_id": self._tenant_id, "phone": phone, "limit": 1}
        row = await self._one(_CUSTOMER_BY_PHONE, params)
        return _customer(row) if row else None

    async def list(
        self, page: PageRequest, search: str | None = None, tag: str | None = None
    ) -> Page[Customer]:
        params: Row = {"pattern": _like_pattern(search)} if search else {}
        if tag:
            params["tags"] = [tag]
        sql = _customer_list_sql(page.after is not None, bool(search), bool(tag))
        return await self._page(sql, params, page, _customer)

    async def update(self, customer: Customer, expected_version: int) -> bool:
        params = _customer_values(customer) | {
            "tenant_id": self._tenant_id,
            "expected_version": expected_version,
        }
        return await self._count(_CUSTOMER_UPDATE, params) == 1

    async def delete(self, customer_id: UUID) -> bool:
        return await self._count(_CUSTOMER_DELETE, {"tenant_id": self._tenant_id, "id": customer_id}) == 1

    async def timeline(self, customer_id: UUID, after: Position | None, limit: int) -> list[TimelineEntry]:
        params: Row = {
            "tenant_id": self._tenant_id,
            "target_type": "customer",
            "target_id": str(customer_id),
            "limit": limit,
        }
        if after is not None:
            params |= {"after_created_at": after.created_at, "after_id": after.id}
        rows = await self._all(_CUSTOMER_HISTORY[after is not None], params)
        return [
            history_entry(row["id"], row["occurred_at"], row["action"], row["changed"], customer_id)
            for row in rows
        ]


_THIS_INTEGRATION = this_row(integrations)
_INTEGRATION_INSERT = compile_sql(insert(integrations))
_INTEGRATION_GET = compile_sql(select(integrations).where(_THIS_INTEGRATION))
_INTEGRATION_GET_FOR_UPDATE = compile_sql(select(integrations).where(_THIS_INTEGRATION).with_for_update())
_INTEGRATION_PAGE = {after: compile_sql(newest_first(integrations, after)) for after in (False, True)}
_INTEGRATION_ENABLED_FOR = compile_sql(
    select(integrations).where(
        integrations.c.tenant_id == bindparam("tenant_id"),
        integrations.c.capability == bindparam("capability"),
        integrations.c.enabled,
    )
)
_INTEGRATION_UPDATE = versioned_update(
    integrations, "enabled", "sealed_config", "secret_fields", "updated_at", "version"
)
_INTEGRATION_DELETE = compile_sql(delete(integrations).where(_THIS_INTEGRATION))
_CAPABILITY_TAKEN = "another enabled integration already serves this capability"


def _integration(row: Row) -> Integration:
    return Integration(
        **(row | {"capability": Capability(row["capability"]), "secret_fields": tuple(row["secret_fields"])})
    )


def _integration_values(integration: Integration) -> Row:
    values = _values(integration)
    return values | {
        "capability": integration.capability.value,
        "secret_fields": list(integration.secret_fields),
    }


class PostgresIntegrationRepository(_Repository):
    async def add(self, integration: Integration) -> None:
        await self._guarded(_INTEGRATION_INSERT, _integration_values(integration))

    async def get(self, integration_id: UUID, *, for_update: bool = False) -> Integration | None:
        sql = _INTEGRATION_GET_FOR_UPDATE if for_update else _INTEGRATION_GET
        row = await self._one(sql, {"tenant_id": self._tenant_id, "id": integration_id})
        return _integration(row) if row else None

    async def list(self, page: PageRequest) -> Page[Integration]:
        return await self._page(_INTEGRATION_PAGE[page.after is not None], {}, page, _integration)

    async def enabled_for(self, capability: Capability) -> Integration | None:
        params = {"tenant_id": self._tenant_id, "capability": capability.value}
        row = await self._one(_INTEGRATION_ENABLED_FOR, params)
        return _integration(row) if row else None

    async def update(self, integration: Integration, expected_version: int) -> bool:
        params = _integration_values(integration) | {
            "tenant_id": self._tenant_id,
            "expected_version": expected_version,
        }
        return await self._guarded(_INTEGRATION_UPDATE, params) == 1

    async def delete(self, integration_id: UUID) -> bool:
        params = {"tenant_id": self._tenant_id, "id": integration_id}
        return await self._count(_INTEGRATION_DELETE, params) == 1

    async def _guarded(self, sql: str, params: Row) -> int:
        """Run a write that the one-enabled-per-capability index may refuse (a race lost)."""
        return await self._refusing_duplicates(
            sql,
            params,
            "integrations_one_enabled_per_capability",
            Conflict(_CAPABILITY_TAKEN, code="capability_taken"),
        )


_FLAG_OVERRIDES = compile_sql(
    select(feature_flag_overrides.c.key, feature_flag_overrides.c.enabled).where(
        feature_flag_overrides.c.tenant_id == bindparam("tenant_id")
    )
)
_flag_upsert = pg_insert(feature_flag_overrides)
_FLAG_SET = compile_sql(
    _flag_upsert.on_conflict_do_update(
        index_elements=["tenant_id", "key"],
        set_={
            "enabled": _flag_upsert.excluded.enabled,
            "updated_at": _flag_upsert.excluded.updated_at,
            "updated_by": _flag_upsert.excluded.updated_by,
        },
    )
)
_FLAG_REMOVE = compile_sql(
    delete(feature_flag_overrides).where(
        feature_flag_overrides.c.tenant_id == bindparam("tenant_id"),
        feature_flag_overrides.c.key == bindparam("key"),
    )
)
_FLAG_RECORD = compile_sql(insert(feature_flag_changes))
_FLAG_CHANGES = compile_sql(
    select(feature_flag_changes)
    .where(feature_flag_changes.c.tenant_id == bindparam("tenant_id"))
    .order_by(feature_flag_changes.c.changed_at.desc(), feature_flag_changes.c.id.desc())
    .limit(bindparam("limit"))
)


class PostgresFlagRepository(_Repository):
    async def overrides(self) -> dict[str, bool]:
        return {
            row["key"]: row["enabled"]
            for row in await self._all(_FLAG_OVERRIDES, {"tenant_id": self._tenant_id})
        }

    async def set_override(self, override: FlagOverride) -> None:
        await self._conn.execute(_FLAG_SET, _values(override))

    async def remove_override(self, key: str) -> None:
        await self._conn.execute(_FLAG_REMOVE, {"tenant_id": self._tenant_id, "key": key})

    async def record(self, change: FlagChange) -> None:
        await self._conn.execute(_FLAG_RECORD, _values(change))

    async def changes(self, limit: int) -> list[FlagChange]:
        rows = await self._all(_FLAG_CHANGES, {"tenant_id": self._tenant_id, "limit": limit})
        return [FlagChange(**row) for row in rows]


_QUEUE_STATE = ("status", "attempts", "next_attempt_at", "locked_until", "last_error", "finished_at")


def _queue_statements(table: Table) -> tuple[str, str, str]:
    row = this_row(table)
    get = compile_sql(select(table).where(row))
    get_for_update = compile_sql(select(table).where(row).with_for_update())
    save = compile_sql(update(table).where(row).values({name: bindparam(name) for name in _QUEUE_STATE}))
    return get, get_for_update, save


_OUTBOX_INSERT = compile_sql(insert(outbox))
_OUTBOX_GET, _OUTBOX_GET_FOR_UPDATE, _OUTBOX_SAVE = _queue_statements(outbox)
_INBOX_INSERT_IF_NEW = compile_sql(
    pg_insert(webhook_events)
    .on_conflict_do_nothing(constraint="webhook_events_once_per_event")
    .returning(webhook_events.c.id)
)
_INBOX_GET, _INBOX_GET_FOR_UPDATE, _INBOX_SAVE = _queue_statements(webhook_events)


def _queue_values(job: OutboxMessage | InboxEvent) -> Row:
    values = _values(job) | {"status": job.status.value}
    for document in ("payload", "data"):
        if document in values:
            values[document] = Jsonb(values[document])
    return values


class PostgresOutboxRepository(_Repository):
    async def add(self, message: OutboxMessage) -> None:
        await self._conn.execute(_OUTBOX_INSERT, _queue_values(message))

    async def get(self, job_id: UUID, *, for_update: bool = False) -> OutboxMessage | None:
        sql = _OUTBOX_GET_FOR_UPDATE if for_update else _OUTBOX_GET
        row = await self._one(sql, {"tenant_id": self._tenant_id, "id": job_id})
        return OutboxMessage(**(row | {"status": JobStatus(row["status"])})) if row else None

    async def save(self, message: OutboxMessage) -> None:
        await self._conn.execute(_OUTBOX_SAVE, _queue_values(message) | {"tenant_id": self._tenant_id})


class PostgresInboxRepository(_Repository):
    async def add_if_new(self, event: InboxEvent) -> bool:
        return await self._one(_INBOX_INSERT_IF_NEW, _queue_values(event)) is not None

    async def get(self, job_id: UUID, *, for_update: bool = False) -> InboxEvent | None:
        sql = _INBOX_GET_FOR_UPDATE if for_update else _INBOX_GET
        row = await self._one(sql, {"tenant_id": self._tenant_id, "id": job_id})
        return InboxEvent(**(row | {"status": JobStatus(row["status"])})) if row else None

    async def save(self, event: InboxEvent) -> None:
        await self._conn.execute(_INBOX_SAVE, _queue_values(event) | {"tenant_id": self._tenant_id})


_THIS_ENDPOINT = this_row(webhook_endpoints)
_ENDPOINT_INSERT = compile_sql(insert(webhook_endpoints))
_ENDPOINT_GET = compile_sql(select(webhook_endpoints).where(_THIS_ENDPOINT))
_ENDPOINT_PAGE = {after: compile_sql(newest_first(webhook_endpoints, after)) for after in (False, True)}
_ENDPOINTS_ENABLED = compile_sql(
    select(webhook_endpoints).where(
        webhook_endpoints.c.tenant_id == bindparam("tenant_id"), webhook_endpoints.c.enabled
    )
)
_ENDPOINT_DELETE = compile_sql(delete(webhook_endpoints).where(_THIS_ENDPOINT))
_DELIVERY_INSERT = compile_sql(insert(webhook_deliveries))
_DELIVERY_PAGE = {
    after: compile_sql(
        newest_first(webhook_deliveries, after).where(
            webhook_deliveries.c.endpoint_id == bindparam("endpoint_id")
        )
    )
    for after in (False, True)
}


def _endpoint(row: Row) -> WebhookEndpoint:
    return WebhookEndpoint(**(row | {"event_types": tuple(row["event_types"])}))


class PostgresWebhookEndpointRepository(_Repository):
    async def add(self, endpoint: WebhookEndpoint) -> None:
        await self._conn.execute(
            _ENDPOINT_INSERT, _values(endpoint) | {"event_types": list(endpoint.event_types)}
        )

    async def get(self, endpoint_id: UUID) -> WebhookEndpoint | None:
        row = await self._one(_ENDPOINT_GET, {"tenant_id": self._tenant_id, "id": endpoint_id})
        return _endpoint(row) if row else None

    async def enabled(self) -> list[WebhookEndpoint]:
        return [_endpoint(row) for row in await self._all(_ENDPOINTS_ENABLED, {"tenant_id": self._tenant_id})]

    async def list(self, page: PageRequest) -> Page[WebhookEndpoint]:
        return await self._page(_ENDPOINT_PAGE[page.after is not None], {}, page, _endpoint)

    async def delete(self, endpoint_id: UUID) -> bool:
        return await self._count(_ENDPOINT_DELETE, {"tenant_id": self._tenant_id, "id": endpoint_id}) == 1


class PostgresDeliveryRepository(_Repository):
    async def add(self, delivery: Delivery) -> None:
        await self._conn.execute(_DELIVERY_INSERT, _values(delivery))

    async def list(self, endpoint_id: UUID, page: PageRequest) -> Page[Delivery]:
        sql = _DELIVERY_PAGE[page.after is not None]
        return await self._page(sql, {"endpoint_id": endpoint_id}, page, lambda row: Delivery(**row))


_KEY_MATCHES = and_(
    idempotency_keys.c.tenant_id == bindparam("tenant_id"), idempotency_keys.c.key == bindparam("key")
)
_claim_insert = pg_insert(idempotency_keys)
# Take the key over only when its holder expired, or was never answered and has gone stale.
_IDEMPOTENCY_CLAIM = compile_sql(
    _claim_insert.on_conflict_do_update(
        index_elements=["tenant_id", "key"],
        set_={
            "fingerprint": _claim_insert.excluded.fingerprint,
            "created_at": _claim_insert.excluded.created_at,
            "expires_at": _claim_insert.excluded.expires_at,
            "response_status": null(),
            "response_headers": null(),
            "response_body": null(),
        },
        where=or_(
            idempotency_keys.c.expires_at <= _claim_insert.excluded.created_at,
            and_(
                idempotency_keys.c.response_status.is_(None),
                idempotency_keys.c.created_at < bindparam("stale_before"),
            ),
        ),
    ).returning(idempotency_keys.c.key)
)
_IDEMPOTENCY_GET = compile_sql(select(idempotency_keys).where(_KEY_MATCHES))
_IDEMPOTENCY_COMPLETE = compile_sql(
    update(idempotency_keys)
    .where(_KEY_MATCHES)
    .values(
        response_status=bindparam("status"),
        response_headers=bindparam("headers"),
        response_body=bindparam("body"),
    )
)
_IDEMPOTENCY_RELEASE = compile_sql(delete(idempotency_keys).where(_KEY_MATCHES))


class PostgresIdempotencyRepository(_Repository):
    async def claim(self, record: IdempotencyRecord, stale_before: datetime) -> IdempotencyRecord | None:
        params = {
            "tenant_id": self._tenant_id,
            "key": record.key,
            "fingerprint": record.fingerprint,
            "created_at": record.created_at,
            "expires_at": record.expires_at,
            "response_status": None,
            "response_headers": None,
            "response_body": None,
            "stale_before": stale_before,
        }
        if await self._one(_IDEMPOTENCY_CLAIM, params) is not None:
            return None
        row = await self._one(_IDEMPOTENCY_GET, {"tenant_id": self._tenant_id, "key": record.key})
        assert row is not None, "a conflicting idempotency key vanished inside its transaction"
        response = None
        if row["response_status"] is not None:
            response = StoredResponse(row["response_status"], row["response_headers"], row["response_body"])
        return IdempotencyRecord(
            row["key"], row["fingerprint"], row["created_at"], row["expires_at"], response
        )

    async def complete(self, key: str, response: StoredResponse) -> None:
        params = {
            "tenant_id": self._tenant_id,
            "key": key,
            "status": response.status,
            "headers": Jsonb(response.headers),
            "body": response.body,
        }
        await self._conn.execute(_IDEMPOTENCY_COMPLETE, params)

    async def release(self, key: str) -> None:
        await self._conn.execute(_IDEMPOTENCY_RELEASE, {"tenant_id": self._tenant_id, "key": key})
