"""What the calendar plugins share: the operator's OAuth 2 client, and one connection's tokens.

``CalendarOAuth`` is the operator's client at a provider (authlib's ``AsyncOAuth2Client``):
the consent URL (authorization code flow with PKCE S256 and offline access), the code exchange,
and the refresh grant. ``TokenSession`` makes one tenant's API calls with that tenant's tokens:
authlib refreshes an access token that has expired (or is about to) before a call, and the
session refreshes once more and retries when the provider answers 401 all the same (a token
revoked early). ``tokens()`` answers the tokens as they are after the calls; the caller seals
them back. A client is made for each call and dropped after it: nothing holding one tenant's
tokens outlives the work it was made for.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx2
from authlib.integrations.base_client import InvalidTokenError, OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636.challenge import CODE_CHALLENGE_PATTERN

from switchboard.core.scheduling.calendar_model import CalendarTokens
from switchboard.plugins.oauth import shared_tls
from switchboard.ports.providers import ProviderError

REQUEST_TIMEOUT = 10.0  # seconds, per call to the provider
LEEWAY = 60  # seconds before its expiry an access token is refreshed
# Refusals of a grant that asking again cannot change: the person must connect again.
FINAL_OAUTH_ERRORS = frozenset({"invalid_grant", "invalid_client", "unauthorized_client", "invalid_scope"})


class CalendarOAuth:
    """The operator's OAuth client at one calendar provider."""

    def __init__(
        self,
        *,
        provider: str,
        client_id: str,
        client_secret: str,
        authorize_url: str,
        token_url: str,
        scope: str,
        authorize_params: dict[str, str] | None = None,
        send_scope_on_refresh: bool = False,
    ) -> None:
        self.provider = provider
        self._client_id = client_id
        self._client_secret = client_secret
        self._authorize_url = authorize_url
        self.token_url = token_url
        self.scope = scope
        self._authorize_params = authorize_params or {}
        self._send_scope_on_refresh = send_scope_on_refresh

    def authorization_url(self, *, redirect_uri: str, state: str, code_challenge: str) -> str:
        if not state:
            raise ValueError("a connection needs a state")
        if not CODE_CHALLENGE_PATTERN.match(code_challenge):
            raise ValueError("code_challenge must be an S256 challenge (43 to 128 URL-safe characters)")
        return str(
            prepare_grant_uri(
                self._authorize_url,
                client_id=self._client_id,
                response_type="code",
                redirect_uri=redirect_uri,
                scope=self.scope,
                state=state,
                code_challenge=code_challenge,
                code_challenge_method="S256",
                **self._authorize_params,
            )
        )

    async def exchange(self, *, code: str, redirect_uri: str, code_verifier: str) -> CalendarTokens:
        async with self.client() as client:
            try:
                token = await client.fetch_token(
                    self.token_url,
                    grant_type="authorization_code",
                    code=code,
                    redirect_uri=redirect_uri,
                    code_verifier=code_verifier,
                )
            except OAuthError as error:
                raise ProviderError(
                    f"{self.provider} refused the authorization code: {error_code(error)}",
                    retryable=False,
                    code=error_code(error),
                ) from None
            except (httpx2.HTTPError, ValueError) as error:
                raise unreachable(self.provider, "token endpoint", error) from None
        tokens = tokens_of(token)
        if tokens.refresh_token is None:
            raise ProviderError(
                f"{self.provider} granted no refresh token (offline access was not granted)", retryable=False
            )
        return tokens

    def client(self, tokens: CalendarTokens | None = None) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self._client_id,
            client_secret=self._client_secret,
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method's name)
            token_endpoint=self.token_url,
            scope=self.scope if self._send_scope_on_refresh else None,
            token=token_dict(tokens) if tokens else None,
            leeway=LEEWAY,
            timeout=REQUEST_TIMEOUT,
            verify=shared_tls(),
        )

    def session(self, tokens: CalendarTokens) -> TokenSession:
        return TokenSession(self, tokens)


