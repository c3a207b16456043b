"""Tenant isolation at the SQL level, as the application role sees it.

Every test connects as ``switchboard_app`` (the role the server uses: row-level security applies)
and scopes its transactions the way the unit of work does, with a transaction-local
``set_config``. Two tenants, A and B, are seeded through that same role with a row in every
tenant table, so "no rows" means the rows are there and hidden, not absent.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from switchboard.adapters.postgres.roles import APP_ROLE, DIRECTORY_ROLE
from tests.conftest import Database

# Exactly what PostgresUnitOfWork runs first in each transaction.
SET_SCOPE = "SELECT set_config('app.tenant_id', %s, true), set_config('app.user_id', %s, true)"
RLS_VIOLATION = "violates row-level security policy"

Connection = psycopg.Connection[dict[str, Any]]
Row = dict[str, Any]


@dataclass(frozen=True)
class SeededTenant:
    id: uuid.UUID
    owner_id: uuid.UUID  # a member of this tenant only
    owner_email: str
    owner_password_hash: str
    token_hash: str
    customer_id: uuid.UUID
    session_id: uuid.UUID
    invitation_id: uuid.UUID
    invitation_token_hash: str
    api_key_id: uuid.UUID
    api_key_secret_hash: str


@dataclass(frozen=True)
class Seed:
    a: SeededTenant
    b: SeededTenant
    fellow_id: uuid.UUID  # a second member of tenant A
    tables: list[str]  # every tenant table, from the catalog


def _now() -> datetime:
    return datetime.now(UTC)


# One fresh, valid row per tenant table for (tenant, a member of it). The seed inserts these, so
# a builder that stops matching its table fails loudly there. Keys other than tenant_id are new
# each time, except where the key is the (tenant, user) pair itself.
ROW_BUILDERS: dict[str, Callable[[uuid.UUID, uuid.UUID], Row]] = {
    "tenants": lambda tenant_id, _user_id: {
        "id": tenant_id,
        "name": f"Tenant {tenant_id.hex[:6]}",
        "created_at": _now(),
        "updated_at": _now(),
    },
    "memberships": lambda tenant_id, user_id: {
        "tenant_id": tenant_id,
        "user_id": user_id,
        "role": "owner",
        "created_at": _now(),
    },
    "refresh_tokens": lambda tenant_id, user_id: {
        "tenant_id": tenant_id,
        "id": uuid.uuid4(),
        "user_id": user_id,
        "family_id": uuid.uuid4(),
        "token_hash": secrets.token_hex(32),
        "created_at": _now(),
        "expires_at": _now() + timedelta(days=30),
    },
    "customers": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "id": uuid.uuid4(),
        "name": "Grace Hopper",
        "email": "grace@example.com",
        "phone": "+14155550100",
        "created_at": _now(),
        "updated_at": _now(),
    },
    "integrations": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "id": _seeded_integration_id(tenant_id),
        "provider": "fake_email",
        "capability": "email",
        "enabled": False,  # disabled rows never meet the one-enabled-per-capability index
        "sealed_config": b"sealed",
        "secret_fields": [],
        "created_at": _now(),
        "updated_at": _now(),
    },
    "feature_flag_overrides": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "key": "sms",
        "enabled": True,
        "updated_at": _now(),
        "updated_by": "platform_admin:seed",
    },
    "feature_flag_changes": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "id": uuid.uuid4(),
        "key": "sms",
        "old_value": None,
        "new_value": True,
        "actor": "platform_admin:seed",
        "changed_at": _now(),
    },
    "outbox": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "id": uuid.uuid4(),
        "kind": "email.send",
        "payload": Jsonb({"to": "grace@example.com"}),
        "max_attempts": 8,
        "created_at": _now(),
        "next_attempt_at": _now(),
    },
    "webhook_events": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "id": uuid.uuid4(),
        "integration_id": uuid.uuid4(),
        "provider": "fake_email",
        "event_id": secrets.token_hex(8),
        "type": "delivered",
        "data": Jsonb({}),
        "received_at": _now(),
        "next_attempt_at": _now(),
    },
    "webhook_endpoints": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "id": uuid.uuid4(),
        "url": "https://hooks.example.com/switchboard",
        "description": "",
        "event_types": [],
        "sealed_secret": b"sealed",
        "enabled": True,
        "created_at": _now(),
        "updated_at": _now(),
    },
    "webhook_deliveries": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "id": uuid.uuid4(),
        "endpoint_id": uuid.uuid4(),
        "event_id": uuid.uuid4(),
        "event_type": "customer.created",
        "attempt": 1,
        "status_code": 200,
        "duration_ms": 12,
        "created_at": _now(),
    },
    "idempotency_keys": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "key": secrets.token_hex(8),
        "fingerprint": secrets.token_hex(16),
        "response_status": 201,
        "response_headers": Jsonb({"content-type": "application/json"}),
        "response_body": b"{}",
        "created_at": _now(),
        "expires_at": _now() + timedelta(days=1),
    },
    "sessions": lambda tenant_id, user_id: {
        "tenant_id": tenant_id,
        "id": uuid.uuid4(),
        "user_id": user_id,
        "created_at": _now(),
        "last_seen_at": _now(),
        "ip": "192.0.2.1",
        "user_agent": "pytest",
    },
    "invitations": lambda tenant_id, user_id: {
        "tenant_id": tenant_id,
        "id": uuid.uuid4(),
        "email": f"invitee-{uuid.uuid4().hex[:12]}@example.com",
        "role": "member",
        "token_hash": secrets.token_hex(32),
        "invited_by": user_id,
        "created_at": _now(),
        "expires_at": _now() + timedelta(days=7),
    },
    "api_keys": lambda tenant_id, user_id: {
        "tenant_id": tenant_id,
        "id": uuid.uuid4(),
        "name": "Server",
        "prefix": "sbk_" + secrets.token_hex(4),
        "secret_hash": secrets.token_hex(32),
        "scopes": Jsonb({"customers": "read"}),
        "allowed_origins": [],
        "created_by": user_id,
        "created_at": _now(),
    },
    "audit_events": lambda tenant_id, user_id: {
        "tenant_id": tenant_id,
        "id": uuid.uuid4(),
        "occurred_at": _now(),
        "actor_type": "user",
        "actor_id": user_id,
        "action": "customer.created",
        "target_type": "customer",
        "target_id": str(uuid.uuid4()),
        "changes": Jsonb({"name": "Grace Hopper"}),
    },
    "sales_settings": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "currency": "EUR",
        "invoice_number_pattern": "INV-{yyyy}-{seq:05}",
        "quote_number_pattern": "QUO-{yyyy}-{seq:05}",
        "payment_terms_days": 30,
        "quote_validity_days": 30,
        "updated_at": _now(),
        "version": 1,
    },
    "reminder_settings": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "appointment_confirmation": True,
        "appointment_reminder": True,
        "appointment_reminder_hours": 24,
        "quote_follow_up": False,
        "quote_follow_up_days": 3,
        "invoice_overdue": True,
        "invoice_overdue_days": 1,
        "invoice_overdue_repeat_days": 7,
        "invoice_overdue_max": 3,
        "updated_at": _now(),
        "version": 1,
    },
    "sales_counters": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "kind": "invoice",
        "period": secrets.token_hex(4),
        "last_value": 7,
    },
    "quotes": lambda tenant_id, _user_id: (
        _sales_document(tenant_id, uuid.uuid4())
        | {
            "number": f"QUO-{secrets.token_hex(4)}",
            "valid_until": _now().date(),
            "status": "sent",
            "link_token_hash": secrets.token_hex(32),
        }
    ),
    # The seeded payment belongs to the seeded invoice of its tenant, whose id is fixed for that.
    "invoices": lambda tenant_id, _user_id: (
        _sales_document(tenant_id, _seeded_invoice_id(tenant_id))
        | {
            "number": f"INV-{secrets.token_hex(4)}",
            "payment_terms_days": 30,
            "status": "partially_paid",
            "issue_date": _now().date(),
            "due_date": _now().date(),
            "amount_paid": 500,
            "amount_refunded": 0,
        }
    ),
    "payments": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "id": _seeded_payment_id(tenant_id),
        "invoice_id": _seeded_invoice_id(tenant_id),
        "customer_id": uuid.uuid4(),
        "kind": "payment",
        "amount": 500,
        "currency": "EUR",
        "method": "cash",
        "external_id": secrets.token_hex(8),
        "received_at": _now(),
        "created_at": _now(),
    },
}


def _seeded_invoice_id(tenant_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(tenant_id, "seeded invoice")


def _seeded_payment_id(tenant_id: uuid.UUID) -> uuid.UUID:
    """The seeded payment, which the seeded provider payment and refund name."""
    return uuid.uuid5(tenant_id, "seeded payment")


ROW_BUILDERS |= {
    "provider_payments": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "payment_id": _seeded_payment_id(tenant_id),
        "invoice_id": _seeded_invoice_id(tenant_id),
        "provider": "stripe",
        "provider_payment_id": "pi_" + secrets.token_hex(8),
        "created_at": _now(),
    },
    "provider_refunds": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "id": uuid.uuid4(),
        "invoice_id": _seeded_invoice_id(tenant_id),
        "payment_id": _seeded_payment_id(tenant_id),
        "provider": "stripe",
        "provider_payment_id": "pi_" + secrets.token_hex(8),
        "amount": 200,
        "currency": "EUR",
        "status": "pending",
        "provider_refund_id": "re_" + secrets.token_hex(8),
        "created_at": _now(),
        "updated_at": _now(),
        "version": 1,
    },
}


def _sales_document(tenant_id: uuid.UUID, document_id: uuid.UUID) -> Row:
    return {
        "tenant_id": tenant_id,
        "id": document_id,
        "customer_id": uuid.uuid4(),
        "customer_name": "Grace Hopper",
        "currency": "EUR",
        "lines": Jsonb([]),
        "subtotal": 1000,
        "discount_total": 0,
        "net_total": 1000,
        "tax_total": 0,
        "total": 1000,
        "notes": "",
        "created_at": _now(),
        "updated_at": _now(),
        "version": 1,
    }


def _appointment_row(tenant_id: uuid.UUID, start: datetime) -> Row:
    end = start + timedelta(hours=1)
    return {
        "tenant_id": tenant_id,
        "id": uuid.uuid4(),
        "resource_id": _seeded_resource_id(tenant_id),
        "customer_id": uuid.uuid4(),
        "service": "Consultation",
        "starts_at": start,
        "ends_at": end,
        "blocked_from": start,
        "blocked_until": end,
        "status": "cancelled",  # never meets the optional no-overlap constraint
        "created_at": _now(),
        "updated_at": _now(),
    }


def _seeded_resource_id(tenant_id: uuid.UUID) -> uuid.UUID:
    """The seeded resource of a tenant, which its seeded override, appointment and feed name."""
    return uuid.uuid5(tenant_id, "seeded resource")


ROW_BUILDERS |= {
    "resources": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "id": _seeded_resource_id(tenant_id),
        "name": "Room 1",
        "kind": "room",
        "time_zone": "Europe/London",
        "working_hours": Jsonb({"monday": [["09:00", "17:00"]]}),
        "created_at": _now(),
        "updated_at": _now(),
    },
    "resource_overrides": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "resource_id": _seeded_resource_id(tenant_id),
        "day": (_now() + timedelta(days=secrets.randbelow(10_000))).date(),
        "intervals": Jsonb([]),
        "reason": "Holiday",
        "created_at": _now(),
        "updated_at": _now(),
    },
    "appointments": lambda tenant_id, _user_id: _appointment_row(tenant_id, _now() + timedelta(days=1)),
    "calendar_feeds": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "resource_id": _seeded_resource_id(tenant_id),
        "token_hash": secrets.token_hex(32),
        "created_at": _now(),
    },
}

# Parents before children; tenant tables are seeded in this order, then any others (which fail).
SEED_ORDER = (
    "tenants",
    "memberships",
    "refresh_tokens",
    "sessions",
    "customers",
    "idempotency_keys",
    "resources",
    "integrations",
    "resource_calendars",
    "voice_agents",
)


def _seeded_integration_id(tenant_id: uuid.UUID) -> uuid.UUID:
    """The seeded integration, which the seeded calendar links name."""
    return uuid.uuid5(tenant_id, "seeded integration")


ROW_BUILDERS |= {
    "resource_calendars": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "resource_id": _seeded_resource_id(tenant_id),
        "integration_id": _seeded_integration_id(tenant_id),
        "calendar_id": "primary",
        "created_at": _now(),
        "updated_at": _now(),
    },
    "calendar_busy_events": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "resource_id": _seeded_resource_id(tenant_id),
        "event_id": secrets.token_hex(10),
        "starts_at": _now(),
        "ends_at": _now() + timedelta(hours=1),
    },
    "calendar_event_links": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "appointment_id": uuid.uuid4(),
        "integration_id": _seeded_integration_id(tenant_id),
        "calendar_id": "primary",
        "event_id": secrets.token_hex(10),
        "starts_at": _now(),
        "ends_at": _now() + timedelta(hours=1),
        "appointment_version": 1,
        "updated_at": _now(),
    },
}


def _seeded_agent_id(tenant_id: uuid.UUID) -> uuid.UUID:
    """The seeded voice agent, which the seeded agent version names."""
    return uuid.uuid5(tenant_id, "seeded voice agent")


_AGENT_SETTINGS: Row = {
    "name": "Front desk",
    "voice_provider": "11labs",
    "voice_id": "rachel",
    "model_provider": "openai",
    "model": "gpt-4o-mini",
    "system_prompt": "Answer the phone.",
    "tools": ["find_customer"],
}

ROW_BUILDERS |= {
    "voice_agents": lambda tenant_id, _user_id: (
        _AGENT_SETTINGS
        | {
            "tenant_id": tenant_id,
            "id": _seeded_agent_id(tenant_id),
            "current_version": 1,
            "created_at": _now(),
            "updated_at": _now(),
        }
    ),
    "agent_versions": lambda tenant_id, user_id: (
        _AGENT_SETTINGS
        | {
            "tenant_id": tenant_id,
            "id": uuid.uuid4(),
            "agent_id": _seeded_agent_id(tenant_id),
            "number": 1 + secrets.randbelow(1_000_000),
            "created_by": user_id,
            "created_at": _now(),
        }
    ),
    "phone_numbers": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "id": uuid.uuid4(),
        "integration_id": _seeded_integration_id(tenant_id),
        "provider_id": secrets.token_hex(8),
        "number": f"+1{secrets.randbelow(10**10):010d}",
        "created_at": _now(),
        "updated_at": _now(),
    },
}

ROW_BUILDERS |= {
    "calls": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "id": uuid.uuid4(),
        "integration_id": _seeded_integration_id(tenant_id),
        "provider_call_id": secrets.token_hex(10),
        "direction": "inbound",
        "status": "ringing",
        "created_at": _now(),
        "updated_at": _now(),
    },
}

ROW_BUILDERS |= {
    "knowledge_files": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "id": uuid.uuid4(),
        "agent_id": _seeded_agent_id(tenant_id),
        "name": "prices.txt",
        "media_type": "text/plain",
        "size_bytes": 12,
        "sha256": secrets.token_hex(32),
        "storage_key": f"tenants/{tenant_id}/agents/{_seeded_agent_id(tenant_id)}/knowledge/x",
        "status": "processing",
        "extracted_text": "Check-up: 50",
        "text_length": 12,
        "text_truncated": False,
        "created_at": _now(),
        "updated_at": _now(),
    },
}

ROW_BUILDERS |= {
    "sms_messages": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "id": uuid.uuid4(),
        "direction": "inbound",
        "from_number": "+14155550123",
        "to_number": "+14155550100",
        "body": "Is Thursday still on?",
        "status": "received",
        "provider": "twilio",
        "provider_message_id": "SM" + secrets.token_hex(16),
        "created_at": _now(),
        "updated_at": _now(),
    },
    "sms_opt_outs": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "id": uuid.uuid4(),
        "phone": f"+1{secrets.randbelow(10**10):010d}",
        "keyword": "STOP",
        "opted_out_at": _now(),
    },
}

ROW_BUILDERS |= {
    "avatar_videos": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "id": uuid.uuid4(),
        "integration_id": uuid.uuid4(),
        "provider": "heygen",
        "title": "Welcome",
        "script": "Hello from the seed",
        "avatar_id": "Angela-inTshirt-20220820",
        "voice_id": "1bd001e7e50f421d891986aad5158bc8",
        "width": 1280,
        "height": 720,
        "status": "queued",
        "request_key": secrets.token_hex(8),
        "created_at": _now(),
        "updated_at": _now(),
    },
    "avatar_catalogs": lambda tenant_id, _user_id: {
        "tenant_id": tenant_id,
        "kind": "avatars",
        "integration_id": uuid.uuid4(),
        "fetched_at": _now(),
        "items": Jsonb([{"id": "a1", "name": "Ada"}]),
    },
}

# One fresh, valid row per table that belongs to a person rather than a tenant (a user_id and no
# tenant_id): row-level security shows such a row only while acting as that person.
PERSONAL_ROW_BUILDERS: dict[str, Callable[[uuid.UUID], Row]] = {
    "mfa_factors": lambda user_id: {
        "user_id": user_id,
        "sealed_secret": b"sealed",
        "created_at": _now(),
        "confirmed_at": _now(),
        "last_used_step": 1,
    },
    "recovery_codes": lambda user_id: {"user_id": user_id, "code_hash": secrets.token_hex(32)},
    "account_tokens": lambda user_id: {
        "id": uuid.uuid4(),
        "user_id": user_id,
        "purpose": "reset_password",
        "token_hash": secrets.token_hex(32),
        "email": "owner@example.com",
        "created_at": _now(),
        "expires_at": _now() + timedelta(hours=1),
    },
    "external_identities": lambda user_id: {
        "provider": "google",
        "subject": secrets.token_hex(12),
        "user_id": user_id,
        "email": "owner@example.com",
        "created_at": _now(),
    },
}


def catalog_personal_tables(conn: Connection) -> list[str]:
    """Every base table in public with a user_id column and no tenant_id column."""
    rows = conn.execute(
        """
        SELECT t.table_name
        FROM information_schema.tables t
        WHERE t.table_schema = 'public' AND t.table_type = 'BASE TABLE'
          AND EXISTS (SELECT 1 FROM information_schema.columns c WHERE c.table_schema = 'public'
                      AND c.table_name = t.table_name AND c.column_name = 'user_id')
          AND NOT EXISTS (SELECT 1 FROM information_schema.columns c WHERE c.table_schema = 'public'
                          AND c.table_name = t.table_name AND c.column_name = 'tenant_id')
        ORDER BY 1
        """
    ).fetchall()
    return [row["table_name"] for row in rows]


def tenant_column(table: str) -> str:
    return "id" if table == "tenants" else "tenant_id"


def catalog_tenant_tables(conn: Connection) -> list[str]:
    """``tenants`` plus every base table in public with a tenant_id column, from the catalog."""
    rows = conn.execute(
        """
        SELECT c.table_name
        FROM information_schema.columns c
        JOIN information_schema.tables t USING (table_schema, table_name)
        WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE'
        ORDER BY c.table_name
        """
    ).fetchall()
    return ["tenants", *(row["table_name"] for row in rows)]


@contextmanager
def scoped(
    conn: Connection, tenant_id: object = None, user_id: object = None, *, commit: bool = False
) -> Iterator[Connection]:
    """One transaction scoped like the application's; rolled back unless ``commit``.

    With neither tenant nor user given, set_config is not called at all.
    """
    with conn.transaction(force_rollback=not commit):
        if tenant_id is not None or user_id is not None:
            conn.execute(SET_SCOPE, (_text(tenant_id), _text(user_id)))
        yield conn


def _text(value: object) -> str:
    return "" if value is None else str(value)


def insert(conn: Connection, table: str, row: Row) -> int:
    statement = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, row)),
        sql.SQL(", ").join(sql.Placeholder() * len(row)),
    )
    return conn.execute(statement, list(row.values())).rowcount


def insert_user(conn: Connection, user_id: uuid.UUID, email: str, password_hash: str) -> int:
    return insert(
        conn,
        "users",
        {
            "id": user_id,
            "email": email,
            "name": "Ada",
            "password_hash": password_hash,
            "created_at": _now(),
            "updated_at": _now(),
        },
    )


def count(conn: Connection, table: str, where: str = "true", params: tuple[object, ...] = ()) -> int:
    statement = sql.SQL("SELECT count(*) AS n FROM {} WHERE ").format(sql.Identifier(table)) + sql.SQL(where)
    row = conn.execute(statement, params).fetchone()
    assert row is not None
    return int(row["n"])


def of_tenant(table: str) -> str:
    return f"{tenant_column(table)} = %s"


def insert_outcome(conn: Connection, table: str, row: Row, tenant_id: object, user_id: object = None) -> str:
    try:
        with scoped(conn, tenant_id, user_id):
            insert(conn, table, row)
    except errors.InsufficientPrivilege as error:
        return "rejected by row-level security" if RLS_VIOLATION in str(error) else repr(error)
    except psycopg.Error as error:
        return repr(error)
    return "inserted"


def _seed_tenant(conn: Connection, tables: list[str]) -> SeededTenant:
    tenant_id, owner_id = uuid.uuid4(), uuid.uuid4()
    email = f"owner-{owner_id.hex[:12]}@example.com"
    password_hash = f"$argon2id$v=19$m=19456,t=2,p=1$seed${owner_id.hex}"
    rows = {table: ROW_BUILDERS[table](tenant_id, owner_id) for table in tables if table in ROW_BUILDERS}
    ordered = [t for t in SEED_ORDER if t in tables] + [t for t in tables if t not in SEED_ORDER]
    with scoped(conn, tenant_id, owner_id, commit=True):
        for table in ordered:
            if table == "memberships":  # the account must exist before it can join
                insert_user(conn, owner_id, email, password_hash)
            assert table in rows, f"no row builder for tenant table {table!r}: add one to ROW_BUILDERS"
            assert insert(conn, table, rows[table]) == 1
    return SeededTenant(
        id=tenant_id,
        owner_id=owner_id,
        owner_email=email,
        owner_password_hash=password_hash,
        token_hash=rows["refresh_tokens"]["token_hash"],
        customer_id=rows["customers"]["id"],
        session_id=rows["sessions"]["id"],
        invitation_id=rows["invitations"]["id"],
        invitation_token_hash=rows["invitations"]["token_hash"],
        api_key_id=rows["api_keys"]["id"],
        api_key_secret_hash=rows["api_keys"]["secret_hash"],
    )


@pytest.fixture(scope="module")
def seed(database: Database) -> Seed:
    with psycopg.connect(database.owner_url, row_factory=dict_row) as owner:
        tables = catalog_tenant_tables(owner)
    with psycopg.connect(database.app_url, autocommit=True, row_factory=dict_row) as conn:
        a = _seed_tenant(conn, tables)
        b = _seed_tenant(conn, tables)
        fellow_id = uuid.uuid4()
        with scoped(conn, a.id, fellow_id, commit=True):
            insert_user(conn, fellow_id, f"fellow-{fellow_id.hex[:12]}@example.com", "hash")
            insert(conn, "memberships", ROW_BUILDERS["memberships"](a.id, fellow_id) | {"role": "member"})
    return Seed(a=a, b=b, fellow_id=fellow_id, tables=tables)


@pytest.fixture
def conn(database: Database) -> Iterator[Connection]:
    """A connection as the application role; transactions are opened explicitly with ``scoped``."""
    with psycopg.connect(database.app_url, autocommit=True, row_factory=dict_row) as connection:
        yield connection


def test_the_tenant_tables_come_from_the_catalog_and_each_has_a_row_builder(seed: Seed) -> None:
    assert seed.tables
    assert "customers" in seed.tables
    assert sorted(seed.tables) == sorted(ROW_BUILDERS), "every tenant table needs a seed row builder"


def test_every_tenant_is_seeded_with_a_row_in_every_tenant_table(conn: Connection, seed: Seed) -> None:
    for tenant in (seed.a, seed.b):
        with scoped(conn, tenant.id, tenant.owner_id):
            own = {table: count(conn, table, of_tenant(table), (tenant.id,)) for table in seed.tables}
        assert all(n >= 1 for n in own.values()), own


NO_TENANT_SET = pytest.mark.parametrize(
    "unset", ["never_set", "set_to_empty_string"], ids=["no-set_config", "empty-tenant-id"]
)


def _no_tenant(unset: str) -> tuple[object, object]:
    """Arguments for ``scoped``: nothing at all, or both settings set to ''."""
    return (None, None) if unset == "never_set" else ("", "")


@NO_TENANT_SET
def test_with_no_tenant_set_every_tenant_table_reads_no_rows(
    conn: Connection, seed: Seed, unset: str
) -> None:
    with scoped(conn, *_no_tenant(unset)):
        if unset == "never_set":
            setting = conn.execute("SELECT current_setting('app.tenant_id', true) AS t").fetchone()
            assert setting is not None
            assert setting["t"] in (None, "")
        visible = {table: count(conn, table) for table in seed.tables}
    assert visible == dict.fromkeys(seed.tables, 0)


@NO_TENANT_SET
def test_with_no_tenant_set_every_tenant_table_rejects_inserts(
    conn: Connection, seed: Seed, unset: str
) -> None:
    tenant_id, user_id = _no_tenant(unset)
    outcomes = {
        table: insert_outcome(
            conn, table, ROW_BUILDERS[table](seed.a.id, seed.a.owner_id), tenant_id, user_id
        )
        for table in seed.tables
    }
    assert outcomes == dict.fromkeys(seed.tables, "rejected by row-level security")


@NO_TENANT_SET
def test_with_no_tenant_or_user_set_no_account_is_visible_or_insertable(
    conn: Connection, seed: Seed, unset: str
) -> None:
    with scoped(conn, *_no_tenant(unset)):
        assert count(conn, "users") == 0
    with pytest.raises(errors.InsufficientPrivilege, match=RLS_VIOLATION), scoped(conn, *_no_tenant(unset)):
        insert_user(conn, uuid.uuid4(), f"nobody-{uuid.uuid4().hex}@example.com", "hash")


def test_with_tenant_a_set_no_row_of_tenant_b_is_visible(conn: Connection, seed: Seed) -> None:
    a, b = seed.a, seed.b
    with scoped(conn, a.id, a.owner_id):
        of_b = {table: count(conn, table, of_tenant(table), (b.id,)) for table in seed.tables}
        not_of_a = {
            table: count(conn, table, f"{tenant_column(table)} IS DISTINCT FROM %s", (a.id,))
            for table in seed.tables
        }
        of_a = {table: count(conn, table, of_tenant(table), (a.id,)) for table in seed.tables}
    assert of_b == dict.fromkeys(seed.tables, 0)
    assert not_of_a == dict.fromkeys(seed.tables, 0)
    assert all(n >= 1 for n in of_a.values()), of_a


# Logs the application may add to but never rewrite: it has no UPDATE or DELETE on them at all.
APPEND_ONLY_TABLES = {"audit_events", "feature_flag_changes", "webhook_deliveries", "payments"}


def changeable(conn: Connection, tables: list[str]) -> list[str]:
    """The tenant tables the application role may update, read from the catalog."""
    return [
        table
        for table in tables
        if conn.execute("SELECT has_table_privilege(%s, %s, 'UPDATE') AS may", (APP_ROLE, table)).fetchone()[
            "may"
        ]
    ]


def test_the_append_only_tables_are_exactly_the_known_logs(conn: Connection, seed: Seed) -> None:
    assert set(seed.tables) - set(changeable(conn, seed.tables)) == APPEND_ONLY_TABLES


def test_append_only_tables_refuse_updates_and_deletes_even_of_the_tenants_own_rows(
    conn: Connection, seed: Seed
) -> None:
    a = seed.a
    for table in sorted(APPEND_ONLY_TABLES):
        for statement in ("UPDATE {t} SET tenant_id = tenant_id", "DELETE FROM {t}"):
            with scoped(conn, a.id, a.owner_id), pytest.raises(errors.InsufficientPrivilege):
                conn.execute(sql.SQL(statement).format(t=sql.Identifier(table)))


def test_with_tenant_a_set_updates_and_deletes_of_tenant_b_rows_affect_nothing(
    conn: Connection, seed: Seed
) -> None:
    a, b = seed.a, seed.b
    with scoped(conn, b.id, b.owner_id):
        b_before = {table: count(conn, table, of_tenant(table), (b.id,)) for table in seed.tables}

    touched: dict[str, tuple[int, int]] = {}
    own_updated: dict[str, int] = {}
    tables = changeable(conn, seed.tables)
    for table in tables:
        column = sql.Identifier(tenant_column(table))
        update = sql.SQL("UPDATE {t} SET {c} = {c} WHERE {c} = %s").format(t=sql.Identifier(table), c=column)
        delete = sql.SQL("DELETE FROM {t} WHERE {c} = %s").format(t=sql.Identifier(table), c=column)
        with scoped(conn, a.id, a.owner_id):
            touched[table] = (conn.execute(update, (b.id,)).rowcount, conn.execute(delete, (b.id,)).rowcount)
        with scoped(conn, a.id, a.owner_id):  # the same statement does reach the tenant's own rows
            own_updated[table] = conn.execute(update, (a.id,)).rowcount

    with scoped(conn, b.id, b.owner_id):
        b_after = {table: count(conn, table, of_tenant(table), (b.id,)) for table in seed.tables}
    assert touched == dict.fromkeys(tables, (0, 0))
    assert all(n >= 1 for n in own_updated.values()), own_updated
    assert b_after == b_before


def test_with_tenant_a_set_rows_for_tenant_b_cannot_be_inserted(conn: Connection, seed: Seed) -> None:
    a, b = seed.a, seed.b
    outcomes = {
        table: insert_outcome(conn, table, ROW_BUILDERS[table](b.id, b.owner_id), a.id, a.owner_id)
        for table in seed.tables
    }
    assert outcomes == dict.fromkeys(seed.tables, "rejected by row-level security")


def test_with_tenant_a_set_its_rows_cannot_be_moved_to_tenant_b(conn: Connection, seed: Seed) -> None:
    a, b = seed.a, seed.b
    outcomes: dict[str, str] = {}
    tables = changeable(conn, seed.tables)
    for table in tables:
        update = sql.SQL("UPDATE {t} SET {c} = %s WHERE {c} = %s").format(
            t=sql.Identifier(table), c=sql.Identifier(tenant_column(table))
        )
        try:
            with scoped(conn, a.id, a.owner_id):
                conn.execute(update, (b.id, a.id))
            outcomes[table] = "moved"
        except errors.InsufficientPrivilege as error:
            outcomes[table] = "rejected by row-level security" if RLS_VIOLATION in str(error) else repr(error)
    assert outcomes == dict.fromkeys(tables, "rejected by row-level security")


def test_with_tenant_a_set_a_foreign_key_cannot_point_at_a_row_of_tenant_b(
    conn: Connection, seed: Seed
) -> None:
    a, b = seed.a, seed.b
    # The token's foreign key is (tenant_id, user_id): tenant A's token for B's member would need
    # the membership (A, b.owner), which does not exist; B's membership is out of reach.
    token_for_b_member = ROW_BUILDERS["refresh_tokens"](a.id, b.owner_id)
    with (
        pytest.raises(errors.ForeignKeyViolation, match="refresh_tokens_membership_fkey"),
        scoped(conn, a.id, a.owner_id),
    ):
        insert(conn, "refresh_tokens", token_for_b_member)

    with scoped(conn, a.id, a.owner_id):  # the same rows within tenant A are fine
        assert insert(conn, "refresh_tokens", ROW_BUILDERS["refresh_tokens"](a.id, a.owner_id)) == 1
        assert insert(conn, "customers", ROW_BUILDERS["customers"](a.id, a.owner_id)) == 1


def test_with_tenant_a_set_an_id_used_by_tenant_b_is_free_so_its_existence_does_not_leak(
    conn: Connection, seed: Seed
) -> None:
    a, b = seed.a, seed.b
    same_id_as_bs_customer = ROW_BUILDERS["customers"](a.id, a.owner_id) | {"id": b.customer_id}
    with scoped(conn, a.id, a.owner_id):
        assert insert(conn, "customers", same_id_as_bs_customer) == 1


@pytest.mark.parametrize("end", ["commit", "rollback"])
async def test_the_tenant_setting_does_not_survive_into_the_next_transaction_on_a_pooled_connection(
    database: Database, seed: Seed, end: str
) -> None:
    pool: AsyncConnectionPool[psycopg.AsyncConnection[dict[str, Any]]] = AsyncConnectionPool(
        database.app_url, min_size=1, max_size=1, open=False, kwargs={"row_factory": dict_row}
    )
    await pool.open(wait=True)
    try:
        async with pool.connection() as conn:
            await conn.execute(SET_SCOPE, (str(seed.a.id), str(seed.a.owner_id)))
            cursor = await conn.execute("SELECT count(*) AS n, pg_backend_pid() AS pid FROM customers")
            scoped_read = await cursor.fetchone()
            await (conn.commit() if end == "commit" else conn.rollback())

            # The next transaction on the very same connection, with no set_config.
            cursor = await conn.execute(
                "SELECT (SELECT count(*) FROM customers) AS n, current_setting('app.tenant_id', true) AS t"
            )
            same_connection = await cursor.fetchone()
            await conn.rollback()

        async with pool.connection() as conn:  # back to the pool and out again: still the one
            cursor = await conn.execute(
                "SELECT (SELECT count(*) FROM customers) AS n, current_setting('app.tenant_id', true) AS t,"
                " pg_backend_pid() AS pid"
            )
            next_checkout = await cursor.fetchone()
    finally:
        await pool.close()

    assert scoped_read is not None
    assert same_connection is not None
    assert next_checkout is not None
    assert scoped_read["n"] >= 1
    assert next_checkout["pid"] == scoped_read["pid"]
    assert same_connection["n"] == 0
    assert same_connection["t"] in ("", None)
    assert next_checkout["n"] == 0
    assert next_checkout["t"] in ("", None)


def test_a_member_sees_their_own_account_and_fellow_members_but_not_users_of_other_tenants(
    conn: Connection, seed: Seed
) -> None:
    a, b = seed.a, seed.b
    wanted = [a.owner_id, seed.fellow_id, b.owner_id]
    with scoped(conn, a.id, a.owner_id):
        rows = conn.execute("SELECT id FROM users WHERE id = ANY(%s)", (wanted,)).fetchall()
    assert {row["id"] for row in rows} == {a.owner_id, seed.fellow_id}


def test_a_user_can_update_only_their_own_account(conn: Connection, seed: Seed) -> None:
    a, b = seed.a, seed.b
    rename = "UPDATE users SET name = 'Mallory' WHERE id = %s"
    with scoped(conn, a.id, a.owner_id):
        other_tenant = conn.execute(rename, (b.owner_id,)).rowcount
        fellow_member = conn.execute(rename, (seed.fellow_id,)).rowcount
        themself = conn.execute(rename, (a.owner_id,)).rowcount
    assert (other_tenant, fellow_member, themself) == (0, 0, 1)


def test_a_user_cannot_create_an_account_other_than_their_own(conn: Connection, seed: Seed) -> None:
    with (
        pytest.raises(errors.InsufficientPrivilege, match=RLS_VIOLATION),
        scoped(conn, seed.a.id, seed.a.owner_id),
    ):
        insert_user(conn, uuid.uuid4(), f"someone-{uuid.uuid4().hex}@example.com", "hash")


@pytest.mark.parametrize("scope", ["no-tenant", "tenant-a"])
def test_the_app_role_finds_logins_and_refresh_tokens_of_any_tenant_through_the_directory(
    conn: Connection, seed: Seed, scope: str
) -> None:
    a, b = seed.a, seed.b
    tenant_id, user_id = (None, None) if scope == "no-tenant" else (a.id, a.owner_id)
    with scoped(conn, tenant_id, user_id):
        login = conn.execute("SELECT * FROM directory_find_login(%s)", (b.owner_email,)).fetchall()
        token = conn.execute("SELECT * FROM directory_find_refresh_token(%s)", (b.token_hash,)).fetchall()
        unknown = conn.execute("SELECT * FROM directory_find_login(%s)", ("nobody@example.com",)).fetchall()
    assert login == [{"user_id": b.owner_id, "password_hash": b.owner_password_hash, "tenant_ids": [b.id]}]
    assert token == [{"tenant_id": b.id, "user_id": b.owner_id}]
    assert unknown == []


def test_the_app_role_cannot_read_any_password_hash_not_even_its_own(conn: Connection, seed: Seed) -> None:
    a = seed.a
    with scoped(conn, a.id, a.owner_id), pytest.raises(errors.InsufficientPrivilege):
        conn.execute("SELECT password_hash FROM users WHERE id = %s", (a.owner_id,))


def test_the_app_role_cannot_read_the_tokens_of_another_tenant_directly(conn: Connection, seed: Seed) -> None:
    a, b = seed.a, seed.b
    with scoped(conn, a.id, a.owner_id):
        tokens = conn.execute(
            "SELECT * FROM refresh_tokens WHERE token_hash = %s", (b.token_hash,)
        ).fetchall()
    assert tokens == []


def test_the_app_role_cannot_become_the_directory_role(conn: Connection) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(DIRECTORY_ROLE)))


def test_the_app_role_cannot_redefine_a_directory_function(conn: Connection) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        conn.execute(
            """
            CREATE OR REPLACE FUNCTION public.directory_find_refresh_token(p_token_hash text)
            RETURNS TABLE (tenant_id uuid, user_id uuid)
            LANGUAGE sql STABLE SECURITY DEFINER AS $$ SELECT NULL::uuid, NULL::uuid $$
            """
        )


# --- rows that belong to a person, not to a tenant ----------------------------------------------


@dataclass(frozen=True)
class Personal:
    """One row in every person-owned table, all of tenant A's owner."""

    user_id: uuid.UUID
    tables: list[str]  # every person-owned table, from the catalog
    rows: dict[str, Row]


