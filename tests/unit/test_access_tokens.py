import time
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from switchboard.adapters.security.tokens import JwtAccessTokens
from switchboard.core.errors import AuthenticationFailed
from switchboard.core.identity.model import Principal
from switchboard.core.tenancy.model import Role

KEY = "unit-test-signing-key-" + "k" * 32
PRINCIPAL = Principal(uuid4(), uuid4(), Role.ADMIN, session_id=uuid4())


def test_an_issued_token_names_its_principal():
    tokens = JwtAccessTokens(KEY)
    assert tokens.verify(tokens.issue(PRINCIPAL, datetime.now(UTC))) == PRINCIPAL


def test_a_short_signing_key_is_refused():
    with pytest.raises(ValueError, match="at least 32 bytes"):
        JwtAccessTokens("too short")


def test_a_remembered_token_still_expires():
    tokens = JwtAccessTokens(KEY, lifetime_seconds=2)
    # Issued a second ago: `exp` (whole seconds) falls within the coming second.
    token = tokens.issue(PRINCIPAL, datetime.now(UTC) - timedelta(seconds=1))
    assert tokens.verify(token) == PRINCIPAL  # now remembered
    expires_at = tokens._verified(token)[1]

    time.sleep(max(0.0, expires_at - time.time()) + 0.05)

    with pytest.raises(AuthenticationFailed, match="expired"):
        tokens.verify(token)


def test_a_tampered_copy_of_a_remembered_token_is_refused():
    tokens = JwtAccessTokens(KEY)
    token = tokens.issue(PRINCIPAL, datetime.now(UTC))
    tokens.verify(token)
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"

    with pytest.raises(AuthenticationFailed):
        tokens.verify(tampered)


def test_refused_tokens_are_refused_every_time():
    tokens = JwtAccessTokens(KEY)
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            tokens.verify("not.a.token")


def test_the_memory_of_verified_tokens_is_bounded():
    tokens = JwtAccessTokens(KEY, cache_size=3)
    for _ in range(10):
        tokens.verify(
            tokens.issue(Principal(uuid4(), uuid4(), Role.MEMBER, session_id=uuid4()), datetime.now(UTC))
        )
    assert tokens._verified.cache_info().currsize == 3
