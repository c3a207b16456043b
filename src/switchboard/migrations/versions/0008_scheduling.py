"""Resources, working hours, overrides and appointments.

Revision ID: 0008
Revises: 0007

Double booking is refused by the booking transaction itself (the resource's row is locked, then
the overlap is checked): that holds on every server. Where the server also offers btree_gist,
this revision installs it and adds the exclusion constraint ``appointments_no_overlap``, so the
database refuses an overlap even from a writer that skipped the lock. The embedded server has no
btree_gist: there the constraint is simply not made (docs/scheduling.md).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from switchboard.migrations.rls import APP_ROLE, DIRECTORY_ROLE, isolate_by_tenant, readable_by_directory

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Set on btree_gist when this revision installed it, so the downgrade removes only its own.
EXTENSION_MARK = "switchboard 0008: for appointments_no_overlap"

FEED_LOOKUP = "directory_find_calendar_feed(text)"
FEED_LOOKUP_BODY = """
    RETURNS TABLE (tenant_id uuid, resource_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
      SELECT f.tenant_id, f.resource_id
      FROM public.calendar_feeds f JOIN public.tenants t ON t.id = f.tenant_id
      WHERE f.token_hash = $1 AND t.status = 'active'
    $$"""

NO_OVERLAP = f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'btree_gist')
     AND EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'btree_gist') THEN
    BEGIN
      CREATE EXTENSION btree_gist;
      COMMENT ON EXTENSION btree_gist IS '{EXTENSION_MARK}';
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'btree_gist offered but not installable: the resource lock alone refuses overlaps';
    END;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'btree_gist') THEN
    ALTER TABLE appointments ADD CONSTRAINT appointments_no_overlap EXCLUDE USING gist (
      tenant_id WITH =,
      resource_id WITH =,
      tstzrange(blocked_from, blocked_until, '[)') WITH &&
    ) WHERE (status <> 'cancelled');
  END IF;
END
$$"""

DROP_OWN_EXTENSION = f"""
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension e WHERE e.extname = 'btree_gist'
             AND obj_description(e.oid, 'pg_extension') = '{EXTENSION_MARK}') THEN
    DROP EXTENSION btree_gist;
  END IF;
EXCEPTION WHEN dependent_objects_still_exist THEN
  RAISE NOTICE 'btree_gist is kept: other objects use it now';
END
$$"""


def _uuid(name: str) -> sa.Column:
    return sa.Column(name, UUID(as_uuid=True), nullable=False)


def _time(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _tenant_id() -> sa.Column:
    return sa.Column(
        "tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )


def _resource_fkey(name: str, ondelete: str | None) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", "resource_id"], ["resources.tenant_id", "resources.id"], ondelete=ondelete, name=name
    )


def upgrade() -> None:
    op.create_table(
        "resources",
        _tenant_id(),
        _uuid("id"),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("time_zone", sa.Text, nullable=False),
        sa.Column("buffer_before", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("buffer_after", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("working_hours", JSONB, nullable=False),
        _time("created_at"),
        _time("updated_at"),
        sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        sa.CheckConstraint("kind IN ('staff', 'room', 'vehicle')", name="resources_kind_check"),
        sa.CheckConstraint(
            "buffer_before BETWEEN 0 AND 1440 AND buffer_after BETWEEN 0 AND 1440",
            name="resources_buffers_check",
        ),
    )
    op.create_index(
        "resources_newest_first_idx",
        "resources",
        ["tenant_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    isolate_by_tenant("resources")

    op.create_table(
        "resource_overrides",
        _uuid("tenant_id"),
        _uuid("resource_id"),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("intervals", JSONB, nullable=False),
        sa.Column("reason", sa.Text),
        _time("created_at"),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", "resource_id", "day"),
        _resource_fkey("resource_overrides_resource_fkey", "CASCADE"),
    )
    isolate_by_tenant("resource_overrides")

    op.create_table(
        "appointments",
        _tenant_id(),
        _uuid("id"),
        _uuid("resource_id"),
        _uuid("customer_id"),
        sa.Column("service", sa.Text, nullable=False),
        _time("starts_at"),
        _time("ends_at"),
        _time("blocked_from"),
        _time("blocked_until"),
        sa.Column("location", sa.Text),
        sa.Column("notes", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        _time("created_at"),
        _time("updated_at"),
        sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        _resource_fkey("appointments_resource_fkey", None),
        sa.CheckConstraint(
            "status IN ('scheduled', 'confirmed', 'completed', 'cancelled', 'no_show')",
            name="appointments_status_check",
        ),
        sa.CheckConstraint(
            "starts_at < ends_at AND blocked_from <= starts_at AND ends_at <= blocked_until",
            name="appointments_times_check",
        ),
    )
    op.create_index(
        "appointments_newest_first_idx",
        "appointments",
        ["tenant_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    op.create_index(
        "appointments_by_resource_idx", "appointments", ["tenant_id", "resource_id", "blocked_until"]
    )
    op.create_index(
        "appointments_by_customer_idx",
        "appointments",
        ["tenant_id", "customer_id", sa.text("starts_at DESC"), sa.text("id DESC")],
    )
    isolate_by_tenant("appointments")
    op.execute(NO_OVERLAP)

    op.create_table(
        "calendar_feeds",
        _uuid("tenant_id"),
        _uuid("resource_id"),
        sa.Column("token_hash", sa.Text, nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "resource_id"),
        sa.UniqueConstraint("tenant_id", "token_hash", name="calendar_feeds_tenant_id_token_hash_key"),
        _resource_fkey("calendar_feeds_resource_fkey", "CASCADE"),
    )
    op.create_index("calendar_feeds_token_hash_idx", "calendar_feeds", ["token_hash"])
    isolate_by_tenant("calendar_feeds")

    # The public feed address names no tenant: one directory lookup finds it by the token's hash.
    readable_by_directory("calendar_feeds", "tenant_id, resource_id, token_hash")
    op.execute(f"GRANT CREATE ON SCHEMA public TO {DIRECTORY_ROLE}")
    op.execute(f"CREATE FUNCTION {FEED_LOOKUP} {FEED_LOOKUP_BODY}")
    op.execute(f"ALTER FUNCTION {FEED_LOOKUP} OWNER TO {DIRECTORY_ROLE}")
    op.execute(f"REVOKE ALL ON FUNCTION {FEED_LOOKUP} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {FEED_LOOKUP} TO {APP_ROLE}")
    op.execute(f"REVOKE CREATE ON SCHEMA public FROM {DIRECTORY_ROLE}")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {FEED_LOOKUP}")
    for table in ("calendar_feeds", "appointments", "resource_overrides", "resources"):
        op.drop_table(table)  # its policies, grants, indexes and constraints go with it
    op.execute(DROP_OWN_EXTENSION)