@pytest.fixture(scope="module")
def personal(database: Database, seed: Seed) -> Personal:
    with psycopg.connect(database.owner_url, row_factory=dict_row) as owner:
        tables = catalog_personal_tables(owner)
    user_id = seed.a.owner_id
    rows = {
        table: PERSONAL_ROW_BUILDERS[table](user_id) for table in tables if table in PERSONAL_ROW_BUILDERS
    }
    with (
        psycopg.connect(database.app_url, autocommit=True, row_factory=dict_row) as conn,
        scoped(conn, "", user_id, commit=True),  # no tenant: as sign-up and sign-in act
    ):
        for table in tables:
            assert table in rows, f"no row builder for {table!r}: add one to PERSONAL_ROW_BUILDERS"
            assert insert(conn, table, rows[table]) == 1
    return Personal(user_id=user_id, tables=tables, rows=rows)


def test_the_person_owned_tables_come_from_the_catalog_and_each_has_a_row_builder(
    personal: Personal,
) -> None:
    assert {"mfa_factors", "recovery_codes", "account_tokens", "external_identities"} <= set(personal.tables)
    assert sorted(personal.tables) == sorted(PERSONAL_ROW_BUILDERS)


@pytest.mark.parametrize("tenant", ["no-tenant", "own-tenant"])
def test_a_person_sees_their_own_rows_with_or_without_a_tenant(
    conn: Connection, seed: Seed, personal: Personal, tenant: str
) -> None:
    with scoped(conn, "" if tenant == "no-tenant" else seed.a.id, personal.user_id):
        own = {table: count(conn, table, "user_id = %s", (personal.user_id,)) for table in personal.tables}
    assert own == dict.fromkeys(personal.tables, 1)


