"""argon2id password hashing, off the event loop."""

from __future__ import annotations

import asyncio
import unicodedata

import argon2
from argon2.profiles import RFC_9106_LOW_MEMORY


class Argon2PasswordHasher:
    """argon2id with RFC 9106's low-memory profile (64 MiB, t=3, p=4), above OWASP's minimum.

    Hashing costs tens of milliseconds of CPU, so it runs in a worker thread (the C code
    releases the GIL) and the event loop keeps serving other requests. Passwords are hashed in
    Unicode NFKC form (NIST SP 800-63B), so the same passphrase typed on another keyboard, with
    accents composed or not, still matches.
    """

    def __init__(self, parameters: argon2.Parameters = RFC_9106_LOW_MEMORY) -> None:
        self._hasher = argon2.PasswordHasher.from_parameters(parameters)
        # A real hash of a throwaway password: verifying against it costs what a real check does.
        self._decoy_hash = self._hasher.hash("decoy password for unknown accounts")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, _normalized(password))

    async def verify(self, password_hash: str | None, password: str) -> bool:
        return await asyncio.to_thread(self._verify, password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    def _verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._decoy_hash, _normalized(password)) and (
                password_hash is not None
            )
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False


def _normalized(password: str) -> str:
    return unicodedata.normalize("NFKC", password)
