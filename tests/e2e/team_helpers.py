"""Helpers for the team and permission-walk tests: invitations read from the outbox, members
joined by invitation, client addresses of a test's own, platform admins and impersonation."""

from __future__ import annotations

import base64
import json
import random
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from quart.typing import TestClientProtocol

from switchboard.adapters.postgres.database import create_platform_admin
from switchboard.entrypoints.http.blueprints.admin import AdminTokenOut
from switchboard.entrypoints.http.blueprints.auth import TokenOut
from switchboard.entrypoints.http.blueprints.team import InvitationOut, MemberListOut, MemberOut
from tests.e2e.helpers import SignedUp, conforms, unique_email

ADMIN_PASSWORD = "vq7-tidal-rk-" + "platform-admin-passphrase"


def new_password() -> str:
    return "vq7-tidal-rk-" + uuid.uuid4().hex


def own_address() -> dict[str, Any]:
    """``scope_base`` for a client address of the test's own, so its failed attempts throttle
    nobody else."""
    octets = ".".join(str(random.randint(1, 254)) for _ in range(3))
    return {"client": (f"10.{octets}", 40000)}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims_of(token: str) -> dict[str, Any]:
    """A JWT's payload, read without checking it."""
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def mails_to(database: Any, email: str) -> list[str]:
    """The text of every account mail sent to ``email``, newest first (read from the outbox)."""
    with psycopg.connect(database.owner_url) as conn:
        rows = conn.execute(
            "SELECT payload FROM outbox WHERE kind = 'account_email.send' AND payload->>'to' = %s "
            "ORDER BY created_at DESC",
            (email,),
        ).fetchall()
    return [row[0]["text"] for row in rows]


def token_in(text: str) -> str:
    return text.split("#token=", 1)[1].split()[0]


def invitation_token(database: Any, email: str) -> str:
    """The token of the newest invitation mailed to ``email``."""
    mails = [text for text in mails_to(database, email) if "#token=sbi_" in text]
    assert mails, f"no invitation mailed to {email}"
    return token_in(mails[0])


@dataclass(frozen=True)
class Person:
    """Someone holding a session in one tenant."""

    tenant_id: str
    user_id: str
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.access_token)


def person_of(who: SignedUp, password: str) -> Person:
    return Person(who.tenant_id, who.user_id, who.email, password, who.access_token, who.refresh_token)


async def invite(
    client: TestClientProtocol, inviter: SignedUp | Person, email: str, role: str, **extra: Any
) -> Any:
    """POST /v1/team/invitations and return the raw response."""
    return await client.post(
        "/v1/team/invitations", json={"email": email, "role": role} | extra, headers=inviter.auth
    )


async def invited(
    client: TestClientProtocol, inviter: SignedUp | Person, email: str, role: str
) -> dict[str, Any]:
    """Invite and return the documented 201 body."""
    response = await invite(client, inviter, email, role)
    assert response.status_code == 201, await response.get_data()
    body: dict[str, Any] = await response.get_json()
    conforms(InvitationOut, body)
    return body


async def accept(
    client: TestClientProtocol,
    token: str,
    *,
    address: dict[str, Any],
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> Any:
    """POST /v1/auth/invitations/accept from ``address`` and return the raw response."""
    return await client.post(
        "/v1/auth/invitations/accept",
        json={"token": token} | fields,
        headers=headers or {},
        scope_base=address,
    )


async def join(
    client: TestClientProtocol, database: Any, inviter: SignedUp | Person, role: str, name: str = "Max Member"
) -> Person:
    """Invite someone new with ``role`` and accept for them: a fresh person in the tenant."""
    email = unique_email(role)
    await invited(client, inviter, email, role)
    password = new_password()
    response = await accept(
        client, invitation_token(database, email), address=own_address(), name=name, password=password
    )
    assert response.status_code == 200, await response.get_data()
    body = await response.get_json()
    conforms(TokenOut, body)
    return Person(
        body["tenant_id"], body["user_id"], email, password, body["access_token"], body["refresh_token"]
    )


async def members_of(client: TestClientProtocol, who: SignedUp | Person) -> dict[str, dict[str, Any]]:
    """GET /v1/team/members as ``who``: user id -> the member as rendered."""
    response = await client.get("/v1/team/members", headers=who.auth)
    assert response.status_code == 200, await response.get_data()
    body = await response.get_json()
    conforms(MemberListOut, body)
    for member in body["data"]:
        conforms(MemberOut, member)
    return {member["user_id"]: member for member in body["data"]}


async def roles_of(client: TestClientProtocol, who: SignedUp | Person) -> dict[str, str]:
    return {user_id: member["role"] for user_id, member in (await members_of(client, who)).items()}


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


async def impersonation_token(
    client: TestClientProtocol, admin: PlatformAdmin, tenant_id: str, user_id: str
) -> str:
    response = await client.post(
        f"/v1/admin/tenants/{tenant_id}/impersonate", json={"user_id": user_id}, headers=admin.auth
    )
    assert response.status_code == 200, await response.get_data()
    token: str = (await response.get_json())["access_token"]
    assert claims_of(token)["act"]["sub"] == admin.id
    return token