@pytest.mark.parametrize(
    "who", ["fellow-member-same-tenant", "member-of-another-tenant", "another-person-no-tenant"]
)
def test_a_persons_rows_are_invisible_to_anyone_else(
    conn: Connection, seed: Seed, personal: Personal, who: str
) -> None:
    tenant_id, user_id = {
        "fellow-member-same-tenant": (seed.a.id, seed.fellow_id),
        "member-of-another-tenant": (seed.b.id, seed.b.owner_id),
        "another-person-no-tenant": ("", seed.b.owner_id),
    }[who]
    with scoped(conn, tenant_id, user_id):
        theirs = {table: count(conn, table, "user_id = %s", (personal.user_id,)) for table in personal.tables}
        not_own = {
            table: count(conn, table, "user_id IS DISTINCT FROM %s", (user_id,)) for table in personal.tables
        }
    assert theirs == dict.fromkeys(personal.tables, 0)
    assert not_own == dict.fromkeys(personal.tables, 0)


@pytest.mark.parametrize("scope", ["no-set_config", "empty-tenant-and-user", "tenant-but-no-user"])
def test_with_no_user_set_no_person_owned_row_is_visible(
    conn: Connection, seed: Seed, personal: Personal, scope: str
) -> None:
    tenant_id, user_id = {
        "no-set_config": (None, None),
        "empty-tenant-and-user": ("", ""),
        "tenant-but-no-user": (seed.a.id, ""),
    }[scope]
    with scoped(conn, tenant_id, user_id):
        visible = {table: count(conn, table) for table in personal.tables}
    assert visible == dict.fromkeys(personal.tables, 0)


