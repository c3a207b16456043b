import statistics
import time
import unicodedata

import pytest

from switchboard.adapters.security.passwords import Argon2PasswordHasher
from tests.conftest import TEST_HASH_PARAMETERS


@pytest.fixture(scope="module")
def hasher():
    return Argon2PasswordHasher(TEST_HASH_PARAMETERS)


async def test_a_hash_verifies_its_own_password_only(hasher):
    stored = await hasher.hash("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    assert await hasher.verify(stored, "correct horse battery staple")
    assert not await hasher.verify(stored, "correct horse battery stapler")


async def test_an_unknown_account_never_verifies_even_with_the_decoy_password(hasher):
    assert not await hasher.verify(None, "decoy password for unknown accounts")


async def test_a_hash_made_with_weaker_parameters_asks_to_be_rehashed(hasher):
    production = Argon2PasswordHasher()
    weaker = await hasher.hash("correct horse battery staple")
    assert production.needs_rehash(weaker)
    assert not production.needs_rehash(await production.hash("correct horse battery staple"))


async def test_the_production_profile_is_at_least_owasps_argon2id_minimum():
    parameters = Argon2PasswordHasher()._hasher  # the configured argon2 hasher
    assert parameters.memory_cost >= 19_456
    assert parameters.time_cost >= 2
    assert "argon2id" in await Argon2PasswordHasher().hash("x" * 12)


async def test_checking_an_unknown_account_costs_what_checking_a_wrong_password_costs(hasher):
    # Not a benchmark: a missing decoy would make the unknown-account path ~1000x cheaper,
    # far outside these deliberately wide bounds.
    stored = await hasher.hash("correct horse battery staple")

    async def median_seconds(password_hash: str | None) -> float:
        samples = []
        for _ in range(5):
            started = time.perf_counter()
            await hasher.verify(password_hash, "wrong password entirely")
            samples.append(time.perf_counter() - started)
        return statistics.median(samples)

    ratio = await median_seconds(None) / await median_seconds(stored)
    assert 0.33 < ratio < 3


async def test_a_passphrase_matches_whether_its_accents_are_composed_or_not(hasher):
    composed = "café crème brûlée 42"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed

    assert await hasher.verify(await hasher.hash(composed), decomposed)
