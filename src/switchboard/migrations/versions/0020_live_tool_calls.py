"""Voice agents in the audit log: what a tenant's agent did during a call, and in which call.

A business tool run during a live call is audited as the agent (actor type ``voice_agent``, the
agent's id) and names the call (``call_id``). Tool results are kept for replay in
``idempotency_keys``, so no table of their own is needed.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

ACTOR_TYPES_BEFORE = "actor_type IN ('user', 'api_key', 'platform_admin', 'system', 'customer')"
ACTOR_TYPES = "actor_type IN ('user', 'api_key', 'platform_admin', 'system', 'customer', 'voice_agent')"


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("call_id", UUID(as_uuid=True), nullable=True))
    op.drop_constraint("audit_events_actor_type_check", "audit_events")
    op.create_check_constraint("audit_events_actor_type_check", "audit_events", ACTOR_TYPES)


def downgrade() -> None:
    # Agents' entries stay in the log, attributed to the system (the owner must step past the
    # forced row-level security to reach every tenant's entries).
    op.execute("ALTER TABLE audit_events NO FORCE ROW LEVEL SECURITY")
    op.execute("UPDATE audit_events SET actor_type = 'system' WHERE actor_type = 'voice_agent'")
    op.execute("ALTER TABLE audit_events FORCE ROW LEVEL SECURITY")
    op.drop_constraint("audit_events_actor_type_check", "audit_events")
    op.create_check_constraint("audit_events_actor_type_check", "audit_events", ACTOR_TYPES_BEFORE)
    op.drop_column("audit_events", "call_id")
