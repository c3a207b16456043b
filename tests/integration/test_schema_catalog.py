"""The migrated schema, read from PostgreSQL's catalog: isolation no one can forget to add.

A new tenant table without row-level security, a primary key without tenant_id, or an
application role that could step around the policies fails here, before any query is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from switchboard.adapters.postgres.roles import APP_ROLE, DIRECTORY_ROLE
from tests.conftest import Database

Connection = psycopg.Connection[dict[str, Any]]

# The policy every tenant table's permissive policies for the application role must be, as
# PostgreSQL prints it back (pg_policies.qual / with_check).
TENANT_CHECK = "({column} = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid)"

# Predefined roles that read or write past table grants or reach the server's files.
POWERFUL_PREDEFINED_ROLES = (
    "pg_read_all_data",
    "pg_write_all_data",
    "pg_read_server_files",
    "pg_write_server_files",
    "pg_execute_server_program",
)


@pytest.fixture(scope="module")
def catalog(database: Database) -> Iterator[Connection]:
    """The owner's connection: pg_catalog is readable to all, information_schema is filtered."""
    with psycopg.connect(database.owner_url, autocommit=True, row_factory=dict_row) as conn:
        yield conn


def column_values(conn: Connection, query: str, params: tuple[object, ...] = ()) -> list[Any]:
    return [next(iter(row.values())) for row in conn.execute(query, params).fetchall()]


def tables_with_tenant_id(conn: Connection) -> list[str]:
    return column_values(
        conn,
        """
        SELECT c.table_name
        FROM information_schema.columns c
        JOIN information_schema.tables t USING (table_schema, table_name)
        WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE'
        ORDER BY 1
        """,
    )


def rls_flags(conn: Connection) -> dict[str, tuple[bool, bool]]:
    """Every ordinary or partitioned table in public: (relrowsecurity, relforcerowsecurity)."""
    rows = conn.execute(
        """
        SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
        """
    ).fetchall()
    return {row["relname"]: (row["relrowsecurity"], row["relforcerowsecurity"]) for row in rows}


def test_the_catalog_lists_tenant_tables_including_customers(catalog: Connection) -> None:
    tables = tables_with_tenant_id(catalog)
    assert tables
    assert "customers" in tables


def test_every_tenant_table_has_row_level_security_enabled_forced_and_a_policy(catalog: Connection) -> None:
    flags = rls_flags(catalog)
    with_policies = set(
        column_values(catalog, "SELECT tablename FROM pg_policies WHERE schemaname = 'public'")
    )
    guarded = [*tables_with_tenant_id(catalog), "tenants", "users"]

    problems = {
        table: [
            problem
            for problem, present in (
                ("row level security not enabled", flags[table][0]),
                ("row level security not forced", flags[table][1]),
                ("no policy", table in with_policies),
            )
            if not present
        ]
        for table in guarded
    }
    assert problems == {table: [] for table in guarded}


def test_every_table_except_alembic_version_has_row_level_security_enabled_and_forced(
    catalog: Connection,
) -> None:
    flags = rls_flags(catalog)
    flags.pop("alembic_version", None)  # alembic's bookkeeping: holds no tenant data
    assert flags
    assert flags == dict.fromkeys(flags, (True, True))


def test_every_permissive_policy_the_app_role_meets_on_a_tenant_table_is_the_tenant_check(
    catalog: Connection,
) -> None:
    # Permissive policies are OR-ed together: one looser policy would undo the tenant check.
    # Restrictive ones only narrow it, and policies for other roles do not apply to the app.
    tenant_tables = {table: "tenant_id" for table in tables_with_tenant_id(catalog)} | {"tenants": "id"}
    rows = catalog.execute(
        """
        SELECT tablename, policyname, cmd, qual, with_check
        FROM pg_policies
        WHERE schemaname = 'public' AND permissive = 'PERMISSIVE'
          AND (%s = ANY(roles) OR 'public' = ANY(roles))
        """,
        (APP_ROLE,),
    ).fetchall()
    seen = {row["tablename"] for row in rows}
    loose = [
        row
        for row in rows
        if row["tablename"] in tenant_tables
        and not (
            row["cmd"] == "ALL"
            and row["qual"] == TENANT_CHECK.format(column=tenant_tables[row["tablename"]])
            and row["with_check"] == row["qual"]
        )
    ]
    assert loose == []
    assert set(tenant_tables) <= seen, "every tenant table needs a policy for the app role"


