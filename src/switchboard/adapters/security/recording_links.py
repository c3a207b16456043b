"""Signed, short-lived links to call recordings: JWTs (HS256) with an audience of their own.

The audience and token type keep a recording link from ever passing as an access token, a
second-factor challenge or a sign-in state, and those from passing as a link.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import jwt

from switchboard.adapters.security.tokens import ALGORITHM, ISSUER, MIN_KEY_BYTES
from switchboard.ports.recordings import RecordingLinkRefused

AUDIENCE = "switchboard-recording"
TOKEN_TYPE = "call_recording"  # noqa: S105 (a claim value, not a secret)
DEFAULT_LIFETIME_SECONDS = 300


class JwtRecordingLinks:
    def __init__(self, signing_key: str, lifetime_seconds: int = DEFAULT_LIFETIME_SECONDS) -> None:
        if len(signing_key.encode()) < MIN_KEY_BYTES:
            raise ValueError(f"the token signing key must be at least {MIN_KEY_BYTES} bytes")
        self._key = signing_key
        self.lifetime_seconds = lifetime_seconds

    def issue(self, tenant_id: UUID, call_id: UUID, now: datetime) -> tuple[str, datetime]:
        expires_at = now + timedelta(seconds=self.lifetime_seconds)
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "typ": TOKEN_TYPE,
            "tid": str(tenant_id),
            "sub": str(call_id),
            "iat": now,
            "exp": expires_at,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM), expires_at

    def verify(self, token: str) -> tuple[UUID, UUID]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "tid", "typ"]},
            )
            if claims["typ"] != TOKEN_TYPE:
                raise RecordingLinkRefused("the recording link is not valid")
            return UUID(claims["tid"]), UUID(claims["sub"])
        except jwt.ExpiredSignatureError as error:
            raise RecordingLinkRefused("the recording link has expired", expired=True) from error
        except (jwt.InvalidTokenError, ValueError, TypeError, AttributeError) as error:
            raise RecordingLinkRefused("the recording link is not valid") from error
