"""Outbound webhooks: tenants' endpoints and the log of every delivery attempt.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from switchboard.migrations.rls import APP_ROLE, isolate_by_tenant

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _tenant() -> sa.Column:
    return sa.Column(
        "tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        _tenant(),
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("event_types", ARRAY(sa.Text), nullable=False),
        sa.Column("sealed_secret", sa.LargeBinary, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
    )
    op.create_index(
        "webhook_endpoints_newest_first_idx",
        "webhook_endpoints",
        ["tenant_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    isolate_by_tenant("webhook_endpoints")

    op.create_table(
        "webhook_deliveries",
        _tenant(),
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("endpoint_id", UUID(as_uuid=True), nullable=False),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("status_code", sa.SmallInteger),
        sa.Column("error", sa.Text),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
    )
    op.create_index(
        "webhook_deliveries_by_endpoint_idx",
        "webhook_deliveries",
        ["tenant_id", "endpoint_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    isolate_by_tenant("webhook_deliveries")
    op.execute(f"REVOKE UPDATE, DELETE ON webhook_deliveries FROM {APP_ROLE}")


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
