"""Row-level security statements shared by every migration that adds a table."""

from __future__ import annotations

from alembic import op

from switchboard.adapters.postgres.roles import APP_ROLE, DIRECTORY_ROLE

__all__ = ["APP_ROLE", "DIRECTORY_ROLE"]

# Fails closed: with no tenant set (NULL, or '' after a transaction-local set_config ended on a
# pooled connection) the comparison is NULL and no row matches.
CURRENT_TENANT = "NULLIF(current_setting('app.tenant_id', true), '')::uuid"
CURRENT_USER = "NULLIF(current_setting('app.user_id', true), '')::uuid"


def enable_rls(table: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


def isolate_by_tenant(table: str, column: str = "tenant_id") -> None:
    """Enable and force RLS on ``table``; the application sees only the current tenant's rows."""
    enable_rls(table)
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} TO {APP_ROLE} "
        f"USING ({column} = {CURRENT_TENANT}) WITH CHECK ({column} = {CURRENT_TENANT})"
    )
    grant_to_app(table)


def grant_to_app(table: str, privileges: str = "SELECT, INSERT, UPDATE, DELETE") -> None:
    op.execute(f"GRANT {privileges} ON {table} TO {APP_ROLE}")


def readable_by_directory(table: str, columns: str) -> None:
    """Let the directory role (owner of the cross-tenant lookup functions) read ``columns``."""
    op.execute(f"GRANT SELECT ({columns}) ON {table} TO {DIRECTORY_ROLE}")
    op.execute(f"CREATE POLICY directory_lookup ON {table} FOR SELECT TO {DIRECTORY_ROLE} USING (true)")
