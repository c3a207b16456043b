"""Revenue attribution: a customer's answered calls, by the time a call is on.

The costs report attributes each payment to its customer's latest answered call at or before
it (adapters/postgres/analytics.py). Without this index each payment read and sorted every call
of its customer; with it, one index entry per payment, read backwards from the payment's time.
The time is written as CASE, the same expression as the query's: under row-level security
PostgreSQL uses a CASE as an index condition, but not a COALESCE (not counted as leakproof).

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

CALL_AT = "(CASE WHEN started_at IS NULL THEN created_at ELSE started_at END)"
ANSWERED = "status IN ('forwarding', 'in_progress') OR COALESCE(duration_seconds, 0) > 0"


def upgrade() -> None:
    op.create_index(
        "calls_answered_by_customer_idx",
        "calls",
        ["tenant_id", "customer_id", sa.text(CALL_AT), "id"],  # read backwards: latest first
        postgresql_where=sa.text(ANSWERED),
    )


def downgrade() -> None:
    op.drop_index("calls_answered_by_customer_idx", table_name="calls")
