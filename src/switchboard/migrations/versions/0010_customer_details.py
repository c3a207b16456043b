"""Customer addresses, tags, notes and preferred contact channel.

Also an index on the audit log by target, which a customer's timeline reads for the customer's
own history. Existing customers get no addresses, no tags, no notes and channel ``none``.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "customers", sa.Column("addresses", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb"))
    )
    op.add_column(
        "customers",
        sa.Column("tags", ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'::text[]")),
    )
    op.add_column("customers", sa.Column("notes", sa.Text))
    op.add_column(
        "customers",
        sa.Column("preferred_channel", sa.Text, nullable=False, server_default=sa.text("'none'")),
    )
    op.create_check_constraint(
        "customers_preferred_channel_check",
        "customers",
        "preferred_channel IN ('phone', 'sms', 'email', 'none')",
    )
    # Filtering a tenant's customers by tag (?tag=): row-level security adds the tenant.
    op.create_index("customers_tags_idx", "customers", ["tags"], postgresql_using="gin")
    op.create_index(
        "audit_events_by_target_idx",
        "audit_events",
        ["tenant_id", "target_type", "target_id", sa.text("occurred_at DESC"), sa.text("id DESC")],
    )


def downgrade() -> None:
    op.drop_index("audit_events_by_target_idx", table_name="audit_events")
    op.drop_index("customers_tags_idx", table_name="customers")
    op.drop_constraint("customers_preferred_channel_check", "customers", type_="check")
    for column in ("preferred_channel", "notes", "tags", "addresses"):
        op.drop_column("customers", column)
