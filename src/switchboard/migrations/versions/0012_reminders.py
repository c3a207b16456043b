"""Tenant reminder settings: which reminders go out and when.

Revision ID: 0012
Revises: 0011

One row per tenant (none: the defaults apply). The reminders themselves are outbox jobs of kind
``reminder.send`` due when the reminder is; no table of their own.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from switchboard.migrations.rls import isolate_by_tenant

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reminder_settings",
        sa.Column(
            "tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("appointment_confirmation", sa.Boolean, nullable=False),
        sa.Column("appointment_reminder", sa.Boolean, nullable=False),
        sa.Column("appointment_reminder_hours", sa.Integer, nullable=False),
        sa.Column("quote_follow_up", sa.Boolean, nullable=False),
        sa.Column("quote_follow_up_days", sa.Integer, nullable=False),
        sa.Column("invoice_overdue", sa.Boolean, nullable=False),
        sa.Column("invoice_overdue_days", sa.Integer, nullable=False),
        sa.Column("invoice_overdue_repeat_days", sa.Integer, nullable=False),
        sa.Column("invoice_overdue_max", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id"),
    )
    isolate_by_tenant("reminder_settings")


def downgrade() -> None:
    op.drop_table("reminder_settings")
