"""Signing in with an outside identity provider (OAuth 2 / OpenID Connect)."""

from __future__ import annotations

from typing import Protocol

from switchboard.core.identity.model import ExternalIdentity, SignInRejected

__all__ = ["ExternalIdentity", "SignInProvider", "SignInProviders", "SignInRejected"]


class SignInProvider(Protocol):
    async def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_challenge: str
    ) -> str:
        """Where to send the person's browser (authorization code flow, PKCE with S256)."""
        ...

    async def complete(
        self, *, code: str, redirect_uri: str, nonce: str, code_verifier: str
    ) -> ExternalIdentity:
        """Trade the code for the person's identity; raises ``SignInRejected``."""
        ...


class SignInProviders(Protocol):
    """The sign-in providers the operator configured (sign-in happens before any tenant)."""

    def slugs(self) -> list[str]: ...

    def get(self, slug: str) -> SignInProvider | None: ...
