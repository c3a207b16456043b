"""The built-in sign-in plugins (Google through OpenID Connect, GitHub through OAuth 2) and the
operator's sign-in providers, against local stand-ins of the providers.

Nothing of authlib or httpx is mocked: the adapters talk HTTP to ``OidcStandIn`` (authlib's own
authorization server, signing real ID tokens) and ``GitHubStandIn`` on 127.0.0.1, and the test
plays the browser with httpx, following the authorize redirect to take the code.
"""

from __future__ import annotations

import secrets
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pluggy
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc.jwk import RSAKey

from switchboard.plugins import hookspecs
from switchboard.plugins.fake import FakePlugin
from switchboard.plugins.github import API_BASE, WEB_BASE, GitHubPlugin
from switchboard.plugins.google import DISCOVERY_URL, GooglePlugin
from switchboard.plugins.manager import PluginCatalog, _register
from switchboard.plugins.sign_in import OperatorSignInProviders, SignInMisconfigured
from switchboard.ports.providers import Capability
from switchboard.ports.sign_in import ExternalIdentity, SignInProvider, SignInRejected
from tests.fakes.github_standin import GitHubEmail, GitHubStandIn, GitHubUser
from tests.fakes.oidc_standin import OidcStandIn, OidcUser, rsa_key

CLIENT_ID = "1234567890-switchboard.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-switchboard-test-secret"
GITHUB_CLIENT_ID = "Iv1.8a61f9b3a7aba766"
GITHUB_CLIENT_SECRET = "github-test-secret-0123456789abcdef01234567"
REDIRECT_URI = "https://app.switchboard.test/v1/auth/sign-in/callback"
BROWSER_TLS = ssl.create_default_context()  # made once: each new one costs tens of milliseconds


def catalog_with(*plugins: object) -> PluginCatalog:
    """The catalog build_plugin_catalog() makes, with these plugins as its only built-ins."""
    manager = pluggy.PluginManager("switchboard")
    manager.add_hookspecs(hookspecs)
    catalog = PluginCatalog(manager)
    for plugin in plugins:
        _register(catalog, plugin, type(plugin).name, "test")  # type: ignore[attr-defined]
    return catalog


@pytest.fixture(scope="module")
def catalog() -> PluginCatalog:
    return catalog_with(GooglePlugin(), GitHubPlugin(), FakePlugin())


@pytest.fixture
def oidc() -> Iterator[OidcStandIn]:
    with OidcStandIn(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=(REDIRECT_URI,)
    ) as standin:
        yield standin


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    with GitHubStandIn(
        client_id=GITHUB_CLIENT_ID, client_secret=GITHUB_CLIENT_SECRET, callback_url=REDIRECT_URI
    ) as standin:
        yield standin


def google_settings(oidc: OidcStandIn, **changes: Any) -> dict[str, Any]:
    return {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "server_metadata_url": oidc.discovery_url,
        **changes,
    }


def github_settings(github: GitHubStandIn, **changes: Any) -> dict[str, Any]:
    return {
        "client_id": GITHUB_CLIENT_ID,
        "client_secret": GITHUB_CLIENT_SECRET,
        "web_base": github.web_base,
        "api_base": github.api_base,
        **changes,
    }


def google(catalog: PluginCatalog, oidc: OidcStandIn, **changes: Any) -> SignInProvider:
    """A fresh adapter, as the core gets one: from the operator's settings, through the port."""
    provider = OperatorSignInProviders(catalog, {"google": google_settings(oidc, **changes)}).get("google")
    assert provider is not None
    return provider


def github_adapter(catalog: PluginCatalog, github: GitHubStandIn, **changes: Any) -> SignInProvider:
    provider = OperatorSignInProviders(catalog, {"github": github_settings(github, **changes)}).get("github")
    assert provider is not None
    return provider


@dataclass(frozen=True)
class Attempt:
    """What the core keeps between sending the browser off and its coming back."""

    state: str
    nonce: str
    code_verifier: str

    @classmethod
    def new(cls) -> Attempt:
        return cls(secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48))

    @property
    def code_challenge(self) -> str:
        return create_s256_code_challenge(self.code_verifier)


