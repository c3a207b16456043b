"""A local OpenID provider, for the sign-in adapters to talk to in tests.

``OidcStandIn`` is a threaded HTTP server on 127.0.0.1 (a port of its own) whose OAuth 2 and
OpenID Connect logic is authlib's own server side: an ``AuthorizationServer`` with the
authorization code grant, the ``OpenIDCode`` extension (which signs the ID token) and the
``CodeChallenge`` extension (PKCE). It answers what a provider like Google answers:

- ``GET /.well-known/openid-configuration``: the discovery document; the issuer is the
  stand-in's own address (``issuer``), and ``discovery_url`` is what to configure.
- ``GET /jwks``: the public half of its RSA signing key (RS256, with a ``kid``).
- ``GET /authorize``: checks the client, its redirect URI, ``response_type=code``, an S256
  ``code_challenge`` (required, and only S256) and a ``nonce`` (required), then approves at
  once for the pre-chosen person (``user``) and redirects to ``redirect_uri`` with ``code`` and
  ``state``. An error is redirected there too once the redirect URI is known to be the
  client's, and answered as JSON otherwise.
- ``POST /token``: ``grant_type=authorization_code``; the client authenticates with HTTP Basic or
  with ``client_id``/``client_secret`` in the form; the code is single-use, bound to the client
  and the redirect URI, and needs the PKCE ``code_verifier``. It answers a bearer access token
  and an ID token signed with the key of ``/jwks``: ``iss``, ``aud`` (the client id), ``sub``,
  ``iat``, ``exp`` (an hour), ``auth_time``, the authorization request's ``nonce``,
  ``at_hash``, and ``email``, ``email_verified`` and ``name`` as the scope allows.

What a test can arrange, for the next ID tokens: ``id_token_claims`` (claims put in or over
the real ones: another ``aud``, an ``exp`` in the past, another ``nonce``...), ``sign_with``
(another key, under the published ``kid``), ``tamper_id_token`` (the payload changed after
signing) and ``discovery_overrides`` (fields of the discovery document). ``fail_next`` makes
the next requests fail with a 500 or a 503, as on every stand-in.

Every request is recorded, with its query string (``requests``); the tokens issued are in
``tokens``. ``OAuthStandIn`` is shared with the GitHub and calendar stand-ins.
"""

from __future__ import annotations

import base64
import functools
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Self, cast

import httpx
from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    InvalidRequestError,
    OAuth2Error,
    OAuth2Payload,
    OAuth2Request,
    grants,
)
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin, UserInfo
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc.jwk import RSAKey

from tests.fakes.standin import Answer, RecordedRequest, StandIn, _Handler

WELL_KNOWN = "/.well-known/openid-configuration"
CODE_LIFETIME = 600  # seconds an authorization code may wait for its token request
SCOPES = ("openid", "email", "profile")


@functools.cache
def rsa_key(name: str) -> RSAKey:
    """An RSA key per name, made once per test run (2048-bit key generation is slow)."""
    return RSAKey.generate_key(2048, parameters={"kid": f"{name}-{secrets.token_hex(4)}", "use": "sig"})


# --- the stand-in base shared with the GitHub and calendar stand-ins ------------------------------

# ``StandIn`` records each request's query string (an authorize endpoint is a GET).
OAuthRequest = RecordedRequest


class _NoDelayHandler(_Handler):
    # Headers and body leave in two writes: without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK hold each answer on a kept-alive connection for about 40 ms.
    disable_nagle_algorithm = True


class OAuthStandIn(StandIn):
    """A ``StandIn`` that answers kept-alive connections without delay."""

    def __enter__(self) -> Self:
        super().__enter__()
        assert self._server is not None
        self._server.RequestHandlerClass = _NoDelayHandler  # before any request can arrive
        return self

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]


# --- authlib's models, in memory ----------------------------------------------------------------


@dataclass(frozen=True)
class OidcUser:
    """The person the stand-in signs in, whoever asks."""

    sub: str = "110169484474386276334"
    email: str | None = "ada@example.com"
    email_verified: bool = True
    name: str | None = "Ada Lovelace"


