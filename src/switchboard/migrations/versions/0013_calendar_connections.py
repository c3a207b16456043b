"""Connected calendars: resources linked to calendars, their busy events, the events pushed.

Revision ID: 0013
Revises: 0012

A tenant's calendar account is an integration (capability ``calendar``) whose sealed
configuration holds the OAuth tokens; these tables hold what the resources do with it
(docs/calendars.md).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from switchboard.migrations.rls import isolate_by_tenant

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _uuid(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, UUID(as_uuid=True), nullable=nullable)


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _integration_fkey(name: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", "integration_id"],
        ["integrations.tenant_id", "integrations.id"],
        ondelete="CASCADE",
        name=name,
    )


def upgrade() -> None:
    op.create_table(
        "resource_calendars",
        _uuid("tenant_id"),
        _uuid("resource_id"),
        _uuid("integration_id"),
        sa.Column("calendar_id", sa.Text, nullable=False),
        sa.Column("sync_token", sa.Text),
        _time("synced_at", nullable=True),
        _uuid("sync_job_id", nullable=True),
        _time("created_at"),
        _time("updated_at"),
        sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.PrimaryKeyConstraint("tenant_id", "resource_id"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "resource_id"],
            ["resources.tenant_id", "resources.id"],
            ondelete="CASCADE",
            name="resource_calendars_resource_fkey",
        ),
        _integration_fkey("resource_calendars_integration_fkey"),
    )
    op.create_index(
        "resource_calendars_by_integration_idx", "resource_calendars", ["tenant_id", "integration_id"]
    )
    isolate_by_tenant("resource_calendars")

    op.create_table(
        "calendar_busy_events",
        _uuid("tenant_id"),
        _uuid("resource_id"),
        sa.Column("event_id", sa.Text, nullable=False),
        _time("starts_at"),
        _time("ends_at"),
        sa.PrimaryKeyConstraint("tenant_id", "resource_id", "event_id"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "resource_id"],
            ["resource_calendars.tenant_id", "resource_calendars.resource_id"],
            ondelete="CASCADE",
            name="calendar_busy_events_link_fkey",
        ),
        sa.CheckConstraint("starts_at < ends_at", name="calendar_busy_events_times_check"),
    )
    op.create_index(
        "calendar_busy_events_by_end_idx", "calendar_busy_events", ["tenant_id", "resource_id", "ends_at"]
    )
    isolate_by_tenant("calendar_busy_events")

    op.create_table(
        "calendar_event_links",
        _uuid("tenant_id"),
        _uuid("appointment_id"),
        _uuid("integration_id"),
        sa.Column("calendar_id", sa.Text, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        _time("starts_at"),
        _time("ends_at"),
        sa.Column("appointment_version", sa.Integer, nullable=False),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", "appointment_id"),
        _integration_fkey("calendar_event_links_integration_fkey"),
    )
    op.create_index(
        "calendar_event_links_by_calendar_idx",
        "calendar_event_links",
        ["tenant_id", "integration_id", "calendar_id", "ends_at"],
    )
    isolate_by_tenant("calendar_event_links")


def downgrade() -> None:
    for table in ("calendar_event_links", "calendar_busy_events", "resource_calendars"):
        op.drop_table(table)  # its policies, grants, indexes and constraints go with it