async def authorization_url(provider: SignInProvider, attempt: Attempt) -> str:
    return await provider.authorization_url(
        redirect_uri=REDIRECT_URI,
        state=attempt.state,
        nonce=attempt.nonce,
        code_challenge=attempt.code_challenge,
    )


async def browse(url: str) -> dict[str, str]:
    """The browser at the provider: the query it brings back to the redirect URI."""
    async with httpx.AsyncClient(verify=BROWSER_TLS) as browser:
        response = await browser.get(url)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(f"{REDIRECT_URI}?")
    return dict(parse_qsl(urlsplit(location).query))


async def code_for(provider: SignInProvider, attempt: Attempt) -> str:
    back = await browse(await authorization_url(provider, attempt))
    assert back["state"] == attempt.state
    return back["code"]


async def complete(provider: SignInProvider, attempt: Attempt, code: str, **changes: str) -> ExternalIdentity:
    arguments = {
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "nonce": attempt.nonce,
        "code_verifier": attempt.code_verifier,
        **changes,
    }
    return await provider.complete(**arguments)


async def sign_in(provider: SignInProvider, **changes: str) -> ExternalIdentity:
    """A whole sign-in; ``changes`` replace what the core would send back to complete()."""
    attempt = Attempt.new()
    code = await code_for(provider, attempt)
    return await complete(provider, attempt, changes.pop("code", code), **changes)


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


# --- the plugins and their settings ---------------------------------------------------------------


def test_google_and_github_are_offered_as_sign_in_providers(catalog: PluginCatalog):
    for slug, name in (("google", "Google"), ("github", "GitHub")):
        description = catalog.describe(slug)
        assert description is not None
        assert (description.capability, description.name, description.plugin) == (
            Capability.SIGN_IN,
            name,
            slug,
        )
        assert catalog.specs[slug].secret_fields == {"client_secret"}
        assert catalog.specs[slug].verify_webhook is None