@pytest.mark.parametrize("scope", ["another-person", "no-user"])
def test_rows_cannot_be_inserted_for_another_person(
    conn: Connection, seed: Seed, personal: Personal, scope: str
) -> None:
    tenant_id, user_id = (seed.b.id, seed.b.owner_id) if scope == "another-person" else ("", "")
    outcomes = {
        table: insert_outcome(conn, table, PERSONAL_ROW_BUILDERS[table](personal.user_id), tenant_id, user_id)
        for table in personal.tables
    }
    assert outcomes == dict.fromkeys(personal.tables, "rejected by row-level security")


def test_a_persons_rows_cannot_be_changed_deleted_or_taken_over_by_anyone_else(
    conn: Connection, seed: Seed, personal: Personal
) -> None:
    touched: dict[str, tuple[int, int]] = {}
    for table in personal.tables:
        update = sql.SQL("UPDATE {} SET user_id = user_id WHERE user_id = %s").format(sql.Identifier(table))
        delete = sql.SQL("DELETE FROM {} WHERE user_id = %s").format(sql.Identifier(table))
        with scoped(conn, seed.a.id, seed.fellow_id):
            touched[table] = (
                conn.execute(update, (personal.user_id,)).rowcount,
                conn.execute(delete, (personal.user_id,)).rowcount,
            )
    assert touched == dict.fromkeys(personal.tables, (0, 0))

    moved: dict[str, str] = {}
    for table in personal.tables:
        give_away = sql.SQL("UPDATE {} SET user_id = %s WHERE user_id = %s").format(sql.Identifier(table))
        try:
            with scoped(conn, "", personal.user_id):
                conn.execute(give_away, (seed.fellow_id, personal.user_id))
            moved[table] = "moved"
        except errors.InsufficientPrivilege as error:
            moved[table] = "rejected by row-level security" if RLS_VIOLATION in str(error) else repr(error)
    assert moved == dict.fromkeys(personal.tables, "rejected by row-level security")

    with scoped(conn, "", personal.user_id):
        still = {table: count(conn, table, "user_id = %s", (personal.user_id,)) for table in personal.tables}
    assert still == dict.fromkeys(personal.tables, 1)


