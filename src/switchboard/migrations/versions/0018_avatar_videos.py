"""Avatar videos generated through the tenant's avatar_video provider.

Revision ID: 0018
Revises: 0017

``avatar_videos`` is each tenant's video history; ``avatar_catalogs`` is each tenant's cached
copy of its provider's avatars and voices, in a table so that every process shares it
(docs/avatar-videos.md).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from switchboard.migrations.rls import isolate_by_tenant

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def _uuid(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, UUID(as_uuid=True), nullable=nullable)


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    # No foreign key to the integration: a video's record outlives its connection.
    op.create_table(
        "avatar_videos",
        sa.Column(
            "tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        _uuid("id"),
        _uuid("integration_id"),
        sa.Column("provider", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("script", sa.Text, nullable=False),
        sa.Column("avatar_id", sa.Text, nullable=False),
        sa.Column("voice_id", sa.Text, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("request_key", sa.Text),
        sa.Column("provider_video_id", sa.Text),
        sa.Column("video_url", sa.Text),
        sa.Column("thumbnail_url", sa.Text),
        sa.Column("duration_ms", sa.Integer),
        sa.Column("error", sa.Text),
        _time("created_at"),
        _time("updated_at"),
        _time("finished_at", nullable=True),
        sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        sa.UniqueConstraint("tenant_id", "request_key", name="avatar_videos_request_key_key"),
        sa.UniqueConstraint(
            "tenant_id", "provider", "provider_video_id", name="avatar_videos_provider_video_id_key"
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'processing', 'completed', 'failed')", name="avatar_videos_status_check"
        ),
        sa.CheckConstraint("char_length(script) BETWEEN 1 AND 5000", name="avatar_videos_script_check"),
        sa.CheckConstraint("width > 0 AND height > 0", name="avatar_videos_dimension_check"),
        sa.CheckConstraint(
            "(status IN ('completed', 'failed')) = (finished_at IS NOT NULL)",
            name="avatar_videos_finished_check",
        ),
    )
    op.create_index(
        "avatar_videos_newest_first_idx",
        "avatar_videos",
        ["tenant_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    op.create_index(
        "avatar_videos_by_status_idx",
        "avatar_videos",
        ["tenant_id", "status", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    isolate_by_tenant("avatar_videos")

    op.create_table(
        "avatar_catalogs",
        sa.Column(
            "tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("kind", sa.Text, nullable=False),
        _uuid("integration_id"),
        _time("fetched_at"),
        sa.Column("items", JSONB, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "kind"),
        sa.CheckConstraint("kind IN ('avatars', 'voices')", name="avatar_catalogs_kind_check"),
    )
    isolate_by_tenant("avatar_catalogs")


def downgrade() -> None:
    for table in ("avatar_catalogs", "avatar_videos"):
        op.drop_table(table)  # its policies, grants, indexes and constraints go with it
