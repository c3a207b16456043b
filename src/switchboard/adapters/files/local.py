"""File storage in a local directory (the default: ``<data dir>/files``).

Each object is a file at its key's path under the root. A write goes to a temporary file in the
same directory, is flushed to disk, then renamed over the target: a reader sees the old content
or the new, whole. Directories and files are private to the server's user. Disk work runs in a
thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from pathlib import Path

from switchboard.adapters.files import checked_key
from switchboard.ports.files import StoredFileMissing


class LocalFileStorage:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    async def put(self, key: str, content: bytes, media_type: str) -> None:
        await asyncio.to_thread(self._put, self._path(key), content)

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, NotADirectoryError):
            raise StoredFileMissing(key) from None

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._delete, self._path(key))

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*checked_key(key).split("/"))

    def _put(self, path: Path, content: bytes) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise

    def _delete(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        # Leave no empty directories behind, up to the root (one still in use stays).
        parent = path.parent
        while parent != self.root and self.root in parent.parents:
            try:
                parent.rmdir()
            except OSError:
                return
            parent = parent.parent
