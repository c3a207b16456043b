"""The tenant's time zone, for reports by day.

Revision ID: 0019
Revises: 0018

An IANA name (``America/New_York``), checked against the server's zone database by the
application; existing tenants read as UTC until they set one. The platform admins' tenant list
(``directory_list_tenants``, migration 0007) answers it too: its result type changes, so the
function is made again, with the same owner and grants.
"""

from importlib import import_module

import sqlalchemy as sa
from alembic import op

from switchboard.migrations.rls import APP_ROLE, DIRECTORY_ROLE

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

LIST_TENANTS = "directory_list_tenants(text, timestamptz, uuid, integer)"
WITH_TIME_ZONE = """
        RETURNS TABLE (id uuid, name text, plan text, status text, created_at timestamptz,
                       updated_at timestamptz, version integer, members bigint, time_zone text)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        AS $$
          SELECT t.id, t.name, t.plan, t.status, t.created_at, t.updated_at, t.version,
                 (SELECT count(*) FROM public.memberships m WHERE m.tenant_id = t.id), t.time_zone
          FROM public.tenants t
          WHERE ($1 IS NULL OR t.status = $1)
            AND ($2 IS NULL OR (t.created_at, t.id) < ($2, $3))
          ORDER BY t.created_at DESC, t.id DESC
          LIMIT $4
        $$"""


def _previous_list_tenants() -> str:
    """The function as 0007 made it, byte for byte, so a downgrade leaves exactly 0018's schema."""
    account_security = import_module("switchboard.migrations.versions.0007_account_security")
    body: str = account_security.DIRECTORY_FUNCTIONS[LIST_TENANTS]
    return body


def _replace_list_tenants(body: str) -> None:
    op.execute(f"DROP FUNCTION {LIST_TENANTS}")
    op.execute(f"GRANT CREATE ON SCHEMA public TO {DIRECTORY_ROLE}")
    op.execute(f"CREATE FUNCTION {LIST_TENANTS} {body}")
    op.execute(f"ALTER FUNCTION {LIST_TENANTS} OWNER TO {DIRECTORY_ROLE}")
    op.execute(f"REVOKE ALL ON FUNCTION {LIST_TENANTS} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {LIST_TENANTS} TO {APP_ROLE}")
    op.execute(f"REVOKE CREATE ON SCHEMA public FROM {DIRECTORY_ROLE}")


def upgrade() -> None:
    op.add_column("tenants", sa.Column("time_zone", sa.Text, nullable=False, server_default=sa.text("'UTC'")))
    op.execute(f"GRANT SELECT (time_zone) ON tenants TO {DIRECTORY_ROLE}")
    _replace_list_tenants(WITH_TIME_ZONE)


def downgrade() -> None:
    _replace_list_tenants(_previous_list_tenants())
    op.drop_column("tenants", "time_zone")  # the directory's column grant goes with it
