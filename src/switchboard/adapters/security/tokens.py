"""Short-lived access tokens as JWTs (HS256, one allow-listed algorithm)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from functools import lru_cache
from uuid import UUID

import jwt

from switchboard.core.errors import AuthenticationFailed
from switchboard.core.identity.model import Principal
from switchboard.core.tenancy.model import Role

ALGORITHM = "HS256"
TOKEN_TYPE = "access"  # noqa: S105 (a claim value, not a secret)
ISSUER = "switchboard"
AUDIENCE = "switchboard-api"
ADMIN_AUDIENCE = "switchboard-admin"
ADMIN_TOKEN_TYPE = "admin"  # noqa: S105 (a claim value, not a secret)
_REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "tid", "role", "typ"]
MIN_KEY_BYTES = 32


class JwtAccessTokens:
    """Issues and checks access tokens.

    A token that passed every check is remembered (bounded, least recently used first out), so
    a client's next requests skip the signature work; its expiry is still checked each time.
    Only verified tokens are kept, under their exact text, so nothing unverified can be served.
    """

    def __init__(self, signing_key: str, lifetime_seconds: int = 900, cache_size: int = 4096) -> None:
        if len(signing_key.encode()) < MIN_KEY_BYTES:
            raise ValueError(f"the token signing key must be at least {MIN_KEY_BYTES} bytes")
        self._key = signing_key
        self.lifetime_seconds = lifetime_seconds
        self._verified = lru_cache(maxsize=cache_size)(self._decode)

    def issue(self, principal: Principal, now: datetime) -> str:
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(principal.user_id),
            "tid": str(principal.tenant_id),
            "role": principal.role.value,
            "typ": TOKEN_TYPE,
            "iat": now,
            "exp": now + timedelta(seconds=self.lifetime_seconds),
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify(self, token: str) -> Principal:
        principal, expires_at = self._verified(token)
        if time.time() >= expires_at:
            raise AuthenticationFailed("the access token has expired")
        return principal

    def issue_admin(self, admin_id: UUID, now: datetime) -> str:
        claims = {
            "iss": ISSUER,
            "aud": ADMIN_AUDIENCE,
            "sub": str(admin_id),
            "typ": ADMIN_TOKEN_TYPE,
            "iat": now,
            "exp": now + timedelta(seconds=self.lifetime_seconds),
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify_admin(self, token: str) -> UUID:
        """Admin tokens are rare and powerful: always checked in full, never remembered."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=ADMIN_AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "typ"]},
            )
            if claims["typ"] != ADMIN_TOKEN_TYPE:
                raise AuthenticationFailed("the token is not a platform admin token")
            return UUID(claims["sub"])
        except jwt.ExpiredSignatureError as error:
            raise AuthenticationFailed("the admin token has expired") from error
        except (jwt.InvalidTokenError, ValueError, TypeError, KeyError) as error:
            raise AuthenticationFailed("the admin token is not valid") from error

    def _decode(self, token: str) -> tuple[Principal, float]:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": _REQUIRED_CLAIMS},
            )
            if claims["typ"] != TOKEN_TYPE:
                raise AuthenticationFailed("the token is not an access token")
            principal = Principal(UUID(claims["sub"]), UUID(claims["tid"]), Role(claims["role"]))
            return principal, float(claims["exp"])
        except jwt.ExpiredSignatureError as error:
            raise AuthenticationFailed("the access token has expired") from error
        except (jwt.InvalidTokenError, ValueError, TypeError, KeyError) as error:
            raise AuthenticationFailed("the access token is not valid") from error
