"""Shared fixtures: a real PostgreSQL database, migrated, reached through the application role.

``SWITCHBOARD_TEST_DATABASE_URL`` names a server to use (its user must be able to create
databases and roles); without it an embedded server starts in a temporary directory. Either way
each run works in a database of its own, dropped at the end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import argon2
import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from switchboard.adapters.postgres.database import (
    app_conninfo,
    create_database_if_missing,
    drop_database,
    make_pool,
    migrate,
    with_database,
)
from switchboard.adapters.postgres.embedded import EmbeddedPostgres
from switchboard.adapters.postgres.unit_of_work import Pool
from switchboard.adapters.security.passwords import Argon2PasswordHasher
from switchboard.adapters.security.secret_box import FernetSecretBox
from switchboard.entrypoints.container import Container, build_container
from switchboard.entrypoints.http.app import create_app
from switchboard.entrypoints.settings import Settings

# OWASP's minimum for argon2id (19 MiB, t=2, p=1): the real algorithm, quicker than production's.
TEST_HASH_PARAMETERS = argon2.Parameters(
    type=argon2.Type.ID, version=19, salt_len=16, hash_len=32, time_cost=2, memory_cost=19_456, parallelism=1
)
TEST_SIGNING_KEY = "test-signing-key-" + "x" * 32


@dataclass(frozen=True)
class Database:
    owner_url: str  # migrations and test setup
    app_url: str  # what the application connects as: row-level security applies


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    configured = os.environ.get("SWITCHBOARD_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    # Short and outside any home directory: see EmbeddedPostgres.
    data_dir = Path(tempfile.mkdtemp(prefix="sbtest-", dir="/tmp" if os.name == "posix" else None))  # noqa: S108 (short socket path)
    embedded = EmbeddedPostgres(data_dir)
    try:
        yield embedded.start()
    finally:
        embedded.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def database(postgres_server: str) -> Iterator[Database]:
    name = f"switchboard_test_{uuid.uuid4().hex[:12]}"
    create_database_if_missing(postgres_server, name)
    owner_url = with_database(postgres_server, name)
    try:
        migrate(owner_url)
        yield Database(owner_url=owner_url, app_url=app_conninfo(owner_url))
    finally:
        drop_database(postgres_server, name)


@pytest.fixture(scope="session")
async def app_pool(database: Database) -> AsyncIterator[Pool]:
    pool = make_pool(database.app_url, size=8)
    await pool.open(wait=True)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
def test_hasher() -> Argon2PasswordHasher:
    return Argon2PasswordHasher(TEST_HASH_PARAMETERS)


def make_container(settings: Settings, hasher: Argon2PasswordHasher) -> Container:
    container = build_container(settings)
    container.password_hasher.override(hasher)
    return container


@pytest.fixture(scope="session")
def container(database: Database, test_hasher: Argon2PasswordHasher) -> Container:
    # Every secret given, so the tests never write key files into a real data directory.
    settings = Settings(
        storage="postgres",
        database_url=database.owner_url,
        token_signing_key=TEST_SIGNING_KEY,
        encryption_keys=FernetSecretBox.generate_key(),
        database_pool_size=8,
    )
    return make_container(settings, test_hasher)


@pytest.fixture(scope="session")
async def app(container: Container) -> AsyncIterator[Quart]:
    """One app per test session: dependency-injector wiring is process-wide."""
    application = create_app(container)
    async with application.test_app() as running:
        yield running  # type: ignore[misc]


@pytest.fixture(scope="session")
def client(app: Quart) -> TestClientProtocol:
    return app.test_client()
