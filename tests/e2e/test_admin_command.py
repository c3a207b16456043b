"""`switchboard admin create`, run against the test database as an operator would."""

from __future__ import annotations

import asyncio
import uuid

from click.testing import CliRunner

from switchboard.entrypoints.cli import main


def _run(database, *args: str):
    env = {"SWITCHBOARD_DATABASE_URL": database.owner_url, "SWITCHBOARD_ADMIN_PASSWORD": None}
    return CliRunner().invoke(main, ["admin", "create", *args], env=env)


async def test_an_operator_creates_an_admin_who_can_then_sign_in(database, client):
    email = f"ops-{uuid.uuid4().hex[:8]}@switchboard.test"

    created = await asyncio.to_thread(_run, database, "--email", email)  # the CLI runs its own event loop

    assert created.exit_code == 0, created.output
    password = created.output.split("password: ")[1].strip()
    response = await client.post("/v1/admin/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200


def test_the_same_email_cannot_become_an_admin_twice(database):
    email = f"ops-{uuid.uuid4().hex[:8]}@switchboard.test"
    assert _run(database, "--email", email, "--password", "a long enough passphrase").exit_code == 0

    again = _run(database, "--email", email, "--password", "another long passphrase")

    assert again.exit_code == 1
    assert "already a platform admin" in again.output


def test_a_weak_admin_password_is_refused(database):
    refused = _run(database, "--email", f"ops-{uuid.uuid4().hex[:8]}@switchboard.test", "--password", "short")

    assert refused.exit_code == 2
    assert "at least 12 characters" in refused.output