# --- the audit log ------------------------------------------------------------------------------


def test_the_app_role_appends_to_and_reads_the_audit_log_but_never_rewrites_it(
    conn: Connection, seed: Seed
) -> None:
    a = seed.a
    entry = ROW_BUILDERS["audit_events"](a.id, a.owner_id)
    with scoped(conn, a.id, a.owner_id, commit=True):
        assert insert(conn, "audit_events", entry) == 1
    with scoped(conn, a.id, a.owner_id):
        assert count(conn, "audit_events", "id = %s", (entry["id"],)) == 1
    for statement in (
        "UPDATE audit_events SET action = 'customer.deleted' WHERE id = %s",
        "UPDATE audit_events SET changes = '{}' WHERE id = %s",
        "DELETE FROM audit_events WHERE id = %s",
    ):
        with scoped(conn, a.id, a.owner_id), pytest.raises(errors.InsufficientPrivilege):
            conn.execute(statement, (entry["id"],))
    with scoped(conn, a.id, a.owner_id), pytest.raises(errors.InsufficientPrivilege):
        conn.execute("TRUNCATE audit_events")
    with scoped(conn, a.id, a.owner_id):
        row = conn.execute("SELECT action FROM audit_events WHERE id = %s", (entry["id"],)).fetchone()
    assert row == {"action": "customer.created"}


