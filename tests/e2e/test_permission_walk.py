"""Every role, every API key scope and impersonation, walked against every tenant route: the
permission table (as GET /v1/team/permissions serves it) is what the server does.

The routes come from the application's URL map, so a new route cannot be forgotten: each one
under /v1 is either classified below by the table action it needs or listed as not a tenant
route (public sign-in, platform administration, incoming provider webhooks).
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from switchboard.core.scheduling.model import WEEKDAYS
from switchboard.core.tenancy.model import Role
from switchboard.core.tenancy.permissions import PERMISSIONS, SCOPE_FAMILIES, Action
from switchboard.entrypoints.http.blueprints.team import PermissionsOut
from tests.e2e.helpers import PASSWORD, conforms, create_customer, expect_problem, sign_up, unique_email
from tests.e2e.team_helpers import (
    Person,
    bearer,
    claims_of,
    impersonation_token,
    join,
    new_password,
    own_address,
    person_of,
    platform_admin,
)

# Routes the table does not govern, and who may call them.
SIGNED_IN_USER = "any signed-in user"  # every role, also while impersonated; never an API key
ANY_CALLER = "any authenticated caller"  # the permission table itself: the same for everyone

Need = Action | str

# Every tenant route under /v1 and what it needs. A new route fails the walk until it is added.
ROUTES: dict[tuple[str, str], Need] = {
    ("GET", "/v1/me"): SIGNED_IN_USER,
    ("GET", "/v1/tenant"): Action.TENANT_READ,
    ("PATCH", "/v1/tenant"): Action.TENANT_UPDATE,
    ("GET", "/v1/tenant/flags"): Action.TENANT_READ,
    ("GET", "/v1/team/permissions"): ANY_CALLER,
    ("GET", "/v1/team/members"): Action.TEAM_READ,
    ("PATCH", "/v1/team/members/{user_id}"): Action.TEAM_MANAGE,
    # With someone else's id; one's own id is leaving, see the test for that below.
    ("DELETE", "/v1/team/members/{user_id}"): Action.TEAM_MANAGE,
    ("POST", "/v1/team/transfer-ownership"): Action.OWNERSHIP_TRANSFER,
    ("GET", "/v1/team/invitations"): Action.TEAM_READ,
    ("POST", "/v1/team/invitations"): Action.TEAM_MANAGE,
    ("POST", "/v1/team/invitations/{invitation_id}/resend"): Action.TEAM_MANAGE,
    ("DELETE", "/v1/team/invitations/{invitation_id}"): Action.TEAM_MANAGE,
    ("GET", "/v1/customers"): Action.CUSTOMERS_READ,
    ("POST", "/v1/customers"): Action.CUSTOMERS_WRITE,
    ("GET", "/v1/customers/{customer_id}"): Action.CUSTOMERS_READ,
    ("PATCH", "/v1/customers/{customer_id}"): Action.CUSTOMERS_WRITE,
    ("DELETE", "/v1/customers/{customer_id}"): Action.CUSTOMERS_WRITE,
    ("GET", "/v1/customers/{customer_id}/timeline"): Action.CUSTOMERS_READ,
    ("GET", "/v1/customers/{customer_id}/messages"): Action.MESSAGES_READ,
    ("POST", "/v1/customers/{customer_id}/messages"): Action.MESSAGES_WRITE,
    ("GET", "/v1/messages"): Action.MESSAGES_READ,
    ("GET", "/v1/messages/{message_id}"): Action.MESSAGES_READ,
    ("GET", "/v1/sms-opt-outs"): Action.MESSAGES_READ,
    ("GET", "/v1/sales/settings"): Action.SALES_READ,
    ("PATCH", "/v1/sales/settings"): Action.SALES_MANAGE,
    ("GET", "/v1/reminders/settings"): Action.REMINDERS_READ,
    ("PATCH", "/v1/reminders/settings"): Action.REMINDERS_MANAGE,
    ("GET", "/v1/quotes"): Action.SALES_READ,
    ("POST", "/v1/quotes"): Action.SALES_WRITE,
    ("GET", "/v1/quotes/{quote_id}"): Action.SALES_READ,
    ("GET", "/v1/quotes/{quote_id}.pdf"): Action.SALES_READ,
    ("PATCH", "/v1/quotes/{quote_id}"): Action.SALES_WRITE,
    ("DELETE", "/v1/quotes/{quote_id}"): Action.SALES_WRITE,
    ("POST", "/v1/quotes/{quote_id}/send"): Action.SALES_WRITE,
    ("POST", "/v1/quotes/{quote_id}/accept"): Action.SALES_WRITE,
    ("POST", "/v1/quotes/{quote_id}/reject"): Action.SALES_WRITE,
    ("DELETE", "/v1/quotes/{quote_id}/link"): Action.SALES_WRITE,
    ("POST", "/v1/quotes/{quote_id}/convert"): Action.SALES_WRITE,
    ("GET", "/v1/invoices"): Action.SALES_READ,
    ("POST", "/v1/invoices"): Action.SALES_WRITE,
    ("GET", "/v1/invoices/{invoice_id}"): Action.SALES_READ,
    ("GET", "/v1/invoices/{invoice_id}.pdf"): Action.SALES_READ,
    ("PATCH", "/v1/invoices/{invoice_id}"): Action.SALES_WRITE,
    ("DELETE", "/v1/invoices/{invoice_id}"): Action.SALES_WRITE,
    ("POST", "/v1/invoices/{invoice_id}/issue"): Action.SALES_WRITE,
    ("POST", "/v1/invoices/{invoice_id}/void"): Action.SALES_MANAGE,
    ("GET", "/v1/invoices/{invoice_id}/payments"): Action.SALES_READ,
    ("POST", "/v1/invoices/{invoice_id}/payments"): Action.SALES_WRITE,
    ("GET", "/v1/invoices/{invoice_id}/payments/{payment_id}"): Action.SALES_READ,
    ("POST", "/v1/invoices/{invoice_id}/refunds"): Action.SALES_MANAGE,
    ("GET", "/v1/invoices/{invoice_id}/refunds"): Action.SALES_READ,
    ("GET", "/v1/invoices/{invoice_id}/refunds/{refund_id}"): Action.SALES_READ,
    ("POST", "/v1/invoices/{invoice_id}/payment-intent"): Action.SALES_WRITE,
    ("POST", "/v1/invoices/{invoice_id}/payment-link"): Action.SALES_WRITE,
    ("GET", "/v1/resources"): Action.SCHEDULING_READ,
    ("POST", "/v1/resources"): Action.SCHEDULING_MANAGE,
    ("GET", "/v1/resources/{resource_id}"): Action.SCHEDULING_READ,
    ("PATCH", "/v1/resources/{resource_id}"): Action.SCHEDULING_MANAGE,
    ("DELETE", "/v1/resources/{resource_id}"): Action.SCHEDULING_MANAGE,
    ("GET", "/v1/resources/{resource_id}/overrides"): Action.SCHEDULING_READ,
    ("POST", "/v1/resources/{resource_id}/overrides"): Action.SCHEDULING_MANAGE,
    ("GET", "/v1/resources/{resource_id}/overrides/{day}"): Action.SCHEDULING_READ,
    ("PATCH", "/v1/resources/{resource_id}/overrides/{day}"): Action.SCHEDULING_MANAGE,
    ("DELETE", "/v1/resources/{resource_id}/overrides/{day}"): Action.SCHEDULING_MANAGE,
    ("POST", "/v1/resources/{resource_id}/feed"): Action.SCHEDULING_MANAGE,
    ("DELETE", "/v1/resources/{resource_id}/feed"): Action.SCHEDULING_MANAGE,
    ("GET", "/v1/resources/{resource_id}/calendar"): Action.SCHEDULING_READ,
    ("POST", "/v1/resources/{resource_id}/calendar"): Action.SCHEDULING_MANAGE,
    ("DELETE", "/v1/resources/{resource_id}/calendar"): Action.SCHEDULING_MANAGE,
    ("POST", "/v1/resources/{resource_id}/calendar/sync"): Action.SCHEDULING_MANAGE,
    ("POST", "/v1/calendar-connections"): Action.INTEGRATIONS_WRITE,
    ("GET", "/v1/appointments"): Action.SCHEDULING_READ,
    ("POST", "/v1/appointments"): Action.SCHEDULING_WRITE,
    ("GET", "/v1/appointments/{appointment_id}"): Action.SCHEDULING_READ,
    ("PATCH", "/v1/appointments/{appointment_id}"): Action.SCHEDULING_WRITE,
    ("POST", "/v1/appointments/{appointment_id}/status"): Action.SCHEDULING_WRITE,
    ("DELETE", "/v1/appointments/{appointment_id}"): Action.SCHEDULING_WRITE,
    ("GET", "/v1/availability"): Action.SCHEDULING_READ,
    ("GET", "/v1/integrations"): Action.INTEGRATIONS_READ,
    ("POST", "/v1/integrations"): Action.INTEGRATIONS_WRITE,
    ("GET", "/v1/integrations/{integration_id}"): Action.INTEGRATIONS_READ,
    ("PATCH", "/v1/integrations/{integration_id}"): Action.INTEGRATIONS_WRITE,
    ("DELETE", "/v1/integrations/{integration_id}"): Action.INTEGRATIONS_WRITE,
    ("GET", "/v1/webhook-endpoints"): Action.WEBHOOKS_READ,
    ("POST", "/v1/webhook-endpoints"): Action.WEBHOOKS_WRITE,
    ("GET", "/v1/webhook-endpoints/{endpoint_id}"): Action.WEBHOOKS_READ,
    ("DELETE", "/v1/webhook-endpoints/{endpoint_id}"): Action.WEBHOOKS_WRITE,
    ("GET", "/v1/webhook-endpoints/{endpoint_id}/deliveries"): Action.WEBHOOKS_READ,
    ("GET", "/v1/api-keys"): Action.API_KEYS_MANAGE,
    ("POST", "/v1/api-keys"): Action.API_KEYS_MANAGE,
    ("GET", "/v1/api-keys/{key_id}"): Action.API_KEYS_MANAGE,
    ("DELETE", "/v1/api-keys/{key_id}"): Action.API_KEYS_MANAGE,
    ("GET", "/v1/audit-logs"): Action.AUDIT_LOG_READ,
    ("GET", "/v1/audit-logs/export"): Action.AUDIT_LOG_READ,
    ("GET", "/v1/analytics/calls"): Action.ANALYTICS_READ,
    ("GET", "/v1/analytics/costs"): Action.ANALYTICS_READ,
    ("GET", "/v1/calls/export"): Action.ANALYTICS_READ,
    ("GET", "/v1/agents"): Action.AGENTS_READ,
    ("POST", "/v1/agents"): Action.AGENTS_WRITE,
    ("GET", "/v1/agents/{agent_id}"): Action.AGENTS_READ,
    ("PATCH", "/v1/agents/{agent_id}"): Action.AGENTS_WRITE,
    ("DELETE", "/v1/agents/{agent_id}"): Action.AGENTS_WRITE,
    ("GET", "/v1/agents/{agent_id}/versions"): Action.AGENTS_READ,
    ("GET", "/v1/agents/{agent_id}/versions/{number}"): Action.AGENTS_READ,
    ("POST", "/v1/agents/{agent_id}/publish"): Action.AGENTS_WRITE,
    ("POST", "/v1/agents/{agent_id}/rollback"): Action.AGENTS_WRITE,
    ("POST", "/v1/agents/{agent_id}/clone"): Action.AGENTS_WRITE,
    ("POST", "/v1/phone-numbers/sync"): Action.AGENTS_WRITE,
    ("GET", "/v1/phone-numbers"): Action.AGENTS_READ,
    ("GET", "/v1/phone-numbers/{phone_number_id}"): Action.AGENTS_READ,
    ("PATCH", "/v1/phone-numbers/{phone_number_id}"): Action.AGENTS_WRITE,
    ("GET", "/v1/agents/{agent_id}/knowledge-base"): Action.AGENTS_READ,
    ("POST", "/v1/agents/{agent_id}/knowledge-base"): Action.AGENTS_WRITE,
    ("GET", "/v1/agents/{agent_id}/knowledge-base/{file_id}"): Action.AGENTS_READ,
    ("GET", "/v1/agents/{agent_id}/knowledge-base/{file_id}/text"): Action.AGENTS_READ,
    ("POST", "/v1/agents/{agent_id}/knowledge-base/{file_id}/sync"): Action.AGENTS_WRITE,
    ("DELETE", "/v1/agents/{agent_id}/knowledge-base/{file_id}"): Action.AGENTS_WRITE,
    ("POST", "/v1/calls"): Action.CALLS_WRITE,
    ("GET", "/v1/calls"): Action.CALLS_READ,
    ("GET", "/v1/calls/{call_id}"): Action.CALLS_READ,
    ("POST", "/v1/calls/{call_id}/end"): Action.CALLS_WRITE,
    ("POST", "/v1/calls/{call_id}/feedback"): Action.CALLS_WRITE,
    ("GET", "/v1/calls/{call_id}/recording"): Action.CALLS_READ,
    ("GET", "/v1/auth/sessions"): Action.ACCOUNT_SECURITY,
    ("DELETE", "/v1/auth/sessions"): Action.ACCOUNT_SECURITY,
    ("DELETE", "/v1/auth/sessions/{session_id}"): Action.ACCOUNT_SECURITY,
    ("POST", "/v1/auth/password"): Action.ACCOUNT_SECURITY,
    ("POST", "/v1/auth/email/verification"): Action.ACCOUNT_SECURITY,
    ("GET", "/v1/auth/mfa"): Action.ACCOUNT_SECURITY,
    ("POST", "/v1/auth/mfa/totp"): Action.ACCOUNT_SECURITY,
    ("POST", "/v1/auth/mfa/totp/confirm"): Action.ACCOUNT_SECURITY,
    ("POST", "/v1/auth/mfa/recovery-codes"): Action.ACCOUNT_SECURITY,
    ("POST", "/v1/auth/mfa/disable"): Action.ACCOUNT_SECURITY,
    ("GET", "/v1/avatar-videos/avatars"): Action.AVATAR_VIDEOS_READ,
    ("GET", "/v1/avatar-videos/voices"): Action.AVATAR_VIDEOS_MANAGE,  # walked with ?refresh=true
    ("GET", "/v1/avatar-videos"): Action.AVATAR_VIDEOS_READ,
    ("POST", "/v1/avatar-videos"): Action.AVATAR_VIDEOS_WRITE,
    ("GET", "/v1/avatar-videos/{video_id}"): Action.AVATAR_VIDEOS_READ,
}

# Routes under /v1 that are not the tenant API, and why.
NOT_TENANT_ROUTES: dict[tuple[str, str], str] = {
    ("POST", "/v1/auth/register"): "public: how a caller gets a token",
    ("POST", "/v1/auth/login"): "public",
    ("POST", "/v1/auth/mfa/verify"): "public",
    ("POST", "/v1/auth/refresh"): "public",
    ("POST", "/v1/auth/logout"): "public",
    ("POST", "/v1/auth/password/forgot"): "public",
    ("POST", "/v1/auth/password/reset"): "public",
    ("POST", "/v1/auth/email/verify"): "public",
    ("POST", "/v1/auth/unlock"): "public",
    ("POST", "/v1/auth/invitations/accept"): "public",
    ("GET", "/v1/auth/sign-in"): "public",
    ("GET", "/v1/auth/sign-in/{provider}"): "public",
    ("GET", "/v1/auth/sign-in/{provider}/callback"): "public",
    ("GET", "/v1/calendar-connections/{provider}/callback"): "public: the signed state is the credential",
    ("POST", "/v1/admin/auth/login"): "platform admin",
    ("GET", "/v1/admin/tenants"): "platform admin",
    ("POST", "/v1/admin/tenants/{tenant_id}/suspend"): "platform admin",
    ("POST", "/v1/admin/tenants/{tenant_id}/reactivate"): "platform admin",
    ("POST", "/v1/admin/tenants/{tenant_id}/impersonate"): "platform admin",
    ("GET", "/v1/admin/tenants/{tenant_id}/flags"): "platform admin",
    ("PATCH", "/v1/admin/tenants/{tenant_id}/flags"): "platform admin",
    ("POST", "/v1/webhooks/{provider}/{connection_id}"): "incoming provider webhooks",
}

# Calls that change who the caller is in the tenant run in a tenant of their own.
ISOLATED = {("POST", "/v1/team/transfer-ownership")}

WEBHOOK_URL = "https://93.184.216.34/switchboard-walk"
WALK_LINE = {"description": "Walk", "quantity": "1", "unit_price": {"amount": 100, "currency": "USD"}}


@dataclass
class World:
    """A fresh tenant with one person per role, a member to act on, and one object of each kind."""

    owner: Person
    admin: Person
    member: Person
    target: Person  # the member that team routes act on
    ids: dict[str, str] = field(default_factory=dict)


Body = Callable[[World, str], dict[str, Any]]

# A valid body for each route that takes one, so a refusal can only be the permission check.
BODIES: dict[tuple[str, str], Body] = {
    ("PATCH", "/v1/tenant"): lambda w, pw: {"name": "Walked Tenant"},
    ("PATCH", "/v1/team/members/{user_id}"): lambda w, pw: {"role": "admin"},
    ("POST", "/v1/team/transfer-ownership"): lambda w, pw: {"user_id": w.target.user_id},
    ("POST", "/v1/team/invitations"): lambda w, pw: {"email": unique_email("walk"), "role": "member"},
    ("POST", "/v1/customers"): lambda w, pw: {"name": "Walk Customer"},
    ("PATCH", "/v1/customers/{customer_id}"): lambda w, pw: {"name": "Walked Customer"},
    ("POST", "/v1/customers/{customer_id}/messages"): lambda w, pw: {"body": "Walk text"},
    ("POST", "/v1/integrations"): lambda w, pw: {
        "provider": "fake_email",
        "config": {"api_key": f"sk_test_{uuid.uuid4().hex}", "label": "walk"},
    },
    ("PATCH", "/v1/integrations/{integration_id}"): lambda w, pw: {"enabled": False},
    ("PATCH", "/v1/sales/settings"): lambda w, pw: {"payment_terms_days": 14},
    ("PATCH", "/v1/reminders/settings"): lambda w, pw: {"appointment_reminder_hours": 48},
    ("POST", "/v1/quotes"): lambda w, pw: {"customer_id": w.ids["customer_id"], "lines": [WALK_LINE]},
    ("PATCH", "/v1/quotes/{quote_id}"): lambda w, pw: {"notes": "Walked"},
    ("POST", "/v1/invoices"): lambda w, pw: {"customer_id": w.ids["customer_id"], "lines": [WALK_LINE]},
    ("PATCH", "/v1/invoices/{invoice_id}"): lambda w, pw: {"notes": "Walked"},
    ("POST", "/v1/invoices/{invoice_id}/void"): lambda w, pw: {"reason": "Walked"},
    ("POST", "/v1/invoices/{invoice_id}/payments"): lambda w, pw: {
        "amount": {"amount": 100, "currency": "USD"},
        "method": "cash",
    },
    ("POST", "/v1/invoices/{invoice_id}/refunds"): lambda w, pw: {
        "amount": {"amount": 100, "currency": "USD"}
    },
    ("POST", "/v1/invoices/{invoice_id}/payment-intent"): lambda w, pw: {},
    ("POST", "/v1/invoices/{invoice_id}/payment-link"): lambda w, pw: {},
    ("POST", "/v1/resources"): lambda w, pw: WALK_RESOURCE,
    ("PATCH", "/v1/resources/{resource_id}"): lambda w, pw: {"name": "Walked resource"},
    ("POST", "/v1/resources/{resource_id}/overrides"): lambda w, pw: {"date": _walk_day(), "closed": True},
    ("PATCH", "/v1/resources/{resource_id}/overrides/{day}"): lambda w, pw: {"reason": "Walked"},
    ("POST", "/v1/resources/{resource_id}/calendar"): lambda w, pw: {"calendar_id": "primary"},
    ("POST", "/v1/calendar-connections"): lambda w, pw: {"provider": "google_calendar"},
    ("POST", "/v1/appointments"): lambda w, pw: _walk_booking(w),
    ("PATCH", "/v1/appointments/{appointment_id}"): lambda w, pw: {"notes": "Walked"},
    ("POST", "/v1/appointments/{appointment_id}/status"): lambda w, pw: {"status": "confirmed"},
    ("POST", "/v1/webhook-endpoints"): lambda w, pw: {"url": WEBHOOK_URL},
    ("POST", "/v1/api-keys"): lambda w, pw: {"name": "Walk key", "scopes": {"customers": "read"}},
    ("POST", "/v1/agents"): lambda w, pw: WALK_AGENT,
    ("PATCH", "/v1/agents/{agent_id}"): lambda w, pw: {"name": "Walked agent"},
    ("POST", "/v1/agents/{agent_id}/rollback"): lambda w, pw: {"version": 1},
    ("POST", "/v1/agents/{agent_id}/clone"): lambda w, pw: {"name": "Walk clone"},
    ("PATCH", "/v1/phone-numbers/{phone_number_id}"): lambda w, pw: {"agent_id": None},
    ("POST", "/v1/calls"): lambda w, pw: {"agent_id": w.ids["agent_id"], "to": "+14155550123"},
    ("POST", "/v1/calls/{call_id}/feedback"): lambda w, pw: {"rating": 4},
    ("POST", "/v1/auth/password"): lambda w, pw: {"current_password": pw, "new_password": new_password()},
    ("POST", "/v1/auth/mfa/totp/confirm"): lambda w, pw: {"code": "000000"},
    ("POST", "/v1/auth/mfa/recovery-codes"): lambda w, pw: {"code": "000000"},
    ("POST", "/v1/auth/mfa/disable"): lambda w, pw: {"password": pw},
    ("POST", "/v1/avatar-videos"): lambda w, pw: {
        "title": "Walk",
        "script": "Walking.",
        "avatar_id": "fake_avatar_ada",
        "voice_id": "fake_voice_en",
    },
}

# A valid query string for each route that needs one.
QUERIES: dict[tuple[str, str], Callable[[World], dict[str, Any]]] = {
    ("GET", "/v1/availability"): lambda w: {
        "resource_id": w.ids["resource_id"],
        "from": _iso(datetime.now(UTC) + timedelta(days=1)),
        "to": _iso(datetime.now(UTC) + timedelta(days=2)),
        "duration": 30,
    },
    ("GET", "/v1/analytics/calls"): lambda w: {"from": "2026-03-01", "to": "2026-03-31"},
    ("GET", "/v1/analytics/costs"): lambda w: {"from": "2026-03-01", "to": "2026-03-31"},
    # Refreshing is the manager-only part of the catalog routes.
    ("GET", "/v1/avatar-videos/voices"): lambda w: {"refresh": "true"},
}

WALK_AGENT = {
    "name": "Walk agent",
    "voice_provider": "11labs",
    "voice_id": "walk",
    "model_provider": "openai",
    "model": "gpt-4o-mini",
    "system_prompt": "Walk the line.",
}

WALK_RESOURCE = {
    "name": "Walk room",
    "kind": "room",
    "time_zone": "UTC",
    "working_hours": {day: [{"start": "00:00", "end": "24:00"}] for day in WEEKDAYS},
}


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _enable_sms(database: Any, tenant_id: str) -> None:
    """Texting is off on the free plan: on, a text is refused only by the permission check."""
    with psycopg.connect(database.owner_url) as conn:
        conn.execute(
            "INSERT INTO feature_flag_overrides (tenant_id, key, enabled, updated_at, updated_by)"
            " VALUES (%s, 'sms', true, now(), 'walk')",
            (tenant_id,),
        )


def _walk_day() -> str:
    return (date(2032, 1, 1) + timedelta(days=secrets.randbelow(3000))).isoformat()


def _walk_booking(world: World) -> dict[str, Any]:
    """A half-hour at a random whole minute in the coming year: bookings rarely meet."""
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(
        days=2, minutes=secrets.randbelow(360 * 24 * 60)
    )
    return {
        "resource_id": world.ids["resource_id"],
        "customer_id": world.ids["customer_id"],
        "service": "Walk",
        "start": _iso(start),
        "end": _iso(start + timedelta(minutes=30)),
    }


_PARAMETER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_METHOD_ORDER = {"GET": 0, "POST": 1, "PATCH": 2, "DELETE": 3}


def v1_routes(app: Any) -> set[tuple[str, str]]:
    """Every (method, path) the application serves under /v1, parameters written ``{name}``."""
    found = set()
    for rule in app.app.url_map.iter_rules():
        if not rule.rule.startswith("/v1/"):
            continue
        path = _PARAMETER.sub(r"{\1}", rule.rule)
        found |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return found


# Calls that end the caller's other sessions go after the one that ends a session by its id.
ENDING_SESSIONS = [("POST", "/v1/auth/password"), ("DELETE", "/v1/auth/sessions")]


def walk_order(routes: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """Reads, then creations, then changes, then deletions, so an allowed call finds its object;
    the calls that end sessions last."""
    return sorted(
        routes,
        key=lambda route: (route in ENDING_SESSIONS, _METHOD_ORDER[route[0]], route[1]),
    )


# --- the table as served -----------------------------------------------------------------------


def core_table() -> dict[str, Any]:
    return {
        "object": "permissions",
        "roles": [role.value for role in Role],
        "data": [
            {
                "action": action.value,
                "roles": [role.value for role in Role if role in rule.roles],
                "api_key_scope": f"{rule.key_scope[0]}:{rule.key_scope[1].value}" if rule.key_scope else None,
                "while_impersonating": rule.while_impersonating,
            }
            for action, rule in PERMISSIONS.items()
        ],
    }


async def served_table(client: Any, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    response = await client.get("/v1/team/permissions", headers=headers)
    assert response.status_code == 200, await response.get_data()
    body = await response.get_json()
    conforms(PermissionsOut, body)
    return {row["action"]: row for row in body["data"]}


@dataclass(frozen=True)
class Caller:
    """Who walks: a role's own session, an API key with one scope, or an impersonation."""

    label: str
    role: str | None = None
    scope: tuple[str, str] | None = None  # (family, access) of a single-scope key
    impersonated_role: str | None = None


