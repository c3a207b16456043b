"""Reading a call's recording from the voice platform over HTTP, streamed and bounded.

The address came in a platform's message, which the tenant's own platform account signs, so it
is treated like any address a tenant chose: each hop (redirects are followed by hand, at most
three) must resolve to public addresses only, and is fetched from the address that was checked
(the outbound webhook sender's check and pinning), so a DNS answer cannot change in between. The body is
streamed through, never held whole, and cut off past ``max_bytes`` or ``max_seconds``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from urllib.parse import urljoin, urlsplit

import httpx

from switchboard.adapters.webhooks.sender import HttpWebhookSender
from switchboard.core.errors import InvalidInput
from switchboard.ports.recordings import RecordingStream, RecordingUnavailable

MAX_REDIRECTS = 3
DEFAULT_MAX_BYTES = 200 * 1024 * 1024  # about three hours of 128 kbit/s audio
DEFAULT_MAX_SECONDS = 120.0
CHUNK_BYTES = 64 * 1024
FALLBACK_MEDIA_TYPE = "application/octet-stream"


class HttpRecordingSource:
    def __init__(
        self,
        *,
        allow_loopback: bool = False,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_seconds: float = DEFAULT_MAX_SECONDS,
        connect_seconds: float = 10.0,
    ) -> None:
        # Loopback only for local development and tests; never private or metadata addresses.
        self._addresses = HttpWebhookSender(allow_loopback=allow_loopback)
        self._max_bytes = max_bytes
        self._max_seconds = max_seconds
        self._timeout = httpx.Timeout(connect_seconds, read=max_seconds)

    async def open(self, url: str) -> RecordingStream:
        deadline = time.monotonic() + self._max_seconds
        client = httpx.AsyncClient(timeout=self._timeout, follow_redirects=False)
        try:
            response = await self._get(client, url)
        except BaseException:
            await client.aclose()
            raise
        declared = response.headers.get("content-length")
        length = int(declared) if declared and declared.isdigit() else None
        if length is not None and length > self._max_bytes:
            await response.aclose()
            await client.aclose()
            raise RecordingUnavailable("the recording is larger than allowed")
        media_type = response.headers.get("content-type", FALLBACK_MEDIA_TYPE).split(";")[0].strip()
        if not media_type.startswith(("audio/", "video/")):
            media_type = FALLBACK_MEDIA_TYPE
        return RecordingStream(media_type, length, self._chunks(client, response, deadline))

    async def _get(self, client: httpx.AsyncClient, url: str) -> httpx.Response:
        for _ in range(MAX_REDIRECTS + 1):
            if urlsplit(url).scheme not in ("https", "http"):
                raise RecordingUnavailable("the recording address is not an http(s) address")
            try:
                target = await self._addresses.pin(url)
            except InvalidInput as refused:
                raise RecordingUnavailable(f"the recording address is refused: {refused.detail}") from refused
            request = client.build_request(
                "GET", target.url, headers={"host": target.host}, extensions=target.extensions
            )
            try:
                response = await client.send(request, stream=True)
            except httpx.HTTPError as error:
                raise RecordingUnavailable(
                    f"the platform could not be reached: {type(error).__name__}"
                ) from error
            if response.is_redirect and "location" in response.headers:
                await response.aclose()
                url = urljoin(url, response.headers["location"])
                continue
            if response.status_code != httpx.codes.OK:
                await response.aclose()
                raise RecordingUnavailable(f"the platform answered {response.status_code}")
            return response
        raise RecordingUnavailable("the platform redirected too many times")

    async def _chunks(
        self, client: httpx.AsyncClient, response: httpx.Response, deadline: float
    ) -> AsyncIterator[bytes]:
        received = 0
        try:
            async for chunk in response.aiter_bytes(CHUNK_BYTES):
                received += len(chunk)
                if received > self._max_bytes or time.monotonic() > deadline:
                    # The client sees a cut-short body, not a complete file.
                    raise RecordingUnavailable("the recording exceeded its size or time bound")
                yield chunk
        finally:
            await response.aclose()
            await client.aclose()