# --- the directory's new lookups ----------------------------------------------------------------


@dataclass(frozen=True)
class LiveSession:
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    session_id: uuid.UUID
    api_key_secret_hash: str


def _tenant_with_a_live_session(conn: Connection) -> LiveSession:
    """A fresh tenant whose owner has one live session and the tenant one API key."""
    tenant_id, user_id = uuid.uuid4(), uuid.uuid4()
    session = ROW_BUILDERS["sessions"](tenant_id, user_id)
    key = ROW_BUILDERS["api_keys"](tenant_id, user_id)
    with scoped(conn, tenant_id, user_id, commit=True):
        insert(conn, "tenants", ROW_BUILDERS["tenants"](tenant_id, user_id))
        insert_user(conn, user_id, f"owner-{user_id.hex[:12]}@example.com", "hash")
        insert(conn, "memberships", ROW_BUILDERS["memberships"](tenant_id, user_id))
        insert(conn, "sessions", session)
        insert(conn, "api_keys", key)
    return LiveSession(tenant_id, user_id, session["id"], key["secret_hash"])


def check_session(conn: Connection, tenant_id: object, user_id: object, session_id: object) -> str | None:
    row = conn.execute(
        "SELECT directory_check_session(%s, %s, %s) AS role", (tenant_id, user_id, session_id)
    ).fetchone()
    assert row is not None
    return row["role"]


