"""The ``switchboard`` command: serve, migrate, demo."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from switchboard.entrypoints.database import prepared_database
from switchboard.entrypoints.settings import Settings


def _settings(**overrides: object) -> Settings:
    """Environment first, then any command-line flag that was given."""
    given = {name: value for name, value in overrides.items() if value is not None}
    return Settings(**given)  # type: ignore[arg-type]


@click.group()
def main() -> None:
    """Switchboard: the backend for businesses that run AI voice agents."""


@main.command()
@click.option("--host", help="Interface to listen on [SWITCHBOARD_HOST, default 127.0.0.1].")
@click.option("--port", type=int, help="Port to listen on [SWITCHBOARD_PORT, default 8000].")
@click.option("--workers", type=int, help="Worker processes [SWITCHBOARD_WORKERS, default 2].")
@click.option(
    "--server", type=click.Choice(["uvicorn", "hypercorn"]), help="ASGI server [SWITCHBOARD_SERVER]."
)
@click.option(
    "--data-dir", type=click.Path(path_type=Path), help="Where local data lives [SWITCHBOARD_DATA_DIR]."
)
def serve(
    host: str | None, port: int | None, workers: int | None, server: str | None, data_dir: Path | None
) -> None:
    """Run the HTTP API (with an embedded PostgreSQL unless SWITCHBOARD_DATABASE_URL is set)."""
    settings = _settings(host=host, port=port, workers=workers, server=server, data_dir=data_dir)
    if settings.storage == "memory" and settings.workers > 1:
        # Each worker process would hold a separate, diverging copy of the data.
        raise click.UsageError("memory storage lives in one process: use --workers 1")
    settings.signing_key()  # create the shared keys once, before the workers start
    settings.secret_keys()
    with _database_for(settings) as owner_url, _MetricsDir() as metrics_dir:
        # Workers are fresh processes: they learn everything from the environment.
        os.environ.update(SWITCHBOARD_DATA_DIR=str(settings.data_dir), PROMETHEUS_MULTIPROC_DIR=metrics_dir)
        if owner_url is not None:
            os.environ["SWITCHBOARD_DATABASE_URL"] = owner_url
        click.echo(
            f"Switchboard listening on http://{settings.host}:{settings.port} "
            f"({settings.workers} {settings.server} worker(s), {settings.storage} storage)"
        )
        _run_asgi(settings)


@contextmanager
def _database_for(settings: Settings) -> Iterator[str | None]:
    """The migrated database's owner URL; none at all for memory storage."""
    if settings.storage == "memory":
        yield None
        return
    with prepared_database(settings) as owner_url:
        yield owner_url


def _run_asgi(settings: Settings) -> None:
    factory = "switchboard.entrypoints.http.app:create_app"
    if settings.server == "uvicorn":
        import uvicorn

        uvicorn.run(
            factory,
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            loop="uvloop",
            http="httptools",
            access_log=False,  # the app writes its own structured access log
            log_level="warning",
        )
    else:
        from hypercorn.config import Config
        from hypercorn.run import run

        config = Config()
        config.application_path = f"{factory}()"
        config.bind = [f"{settings.host}:{settings.port}"]
        config.workers = settings.workers
        config.worker_class = "uvloop"
        config.accesslog = None
        run(config)


class _MetricsDir:
    """A fresh directory where the workers' Prometheus counters meet."""

    def __enter__(self) -> str:
        self.path = tempfile.mkdtemp(prefix="switchboard-metrics-")
        return self.path

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


@main.command("migrate")
def migrate_command() -> None:
    """Create the roles and bring the schema up to date, then exit."""
    with prepared_database(_settings()):
        click.echo("database is up to date")


@main.command()
@click.option(
    "--customers",
    default=200,
    type=click.IntRange(min=0),
    show_default=True,
    help="How many customers to create.",
)
@click.option(
    "--calls",
    default=300,
    type=click.IntRange(min=0),
    show_default=True,
    help="How many past calls to create.",
)
@click.option("--data-dir", type=click.Path(path_type=Path), help="Where local data lives.")
def demo(customers: int, calls: int, data_dir: Path | None) -> None:
    """Create a sample tenant with realistic customers, a voice agent on the in-memory fake
    voice platform and its past calls, and print how to sign in."""
    settings = _settings(data_dir=data_dir)
    with prepared_database(settings) as owner_url:
        os.environ["SWITCHBOARD_DATABASE_URL"] = owner_url
        settings = settings.model_copy(update={"database_url": owner_url})
        tenant = asyncio.run(_fill(settings, customers, calls))
    from switchboard.entrypoints.demo import HISTORY_DAYS

    voice = tenant.voice
    click.echo(f"tenant:   {tenant.registered.tenant.name} ({tenant.registered.tenant.id})")
    click.echo(f"email:    {tenant.email}")
    click.echo(f"password: {tenant.password}")
    click.echo(f"customers: {customers}")
    click.echo(f"voice:    fake_voice, the in-memory test platform ({voice.integration_id})")
    click.echo(f"webhook:  {voice.webhook_path} (signing secret {voice.webhook_secret})")
    click.echo(
        f"agent:    {voice.agent.name} ({voice.agent.id}), version {voice.agent.published_version} "
        f"published, answers {voice.number}"
    )
    click.echo(
        f"calls:    {voice.calls} over the last {HISTORY_DAYS} days ({voice.inbound} inbound, "
        f"{voice.calls - voice.inbound} outbound, {voice.with_customer} with a known customer)"
    )


async def _fill(settings: Settings, customers: int, calls: int):  # type: ignore[no-untyped-def]
    from switchboard.entrypoints.container import build_container
    from switchboard.entrypoints.demo import create_demo_tenant

    container = build_container(settings)
    pool = container.pool() if settings.storage == "postgres" else None
    if pool is not None:
        await pool.open(wait=True)
    try:
        return await create_demo_tenant(
            customers, container.identity(), container.plugins(), container.provider_registry(), calls
        )
    finally:
        if pool is not None:
            await pool.close()


from switchboard.entrypoints.cli_plugins import plugins  # noqa: E402

main.add_command(plugins)

from switchboard.entrypoints.cli_admin import admin  # noqa: E402

main.add_command(admin)

from switchboard.entrypoints.cli_worker import worker  # noqa: E402

main.add_command(worker)
