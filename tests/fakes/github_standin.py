"""A local stand-in for GitHub's OAuth app flow and the two API calls sign-in makes.

``GitHubStandIn`` is a threaded HTTP server on 127.0.0.1 (a port of its own). As on GitHub
Enterprise Server, the web flow is at its root (``web_base``) and the REST API under
``/api/v3`` (``api_base``), so an adapter that mixes the two up fails here. It answers:

- ``GET /login/oauth/authorize``: checks ``client_id`` (unknown: 404) and ``redirect_uri`` (not
  the app's: a redirect to the app's callback with ``error=redirect_uri_mismatch``), and a
  ``code_challenge_method`` of ``S256`` when a challenge is sent; then approves at once for the
  pre-chosen account (``user``) and redirects to ``redirect_uri`` with ``code`` and ``state``.
- ``POST /login/oauth/access_token``: ``client_id``, ``client_secret``, ``code``,
  ``redirect_uri`` and ``code_verifier`` as form fields. The code is single-use (any attempt
  uses it up), bound to the app and its redirect URI, and needs the verifier of its S256
  challenge. As GitHub does, a refusal is ``200`` with ``{"error", "error_description",
  "error_uri"}`` (``bad_verification_code``, ``incorrect_client_credentials``,
  ``redirect_uri_mismatch``); GitHub's exact error for a wrong verifier is not documented, and
  the stand-in answers ``bad_verification_code``. A success is ``{"access_token": "gho_...",
  "token_type": "bearer", "scope": "read:user,user:email"}``. Only JSON is spoken here:
  without ``Accept: application/json`` (GitHub would answer form-encoded text) it answers 406.
- ``GET /api/v3/user`` and ``GET /api/v3/user/emails`` with ``Authorization: Bearer`` (or
  ``token``) and an issued token: the account, and its addresses (``email``, ``primary``,
  ``verified``, ``visibility``); the latter needs the ``user:email`` scope (404 without, as
  GitHub hides what a token may not see). A bad token is GitHub's 401 ``Bad credentials``.

Every request is recorded with its query string (``requests``). ``fail_next`` fails the next
requests with a 500 or a 503; ``fail_api`` answers every API call with that status instead.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.fakes.oidc_standin import OAuthRequest, OAuthStandIn
from tests.fakes.standin import Answer, RecordedRequest

API_PREFIX = "/api/v3"
DOCS = (
    "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors"
)
ERRORS = {
    "bad_verification_code": "The code passed is incorrect or expired.",
    "incorrect_client_credentials": "The client_id and/or client_secret passed are incorrect.",
    "redirect_uri_mismatch": "The redirect_uri MUST match the registered callback URL for this application.",
}


@dataclass(frozen=True)
class GitHubEmail:
    email: str
    primary: bool = False
    verified: bool = True
    visibility: str | None = None


@dataclass(frozen=True)
class GitHubUser:
    """The account the stand-in signs in, whoever asks."""

    id: int = 583231
    login: str = "octocat"
    name: str | None = "The Octocat"
    emails: tuple[GitHubEmail, ...] = (
        GitHubEmail("octocat@github.com", primary=True, verified=True, visibility="public"),
        GitHubEmail("octocat@users.noreply.github.com", verified=True),
    )

    def as_api(self) -> dict[str, Any]:
        public = next((e.email for e in self.emails if e.visibility == "public"), None)
        return {
            "login": self.login,
            "id": self.id,
            "node_id": f"MDQ6VXNlcj{self.id}",
            "type": "User",
            "site_admin": False,
            "name": self.name,
            "email": public,
        }


@dataclass(frozen=True)
class _Grant:
    client_id: str
    redirect_uri: str
    scope: str
    code_challenge: str | None
    user: GitHubUser


@dataclass
class _Issued:
    user: GitHubUser
    scopes: set[str] = field(default_factory=set)


def _error(error: str) -> Answer:
    return Answer(200, {"error": error, "error_description": ERRORS[error], "error_uri": DOCS})


def _api_error(status: int, message: str) -> Answer:
    return Answer(
        status,
        {"message": message, "documentation_url": "https://docs.github.com/rest", "status": str(status)},
    )


class GitHubStandIn(OAuthStandIn):
    PROVIDER = "GitHub"
    FAILURES = {500: "Internal Server Error", 503: "Service Unavailable"}  # noqa: RUF012 (the base's)
    BODY = "form"

    def __init__(
        self, *, client_id: str, client_secret: str, callback_url: str, user: GitHubUser | None = None
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.callback_url = callback_url
        self.user = user or GitHubUser()
        self.fail_api: int | None = None
        self.codes: dict[str, _Grant] = {}
        self.tokens: dict[str, _Issued] = {}
        self._serving = threading.Lock()

    @property
    def web_base(self) -> str:
        return super().api_base

    @property
    def api_base(self) -> str:
        return f"{self.web_base}{API_PREFIX}"

    # --- answering ---------------------------------------------------------------------------

    def answer_failure(self, failure: int) -> Answer:
        return _api_error(failure, self.FAILURES[failure])

    def route(self, request: RecordedRequest) -> Answer:
        assert isinstance(request, OAuthRequest)
        with self._serving:
            match (request.method, request.path):
                case ("GET", "/login/oauth/authorize"):
                    return self._authorize(request.query)
                case ("POST", "/login/oauth/access_token"):
                    return self._access_token(request)
                case ("GET", "/api/v3/user"):
                    return self._api(request, lambda issued: issued.user.as_api())
                case ("GET", "/api/v3/user/emails"):
                    return self._api(request, self._emails)
        return _api_error(404, "Not Found")

    def _authorize(self, query: dict[str, str]) -> Answer:
        if query.get("client_id") != self.client_id:
            return _api_error(404, "Not Found")
        redirect_uri = query.get("redirect_uri", self.callback_url)
        state = {"state": query["state"]} if "state" in query else {}
        if redirect_uri != self.callback_url:
            params = {"error": "redirect_uri_mismatch", "error_description": ERRORS["redirect_uri_mismatch"]}
            return Answer(302, None, (("Location", f"{self.callback_url}?{urlencode({**params, **state})}"),))
        challenge = query.get("code_challenge")
        if challenge and query.get("code_challenge_method") != "S256":
            return _api_error(400, "code_challenge_method must be S256")
        code = secrets.token_hex(10)
        self.codes[code] = _Grant(self.client_id, redirect_uri, query.get("scope", ""), challenge, self.user)
        return Answer(302, None, (("Location", f"{redirect_uri}?{urlencode({'code': code, **state})}"),))

    def _access_token(self, request: OAuthRequest) -> Answer:
        if "application/json" not in request.headers.get("accept", ""):
            return _api_error(406, "this stand-in answers JSON only: send Accept: application/json")
        form = request.form
        secret = form.get("client_secret", "")
        if form.get("client_id") != self.client_id or not hmac.compare_digest(
            secret.encode(), self.client_secret.encode()
        ):
            return _error("incorrect_client_credentials")
        grant = self.codes.pop(form.get("code", ""), None)  # used up by any attempt
        if grant is None:
            return _error("bad_verification_code")
        if form.get("redirect_uri", grant.redirect_uri) != grant.redirect_uri:
            return _error("redirect_uri_mismatch")
        if grant.code_challenge is not None:
            verifier = form.get("code_verifier", "")
            if not verifier or create_s256_code_challenge(verifier) != grant.code_challenge:
                return _error("bad_verification_code")
        token = "gho_" + secrets.token_urlsafe(27)
        scopes = {s for s in grant.scope.replace(",", " ").split() if s}
        self.tokens[token] = _Issued(grant.user, scopes)
        return Answer(200, {"access_token": token, "token_type": "bearer", "scope": ",".join(sorted(scopes))})

    def _api(self, request: OAuthRequest, body: Any) -> Answer:
        if self.fail_api is not None:
            return _api_error(self.fail_api, "failing as asked")
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        issued = self.tokens.get(token) if scheme.lower() in ("bearer", "token") else None
        if issued is None:
            return _api_error(401, "Bad credentials")
        answer = body(issued)
        return answer if isinstance(answer, Answer) else Answer(200, answer)

    def _emails(self, issued: _Issued) -> Any:
        if "user:email" not in issued.scopes and "user" not in issued.scopes:
            return _api_error(404, "Not Found")
        return [asdict(email) for email in issued.user.emails]


__all__ = ["GitHubEmail", "GitHubStandIn", "GitHubUser"]
