"""Two-way SMS: messages sent and received, and customers' opt-outs.

Revision ID: 0016
Revises: 0015

``sms_messages`` holds every text to or from a tenant's customers: an outbound one from queued
to sent, delivered, failed or blocked; an inbound one received. A provider's id for a message is
unique per tenant and provider, so a repeated delivery of the same message is stored once.
``sms_opt_outs`` holds, per tenant, the numbers that texted an opt-out keyword: at most one row
per number, removed when the number opts back in (the audit log keeps the history). Both are
tenant tables under row-level security, with tenant_id leading every key.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from switchboard.migrations.rls import isolate_by_tenant

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def _uuid(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, UUID(as_uuid=True), nullable=nullable)


def _time(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _tenant_id() -> sa.Column:
    return sa.Column(
        "tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "sms_messages",
        _tenant_id(),
        _uuid("id"),
        _uuid("customer_id", nullable=True),
        sa.Column("direction", sa.Text, nullable=False),
        sa.Column("from_number", sa.Text),
        sa.Column("to_number", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("provider", sa.Text),
        sa.Column("provider_message_id", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("sender_type", sa.Text),
        _uuid("sender_id", nullable=True),
        _time("created_at"),
        _time("updated_at"),
        sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        sa.UniqueConstraint(
            "tenant_id", "provider", "provider_message_id", name="sms_messages_provider_message_id_key"
        ),
        sa.CheckConstraint("direction IN ('outbound', 'inbound')", name="sms_messages_direction_check"),
        sa.CheckConstraint(
            "status IN ('queued', 'sent', 'delivered', 'failed', 'received', 'blocked')",
            name="sms_messages_status_check",
        ),
        sa.CheckConstraint(
            "(direction = 'inbound') = (status = 'received')", name="sms_messages_received_check"
        ),
        sa.CheckConstraint(
            "sender_type IN ('user', 'api_key', 'system')", name="sms_messages_sender_type_check"
        ),
        sa.CheckConstraint(
            "(direction = 'inbound') = (sender_type IS NULL)", name="sms_messages_sender_check"
        ),
        sa.CheckConstraint(
            "direction = 'inbound' OR char_length(body) BETWEEN 1 AND 1600", name="sms_messages_body_check"
        ),
    )
    op.create_index(
        "sms_messages_newest_first_idx",
        "sms_messages",
        ["tenant_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    op.create_index(
        "sms_messages_by_customer_idx",
        "sms_messages",
        ["tenant_id", "customer_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    isolate_by_tenant("sms_messages")

    op.create_table(
        "sms_opt_outs",
        _tenant_id(),
        _uuid("id"),
        sa.Column("phone", sa.Text, nullable=False),
        sa.Column("keyword", sa.Text, nullable=False),
        _time("opted_out_at"),
        _uuid("customer_id", nullable=True),
        _uuid("message_id", nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        sa.UniqueConstraint("tenant_id", "phone", name="sms_opt_outs_tenant_id_phone_key"),
    )
    op.create_index(
        "sms_opt_outs_newest_first_idx",
        "sms_opt_outs",
        ["tenant_id", sa.text("opted_out_at DESC"), sa.text("id DESC")],
    )
    isolate_by_tenant("sms_opt_outs")


def downgrade() -> None:
    op.drop_table("sms_opt_outs")  # its policy, grants, indexes and constraints go with it
    op.drop_table("sms_messages")
