"""Files: storing bytes under a key, and reading the text out of documents.

``FileStorage`` keeps opaque bytes under keys the core makes (``tenants/<id>/...``): a local
directory, an S3-compatible bucket, or memory. Keys are relative, slash-separated and never
contain ``..``; an adapter refuses any other with ``ValueError``.
"""

from __future__ import annotations

from typing import Protocol

from switchboard.core.calls.knowledge import KnowledgeFileType


class StoredFileMissing(LookupError):
    """Nothing is stored under the key."""


class FileStorage(Protocol):
    async def put(self, key: str, content: bytes, media_type: str) -> None:
        """Store ``content`` under ``key``, replacing what was there; a reader sees the old or
        the new content whole, never a part."""
        ...

    async def get(self, key: str) -> bytes:
        """The content stored under ``key``; ``StoredFileMissing`` when there is none."""
        ...

    async def delete(self, key: str) -> None:
        """Remove what is stored under ``key``; a key with nothing stored is fine."""
        ...


class TextExtractor(Protocol):
    async def extract(self, content: bytes, media_type: KnowledgeFileType, max_chars: int) -> str:
        """The document's text, at most ``max_chars`` + 1 characters (one more says there was
        more). Raises ``UnreadableDocument`` (core/calls/knowledge.py) when the content cannot
        be read as ``media_type``. Never blocks the event loop."""
        ...
