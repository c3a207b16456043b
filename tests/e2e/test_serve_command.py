"""The fresh-machine path: `switchboard serve` with nothing configured, as a user runs it, and the
`switchboard demo` sample tenant a newcomer looks at first."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from switchboard.core.calls.records import CallFilter
from switchboard.core.pagination import PageRequest
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.demo import DemoTenant, create_demo_tenant

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
        [SWITCHBOARD, "demo", "--customers", "25", "--calls", "40"],
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
    assert printed["voice"].strip().startswith("fake_voice")
    assert printed["agent"].strip().startswith("Front desk (")
    assert "version 1 published" in printed["agent"]
    assert printed["calls"].strip().startswith("40 over the last 90 days")
    assert "whsec_" in printed["webhook"]
    assert not _postgres_running(data_dir)


def test_demo_refuses_a_negative_number_of_calls():
    from click.testing import CliRunner

    from switchboard.entrypoints.cli import main

    result = CliRunner().invoke(main, ["demo", "--calls", "-1"])

    assert result.exit_code == 2
    assert "--calls" in result.output


async def _demo(container: Container, customers: int, calls: int, seed: int = 2026) -> DemoTenant:
    return await create_demo_tenant(
        customers, container.identity(), container.plugins(), container.provider_registry(), calls, seed
    )


async def _every_call(client: Any, auth: dict[str, str]) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    query: dict[str, Any] = {"limit": 100}
    while True:
        response = await client.get("/v1/calls", query_string=query, headers=auth)
        assert response.status_code == 200
        page = await response.get_json()
        calls.extend(page["data"])
        if not page["has_more"]:
            return calls
        query["cursor"] = page["next_cursor"]


async def test_the_demo_tenant_shows_its_agent_and_past_calls_in_the_api_and_its_reports(
    container, client, database
):
    demo = await _demo(container, customers=40, calls=150)
    tenant_id = demo.registered.tenant.id
    auth = {"Authorization": f"Bearer {demo.registered.tokens.access_token}"}

    agents = (await (await client.get("/v1/agents", headers=auth)).get_json())["data"]
    assert [agent["id"] for agent in agents] == [str(demo.voice.agent.id)]
    agent = agents[0]
    assert agent["name"] == "Front desk"
    assert agent["published_version"] == 1
    assert {"find_customer", "book_appointment", "take_message"} <= set(agent["tools"])
    assert [number["number"] for number in agent["phone_numbers"]] == [demo.voice.number]

    calls = await _every_call(client, auth)
    assert len(calls) == demo.voice.calls == 150
    now = datetime.now(UTC)
    assert all(call["status"] == "ended" and call["agent_id"] == agent["id"] for call in calls)
    assert all(now - timedelta(days=91) < datetime.fromisoformat(call["ended_at"]) < now for call in calls)
    directions = Counter(call["direction"] for call in calls)
    assert directions["inbound"] == demo.voice.inbound > 0
    assert directions["outbound"] == 150 - demo.voice.inbound > 0
    assert len({call["ended_reason"] for call in calls}) >= 4
    assert {call["sentiment"] for call in calls} >= {"positive", "neutral", "negative"}
    answered = [call for call in calls if call["duration_seconds"]]
    assert answered
    assert all(call["cost"]["total_micros"] > 0 and call["summary"] for call in answered)
    assert {call["success"] for call in answered} == {True, False, None}

    with_customer = [call for call in calls if call["customer_id"]]
    assert len(with_customer) == demo.voice.with_customer
    assert 0 < len(with_customer) < len(calls)
    matched = with_customer[0]
    customer = await (await client.get(f"/v1/customers/{matched['customer_id']}", headers=auth)).get_json()
    assert customer["phone"] == matched["customer_number"]
    detail = await (await client.get(f"/v1/calls/{answered[0]['id']}", headers=auth)).get_json()
    assert detail["transcript"][0]["speaker"] == "agent"

    window = {"from": (now - timedelta(days=91)).date().isoformat(), "to": now.date().isoformat()}
    report = await (await client.get("/v1/analytics/calls", query_string=window, headers=auth)).get_json()
    assert report["totals"]["calls"] == 150
    assert report["totals"]["inbound"] == demo.voice.inbound
    assert report["totals"]["answered"] == len(answered)
    assert [row["agent_id"] for row in report["by_agent"]] == [agent["id"]]
    assert sum(outcome["calls"] for outcome in report["outcomes"]) == 150
    costs = await (await client.get("/v1/analytics/costs", query_string=window, headers=auth)).get_json()
    assert costs["calls_with_cost"] == len([call for call in calls if call["cost"]])
    assert costs["totals"] == [
        {
            "currency": "USD",
            "amount_micros": sum(call["cost"]["total_micros"] for call in calls if call["cost"]),
        }
    ]

    # Nothing waits to reach a platform but the fake one: the agent's publication and number.
    with psycopg.connect(database.owner_url) as conn:
        providers = conn.execute("SELECT provider FROM integrations WHERE tenant_id = %s", (tenant_id,))
        assert [row[0] for row in providers] == ["fake_voice"]
        pending = conn.execute(
            "SELECT kind FROM outbox WHERE tenant_id = %s AND status = 'pending' AND kind LIKE 'voice.%%'",
            (tenant_id,),
        )
        assert sorted(row[0] for row in pending) == ["voice.assign_phone_number", "voice.sync_agent"]


async def test_the_same_seed_makes_the_same_calls(container):
    async def shape(demo: DemoTenant) -> list[tuple[Any, ...]]:
        async with container.units()(demo.registered.tenant.id) as uow:
            calls = (await uow.calls.list(CallFilter(), PageRequest(limit=100))).items
            names = {
                call.customer_id: (await uow.customers.get(call.customer_id)).name
                for call in calls
                if call.customer_id
            }
        return [
            (
                call.direction,
                call.ended_reason,
                call.duration_seconds,
                call.customer_number,
                names.get(call.customer_id),
                call.sentiment,
                call.success,
                call.cost,
                tuple(entry.text for entry in call.transcript),
            )
            for call in calls
        ]

    first, second = await _demo(container, 20, 30), await _demo(container, 20, 30)
    other = await _demo(container, 20, 30, seed=7)

    assert await shape(first) == await shape(second)
    assert await shape(first) != await shape(other)


def test_serve_refuses_memory_storage_across_several_workers():
    from click.testing import CliRunner

    from switchboard.entrypoints.cli import main

    result = CliRunner().invoke(main, ["serve", "--workers", "2"], env={"SWITCHBOARD_STORAGE": "memory"})

    assert result.exit_code == 2
    assert "memory storage lives in one process" in result.output