def test_no_policy_applies_to_every_role(catalog: Connection) -> None:
    public = catalog.execute("SELECT tablename, policyname FROM pg_policies WHERE 'public' = ANY(roles)")
    assert public.fetchall() == []


def test_the_application_role_is_not_a_superuser_and_cannot_bypass_row_level_security(
    catalog: Connection,
) -> None:
    role = catalog.execute(
        "SELECT rolsuper, rolbypassrls, rolcreaterole, rolreplication FROM pg_roles WHERE rolname = %s",
        (APP_ROLE,),
    ).fetchone()
    assert role == {"rolsuper": False, "rolbypassrls": False, "rolcreaterole": False, "rolreplication": False}


def test_the_application_role_owns_no_table_or_other_object_in_public(catalog: Connection) -> None:
    tables = column_values(
        catalog,
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tableowner = %s",
        (APP_ROLE,),
    )
    relations = column_values(
        catalog,
        """
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) = %s
        """,
        (APP_ROLE,),
    )
    functions = column_values(
        catalog,
        """
        SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) = %s
        """,
        (APP_ROLE,),
    )
    assert (tables, relations, functions) == ([], [], [])


def test_the_application_role_is_a_member_of_no_role_that_could_bypass_row_level_security(
    catalog: Connection,
) -> None:
    # pg_has_role(..., 'MEMBER') follows pg_auth_members through every level of grants, whatever
    # INHERIT or SET options say: a member could reach the other role's rights one way or another.
    reachable = column_values(
        catalog,
        """
        SELECT r.rolname
        FROM pg_roles r
        WHERE r.rolname <> %(app)s
          AND pg_has_role(%(app)s, r.oid, 'MEMBER')
          AND (
            r.rolsuper OR r.rolbypassrls OR r.rolname = %(directory)s OR r.rolname = ANY(%(powerful)s)
            OR EXISTS (SELECT 1 FROM pg_tables t WHERE t.schemaname = 'public' AND t.tableowner = r.rolname)
            OR EXISTS (SELECT 1 FROM pg_database d WHERE d.datname = current_database() AND d.datdba = r.oid)
          )
        """,
        {"app": APP_ROLE, "directory": DIRECTORY_ROLE, "powerful": list(POWERFUL_PREDEFINED_ROLES)},
    )
    granted_directly = column_values(
        catalog,
        """
        SELECT pg_get_userbyid(m.roleid) FROM pg_auth_members m
        WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = %s)
        """,
        (APP_ROLE,),
    )
    assert reachable == [], f"{APP_ROLE} is directly granted {granted_directly}"


def test_the_application_role_cannot_create_objects_in_public(catalog: Connection) -> None:
    can_create = catalog.execute("SELECT has_schema_privilege(%s, 'public', 'CREATE') AS ok", (APP_ROLE,))
    assert can_create.fetchone() == {"ok": False}


def test_every_primary_key_and_unique_constraint_of_a_tenant_table_includes_tenant_id(
    catalog: Connection,
) -> None:
    # Unique indexes too (a unique index without a constraint enforces the same thing): a key
    # unique across tenants is an oracle for another tenant's data.
    rows = catalog.execute(
        """
        SELECT c.relname AS table_name, i.relname AS index_name
        FROM pg_index x
        JOIN pg_class c ON c.oid = x.indrelid
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
        WHERE n.nspname = 'public' AND x.indisunique AND NOT (a.attnum = ANY(x.indkey::int2[]))
        """
    ).fetchall()
    constraints = catalog.execute(
        """
        SELECT c.relname AS table_name, k.conname, k.contype
        FROM pg_constraint k
        JOIN pg_class c ON c.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
        WHERE n.nspname = 'public' AND k.contype IN ('p', 'u', 'x') AND NOT (a.attnum = ANY(k.conkey))
        """
    ).fetchall()
    checked = catalog.execute(
        """
        SELECT count(*) AS n FROM pg_constraint k JOIN pg_attribute a
          ON a.attrelid = k.conrelid AND a.attname = 'tenant_id' AND a.attnum = ANY(k.conkey)
        WHERE k.connamespace = 'public'::regnamespace AND k.contype IN ('p', 'u')
        """
    ).fetchone()
    assert (constraints, rows) == ([], [])
    assert checked is not None
    assert checked["n"] >= len(tables_with_tenant_id(catalog))  # at least each table's primary key


