"""Quotes, invoices, their lines, invoice numbering and payments.

Revision ID: 0009
Revises: 0008

Lines live inside their quote or invoice (JSONB: they are only ever read and written with it);
totals are columns. Invoice numbers are drawn from ``sales_counters`` rows that the issuing
transaction locks (not a sequence: a sequence leaves gaps when a transaction rolls back).
Payments are append-only. A customer answering a quote on its public page is audited as the
new actor type ``customer``; the page finds its quote through ``directory_find_quote_link``.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from switchboard.migrations.rls import APP_ROLE, DIRECTORY_ROLE, isolate_by_tenant, readable_by_directory

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

LINK_LOOKUP = "directory_find_quote_link(text)"
LINK_LOOKUP_BODY = """
    RETURNS TABLE (tenant_id uuid, quote_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
      SELECT q.tenant_id, q.id
      FROM public.quotes q JOIN public.tenants t ON t.id = q.tenant_id
      WHERE q.link_token_hash = $1 AND t.status = 'active'
    $$"""

ACTOR_TYPES_BEFORE = "actor_type IN ('user', 'api_key', 'platform_admin', 'system')"
ACTOR_TYPES = "actor_type IN ('user', 'api_key', 'platform_admin', 'system', 'customer')"


def _uuid(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, UUID(as_uuid=True), nullable=nullable)


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _tenant_id() -> sa.Column:
    return sa.Column(
        "tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )


def _money(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger, nullable=False)


def _document_columns() -> list[sa.Column]:
    return [
        _tenant_id(),
        _uuid("id"),
        _uuid("customer_id"),
        sa.Column("customer_name", sa.Text, nullable=False),
        sa.Column("customer_email", sa.Text),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("lines", JSONB, nullable=False),
        _money("subtotal"),
        _money("discount_total"),
        _money("net_total"),
        _money("tax_total"),
        _money("total"),
        sa.Column("notes", sa.Text, nullable=False),
    ]


def _newest_first(table: str) -> None:
    op.create_index(
        f"{table}_newest_first_idx", table, ["tenant_id", sa.text("created_at DESC"), sa.text("id DESC")]
    )


def _by_customer(table: str) -> None:
    op.create_index(
        f"{table}_by_customer_idx",
        table,
        ["tenant_id", "customer_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )


def upgrade() -> None:
    op.create_table(
        "sales_settings",
        _tenant_id(),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("invoice_number_pattern", sa.Text, nullable=False),
        sa.Column("quote_number_pattern", sa.Text, nullable=False),
        sa.Column("payment_terms_days", sa.Integer, nullable=False),
        sa.Column("quote_validity_days", sa.Integer, nullable=False),
        _time("updated_at"),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id"),
    )
    isolate_by_tenant("sales_settings")

    op.create_table(
        "sales_counters",
        _tenant_id(),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("period", sa.Text, nullable=False),
        sa.Column("last_value", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "kind", "period"),
        sa.CheckConstraint("kind IN ('quote', 'invoice')", name="sales_counters_kind_check"),
        sa.CheckConstraint("last_value > 0", name="sales_counters_last_value_check"),
    )
    isolate_by_tenant("sales_counters")

    op.create_table(
        "quotes",
        *_document_columns(),
        sa.Column("number", sa.Text, nullable=False),
        sa.Column("valid_until", sa.Date, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        _time("sent_at", nullable=True),
        _time("decided_at", nullable=True),
        _uuid("invoice_id", nullable=True),
        sa.Column("link_token_hash", sa.Text),
        _time("created_at"),
        _time("updated_at"),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        sa.UniqueConstraint("tenant_id", "number", name="quotes_tenant_id_number_key"),
        sa.CheckConstraint("status IN ('draft', 'sent', 'accepted', 'rejected')", name="quotes_status_check"),
    )
    _newest_first("quotes")
    _by_customer("quotes")
    op.create_index(
        "quotes_link_token_hash_idx",
        "quotes",
        ["link_token_hash"],
        postgresql_where=sa.text("link_token_hash IS NOT NULL"),
    )
    isolate_by_tenant("quotes")

    op.create_table(
        "invoices",
        *_document_columns(),
        sa.Column("number", sa.Text),
        sa.Column("payment_terms_days", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        _uuid("quote_id", nullable=True),
        sa.Column("issue_date", sa.Date),
        sa.Column("due_date", sa.Date),
        _time("issued_at", nullable=True),
        _money("amount_paid"),
        _money("amount_refunded"),
        _time("paid_at", nullable=True),
        _time("voided_at", nullable=True),
        sa.Column("void_reason", sa.Text),
        _time("created_at"),
        _time("updated_at"),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        sa.UniqueConstraint("tenant_id", "number", name="invoices_tenant_id_number_key"),
        sa.UniqueConstraint("tenant_id", "quote_id", name="invoices_tenant_id_quote_id_key"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "quote_id"], ["quotes.tenant_id", "quotes.id"], name="invoices_quote_fkey"
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'sent', 'partially_paid', 'paid', 'void')", name="invoices_status_check"
        ),
        sa.CheckConstraint("amount_paid >= 0 AND amount_paid <= total", name="invoices_amount_paid_check"),
        sa.CheckConstraint("amount_refunded >= 0", name="invoices_amount_refunded_check"),
        sa.CheckConstraint("(status = 'draft') = (number IS NULL)", name="invoices_number_check"),
    )
    _newest_first("invoices")
    _by_customer("invoices")
    op.create_index(
        "invoices_due_idx",
        "invoices",
        ["tenant_id", "due_date"],
        postgresql_where=sa.text("status IN ('sent', 'partially_paid')"),
    )
    isolate_by_tenant("invoices")

    op.create_table(
        "payments",
        _tenant_id(),
        _uuid("id"),
        _uuid("invoice_id"),
        _uuid("customer_id"),
        sa.Column("kind", sa.Text, nullable=False),
        _money("amount"),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("reference", sa.Text),
        sa.Column("external_id", sa.Text),
        _uuid("refunded_payment_id", nullable=True),
        sa.Column("reason", sa.Text),
        _time("received_at"),
        _time("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        sa.UniqueConstraint("tenant_id", "external_id", name="payments_tenant_id_external_id_key"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "invoice_id"], ["invoices.tenant_id", "invoices.id"], name="payments_invoice_fkey"
        ),
        sa.CheckConstraint("kind IN ('payment', 'refund')", name="payments_kind_check"),
        sa.CheckConstraint("amount > 0", name="payments_amount_check"),
        sa.CheckConstraint(
            "method IN ('cash', 'bank_transfer', 'cheque', 'card', 'other')", name="payments_method_check"
        ),
    )
    op.create_index("payments_by_invoice_idx", "payments", ["tenant_id", "invoice_id", "created_at"])
    _by_customer("payments")
    isolate_by_tenant("payments")
    # Append-only, like the audit log: money recorded is never rewritten, only refunded.
    op.execute(f"REVOKE UPDATE, DELETE ON payments FROM {APP_ROLE}")

    op.drop_constraint("audit_events_actor_type_check", "audit_events")
    op.create_check_constraint("audit_events_actor_type_check", "audit_events", ACTOR_TYPES)

    # The public quote page finds its tenant and quote by the link's token hash, and nothing else.
    readable_by_directory("quotes", "tenant_id, id, link_token_hash")
    op.execute(f"GRANT CREATE ON SCHEMA public TO {DIRECTORY_ROLE}")
    op.execute(f"CREATE FUNCTION {LINK_LOOKUP} {LINK_LOOKUP_BODY}")
    op.execute(f"ALTER FUNCTION {LINK_LOOKUP} OWNER TO {DIRECTORY_ROLE}")
    op.execute(f"REVOKE ALL ON FUNCTION {LINK_LOOKUP} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {LINK_LOOKUP} TO {APP_ROLE}")
    op.execute(f"REVOKE CREATE ON SCHEMA public FROM {DIRECTORY_ROLE}")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {LINK_LOOKUP}")
    # Customers' answers stay in the log, attributed to the system (the owner must step past
    # the forced row-level security to reach every tenant's entries).
    op.execute("ALTER TABLE audit_events NO FORCE ROW LEVEL SECURITY")
    op.execute("UPDATE audit_events SET actor_type = 'system' WHERE actor_type = 'customer'")
    op.execute("ALTER TABLE audit_events FORCE ROW LEVEL SECURITY")
    op.drop_constraint("audit_events_actor_type_check", "audit_events")
    op.create_check_constraint("audit_events_actor_type_check", "audit_events", ACTOR_TYPES_BEFORE)
    for table in ("payments", "invoices", "quotes", "sales_counters", "sales_settings"):
        op.drop_table(table)
