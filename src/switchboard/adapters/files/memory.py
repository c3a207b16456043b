"""File storage in memory: for tests and ``SWITCHBOARD_STORAGE=memory`` (nothing persists)."""

from __future__ import annotations

from switchboard.adapters.files import checked_key
from switchboard.ports.files import StoredFileMissing


class MemoryFileStorage:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}

    async def put(self, key: str, content: bytes, media_type: str) -> None:
        self.objects[checked_key(key)] = (bytes(content), media_type)

    async def get(self, key: str) -> bytes:
        try:
            return self.objects[checked_key(key)][0]
        except KeyError:
            raise StoredFileMissing(key) from None

    async def delete(self, key: str) -> None:
        self.objects.pop(checked_key(key), None)
