"""Repositories on a psycopg connection inside a tenant-scoped transaction.

Row-level security already confines every statement to the transaction's tenant; the explicit
``tenant_id`` conditions below are there for the planner (index use) and as a second guard.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any, TypeVar
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.errors import UniqueViolation
from psycopg.types.json import Jsonb
from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    insert,
    null,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert

from switchboard.adapters.postgres.statements import compile_sql
from switchboard.adapters.postgres.tables import (
    customers,
    feature_flag_changes,
    feature_flag_overrides,
    idempotency_keys,
    integrations,
    memberships,
    outbox,
    refresh_tokens,
    tenants,
    users,
    webhook_deliveries,
    webhook_endpoints,
    webhook_events,
)
from switchboard.core.customers.model import Customer
from switchboard.core.errors import Conflict
from switchboard.core.flags.model import FlagChange, FlagOverride, Plan
from switchboard.core.identity.model import RefreshToken, User
from switchboard.core.integrations.model import Capability, Integration
from switchboard.core.pagination import Page, PageRequest, Position, page_from_overfetch
from switchboard.core.queues.model import InboxEvent, JobStatus, OutboxMessage
from switchboard.core.tenancy.model import Membership, Role, Tenant
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


class _Repository:
    def __init__(self, tx: Transaction, tenant_id: UUID) -> None:
        self._tx = tx
        self._tenant_id = tenant_id

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

    async def _page(self, sql: str, params: Row, page: PageRequest, make: Callable[[Row], T]) -> Page[T]:
        """Run a ``newest_first`` statement for one page: ``limit + 1`` rows tell if more exist."""
        params = params | {"tenant_id": self._tenant_id, "limit": page.limit + 1}
        if page.after is not None:
            params |= {"after_created_at": page.after.created_at, "after_id": page.after.id}
        rows = [make(row) for row in await self._all(sql, params)]
        return page_from_overfetch(rows, page.limit, lambda item: Position(item.created_at, item.id))  # type: ignore[attr-defined]


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


def newest_first(table: Table, after: bool) -> Select[Any]:
    """A tenant's rows newest first, from after a keyset position when ``after``."""
    statement = (
        select(table)
        .where(table.c.tenant_id == bindparam("tenant_id"))
        .order_by(table.c.created_at.desc(), table.c.id.desc())
        .limit(bindparam("limit"))
    )
    if after:
        position = tuple_(table.c.created_at, table.c.id)
        statement = statement.where(position < tuple_(bindparam("after_created_at"), bindparam("after_id")))
    return statement


_TENANT_INSERT = compile_sql(insert(tenants))
_TENANT_GET = compile_sql(select(tenants).where(tenants.c.id == bindparam("tenant_id")))
_TENANT_UPDATE = compile_sql(
    update(tenants)
    .where(tenants.c.id == bindparam("id"), tenants.c.version == bindparam("expected_version"))
    .values(name=bindparam("name"), updated_at=bindparam("updated_at"), version=bindparam("version"))
)


class PostgresTenantRepository(_Repository):
    async def add(self, tenant: Tenant) -> None:
        await self._conn.execute(_TENANT_INSERT, _values(tenant) | {"plan": tenant.plan.value})

    async def get(self) -> Tenant | None:
        row = await self._one(_TENANT_GET, {"tenant_id": self._tenant_id})
        return Tenant(**(row | {"plan": Plan(row["plan"])})) if row else None

    async def update(self, tenant: Tenant, expected_version: int) -> bool:
        params = _values(tenant) | {"expected_version": expected_version}
        return await self._count(_TENANT_UPDATE, params) == 1


_USER_INSERT = compile_sql(insert(users))
# Every column but the password hash, which the application role may not read.
_USER_COLUMNS = [column for column in users.columns if column.name != "password_hash"]
_USER_GET = compile_sql(select(*_USER_COLUMNS).where(users.c.id == bindparam("user_id")))
_USER_SET_PASSWORD = compile_sql(
    update(users)
    .where(users.c.id == bindparam("user_id"))
    .values(password_hash=bindparam("password_hash"), updated_at=bindparam("now"))
)


class PostgresUserRepository(_Repository):
    async def add(self, user: User, password_hash: str) -> None:
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


_MEMBERSHIP_INSERT = compile_sql(insert(memberships))
_MEMBERSHIP_GET = compile_sql(
    select(memberships).where(
        memberships.c.tenant_id == bindparam("tenant_id"),
        memberships.c.user_id == bindparam("user_id"),
    )
)


class PostgresMembershipRepository(_Repository):
    async def add(self, membership: Membership) -> None:
        await self._conn.execute(_MEMBERSHIP_INSERT, _values(membership) | {"role": membership.role.value})

    async def get(self, user_id: UUID) -> Membership | None:
        row = await self._one(_MEMBERSHIP_GET, {"tenant_id": self._tenant_id, "user_id": user_id})
        return Membership(**(row | {"role": Role(row["role"])})) if row else None


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


_THIS_CUSTOMER = this_row(customers)
_CUSTOMER_INSERT = compile_sql(insert(customers))
_CUSTOMER_GET = compile_sql(select(customers).where(_THIS_CUSTOMER))
_CUSTOMER_GET_FOR_UPDATE = compile_sql(select(customers).where(_THIS_CUSTOMER).with_for_update())
_CUSTOMER_UPDATE = versioned_update(customers, "name", "email", "phone", "updated_at", "version")
_CUSTOMER_DELETE = compile_sql(delete(customers).where(_THIS_CUSTOMER))


@cache
def _customer_list_sql(after: bool, search: bool) -> str:
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
    return compile_sql(statement)


def _like_pattern(search: str) -> str:
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class PostgresCustomerRepository(_Repository):
    async def add(self, customer: Customer) -> None:
        await self._conn.execute(_CUSTOMER_INSERT, _values(customer))

    async def add_many(self, customers: list[Customer]) -> None:
        # PostgreSQL refuses COPY FROM under row-level security; executemany pipelines instead.
        async with self._conn.cursor() as cursor:
            await cursor.executemany(_CUSTOMER_INSERT, [_values(c) for c in customers])

    async def get(self, customer_id: UUID, *, for_update: bool = False) -> Customer | None:
        sql = _CUSTOMER_GET_FOR_UPDATE if for_update else _CUSTOMER_GET
        row = await self._one(sql, {"tenant_id": self._tenant_id, "id": customer_id})
        return Customer(**row) if row else None

    async def list(self, page: PageRequest, search: str | None = None) -> Page[Customer]:
        params: Row = {"pattern": _like_pattern(search)} if search else {}
        sql = _customer_list_sql(page.after is not None, bool(search))
        return await self._page(sql, params, page, lambda row: Customer(**row))

    async def update(self, customer: Customer, expected_version: int) -> bool:
        params = _values(customer) | {"tenant_id": self._tenant_id, "expected_version": expected_version}
        return await self._count(_CUSTOMER_UPDATE, params) == 1

    async def delete(self, customer_id: UUID) -> bool:
        return await self._count(_CUSTOMER_DELETE, {"tenant_id": self._tenant_id, "id": customer_id}) == 1


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
        try:
            async with self._conn.transaction():  # a savepoint: the failure stays contained
                return await self._count(sql, params)
        except UniqueViolation as error:
            if error.diag.constraint_name != "integrations_one_enabled_per_capability":
                raise
            raise Conflict(_CAPABILITY_TAKEN, code="capability_taken") from error


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