def allowed(need: Need, caller: Caller, table: dict[str, dict[str, Any]]) -> bool:
    if need == ANY_CALLER:
        return True
    if need == SIGNED_IN_USER:
        return caller.scope is None
    row = table[str(need)]
    if caller.scope is not None:
        if row["api_key_scope"] is None:
            return False
        family, access = row["api_key_scope"].split(":")
        return caller.scope[0] == family and caller.scope[1] in (access, "write")
    if caller.impersonated_role is not None:
        return caller.impersonated_role in row["roles"] and row["while_impersonating"]
    return caller.role in row["roles"]


# --- building a world --------------------------------------------------------------------------


async def _created(client: Any, who: Person, path: str, body: dict[str, Any]) -> str:
    response = await client.post(path, json=body, headers=who.auth)
    assert response.status_code == 201, (path, await response.get_data())
    created: str = (await response.get_json())["id"]
    return created


async def new_world(client: Any, database: Any) -> World:
    owner = person_of(await sign_up(client, tenant_name="Walk Co"), PASSWORD)
    world = World(
        owner=owner,
        admin=await join(client, database, owner, "admin"),
        member=await join(client, database, owner, "member"),
        target=await join(client, database, owner, "member", name="Tom Target"),
    )
    world.ids["user_id"] = world.target.user_id
    world.ids["customer_id"] = (await create_customer(client, owner))["id"]  # type: ignore[arg-type]
    _enable_sms(database, owner.tenant_id)
    world.ids["integration_id"] = await _created(
        client, owner, "/v1/integrations", BODIES[("POST", "/v1/integrations")](world, "")
    )
    world.ids["endpoint_id"] = await _created(client, owner, "/v1/webhook-endpoints", {"url": WEBHOOK_URL})
    world.ids["key_id"] = await _created(
        client, owner, "/v1/api-keys", {"name": "Spare", "scopes": {"customers": "read"}}
    )
    world.ids["invitation_id"] = await _created(
        client, owner, "/v1/team/invitations", {"email": unique_email("pending"), "role": "member"}
    )
    world.ids["resource_id"] = await _created(client, owner, "/v1/resources", WALK_RESOURCE)
    world.ids["appointment_id"] = await _created(client, owner, "/v1/appointments", _walk_booking(world))
    world.ids["day"] = _walk_day()
    override = await client.post(
        f"/v1/resources/{world.ids['resource_id']}/overrides",
        json={"date": world.ids["day"], "closed": True},
        headers=owner.auth,
    )
    assert override.status_code == 201, await override.get_data()
    world.ids["agent_id"] = await _created(client, owner, "/v1/agents", WALK_AGENT)
    world.ids["number"] = "1"  # the agent's first version
    _turn_on(database, owner.tenant_id, "avatar_video")  # a pro-plan feature: on, so only roles refuse
    return world


