"""Tenant isolation at the SQL level, as the application role sees it.

Every test connects as ``switchboard_app`` (the role the server uses: row-level security applies)
and scopes its transactions the way the unit of work does, with a transaction-local
``set_config``. Two tenants, A and B, are seeded through that same role with a row in every
tenant table, so "no rows" means the rows are there and hidden, not absent.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from switchboard.adapters.postgres.roles import APP_ROLE, DIRECTORY_ROLE
from tests.conftest import Database

# Exactly what PostgresUnitOfWork runs first in each transaction.
SET_SCOPE = "SELECT set_config('app.tenant_id', %s, true), set_config('app.user_id', %s, true)"
RLS_VIOLATION = "violates row-level security policy"

Connection = psycopg.Connection[dict[str, Any]]
Row = dict[str, Any]


@dataclass(frozen=True)
class SeededTenant:
    id: uuid.UUID
    owner_id: uuid.UUID  # a member of this tenant only
    owner_email: str
    owner_password_hash: str
    token_hash: str
    customer_id: uuid.UUID


@dataclass(frozen=True)
class Seed:
    a: SeededTenant
    b: SeededTenant
    fellow_id: uuid.UUID  # a second member of tenant A
    tables: list[str]  # every tenant table, from the catalog


def _now() -> datetime:
    return datetime.now(UTC)


# One fresh, valid row per tenant table for (tenant, a member of it). The seed inserts these, so
# a builder that stops matching its table fails loudly there. Keys other than tenant_id are new
# each time, except where the key is the (tenant, user) pair itself.
ROW_BUILDERS: dict[str, Callable[[uuid.UUID, uuid.UUID], Row]] = {
    "tenants": lambda tenant_id, _user_id: {
        "id": tenant_id,
        "name": f"Tenant {tenant_id.hex[:6]}",
        "created_at": _now(),
        "updated_at": _now(),
    },
    "memberships": lambda tenant_id, user_id: {
        "tenant_id": tenant_id,
        "user_id": user_id,
        "role": "owner",
        "created_at": _now(),
    },
    "refresh_tokens": lambda tenant_id, user_id: {
        "tenant_id": tenant_id,
        "id": uuid.uuid4(),
        "user_id": user_id,
        "family_id": uuid.uuid4(),
        "token_hash": secrets.token_hex(32),
        "created_at": _now(),
        "expires_at": _now() + timedelta(days=30),
    },
    "customers": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "id": uuid.uuid4(),
        "name": "Grace Hopper",
        "email": "grace@example.com",
        "phone": "+14155550100",
        "created_at": _now(),
        "updated_at": _now(),
    },
    "integrations": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "id": uuid.uuid4(),
        "provider": "fake_email",
        "capability": "email",
        "enabled": False,  # disabled rows never meet the one-enabled-per-capability index
        "sealed_config": b"sealed",
        "secret_fields": [],
        "created_at": _now(),
        "updated_at": _now(),
    },
    "feature_flag_overrides": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "key": "sms",
        "enabled": True,
        "updated_at": _now(),
        "updated_by": "platform_admin:seed",
    },
    "feature_flag_changes": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "id": uuid.uuid4(),
        "key": "sms",
        "old_value": None,
        "new_value": True,
        "actor": "platform_admin:seed",
        "changed_at": _now(),
    },
    "outbox": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "id": uuid.uuid4(),
        "kind": "email.send",
        "payload": Jsonb({"to": "grace@example.com"}),
        "max_attempts": 8,
        "created_at": _now(),
        "next_attempt_at": _now(),
    },
    "webhook_events": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "id": uuid.uuid4(),
        "integration_id": uuid.uuid4(),
        "provider": "fake_email",
        "event_id": secrets.token_hex(8),
        "type": "delivered",
        "data": Jsonb({}),
        "received_at": _now(),
        "next_attempt_at": _now(),
    },
    "webhook_endpoints": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "id": uuid.uuid4(),
        "url": "https://hooks.example.com/switchboard",
        "description": "",
        "event_types": [],
        "sealed_secret": b"sealed",
        "enabled": True,
        "created_at": _now(),
        "updated_at": _now(),
    },
    "webhook_deliveries": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "id": uuid.uuid4(),
        "endpoint_id": uuid.uuid4(),
        "event_id": uuid.uuid4(),
        "event_type": "customer.created",
        "attempt": 1,
        "status_code": 200,
        "duration_ms": 12,
        "created_at": _now(),
    },
    "idempotency_keys": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "key": secrets.token_hex(8),
        "fingerprint": secrets.token_hex(16),
        "response_status": 201,
        "response_headers": Jsonb({"content-type": "application/json"}),
        "response_body": b"{}",
        "created_at": _now(),
        "expires_at": _now() + timedelta(days=1),
    },
}
# Parents before children; tenant tables are seeded in this order, then any others (which fail).
SEED_ORDER = ("tenants", "memberships", "refresh_tokens", "customers", "idempotency_keys")


def tenant_column(table: str) -> str:
    return "id" if table == "tenants" else "tenant_id"


def catalog_tenant_tables(conn: Connection) -> list[str]:
    """``tenants`` plus every base table in public with a tenant_id column, from the catalog."""
    rows = conn.execute(
        """
        SELECT c.table_name
        FROM information_schema.columns c
        JOIN information_schema.tables t USING (table_schema, table_name)
        WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE'
        ORDER BY c.table_name
        """
    ).fetchall()
    return ["tenants", *(row["table_name"] for row in rows)]


@contextmanager
def scoped(
    conn: Connection, tenant_id: object = None, user_id: object = None, *, commit: bool = False
) -> Iterator[Connection]:
    """One transaction scoped like the application's; rolled back unless ``commit``.

    With neither tenant nor user given, set_config is not called at all.
    """
    with conn.transaction(force_rollback=not commit):
        if tenant_id is not None or user_id is not None:
            conn.execute(SET_SCOPE, (_text(tenant_id), _text(user_id)))
        yield conn


def _text(value: object) -> str:
    return "" if value is None else str(value)


def insert(conn: Connection, table: str, row: Row) -> int:
    statement = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, row)),
        sql.SQL(", ").join(sql.Placeholder() * len(row)),
    )
    return conn.execute(statement, list(row.values())).rowcount


def insert_user(conn: Connection, user_id: uuid.UUID, email: str, password_hash: str) -> int:
    return insert(
        conn,
        "users",
        {
            "id": user_id,
            "email": email,
            "name": "Ada",
            "password_hash": password_hash,
            "created_at": _now(),
            "updated_at": _now(),
        },
    )


def count(conn: Connection, table: str, where: str = "true", params: tuple[object, ...] = ()) -> int:
    statement = sql.SQL("SELECT count(*) AS n FROM {} WHERE ").format(sql.Identifier(table)) + sql.SQL(where)
    row = conn.execute(statement, params).fetchone()
    assert row is not None
    return int(row["n"])


def of_tenant(table: str) -> str:
    return f"{tenant_column(table)} = %s"


def insert_outcome(conn: Connection, table: str, row: Row, tenant_id: object, user_id: object = None) -> str:
    try:
        with scoped(conn, tenant_id, user_id):
            insert(conn, table, row)
    except errors.InsufficientPrivilege as error:
        return "rejected by row-level security" if RLS_VIOLATION in str(error) else repr(error)
    except psycopg.Error as error:
        return repr(error)
    return "inserted"


def _seed_tenant(conn: Connection, tables: list[str]) -> SeededTenant:
    tenant_id, owner_id = uuid.uuid4(), uuid.uuid4()
    email = f"owner-{owner_id.hex[:12]}@example.com"
    password_hash = f"$argon2id$v=19$m=19456,t=2,p=1$seed${owner_id.hex}"
    rows = {table: ROW_BUILDERS[table](tenant_id, owner_id) for table in tables if table in ROW_BUILDERS}
    ordered = [t for t in SEED_ORDER if t in tables] + [t for t in tables if t not in SEED_ORDER]
    with scoped(conn, tenant_id, owner_id, commit=True):
        for table in ordered:
            if table == "memberships":  # the account must exist before it can join
                insert_user(conn, owner_id, email, password_hash)
            assert table in rows, f"no row builder for tenant table {table!r}: add one to ROW_BUILDERS"
            assert insert(conn, table, rows[table]) == 1
    return SeededTenant(
        id=tenant_id,
        owner_id=owner_id,
        owner_email=email,
        owner_password_hash=password_hash,
        token_hash=rows["refresh_tokens"]["token_hash"],
        customer_id=rows["customers"]["id"],
    )


@pytest.fixture(scope="module")
def seed(database: Database) -> Seed:
    with psycopg.connect(database.owner_url, row_factory=dict_row) as owner:
        tables = catalog_tenant_tables(owner)
    with psycopg.connect(database.app_url, autocommit=True, row_factory=dict_row) as conn:
        a = _seed_tenant(conn, tables)
        b = _seed_tenant(conn, tables)
        fellow_id = uuid.uuid4()
        with scoped(conn, a.id, fellow_id, commit=True):
            insert_user(conn, fellow_id, f"fellow-{fellow_id.hex[:12]}@example.com", "hash")
            insert(conn, "memberships", ROW_BUILDERS["memberships"](a.id, fellow_id) | {"role": "member"})
    return Seed(a=a, b=b, fellow_id=fellow_id, tables=tables)


@pytest.fixture
def conn(database: Database) -> Iterator[Connection]:
    """A connection as the application role; transactions are opened explicitly with ``scoped``."""
    with psycopg.connect(database.app_url, autocommit=True, row_factory=dict_row) as connection:
        yield connection


def test_the_tenant_tables_come_from_the_catalog_and_each_has_a_row_builder(seed: Seed) -> None:
    assert seed.tables
    assert "customers" in seed.tables
    assert sorted(seed.tables) == sorted(ROW_BUILDERS), "every tenant table needs a seed row builder"


def test_every_tenant_is_seeded_with_a_row_in_every_tenant_table(conn: Connection, seed: Seed) -> None:
    for tenant in (seed.a, seed.b):
        with scoped(conn, tenant.id, tenant.owner_id):
            own = {table: count(conn, table, of_tenant(table), (tenant.id,)) for table in seed.tables}
        assert all(n >= 1 for n in own.values()), own


NO_TENANT_SET = pytest.mark.parametrize(
    "unset", ["never_set", "set_to_empty_string"], ids=["no-set_config", "empty-tenant-id"]
)


def _no_tenant(unset: str) -> tuple[object, object]:
    """Arguments for ``scoped``: nothing at all, or both settings set to ''."""
    return (None, None) if unset == "never_set" else ("", "")


@NO_TENANT_SET
def test_with_no_tenant_set_every_tenant_table_reads_no_rows(
    conn: Connection, seed: Seed, unset: str
) -> None:
    with scoped(conn, *_no_tenant(unset)):
        if unset == "never_set":
            setting = conn.execute("SELECT current_setting('app.tenant_id', true) AS t").fetchone()
            assert setting is not None
            assert setting["t"] in (None, "")
        visible = {table: count(conn, table) for table in seed.tables}
    assert visible == dict.fromkeys(seed.tables, 0)


@NO_TENANT_SET
def test_with_no_tenant_set_every_tenant_table_rejects_inserts(
    conn: Connection, seed: Seed, unset: str
) -> None:
    tenant_id, user_id = _no_tenant(unset)
    outcomes = {
        table: insert_outcome(
            conn, table, ROW_BUILDERS[table](seed.a.id, seed.a.owner_id), tenant_id, user_id
        )
        for table in seed.tables
    }
    assert outcomes == dict.fromkeys(seed.tables, "rejected by row-level security")


@NO_TENANT_SET
def test_with_no_tenant_or_user_set_no_account_is_visible_or_insertable(
    conn: Connection, seed: Seed, unset: str
) -> None:
    with scoped(conn, *_no_tenant(unset)):
        assert count(conn, "users") == 0
    with pytest.raises(errors.InsufficientPrivilege, match=RLS_VIOLATION), scoped(conn, *_no_tenant(unset)):
        insert_user(conn, uuid.uuid4(), f"nobody-{uuid.uuid4().hex}@example.com", "hash")


def test_with_tenant_a_set_no_row_of_tenant_b_is_visible(conn: Connection, seed: Seed) -> None:
    a, b = seed.a, seed.b
    with scoped(conn, a.id, a.owner_id):
        of_b = {table: count(conn, table, of_tenant(table), (b.id,)) for table in seed.tables}
        not_of_a = {
            table: count(conn, table, f"{tenant_column(table)} IS DISTINCT FROM %s", (a.id,))
            for table in seed.tables
        }
        of_a = {table: count(conn, table, of_tenant(table), (a.id,)) for table in seed.tables}
    assert of_b == dict.fromkeys(seed.tables, 0)
    assert not_of_a == dict.fromkeys(seed.tables, 0)
    assert all(n >= 1 for n in of_a.values()), of_a


# Logs the application may add to but never rewrite: it has no UPDATE or DELETE on them at all.
APPEND_ONLY_TABLES = {"feature_flag_changes", "webhook_deliveries"}


def changeable(conn: Connection, tables: list[str]) -> list[str]:
    """The tenant tables the application role may update, read from the catalog."""
    return [
        table
        for table in tables
        if conn.execute("SELECT has_table_privilege(%s, %s, 'UPDATE') AS may", (APP_ROLE, table)).fetchone()[
            "may"
        ]
    ]


def test_the_append_only_tables_are_exactly_the_known_logs(conn: Connection, seed: Seed) -> None:
    assert set(seed.tables) - set(changeable(conn, seed.tables)) == APPEND_ONLY_TABLES


def test_append_only_tables_refuse_updates_and_deletes_even_of_the_tenants_own_rows(
    conn: Connection, seed: Seed
) -> None:
    a = seed.a
    for table in sorted(APPEND_ONLY_TABLES):
        for statement in ("UPDATE {t} SET tenant_id = tenant_id", "DELETE FROM {t}"):
            with scoped(conn, a.id, a.owner_id), pytest.raises(errors.InsufficientPrivilege):
                conn.execute(sql.SQL(statement).format(t=sql.Identifier(table)))


def test_with_tenant_a_set_updates_and_deletes_of_tenant_b_rows_affect_nothing(
    conn: Connection, seed: Seed
) -> None:
    a, b = seed.a, seed.b
    with scoped(conn, b.id, b.owner_id):
        b_before = {table: count(conn, table, of_tenant(table), (b.id,)) for table in seed.tables}

    touched: dict[str, tuple[int, int]] = {}
    own_updated: dict[str, int] = {}
    tables = changeable(conn, seed.tables)
    for table in tables:
        column = sql.Identifier(tenant_column(table))
        update = sql.SQL("UPDATE {t} SET {c} = {c} WHERE {c} = %s").format(t=sql.Identifier(table), c=column)
        delete = sql.SQL("DELETE FROM {t} WHERE {c} = %s").format(t=sql.Identifier(table), c=column)
        with scoped(conn, a.id, a.owner_id):
            touched[table] = (conn.execute(update, (b.id,)).rowcount, conn.execute(delete, (b.id,)).rowcount)
        with scoped(conn, a.id, a.owner_id):  # the same statement does reach the tenant's own rows
            own_updated[table] = conn.execute(update, (a.id,)).rowcount

    with scoped(conn, b.id, b.owner_id):
        b_after = {table: count(conn, table, of_tenant(table), (b.id,)) for table in seed.tables}
    assert touched == dict.fromkeys(tables, (0, 0))
    assert all(n >= 1 for n in own_updated.values()), own_updated
    assert b_after == b_before


def test_with_tenant_a_set_rows_for_tenant_b_cannot_be_inserted(conn: Connection, seed: Seed) -> None:
    a, b = seed.a, seed.b
    outcomes = {
        table: insert_outcome(conn, table, ROW_BUILDERS[table](b.id, b.owner_id), a.id, a.owner_id)
        for table in seed.tables
    }
    assert outcomes == dict.fromkeys(seed.tables, "rejected by row-level security")


def test_with_tenant_a_set_its_rows_cannot_be_moved_to_tenant_b(conn: Connection, seed: Seed) -> None:
    a, b = seed.a, seed.b
    outcomes: dict[str, str] = {}
    tables = changeable(conn, seed.tables)
    for table in tables:
        update = sql.SQL("UPDATE {t} SET {c} = %s WHERE {c} = %s").format(
            t=sql.Identifier(table), c=sql.Identifier(tenant_column(table))
        )
        try:
            with scoped(conn, a.id, a.owner_id):
                conn.execute(update, (b.id, a.id))
            outcomes[table] = "moved"
        except errors.InsufficientPrivilege as error:
            outcomes[table] = "rejected by row-level security" if RLS_VIOLATION in str(error) else repr(error)
    assert outcomes == dict.fromkeys(tables, "rejected by row-level security")


def test_with_tenant_a_set_a_foreign_key_cannot_point_at_a_row_of_tenant_b(
    conn: Connection, seed: Seed
) -> None:
    a, b = seed.a, seed.b
    # The token's foreign key is (tenant_id, user_id): tenant A's token for B's member would need
    # the membership (A, b.owner), which does not exist; B's membership is out of reach.
    token_for_b_member = ROW_BUILDERS["refresh_tokens"](a.id, b.owner_id)
    with (
        pytest.raises(errors.ForeignKeyViolation, match="refresh_tokens_membership_fkey"),
        scoped(conn, a.id, a.owner_id),
    ):
        insert(conn, "refresh_tokens", token_for_b_member)

    with scoped(conn, a.id, a.owner_id):  # the same rows within tenant A are fine
        assert insert(conn, "refresh_tokens", ROW_BUILDERS["refresh_tokens"](a.id, a.owner_id)) == 1
        assert insert(conn, "customers", ROW_BUILDERS["customers"](a.id, a.owner_id)) == 1


def test_with_tenant_a_set_an_id_used_by_tenant_b_is_free_so_its_existence_does_not_leak(
    conn: Connection, seed: Seed
) -> None:
    a, b = seed.a, seed.b
    same_id_as_bs_customer = ROW_BUILDERS["customers"](a.id, a.owner_id) | {"id": b.customer_id}
    with scoped(conn, a.id, a.owner_id):
        assert insert(conn, "customers", same_id_as_bs_customer) == 1


@pytest.mark.parametrize("end", ["commit", "rollback"])
async def test_the_tenant_setting_does_not_survive_into_the_next_transaction_on_a_pooled_connection(
    database: Database, seed: Seed, end: str
) -> None:
    pool: AsyncConnectionPool[psycopg.AsyncConnection[dict[str, Any]]] = AsyncConnectionPool(
        database.app_url, min_size=1, max_size=1, open=False, kwargs={"row_factory": dict_row}
    )
    await pool.open(wait=True)
    try:
        async with pool.connection() as conn:
            await conn.execute(SET_SCOPE, (str(seed.a.id), str(seed.a.owner_id)))
            cursor = await conn.execute("SELECT count(*) AS n, pg_backend_pid() AS pid FROM customers")
            scoped_read = await cursor.fetchone()
            await (conn.commit() if end == "commit" else conn.rollback())

            # The next transaction on the very same connection, with no set_config.
            cursor = await conn.execute(
                "SELECT (SELECT count(*) FROM customers) AS n, current_setting('app.tenant_id', true) AS t"
            )
            same_connection = await cursor.fetchone()
            await conn.rollback()

        async with pool.connection() as conn:  # back to the pool and out again: still the one
            cursor = await conn.execute(
                "SELECT (SELECT count(*) FROM customers) AS n, current_setting('app.tenant_id', true) AS t,"
                " pg_backend_pid() AS pid"
            )
            next_checkout = await cursor.fetchone()
    finally:
        await pool.close()

    assert scoped_read is not None
    assert same_connection is not None
    assert next_checkout is not None
    assert scoped_read["n"] >= 1
    assert next_checkout["pid"] == scoped_read["pid"]
    assert same_connection["n"] == 0
    assert same_connection["t"] in ("", None)
    assert next_checkout["n"] == 0
    assert next_checkout["t"] in ("", None)


def test_a_member_sees_their_own_account_and_fellow_members_but_not_users_of_other_tenants(
    conn: Connection, seed: Seed
) -> None:
    a, b = seed.a, seed.b
    wanted = [a.owner_id, seed.fellow_id, b.owner_id]
    with scoped(conn, a.id, a.owner_id):
        rows = conn.execute("SELECT id FROM users WHERE id = ANY(%s)", (wanted,)).fetchall()
    assert {row["id"] for row in rows} == {a.owner_id, seed.fellow_id}


def test_a_user_can_update_only_their_own_account(conn: Connection, seed: Seed) -> None:
    a, b = seed.a, seed.b
    rename = "UPDATE users SET name = 'Mallory' WHERE id = %s"
    with scoped(conn, a.id, a.owner_id):
        other_tenant = conn.execute(rename, (b.owner_id,)).rowcount
        fellow_member = conn.execute(rename, (seed.fellow_id,)).rowcount
        themself = conn.execute(rename, (a.owner_id,)).rowcount
    assert (other_tenant, fellow_member, themself) == (0, 0, 1)


def test_a_user_cannot_create_an_account_other_than_their_own(conn: Connection, seed: Seed) -> None:
    with (
        pytest.raises(errors.InsufficientPrivilege, match=RLS_VIOLATION),
        scoped(conn, seed.a.id, seed.a.owner_id),
    ):
        insert_user(conn, uuid.uuid4(), f"someone-{uuid.uuid4().hex}@example.com", "hash")


@pytest.mark.parametrize("scope", ["no-tenant", "tenant-a"])
def test_the_app_role_finds_logins_and_refresh_tokens_of_any_tenant_through_the_directory(
    conn: Connection, seed: Seed, scope: str
) -> None:
    a, b = seed.a, seed.b
    tenant_id, user_id = (None, None) if scope == "no-tenant" else (a.id, a.owner_id)
    with scoped(conn, tenant_id, user_id):
        login = conn.execute("SELECT * FROM directory_find_login(%s)", (b.owner_email,)).fetchall()
        token = conn.execute("SELECT * FROM directory_find_refresh_token(%s)", (b.token_hash,)).fetchall()
        unknown = conn.execute("SELECT * FROM directory_find_login(%s)", ("nobody@example.com",)).fetchall()
    assert login == [{"user_id": b.owner_id, "password_hash": b.owner_password_hash, "tenant_ids": [b.id]}]
    assert token == [{"tenant_id": b.id, "user_id": b.owner_id}]
    assert unknown == []


def test_the_app_role_cannot_read_any_password_hash_not_even_its_own(conn: Connection, seed: Seed) -> None:
    a = seed.a
    with scoped(conn, a.id, a.owner_id), pytest.raises(errors.InsufficientPrivilege):
        conn.execute("SELECT password_hash FROM users WHERE id = %s", (a.owner_id,))


def test_the_app_role_cannot_read_the_tokens_of_another_tenant_directly(conn: Connection, seed: Seed) -> None:
    a, b = seed.a, seed.b
    with scoped(conn, a.id, a.owner_id):
        tokens = conn.execute(
            "SELECT * FROM refresh_tokens WHERE token_hash = %s", (b.token_hash,)
        ).fetchall()
    assert tokens == []


def test_the_app_role_cannot_become_the_directory_role(conn: Connection) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(DIRECTORY_ROLE)))


def test_the_app_role_cannot_redefine_a_directory_function(conn: Connection) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        conn.execute(
            """
            CREATE OR REPLACE FUNCTION public.directory_find_refresh_token(p_token_hash text)
            RETURNS TABLE (tenant_id uuid, user_id uuid)
            LANGUAGE sql STABLE SECURITY DEFINER AS $$ SELECT NULL::uuid, NULL::uuid $$
            """
        )
