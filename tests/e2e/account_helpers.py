"""Helpers for the account-security tests: a caller with its own client address, the mail
outbox, a clock for the authenticator app, and the wall clock the throttle counts with.

Failed attempts are counted per client address for the whole test session, so every test that
fails on purpose calls from an address of its own (``Caller.fresh``).
"""

from __future__ import annotations

import base64
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pyotp
from quart.typing import TestClientProtocol

from tests.e2e.helpers import register

STEP = timedelta(seconds=30)
ACCOUNT_EMAIL = "account_email.send"
VERIFY_PAGE = "/verify-email#token="
RESET_PAGE = "/reset-password#token="
UNLOCK_PAGE = "/unlock#token="
INVITATION_PAGE = "/accept-invitation#token="


def new_address() -> str:
    """A client address no other test uses (10.0.0.0/8, picked at random)."""
    return f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


def new_password() -> str:
    return "vq7-tidal-rk-" + uuid.uuid4().hex


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Caller:
    """The test client, calling from one client address with one User-Agent."""

    client: TestClientProtocol
    ip: str = field(default_factory=new_address)
    user_agent: str = "account-security-tests/1.0"

    @classmethod
    def fresh(cls, client: TestClientProtocol, user_agent: str = "account-security-tests/1.0") -> Caller:
        return cls(client, new_address(), user_agent)

    def _options(self, headers: dict[str, str] | None) -> dict[str, Any]:
        return {
            "headers": {"User-Agent": self.user_agent} | (headers or {}),
            "scope_base": {"client": (self.ip, 40000)},
        }

    async def get(self, path: str, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        return await self.client.get(path, **self._options(headers), **kwargs)

    async def post(
        self, path: str, json: Any = None, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> Any:
        return await self.client.post(path, json=json, **self._options(headers), **kwargs)

    async def delete(self, path: str, headers: dict[str, str] | None = None) -> Any:
        return await self.client.delete(path, **self._options(headers))

    async def login(self, email: str, password: str) -> Any:
        return await self.post("/v1/auth/login", json={"email": email, "password": password})

    async def refresh(self, refresh_token: str) -> Any:
        return await self.post("/v1/auth/refresh", json={"refresh_token": refresh_token})

    async def me(self, access_token: str) -> Any:
        return await self.get("/v1/me", headers=bearer(access_token))


@dataclass(frozen=True)
class Account:
    """A registered owner whose password the test knows."""

    email: str
    password: str
    name: str
    tenant_id: str
    user_id: str
    access_token: str
    refresh_token: str

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.access_token)


async def open_account(
    client: TestClientProtocol, *, email: str | None = None, name: str = "Ada Owner"
) -> Account:
    email = email or f"owner-{uuid.uuid4().hex[:10]}@example.com"
    password = new_password()
    response = await register(client, email=email, password=password, name=name)
    assert response.status_code == 201, await response.get_data()
    body = await response.get_json()
    return Account(
        email, password, name, body["tenant_id"], body["user_id"], body["access_token"], body["refresh_token"]
    )


def session_of(access_token: str) -> str:
    """The session id (``sid``) an access token names."""
    payload = access_token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sid"])


def tampered(token: str, **claims: Any) -> str:
    """The JWT with some claims changed and its original signature kept."""
    header, payload, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))) | claims
    changed = base64.urlsafe_b64encode(json.dumps(decoded).encode()).rstrip(b"=").decode()
    return f"{header}.{changed}.{signature}"


# --- mail -------------------------------------------------------------------------------------


def mails_to(owner_url: str, email: str, page: str | None = None) -> list[dict[str, Any]]:
    """Account mails queued for the address, newest first; only those linking to ``page``."""
    with psycopg.connect(owner_url) as connection:
        rows = connection.execute(
            "SELECT payload FROM outbox WHERE kind = %s AND payload->>'to' = %s ORDER BY created_at DESC",
            (ACCOUNT_EMAIL, email),
        ).fetchall()
    return [row[0] for row in rows if page is None or page in row[0]["text"]]


def mailed_token(owner_url: str, email: str, page: str) -> str:
    """The token of the newest mail to the address that links to ``page``."""
    mails = mails_to(owner_url, email, page)
    assert mails, f"no mail linking to {page} was sent to {email}"
    return token_in(mails[0])


def token_in(mail: dict[str, Any]) -> str:
    return str(mail["text"].split("#token=", 1)[1].split()[0])


# --- time -------------------------------------------------------------------------------------


class FakeClock:
    """The ``Clock`` port, standing still until told to move."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def travel_to(self, moment: datetime) -> None:
        self._now = moment

    def advance(self, delta: timedelta) -> None:
        self._now += delta


def totp_clock_start() -> datetime:
    """Four minutes ago, in the middle of a 30 s step.

    Behind the wall clock, so tokens issued at this time are already valid (no ``iat`` in the
    future) and, for the few steps a test advances, not yet expired.
    """
    back = datetime.now(UTC) - timedelta(minutes=4)
    start_of_step = int(back.timestamp()) // 30 * 30
    return datetime.fromtimestamp(start_of_step + 15, UTC)


@dataclass
class Authenticator:
    """The user's authenticator app, reading the same clock as the server."""

    secret: str
    clock: FakeClock

    def code_at(self, delta: timedelta = timedelta(0)) -> str:
        return pyotp.TOTP(self.secret).at(self.clock.now() + delta)

    def next_code(self) -> str:
        """Wait for the next step and read its code."""
        self.clock.advance(STEP)
        return self.code_at()

    def wrong_code(self) -> str:
        """Six digits that no step within the drift window accepts."""
        near = {self.code_at(offset * STEP) for offset in range(-2, 3)}
        return next(code for code in (f"{n:06d}" for n in range(100000, 1000000, 7919)) if code not in near)


class WallClock:
    """``time.time`` under the test's control: the throttle's counters read it (the ``limits``
    library keeps its own timestamps), so a test can freeze it or move it on."""

    def __init__(self, monkeypatch: Any) -> None:
        self._real = time.time
        self._offset = 0.0
        self._frozen: float | None = None
        monkeypatch.setattr(time, "time", self._time)

    def _time(self) -> float:
        return self._frozen if self._frozen is not None else self._real() + self._offset

    def freeze(self) -> None:
        self._frozen = self._time()

    def advance(self, seconds: float) -> None:
        if self._frozen is not None:
            self._frozen += seconds
        self._offset += seconds