def _turn_on(database: Any, tenant_id: str, flag: str) -> None:
    with psycopg.connect(database.owner_url) as conn:
        conn.execute(
            "INSERT INTO feature_flag_overrides (tenant_id, key, enabled, updated_at, updated_by) "
            "VALUES (%s, %s, true, now(), 'platform_admin:walk')",
            (tenant_id, flag),
        )


async def spare_session(client: Any, who: Person, address: dict[str, Any]) -> str:
    """Sign ``who`` in once more: the id of a session of theirs that the walk may end."""
    response = await client.post(
        "/v1/auth/login",
        json={"email": who.email, "password": who.password, "tenant_id": who.tenant_id},
        scope_base=address,
    )
    assert response.status_code == 200, await response.get_data()
    session_id: str = claims_of((await response.get_json())["access_token"])["sid"]
    return session_id


async def clean_up(client: Any, world: World) -> None:
    """Delete the world's webhook endpoints, so no delivery to them is ever attempted."""
    response = await client.get(
        "/v1/webhook-endpoints", query_string={"limit": 100}, headers=world.owner.auth
    )
    assert response.status_code == 200, await response.get_data()
    for endpoint in (await response.get_json())["data"]:
        deleted = await client.delete(f"/v1/webhook-endpoints/{endpoint['id']}", headers=world.owner.auth)
        assert deleted.status_code == 204


