"""The migrations: they build what tables.py describes, and they run both ways."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from switchboard.adapters.postgres.database import (
    bootstrap_roles,
    create_database_if_missing,
    drop_database,
    head_revision,
    migrate,
    with_database,
)
from switchboard.adapters.postgres.roles import APP_ROLE, DIRECTORY_ROLE
from switchboard.adapters.postgres.tables import metadata
from tests.conftest import Database


def alembic_config() -> Config:
    """As database.migrate builds it: the scripts in the package, run on a handed-in connection."""
    config = Config()
    config.set_main_option("script_location", "switchboard:migrations")
    return config


def run_alembic(owner_url: str, operation: str, revision: str) -> None:
    engine = create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(owner_url), poolclass=NullPool
    )
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            getattr(command, operation)(config, revision)
    finally:
        engine.dispose()


@pytest.fixture
def throwaway_database(postgres_server: str) -> Iterator[str]:
    """A database of its own, so the shared one stays untouched."""
    name = f"switchboard_throwaway_{uuid.uuid4().hex[:12]}"
    create_database_if_missing(postgres_server, name)
    try:
        yield with_database(postgres_server, name)
    finally:
        drop_database(postgres_server, name)


def schema_snapshot(owner_url: str) -> dict[str, list[Any]]:
    """Everything in public the migrations make that matters for isolation, as plain data."""
    queries = {
        "columns": """
            SELECT table_name, column_name, data_type, is_nullable, column_default
            FROM information_schema.columns WHERE table_schema = 'public'""",
        "constraints": """
            SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
            FROM pg_constraint WHERE connamespace = 'public'::regnamespace""",
        "indexes": "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
        "row_security": """
            SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class
            WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')""",
        "policies": """
            SELECT tablename, policyname, permissive, roles::text[], cmd, qual, with_check
            FROM pg_policies WHERE schemaname = 'public'""",
        "table_grants": """
            SELECT grantee, table_name, privilege_type FROM information_schema.role_table_grants
            WHERE table_schema = 'public' AND grantee IN (%(app)s, %(directory)s)""",
        "column_grants": """
            SELECT grantee, table_name, column_name, privilege_type FROM information_schema.column_privileges
            WHERE table_schema = 'public' AND grantee IN (%(app)s, %(directory)s)""",
        "functions": """
            SELECT p.proname, pg_get_userbyid(p.proowner), p.proacl::text[], pg_get_functiondef(p.oid)
            FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace""",
    }
    roles = {"app": APP_ROLE, "directory": DIRECTORY_ROLE}
    with psycopg.connect(owner_url) as conn:
        return {
            name: sorted(conn.execute(query, roles).fetchall(), key=repr) for name, query in queries.items()
        }


def test_the_migrations_have_a_single_head() -> None:
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


def test_the_test_database_is_at_head_and_the_app_role_can_read_its_revision(database: Database) -> None:
    with psycopg.connect(database.app_url, row_factory=dict_row) as conn:
        versions = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    assert versions == [{"version_num": head_revision()}]


def test_the_table_metadata_matches_what_the_migrations_created(database: Database) -> None:
    # customers_newest_first_idx has DESC expressions; alembic 1.20 compares them without noise,
    # so nothing is filtered here. Should a false positive appear, filter only that exact one.
    engine = create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(database.owner_url), poolclass=NullPool
    )
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_migrations_downgrade_to_base_and_upgrade_again_to_the_same_schema(throwaway_database: str) -> None:
    migrate(throwaway_database)
    migrated = schema_snapshot(throwaway_database)

    run_alembic(throwaway_database, "downgrade", "base")
    emptied = schema_snapshot(throwaway_database)
    with psycopg.connect(throwaway_database) as conn:
        revisions = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    assert revisions == []
    assert {row[0] for row in emptied["columns"]} <= {"alembic_version"}
    assert (emptied["policies"], emptied["functions"]) == ([], [])

    migrate(throwaway_database)
    assert schema_snapshot(throwaway_database) == migrated
    with psycopg.connect(throwaway_database) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(head_revision(),)]


def test_each_revision_downgrades_to_exactly_the_schema_before_it(throwaway_database: str) -> None:
    """Step by step, not only all the way down: a downgrade that forgets a grant, a policy or an
    index of its own revision leaves it behind for the revision below, where base would hide it."""
    script = ScriptDirectory.from_config(alembic_config())
    revisions = [revision.revision for revision in reversed(list(script.walk_revisions()))]
    with psycopg.connect(throwaway_database, autocommit=True) as conn:
        bootstrap_roles(conn, None)

    def snapshot() -> dict[str, list[Any]]:
        # alembic makes its version table on the first upgrade and keeps it at base
        return {
            part: [row for row in rows if not any("alembic_version" in str(value) for value in row)]
            for part, rows in schema_snapshot(throwaway_database).items()
        }

    left_behind: dict[str, dict[str, list[Any]]] = {}
    for revision in revisions:
        before = snapshot()
        run_alembic(throwaway_database, "upgrade", revision)
        run_alembic(throwaway_database, "downgrade", "-1")
        after = snapshot()
        if after != before:
            left_behind[revision] = {
                part: [row for row in after[part] if row not in before[part]]
                + [("missing", row) for row in before[part] if row not in after[part]]
                for part in before
                if after[part] != before[part]
            }
        run_alembic(throwaway_database, "upgrade", revision)
    assert left_behind == {}


def test_migrations_run_as_an_owner_that_can_create_roles_but_is_not_a_superuser(
    postgres_server: str, database: Database
) -> None:
    """Managed PostgreSQL offers no superuser; database.py says a CREATEROLE owner will do.

    The roles are cluster-wide and already exist (``database`` made them), so the owner is given
    what it would hold had it created them itself on PostgreSQL 16 and later: ADMIN OPTION only.
    """
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        server = admin.execute(
            "SELECT rolsuper, current_setting('server_version_num')::int AS version"
            " FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        if not (server and server[0] and server[1] >= 160000):
            pytest.skip("needs a superuser on PostgreSQL 16 or later to set up a non-superuser owner")
        owner = f"switchboard_owner_{uuid.uuid4().hex[:8]}"
        name = f"switchboard_nonsuper_{uuid.uuid4().hex[:8]}"
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB CREATEROLE").format(sql.Identifier(owner)))
        try:
            admin.execute(
                sql.SQL("GRANT {}, {} TO {} WITH ADMIN TRUE, INHERIT FALSE, SET FALSE").format(
                    sql.Identifier(APP_ROLE), sql.Identifier(DIRECTORY_ROLE), sql.Identifier(owner)
                )
            )
            admin.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner))
            )
            try:
                migrate(make_conninfo(with_database(postgres_server, name), user=owner))
            finally:
                drop_database(postgres_server, name)
        finally:
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(owner)))
