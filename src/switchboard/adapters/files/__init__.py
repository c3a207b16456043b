"""File storage adapters (ports/files.py): a local directory, an S3-compatible bucket, memory."""

from __future__ import annotations

import re

KEY_MAX = 1024
_KEY_PART = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")


def checked_key(key: str) -> str:
    """The key if it is relative, slash-separated and made of plain names (no ``.``, ``..`` or
    empty parts): it can name nothing outside the storage's own root on any adapter."""
    parts = key.split("/")
    if not key or len(key) > KEY_MAX or not all(_KEY_PART.match(part) for part in parts):
        raise ValueError(f"not a storage key: {key!r}")
    return key