# --- walking -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credential:
    headers: dict[str, str]
    password: str  # what the caller would give as its own password ("" for a key)


async def _call(
    client: Any, route: tuple[str, str], world: World, credential: Credential, address: dict[str, Any]
) -> Any:
    method, template = route
    path = re.sub(r"\{(\w+)\}", lambda m: world.ids.get(m.group(1), str(uuid.uuid4())), template)
    body = BODIES.get(route)
    kwargs: dict[str, Any] = {"headers": credential.headers, "scope_base": address}
    if body is not None:
        kwargs["json"] = body(world, credential.password)
    query = QUERIES.get(route)
    if query is not None:
        kwargs["query_string"] = query(world)
    return await client.open(path, method=method, **kwargs)


async def _check(
    client: Any,
    route: tuple[str, str],
    world: World,
    credential: Credential,
    caller: Caller,
    table: dict[str, dict[str, Any]],
    address: dict[str, Any],
) -> str | None:
    """What is wrong with the server's answer to this call, if anything."""
    response = await _call(client, route, world, credential, address)
    status = response.status_code
    if allowed(ROUTES[route], caller, table):
        if status == 403 or status == 401 or status >= 500:
            detail = (await response.get_json(force=True) or {}).get("detail")
            return f"{route}: {caller.label} is allowed by the table but got {status} ({detail})"
        return None
    if status != 403:
        return f"{route}: {caller.label} is not allowed by the table but got {status}"
    if response.headers.get("Content-Type") != "application/problem+json":
        return f"{route}: 403 without a problem body"
    code = (await response.get_json(force=True))["code"]
    if code != "forbidden":
        return f"{route}: {caller.label} got 403 with code {code!r}, not 'forbidden'"
    return None


