"""`switchboard admin`: platform administrators, who are not users of any tenant."""

from __future__ import annotations

import asyncio
import secrets
import uuid

import click

from switchboard.adapters.postgres.database import create_platform_admin
from switchboard.adapters.security.passwords import Argon2PasswordHasher
from switchboard.core.errors import InvalidInput
from switchboard.core.identity.model import normalize_email
from switchboard.core.identity.passwords import check_new_password
from switchboard.entrypoints.database import prepared_database
from switchboard.entrypoints.settings import Settings


@click.group()
def admin() -> None:
    """Platform administrators."""


@admin.command("create")
@click.option("--email", required=True, help="The admin's email, used to sign in.")
@click.option(
    "--password",
    envvar="SWITCHBOARD_ADMIN_PASSWORD",
    help="At least 12 characters [SWITCHBOARD_ADMIN_PASSWORD]; generated and printed when not given.",
)
def create(email: str, password: str | None) -> None:
    """Create a platform admin, who signs in at POST /v1/admin/auth/login."""
    settings = Settings()
    if settings.storage == "memory":
        raise click.UsageError("platform admins are kept in PostgreSQL: unset SWITCHBOARD_STORAGE=memory")
    generated = password is None
    password = password or secrets.token_urlsafe(18)
    try:
        email = normalize_email(email)
        check_new_password(password, email=email)
    except InvalidInput as error:
        raise click.BadParameter(error.detail) from error
    password_hash = asyncio.run(Argon2PasswordHasher().hash(password))
    with prepared_database(settings) as owner_url:
        created = create_platform_admin(owner_url, str(uuid.uuid4()), email, password_hash)
    if not created:
        raise click.ClickException(f"{email} is already a platform admin")
    click.echo(f"platform admin {email} created")
    if generated:
        click.echo(f"password: {password}")
