"""Google: sign-in with OpenID Connect (authorization code flow with PKCE), through authlib.

The adapter reads Google's discovery document (``server_metadata_url``), sends the browser to
its authorization endpoint with ``scope=openid email profile``, a nonce and an S256 code
challenge, trades the code at its token endpoint (``authlib``'s ``AsyncOAuth2Client``), and
accepts the ID token only when it is signed by a key of the provider's JWKS and its ``iss``,
``aud``, ``exp`` and ``nonce`` are right (``joserfc`` decodes it, ``authlib``'s
``CodeIDToken`` checks the claims).

Sign-in providers are configured by the platform operator, never by a tenant: sign-in happens
before any tenant is known. ``server_metadata_url`` may point at any OpenID provider (a local
stand-in in tests); the issuer its document names must be that URL's prefix.
"""

from __future__ import annotations

from typing import Any

import httpx2
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636.challenge import CODE_CHALLENGE_PATTERN
from authlib.oidc.core import CodeIDToken
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from switchboard.core.integrations.model import Capability
from switchboard.plugins import ProviderSpec, hookimpl
from switchboard.plugins.oauth import operator_url, shared_tls
from switchboard.ports.sign_in import ExternalIdentity, SignInRejected

SLUG = "google"
DISCOVERY_URL = "https://accounts.google.com/.well-known/openid-configuration"
WELL_KNOWN = "/.well-known/openid-configuration"
SCOPE = "openid email profile"
REQUEST_TIMEOUT = 10.0  # seconds, per call to the provider
LEEWAY = 60  # seconds of clock skew allowed on the ID token's exp, iat and nbf
# Signature algorithms an ID token may use: asymmetric only, so no key in a public JWKS can
# verify a token anyone could have made (no HS*, no "none").
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
# Google documents both spellings of its issuer in ID tokens.
ISSUER_ALIASES = {"https://accounts.google.com": ("accounts.google.com",)}