# What ends a session: each statement runs as the application role in the session's tenant.
SESSION_ENDINGS = {
    "suspended-tenant": "UPDATE tenants SET status = 'suspended' WHERE id = %(tenant_id)s",
    "revoked-session": "UPDATE sessions SET revoked_at = now() WHERE id = %(session_id)s",
    "removed-member": "DELETE FROM memberships WHERE user_id = %(user_id)s",
}


@pytest.mark.parametrize("ending", sorted(SESSION_ENDINGS))
def test_directory_check_session_answers_the_role_of_a_live_session_and_none_once_it_ends(
    conn: Connection, seed: Seed, ending: str
) -> None:
    live = _tenant_with_a_live_session(conn)
    params = {"tenant_id": live.tenant_id, "user_id": live.user_id, "session_id": live.session_id}
    with scoped(conn, seed.a.id, seed.a.owner_id):  # from another tenant's scope: it crosses
        before = check_session(conn, live.tenant_id, live.user_id, live.session_id)
        wrong_tenant = check_session(conn, seed.b.id, live.user_id, live.session_id)
        wrong_user = check_session(conn, live.tenant_id, seed.b.owner_id, live.session_id)
        unknown_session = check_session(conn, live.tenant_id, live.user_id, uuid.uuid4())

    with scoped(conn, live.tenant_id, live.user_id, commit=True):
        assert conn.execute(SESSION_ENDINGS[ending], params).rowcount == 1

    with scoped(conn):
        after = check_session(conn, live.tenant_id, live.user_id, live.session_id)
        key = conn.execute(
            "SELECT key_id, tenant_active FROM directory_find_api_key(%s)", (live.api_key_secret_hash,)
        ).fetchone()
    assert (before, wrong_tenant, wrong_user, unknown_session) == ("owner", None, None, None)
    assert after is None
    assert key is not None
    assert key["tenant_active"] is (ending != "suspended-tenant")
    if ending == "removed-member":  # the membership took its sessions with it
        with scoped(conn, live.tenant_id, live.user_id):
            assert count(conn, "sessions", "user_id = %s", (live.user_id,)) == 0


