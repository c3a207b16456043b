from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from switchboard.core.errors import InvalidInput
from switchboard.core.identity.model import (
    RefreshToken,
    hash_opaque_token,
    new_opaque_token,
    normalize_email,
)
from switchboard.core.identity.passwords import PASSWORD_MAX, PASSWORD_MIN, check_new_password

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)


def test_emails_are_compared_in_lower_case_without_surrounding_space():
    assert normalize_email("  Ada.Lovelace@Example.COM ") == "ada.lovelace@example.com"


@pytest.mark.parametrize("bad", ["", "ada", "ada@", "@example.com", "ada@example", "a b@example.com"])
def test_malformed_emails_are_refused(bad):
    with pytest.raises(InvalidInput):
        normalize_email(bad)


def test_passwords_must_be_between_the_minimum_and_maximum_length():
    shortest = "vq7-tidal-rk"
    assert len(shortest) == PASSWORD_MIN
    assert check_new_password(shortest) == shortest
    for bad in ("x" * (PASSWORD_MIN - 1), "x" * (PASSWORD_MAX + 1)):
        with pytest.raises(InvalidInput):
            check_new_password(bad)


def test_opaque_tokens_are_random_and_stored_only_as_their_hash():
    first, first_hash = new_opaque_token()
    second, _ = new_opaque_token()
    assert first != second
    assert first_hash == hash_opaque_token(first) != first
    assert first.startswith("sbr_")
    assert len(first) > 40


def test_a_refresh_token_is_live_until_used_revoked_or_expired():
    token = RefreshToken(uuid4(), uuid4(), uuid4(), uuid4(), "h", NOW, NOW + timedelta(days=1))
    assert token.is_live(NOW)
    assert not token.is_live(NOW + timedelta(days=1))
    assert not RefreshToken(**(vars(token) | {"used_at": NOW})).is_live(NOW)
    assert not RefreshToken(**(vars(token) | {"revoked_at": NOW})).is_live(NOW)
