"""The webhook inbox and the outbox, and the two ways the worker claims their rows.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from switchboard.migrations.rls import APP_ROLE, DIRECTORY_ROLE, isolate_by_tenant, readable_by_directory

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _queue_columns() -> list[sa.Column]:
    return [
        sa.Column("status", sa.Text, nullable=False, server_default=sa.text("'pending'")),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    ]


def _tenant() -> sa.Column:
    return sa.Column(
        "tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "webhook_events",
        _tenant(),
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("integration_id", UUID(as_uuid=True), nullable=False),
        sa.Column("provider", sa.Text, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("data", JSONB, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True)),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        *_queue_columns(),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        sa.UniqueConstraint("tenant_id", "provider", "event_id", name="webhook_events_once_per_event"),
    )
    op.create_index(
        "webhook_events_due_idx",
        "webhook_events",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    isolate_by_tenant("webhook_events")

    op.create_table(
        "outbox",
        _tenant(),
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        *_queue_columns(),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
    )
    op.create_index(
        "outbox_due_idx", "outbox", ["next_attempt_at"], postgresql_where=sa.text("status = 'pending'")
    )
    isolate_by_tenant("outbox")

    # Routing an incoming webhook: which tenant owns this connection? Nothing more.
    readable_by_directory("integrations", "tenant_id, id, provider")
    _directory_function(
        "directory_find_integration(p_id uuid)",
        "TABLE (tenant_id uuid, provider text)",
        "SELECT i.tenant_id, i.provider FROM public.integrations i WHERE i.id = p_id",
        volatility="STABLE",
    )
    # Claiming due rows across tenants: the lease is all the directory may write; the worker
    # reads and changes the row itself, in a unit of work scoped to its tenant.
    for table in ("webhook_events", "outbox"):
        readable_by_directory(table, "tenant_id, id, status, next_attempt_at, locked_until, attempts")
        op.execute(f"GRANT UPDATE (locked_until, attempts) ON {table} TO {DIRECTORY_ROLE}")
        op.execute(
            f"CREATE POLICY directory_claims ON {table} FOR UPDATE TO {DIRECTORY_ROLE}"
            " USING (true) WITH CHECK (true)"
        )
        _directory_function(
            f"directory_claim_{table}(p_limit integer, p_lease_seconds integer)",
            "TABLE (tenant_id uuid, id uuid)",
            f"""
            UPDATE public.{table} q
               SET locked_until = now() + make_interval(secs => p_lease_seconds), attempts = q.attempts + 1
             WHERE (q.tenant_id, q.id) IN (
                   SELECT d.tenant_id, d.id FROM public.{table} d
                    WHERE d.status = 'pending' AND d.next_attempt_at <= now()
                      AND (d.locked_until IS NULL OR d.locked_until < now())
                    ORDER BY d.next_attempt_at
                    LIMIT p_limit
                    FOR UPDATE SKIP LOCKED)
            RETURNING q.tenant_id, q.id
            """,
            volatility="VOLATILE",
        )


def _directory_function(signature: str, returns: str, body: str, volatility: str) -> None:
    op.execute(
        f"CREATE FUNCTION {signature} RETURNS {returns} LANGUAGE sql {volatility} SECURITY DEFINER"
        f" SET search_path = pg_catalog, pg_temp AS $$ {body} $$"
    )
    op.execute(f"GRANT CREATE ON SCHEMA public TO {DIRECTORY_ROLE}")
    op.execute(f"ALTER FUNCTION {signature} OWNER TO {DIRECTORY_ROLE}")
    op.execute(f"REVOKE CREATE ON SCHEMA public FROM {DIRECTORY_ROLE}")
    op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {APP_ROLE}")


def downgrade() -> None:
    for function in (
        "directory_claim_outbox(integer, integer)",
        "directory_claim_webhook_events(integer, integer)",
        "directory_find_integration(uuid)",
    ):
        op.execute(f"DROP FUNCTION {function}")
    op.execute("DROP POLICY directory_lookup ON integrations")
    op.execute(f"REVOKE SELECT ON integrations FROM {DIRECTORY_ROLE}")
    op.drop_table("outbox")
    op.drop_table("webhook_events")
