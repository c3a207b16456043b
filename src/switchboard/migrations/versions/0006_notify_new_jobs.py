"""Wake the workers when work arrives, instead of polling for it.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

CHANNEL = "switchboard_jobs"


def upgrade() -> None:
    # NOTIFY is delivered at commit, so a worker never wakes for a row it cannot see yet.
    op.execute(
        f"""
        CREATE FUNCTION notify_new_jobs() RETURNS trigger
        LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
        AS $$ BEGIN PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME); RETURN NULL; END $$
        """
    )
    for table in ("outbox", "webhook_events"):
        op.execute(
            f"CREATE TRIGGER {table}_notify AFTER INSERT ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION notify_new_jobs()"
        )


def downgrade() -> None:
    for table in ("outbox", "webhook_events"):
        op.execute(f"DROP TRIGGER {table}_notify ON {table}")
    op.execute("DROP FUNCTION notify_new_jobs()")