@pytest.mark.parametrize("scope", ["no-tenant", "tenant-a"])
def test_the_app_role_finds_invitations_keys_mailed_tokens_and_linked_identities_through_the_directory(
    conn: Connection, seed: Seed, personal: Personal, scope: str
) -> None:
    b = seed.b
    tenant_id, user_id = (None, None) if scope == "no-tenant" else (seed.a.id, seed.fellow_id)
    token = personal.rows["account_tokens"]
    identity = personal.rows["external_identities"]
    with scoped(conn, tenant_id, user_id):
        invitation = conn.execute(
            "SELECT * FROM directory_find_invitation(%s)", (b.invitation_token_hash,)
        ).fetchall()
        key = conn.execute("SELECT * FROM directory_find_api_key(%s)", (b.api_key_secret_hash,)).fetchall()
        token_owner = conn.execute(
            "SELECT directory_find_account_token(%s) AS user_id", (token["token_hash"],)
        ).fetchone()
        identity_owner = conn.execute(
            "SELECT directory_find_external_identity(%s, %s) AS user_id",
            (identity["provider"], identity["subject"]),
        ).fetchone()
        unknown = conn.execute(
            """
            SELECT (SELECT count(*) FROM directory_find_invitation('nope')) AS invitations,
                   (SELECT count(*) FROM directory_find_api_key('nope')) AS keys,
                   directory_find_account_token('nope') AS token_owner,
                   directory_find_external_identity('google', 'nope') AS identity_owner
            """
        ).fetchone()
        # ... and none of those rows is readable directly.
        direct = {
            "invitations": count(conn, "invitations", "token_hash = %s", (b.invitation_token_hash,)),
            "api_keys": count(conn, "api_keys", "secret_hash = %s", (b.api_key_secret_hash,)),
            "account_tokens": count(conn, "account_tokens", "token_hash = %s", (token["token_hash"],)),
        }
    assert invitation == [{"tenant_id": b.id, "invitation_id": b.invitation_id}]
    assert [(row["key_id"], row["tenant_id"], row["scopes"], row["tenant_active"]) for row in key] == [
        (b.api_key_id, b.id, {"customers": "read"}, True)
    ]
    assert token_owner == {"user_id": personal.user_id}
    assert identity_owner == {"user_id": personal.user_id}
    assert unknown == {"invitations": 0, "keys": 0, "token_owner": None, "identity_owner": None}
    assert direct == {"invitations": 0, "api_keys": 0, "account_tokens": 0}


def test_directory_find_api_key_notes_the_key_as_used_at_most_once_a_minute(conn: Connection) -> None:
    live = _tenant_with_a_live_session(conn)

    def last_used() -> datetime | None:
        with scoped(conn, live.tenant_id, live.user_id):
            row = conn.execute(
                "SELECT last_used_at FROM api_keys WHERE secret_hash = %s", (live.api_key_secret_hash,)
            ).fetchone()
        assert row is not None
        return row["last_used_at"]

    lookup = "SELECT key_id FROM directory_find_api_key(%s)"
    assert last_used() is None
    conn.execute(lookup, (live.api_key_secret_hash,))  # autocommit: as the server calls it
    first = last_used()
    conn.execute(lookup, (live.api_key_secret_hash,))
    assert first is not None
    assert last_used() == first


def test_directory_list_tenants_pages_every_tenant_newest_first_with_member_counts(
    conn: Connection, seed: Seed
) -> None:
    with scoped(conn, seed.a.id, seed.a.owner_id):
        everyone = conn.execute("SELECT * FROM directory_list_tenants(NULL, NULL, NULL, 1000000)").fetchall()
        first = conn.execute("SELECT * FROM directory_list_tenants(NULL, NULL, NULL, 1)").fetchall()
        after_first = conn.execute(
            "SELECT * FROM directory_list_tenants(NULL, %s, %s, 1)", (first[0]["created_at"], first[0]["id"])
        ).fetchall()
        suspended = conn.execute(
            "SELECT * FROM directory_list_tenants('suspended', NULL, NULL, 1000000)"
        ).fetchall()
    members = {row["id"]: row["members"] for row in everyone}
    assert (members[seed.a.id], members[seed.b.id]) == (2, 1)
    order = [(row["created_at"], row["id"]) for row in everyone]
    assert order == sorted(order, reverse=True)
    assert [row["id"] for row in first + after_first] == [row["id"] for row in everyone[:2]]
    assert {row["status"] for row in suspended} <= {"suspended"}