@dataclass(frozen=True)
class _Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str | None) -> str:
        return " ".join(s for s in (scope or "").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass(frozen=True)
class _Code(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str | None
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    user: OidcUser
    auth_time: int

    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


class _Payload(OAuth2Payload):
    def __init__(self, data: dict[str, str]) -> None:
        self._data = data

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:  # type: ignore[override]
        return {key: [value] for key, value in self._data.items()}


class _Request(OAuth2Request):
    """A recorded request as authlib's server reads one (query and form merged, as Flask's)."""

    def __init__(self, request: OAuthRequest, base: str) -> None:
        super().__init__(request.method, f"{base}{request.path}", headers=httpx.Headers(request.headers))
        self._query = request.query
        self._form = request.form
        self.payload = _Payload({**request.query, **request.form})

    @property
    def args(self) -> dict[str, str]:
        return self._query

    @property
    def form(self) -> dict[str, str]:
        return self._form


# --- authlib's server, with its grant and extensions ----------------------------------------------


class _Server(AuthorizationServer):
    def __init__(self, standin: OidcStandIn) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.standin = standin
        self.register_token_generator("default", self._bearer_token)
        self.register_grant(_CodeGrant, [_S256Required(), _OpenIDCode(standin)])

    def query_client(self, client_id: str) -> _Client | None:
        client = self.standin.client
        return client if client_id == client.client_id else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        self.standin.tokens.append(token)  # the ID token is added to this dict afterwards

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Answer:
        # StandIn sends its own Content-Type with a JSON body.
        kept = tuple((name, value) for name, value in headers if name.lower() != "content-type")
        return Answer(status, body if body not in ("", None) else None, kept)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signals here."""

    @staticmethod
    def _bearer_token(
        grant_type: str,
        client: _Client,
        user: OidcUser | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        return {
            "token_type": "Bearer",
            "access_token": "ya29." + secrets.token_urlsafe(32),
            "expires_in": expires_in or 3599,
            "scope": scope,
        }


class _CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012 (authlib's)

    @property
    def standin(self) -> OidcStandIn:
        return cast(_Server, self.server).standin

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        self.standin.codes[code] = _Code(
            code=code,
            client_id=request.client.get_client_id(),
            redirect_uri=data.get("redirect_uri"),
            scope=request.scope,
            nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            user=request.user,
            auth_time=int(time.time()),
        )

    def query_authorization_code(self, code: str, client: _Client) -> _Code | None:
        found = self.standin.codes.get(code)
        if found is None or found.client_id != client.get_client_id():
            return None
        return found if time.time() - found.auth_time < CODE_LIFETIME else None

    def delete_authorization_code(self, authorization_code: _Code) -> None:
        self.standin.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: _Code) -> OidcUser:
        return authorization_code.user


class _S256Required(CodeChallenge):
    """PKCE on every request, and S256 only (authlib's default also accepts none, and plain)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012 (authlib's)

    def validate_code_challenge(self, grant: grants.AuthorizationCodeGrant, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("An S256 'code_challenge' is required.", redirect_uri=redirect_uri)
        super().validate_code_challenge(grant, redirect_uri)


class _OpenIDCode(OpenIDCode):
    def __init__(self, standin: OidcStandIn) -> None:
        super().__init__(require_nonce=True)
        self.standin = standin

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return any(code.nonce == nonce for code in self.standin.codes.values())

    def resolve_client_private_key(self, client: _Client) -> RSAKey:
        return self.standin.sign_with or self.standin.signing_key

    def get_client_algorithm(self, client: _Client) -> str:
        return "RS256"

    def get_encode_header(self, client: _Client) -> dict[str, str]:
        # The published key's kid, whichever key signs: a foreign signature must fail as one.
        return {"alg": "RS256", "kid": str(self.standin.signing_key.kid), "typ": "JWT"}

    def get_client_claims(self, client: _Client) -> dict[str, Any]:
        return {"iss": self.standin.issuer, "aud": client.get_client_id()}

    def generate_user_info(self, user: OidcUser, scope: str) -> UserInfo:
        info = UserInfo(sub=user.sub)
        if "profile" in scope and user.name is not None:
            info["name"] = user.name
        if "email" in scope and user.email is not None:
            info["email"] = user.email
            info["email_verified"] = user.email_verified
        # authlib applies these claims last, so a test's claims win over the real ones.
        info.update(self.standin.id_token_claims)
        return info

    def process_token(self, grant: grants.AuthorizationCodeGrant, response: Any) -> Any:
        token = super().process_token(grant, response)
        if self.standin.tamper_id_token and "id_token" in token:
            token["id_token"] = _tampered(token["id_token"])
        return token


def _tampered(id_token: str) -> str:
    """The same token with another email in its payload, and its original signature."""
    header, payload, signature = id_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["email"] = "mallory@example.com"
    changed = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{changed}.{signature}"


# --- the stand-in -----------------------------------------------------------------------------


class OidcStandIn(OAuthStandIn):
    PROVIDER = "OIDC"
    FAILURES = {500: "server_error", 503: "temporarily_unavailable"}  # noqa: RUF012 (the base's)
    BODY = "form"

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        redirect_uris: tuple[str, ...],
        user: OidcUser | None = None,
    ) -> None:
        super().__init__()
        self.client = _Client(client_id, client_secret, redirect_uris)
        self.user = user or OidcUser()
        self.signing_key = rsa_key("standin")
        # What tests arrange for the next ID tokens and discovery documents (see the module).
        self.id_token_claims: dict[str, Any] = {}
        self.sign_with: RSAKey | None = None
        self.tamper_id_token = False
        self.discovery_overrides: dict[str, Any] = {}
        # What the provider holds.
        self.codes: dict[str, _Code] = {}
        self.tokens: list[dict[str, Any]] = []  # token responses issued, ID tokens included
        self._authorization = _Server(self)
        self._serving = threading.Lock()  # authlib's server and its stores, one request at a time

    @property
    def issuer(self) -> str:
        return self.api_base

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}{WELL_KNOWN}"

    def discovery(self) -> dict[str, Any]:
        issuer = self.issuer
        document = {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "jwks_uri": f"{issuer}/jwks",
            "scopes_supported": list(SCOPES),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": [
                "iss",
                "sub",
                "aud",
                "exp",
                "iat",
                "nonce",
                "email",
                "email_verified",
                "name",
            ],
        }
        OpenIDProviderMetadata(document).validate()  # the stand-in's own document is a valid one
        return {**document, **self.discovery_overrides}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.signing_key.as_dict(private=False, alg="RS256")]}

    # --- answering ---------------------------------------------------------------------------

    def answer_failure(self, failure: int) -> Answer:
        return Answer(failure, {"error": self.FAILURES[failure]})

    def route(self, request: RecordedRequest) -> Answer:
        assert isinstance(request, OAuthRequest)
        match (request.method, request.path):
            case ("GET", "/.well-known/openid-configuration"):
                return Answer(200, self.discovery())
            case ("GET", "/jwks"):
                return Answer(200, self.jwks())
            case ("GET", "/authorize"):
                with self._serving:
                    return self._authorize(_Request(request, self.issuer))
            case ("POST", "/token"):
                with self._serving:
                    return cast(
                        Answer, self._authorization.create_token_response(_Request(request, self.issuer))
                    )
        return Answer(404, {"error": "not_found"})

    def _authorize(self, request: _Request) -> Answer:
        """Approve at once, for ``user``: no login page, no consent screen."""
        server = self._authorization
        try:
            grant = server.get_consent_grant(request, end_user=self.user)
        except OAuth2Error as error:
            return cast(Answer, server.handle_error_response(request, error))
        return cast(Answer, server.create_authorization_response(request, grant_user=self.user, grant=grant))


__all__ = ["OAuthRequest", "OAuthStandIn", "OidcStandIn", "OidcUser", "rsa_key"]