def test_every_foreign_key_between_tenant_tables_includes_tenant_id(catalog: Connection) -> None:
    """From a tenant table, a key to another tenant table pairs tenant_id with tenant_id; a key
    to ``tenants`` is tenant_id itself. Keys to platform-wide tables (users) are not tenant data."""
    rows = catalog.execute(
        """
        SELECT k.conname, src.relname AS from_table, dst.relname AS to_table,
               ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(n, i)
                     JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.i)
                 AS from_columns,
               ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY u(n, i)
                     JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.i)
                 AS to_columns
        FROM pg_constraint k
        JOIN pg_class src ON src.oid = k.conrelid
        JOIN pg_class dst ON dst.oid = k.confrelid
        WHERE k.contype = 'f' AND k.connamespace = 'public'::regnamespace
        """
    ).fetchall()
    tenant_tables = set(tables_with_tenant_id(catalog))
    between_tenant_tables = [
        row for row in rows if row["from_table"] in tenant_tables and row["to_table"] in tenant_tables
    ]
    to_tenants = [row for row in rows if row["from_table"] in tenant_tables and row["to_table"] == "tenants"]

    def pairs(row: dict[str, Any]) -> set[tuple[str, str]]:
        return set(zip(row["from_columns"], row["to_columns"], strict=True))

    assert between_tenant_tables, "expected at least refresh_tokens -> memberships"
    assert [
        row["conname"] for row in between_tenant_tables if ("tenant_id", "tenant_id") not in pairs(row)
    ] == []
    assert [row["conname"] for row in to_tenants if ("tenant_id", "id") not in pairs(row)] == []


def test_every_tenant_id_column_is_not_null(catalog: Connection) -> None:
    nullable = column_values(
        catalog,
        """
        SELECT table_name FROM information_schema.columns
        WHERE table_schema = 'public' AND column_name = 'tenant_id' AND is_nullable = 'YES'
        """,
    )
    assert nullable == []


def test_no_view_in_public_reads_tables_with_its_owners_rights(catalog: Connection) -> None:
    # A view runs as its owner unless security_invoker is set, and a materialized view has no
    # row-level security at all: either would show every tenant's rows.
    views = column_values(
        catalog,
        """
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND (
          c.relkind = 'm'
          OR (c.relkind = 'v' AND NOT coalesce('security_invoker=true' = ANY(c.reloptions), false)
                               AND NOT coalesce('security_invoker=on' = ANY(c.reloptions), false))
        )
        """,
    )
    assert views == []


def test_the_only_security_definer_functions_are_the_directory_owned_by_the_directory_role(
    catalog: Connection,
) -> None:
    rows = catalog.execute(
        """
        SELECT p.proname, pg_get_userbyid(p.proowner) AS owner, p.proconfig AS config,
               has_function_privilege('public', p.oid, 'EXECUTE') AS public_can_execute
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.prosecdef
        ORDER BY p.proname
        """
    ).fetchall()
    assert [row["proname"] for row in rows] == [
        "directory_check_session",
        "directory_claim_outbox",
        "directory_claim_webhook_events",
        "directory_find_account_token",
        "directory_find_admin",
        "directory_find_api_key",
        "directory_find_calendar_feed",
        "directory_find_external_identity",
        "directory_find_integration",
        "directory_find_invitation",
        "directory_find_login",
        "directory_find_quote_link",
        "directory_find_refresh_token",
        "directory_list_tenants",
    ]
    for row in rows:
        assert row["owner"] == DIRECTORY_ROLE
        assert row["public_can_execute"] is False
        assert "search_path=pg_catalog, pg_temp" in (row["config"] or [])