class TokenSession:
    """One connection's calls, with its tokens refreshed as needed."""

    def __init__(self, oauth: CalendarOAuth, tokens: CalendarTokens) -> None:
        self._oauth = oauth
        self._tokens = tokens

    def tokens(self) -> CalendarTokens:
        return self._tokens

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx2.Response:
        """The provider's answer, whatever its status; raises ``ProviderError`` when it cannot
        be reached or will not refresh the tokens."""
        provider = self._oauth.provider
        client = self._oauth.client(self._tokens)
        try:
            async with client:
                response = await client.request(method, url, params=params, json=json, headers=headers)
                if response.status_code == 401 and self._tokens.refresh_token:
                    await client.refresh_token(self._oauth.token_url)  # revoked before its expiry
                    response = await client.request(method, url, params=params, json=json, headers=headers)
        except InvalidTokenError:
            raise ProviderError(
                f"the {provider} access token expired and there is no refresh token: connect again",
                retryable=False,
                code="reauthorization_required",
            ) from None
        except OAuthError as error:
            code = error_code(error)
            again = "; connect the account again" if code in FINAL_OAUTH_ERRORS else ""
            raise ProviderError(
                f"{provider} refused to refresh the access token: {code}{again}",
                retryable=code not in FINAL_OAUTH_ERRORS,
                code="reauthorization_required" if code in FINAL_OAUTH_ERRORS else code,
            ) from None
        except (httpx2.HTTPError, ValueError) as error:
            raise unreachable(provider, "API", error) from None
        finally:
            if client.token:
                self._tokens = tokens_of(client.token, self._tokens)
        if response.status_code == 401:
            raise ProviderError(
                f"{provider} no longer accepts this connection's tokens: connect again",
                retryable=False,
                status=401,
                code="reauthorization_required",
            )
        return response


def token_dict(tokens: CalendarTokens) -> dict[str, Any]:
    token: dict[str, Any] = {"access_token": tokens.access_token, "token_type": "Bearer"}
    if tokens.refresh_token:
        token["refresh_token"] = tokens.refresh_token
    if tokens.expires_at is not None:
        token["expires_at"] = int(tokens.expires_at.timestamp())
    return token


def tokens_of(token: Any, previous: CalendarTokens | None = None) -> CalendarTokens:
    """Tokens from authlib's token dict; a refresh that brings no new refresh token keeps the old."""
    access = token.get("access_token")
    if not isinstance(access, str) or not access:
        raise ProviderError("the token endpoint answered without an access token", retryable=False)
    refresh = token.get("refresh_token") or (previous.refresh_token if previous else None)
    expires_at = token.get("expires_at")
    return CalendarTokens(
        access_token=access,
        refresh_token=refresh if isinstance(refresh, str) else None,
        expires_at=datetime.fromtimestamp(expires_at, UTC) if isinstance(expires_at, int | float) else None,
    )


def error_code(error: OAuthError) -> str:
    """The provider's error code (``invalid_grant``), never its free text, which might echo input."""
    code = str(getattr(error, "error", "") or "")
    return code if code.replace("_", "").isalnum() and len(code) <= 60 else "an error"


def unreachable(provider: str, what: str, error: Exception) -> ProviderError:
    if isinstance(error, httpx2.HTTPStatusError):
        status = error.response.status_code
        return ProviderError(
            f"{provider}'s {what} answered HTTP {status}", retryable=retryable(status), status=status
        )
    if isinstance(error, ValueError):
        return ProviderError(f"{provider}'s {what} did not answer JSON", retryable=True)
    return ProviderError(f"{provider}'s {what} could not be reached: {type(error).__name__}", retryable=True)


def retryable(status: int) -> bool:
    return status in (408, 409, 423, 429) or status >= 500


def refused(provider: str, response: httpx2.Response, what: str) -> ProviderError:
    """A failed API answer as a ProviderError, with the provider's own short reason."""
    reason = ""
    try:
        body = response.json()
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            reason = str(error.get("message") or error.get("code") or "")[:200]
        elif isinstance(error, str):
            reason = error[:200]
    except ValueError:
        pass
    status = response.status_code
    detail = f"{provider} refused to {what}: HTTP {status}" + (f": {reason}" if reason else "")
    return ProviderError(detail, retryable=retryable(status), status=status)
