"""Credentials at rest, sealed with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class FernetSecretBox:
    """Seals with the first key; opens with any, so keys rotate by putting a new one first."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()

    def seal(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def open(self, sealed: bytes) -> bytes:
        try:
            return self._fernet.decrypt(sealed)
        except InvalidToken as error:
            raise ValueError("sealed with none of the configured keys, or tampered with") from error

    def reseal(self, sealed: bytes) -> bytes:
        """The same secret sealed with the current key (for rotation)."""
        return self._fernet.rotate(sealed)
