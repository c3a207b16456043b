"""Integrations: a tenant's connections to providers, with sealed configuration.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from switchboard.migrations.rls import isolate_by_tenant

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "integrations",
        sa.Column(
            "tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("provider", sa.Text, nullable=False),
        sa.Column("capability", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("sealed_config", sa.LargeBinary, nullable=False),
        sa.Column("secret_fields", ARRAY(sa.Text), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
    )
    op.create_index(
        "integrations_one_enabled_per_capability",
        "integrations",
        ["tenant_id", "capability"],
        unique=True,
        postgresql_where=sa.text("enabled"),
    )
    op.create_index(
        "integrations_newest_first_idx",
        "integrations",
        ["tenant_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    isolate_by_tenant("integrations")


def downgrade() -> None:
    op.drop_table("integrations")
