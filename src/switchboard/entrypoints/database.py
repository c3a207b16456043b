"""Finding the database before serving: the configured one, or the embedded server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from switchboard.adapters.postgres.database import create_database_if_missing, migrate, with_database
from switchboard.adapters.postgres.embedded import EmbeddedPostgres
from switchboard.entrypoints.settings import Settings

EMBEDDED_DATABASE = "switchboard"


@contextmanager
def prepared_database(settings: Settings) -> Iterator[str]:
    """Yield the owner's URL of a migrated database, starting the embedded server if needed.

    An embedded server this process started is stopped on the way out; one that was already
    running (another ``switchboard serve`` on the same data directory) is left alone.
    """
    if settings.database_url:
        migrate(settings.database_url, settings.app_password())
        yield settings.database_url
        return

    embedded = EmbeddedPostgres(settings.data_dir)
    already_running = _server_running(embedded.pgdata)
    server_url = embedded.start()
    try:
        create_database_if_missing(server_url, EMBEDDED_DATABASE)
        owner_url = with_database(server_url, EMBEDDED_DATABASE)
        migrate(owner_url, settings.app_password())
        yield owner_url
    finally:
        if not already_running:
            embedded.stop()


def _server_running(pgdata: Path) -> bool:
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True
