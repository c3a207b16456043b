"""Short-lived access tokens as JWTs (HS256, one allow-listed algorithm)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
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
CHALLENGE_AUDIENCE = "switchboard-mfa"
CHALLENGE_TYPE = "mfa_challenge"
CHALLENGE_LIFETIME = timedelta(minutes=5)
STATE_AUDIENCE = "switchboard-state"
_REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "tid", "role", "sid", "typ"]
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
        if principal.user_id is None or principal.role is None or principal.session_id is None:
            raise ValueError("an access token names a user, their role and their session")
        claims: dict[str, object] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(principal.user_id),
            "tid": str(principal.tenant_id),
            "role": principal.role.value,
            "sid": str(principal.session_id),
            "typ": TOKEN_TYPE,
            "iat": now,
            "exp": now + timedelta(seconds=self.lifetime_seconds),
        }
        if principal.impersonator_id is not None:
            # RFC 8693: the subject is the user; the actor is the admin acting as them.
            claims["act"] = {"sub": str(principal.impersonator_id), "typ": ADMIN_TOKEN_TYPE}
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
        except (jwt.InvalidTokenError, ValueError, TypeError, KeyError, AttributeError) as error:
            raise AuthenticationFailed("the admin token is not valid") from error

    def issue_challenge(self, user_id: UUID, tenant_id: UUID, now: datetime) -> str:
        claims = {
            "iss": ISSUER,
            "aud": CHALLENGE_AUDIENCE,
            "sub": str(user_id),
            "tid": str(tenant_id),
            "typ": CHALLENGE_TYPE,
            "iat": now,
            "exp": now + CHALLENGE_LIFETIME,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify_challenge(self, token: str) -> tuple[UUID, UUID]:
        claims = self._decode_other(token, CHALLENGE_AUDIENCE, ["sub", "tid", "typ"], "challenge")
        if claims["typ"] != CHALLENGE_TYPE:
            raise AuthenticationFailed("the challenge token is not valid")
        return UUID(claims["sub"]), UUID(claims["tid"])

    def issue_state(self, claims: dict[str, str], now: datetime, lifetime_seconds: int) -> str:
        envelope = {"iss": ISSUER, "aud": STATE_AUDIENCE, "iat": now} | claims
        envelope["exp"] = now + timedelta(seconds=lifetime_seconds)
        return jwt.encode(envelope, self._key, algorithm=ALGORITHM)

    def verify_state(self, token: str) -> dict[str, str]:
        claims = self._decode_other(token, STATE_AUDIENCE, [], "state")
        return {key: value for key, value in claims.items() if isinstance(value, str)}

    def _decode_other(self, token: str, audience: str, required: list[str], what: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=audience,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "iss", "aud", *required]},
            )
            UUID(claims.get("sub", "00000000-0000-0000-0000-000000000000"))
            return claims
        except jwt.ExpiredSignatureError as error:
            raise AuthenticationFailed(f"the {what} token has expired") from error
        except (jwt.InvalidTokenError, ValueError, TypeError, AttributeError) as error:
            raise AuthenticationFailed(f"the {what} token is not valid") from error

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
            actor = claims.get("act")
            principal = Principal(
                user_id=UUID(claims["sub"]),
                tenant_id=UUID(claims["tid"]),
                role=Role(claims["role"]),
                session_id=UUID(claims["sid"]),
                impersonator_id=UUID(actor["sub"]) if actor is not None else None,
            )
            return principal, float(claims["exp"])
        except jwt.ExpiredSignatureError as error:
            raise AuthenticationFailed("the access token has expired") from error
        except (jwt.InvalidTokenError, ValueError, TypeError, KeyError, AttributeError) as error:
            raise AuthenticationFailed("the access token is not valid") from error
