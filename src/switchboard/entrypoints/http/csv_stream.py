"""CSV written line by line for streamed downloads, with formula cells defused.

Shared by every export (the audit log, calls, the analytics reports), so each one escapes cells
the same way.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterable, Iterable
from typing import Any

from quart import Response

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"


def csv_line(values: Iterable[Any]) -> bytes:
    """One CSV record; None is an empty cell."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow([defused("" if value is None else str(value)) for value in values])
    return buffer.getvalue().encode()


def defused(cell: str) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas (CSV injection): quote them."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def csv_response(lines: AsyncIterable[bytes], filename: str) -> Response:
    """Stream ``lines`` as a download named ``filename``: the body is produced as it is sent."""
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(lines, content_type=CSV_CONTENT_TYPE, headers=headers)
