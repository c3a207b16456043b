"""Knowledge base files of voice agents.

Revision ID: 0017
Revises: 0016

One row per document an agent may consult: what it is (its type decided by its content), where
its bytes are kept (``storage_key`` in the file storage), its extracted text, and where the voice
platform's copy is once it has one. No ON DELETE on the agent's key: an agent is deleted after
its files (the use case forgets them first, so their stored objects and the platform's copies are
removed too, never silently left behind by a cascade).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from switchboard.migrations.rls import isolate_by_tenant

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "knowledge_files",
        sa.Column(
            "tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("agent_id", UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("media_type", sa.Text, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("storage_key", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("extracted_text", sa.Text, nullable=False),
        sa.Column("text_length", sa.Integer, nullable=False),
        sa.Column("text_truncated", sa.Boolean, nullable=False),
        sa.Column("provider", sa.Text),
        sa.Column("integration_id", UUID(as_uuid=True)),
        sa.Column("provider_file_id", sa.Text),
        sa.Column("sync_error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        sa.UniqueConstraint("tenant_id", "agent_id", "sha256", name="knowledge_files_sha256_key"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "agent_id"],
            ["voice_agents.tenant_id", "voice_agents.id"],
            name="knowledge_files_agent_fkey",
        ),
        sa.CheckConstraint(
            "media_type IN ('application/pdf', "
            "'application/vnd.openxmlformats-officedocument.wordprocessingml.document', "
            "'text/plain', 'text/markdown')",
            name="knowledge_files_media_type_check",
        ),
        sa.CheckConstraint(
            "status IN ('processing', 'ready', 'failed')", name="knowledge_files_status_check"
        ),
        sa.CheckConstraint(
            "size_bytes > 0 AND text_length >= 0 AND text_length = char_length(extracted_text)",
            name="knowledge_files_sizes_check",
        ),
    )
    op.create_index(
        "knowledge_files_by_agent_idx",
        "knowledge_files",
        ["tenant_id", "agent_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    isolate_by_tenant("knowledge_files")


def downgrade() -> None:
    op.drop_table("knowledge_files")  # its policies, grants, indexes and constraints go with it
