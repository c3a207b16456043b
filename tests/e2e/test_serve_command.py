"""The fresh-machine path: `switchboard serve` with nothing configured, as a user runs it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

SWITCHBOARD = str(Path(sys.executable).parent / "switchboard")
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _postgres_running(data_dir: Path) -> bool:
    pid_file = data_dir / "postgres" / "postmaster.pid"
    try:
        os.kill(int(pid_file.read_text().split()[0]), 0)
    except (OSError, ValueError):
        return False
    return True


@pytest.fixture
def data_dir():
    path = Path(tempfile.mkdtemp(prefix="sbserve-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _clean_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env | {"SWITCHBOARD_DATA_DIR": str(data_dir)}


def test_serve_starts_an_embedded_database_answers_and_stops_it_on_interrupt(data_dir):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [SWITCHBOARD, "serve", "--port", str(port), "--workers", "2"],
        env=_clean_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                ready = httpx.get(f"{base}/health/ready", timeout=1)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        assert ready is not None, "server never answered"
        assert ready.status_code == 200, "server never became ready"
        assert _postgres_running(data_dir)

        signed_up = httpx.post(
            f"{base}/v1/auth/register",
            json={
                "tenant_name": "Fresh Machine Ltd",
                "name": "Ada",
                "email": "ada@fresh.example",
                "password": "correct horse battery staple",
            },
            timeout=10,
        )
        assert signed_up.status_code == 201
        token = signed_up.json()["access_token"]
        # The second request may land on the other worker: the signing key is shared.
        for _ in range(4):
            assert httpx.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        metrics = httpx.get(f"{base}/metrics").text
        assert 'switchboard_http_requests_total{method="GET",route="/v1/me",status="200"} 4.0' in metrics
    finally:
        server.send_signal(signal.SIGINT)
        try:
            output, _ = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
    assert server.returncode == 0, output.decode(errors="replace")[-2000:]
    assert not _postgres_running(data_dir), "the embedded database outlived the server"


def test_demo_fills_a_fresh_database_and_prints_credentials(data_dir):
    result = subprocess.run(
        [SWITCHBOARD, "demo", "--customers", "25"],
        env=_clean_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    printed = dict(line.split(":", 1) for line in result.stdout.splitlines() if ":" in line)
    assert printed["customers"].strip() == "25"
    assert "@" in printed["email"]
    assert printed["password"].strip()
    assert not _postgres_running(data_dir)


def test_serve_refuses_memory_storage_across_several_workers():
    from click.testing import CliRunner

    from switchboard.entrypoints.cli import main

    result = CliRunner().invoke(main, ["serve", "--workers", "2"], env={"SWITCHBOARD_STORAGE": "memory"})

    assert result.exit_code == 2
    assert "memory storage lives in one process" in result.output
