"""GitHub: sign-in with an OAuth app (OAuth 2 authorization code flow with PKCE), through authlib.

GitHub is OAuth 2 only, with no OpenID Connect: there is no ID token and no nonce. The adapter
sends the browser to ``{web_base}/login/oauth/authorize`` with ``scope=read:user user:email``
and an S256 code challenge, trades the code at ``{web_base}/login/oauth/access_token``
(``authlib``'s ``AsyncOAuth2Client``, ``Accept: application/json``), then asks the API who the
person is: ``GET {api_base}/user`` for the numeric id and name, ``GET {api_base}/user/emails``
for the primary address and whether GitHub verified it.

Sign-in providers are configured by the platform operator, never by a tenant. ``web_base`` and
``api_base`` point at GitHub unless the operator says otherwise (GitHub Enterprise Server is
``https://<host>`` and ``https://<host>/api/v3``; a local stand-in in tests).
"""

from __future__ import annotations

from typing import Any

import httpx2
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636.challenge import CODE_CHALLENGE_PATTERN
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from switchboard.core.integrations.model import Capability
from switchboard.plugins import ProviderSpec, hookimpl
from switchboard.plugins.oauth import operator_url, shared_tls
from switchboard.plugins.payloads import text_of
from switchboard.ports.sign_in import ExternalIdentity, SignInRejected

SLUG = "github"
WEB_BASE = "https://github.com"
API_BASE = "https://api.github.com"
SCOPE = "read:user user:email"
REQUEST_TIMEOUT = 10.0  # seconds, per call to GitHub
API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


class GitHubConfig(BaseModel):
    """The operator's OAuth app at GitHub."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1, max_length=300)
    client_secret: SecretStr = Field(min_length=1, max_length=300)
    web_base: str = Field(default=WEB_BASE, max_length=500)
    api_base: str = Field(default=API_BASE, max_length=500)

    @field_validator("web_base", "api_base")
    @classmethod
    def _secure(cls, url: str) -> str:
        return operator_url(url)


class GitHubSignIn:
    """The SignInProvider port for the operator's GitHub OAuth app. Built fresh for each use."""

    def __init__(self, config: GitHubConfig) -> None:
        self._config = config

    async def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_challenge: str
    ) -> str:
        # GitHub has no ID token, so nothing would carry the nonce back: it is not sent.
        if not state:
            raise ValueError("a sign-in needs a state")
        if not CODE_CHALLENGE_PATTERN.match(code_challenge):
            raise ValueError("code_challenge must be an S256 challenge (43 to 128 URL-safe characters)")
        return str(
            prepare_grant_uri(
                f"{self._config.web_base}/login/oauth/authorize",
                client_id=self._config.client_id,
                response_type="code",
                redirect_uri=redirect_uri,
                scope=SCOPE,
                state=state,
                code_challenge=code_challenge,
                code_challenge_method="S256",
            )
        )

    async def complete(
        self, *, code: str, redirect_uri: str, nonce: str, code_verifier: str
    ) -> ExternalIdentity:
        if not code:
            raise SignInRejected("no authorization code came back")
        client = AsyncOAuth2Client(
            client_id=self._config.client_id,
            client_secret=self._config.client_secret.get_secret_value(),
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method's name, as GitHub documents)
            timeout=REQUEST_TIMEOUT,
            verify=shared_tls(),
        )
        async with client:
            try:
                # authlib asks for JSON (Accept: application/json); GitHub answers an error with
                # 200 and {"error": ...}, which authlib raises as OAuthError.
                await client.fetch_token(
                    f"{self._config.web_base}/login/oauth/access_token",
                    grant_type="authorization_code",
                    code=code,
                    redirect_uri=redirect_uri,
                    code_verifier=code_verifier,
                )
            except OAuthError as error:
                raise SignInRejected(f"GitHub refused the code: {_error_code(error)}") from None
            except httpx2.HTTPError as error:
                raise SignInRejected(_unreachable("token endpoint", error)) from None
            except ValueError:
                raise SignInRejected("GitHub's token endpoint did not answer JSON") from None
            user = await _api(client, self._config.api_base, "/user")
            # Paged, 30 a page by default: ask for GitHub's most, so the primary one is in it.
            emails = await _api(client, self._config.api_base, "/user/emails", per_page=100)
        if not isinstance(user, dict) or not _is_id(user.get("id")):
            raise SignInRejected("GitHub's /user answer has no numeric id")
        if not isinstance(emails, list):
            raise SignInRejected("GitHub's /user/emails answer is not a list")
        primary = next(
            (
                e
                for e in emails
                if isinstance(e, dict) and e.get("primary") is True and text_of(e.get("email"))
            ),
            None,
        )
        return ExternalIdentity(
            provider=SLUG,
            subject=str(user["id"]),
            email=primary["email"] if primary else None,
            email_verified=primary is not None and primary.get("verified") is True,
            name=text_of(user.get("name")) or text_of(user.get("login")),
        )


async def _api(client: AsyncOAuth2Client, api_base: str, path: str, **params: int) -> Any:
    """GET one API path with the person's access token (authlib puts it in Authorization)."""
    try:
        response = await client.get(f"{api_base}{path}", headers=API_HEADERS, params=params)
        response.raise_for_status()
        return response.json()
    except OAuthError as error:  # authlib's own check of the token before sending it
        raise SignInRejected(f"GitHub's access token cannot be used: {_error_code(error)}") from None
    except httpx2.HTTPError as error:
        raise SignInRejected(_unreachable(path, error)) from None
    except ValueError:
        raise SignInRejected(f"GitHub's {path} did not answer JSON") from None


def _unreachable(what: str, error: Exception) -> str:
    if isinstance(error, httpx2.HTTPStatusError):
        return f"GitHub's {what} answered HTTP {error.response.status_code}"
    return f"GitHub's {what} could not be reached: {type(error).__name__}"


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _error_code(error: OAuthError) -> str:
    """GitHub's error code (``bad_verification_code``), never its free text."""
    code = str(getattr(error, "error", "") or "")
    return code if code.replace("_", "").isalnum() and len(code) <= 60 else "an error"


class GitHubPlugin:
    """Offers ``github`` (sign_in). Holds nothing: the operator's app is the spec's config."""

    name = "github"

    @hookimpl
    def switchboard_providers(self) -> list[ProviderSpec]:
        return [
            ProviderSpec(
                slug=SLUG,
                capability=Capability.SIGN_IN,
                name="GitHub",
                config_model=GitHubConfig,
                build=GitHubSignIn,
                description="Signs people in with their GitHub account (OAuth 2).",
            )
        ]


__all__ = ["API_BASE", "WEB_BASE", "GitHubConfig", "GitHubPlugin", "GitHubSignIn"]
