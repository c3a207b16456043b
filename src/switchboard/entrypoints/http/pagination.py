"""Opaque list cursors: a keyset position, base64url-encoded."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from uuid import UUID

import orjson
from pydantic import BaseModel, ConfigDict, Field

from switchboard.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageRequest, Position
from switchboard.entrypoints.http.errors import ApiError


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(default=None, max_length=200)


def encode_cursor(position: Position) -> str:
    raw = orjson.dumps([position.created_at.isoformat(), str(position.id)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, id_ = orjson.loads(raw)
        position = Position(datetime.fromisoformat(created_at), UUID(id_))
    except (binascii.Error, ValueError, TypeError, orjson.JSONDecodeError) as error:
        raise ApiError(400, "the cursor is not one this API issued", "invalid_cursor") from error
    if position.created_at.tzinfo is None:
        raise ApiError(400, "the cursor is not one this API issued", "invalid_cursor")
    return position


def page_request(query: ListQuery) -> PageRequest:
    after = decode_cursor(query.cursor) if query.cursor else None
    return PageRequest(limit=query.limit, after=after)
