"""Account security: sessions, second factors, mailed tokens, outside identities, invitations,
API keys, the audit log, and tenant suspension.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from switchboard.migrations.rls import (
    APP_ROLE,
    CURRENT_USER,
    DIRECTORY_ROLE,
    enable_rls,
    grant_to_app,
    isolate_by_tenant,
    readable_by_directory,
)

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _uuid(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, UUID(as_uuid=True), nullable=nullable)


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _tenant_id() -> sa.Column:
    return sa.Column(
        "tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )


def _user_id() -> sa.Column:
    return sa.Column(
        "user_id", UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )


def _owned_by_user(table: str) -> None:
    """Rows that belong to a person, not to a tenant: visible only while acting as them."""
    enable_rls(table)
    op.execute(
        f"CREATE POLICY own_rows ON {table} TO {APP_ROLE} "
        f"USING (user_id = {CURRENT_USER}) WITH CHECK (user_id = {CURRENT_USER})"
    )
    grant_to_app(table)


DIRECTORY_FUNCTIONS = {
    "directory_find_account_token(text)": """
        RETURNS uuid LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        AS $$ SELECT t.user_id FROM public.account_tokens t WHERE t.token_hash = $1 $$""",
    "directory_find_external_identity(text, text)": """
        RETURNS uuid LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        AS $$
          SELECT i.user_id FROM public.external_identities i WHERE i.provider = $1 AND i.subject = $2
        $$""",
    "directory_find_invitation(text)": """
        RETURNS TABLE (tenant_id uuid, invitation_id uuid)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        AS $$ SELECT i.tenant_id, i.id FROM public.invitations i WHERE i.token_hash = $1 $$""",
    # Runs on every request a user's token makes: one indexed join, nothing written.
    "directory_check_session(uuid, uuid, uuid)": """
        RETURNS text LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        AS $$
          SELECT m.role FROM public.memberships m
          JOIN public.tenants t ON t.id = m.tenant_id
          JOIN public.sessions s ON s.tenant_id = m.tenant_id AND s.user_id = m.user_id
          WHERE m.tenant_id = $1 AND m.user_id = $2 AND s.id = $3
            AND t.status = 'active' AND s.revoked_at IS NULL
        $$""",
    # Notes the key as used at most once a minute, so a busy key costs no write per request.
    "directory_find_api_key(text)": """
        RETURNS TABLE (key_id uuid, tenant_id uuid, scopes jsonb, allowed_origins text[],
                       expires_at timestamptz, revoked_at timestamptz, tenant_active boolean)
        LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        AS $$
        #variable_conflict use_column
        BEGIN
          UPDATE public.api_keys k SET last_used_at = now()
          WHERE k.secret_hash = $1 AND k.revoked_at IS NULL
            AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute');
          RETURN QUERY
            SELECT k.id, k.tenant_id, k.scopes, k.allowed_origins, k.expires_at, k.revoked_at,
                   t.status = 'active'
            FROM public.api_keys k JOIN public.tenants t ON t.id = k.tenant_id
            WHERE k.secret_hash = $1;
        END
        $$""",
    # For platform admins: every tenant, newest first, one keyset page at a time.
    "directory_list_tenants(text, timestamptz, uuid, integer)": """
        RETURNS TABLE (id uuid, name text, plan text, status text, created_at timestamptz,
                       updated_at timestamptz, version integer, members bigint)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        AS $$
          SELECT t.id, t.name, t.plan, t.status, t.created_at, t.updated_at, t.version,
                 (SELECT count(*) FROM public.memberships m WHERE m.tenant_id = t.id)
          FROM public.tenants t
          WHERE ($1 IS NULL OR t.status = $1)
            AND ($2 IS NULL OR (t.created_at, t.id) < ($2, $3))
          ORDER BY t.created_at DESC, t.id DESC
          LIMIT $4
        $$""",
}


def upgrade() -> None:
    op.add_column("tenants", sa.Column("status", sa.Text, nullable=False, server_default=sa.text("'active'")))
    op.create_check_constraint("tenants_status_check", "tenants", "status IN ('active', 'suspended')")
    op.create_index("tenants_newest_first_idx", "tenants", [sa.text("created_at DESC"), sa.text("id DESC")])

    op.add_column("users", _time("email_verified_at", nullable=True))
    op.alter_column("users", "password_hash", nullable=True)
    op.execute(f"GRANT SELECT (email_verified_at) ON users TO {APP_ROLE}")

    op.create_table(
        "sessions",
        _uuid("tenant_id"),
        _uuid("id"),
        _uuid("user_id"),
        _time("created_at"),
        _time("last_seen_at"),
        sa.Column("ip", sa.Text),
        sa.Column("user_agent", sa.Text),
        _time("revoked_at", nullable=True),
        _uuid("impersonator_id", nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["memberships.tenant_id", "memberships.user_id"],
            ondelete="CASCADE",
            name="sessions_membership_fkey",
        ),
    )
    op.create_index("sessions_user_idx", "sessions", ["tenant_id", "user_id"])
    isolate_by_tenant("sessions")

    op.create_table(
        "mfa_factors",
        sa.Column(
            "user_id", UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("sealed_secret", sa.LargeBinary, nullable=False),
        _time("created_at"),
        _time("confirmed_at", nullable=True),
        sa.Column("last_used_step", sa.BigInteger),
    )
    _owned_by_user("mfa_factors")

    op.create_table(
        "recovery_codes",
        _user_id(),
        sa.Column("code_hash", sa.Text, nullable=False),
        _time("used_at", nullable=True),
        sa.PrimaryKeyConstraint("user_id", "code_hash"),
    )
    _owned_by_user("recovery_codes")

    op.create_table(
        "account_tokens",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        _user_id(),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("token_hash", sa.Text, nullable=False, unique=True),
        sa.Column("email", sa.Text, nullable=False),
        _time("created_at"),
        _time("expires_at"),
        _time("used_at", nullable=True),
        sa.CheckConstraint(
            "purpose IN ('verify_email', 'reset_password', 'unlock')", name="account_tokens_purpose_check"
        ),
    )
    op.create_index("account_tokens_user_idx", "account_tokens", ["user_id", "purpose"])
    _owned_by_user("account_tokens")

    op.create_table(
        "external_identities",
        sa.Column("provider", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        _user_id(),
        sa.Column("email", sa.Text),
        _time("created_at"),
        sa.PrimaryKeyConstraint("provider", "subject"),
    )
    op.create_index("external_identities_user_idx", "external_identities", ["user_id"])
    _owned_by_user("external_identities")

    op.create_table(
        "invitations",
        _tenant_id(),
        _uuid("id"),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("token_hash", sa.Text, nullable=False),
        _uuid("invited_by", nullable=True),
        _time("created_at"),
        _time("expires_at"),
        _time("accepted_at", nullable=True),
        _uuid("accepted_by", nullable=True),
        _time("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        sa.UniqueConstraint("tenant_id", "token_hash", name="invitations_tenant_id_token_hash_key"),
        sa.CheckConstraint("role IN ('owner', 'admin', 'member')", name="invitations_role_check"),
    )
    op.create_index("invitations_token_hash_idx", "invitations", ["token_hash"])
    op.create_index(
        "invitations_one_outstanding_per_email",
        "invitations",
        ["tenant_id", "email"],
        unique=True,
        postgresql_where=sa.text("accepted_at IS NULL AND revoked_at IS NULL"),
    )
    isolate_by_tenant("invitations")

    op.create_table(
        "api_keys",
        _tenant_id(),
        _uuid("id"),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("prefix", sa.Text, nullable=False),
        sa.Column("secret_hash", sa.Text, nullable=False),
        sa.Column("scopes", JSONB, nullable=False),
        sa.Column("allowed_origins", ARRAY(sa.Text), nullable=False),
        _uuid("created_by", nullable=True),
        _time("created_at"),
        _time("expires_at", nullable=True),
        _time("last_used_at", nullable=True),
        _time("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        sa.UniqueConstraint("tenant_id", "secret_hash", name="api_keys_tenant_id_secret_hash_key"),
    )
    op.create_index("api_keys_secret_hash_idx", "api_keys", ["secret_hash"])
    op.create_index(
        "api_keys_newest_first_idx", "api_keys", ["tenant_id", sa.text("created_at DESC"), sa.text("id DESC")]
    )
    isolate_by_tenant("api_keys")

    op.create_table(
        "audit_events",
        _tenant_id(),
        _uuid("id"),
        _time("occurred_at"),
        sa.Column("actor_type", sa.Text, nullable=False),
        _uuid("actor_id", nullable=True),
        _uuid("on_behalf_of_admin", nullable=True),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("target_type", sa.Text),
        sa.Column("target_id", sa.Text),
        sa.Column("ip", sa.Text),
        sa.Column("user_agent", sa.Text),
        sa.Column("request_id", sa.Text),
        sa.Column("changes", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        sa.CheckConstraint(
            "actor_type IN ('user', 'api_key', 'platform_admin', 'system')",
            name="audit_events_actor_type_check",
        ),
    )
    op.create_index(
        "audit_events_newest_first_idx",
        "audit_events",
        ["tenant_id", sa.text("occurred_at DESC"), sa.text("id DESC")],
    )
    isolate_by_tenant("audit_events")
    # Append-only: the application may write an entry and read the log, never change either.
    op.execute(f"REVOKE UPDATE, DELETE ON audit_events FROM {APP_ROLE}")

    _create_directory()


def _create_directory() -> None:
    readable_by_directory("account_tokens", "user_id, token_hash")
    readable_by_directory("external_identities", "provider, subject, user_id")
    readable_by_directory("invitations", "tenant_id, id, token_hash")
    readable_by_directory("sessions", "tenant_id, id, user_id, revoked_at")
    readable_by_directory("tenants", "id, name, plan, status, created_at, updated_at, version")
    op.execute(f"GRANT SELECT (role) ON memberships TO {DIRECTORY_ROLE}")
    readable_by_directory(
        "api_keys",
        "tenant_id, id, secret_hash, scopes, allowed_origins, expires_at, revoked_at, last_used_at",
    )
    op.execute(f"GRANT UPDATE (last_used_at) ON api_keys TO {DIRECTORY_ROLE}")
    op.execute(f"CREATE POLICY directory_touch ON api_keys FOR UPDATE TO {DIRECTORY_ROLE} USING (true)")

    op.execute(f"GRANT CREATE ON SCHEMA public TO {DIRECTORY_ROLE}")
    for signature, body in DIRECTORY_FUNCTIONS.items():
        op.execute(f"CREATE FUNCTION {signature} {body}")
        op.execute(f"ALTER FUNCTION {signature} OWNER TO {DIRECTORY_ROLE}")
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {APP_ROLE}")
    op.execute(f"REVOKE CREATE ON SCHEMA public FROM {DIRECTORY_ROLE}")


def downgrade() -> None:
    for signature in DIRECTORY_FUNCTIONS:
        op.execute(f"DROP FUNCTION {signature}")
    op.execute("DROP POLICY directory_lookup ON tenants")
    op.execute(f"REVOKE SELECT ON tenants FROM {DIRECTORY_ROLE}")  # and every column grant with it
    op.execute(f"REVOKE SELECT (role) ON memberships FROM {DIRECTORY_ROLE}")
    for table in (
        "audit_events",
        "api_keys",
        "invitations",
        "external_identities",
        "account_tokens",
        "recovery_codes",
        "mfa_factors",
        "sessions",
    ):
        op.drop_table(table)
    op.execute(f"REVOKE SELECT (email_verified_at) ON users FROM {APP_ROLE}")
    op.alter_column("users", "password_hash", nullable=False)
    op.drop_column("users", "email_verified_at")
    op.drop_index("tenants_newest_first_idx", "tenants")
    op.drop_constraint("tenants_status_check", "tenants")
    op.drop_column("tenants", "status")
