"""The schema, as SQLAlchemy Core metadata.

It builds statements and is what the migrations must produce (a test compares the two). Every
tenant-owned table leads its primary key, unique constraints and foreign keys with tenant_id.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

metadata = MetaData()


def _timestamp(name: str, nullable: bool = False) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


tenants = Table(
    "tenants",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", Text, nullable=False),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    Column("version", Integer, nullable=False, server_default=text("1")),
    Column("plan", Text, nullable=False, server_default=text("'free'")),
    Column("status", Text, nullable=False, server_default=text("'active'")),
    # IANA name (0019): reports cut days at this zone's midnights.
    Column("time_zone", Text, nullable=False, server_default=text("'UTC'")),
    CheckConstraint("plan IN ('free', 'pro')", name="tenants_plan_check"),
    CheckConstraint("status IN ('active', 'suspended')", name="tenants_status_check"),
    Index("tenants_newest_first_idx", text("created_at DESC"), text("id DESC")),
)

# A person's account is platform-wide; row-level security shows a row only to its owner and to
# the tenants the person belongs to.
users = Table(
    "users",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("email", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("password_hash", Text),  # NULL: the account signs in only through an outside provider
    _timestamp("created_at"),
    _timestamp("updated_at"),
    _timestamp("email_verified_at", nullable=True),
)

memberships = Table(
    "memberships",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("role", Text, nullable=False),
    _timestamp("created_at"),
    PrimaryKeyConstraint("tenant_id", "user_id"),
    CheckConstraint("role IN ('owner', 'admin', 'member')", name="memberships_role_check"),
    Index("memberships_user_id_idx", "user_id"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("id", UUID(as_uuid=True), nullable=False),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("family_id", UUID(as_uuid=True), nullable=False),
    Column("token_hash", Text, nullable=False),
    _timestamp("created_at"),
    _timestamp("expires_at"),
    _timestamp("used_at", nullable=True),
    _timestamp("revoked_at", nullable=True),
    PrimaryKeyConstraint("tenant_id", "id"),
    UniqueConstraint("tenant_id", "token_hash", name="refresh_tokens_tenant_id_token_hash_key"),
    ForeignKeyConstraint(
        ["tenant_id", "user_id"],
        ["memberships.tenant_id", "memberships.user_id"],
        ondelete="CASCADE",
        name="refresh_tokens_membership_fkey",
    ),
    Index("refresh_tokens_token_hash_idx", "token_hash"),
    Index("refresh_tokens_family_idx", "tenant_id", "family_id"),
)

customers = Table(
    "customers",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("id", UUID(as_uuid=True), nullable=False),
    Column("name", Text, nullable=False),
    Column("email", Text),
    Column("phone", Text),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    Column("version", Integer, nullable=False, server_default=text("1")),
    # Details (0010): a list of address objects, a set of normalised tags, notes, a channel.
    Column("addresses", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("tags", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("notes", Text),
    Column("preferred_channel", Text, nullable=False, server_default=text("'none'")),
    PrimaryKeyConstraint("tenant_id", "id"),
    CheckConstraint(
        "preferred_channel IN ('phone', 'sms', 'email', 'none')", name="customers_preferred_channel_check"
    ),
    Index("customers_newest_first_idx", "tenant_id", text("created_at DESC"), text("id DESC")),
    Index("customers_tags_idx", "tags", postgresql_using="gin"),
)

# A tenant's connection to a provider; at most one enabled per capability.
integrations = Table(
    "integrations",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("id", UUID(as_uuid=True), nullable=False),
    Column("provider", Text, nullable=False),
    Column("capability", Text, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("sealed_config", LargeBinary, nullable=False),
    Column("secret_fields", ARRAY(Text), nullable=False),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    Column("version", Integer, nullable=False, server_default=text("1")),
    PrimaryKeyConstraint("tenant_id", "id"),
    Index(
        "integrations_one_enabled_per_capability",
        "tenant_id",
        "capability",
        unique=True,
        postgresql_where=text("enabled"),
    ),
    Index("integrations_newest_first_idx", "tenant_id", text("created_at DESC"), text("id DESC")),
)

feature_flag_overrides = Table(
    "feature_flag_overrides",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("key", Text, nullable=False),
    Column("enabled", Boolean, nullable=False),
    _timestamp("updated_at"),
    Column("updated_by", Text, nullable=False),
    PrimaryKeyConstraint("tenant_id", "key"),
)

# Append-only: the application role may insert and read, never change or delete.
feature_flag_changes = Table(
    "feature_flag_changes",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("id", UUID(as_uuid=True), nullable=False),
    Column("key", Text, nullable=False),
    Column("old_value", Boolean),
    Column("new_value", Boolean),
    Column("actor", Text, nullable=False),
    _timestamp("changed_at"),
    PrimaryKeyConstraint("tenant_id", "id"),
    Index("feature_flag_changes_newest_first_idx", "tenant_id", text("changed_at DESC")),
)

# Platform admins are not tenant users: no tenant_id, readable only through the directory.
platform_admins = Table(
    "platform_admins",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("email", Text, nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    _timestamp("created_at"),
)


# Durable queues. A row is claimed by setting locked_until (a lease): a worker that dies
# mid-job loses the lease and another worker takes the job again.
def _queue_columns() -> list[Column[object]]:
    return [
        Column("status", Text, nullable=False, server_default=text("'pending'")),
        Column("attempts", Integer, nullable=False, server_default=text("0")),
        _timestamp("next_attempt_at"),
        _timestamp("locked_until", nullable=True),
        Column("last_error", Text),
        _timestamp("finished_at", nullable=True),
    ]


# Verified provider events, stored once per (provider, event id), processed by the worker.
webhook_events = Table(
    "webhook_events",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("id", UUID(as_uuid=True), nullable=False),
    Column("integration_id", UUID(as_uuid=True), nullable=False),
    Column("provider", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("data", JSONB, nullable=False),
    _timestamp("occurred_at", nullable=True),
    _timestamp("received_at"),
    *_queue_columns(),
    PrimaryKeyConstraint("tenant_id", "id"),
    UniqueConstraint("tenant_id", "provider", "event_id", name="webhook_events_once_per_event"),
    Index("webhook_events_due_idx", "next_attempt_at", postgresql_where=text("status = 'pending'")),
)

# Side effects on the outside world, written in the transaction that causes them.
outbox = Table(
    "outbox",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("id", UUID(as_uuid=True), nullable=False),
    Column("kind", Text, nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    _timestamp("created_at"),
    *_queue_columns(),
    PrimaryKeyConstraint("tenant_id", "id"),
    Index("outbox_due_idx", "next_attempt_at", postgresql_where=text("status = 'pending'")),
)

# A tenant's own URLs that receive its events (outbound webhooks).
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("id", UUID(as_uuid=True), nullable=False),
    Column("url", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("event_types", ARRAY(Text), nullable=False),
    Column("sealed_secret", LargeBinary, nullable=False),
    Column("enabled", Boolean, nullable=False),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    PrimaryKeyConstraint("tenant_id", "id"),
    Index("webhook_endpoints_newest_first_idx", "tenant_id", text("created_at DESC"), text("id DESC")),
)

# Append-only: every delivery attempt, for the tenant to read.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("id", UUID(as_uuid=True), nullable=False),
    Column("endpoint_id", UUID(as_uuid=True), nullable=False),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("event_type", Text, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("status_code", SmallInteger),
    Column("error", Text),
    Column("duration_ms", Integer, nullable=False),
    _timestamp("created_at"),
    PrimaryKeyConstraint("tenant_id", "id"),
    Index(
        "webhook_deliveries_by_endpoint_idx",
        "tenant_id",
        "endpoint_id",
        text("created_at DESC"),
        text("id DESC"),
    ),
)

# Responses to POSTs carrying an Idempotency-Key, replayed for a retry within 24 hours.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("key", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("response_status", SmallInteger),
    Column("response_headers", JSONB),
    Column("response_body", LargeBinary),
    _timestamp("created_at"),
    _timestamp("expires_at"),
    PrimaryKeyConstraint("tenant_id", "key"),
    Index("idempotency_keys_expiry_idx", "expires_at"),
)

TENANT_TABLES = ("memberships", "refresh_tokens", "customers", "integrations", "idempotency_keys")


def _tenant_id() -> Column[object]:
    return Column(
        "tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )


def _user_id() -> Column[object]:
    return Column("user_id", UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False)


# A session is one sign-in on one device; its id is the family id of its refresh tokens.
sessions = Table(
    "sessions",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("id", UUID(as_uuid=True), nullable=False),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    _timestamp("created_at"),
    _timestamp("last_seen_at"),
    Column("ip", Text),
    Column("user_agent", Text),
    _timestamp("revoked_at", nullable=True),
    Column("impersonator_id", UUID(as_uuid=True)),
    PrimaryKeyConstraint("tenant_id", "id"),
    ForeignKeyConstraint(
        ["tenant_id", "user_id"],
        ["memberships.tenant_id", "memberships.user_id"],
        ondelete="CASCADE",
        name="sessions_membership_fkey",
    ),
    Index("sessions_user_idx", "tenant_id", "user_id"),
)

# The next four belong to a person rather than a tenant: row-level security shows them only to
# the acting user.
mfa_factors = Table(
    "mfa_factors",
    metadata,
    Column("user_id", UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("sealed_secret", LargeBinary, nullable=False),
    _timestamp("created_at"),
    _timestamp("confirmed_at", nullable=True),
    Column("last_used_step", BigInteger),
)

recovery_codes = Table(
    "recovery_codes",
    metadata,
    _user_id(),
    Column("code_hash", Text, nullable=False),
    _timestamp("used_at", nullable=True),
    PrimaryKeyConstraint("user_id", "code_hash"),
)

account_tokens = Table(
    "account_tokens",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    _user_id(),
    Column("purpose", Text, nullable=False),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("email", Text, nullable=False),
    _timestamp("created_at"),
    _timestamp("expires_at"),
    _timestamp("used_at", nullable=True),
    CheckConstraint(
        "purpose IN ('verify_email', 'reset_password', 'unlock')", name="account_tokens_purpose_check"
    ),
    Index("account_tokens_user_idx", "user_id", "purpose"),
)

external_identities = Table(
    "external_identities",
    metadata,
    Column("provider", Text, nullable=False),
    Column("subject", Text, nullable=False),
    _user_id(),
    Column("email", Text),
    _timestamp("created_at"),
    PrimaryKeyConstraint("provider", "subject"),
    Index("external_identities_user_idx", "user_id"),
)

invitations = Table(
    "invitations",
    metadata,
    _tenant_id(),
    Column("id", UUID(as_uuid=True), nullable=False),
    Column("email", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("token_hash", Text, nullable=False),
    Column("invited_by", UUID(as_uuid=True)),
    _timestamp("created_at"),
    _timestamp("expires_at"),
    _timestamp("accepted_at", nullable=True),
    Column("accepted_by", UUID(as_uuid=True)),
    _timestamp("revoked_at", nullable=True),
    PrimaryKeyConstraint("tenant_id", "id"),
    UniqueConstraint("tenant_id", "token_hash", name="invitations_tenant_id_token_hash_key"),
    CheckConstraint("role IN ('owner', 'admin', 'member')", name="invitations_role_check"),
    Index("invitations_token_hash_idx", "token_hash"),
    Index(
        "invitations_one_outstanding_per_email",
        "tenant_id",
        "email",
        unique=True,
        postgresql_where=text("accepted_at IS NULL AND revoked_at IS NULL"),
    ),
)

api_keys = Table(
    "api_keys",
    metadata,
    _tenant_id(),
    Column("id", UUID(as_uuid=True), nullable=False),
    Column("name", Text, nullable=False),
    Column("prefix", Text, nullable=False),
    Column("secret_hash", Text, nullable=False),
    Column("scopes", JSONB, nullable=False),
    Column("allowed_origins", ARRAY(Text), nullable=False),
    Column("created_by", UUID(as_uuid=True)),
    _timestamp("created_at"),
    _timestamp("expires_at", nullable=True),
    _timestamp("last_used_at", nullable=True),
    _timestamp("revoked_at", nullable=True),
    PrimaryKeyConstraint("tenant_id", "id"),
    UniqueConstraint("tenant_id", "secret_hash", name="api_keys_tenant_id_secret_hash_key"),
    Index("api_keys_secret_hash_idx", "secret_hash"),
    Index("api_keys_newest_first_idx", "tenant_id", text("created_at DESC"), text("id DESC")),
)

# Append-only: the application role may insert and select, never update or delete.
audit_events = Table(
    "audit_events",
    metadata,
    _tenant_id(),
    Column("id", UUID(as_uuid=True), nullable=False),
    _timestamp("occurred_at"),
    Column("actor_type", Text, nullable=False),
    Column("actor_id", UUID(as_uuid=True)),
    Column("on_behalf_of_admin", UUID(as_uuid=True)),
    Column("call_id", UUID(as_uuid=True)),  # a voice agent's call (0020)
    Column("action", Text, nullable=False),
    Column("target_type", Text),
    Column("target_id", Text),
    Column("ip", Text),
    Column("user_agent", Text),
    Column("request_id", Text),
    Column("changes", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    PrimaryKeyConstraint("tenant_id", "id"),
    CheckConstraint(
        "actor_type IN ('user', 'api_key', 'platform_admin', 'system', 'customer', 'voice_agent')",
        name="audit_events_actor_type_check",
    ),
    Index("audit_events_newest_first_idx", "tenant_id", text("occurred_at DESC"), text("id DESC")),
    # One object's history (a customer's timeline), newest first (0010).
    Index(
        "audit_events_by_target_idx",
        "tenant_id",
        "target_type",
        "target_id",
        text("occurred_at DESC"),
        text("id DESC"),
    ),
)

# Scheduling (0008): bookable resources, their dated overrides, appointments, calendar feeds.
resources = Table(
    "resources",
    metadata,
    _tenant_id(),
    Column("id", UUID(as_uuid=True), nullable=False),
    Column("name", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("time_zone", Text, nullable=False),  # IANA name
    Column("buffer_before", Integer, nullable=False, server_default=text("0")),  # minutes
    Column("buffer_after", Integer, nullable=False, server_default=text("0")),
    Column("working_hours", JSONB, nullable=False),  # {"monday": [["09:00", "17:00"]], ...}
    _timestamp("created_at"),
    _timestamp("updated_at"),
    Column("version", Integer, nullable=False, server_default=text("1")),
    PrimaryKeyConstraint("tenant_id", "id"),
    CheckConstraint("kind IN ('staff', 'room', 'vehicle')", name="resources_kind_check"),
    CheckConstraint(
        "buffer_before BETWEEN 0 AND 1440 AND buffer_after BETWEEN 0 AND 1440", name="resources_buffers_check"
    ),
    Index("resources_newest_first_idx", "tenant_id", text("created_at DESC"), text("id DESC")),
)

# A local date of the resource with hours of its own; an empty list of intervals: closed.
resource_overrides = Table(
    "resource_overrides",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("resource_id", UUID(as_uuid=True), nullable=False),
    Column("day", Date, nullable=False),
    Column("intervals", JSONB, nullable=False),  # [["10:00", "14:00"]]
    Column("reason", Text),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    PrimaryKeyConstraint("tenant_id", "resource_id", "day"),
    ForeignKeyConstraint(
        ["tenant_id", "resource_id"],
        ["resources.tenant_id", "resources.id"],
        ondelete="CASCADE",
        name="resource_overrides_resource_fkey",
    ),
)

# blocked_from/blocked_until: the appointment with the resource's buffers when it was booked.
# Where the server has btree_gist, migration 0008 adds the exclusion constraint
# appointments_no_overlap on (tenant_id, resource_id, that range) for rows not cancelled; it is
# optional, so it is not described here (the schema tests allow for it by name).
appointments = Table(
    "appointments",
    metadata,
    _tenant_id(),
    Column("id", UUID(as_uuid=True), nullable=False),
    Column("resource_id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("service", Text, nullable=False),
    _timestamp("starts_at"),
    _timestamp("ends_at"),
    _timestamp("blocked_from"),
    _timestamp("blocked_until"),
    Column("location", Text),
    Column("notes", Text),
    Column("status", Text, nullable=False),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    Column("version", Integer, nullable=False, server_default=text("1")),
    PrimaryKeyConstraint("tenant_id", "id"),
    # No ON DELETE: a resource is not deleted while appointments name it.
    ForeignKeyConstraint(
        ["tenant_id", "resource_id"],
        ["resources.tenant_id", "resources.id"],
        name="appointments_resource_fkey",
    ),
    CheckConstraint(
        "status IN ('scheduled', 'confirmed', 'completed', 'cancelled', 'no_show')",
        name="appointments_status_check",
    ),
    CheckConstraint(
        "starts_at < ends_at AND blocked_from <= starts_at AND ends_at <= blocked_until",
        name="appointments_times_check",
    ),
    Index("appointments_newest_first_idx", "tenant_id", text("created_at DESC"), text("id DESC")),
    Index("appointments_by_resource_idx", "tenant_id", "resource_id", "blocked_until"),
    Index(
        "appointments_by_customer_idx", "tenant_id", "customer_id", text("starts_at DESC"), text("id DESC")
    ),
)

# A resource's public iCalendar feed: only the hash of the secret in its address is kept.
calendar_feeds = Table(
    "calendar_feeds",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("resource_id", UUID(as_uuid=True), nullable=False),
    Column("token_hash", Text, nullable=False),
    _timestamp("created_at"),
    PrimaryKeyConstraint("tenant_id", "resource_id"),
    UniqueConstraint("tenant_id", "token_hash", name="calendar_feeds_tenant_id_token_hash_key"),
    ForeignKeyConstraint(
        ["tenant_id", "resource_id"],
        ["resources.tenant_id", "resources.id"],
        ondelete="CASCADE",
        name="calendar_feeds_resource_fkey",
    ),
    Index("calendar_feeds_token_hash_idx", "token_hash"),
)

# --- sales (0009): settings, document counters, quotes, invoices, payments ----------------------

# A tenant's sales settings; no row means the defaults (core/sales/model.py).
sales_settings = Table(
    "sales_settings",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("currency", Text, nullable=False),
    Column("invoice_number_pattern", Text, nullable=False),
    Column("quote_number_pattern", Text, nullable=False),
    Column("payment_terms_days", Integer, nullable=False),
    Column("quote_validity_days", Integer, nullable=False),
    _timestamp("updated_at"),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("tenant_id"),
)

# The last number handed out per (kind, period); locked by the transaction that draws from it.
sales_counters = Table(
    "sales_counters",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("period", Text, nullable=False),
    Column("last_value", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "kind", "period"),
    CheckConstraint("kind IN ('quote', 'invoice')", name="sales_counters_kind_check"),
    CheckConstraint("last_value > 0", name="sales_counters_last_value_check"),
)


def _document_columns() -> list[Column[object]]:
    """What quotes and invoices share: the bill-to copy, currency, priced lines and totals."""
    return [
        Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        Column("id", UUID(as_uuid=True), nullable=False),
        Column("customer_id", UUID(as_uuid=True), nullable=False),
        Column("customer_name", Text, nullable=False),
        Column("customer_email", Text),
        Column("currency", Text, nullable=False),
        Column("lines", JSONB, nullable=False),
        Column("subtotal", BigInteger, nullable=False),
        Column("discount_total", BigInteger, nullable=False),
        Column("net_total", BigInteger, nullable=False),
        Column("tax_total", BigInteger, nullable=False),
        Column("total", BigInteger, nullable=False),
        Column("notes", Text, nullable=False),
    ]


quotes = Table(
    "quotes",
    metadata,
    *_document_columns(),
    Column("number", Text, nullable=False),
    Column("valid_until", Date, nullable=False),
    Column("status", Text, nullable=False),
    _timestamp("sent_at", nullable=True),
    _timestamp("decided_at", nullable=True),
    Column("invoice_id", UUID(as_uuid=True)),
    Column("link_token_hash", Text),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id"),
    UniqueConstraint("tenant_id", "number", name="quotes_tenant_id_number_key"),
    CheckConstraint("status IN ('draft', 'sent', 'accepted', 'rejected')", name="quotes_status_check"),
    Index("quotes_newest_first_idx", "tenant_id", text("created_at DESC"), text("id DESC")),
    Index("quotes_by_customer_idx", "tenant_id", "customer_id", text("created_at DESC"), text("id DESC")),
    Index(
        "quotes_link_token_hash_idx", "link_token_hash", postgresql_where=text("link_token_hash IS NOT NULL")
    ),
)

invoices = Table(
    "invoices",
    metadata,
    *_document_columns(),
    Column("number", Text),
    Column("payment_terms_days", Integer, nullable=False),
    Column("status", Text, nullable=False),
    Column("quote_id", UUID(as_uuid=True)),
    Column("issue_date", Date),
    Column("due_date", Date),
    _timestamp("issued_at", nullable=True),
    Column("amount_paid", BigInteger, nullable=False),
    Column("amount_refunded", BigInteger, nullable=False),
    _timestamp("paid_at", nullable=True),
    _timestamp("voided_at", nullable=True),
    Column("void_reason", Text),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id"),
    UniqueConstraint("tenant_id", "number", name="invoices_tenant_id_number_key"),
    # A quote converts once: the database refuses a second invoice made from it.
    UniqueConstraint("tenant_id", "quote_id", name="invoices_tenant_id_quote_id_key"),
    ForeignKeyConstraint(
        ["tenant_id", "quote_id"], ["quotes.tenant_id", "quotes.id"], name="invoices_quote_fkey"
    ),
    CheckConstraint(
        "status IN ('draft', 'sent', 'partially_paid', 'paid', 'void')", name="invoices_status_check"
    ),
    # Never paid past the total, whatever the application does.
    CheckConstraint("amount_paid >= 0 AND amount_paid <= total", name="invoices_amount_paid_check"),
    CheckConstraint("amount_refunded >= 0", name="invoices_amount_refunded_check"),
    CheckConstraint("(status = 'draft') = (number IS NULL)", name="invoices_number_check"),
    Index("invoices_newest_first_idx", "tenant_id", text("created_at DESC"), text("id DESC")),
    Index("invoices_by_customer_idx", "tenant_id", "customer_id", text("created_at DESC"), text("id DESC")),
    Index(
        "invoices_due_idx",
        "tenant_id",
        "due_date",
        postgresql_where=text("status IN ('sent', 'partially_paid')"),
    ),
)

# Append-only: money in (payment) or out (refund); the application may insert and read.
payments = Table(
    "payments",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("id", UUID(as_uuid=True), nullable=False),
    Column("invoice_id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("kind", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("method", Text, nullable=False),
    Column("reference", Text),
    Column("external_id", Text),
    Column("refunded_payment_id", UUID(as_uuid=True)),
    Column("reason", Text),
    _timestamp("received_at"),
    _timestamp("created_at"),
    PrimaryKeyConstraint("tenant_id", "id"),
    # A provider's (or a bank's) id is recorded once per tenant: exactly-once payments.
    UniqueConstraint("tenant_id", "external_id", name="payments_tenant_id_external_id_key"),
    ForeignKeyConstraint(
        ["tenant_id", "invoice_id"], ["invoices.tenant_id", "invoices.id"], name="payments_invoice_fkey"
    ),
    CheckConstraint("kind IN ('payment', 'refund')", name="payments_kind_check"),
    CheckConstraint("amount > 0", name="payments_amount_check"),
    CheckConstraint(
        "method IN ('cash', 'bank_transfer', 'cheque', 'card', 'other')", name="payments_method_check"
    ),
    Index("payments_by_invoice_idx", "tenant_id", "invoice_id", "created_at"),
    Index("payments_by_customer_idx", "tenant_id", "customer_id", text("created_at DESC"), text("id DESC")),
)

# --- online payments (0011): payments taken and refunds given through a payments provider -----

# Which payments were taken through a provider, by the provider's id for them (a Stripe payment
# intent): the refunds of these go back through the provider.
provider_payments = Table(
    "provider_payments",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("payment_id", UUID(as_uuid=True), nullable=False),
    Column("invoice_id", UUID(as_uuid=True), nullable=False),
    Column("provider", Text, nullable=False),
    Column("provider_payment_id", Text, nullable=False),
    _timestamp("created_at"),
    PrimaryKeyConstraint("tenant_id", "payment_id"),
    UniqueConstraint(
        "tenant_id", "provider", "provider_payment_id", name="provider_payments_provider_payment_id_key"
    ),
    ForeignKeyConstraint(
        ["tenant_id", "payment_id"],
        ["payments.tenant_id", "payments.id"],
        name="provider_payments_payment_fkey",
    ),
    ForeignKeyConstraint(
        ["tenant_id", "invoice_id"],
        ["invoices.tenant_id", "invoices.id"],
        name="provider_payments_invoice_fkey",
    ),
)

# Refunds asked of a provider: pending ones hold their amount against the payment until the
# provider settles them (succeeded: recorded as a refund payment; failed: released).
provider_refunds = Table(
    "provider_refunds",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("id", UUID(as_uuid=True), nullable=False),
    Column("invoice_id", UUID(as_uuid=True), nullable=False),
    Column("payment_id", UUID(as_uuid=True), nullable=False),
    Column("provider", Text, nullable=False),
    Column("provider_payment_id", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("reason", Text),
    Column("status", Text, nullable=False),
    Column("provider_refund_id", Text),
    Column("refund_payment_id", UUID(as_uuid=True)),
    Column("failure_reason", Text),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id"),
    UniqueConstraint("tenant_id", "provider_refund_id", name="provider_refunds_provider_refund_id_key"),
    ForeignKeyConstraint(
        ["tenant_id", "invoice_id"],
        ["invoices.tenant_id", "invoices.id"],
        name="provider_refunds_invoice_fkey",
    ),
    ForeignKeyConstraint(
        ["tenant_id", "payment_id"],
        ["payments.tenant_id", "payments.id"],
        name="provider_refunds_payment_fkey",
    ),
    ForeignKeyConstraint(
        ["tenant_id", "refund_payment_id"],
        ["payments.tenant_id", "payments.id"],
        name="provider_refunds_refund_payment_fkey",
    ),
    CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="provider_refunds_status_check"),
    CheckConstraint("amount > 0", name="provider_refunds_amount_check"),
    # Settled as succeeded exactly when the refund was recorded.
    CheckConstraint(
        "(status = 'succeeded') = (refund_payment_id IS NOT NULL)", name="provider_refunds_settled_check"
    ),
    Index("provider_refunds_by_invoice_idx", "tenant_id", "invoice_id", "created_at"),
)

# A tenant's reminder switches and timings (none stored: the defaults apply). Migration 0012.
reminder_settings = Table(
    "reminder_settings",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("appointment_confirmation", Boolean, nullable=False),
    Column("appointment_reminder", Boolean, nullable=False),
    Column("appointment_reminder_hours", Integer, nullable=False),
    Column("quote_follow_up", Boolean, nullable=False),
    Column("quote_follow_up_days", Integer, nullable=False),
    Column("invoice_overdue", Boolean, nullable=False),
    Column("invoice_overdue_days", Integer, nullable=False),
    Column("invoice_overdue_repeat_days", Integer, nullable=False),
    Column("invoice_overdue_max", Integer, nullable=False),
    _timestamp("updated_at"),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("tenant_id"),
)

# --- connected calendars (0013): resources linked to calendars, busy times, pushed events --------

# A resource linked to a calendar of the tenant's connected calendar account (its integration).
resource_calendars = Table(
    "resource_calendars",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("resource_id", UUID(as_uuid=True), nullable=False),
    Column("integration_id", UUID(as_uuid=True), nullable=False),
    Column("calendar_id", Text, nullable=False),  # the provider's id ("primary", an address, ...)
    Column("sync_token", Text),  # the provider's sync token (or Graph's delta link)
    _timestamp("synced_at", nullable=True),
    Column("sync_job_id", UUID(as_uuid=True)),  # the current periodic sync job
    _timestamp("created_at"),
    _timestamp("updated_at"),
    Column("version", Integer, nullable=False, server_default=text("1")),
    PrimaryKeyConstraint("tenant_id", "resource_id"),
    ForeignKeyConstraint(
        ["tenant_id", "resource_id"],
        ["resources.tenant_id", "resources.id"],
        ondelete="CASCADE",
        name="resource_calendars_resource_fkey",
    ),
    ForeignKeyConstraint(
        ["tenant_id", "integration_id"],
        ["integrations.tenant_id", "integrations.id"],
        ondelete="CASCADE",
        name="resource_calendars_integration_fkey",
    ),
    Index("resource_calendars_by_integration_idx", "tenant_id", "integration_id"),
)

# Events of a linked calendar that keep its resource busy, as the periodic sync read them.
calendar_busy_events = Table(
    "calendar_busy_events",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("resource_id", UUID(as_uuid=True), nullable=False),
    Column("event_id", Text, nullable=False),
    _timestamp("starts_at"),
    _timestamp("ends_at"),
    PrimaryKeyConstraint("tenant_id", "resource_id", "event_id"),
    ForeignKeyConstraint(
        ["tenant_id", "resource_id"],
        ["resource_calendars.tenant_id", "resource_calendars.resource_id"],
        ondelete="CASCADE",
        name="calendar_busy_events_link_fkey",
    ),
    CheckConstraint("starts_at < ends_at", name="calendar_busy_events_times_check"),
    Index("calendar_busy_events_by_end_idx", "tenant_id", "resource_id", "ends_at"),
)

# Which event of which calendar holds an appointment. No foreign key to the appointment: the link
# outlives it until its event is deleted from the calendar.
calendar_event_links = Table(
    "calendar_event_links",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("appointment_id", UUID(as_uuid=True), nullable=False),
    Column("integration_id", UUID(as_uuid=True), nullable=False),
    Column("calendar_id", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    _timestamp("starts_at"),
    _timestamp("ends_at"),
    Column("appointment_version", Integer, nullable=False),
    _timestamp("updated_at"),
    PrimaryKeyConstraint("tenant_id", "appointment_id"),
    ForeignKeyConstraint(
        ["tenant_id", "integration_id"],
        ["integrations.tenant_id", "integrations.id"],
        ondelete="CASCADE",
        name="calendar_event_links_integration_fkey",
    ),
    Index("calendar_event_links_by_calendar_idx", "tenant_id", "integration_id", "calendar_id", "ends_at"),
)

# --- avatar videos (0018): each tenant's videos, and its cached avatar and voice catalogs -------

# No foreign key to the integration: a video's record outlives its connection.
avatar_videos = Table(
    "avatar_videos",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("id", UUID(as_uuid=True), nullable=False),
    Column("integration_id", UUID(as_uuid=True), nullable=False),
    Column("provider", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("script", Text, nullable=False),
    Column("avatar_id", Text, nullable=False),
    Column("voice_id", Text, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("status", Text, nullable=False),
    Column("request_key", Text),
    Column("provider_video_id", Text),
    Column("video_url", Text),
    Column("thumbnail_url", Text),
    Column("duration_ms", Integer),
    Column("error", Text),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    _timestamp("finished_at", nullable=True),
    Column("version", Integer, nullable=False, server_default=text("1")),
    PrimaryKeyConstraint("tenant_id", "id"),
    UniqueConstraint("tenant_id", "request_key", name="avatar_videos_request_key_key"),
    UniqueConstraint(
        "tenant_id", "provider", "provider_video_id", name="avatar_videos_provider_video_id_key"
    ),
    CheckConstraint(
        "status IN ('queued', 'processing', 'completed', 'failed')", name="avatar_videos_status_check"
    ),
    CheckConstraint("char_length(script) BETWEEN 1 AND 5000", name="avatar_videos_script_check"),
    CheckConstraint("width > 0 AND height > 0", name="avatar_videos_dimension_check"),
    CheckConstraint(
        "(status IN ('completed', 'failed')) = (finished_at IS NOT NULL)", name="avatar_videos_finished_check"
    ),
    Index("avatar_videos_newest_first_idx", "tenant_id", text("created_at DESC"), text("id DESC")),
    Index("avatar_videos_by_status_idx", "tenant_id", "status", text("created_at DESC"), text("id DESC")),
)

avatar_catalogs = Table(
    "avatar_catalogs",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("integration_id", UUID(as_uuid=True), nullable=False),
    _timestamp("fetched_at"),
    Column("items", JSONB, nullable=False),
    PrimaryKeyConstraint("tenant_id", "kind"),
    CheckConstraint("kind IN ('avatars', 'voices')", name="avatar_catalogs_kind_check"),
)

# --- text messages (0016): sent to and received from customers; numbers that opted out ---------

sms_messages = Table(
    "sms_messages",
    metadata,
    _tenant_id(),
    Column("id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True)),  # no foreign key: the conversation outlives the record
    Column("direction", Text, nullable=False),
    Column("from_number", Text),
    Column("to_number", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("provider", Text),
    Column("provider_message_id", Text),
    Column("error", Text),
    Column("sender_type", Text),
    Column("sender_id", UUID(as_uuid=True)),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    Column("version", Integer, nullable=False, server_default=text("1")),
    PrimaryKeyConstraint("tenant_id", "id"),
    UniqueConstraint(
        "tenant_id", "provider", "provider_message_id", name="sms_messages_provider_message_id_key"
    ),
    CheckConstraint("direction IN ('outbound', 'inbound')", name="sms_messages_direction_check"),
    CheckConstraint(
        "status IN ('queued', 'sent', 'delivered', 'failed', 'received', 'blocked')",
        name="sms_messages_status_check",
    ),
    CheckConstraint("(direction = 'inbound') = (status = 'received')", name="sms_messages_received_check"),
    CheckConstraint("sender_type IN ('user', 'api_key', 'system')", name="sms_messages_sender_type_check"),
    CheckConstraint("(direction = 'inbound') = (sender_type IS NULL)", name="sms_messages_sender_check"),
    CheckConstraint(
        "direction = 'inbound' OR char_length(body) BETWEEN 1 AND 1600", name="sms_messages_body_check"
    ),
    Index("sms_messages_newest_first_idx", "tenant_id", text("created_at DESC"), text("id DESC")),
    Index(
        "sms_messages_by_customer_idx", "tenant_id", "customer_id", text("created_at DESC"), text("id DESC")
    ),
)

sms_opt_outs = Table(
    "sms_opt_outs",
    metadata,
    _tenant_id(),
    Column("id", UUID(as_uuid=True), nullable=False),
    Column("phone", Text, nullable=False),
    Column("keyword", Text, nullable=False),
    _timestamp("opted_out_at"),
    Column("customer_id", UUID(as_uuid=True)),
    Column("message_id", UUID(as_uuid=True)),
    PrimaryKeyConstraint("tenant_id", "id"),
    UniqueConstraint("tenant_id", "phone", name="sms_opt_outs_tenant_id_phone_key"),
    Index("sms_opt_outs_newest_first_idx", "tenant_id", text("opted_out_at DESC"), text("id DESC")),
)

# --- voice agents (0014): agents, their immutable versions, the platform's phone numbers --------

voice_agents = Table(
    "voice_agents",
    metadata,
    _tenant_id(),
    Column("id", UUID(as_uuid=True), nullable=False),
    # The current (latest) settings; each version keeps its own copy.
    Column("name", Text, nullable=False),
    Column("voice_provider", Text, nullable=False),
    Column("voice_id", Text, nullable=False),
    Column("model_provider", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("system_prompt", Text, nullable=False),
    Column("first_message", Text),
    Column("tools", ARRAY(Text), nullable=False),  # BusinessTool values
    Column("current_version", Integer, nullable=False),
    Column("published_version", Integer),
    Column("provider_agent_id", Text),
    Column("sync_status", Text),
    Column("sync_error", Text),
    _timestamp("synced_at", nullable=True),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    Column("version", Integer, nullable=False, server_default=text("1")),
    PrimaryKeyConstraint("tenant_id", "id"),
    UniqueConstraint("tenant_id", "provider_agent_id", name="voice_agents_provider_agent_id_key"),
    CheckConstraint("sync_status IN ('pending', 'synced', 'failed')", name="voice_agents_sync_status_check"),
    CheckConstraint(
        "current_version >= 1 AND published_version BETWEEN 1 AND current_version",
        name="voice_agents_versions_check",
    ),
    Index("voice_agents_newest_first_idx", "tenant_id", text("created_at DESC"), text("id DESC")),
)

agent_versions = Table(
    "agent_versions",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("id", UUID(as_uuid=True), nullable=False),
    Column("agent_id", UUID(as_uuid=True), nullable=False),
    Column("number", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("voice_provider", Text, nullable=False),
    Column("voice_id", Text, nullable=False),
    Column("model_provider", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("system_prompt", Text, nullable=False),
    Column("first_message", Text),
    Column("tools", ARRAY(Text), nullable=False),
    Column("created_by", UUID(as_uuid=True)),  # the user; kept as history, no foreign key
    Column("note", Text),
    _timestamp("created_at"),
    PrimaryKeyConstraint("tenant_id", "id"),
    UniqueConstraint("tenant_id", "agent_id", "number", name="agent_versions_number_key"),
    ForeignKeyConstraint(
        ["tenant_id", "agent_id"],
        ["voice_agents.tenant_id", "voice_agents.id"],
        ondelete="CASCADE",
        name="agent_versions_agent_fkey",
    ),
    CheckConstraint("number >= 1", name="agent_versions_number_check"),
)

phone_numbers = Table(
    "phone_numbers",
    metadata,
    _tenant_id(),
    Column("id", UUID(as_uuid=True), nullable=False),
    Column("integration_id", UUID(as_uuid=True), nullable=False),
    Column("provider_id", Text, nullable=False),
    Column("number", Text, nullable=False),  # E.164
    Column("name", Text),
    Column("agent_id", UUID(as_uuid=True)),  # who answers its inbound calls
    _timestamp("created_at"),
    _timestamp("updated_at"),
    Column("version", Integer, nullable=False, server_default=text("1")),
    PrimaryKeyConstraint("tenant_id", "id"),
    UniqueConstraint("tenant_id", "number", name="phone_numbers_number_key"),
    ForeignKeyConstraint(
        ["tenant_id", "integration_id"],
        ["integrations.tenant_id", "integrations.id"],
        ondelete="CASCADE",
        name="phone_numbers_integration_fkey",
    ),
    ForeignKeyConstraint(
        ["tenant_id", "agent_id"],
        ["voice_agents.tenant_id", "voice_agents.id"],
        name="phone_numbers_agent_fkey",
    ),
    Index("phone_numbers_newest_first_idx", "tenant_id", text("created_at DESC"), text("id DESC")),
    Index("phone_numbers_by_agent_idx", "tenant_id", "agent_id"),
)

# --- calls (0015): every call of a tenant's voice agents, inbound and outbound -----------------

# No foreign key to the integration, the agent or the customer: a call's record outlives each of
# them (its ids are then kept as history). The platform's id of a call is unique per integration.
calls = Table(
    "calls",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("id", UUID(as_uuid=True), nullable=False),
    Column("integration_id", UUID(as_uuid=True), nullable=False),
    Column("provider_call_id", Text),
    Column("direction", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("ended_reason", Text),
    Column("agent_id", UUID(as_uuid=True)),
    Column("customer_id", UUID(as_uuid=True)),
    Column("business_number", Text),
    Column("customer_number", Text),
    _timestamp("scheduled_at", nullable=True),
    _timestamp("started_at", nullable=True),
    _timestamp("ended_at", nullable=True),
    Column("duration_seconds", Integer),  # from started_at and ended_at, kept for filters
    Column("transcript", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("summary", Text),
    Column("structured_data", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("success", Boolean),
    Column("sentiment", Text),
    # Cost in micro-units of cost_currency, one column per component (summed by analytics).
    Column("cost_currency", Text),
    Column("cost_transport", BigInteger, nullable=False, server_default=text("0")),
    Column("cost_speech_to_text", BigInteger, nullable=False, server_default=text("0")),
    Column("cost_model", BigInteger, nullable=False, server_default=text("0")),
    Column("cost_text_to_speech", BigInteger, nullable=False, server_default=text("0")),
    Column("cost_platform", BigInteger, nullable=False, server_default=text("0")),
    Column("cost_total", BigInteger, nullable=False, server_default=text("0")),
    Column("recording_url", Text),  # the platform's address: never handed to clients
    Column("feedback_rating", SmallInteger),
    Column("feedback_comment", Text),
    Column("feedback_by", UUID(as_uuid=True)),
    _timestamp("feedback_at", nullable=True),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    Column("version", Integer, nullable=False, server_default=text("1")),
    PrimaryKeyConstraint("tenant_id", "id"),
    UniqueConstraint(
        "tenant_id", "integration_id", "provider_call_id", name="calls_tenant_id_provider_call_id_key"
    ),
    CheckConstraint("direction IN ('inbound', 'outbound')", name="calls_direction_check"),
    CheckConstraint(
        "status IN ('scheduled', 'queued', 'ringing', 'in_progress', 'forwarding', 'ended')",
        name="calls_status_check",
    ),
    CheckConstraint("sentiment IN ('positive', 'neutral', 'negative')", name="calls_sentiment_check"),
    CheckConstraint("feedback_rating BETWEEN 1 AND 5", name="calls_feedback_rating_check"),
    CheckConstraint(
        "cost_transport >= 0 AND cost_speech_to_text >= 0 AND cost_model >= 0 "
        "AND cost_text_to_speech >= 0 AND cost_platform >= 0 AND cost_total >= 0",
        name="calls_cost_check",
    ),
    CheckConstraint("duration_seconds >= 0", name="calls_duration_check"),
    Index("calls_newest_first_idx", "tenant_id", text("created_at DESC"), text("id DESC")),
    Index("calls_by_status_idx", "tenant_id", "status", text("created_at DESC"), text("id DESC")),
    Index("calls_by_agent_idx", "tenant_id", "agent_id", text("created_at DESC"), text("id DESC")),
    Index("calls_by_customer_idx", "tenant_id", "customer_id", text("created_at DESC"), text("id DESC")),
    Index("calls_by_start_idx", "tenant_id", "started_at"),
    # Revenue attribution (0021): a customer's answered calls by time, read backwards from a
    # payment (analytics.py). The CASE is written as PostgreSQL prints it back, line breaks
    # included, so the comparison with the migrated schema sees the same expression.
    Index(
        "calls_answered_by_customer_idx",
        "tenant_id",
        "customer_id",
        text("(\nCASE\nWHEN started_at IS NULL THEN created_at\nELSE started_at\nEND)"),
        "id",
        postgresql_where=text("status IN ('forwarding', 'in_progress') OR COALESCE(duration_seconds, 0) > 0"),
    ),
)

# Inbound callers are matched to customers by their normalised number.
Index("customers_by_phone_idx", customers.c.tenant_id, customers.c.phone)

# --- knowledge base (0017): documents an agent consults, their text, the platform's copies ------

# No ON DELETE on the agent: its files are forgotten first, so their stored objects and the
# platform's copies are removed as well (core/calls/knowledge.py).
knowledge_files = Table(
    "knowledge_files",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("id", UUID(as_uuid=True), nullable=False),
    Column("agent_id", UUID(as_uuid=True), nullable=False),
    Column("name", Text, nullable=False),
    Column("media_type", Text, nullable=False),  # decided by the content
    Column("size_bytes", BigInteger, nullable=False),
    Column("sha256", Text, nullable=False),  # hex
    Column("storage_key", Text, nullable=False),  # where the file storage keeps the bytes
    Column("status", Text, nullable=False),
    Column("extracted_text", Text, nullable=False),
    Column("text_length", Integer, nullable=False),
    Column("text_truncated", Boolean, nullable=False),
    Column("provider", Text),  # the voice platform holding a copy, once one does
    Column("integration_id", UUID(as_uuid=True)),
    Column("provider_file_id", Text),
    Column("sync_error", Text),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    Column("version", Integer, nullable=False, server_default=text("1")),
    PrimaryKeyConstraint("tenant_id", "id"),
    UniqueConstraint("tenant_id", "agent_id", "sha256", name="knowledge_files_sha256_key"),
    ForeignKeyConstraint(
        ["tenant_id", "agent_id"],
        ["voice_agents.tenant_id", "voice_agents.id"],
        name="knowledge_files_agent_fkey",
    ),
    CheckConstraint(
        "media_type IN ('application/pdf', "
        "'application/vnd.openxmlformats-officedocument.wordprocessingml.document', "
        "'text/plain', 'text/markdown')",
        name="knowledge_files_media_type_check",
    ),
    CheckConstraint("status IN ('processing', 'ready', 'failed')", name="knowledge_files_status_check"),
    CheckConstraint(
        "size_bytes > 0 AND text_length >= 0 AND text_length = char_length(extracted_text)",
        name="knowledge_files_sizes_check",
    ),
    Index("knowledge_files_by_agent_idx", "tenant_id", "agent_id", text("created_at DESC"), text("id DESC")),
)
