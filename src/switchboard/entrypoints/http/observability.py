"""Per-request plumbing: request ids, guards, security headers, the access log and metrics."""

from __future__ import annotations

import logging
import os
import re
import sys
import time
import uuid

import orjson
import structlog
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from quart import Quart, Response, current_app, g, request
from quart_schema.validation import QUART_SCHEMA_REQUEST_ATTRIBUTE, DataSource

from switchboard.entrypoints.http.errors import ApiError

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# Credentials are never read from the query string; sending one there is refused outright.
_CREDENTIAL_PARAMS = frozenset({"access_token", "refresh_token", "api_key", "token", "password"})

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}

REQUESTS = Counter("switchboard_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram(
    "switchboard_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)

access_log = structlog.get_logger("switchboard.access")


def configure_logging(level: str = "info") -> None:
    """One JSON object per line on stdout (orjson: the access log runs on every request)."""
    logging.basicConfig(format="%(message)s", stream=sys.stdout, level=level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.BytesLoggerFactory(file=sys.stdout.buffer),
        cache_logger_on_first_use=True,
    )


def install(app: Quart) -> None:
    app.before_request(_start)
    app.before_request(_guard)
    app.after_request(_finish)


async def _start() -> None:
    g.started = time.perf_counter()
    offered = request.headers.get("X-Request-ID", "")
    g.request_id = offered if _SANE_REQUEST_ID.match(offered) else uuid.uuid4().hex


async def _guard() -> None:
    if _CREDENTIAL_PARAMS.intersection(request.args.keys()):
        raise ApiError(400, "credentials are never accepted in the query string", "credential_in_query")
    if any("\x00" in value for value in request.args.values()):
        # No text column can hold a NUL byte: refused here rather than by the database.
        raise ApiError(
            400,
            "the query string contains a NUL character",
            "validation_error",
            errors=[{"field": "query", "message": "must not contain NUL characters"}],
        )
    declares_body = bool(request.mimetype) or _has_body()
    # Providers post webhooks in their own formats (Twilio: form-encoded); the plugin checks them.
    # The public quote page's buttons are HTML forms (blueprints/public_quotes.py).
    provider_call = request.path.startswith(("/v1/webhooks/", "/q/"))
    if (
        request.method in _BODY_METHODS
        and declares_body
        and not provider_call
        and not _is_json(request.mimetype)
        and not _takes_multipart()
    ):
        raise ApiError(415, "send the body as application/json")
    if request.method in _BODY_METHODS and declares_body and not provider_call:
        if _is_json(request.mimetype):
            await _refuse_undecodable_json()
        await _refuse_unexpected_body()


def _takes_multipart() -> bool:
    """A multipart body to a route whose request model is documented as multipart (an upload)."""
    view = current_app.view_functions.get(request.endpoint or "")
    declared = getattr(view, QUART_SCHEMA_REQUEST_ATTRIBUTE, None)
    return (
        request.mimetype == "multipart/form-data"
        and declared is not None
        and declared[1] == DataSource.FORM_MULTIPART
    )


async def _refuse_unexpected_body() -> None:
    """An operation without a request model takes no body: fields sent to it would be silently
    ignored, so they are refused, as unknown fields are everywhere else. ``{}`` and ``null`` say
    nothing and are allowed."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or hasattr(view, QUART_SCHEMA_REQUEST_ATTRIBUTE):
        return
    body = (await request.get_data()).strip()
    if body in (b"", b"{}", b"null"):
        return
    try:
        sent = orjson.loads(body)
    except orjson.JSONDecodeError:
        sent = None
    fields = list(sent)[:20] if isinstance(sent, dict) else ["body"]
    raise ApiError(
        400,
        "this operation takes no request body",
        "validation_error",
        errors=[{"field": str(field), "message": "is not accepted by this operation"} for field in fields],
    )


async def _refuse_undecodable_json() -> None:
    """JSON is UTF-8 (RFC 8259): other bytes are a malformed body, refused before any reader
    decodes them."""
    try:
        (await request.get_data()).decode("utf-8")
    except UnicodeDecodeError as error:
        raise ApiError(
            400,
            "the request body is not UTF-8: JSON must be sent as UTF-8",
            "bad_request",  # as for any other malformed JSON
            errors=[{"field": "body", "message": f"is not valid UTF-8 at byte {error.start}"}],
        ) from error


def _has_body() -> bool:
    return bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "")


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or mimetype.endswith("+json")


async def _finish(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("request_id", "")
    for name, value in SECURITY_HEADERS.items():  # a page may set a stricter policy of its own
        response.headers.setdefault(name, value)
    if request.path.startswith("/v1/"):
        response.headers["Cache-Control"] = "no-store"

    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    REQUESTS.labels(request.method, route, str(response.status_code)).inc()
    LATENCY.labels(request.method, route).observe(elapsed)
    principal = g.get("principal")
    access_log.info(
        "request",
        request_id=g.get("request_id"),
        method=request.method,
        route=route,
        path=_loggable(request.path),
        status=response.status_code,
        duration_ms=round(elapsed * 1000, 2),
        tenant_id=str(principal.tenant_id) if principal else None,
        user_id=str(principal.user_id) if principal else None,
        admin_id=str(g.admin_id) if g.get("admin_id") else None,
    )
    return response


def _loggable(path: str) -> str:
    """The path, less the credential a public quote link or calendar feed carries in it."""
    if path.startswith("/ical/"):
        return "/ical/[feed].ics"
    if not path.startswith("/q/"):
        return path
    _, _, rest = path[3:].partition("/")
    return "/q/[link]" + (f"/{rest}" if rest else "")


def metrics_response() -> Response:
    """Prometheus text; merged across worker processes when they share a metrics directory."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest()
    return Response(body, content_type=CONTENT_TYPE_LATEST)