class GoogleConfig(BaseModel):
    """The operator's OAuth client at Google (or at another OpenID provider)."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1, max_length=300)
    client_secret: SecretStr = Field(min_length=1, max_length=300)
    server_metadata_url: str = Field(default=DISCOVERY_URL, max_length=500)

    @field_validator("server_metadata_url")
    @classmethod
    def _a_discovery_document(cls, url: str) -> str:
        url = operator_url(url)
        if not url.endswith(WELL_KNOWN) or url == WELL_KNOWN:
            raise ValueError(f"must be an OpenID provider's discovery document: <issuer>{WELL_KNOWN}")
        return url


class GoogleSignIn:
    """The SignInProvider port for the operator's Google client.

    Built fresh for each use: the discovery document and the JWKS it fetches are kept on this
    instance only, so they live as long as one sign-in step.
    """

    def __init__(self, config: GoogleConfig) -> None:
        self._config = config
        self._metadata: dict[str, Any] | None = None
        self._jwks: Any = None

    # --- the port ----------------------------------------------------------------------------

    async def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_challenge: str
    ) -> str:
        if not state or not nonce:
            raise ValueError("a sign-in needs a state and a nonce")
        if not CODE_CHALLENGE_PATTERN.match(code_challenge):
            raise ValueError("code_challenge must be an S256 challenge (43 to 128 URL-safe characters)")
        metadata = self._metadata or self._accept_metadata(await self._fetch_metadata())
        return str(
            prepare_grant_uri(
                metadata["authorization_endpoint"],
                client_id=self._config.client_id,
                response_type="code",
                redirect_uri=redirect_uri,
                scope=SCOPE,
                state=state,
                nonce=nonce,
                code_challenge=code_challenge,
                code_challenge_method="S256",
            )
        )

    async def complete(
        self, *, code: str, redirect_uri: str, nonce: str, code_verifier: str
    ) -> ExternalIdentity:
        if not code:
            raise SignInRejected("no authorization code came back")
        if not nonce:
            raise SignInRejected("no nonce to check the ID token against")
        client = AsyncOAuth2Client(
            client_id=self._config.client_id,
            client_secret=self._config.client_secret.get_secret_value(),
            timeout=REQUEST_TIMEOUT,
            verify=shared_tls(),
        )
        async with client:
            metadata = self._metadata or self._accept_metadata(
                await self._get_json(client, self._metadata_url)
            )
            client.token_endpoint_auth_method = _client_auth_method(metadata)
            token = await self._exchange(client, metadata, code, redirect_uri, code_verifier)
            id_token = token.get("id_token")
            if not isinstance(id_token, str) or not id_token:
                raise SignInRejected(f"{self._name} answered without an ID token")
            if self._jwks is None:
                self._jwks = await self._get_json(client, metadata["jwks_uri"])
        claims = self._verified_claims(id_token, metadata, self._jwks, nonce, token.get("access_token"))
        email = claims.get("email")
        name = claims.get("name")
        return ExternalIdentity(
            provider=SLUG,
            subject=claims["sub"],
            email=email if isinstance(email, str) and email else None,
            email_verified=claims.get("email_verified") is True,
            name=name if isinstance(name, str) and name else None,
        )

    # --- discovery ---------------------------------------------------------------------------

    @property
    def _metadata_url(self) -> str:
        return self._config.server_metadata_url

    @property
    def _name(self) -> str:
        return "Google" if self._metadata_url == DISCOVERY_URL else "the OpenID provider"

    async def _fetch_metadata(self) -> Any:
        # The authorization endpoint is in the discovery document, read once per adapter.
        try:
            async with httpx2.AsyncClient(timeout=REQUEST_TIMEOUT, verify=shared_tls()) as client:
                response = await client.get(self._metadata_url)
            response.raise_for_status()
            return response.json()
        except (httpx2.HTTPError, ValueError) as error:
            raise SignInRejected(self._unreachable("discovery document", error)) from None

    async def _get_json(self, client: AsyncOAuth2Client, url: str) -> Any:
        try:
            response = await client.request("GET", url, withhold_token=True)  # never the access token
            response.raise_for_status()
            return response.json()
        except (httpx2.HTTPError, ValueError) as error:
            what = "discovery document" if url == self._metadata_url else "signing keys (JWKS)"
            raise SignInRejected(self._unreachable(what, error)) from None

    def _unreachable(self, what: str, error: Exception) -> str:
        if isinstance(error, httpx2.HTTPStatusError):
            return f"{self._name}'s {what} could not be read: HTTP {error.response.status_code}"
        if isinstance(error, ValueError):
            return f"{self._name}'s {what} is not JSON"
        return f"{self._name}'s {what} could not be read: {type(error).__name__}"

    def _accept_metadata(self, document: Any) -> dict[str, Any]:
        """The discovery document, if it names this issuer and endpoints that are safe to use."""
        if not isinstance(document, dict):
            raise SignInRejected(f"{self._name}'s discovery document is not a JSON object")
        for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(key), str) or not document[key]:
                raise SignInRejected(f"{self._name}'s discovery document has no {key}")
        metadata = OpenIDProviderMetadata(document)
        try:
            metadata.validate_issuer()
            metadata.validate_authorization_endpoint()
            metadata.validate_token_endpoint()
            metadata.validate_jwks_uri()
        except ValueError as error:
            raise SignInRejected(f"{self._name}'s discovery document is refused: {error}") from None
        # OpenID Connect Discovery 1.0, section 4.3: the issuer is the URL the document is under.
        if document["issuer"] != self._metadata_url.removesuffix(WELL_KNOWN):
            raise SignInRejected(f"{self._name}'s discovery document names another issuer")
        self._metadata = document
        return document

    # --- the code and the ID token -----------------------------------------------------------

    async def _exchange(
        self, client: AsyncOAuth2Client, metadata: dict[str, Any], code: str, redirect_uri: str, verifier: str
    ) -> dict[str, Any]:
        try:
            token = await client.fetch_token(
                metadata["token_endpoint"],
                grant_type="authorization_code",
                code=code,
                redirect_uri=redirect_uri,
                code_verifier=verifier,
            )
        except OAuthError as error:  # the provider's error answer: invalid_grant, ...
            raise SignInRejected(f"{self._name} refused the code: {_error_code(error)}") from None
        except httpx2.HTTPError as error:
            raise SignInRejected(self._unreachable("token endpoint", error)) from None
        except ValueError:  # an answer that is not a JSON object
            raise SignInRejected(f"{self._name}'s token endpoint did not answer JSON") from None
        return dict(token)

    def _verified_claims(
        self, id_token: str, metadata: dict[str, Any], jwks: Any, nonce: str, access_token: Any
    ) -> CodeIDToken:
        issuer = metadata["issuer"]
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [alg for alg in ALGORITHMS if isinstance(offered, list) and alg in offered]
        if not algorithms:
            raise SignInRejected(f"{self._name} signs ID tokens with no algorithm accepted here")
        client_id = self._config.client_id
        try:
            keys = KeySet.import_key_set(jwks)
        except (JoseError, ValueError, TypeError, KeyError):
            raise SignInRejected(f"{self._name}'s signing keys (JWKS) cannot be read") from None
        try:
            token = jwt.decode(id_token, keys, algorithms=algorithms)
            claims = CodeIDToken(
                token.claims,
                token.header,
                {
                    "iss": {"essential": True, "values": [issuer, *ISSUER_ALIASES.get(issuer, ())]},
                    "aud": {"essential": True, "value": client_id},
                    "sub": {"essential": True},
                    "exp": {"essential": True},
                    "nonce": {"essential": True, "value": nonce},
                },
                {"client_id": client_id, "nonce": nonce, "access_token": access_token},
            )
            claims.validate(leeway=LEEWAY)
        except BadSignatureError:
            raise SignInRejected("the ID token's signature does not match the provider's keys") from None
        except InvalidKeyIdError:
            raise SignInRejected("the ID token is signed with a key the provider does not publish") from None
        except ExpiredTokenError:
            raise SignInRejected("the ID token has expired") from None
        except ClaimError as error:
            state = "missing" if isinstance(error, MissingClaimError) else "wrong"
            raise SignInRejected(f"the ID token's {error.claim} claim is {state}") from None
        except (JoseError, ValueError, TypeError):
            raise SignInRejected("the ID token is not a valid signed JWT") from None
        return claims


def _client_auth_method(metadata: dict[str, Any]) -> str:
    supported = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    for method in ("client_secret_basic", "client_secret_post"):
        if method in supported:
            return method
    raise SignInRejected("the provider's token endpoint takes no client secret")


def _error_code(error: OAuthError) -> str:
    """The provider's error code (``invalid_grant``), never its free text, which might echo input."""
    code = str(getattr(error, "error", "") or "")
    return code if code.replace("_", "").isalnum() and len(code) <= 60 else "an error"


class GooglePlugin:
    """Offers ``google`` (sign_in). Holds nothing: the operator's client is each spec's config."""

    name = "google"

    @hookimpl
    def switchboard_providers(self) -> list[ProviderSpec]:
        return [
            ProviderSpec(
                slug=SLUG,
                capability=Capability.SIGN_IN,
                name="Google",
                config_model=GoogleConfig,
                build=GoogleSignIn,
                description="Signs people in with their Google account (OpenID Connect).",
            )
        ]


__all__ = ["DISCOVERY_URL", "GoogleConfig", "GooglePlugin", "GoogleSignIn"]
