"""Reading the JSON platforms send, where any field may be missing or of another type than
documented: each reader answers a neutral value instead of failing."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any


def json_object(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def text_of(value: Any) -> str | None:
    """``value`` if it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def from_epoch_millis(value: Any) -> datetime | None:
    """Milliseconds since the epoch as a UTC time; None for anything but a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):  # beyond the years a datetime holds, or NaN
        return None


def micro_units(amount: Any, micros_per_unit: Decimal) -> int | None:
    """A non-negative amount (a number, or a number as text) in millionths of the currency,
    rounded half up; None for anything else."""
    if isinstance(amount, bool) or not isinstance(amount, int | float | str):
        return None
    try:
        exact = Decimal(str(amount))
    except InvalidOperation:
        return None
    if not exact.is_finite() or exact < 0:
        return None
    return int((exact * micros_per_unit).quantize(Decimal(1), rounding=ROUND_HALF_UP))