CredentialMaker = Callable[[World, dict[str, Any]], Any]


async def walk(client: Any, database: Any, caller: Caller, credential_in: CredentialMaker) -> list[str]:
    """Every route, as ``caller``; calls that would change the caller's standing get a fresh
    world each. Returns the disagreements with the table."""
    address = own_address()
    problems: list[str] = []
    table: dict[str, dict[str, Any]] | None = None
    shared = [route for route in walk_order(set(ROUTES)) if route not in ISOLATED]
    batches = [shared] + [[route] for route in walk_order(ISOLATED)]
    for batch in batches:
        world = await new_world(client, database)
        try:
            credential: Credential = await credential_in(world, address)
            if table is None:
                table = await served_table(client, world.owner.auth)
            for route in batch:
                problem = await _check(client, route, world, credential, caller, table, address)
                if problem:
                    problems.append(problem)
        finally:
            await clean_up(client, world)
    return problems


def role_caller(client: Any, role: str) -> CredentialMaker:
    async def credential(world: World, address: dict[str, Any]) -> Credential:
        who: Person = getattr(world, role)
        world.ids["session_id"] = await spare_session(client, who, address)
        return Credential(who.auth, who.password)

    return credential


# --- tests -------------------------------------------------------------------------------------


async def test_the_served_permission_table_is_the_core_table_exactly(client):
    owner = await sign_up(client)

    response = await client.get("/v1/team/permissions", headers=owner.auth)

    assert response.status_code == 200
    body = await response.get_json()
    conforms(PermissionsOut, body)
    assert body == core_table()
    assert {row["action"] for row in body["data"]} == {action.value for action in Action}


