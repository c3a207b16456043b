"""JSON responses, ETags and list envelopes, built the same way by every endpoint."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import orjson
from quart import Response, request

from switchboard.core.pagination import Page

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"
T = TypeVar("T")

_STRONG_ETAG = re.compile(r'^\s*"(\d{1,10})"\s*$')


def json_response(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    # OPT_UTC_Z writes UTC timestamps with the 'Z' the API conventions promise.
    body = orjson.dumps(payload, option=orjson.OPT_UTC_Z)
    return Response(body, status=status, headers=dict(headers or {}), content_type=JSON)


def list_response(
    page: Page[T], render: Callable[[T], dict[str, Any]], encode_cursor: Callable[..., str]
) -> Response:
    return json_response(
        {
            "object": "list",
            "data": [render(item) for item in page.items],
            "has_more": page.has_more,
            "next_cursor": encode_cursor(page.next_position) if page.next_position else None,
        }
    )


def etag(version: int) -> str:
    return f'"{version}"'


def if_match_version() -> int | None:
    """The version an ``If-Match`` header demands; ``None`` when absent or ``*``.

    A header naming anything that is not one of our strong ETags can never match, so it maps to
    -1 and the request fails with 412, as RFC 9110 requires.
    """
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    match = _STRONG_ETAG.match(header)
    return int(match.group(1)) if match else -1