def test_the_directory_role_cannot_log_in_and_reads_only_what_its_lookups_need(catalog: Connection) -> None:
    role = catalog.execute(
        "SELECT rolcanlogin, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", (DIRECTORY_ROLE,)
    ).fetchone()
    privileges = catalog.execute(
        """
        SELECT table_name, column_name, privilege_type FROM information_schema.column_privileges
        WHERE grantee = %s AND table_schema = 'public'
        """,
        (DIRECTORY_ROLE,),
    ).fetchall()
    table_privileges = column_values(
        catalog,
        """
        SELECT table_name || ':' || privilege_type FROM information_schema.role_table_grants
        WHERE grantee = %s AND table_schema = 'public'
        """,
        (DIRECTORY_ROLE,),
    )
    owned = column_values(catalog, "SELECT tablename FROM pg_tables WHERE tableowner = %s", (DIRECTORY_ROLE,))
    assert role == {"rolcanlogin": False, "rolsuper": False, "rolbypassrls": False}
    assert {(p["table_name"], p["column_name"], p["privilege_type"]) for p in privileges} == {
        ("users", "id", "SELECT"),
        ("users", "email", "SELECT"),
        ("users", "password_hash", "SELECT"),
        ("memberships", "tenant_id", "SELECT"),
        ("memberships", "user_id", "SELECT"),
        ("memberships", "created_at", "SELECT"),
        ("memberships", "role", "SELECT"),  # checking a session answers the member's role
        ("refresh_tokens", "tenant_id", "SELECT"),
        ("refresh_tokens", "user_id", "SELECT"),
        ("refresh_tokens", "token_hash", "SELECT"),
        ("platform_admins", "id", "SELECT"),
        ("platform_admins", "email", "SELECT"),
        ("platform_admins", "password_hash", "SELECT"),
        # routing an incoming webhook to its tenant
        ("integrations", "tenant_id", "SELECT"),
        ("integrations", "id", "SELECT"),
        ("integrations", "provider", "SELECT"),
        # the worker's claims: which rows are due, and a lease on them; never their content
        *(
            (queue, column, "SELECT")
            for queue in ("outbox", "webhook_events")
            for column in ("tenant_id", "id", "status", "next_attempt_at", "locked_until", "attempts")
        ),
        *(
            (queue, column, "UPDATE")
            for queue in ("outbox", "webhook_events")
            for column in ("locked_until", "attempts")
        ),
        # finding who a mailed token, an outside identity or an invitation belongs to
        ("account_tokens", "user_id", "SELECT"),
        ("account_tokens", "token_hash", "SELECT"),
        ("external_identities", "provider", "SELECT"),
        ("external_identities", "subject", "SELECT"),
        ("external_identities", "user_id", "SELECT"),
        ("invitations", "tenant_id", "SELECT"),
        ("invitations", "id", "SELECT"),
        ("invitations", "token_hash", "SELECT"),
        # the public quote page: which tenant's quote a link's token opens, nothing else of it
        ("quotes", "tenant_id", "SELECT"),
        ("quotes", "id", "SELECT"),
        ("quotes", "link_token_hash", "SELECT"),
        # the public calendar feed of a resource: which tenant and resource a token opens
        ("calendar_feeds", "tenant_id", "SELECT"),
        ("calendar_feeds", "resource_id", "SELECT"),
        ("calendar_feeds", "token_hash", "SELECT"),
        # checking a session on every request: is it live, is its tenant active
        ("sessions", "tenant_id", "SELECT"),
        ("sessions", "id", "SELECT"),
        ("sessions", "user_id", "SELECT"),
        ("sessions", "revoked_at", "SELECT"),
        # listing tenants for platform admins (never a tenant's other data)
        *(
            ("tenants", column, "SELECT")
            for column in ("id", "name", "plan", "status", "created_at", "updated_at", "version", "time_zone")
        ),
        # authenticating an API key, and noting it as used; never its name or creator
        *(
            ("api_keys", column, "SELECT")
            for column in (
                "tenant_id",
                "id",
                "secret_hash",
                "scopes",
                "allowed_origins",
                "expires_at",
                "revoked_at",
                "last_used_at",
            )
        ),
        ("api_keys", "last_used_at", "UPDATE"),
    }
    assert (table_privileges, owned) == ([], [])