def test_every_tenant_route_is_classified_and_nothing_else_is(app):
    served = v1_routes(app)

    unclassified = served - set(ROUTES) - set(NOT_TENANT_ROUTES)
    stale = (set(ROUTES) | set(NOT_TENANT_ROUTES)) - served

    assert unclassified == set(), f"classify these routes in ROUTES: {sorted(unclassified)}"
    assert stale == set(), f"these classified routes no longer exist: {sorted(stale)}"
    assert set(ROUTES).isdisjoint(NOT_TENANT_ROUTES)
    assert set(BODIES) <= set(ROUTES)
    assert set(QUERIES) <= set(ROUTES)
    assert set(ROUTES) >= ISOLATED | set(ENDING_SESSIONS)


def test_every_action_of_the_table_guards_at_least_one_route():
    used = {need for need in ROUTES.values() if isinstance(need, Action)}

    assert used == set(PERMISSIONS)


def test_the_not_tenant_routes_are_public_admin_or_incoming_webhooks_by_their_blueprint(app):
    """A route is only left out of the walk if it lives in a public, admin or webhook blueprint."""
    outside = {"auth", "admin_auth", "admin", "webhooks", "calendar_callbacks"}
    for rule in app.app.url_map.iter_rules():
        path = _PARAMETER.sub(r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if (method, path) in NOT_TENANT_ROUTES:
                assert rule.endpoint.split(".")[0] in outside, (method, path, rule.endpoint)
            if (method, path) in ROUTES:
                assert rule.endpoint.split(".")[0] not in outside, (method, path, rule.endpoint)


@pytest.mark.parametrize("role", ["owner", "admin", "member"])
async def test_each_role_gets_what_the_table_gives_it_on_every_route(client, database, role):
    problems = await walk(client, database, Caller(role, role=role), role_caller(client, role))

    assert problems == [], "\n".join(problems)


KEY_SCOPES = [(family, access) for family in SCOPE_FAMILIES for access in ("read", "write")]


@pytest.mark.parametrize(("family", "access"), KEY_SCOPES, ids=[f"{f}:{a}" for f, a in KEY_SCOPES])
async def test_an_api_key_with_one_scope_gets_what_the_tables_key_column_gives_it(
    client, database, family, access
):
    async def credential(world: World, address: dict[str, Any]) -> Credential:
        response = await client.post(
            "/v1/api-keys", json={"name": "Walker", "scopes": {family: access}}, headers=world.owner.auth
        )
        assert response.status_code == 201, await response.get_data()
        world.ids["session_id"] = await spare_session(client, world.owner, address)
        return Credential(bearer((await response.get_json())["secret"]), "")

    problems = await walk(
        client, database, Caller(f"key {family}:{access}", scope=(family, access)), credential
    )

    assert problems == [], "\n".join(problems)


@pytest.fixture(scope="module")
async def operator(client, database, test_hasher):
    return await platform_admin(client, database, test_hasher)


@pytest.mark.parametrize("role", ["owner", "admin", "member"])
async def test_a_platform_admin_impersonating_gets_the_roles_rights_except_while_impersonating_ones(
    client, database, operator, role
):
    async def credential(world: World, address: dict[str, Any]) -> Credential:
        who: Person = getattr(world, role)
        world.ids["session_id"] = await spare_session(client, who, address)
        token = await impersonation_token(client, operator, world.owner.tenant_id, who.user_id)
        return Credential(bearer(token), who.password)

    caller = Caller(f"impersonating {role}", impersonated_role=role)

    problems = await walk(client, database, caller, credential)

    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("role", ["admin", "member"])
async def test_leaving_needs_no_permission_and_an_owner_may_leave_unless_last(client, database, role):
    world = await new_world(client, database)
    try:
        leaver: Person = getattr(world, role)

        left = await client.delete(f"/v1/team/members/{leaver.user_id}", headers=leaver.auth)
        last = await client.delete(f"/v1/team/members/{world.owner.user_id}", headers=world.owner.auth)

        assert left.status_code == 204
        await expect_problem(last, 409, "last_owner")
    finally:
        await clean_up(client, world)


async def test_an_api_key_cannot_remove_the_person_who_made_it_as_if_they_were_leaving(client, database):
    world = await new_world(client, database)
    try:
        response = await client.post(
            "/v1/api-keys",
            json={"name": "Team reader", "scopes": {"team": "write"}},
            headers=world.admin.auth,
        )
        key = bearer((await response.get_json())["secret"])

        removed = await client.delete(f"/v1/team/members/{world.admin.user_id}", headers=key)

        await expect_problem(removed, 403, "forbidden")
        assert (await client.get("/v1/me", headers=world.admin.auth)).status_code == 200
    finally:
        await clean_up(client, world)
