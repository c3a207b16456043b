"""What the OAuth 2 sign-in plugins share: one TLS context, and the rule for operator URLs."""

from __future__ import annotations

import functools
import ssl

import httpx2
from authlib.common.security import is_secure_transport


@functools.cache
def shared_tls() -> ssl.SSLContext:
    """httpx2's default TLS context, made once per process: making one costs about 30 ms of CPU,
    and it holds no secret and nothing of any sign-in."""
    return httpx2.create_ssl_context()


def operator_url(url: str) -> str:
    """An https URL, or plain http on a loopback address (a local stand-in): authlib's rule."""
    if not is_secure_transport(url):
        raise ValueError("must be an https URL (plain http only on a loopback address)")
    return url.rstrip("/")
