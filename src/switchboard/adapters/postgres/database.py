"""Connecting, bootstrapping roles and migrating.

Two roles matter. The *owner* (the configured database URL's user) runs migrations and owns the
tables. The *application role* (``switchboard_app``) is what the server connects as: not a
superuser, not an owner, no BYPASSRLS, so row-level security applies to every query it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from switchboard.adapters.postgres.roles import APP_ROLE, DIRECTORY_ROLE
from switchboard.adapters.postgres.unit_of_work import Pool

if TYPE_CHECKING:
    from alembic.config import Config

# Two sessions migrating at once take turns on this lock (an arbitrary, fixed number).
_MIGRATION_LOCK = 7_245_019_331


def app_conninfo(owner_url: str, app_password: str | None = None) -> str:
    """The owner's connection string with the application role's credentials instead."""
    return make_conninfo(owner_url, user=APP_ROLE, password=app_password or None)


def database_name(url: str) -> str:
    return str(conninfo_to_dict(url).get("dbname") or "postgres")


def with_database(url: str, name: str) -> str:
    return make_conninfo(url, dbname=name)


def create_database_if_missing(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def bootstrap_roles(conn: psycopg.Connection[Any], app_password: str | None) -> None:
    """Create the cluster-wide roles if missing. Needs a superuser or CREATEROLE owner."""
    for role, options in (
        (APP_ROLE, "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT"),
        (DIRECTORY_ROLE, "NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"),
    ):
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if not exists:
            conn.execute(sql.SQL(f"CREATE ROLE {{}} {options}").format(sql.Identifier(role)))
    # The owner hands the directory functions over to the directory role, which takes the right
    # to SET ROLE to it (a CREATEROLE owner on PostgreSQL 16+ only has ADMIN on roles it made).
    # Before 16, plain membership carries that right.
    modern = conn.info.server_version >= 160000
    owner_may_set = conn.execute(
        "SELECT pg_has_role(current_user, %s, %s) OR rolsuper FROM pg_roles WHERE rolname = current_user",
        (DIRECTORY_ROLE, "SET" if modern else "MEMBER"),
    ).fetchone()
    if owner_may_set is not None and not owner_may_set[0]:
        grant = "GRANT {} TO CURRENT_USER" + (" WITH INHERIT FALSE, SET TRUE" if modern else "")
        conn.execute(sql.SQL(grant).format(sql.Identifier(DIRECTORY_ROLE)))
    if app_password:
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(APP_ROLE), sql.Literal(app_password))
        )
    database = conn.execute("SELECT current_database()").fetchone()
    assert database is not None
    conn.execute(
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            sql.Identifier(database[0]), sql.Identifier(APP_ROLE)
        )
    )


def _alembic_config() -> Config:
    from alembic.config import Config  # imported here: serving processes never migrate

    config = Config()
    config.set_main_option("script_location", "switchboard:migrations")
    return config


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def migrate(owner_url: str, app_password: str | None = None) -> None:
    """Bootstrap the roles and bring the schema to the newest revision, as the owner."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        try:
            from alembic import command

            bootstrap_roles(conn, app_password)
            engine = create_engine(
                "postgresql+psycopg://", creator=lambda: psycopg.connect(owner_url), poolclass=NullPool
            )
            with engine.begin() as connection:
                config = _alembic_config()
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
            engine.dispose()
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))


def make_pool(conninfo: str, size: int) -> Pool:
    """The application's pool; opened by the app at startup, not here.

    Connections are in autocommit mode: a unit of work opens its transaction itself, together
    with the tenant scope, and single-statement reads (the directory) need no transaction.
    """
    return AsyncConnectionPool(
        conninfo,
        min_size=size,
        max_size=size,
        open=False,
        kwargs={"row_factory": dict_row, "autocommit": True},
        name="switchboard",
    )


async def schema_revision(pool: Pool) -> str | None:
    async with pool.connection() as conn:
        cursor = await conn.execute("SELECT version_num FROM alembic_version")
        row = await cursor.fetchone()
        return row["version_num"] if row else None


def create_platform_admin(owner_url: str, admin_id: str, email: str, password_hash: str) -> bool:
    """Add a platform admin, as the owner (the application role cannot touch that table).

    False when the email is already an admin's.
    """
    with psycopg.connect(owner_url, autocommit=True) as conn:
        inserted = conn.execute(
            "INSERT INTO platform_admins (id, email, password_hash, created_at) VALUES (%s, %s, %s, now())"
            " ON CONFLICT (email) DO NOTHING",
            (admin_id, email, password_hash),
        )
        return inserted.rowcount == 1
