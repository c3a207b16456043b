"""Requests to addresses that came from outside (a tenant's webhook URL, a platform's recording
address) go to the address that was checked, whatever DNS answers afterwards.

The host name here resolves to 127.0.0.1 on its first lookup, where a server listens, and to
127.0.0.2 on every later one, where nothing does (DNS rebinding). A request that looked the name
up again after the check would be refused; a pinned one reaches the server, still naming the
host in its Host header.
"""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import pytest

from switchboard.adapters.recording_source import HttpRecordingSource
from switchboard.adapters.webhooks.sender import HttpWebhookSender
from tests.fakes.recording_standin import RecordingStandIn
from tests.fakes.webhook_receiver import Receiver

HOST = "rebinding.test"


@pytest.fixture
def rebinding_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The addresses ``HOST`` was resolved to, in order: 127.0.0.1 first, then 127.0.0.2."""
    real = socket.getaddrinfo
    answers: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != HOST:
            return real(host, port, *args, **kwargs)
        answers.append("127.0.0.1" if not answers else "127.0.0.2")
        return real(answers[-1], port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


async def test_a_webhook_goes_to_the_address_that_was_checked_not_to_a_later_dns_answer(
    rebinding_dns: list[str],
) -> None:
    receiver = Receiver()
    sender = HttpWebhookSender(allow_loopback=True, timeout_seconds=5)

    with receiver.running() as url:
        port = urlsplit(url).port
        result = await sender.deliver(f"http://{HOST}:{port}/hooks", "whsec_" + "A" * 32, "msg_1", b"{}")

    assert (result.status_code, result.error) == (200, None)
    assert rebinding_dns == ["127.0.0.1"]  # looked up once, for the check
    assert [headers["host"] for headers, _ in receiver.requests] == [f"{HOST}:{port}"]


async def test_a_recording_is_fetched_from_the_address_that_was_checked(rebinding_dns: list[str]) -> None:
    with RecordingStandIn() as storage:
        storage.put("call.wav", b"RIFF-audio")
        port = storage.base.rsplit(":", 1)[1]
        source = HttpRecordingSource(allow_loopback=True, max_seconds=5)

        stream = await source.open(f"http://{HOST}:{port}/files/call.wav")
        body = b"".join([chunk async for chunk in stream.chunks])

    assert body == b"RIFF-audio"
    assert storage.paths == ["/files/call.wav"]
    assert rebinding_dns == ["127.0.0.1"]  # looked up once, for the check
