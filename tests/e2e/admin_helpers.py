"""Helpers for the API key, audit log, platform admin and attack tests: members by invitation,
API keys, audit entries, platform admins, client addresses and a fixed clock."""

from __future__ import annotations

import base64
import contextlib
import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from dependency_injector import providers
from quart.typing import TestClientProtocol

from switchboard.adapters.postgres.database import create_platform_admin
from switchboard.entrypoints.http.blueprints.admin import AdminTokenOut
from switchboard.entrypoints.http.blueprints.api_keys import ApiKeyOut, CreatedApiKeyOut
from switchboard.entrypoints.http.blueprints.audit import AuditEventOut, AuditListOut
from switchboard.entrypoints.http.blueprints.auth import TokenOut
from tests.e2e.helpers import PASSWORD, SignedUp, conforms, unique_email

ADMIN_PASSWORD = "vq7-tidal-rk-platform-admin-passphrase"


def new_address() -> dict[str, Any]:
    """A client address of the test's own (``scope_base``), so its failed attempts throttle nobody
    else's."""
    octets = ".".join(str(random.randint(1, 254)) for _ in range(3))
    return {"client": (f"10.{octets}", 40000)}


def ip_of(address: dict[str, Any]) -> str:
    ip: str = address["client"][0]
    return ip


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims_of(token: str) -> dict[str, Any]:
    """A JWT's payload, read without checking it."""
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def mailed_token(database: Any, email: str) -> str:
    """The token in the newest account mail sent to ``email`` (read from the outbox)."""
    with psycopg.connect(database.owner_url) as conn:
        row = conn.execute(
            "SELECT payload FROM outbox WHERE kind = 'account_email.send' AND payload->>'to' = %s "
            "ORDER BY created_at DESC LIMIT 1",
            (email,),
        ).fetchone()
    assert row is not None, f"no mail to {email}"
    text: str = row[0]["text"]
    return text.split("#token=", 1)[1].split()[0]


async def add_member(
    client: TestClientProtocol, database: Any, owner: SignedUp, role: str = "member"
) -> SignedUp:
    """Invite someone new into the owner's tenant with ``role`` and accept for them."""
    email = unique_email(role)
    invited = await client.post(
        "/v1/team/invitations", json={"email": email, "role": role}, headers=owner.auth
    )
    assert invited.status_code == 201, await invited.get_data()
    accepted = await client.post(
        "/v1/auth/invitations/accept",
        json={"token": mailed_token(database, email), "name": "Max Member", "password": PASSWORD},
        scope_base=new_address(),
    )
    assert accepted.status_code == 200, await accepted.get_data()
    body = await accepted.get_json()
    conforms(TokenOut, body)
    assert body["tenant_id"] == owner.tenant_id
    return SignedUp(
        body["tenant_id"], body["user_id"], email, body["access_token"], body["refresh_token"], body
    )


async def create_key(
    client: TestClientProtocol, who: SignedUp, scopes: dict[str, str] | None = None, **fields: Any
) -> dict[str, Any]:
    """POST /v1/api-keys and return the documented 201 body (with its secret)."""
    payload = {"name": "Server key", "scopes": scopes or {"customers": "read"}} | fields
    response = await client.post("/v1/api-keys", json=payload, headers=who.auth)
    assert response.status_code == 201, await response.get_data()
    body: dict[str, Any] = await response.get_json()
    conforms(CreatedApiKeyOut, body)
    return body


async def get_key(client: TestClientProtocol, who: SignedUp, key_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/api-keys/{key_id}", headers=who.auth)
    assert response.status_code == 200, await response.get_data()
    body: dict[str, Any] = await response.get_json()
    conforms(ApiKeyOut, body)
    return body


async def audit_page(client: TestClientProtocol, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/audit-logs", query_string=params, headers=headers)
    assert response.status_code == 200, await response.get_data()
    body: dict[str, Any] = await response.get_json()
    conforms(AuditListOut, body)
    for event in body["data"]:
        conforms(AuditEventOut, event)
    return body


async def audit_entries(
    client: TestClientProtocol, who: SignedUp | dict[str, str], limit: int = 100, **filters: Any
) -> list[dict[str, Any]]:
    """Every audit entry the caller can see (with the filters), newest first, walking every page."""
    headers = who.auth if isinstance(who, SignedUp) else who
    entries: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {"limit": limit, **filters} | ({"cursor": cursor} if cursor else {})
        page = await audit_page(client, headers, **query)
        entries.extend(page["data"])
        if not page["has_more"]:
            assert page["next_cursor"] is None
            return entries
        cursor = page["next_cursor"]
        assert cursor


def only(entries: list[dict[str, Any]], action: str) -> dict[str, Any]:
    """The single entry with ``action``."""
    found = [entry for entry in entries if entry["action"] == action]
    assert len(found) == 1, (action, [entry["action"] for entry in entries])
    return found[0]


@dataclass(frozen=True)
class PlatformAdmin:
    id: str
    email: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.token)


async def platform_admin(client: TestClientProtocol, database: Any, hasher: Any) -> PlatformAdmin:
    """A new platform admin, signed in at /v1/admin/auth/login."""
    email = f"ops-{uuid.uuid4().hex[:8]}@switchboard.test"
    admin_id = str(uuid.uuid4())
    assert create_platform_admin(database.owner_url, admin_id, email, await hasher.hash(ADMIN_PASSWORD))
    response = await client.post("/v1/admin/auth/login", json={"email": email, "password": ADMIN_PASSWORD})
    assert response.status_code == 200, await response.get_data()
    token = conforms(AdminTokenOut, await response.get_json()).access_token
    return PlatformAdmin(admin_id, email, token)


@dataclass(frozen=True)
class FixedClock:
    at: datetime

    def now(self) -> datetime:
        return self.at


@contextlib.contextmanager
def clock_at(container: Any, at: datetime) -> Iterator[None]:
    """The application's clock (``container.clock``) reads ``at`` inside the block."""
    container.clock.override(providers.Object(FixedClock(at)))
    try:
        yield
    finally:
        container.clock.reset_last_overriding()
