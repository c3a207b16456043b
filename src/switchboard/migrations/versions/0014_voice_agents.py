"""Voice agents, their versions and the tenant's phone numbers.

Revision ID: 0014
Revises: 0013

An agent row holds its current settings and where it stands at the voice platform; each version
is an immutable copy of the settings, numbered per agent. A phone number names the agent that
answers it; the agent cannot be deleted while a number still does (the use case unassigns first).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from switchboard.migrations.rls import isolate_by_tenant

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _uuid(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, UUID(as_uuid=True), nullable=nullable)


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Text, nullable=nullable)


def _tenant_id() -> sa.Column:
    return sa.Column(
        "tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )


def _settings() -> list[sa.Column]:
    return [
        _text("name"),
        _text("voice_provider"),
        _text("voice_id"),
        _text("model_provider"),
        _text("model"),
        _text("system_prompt"),
        _text("first_message", nullable=True),
        sa.Column("tools", ARRAY(sa.Text), nullable=False),
    ]


def _newest_first(table: str) -> None:
    op.create_index(
        f"{table}_newest_first_idx", table, ["tenant_id", sa.text("created_at DESC"), sa.text("id DESC")]
    )


def upgrade() -> None:
    op.create_table(
        "voice_agents",
        _tenant_id(),
        _uuid("id"),
        *_settings(),
        sa.Column("current_version", sa.Integer, nullable=False),
        sa.Column("published_version", sa.Integer),
        _text("provider_agent_id", nullable=True),
        _text("sync_status", nullable=True),
        _text("sync_error", nullable=True),
        _time("synced_at", nullable=True),
        _time("created_at"),
        _time("updated_at"),
        sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        sa.UniqueConstraint("tenant_id", "provider_agent_id", name="voice_agents_provider_agent_id_key"),
        sa.CheckConstraint(
            "sync_status IN ('pending', 'synced', 'failed')", name="voice_agents_sync_status_check"
        ),
        sa.CheckConstraint(
            "current_version >= 1 AND published_version BETWEEN 1 AND current_version",
            name="voice_agents_versions_check",
        ),
    )
    _newest_first("voice_agents")
    isolate_by_tenant("voice_agents")

    op.create_table(
        "agent_versions",
        _uuid("tenant_id"),
        _uuid("id"),
        _uuid("agent_id"),
        sa.Column("number", sa.Integer, nullable=False),
        *_settings(),
        _uuid("created_by", nullable=True),
        _text("note", nullable=True),
        _time("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        sa.UniqueConstraint("tenant_id", "agent_id", "number", name="agent_versions_number_key"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "agent_id"],
            ["voice_agents.tenant_id", "voice_agents.id"],
            ondelete="CASCADE",
            name="agent_versions_agent_fkey",
        ),
        sa.CheckConstraint("number >= 1", name="agent_versions_number_check"),
    )
    isolate_by_tenant("agent_versions")

    op.create_table(
        "phone_numbers",
        _tenant_id(),
        _uuid("id"),
        _uuid("integration_id"),
        _text("provider_id"),
        _text("number"),
        _text("name", nullable=True),
        _uuid("agent_id", nullable=True),
        _time("created_at"),
        _time("updated_at"),
        sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        sa.UniqueConstraint("tenant_id", "number", name="phone_numbers_number_key"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "integration_id"],
            ["integrations.tenant_id", "integrations.id"],
            ondelete="CASCADE",
            name="phone_numbers_integration_fkey",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "agent_id"],
            ["voice_agents.tenant_id", "voice_agents.id"],
            name="phone_numbers_agent_fkey",
        ),
    )
    _newest_first("phone_numbers")
    op.create_index("phone_numbers_by_agent_idx", "phone_numbers", ["tenant_id", "agent_id"])
    isolate_by_tenant("phone_numbers")


def downgrade() -> None:
    for table in ("phone_numbers", "agent_versions", "voice_agents"):
        op.drop_table(table)  # its policies, grants, indexes and constraints go with it