def person_owned_tables(conn: Connection) -> list[str]:
    """Tables of a person rather than a tenant: a user_id column and no tenant_id column."""
    return column_values(
        conn,
        """
        SELECT t.table_name FROM information_schema.tables t
        WHERE t.table_schema = 'public' AND t.table_type = 'BASE TABLE'
          AND EXISTS (SELECT 1 FROM information_schema.columns c WHERE c.table_schema = 'public'
                      AND c.table_name = t.table_name AND c.column_name = 'user_id')
          AND NOT EXISTS (SELECT 1 FROM information_schema.columns c WHERE c.table_schema = 'public'
                          AND c.table_name = t.table_name AND c.column_name = 'tenant_id')
        ORDER BY 1
        """,
    )


USER_CHECK = "(user_id = (NULLIF(current_setting('app.user_id'::text, true), ''::text))::uuid)"


def test_every_permissive_policy_the_app_role_meets_on_a_person_owned_table_is_the_user_check(
    catalog: Connection,
) -> None:
    tables = person_owned_tables(catalog)
    assert {"mfa_factors", "recovery_codes", "account_tokens", "external_identities"} <= set(tables)
    rows = catalog.execute(
        """
        SELECT tablename, cmd, qual, with_check FROM pg_policies
        WHERE schemaname = 'public' AND permissive = 'PERMISSIVE' AND tablename = ANY(%s)
          AND (%s = ANY(roles) OR 'public' = ANY(roles))
        """,
        (tables, APP_ROLE),
    ).fetchall()
    policies = {row["tablename"]: (row["cmd"], row["qual"], row["with_check"]) for row in rows}
    assert len(rows) == len(tables)  # exactly one each
    assert policies == dict.fromkeys(tables, ("ALL", USER_CHECK, USER_CHECK))


# Logs the application may append to and read, never change: audit entries above all.
APPEND_ONLY_TABLES = ("audit_events", "feature_flag_changes", "webhook_deliveries", "payments")


def test_the_app_role_may_only_insert_into_and_select_from_the_append_only_logs(catalog: Connection) -> None:
    table_grants = catalog.execute(
        """
        SELECT table_name, privilege_type FROM information_schema.role_table_grants
        WHERE grantee = %s AND table_schema = 'public' AND table_name = ANY(%s)
        """,
        (APP_ROLE, list(APPEND_ONLY_TABLES)),
    ).fetchall()
    # Column grants (which table grants imply too) must add no UPDATE of any single column.
    column_grants = column_values(
        catalog,
        """
        SELECT DISTINCT privilege_type FROM information_schema.column_privileges
        WHERE grantee = %s AND table_schema = 'public' AND table_name = ANY(%s)
        """,
        (APP_ROLE, list(APPEND_ONLY_TABLES)),
    )
    effective = catalog.execute(
        """
        SELECT t AS table_name, has_table_privilege(%s, t, 'UPDATE') AS may_update,
               has_table_privilege(%s, t, 'DELETE') AS may_delete,
               has_table_privilege(%s, t, 'TRUNCATE') AS may_truncate,
               has_any_column_privilege(%s, t, 'UPDATE') AS may_update_a_column
        FROM unnest(%s::text[]) AS t
        """,
        (APP_ROLE, APP_ROLE, APP_ROLE, APP_ROLE, list(APPEND_ONLY_TABLES)),
    ).fetchall()
    assert {(row["table_name"], row["privilege_type"]) for row in table_grants} == {
        (table, privilege) for table in APPEND_ONLY_TABLES for privilege in ("INSERT", "SELECT")
    }
    assert sorted(column_grants) == ["INSERT", "SELECT"]
    assert [row for row in effective if any(v is True for k, v in row.items() if k != "table_name")] == []
