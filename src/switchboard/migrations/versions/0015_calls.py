"""Calls: status, transcript, analysis, costs, recording address, feedback.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from switchboard.migrations.rls import isolate_by_tenant

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

COST_COLUMNS = ("transport", "speech_to_text", "model", "text_to_speech", "platform", "total")


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _newest_first(name: str, *leading: str) -> None:
    op.create_index(name, "calls", ["tenant_id", *leading, sa.text("created_at DESC"), sa.text("id DESC")])


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column(
            "tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("integration_id", UUID(as_uuid=True), nullable=False),
        sa.Column("provider_call_id", sa.Text),
        sa.Column("direction", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("ended_reason", sa.Text),
        sa.Column("agent_id", UUID(as_uuid=True)),
        sa.Column("customer_id", UUID(as_uuid=True)),
        sa.Column("business_number", sa.Text),
        sa.Column("customer_number", sa.Text),
        _time("scheduled_at", nullable=True),
        _time("started_at", nullable=True),
        _time("ended_at", nullable=True),
        sa.Column("duration_seconds", sa.Integer),
        sa.Column("transcript", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("summary", sa.Text),
        sa.Column("structured_data", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("success", sa.Boolean),
        sa.Column("sentiment", sa.Text),
        sa.Column("cost_currency", sa.Text),
        *(
            sa.Column(f"cost_{name}", sa.BigInteger, nullable=False, server_default=sa.text("0"))
            for name in COST_COLUMNS
        ),
        sa.Column("recording_url", sa.Text),
        sa.Column("feedback_rating", sa.SmallInteger),
        sa.Column("feedback_comment", sa.Text),
        sa.Column("feedback_by", UUID(as_uuid=True)),
        _time("feedback_at", nullable=True),
        _time("created_at"),
        _time("updated_at"),
        sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        sa.UniqueConstraint(
            "tenant_id", "integration_id", "provider_call_id", name="calls_tenant_id_provider_call_id_key"
        ),
        sa.CheckConstraint("direction IN ('inbound', 'outbound')", name="calls_direction_check"),
        sa.CheckConstraint(
            "status IN ('scheduled', 'queued', 'ringing', 'in_progress', 'forwarding', 'ended')",
            name="calls_status_check",
        ),
        sa.CheckConstraint("sentiment IN ('positive', 'neutral', 'negative')", name="calls_sentiment_check"),
        sa.CheckConstraint("feedback_rating BETWEEN 1 AND 5", name="calls_feedback_rating_check"),
        sa.CheckConstraint(
            "cost_transport >= 0 AND cost_speech_to_text >= 0 AND cost_model >= 0 "
            "AND cost_text_to_speech >= 0 AND cost_platform >= 0 AND cost_total >= 0",
            name="calls_cost_check",
        ),
        sa.CheckConstraint("duration_seconds >= 0", name="calls_duration_check"),
    )
    _newest_first("calls_newest_first_idx")
    _newest_first("calls_by_status_idx", "status")
    _newest_first("calls_by_agent_idx", "agent_id")
    _newest_first("calls_by_customer_idx", "customer_id")
    op.create_index("calls_by_start_idx", "calls", ["tenant_id", "started_at"])
    isolate_by_tenant("calls")

    op.create_index("customers_by_phone_idx", "customers", ["tenant_id", "phone"])


def downgrade() -> None:
    op.drop_index("customers_by_phone_idx", table_name="customers")
    op.drop_table("calls")  # its policy, grants, indexes and constraints go with it
