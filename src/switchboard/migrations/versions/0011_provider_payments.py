"""Payments taken and refunds given through a payments provider (Stripe).

Revision ID: 0011
Revises: 0010

``provider_payments`` marks which recorded payments were taken through a provider, by the
provider's id for them, so their refunds go back through it. ``provider_refunds`` holds the
refunds asked of a provider: a pending one keeps its amount reserved against its payment until
the provider settles it (succeeded: recorded as a refund in ``payments``; failed: released).
Both are tenant tables under row-level security, with tenant_id leading every key.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from switchboard.migrations.rls import isolate_by_tenant

revision = "0011"
down_revision = "0010"
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
        "provider_payments",
        _tenant_id(),
        _uuid("payment_id"),
        _uuid("invoice_id"),
        sa.Column("provider", sa.Text, nullable=False),
        sa.Column("provider_payment_id", sa.Text, nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "payment_id"),
        sa.UniqueConstraint(
            "tenant_id", "provider", "provider_payment_id", name="provider_payments_provider_payment_id_key"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "payment_id"],
            ["payments.tenant_id", "payments.id"],
            name="provider_payments_payment_fkey",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "invoice_id"],
            ["invoices.tenant_id", "invoices.id"],
            name="provider_payments_invoice_fkey",
        ),
    )
    isolate_by_tenant("provider_payments")

    op.create_table(
        "provider_refunds",
        _tenant_id(),
        _uuid("id"),
        _uuid("invoice_id"),
        _uuid("payment_id"),
        sa.Column("provider", sa.Text, nullable=False),
        sa.Column("provider_payment_id", sa.Text, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("provider_refund_id", sa.Text),
        _uuid("refund_payment_id", nullable=True),
        sa.Column("failure_reason", sa.Text),
        _time("created_at"),
        _time("updated_at"),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        sa.UniqueConstraint(
            "tenant_id", "provider_refund_id", name="provider_refunds_provider_refund_id_key"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "invoice_id"],
            ["invoices.tenant_id", "invoices.id"],
            name="provider_refunds_invoice_fkey",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "payment_id"],
            ["payments.tenant_id", "payments.id"],
            name="provider_refunds_payment_fkey",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "refund_payment_id"],
            ["payments.tenant_id", "payments.id"],
            name="provider_refunds_refund_payment_fkey",
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed')", name="provider_refunds_status_check"
        ),
        sa.CheckConstraint("amount > 0", name="provider_refunds_amount_check"),
        sa.CheckConstraint(
            "(status = 'succeeded') = (refund_payment_id IS NOT NULL)", name="provider_refunds_settled_check"
        ),
    )
    op.create_index(
        "provider_refunds_by_invoice_idx", "provider_refunds", ["tenant_id", "invoice_id", "created_at"]
    )
    isolate_by_tenant("provider_refunds")


def downgrade() -> None:
    op.drop_table("provider_refunds")
    op.drop_table("provider_payments")
