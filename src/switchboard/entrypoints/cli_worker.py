"""`switchboard worker`: delivers the outbox and processes the webhook inbox."""

from __future__ import annotations

import asyncio
import os
import signal

import click

from switchboard.entrypoints.database import prepared_database
from switchboard.entrypoints.settings import Settings


@click.command()
@click.option("--batch", default=20, show_default=True, help="Rows claimed from each queue at a time.")
@click.option("--lease", default=60, show_default=True, help="Seconds a claimed row stays leased.")
def worker(batch: int, lease: int) -> None:
    """Run a worker until interrupted. Start several for more throughput.

    With the embedded database, start `switchboard serve` first: the worker attaches to the
    server it runs and leaves it running on exit.
    """
    settings = Settings()
    if settings.storage == "memory":
        raise click.UsageError("a worker needs PostgreSQL: memory storage lives in the serving process")
    settings.secret_keys()
    with prepared_database(settings) as owner_url:
        os.environ["SWITCHBOARD_DATABASE_URL"] = owner_url
        asyncio.run(_run(settings.model_copy(update={"database_url": owner_url}), batch, lease))


async def _run(settings: Settings, batch: int, lease: int) -> None:
    from switchboard.entrypoints.container import build_container
    from switchboard.entrypoints.http.observability import configure_logging

    configure_logging(settings.log_level)
    container = build_container(settings)
    pool = container.pool()
    await pool.open(wait=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await container.worker(batch=batch, lease_seconds=lease).run(stop)
    finally:
        await pool.close()
