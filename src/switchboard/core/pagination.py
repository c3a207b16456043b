"""Keyset pagination, newest first.

A position is the (created_at, id) pair of the last item seen; the next page holds the items
strictly after it in (created_at DESC, id DESC) order. The cost of a page does not depend on its
depth, and inserts never shift or repeat items. How a position is encoded for clients is the
entrypoints' business.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar
from uuid import UUID

from switchboard.core.errors import InvalidInput

DEFAULT_LIMIT = 20
MAX_LIMIT = 100

T = TypeVar("T")


@dataclass(frozen=True)
class Position:
    created_at: datetime
    id: UUID


@dataclass(frozen=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    after: Position | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidInput.single("limit", f"must be between 1 and {MAX_LIMIT}")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_position: Position | None

    @property
    def has_more(self) -> bool:
        return self.next_position is not None


def page_from_overfetch(rows: list[T], limit: int, position_of: Callable[[T], Position]) -> Page[T]:
    """Adapters fetch ``limit + 1`` rows; the extra one only tells whether more exist."""
    items = rows[:limit]
    has_more = len(rows) > limit
    return Page(items, position_of(items[-1]) if has_more else None)
