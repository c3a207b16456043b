"""Plans, feature-flag overrides and their change log, and platform admins.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from switchboard.migrations.rls import (
    APP_ROLE,
    DIRECTORY_ROLE,
    enable_rls,
    isolate_by_tenant,
    readable_by_directory,
)

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("plan", sa.Text, nullable=False, server_default=sa.text("'free'")))
    op.create_check_constraint("tenants_plan_check", "tenants", "plan IN ('free', 'pro')")

    op.create_table(
        "feature_flag_overrides",
        sa.Column(
            "tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "key"),
    )
    isolate_by_tenant("feature_flag_overrides")

    op.create_table(
        "feature_flag_changes",
        sa.Column(
            "tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("old_value", sa.Boolean),
        sa.Column("new_value", sa.Boolean),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
    )
    op.create_index(
        "feature_flag_changes_newest_first_idx",
        "feature_flag_changes",
        ["tenant_id", sa.text("changed_at DESC")],
    )
    isolate_by_tenant("feature_flag_changes")
    op.execute(f"REVOKE UPDATE, DELETE ON feature_flag_changes FROM {APP_ROLE}")

    op.create_table(
        "platform_admins",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("email", sa.Text, nullable=False, unique=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    # No grant to the application role at all. The owner (who runs `switchboard admin create`)
    # may manage the table; sign-in reads it through the directory function below.
    enable_rls("platform_admins")
    op.execute(
        "CREATE POLICY owner_manages ON platform_admins TO CURRENT_USER USING (true) WITH CHECK (true)"
    )
    readable_by_directory("platform_admins", "id, email, password_hash")
    op.execute(
        """
        CREATE FUNCTION directory_find_admin(p_email text)
        RETURNS TABLE (admin_id uuid, password_hash text)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        AS $$ SELECT a.id, a.password_hash FROM public.platform_admins a WHERE a.email = p_email $$
        """
    )
    op.execute(f"GRANT CREATE ON SCHEMA public TO {DIRECTORY_ROLE}")
    op.execute(f"ALTER FUNCTION directory_find_admin(text) OWNER TO {DIRECTORY_ROLE}")
    op.execute(f"REVOKE CREATE ON SCHEMA public FROM {DIRECTORY_ROLE}")
    op.execute("REVOKE ALL ON FUNCTION directory_find_admin(text) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION directory_find_admin(text) TO {APP_ROLE}")


def downgrade() -> None:
    op.execute("DROP FUNCTION directory_find_admin(text)")
    op.drop_table("platform_admins")
    op.drop_table("feature_flag_changes")
    op.drop_table("feature_flag_overrides")
    op.drop_constraint("tenants_plan_check", "tenants")
    op.drop_column("tenants", "plan")
