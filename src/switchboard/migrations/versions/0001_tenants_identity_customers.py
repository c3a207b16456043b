"""Tenants, accounts, memberships, refresh tokens, customers and idempotency keys.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from switchboard.migrations.rls import (
    APP_ROLE,
    CURRENT_USER,
    DIRECTORY_ROLE,
    enable_rls,
    grant_to_app,
    isolate_by_tenant,
    readable_by_directory,
)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _uuid(name: str, **kwargs: object) -> sa.Column:
    return sa.Column(name, UUID(as_uuid=True), nullable=False, **kwargs)


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}, {DIRECTORY_ROLE}")
    grant_to_app("alembic_version", "SELECT")  # lets /health/ready compare revisions

    op.create_table(
        "tenants",
        _uuid("id", primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        _time("created_at"),
        _time("updated_at"),
        sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1")),
    )
    isolate_by_tenant("tenants", column="id")

    op.create_table(
        "users",
        _uuid("id", primary_key=True),
        sa.Column("email", sa.Text, nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        _time("created_at"),
        _time("updated_at"),
    )
    op.create_table(
        "memberships",
        sa.Column(
            "tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "user_id", UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("role", sa.Text, nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "user_id"),
        sa.CheckConstraint("role IN ('owner', 'admin', 'member')", name="memberships_role_check"),
    )
    op.create_index("memberships_user_id_idx", "memberships", ["user_id"])
    isolate_by_tenant("memberships")

    enable_rls("users")
    # Column grants: members of a tenant can see each other's accounts, never a password hash.
    grant_to_app("users", "SELECT (id, email, name, created_at, updated_at), INSERT, UPDATE")
    # Visible to the person themself and to the tenants they belong to (the memberships subquery
    # is itself filtered to the current tenant); writable by the person only.
    op.execute(
        f"CREATE POLICY self_or_fellow_member ON users FOR SELECT TO {APP_ROLE} USING ("
        f"id = {CURRENT_USER} OR EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = users.id))"
    )
    op.execute(
        f"CREATE POLICY self_insert ON users FOR INSERT TO {APP_ROLE} WITH CHECK (id = {CURRENT_USER})"
    )
    op.execute(
        f"CREATE POLICY self_update ON users FOR UPDATE TO {APP_ROLE} "
        f"USING (id = {CURRENT_USER}) WITH CHECK (id = {CURRENT_USER})"
    )

    op.create_table(
        "refresh_tokens",
        _uuid("tenant_id"),
        _uuid("id"),
        _uuid("user_id"),
        _uuid("family_id"),
        sa.Column("token_hash", sa.Text, nullable=False),
        _time("created_at"),
        _time("expires_at"),
        _time("used_at", nullable=True),
        _time("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        sa.UniqueConstraint("tenant_id", "token_hash", name="refresh_tokens_tenant_id_token_hash_key"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["memberships.tenant_id", "memberships.user_id"],
            ondelete="CASCADE",
            name="refresh_tokens_membership_fkey",
        ),
    )
    op.create_index("refresh_tokens_token_hash_idx", "refresh_tokens", ["token_hash"])
    op.create_index("refresh_tokens_family_idx", "refresh_tokens", ["tenant_id", "family_id"])
    isolate_by_tenant("refresh_tokens")

    op.create_table(
        "customers",
        sa.Column(
            "tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        _uuid("id"),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("email", sa.Text),
        sa.Column("phone", sa.Text),
        _time("created_at"),
        _time("updated_at"),
        sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
    )
    op.create_index(
        "customers_newest_first_idx",
        "customers",
        ["tenant_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    isolate_by_tenant("customers")

    op.create_table(
        "idempotency_keys",
        sa.Column(
            "tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("response_status", sa.SmallInteger),
        sa.Column("response_headers", JSONB),
        sa.Column("response_body", sa.LargeBinary),
        _time("created_at"),
        _time("expires_at"),
        sa.PrimaryKeyConstraint("tenant_id", "key"),
    )
    op.create_index("idempotency_keys_expiry_idx", "idempotency_keys", ["expires_at"])
    isolate_by_tenant("idempotency_keys")

    _create_directory()


def _create_directory() -> None:
    """The one way across tenants: two lookups sign-in needs before it knows the tenant.

    SECURITY DEFINER functions owned by the directory role, which can read only the columns
    named here; the application role may call them but never read those rows directly.
    """
    readable_by_directory("users", "id, email, password_hash")
    readable_by_directory("memberships", "tenant_id, user_id, created_at")
    readable_by_directory("refresh_tokens", "tenant_id, user_id, token_hash")

    op.execute(
        """
        CREATE FUNCTION directory_find_login(p_email text)
        RETURNS TABLE (user_id uuid, password_hash text, tenant_ids uuid[])
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        AS $$
          SELECT u.id, u.password_hash,
                 COALESCE(array_agg(m.tenant_id ORDER BY m.created_at, m.tenant_id)
                          FILTER (WHERE m.tenant_id IS NOT NULL), '{}')
          FROM public.users u LEFT JOIN public.memberships m ON m.user_id = u.id
          WHERE u.email = p_email
          GROUP BY u.id, u.password_hash
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION directory_find_refresh_token(p_token_hash text)
        RETURNS TABLE (tenant_id uuid, user_id uuid)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        AS $$
          SELECT t.tenant_id, t.user_id FROM public.refresh_tokens t WHERE t.token_hash = p_token_hash
        $$
        """
    )
    # A new owner needs CREATE on the schema, for the moment of the hand-over only.
    op.execute(f"GRANT CREATE ON SCHEMA public TO {DIRECTORY_ROLE}")
    for signature in ("directory_find_login(text)", "directory_find_refresh_token(text)"):
        op.execute(f"ALTER FUNCTION {signature} OWNER TO {DIRECTORY_ROLE}")
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {APP_ROLE}")
    op.execute(f"REVOKE CREATE ON SCHEMA public FROM {DIRECTORY_ROLE}")


def downgrade() -> None:
    op.execute("DROP FUNCTION directory_find_refresh_token(text)")
    op.execute("DROP FUNCTION directory_find_login(text)")
    op.execute("DROP POLICY self_or_fellow_member ON users")  # it reads memberships
    for table in ("idempotency_keys", "customers", "refresh_tokens", "memberships", "users", "tenants"):
        op.drop_table(table)
