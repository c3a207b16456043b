"""What the calendar stand-ins share: a provider's OAuth 2 server and its bearer-token check.

``CalendarOAuthStandIn`` is an ``OAuthStandIn`` (every request recorded with its query string)
that also answers PATCH and DELETE, and plays the provider's authorization server as Google's
and Microsoft's behave for a web application:

- the authorize endpoint (GET) checks the client, its registered redirect URI,
  ``response_type=code``, an S256 ``code_challenge`` and the scopes the provider requires, then
  approves at once for the stand-in's ``account`` and redirects (302) to the redirect URI with
  ``code`` and ``state``;
- the token endpoint (POST, form) authenticates the client (``client_secret_post`` or HTTP
  Basic) and answers the ``authorization_code`` grant (single-use code, bound to the client and
  the redirect URI, PKCE verifier checked) and the ``refresh_token`` grant, with
  ``access_token``, ``expires_in`` (``access_token_lifetime``) and a refresh token. With
  ``rotate_refresh_tokens`` (Microsoft) each refresh answers a new refresh token and the old one
  stops working, so a client that does not keep the new one fails on its next refresh.

Tests arrange: ``expire_access_tokens()`` (every access token issued so far answers 401 from now
on: revoked early), ``revoke_refresh_tokens()`` (refreshing answers ``invalid_grant``), and
``access_token_lifetime`` for the tokens issued next (0: expired at once). ``grants`` counts the
token endpoint's answers by grant type.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode

from tests.fakes.oidc_standin import OAuthRequest, OAuthStandIn
from tests.fakes.standin import Answer, RecordedRequest


@dataclass(frozen=True)
class _Code:
    redirect_uri: str
    challenge: str
    scope: str
    issued: float


class CalendarOAuthStandIn(OAuthStandIn):
    BODY = "json"  # API bodies; the token endpoint's form body is read from the raw bytes
    METHODS = ("GET", "POST", "PATCH", "DELETE")
    FAILURES: ClassVar[dict[int, object]] = {
        500: "backendError",
        503: "serviceUnavailable",
        429: "rateLimited",
    }
    AUTHORIZE_PATH: ClassVar[str]
    TOKEN_PATH: ClassVar[str]
    REQUIRED_SCOPES: ClassVar[frozenset[str]]
    CODE_LIFETIME = 600

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        redirect_uris: tuple[str, ...],
        account: str,
        rotate_refresh_tokens: bool = False,
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris = redirect_uris
        self.account = account
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.access_token_lifetime = 3600
        self.grants: Counter[str] = Counter()
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, float] = {}  # token -> when it expires (time.time())
        self._refresh: set[str] = set()
        self._oauth_lock = threading.Lock()

    # --- what tests arrange ------------------------------------------------------------------

    def expire_access_tokens(self) -> None:
        with self._oauth_lock:
            self._access = dict.fromkeys(self._access, 0.0)

    def revoke_refresh_tokens(self) -> None:
        with self._oauth_lock:
            self._refresh.clear()

    def requests_to(self, path: str) -> list[OAuthRequest]:
        return [r for r in self.requests if r.path == path]

    # --- answering ---------------------------------------------------------------------------

    def answer_failure(self, failure: Any) -> Answer:
        return Answer(int(failure) if isinstance(failure, int) else 500, {"error": {"message": str(failure)}})

    def route(self, request: RecordedRequest) -> Answer:
        assert isinstance(request, OAuthRequest)
        if request.method == "GET" and request.path == self.AUTHORIZE_PATH:
            return self._authorize(request.query)
        if request.method == "POST" and request.path == self.TOKEN_PATH:
            with self._oauth_lock:
                return self._token(request)
        if not self._authorized(request):
            return self.unauthorized()
        return self.api(request)

    def api(self, request: OAuthRequest) -> Answer:
        """The provider's API, for a request with a valid bearer token."""
        raise NotImplementedError

    def unauthorized(self) -> Answer:
        return Answer(401, {"error": {"code": 401, "message": "Invalid Credentials"}})

    def _authorized(self, request: OAuthRequest) -> bool:
        token = request.api_key
        with self._oauth_lock:
            expires = self._access.get(token or "")
        return expires is not None and time.time() < expires

    def _authorize(self, query: dict[str, str]) -> Answer:
        if query.get("client_id") != self.client_id:
            return Answer(400, {"error": "invalid_client"})
        redirect_uri = query.get("redirect_uri", "")
        if redirect_uri not in self.redirect_uris:
            return Answer(400, {"error": "redirect_uri_mismatch"})
        problem = None
        if query.get("response_type") != "code":
            problem = "unsupported_response_type"
        elif query.get("code_challenge_method") != "S256" or len(query.get("code_challenge", "")) < 43:
            problem = "invalid_request"
        elif not set(query.get("scope", "").split()) >= self.REQUIRED_SCOPES:
            problem = "invalid_scope"
        state = query.get("state", "")
        if problem:
            return _redirect(redirect_uri, {"error": problem, "state": state})
        code = secrets.token_urlsafe(24)
        with self._oauth_lock:
            self._codes[code] = _Code(redirect_uri, query["code_challenge"], query["scope"], time.time())
        return _redirect(redirect_uri, {"code": code, "state": state})

    def _token(self, request: OAuthRequest) -> Answer:
        form = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
        client = request.basic_auth or (form.get("client_id", ""), form.get("client_secret", ""))
        if client[0] != self.client_id or not hmac.compare_digest(client[1], self.client_secret):
            return Answer(401, {"error": "invalid_client"})
        grant = form.get("grant_type")
        if grant == "authorization_code":
            found = self._codes.pop(form.get("code", ""), None)
            if found is None or time.time() - found.issued > self.CODE_LIFETIME:
                return Answer(400, {"error": "invalid_grant", "error_description": "Bad code."})
            if form.get("redirect_uri") != found.redirect_uri:
                return Answer(400, {"error": "invalid_grant", "error_description": "Bad redirect."})
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
            if not hmac.compare_digest(challenge.decode(), found.challenge):
                return Answer(400, {"error": "invalid_grant", "error_description": "Bad code_verifier."})
            self.grants[grant] += 1
            return Answer(200, self._issue(found.scope, new_refresh=True))
        if grant == "refresh_token":
            token = form.get("refresh_token", "")
            if token not in self._refresh:
                return Answer(400, {"error": "invalid_grant", "error_description": "Token has been revoked."})
            self.grants[grant] += 1
            if self.rotate_refresh_tokens:
                self._refresh.discard(token)
            return Answer(200, self._issue(form.get("scope", ""), new_refresh=self.rotate_refresh_tokens))
        return Answer(400, {"error": "unsupported_grant_type"})

    def _issue(self, scope: str, *, new_refresh: bool) -> dict[str, Any]:
        access = "at-" + secrets.token_urlsafe(24)
        self._access[access] = time.time() + self.access_token_lifetime
        answer: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.access_token_lifetime,
            "scope": scope,
        }
        if new_refresh:
            refresh = "rt-" + secrets.token_urlsafe(24)
            self._refresh.add(refresh)
            answer["refresh_token"] = refresh
        return answer


def _redirect(uri: str, params: dict[str, str]) -> Answer:
    separator = "&" if "?" in uri else "?"
    return Answer(302, None, (("Location", f"{uri}{separator}{urlencode(params)}"),))
