"""Outbound webhooks over HTTP: addresses checked against DNS, signed per Standard Webhooks.

A tenant chooses the URL, so the URL is hostile until proven otherwise: every address its host
resolves to must be global (not loopback, private, link-local such as cloud metadata, shared or
reserved), at registration and again at each delivery. Delivery connects to the address that
was checked, with the original Host header and TLS name, so a DNS answer cannot change between
check and connection; redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import httpx
from standardwebhooks import Webhook

from switchboard.core.errors import InvalidInput
from switchboard.ports.providers import DeliveryResult

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
USER_AGENT = "Switchboard-Webhooks/1"


@dataclass(frozen=True)
class PinnedAddress:
    """A URL whose host is replaced by the public address it was checked to resolve to, so no
    later DNS answer can send the request elsewhere; the request still names the host in its
    ``Host`` header and as its TLS server name (``extensions``)."""

    url: str
    host: str  # host[:port] as the original URL has it
    server_name: str | None

    @property
    def extensions(self) -> dict[str, object]:
        return {"sni_hostname": self.server_name}


class HttpWebhookSender:
    def __init__(self, *, allow_loopback: bool = False, timeout_seconds: float = 10.0) -> None:
        # Loopback only for local development and tests; never private or metadata addresses.
        self._allow_loopback = allow_loopback
        self._timeout = timeout_seconds

    async def check_address(self, url: str) -> None:
        await self._public_addresses(url)

    async def pin(self, url: str) -> PinnedAddress:
        """Check the URL's addresses and pin it to the first; raises ``InvalidInput`` (field
        ``url``) unless every address is public."""
        address = (await self._public_addresses(url))[0]
        parts = urlsplit(url)
        return PinnedAddress(_pinned(url, address), parts.netloc, parts.hostname)

    async def deliver(self, url: str, secret: str, event_id: str, body: bytes) -> DeliveryResult:
        started = time.perf_counter()

        def elapsed() -> int:
            return int((time.perf_counter() - started) * 1000)

        try:
            target = await self.pin(url)
        except InvalidInput as refused:
            return DeliveryResult(None, f"refused: {refused.detail}", elapsed())
        now = datetime.now(UTC)
        headers = {
            "host": target.host,
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": event_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(event_id, now, body.decode()),
        }
        try:
            async with httpx.AsyncClient(follow_redirects=False, timeout=self._timeout) as client:
                response = await client.post(
                    target.url, content=body, headers=headers, extensions=target.extensions
                )
        except httpx.HTTPError as error:
            return DeliveryResult(None, f"{type(error).__name__}: {error}"[:500], elapsed())
        answered = response.status_code
        return DeliveryResult(answered, None if 200 <= answered < 300 else f"answered {answered}", elapsed())

    async def _public_addresses(self, url: str) -> list[Address]:
        parts = urlsplit(url)
        if not parts.hostname:
            raise InvalidInput.single("url", "has no host")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                parts.hostname, port, type=socket.SOCK_STREAM
            )
        except (socket.gaierror, UnicodeError) as error:
            raise InvalidInput.single("url", "the host name does not resolve") from error
        addresses = sorted({ipaddress.ip_address(info[4][0]) for info in infos}, key=str)
        refused = [str(a) for a in addresses if not self._allowed(a)]
        if not addresses or refused:
            raise InvalidInput.single(
                "url", f"must point to public addresses only (resolves to {', '.join(refused)})"
            )
        return addresses

    def _allowed(self, address: Address) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if address.is_loopback:
            return self._allow_loopback
        return address.is_global and not address.is_multicast


def _pinned(url: str, address: Address) -> str:
    parts = urlsplit(url)
    host = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