def test_google_settings_default_to_googles_own_discovery_document(catalog: PluginCatalog):
    values = catalog.validate_config(
        "google", {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    ).values
    assert (
        values["server_metadata_url"]
        == DISCOVERY_URL
        == "https://accounts.google.com/.well-known/openid-configuration"
    )


def test_github_settings_default_to_github_itself(catalog: PluginCatalog):
    values = catalog.validate_config(
        "github", {"client_id": GITHUB_CLIENT_ID, "client_secret": GITHUB_CLIENT_SECRET}
    ).values
    assert (values["web_base"], values["api_base"]) == (WEB_BASE, API_BASE)
    assert (WEB_BASE, API_BASE) == ("https://github.com", "https://api.github.com")


@pytest.mark.parametrize(
    ("slug", "changes", "field"),
    [
        (
            "google",
            {"server_metadata_url": "http://accounts.example.com/.well-known/openid-configuration"},
            "server_metadata_url",
        ),
        ("google", {"server_metadata_url": "https://accounts.example.com/keys"}, "server_metadata_url"),
        ("google", {"client_secret": ""}, "client_secret"),
        ("google", {"client_id": ""}, "client_id"),
        ("google", {"scope": "openid"}, "scope"),
        ("github", {"web_base": "http://github.example.com"}, "web_base"),
        ("github", {"api_base": "ftp://api.github.com"}, "api_base"),
        ("github", {"client_secret": None}, "client_secret"),
    ],
    ids=[
        "plain http discovery",
        "not a discovery document",
        "empty secret",
        "empty client id",
        "unknown field",
        "plain http web",
        "not http api",
        "no secret",
    ],
)
def test_settings_a_provider_cannot_use_are_refused_field_by_field(
    catalog: PluginCatalog, slug: str, changes: dict[str, Any], field: str
):
    base = {"client_id": "id", "client_secret": "secret"}
    with pytest.raises(SignInMisconfigured, match=rf"'{slug}' is misconfigured: {field}:"):
        OperatorSignInProviders(catalog, {slug: {**base, **changes}})


# --- Google: the authorization URL ----------------------------------------------------------------


async def test_the_google_authorization_url_asks_the_discovered_endpoint_for_a_code_with_pkce_and_a_nonce(
    catalog: PluginCatalog, oidc: OidcStandIn
):
    attempt = Attempt.new()
    url = await authorization_url(google(catalog, oidc), attempt)

    assert url.startswith(f"{oidc.issuer}/authorize?")  # from the discovery document
    assert query_of(url) == {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid email profile",
        "state": attempt.state,
        "nonce": attempt.nonce,
        "code_challenge": attempt.code_challenge,
        "code_challenge_method": "S256",
    }


async def test_a_code_challenge_that_is_not_an_s256_challenge_is_a_programming_error(
    catalog: PluginCatalog, oidc: OidcStandIn
):
    attempt = Attempt.new()
    with pytest.raises(ValueError, match="S256"):
        await google(catalog, oidc).authorization_url(
            redirect_uri=REDIRECT_URI, state=attempt.state, nonce=attempt.nonce, code_challenge="short"
        )


# --- Google: signing in ---------------------------------------------------------------------------


@pytest.mark.parametrize("verified", [True, False], ids=["verified email", "unverified email"])
async def test_signing_in_with_google_gives_the_identity_the_provider_vouches_for(
    catalog: PluginCatalog, oidc: OidcStandIn, verified: bool
):
    oidc.user = OidcUser(
        sub="1098765432", email="grace@example.com", email_verified=verified, name="Grace Hopper"
    )

    identity = await sign_in(google(catalog, oidc))

    assert identity == ExternalIdentity(
        provider="google",
        subject="1098765432",
        email="grace@example.com",
        email_verified=verified,
        name="Grace Hopper",
    )


async def test_a_person_without_an_email_or_a_name_signs_in_with_neither(
    catalog: PluginCatalog, oidc: OidcStandIn
):
    oidc.user = OidcUser(sub="42", email=None, name=None)
    identity = await sign_in(google(catalog, oidc))
    assert (identity.subject, identity.email, identity.email_verified, identity.name) == (
        "42",
        None,
        False,
        None,
    )


async def test_google_is_given_the_code_the_redirect_uri_the_verifier_and_the_client_secret(
    catalog: PluginCatalog, oidc: OidcStandIn
):
    attempt = Attempt.new()
    provider = google(catalog, oidc)
    code = await code_for(provider, attempt)
    await complete(provider, attempt, code)

    [token_request] = oidc.requests_to("/token")
    assert token_request.form == {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": attempt.code_verifier,
    }
    assert token_request.basic_auth == (CLIENT_ID, CLIENT_SECRET)
    # The keys are fetched without the person's access token.
    [jwks_request] = oidc.requests_to("/jwks")
    assert "authorization" not in jwks_request.headers


async def test_an_adapter_reads_the_discovery_document_once_and_a_new_adapter_reads_it_again(
    catalog: PluginCatalog, oidc: OidcStandIn
):
    first = google(catalog, oidc)
    await sign_in(first)
    assert len(oidc.requests_to("/.well-known/openid-configuration")) == 1

    await sign_in(google(catalog, oidc))
    assert len(oidc.requests_to("/.well-known/openid-configuration")) == 2
    assert len(oidc.requests_to("/jwks")) == 2


# --- Google: what is rejected ---------------------------------------------------------------------


async def test_an_id_token_for_another_sign_in_attempts_nonce_is_rejected(
    catalog: PluginCatalog, oidc: OidcStandIn
):
    with pytest.raises(SignInRejected, match="nonce"):
        await sign_in(google(catalog, oidc), nonce=secrets.token_urlsafe(24))


def foreign_key() -> RSAKey:
    return rsa_key("someone-else")


ID_TOKENS_NOT_TO_TRUST = {
    "signed with another key under the published kid": (
        lambda oidc: setattr(oidc, "sign_with", foreign_key()),
        "signature does not match",
    ),
    "payload changed after signing": (lambda oidc: setattr(oidc, "tamper_id_token", True), "signature"),
    "issued to another client": (lambda oidc: oidc.id_token_claims.update(aud="another-client"), "aud claim"),
    "issued to several clients, not this one": (
        lambda oidc: oidc.id_token_claims.update(aud=["another-client", "a-third-client"]),
        "aud claim",
    ),
    "issued to this client for another party": (
        lambda oidc: oidc.id_token_claims.update(aud=[CLIENT_ID, "another-client"], azp="another-client"),
        "azp claim",
    ),
    "expired": (lambda oidc: oidc.id_token_claims.update(exp=1_700_000_000), "expired"),
    "issued in the future": (lambda oidc: oidc.id_token_claims.update(iat=4_000_000_000), "iat claim"),
    "from another issuer": (
        lambda oidc: oidc.id_token_claims.update(iss="https://issuer.example.com"),
        "iss claim",
    ),
    "with another nonce": (lambda oidc: oidc.id_token_claims.update(nonce="replayed-nonce"), "nonce claim"),
    "with an empty subject": (lambda oidc: oidc.id_token_claims.update(sub=""), "sub claim"),
}


@pytest.mark.parametrize(
    ("arrange", "reason"), ID_TOKENS_NOT_TO_TRUST.values(), ids=ID_TOKENS_NOT_TO_TRUST.keys()
)
async def test_an_id_token_the_client_must_not_trust_is_rejected(
    catalog: PluginCatalog, oidc: OidcStandIn, arrange: Any, reason: str
):
    arrange(oidc)
    with pytest.raises(SignInRejected, match=reason):
        await sign_in(google(catalog, oidc))


async def test_a_code_the_provider_never_issued_is_rejected(catalog: PluginCatalog, oidc: OidcStandIn):
    with pytest.raises(SignInRejected, match="refused the code: invalid_grant"):
        await complete(google(catalog, oidc), Attempt.new(), "a-code-nobody-issued")


async def test_a_code_cannot_be_used_twice(catalog: PluginCatalog, oidc: OidcStandIn):
    attempt = Attempt.new()
    provider = google(catalog, oidc)
    code = await code_for(provider, attempt)
    await complete(provider, attempt, code)

    with pytest.raises(SignInRejected, match="invalid_grant"):
        await complete(google(catalog, oidc), attempt, code)


async def test_a_code_with_the_wrong_pkce_verifier_is_rejected(catalog: PluginCatalog, oidc: OidcStandIn):
    with pytest.raises(SignInRejected, match="invalid_grant"):
        await sign_in(google(catalog, oidc), code_verifier=secrets.token_urlsafe(48))


async def test_a_code_sent_back_with_another_redirect_uri_is_rejected(
    catalog: PluginCatalog, oidc: OidcStandIn
):
    with pytest.raises(SignInRejected, match="invalid_grant"):
        await sign_in(google(catalog, oidc), redirect_uri="https://evil.example.com/callback")


async def test_a_wrong_client_secret_is_rejected(catalog: PluginCatalog, oidc: OidcStandIn):
    with pytest.raises(SignInRejected, match="invalid_client"):
        await sign_in(google(catalog, oidc, client_secret="not-the-secret"))


async def test_a_discovery_document_naming_another_issuer_is_refused(
    catalog: PluginCatalog, oidc: OidcStandIn
):
    oidc.discovery_overrides["issuer"] = "https://accounts.example.com"
    with pytest.raises(SignInRejected, match="another issuer"):
        await authorization_url(google(catalog, oidc), Attempt.new())


async def test_a_discovery_document_with_plain_http_endpoints_elsewhere_is_refused(
    catalog: PluginCatalog, oidc: OidcStandIn
):
    oidc.discovery_overrides["token_endpoint"] = "http://tokens.example.com/token"
    with pytest.raises(SignInRejected, match="token_endpoint"):
        await authorization_url(google(catalog, oidc), Attempt.new())


async def test_a_provider_that_fails_is_a_rejection_not_a_crash(catalog: PluginCatalog, oidc: OidcStandIn):
    attempt = Attempt.new()
    provider = google(catalog, oidc)
    code = await code_for(provider, attempt)
    oidc.fail_next(status=503)
    with pytest.raises(SignInRejected, match="HTTP 503"):
        await complete(provider, attempt, code)


async def test_a_provider_that_cannot_be_reached_is_a_rejection(catalog: PluginCatalog):
    with OidcStandIn(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=(REDIRECT_URI,)) as gone:
        provider = google(catalog, gone)
    with pytest.raises(SignInRejected, match="could not be read: ConnectError"):
        await complete(provider, Attempt.new(), "a-code")


async def test_rejections_never_carry_codes_verifiers_secrets_or_tokens(
    catalog: PluginCatalog, oidc: OidcStandIn
):
    messages = []
    for arrange in (
        lambda: setattr(oidc, "tamper_id_token", True),
        lambda: oidc.id_token_claims.update(aud="x"),
    ):
        arrange()
        attempt = Attempt.new()
        code = await code_for(google(catalog, oidc), attempt)
        with pytest.raises(SignInRejected) as rejected:
            await complete(google(catalog, oidc), attempt, code)
        messages.append((str(rejected.value), code, attempt))
        oidc.tamper_id_token, oidc.id_token_claims = False, {}

    issued = [value for token in oidc.tokens for value in (token["access_token"], token["id_token"])]
    for message, code, attempt in messages:
        for secret in (code, attempt.code_verifier, attempt.nonce, CLIENT_SECRET, *issued):
            assert secret not in message
        assert len(message) < 100


# --- GitHub ---------------------------------------------------------------------------------------


async def test_the_github_authorization_url_carries_the_app_the_state_and_an_s256_challenge_but_no_nonce(
    catalog: PluginCatalog, github: GitHubStandIn
):
    attempt = Attempt.new()
    url = await authorization_url(github_adapter(catalog, github), attempt)

    assert url.startswith(f"{github.web_base}/login/oauth/authorize?")
    assert query_of(url) == {
        "response_type": "code",
        "client_id": GITHUB_CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "read:user user:email",
        "state": attempt.state,
        "code_challenge": attempt.code_challenge,
        "code_challenge_method": "S256",
    }
    assert github.requests == []  # nothing to discover


async def test_signing_in_with_github_gives_the_numeric_id_and_the_primary_email(
    catalog: PluginCatalog, github: GitHubStandIn
):
    identity = await sign_in(github_adapter(catalog, github))

    assert identity == ExternalIdentity(
        provider="github",
        subject="583231",
        email="octocat@github.com",
        email_verified=True,
        name="The Octocat",
    )


async def test_an_unverified_primary_email_at_github_is_not_vouched_for(
    catalog: PluginCatalog, github: GitHubStandIn
):
    github.user = GitHubUser(
        id=9,
        login="newcomer",
        name=None,
        emails=(
            GitHubEmail("old@example.com", primary=False, verified=True),
            GitHubEmail("new@example.com", primary=True, verified=False),
        ),
    )

    identity = await sign_in(github_adapter(catalog, github))

    assert (identity.subject, identity.email, identity.email_verified) == ("9", "new@example.com", False)
    assert identity.name == "newcomer"  # no name: the login stands in


async def test_a_github_account_without_a_primary_email_signs_in_without_one(
    catalog: PluginCatalog, github: GitHubStandIn
):
    github.user = GitHubUser(emails=(GitHubEmail("other@example.com", primary=False, verified=True),))
    identity = await sign_in(github_adapter(catalog, github))
    assert (identity.email, identity.email_verified) == (None, False)


async def test_github_is_asked_for_json_with_the_app_credentials_and_the_pkce_verifier(
    catalog: PluginCatalog, github: GitHubStandIn
):
    attempt = Attempt.new()
    provider = github_adapter(catalog, github)
    code = await code_for(provider, attempt)
    await complete(provider, attempt, code)

    [token_request] = github.requests_to("/login/oauth/access_token")
    assert token_request.headers["accept"] == "application/json"
    assert token_request.form == {
        "grant_type": "authorization_code",
        "client_id": GITHUB_CLIENT_ID,
        "client_secret": GITHUB_CLIENT_SECRET,
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": attempt.code_verifier,
    }
    [token] = github.tokens
    for path in ("/api/v3/user", "/api/v3/user/emails"):
        [api_request] = github.requests_to(path)
        assert api_request.headers["authorization"] == f"Bearer {token}"
        assert api_request.headers["accept"] == "application/vnd.github+json"
    assert github.requests_to("/api/v3/user/emails")[0].query == {"per_page": "100"}


GITHUB_REFUSALS = {
    "a code GitHub never issued": ({"code": "0123456789abcdef0123"}, {}, "bad_verification_code"),
    "the wrong PKCE verifier": ({"code_verifier": "v" * 64}, {}, "bad_verification_code"),
    "another redirect URI": ({"redirect_uri": "https://evil.example.com/cb"}, {}, "redirect_uri_mismatch"),
    "a wrong client secret": ({}, {"client_secret": "not-the-secret"}, "incorrect_client_credentials"),
}


@pytest.mark.parametrize(
    ("changes", "settings", "error"), GITHUB_REFUSALS.values(), ids=GITHUB_REFUSALS.keys()
)
async def test_github_refusing_the_code_is_a_rejection(
    catalog: PluginCatalog,
    github: GitHubStandIn,
    changes: dict[str, str],
    settings: dict[str, str],
    error: str,
):
    with pytest.raises(SignInRejected, match=f"GitHub refused the code: {error}"):
        await sign_in(github_adapter(catalog, github, **settings), **changes)


async def test_a_github_code_cannot_be_used_twice(catalog: PluginCatalog, github: GitHubStandIn):
    attempt = Attempt.new()
    provider = github_adapter(catalog, github)
    code = await code_for(provider, attempt)
    await complete(provider, attempt, code)
    with pytest.raises(SignInRejected, match="bad_verification_code"):
        await complete(github_adapter(catalog, github), attempt, code)


async def test_a_github_api_that_fails_is_a_rejection(catalog: PluginCatalog, github: GitHubStandIn):
    github.fail_api = 502
    with pytest.raises(SignInRejected, match="/user answered HTTP 502"):
        await sign_in(github_adapter(catalog, github))


# --- the operator's sign-in providers ---------------------------------------------------------------


def test_the_configured_providers_are_listed_and_each_use_gets_a_new_adapter(
    catalog: PluginCatalog, oidc: OidcStandIn, github: GitHubStandIn
):
    providers = OperatorSignInProviders(
        catalog, {"google": google_settings(oidc), "github": github_settings(github)}
    )

    assert providers.slugs() == ["google", "github"]
    first, second = providers.get("google"), providers.get("google")
    assert first is not None
    assert second is not None
    assert first is not second


def test_a_provider_the_operator_did_not_configure_is_not_offered(catalog: PluginCatalog, oidc: OidcStandIn):
    providers = OperatorSignInProviders(catalog, {"google": google_settings(oidc)})
    assert providers.slugs() == ["google"]
    assert providers.get("github") is None
    assert OperatorSignInProviders(catalog, {}).slugs() == []


def test_a_misconfigured_provider_stops_the_start_naming_it_and_the_field_but_not_the_secret(
    catalog: PluginCatalog,
):
    with pytest.raises(SignInMisconfigured) as raised:
        OperatorSignInProviders(
            catalog,
            {"google": {"client_secret": "a-secret-never-to-be-shown", "server_metadata_url": "http://x"}},
        )
    message = str(raised.value)
    assert message.startswith("sign-in provider 'google' is misconfigured:")
    assert "client_id:" in message
    assert "server_metadata_url:" in message
    assert "a-secret-never-to-be-shown" not in message


def test_a_provider_that_is_not_a_sign_in_provider_is_refused(catalog: PluginCatalog):
    with pytest.raises(SignInMisconfigured, match="'fake_email': its capability is email, not sign_in"):
        OperatorSignInProviders(catalog, {"fake_email": {"api_key": "fake-key-0123456789"}})


def test_a_provider_no_installed_plugin_offers_is_refused(catalog: PluginCatalog):
    with pytest.raises(SignInMisconfigured, match="'facebook': no installed plugin offers it"):
        OperatorSignInProviders(catalog, {"facebook": {}})


def test_settings_that_are_not_an_object_are_refused(catalog: PluginCatalog):
    with pytest.raises(SignInMisconfigured, match="'github': its settings must be a JSON object"):
        OperatorSignInProviders(catalog, {"github": "client_id=abc"})  # type: ignore[dict-item]
