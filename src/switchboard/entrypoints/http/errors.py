"""Every error becomes application/problem+json (RFC 9457), from one table.

Domain errors map by class to a status; HTTP errors (404, 405, 413, 415, malformed JSON) keep
their status; anything unexpected is a 500 that carries the request id and nothing internal.
"""

from __future__ import annotations

from typing import Any

import orjson
import structlog
from pydantic import ValidationError
from quart import Quart, Response, g, request
from quart_schema import RequestSchemaValidationError
from werkzeug.exceptions import HTTPException

from switchboard.core.calls import knowledge
from switchboard.core.errors import (
    AuthenticationFailed,
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    TooManyAttempts,
)
from switchboard.core.flags.model import FeatureDisabled
from switchboard.core.messaging.model import CustomerHasNoPhone
from switchboard.core.sales.provider_payments import ProviderRefused, ProviderUnavailable
from switchboard.entrypoints.http.responses import PROBLEM_JSON
from switchboard.ports.providers import WebhookRejected

PROBLEM_BASE = "https://switchboard.dev/problems/"

STATUS_BY_ERROR: dict[type[DomainError], int] = {
    InvalidInput: 400,
    AuthenticationFailed: 401,
    PermissionDenied: 403,
    FeatureDisabled: 403,
    NotFound: 404,
    Conflict: 409,
    PreconditionFailed: 412,
    TooManyAttempts: 429,
    ProviderRefused: 502,  # a provider said no to a request it was sent
    ProviderUnavailable: 503,  # a provider could not be reached: try again
    CustomerHasNoPhone: 422,  # well-formed, but there is no number to text
    knowledge.FileTooLarge: 413,  # an uploaded document over SWITCHBOARD_KNOWLEDGE_MAX_BYTES
    knowledge.UnsupportedFileType: 415,  # its content is no document type taken, or not its name's
    knowledge.EmptyFile: 422,
    knowledge.UnreadableDocument: 422,  # the type is right but the content cannot be read
}

# Problem codes and titles for statuses raised outside the domain.
CODE_BY_STATUS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    412: ("precondition_failed", "Precondition failed"),
    413: ("payload_too_large", "Request body too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    422: ("unprocessable", "Unprocessable request"),
    429: ("rate_limited", "Too many requests"),
    500: ("internal_error", "Internal server error"),
    502: ("bad_gateway", "The provider refused the request"),
    503: ("unavailable", "Service unavailable"),
}

log = structlog.get_logger("switchboard.http")


class ApiError(Exception):
    """An error the HTTP layer itself raises (bad cursor, reused idempotency key, ...)."""

    def __init__(self, status: int, detail: str, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code or CODE_BY_STATUS.get(status, ("error", ""))[0]
        self.extra = extra


def problem(
    status: int,
    detail: str,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    default_code, title = CODE_BY_STATUS.get(status, ("error", "Error"))
    code = code or default_code
    body = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.path,
        "code": code,
        "request_id": getattr(g, "request_id", None),
        **extra,
    }
    return Response(orjson.dumps(body), status=status, headers=headers or {}, content_type=PROBLEM_JSON)


def rate_limit_headers(limit: int, remaining: int, reset_seconds: int) -> dict[str, str]:
    """Retry-After, and the RateLimit fields of the IETF draft, on every 429."""
    return {
        "Retry-After": str(reset_seconds),
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(remaining),
        "RateLimit-Reset": str(reset_seconds),
    }


def _field_errors(error: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(part) for part in item["loc"]) or "body", "message": item["msg"]}
        for item in error.errors()
    ]


def register_error_handlers(app: Quart) -> None:
    @app.errorhandler(DomainError)
    async def domain_error(error: DomainError) -> Response:
        status = STATUS_BY_ERROR.get(type(error), 400)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
        if isinstance(error, TooManyAttempts):
            headers |= rate_limit_headers(error.limit, error.remaining, error.retry_after)
        extra = {}
        if isinstance(error, InvalidInput):
            extra["errors"] = [{"field": e.field, "message": e.message} for e in error.errors]
        extra |= getattr(error, "problem_fields", {})  # members a problem type adds (RFC 9457)
        return problem(status, error.detail, error.code, headers, **extra)

    @app.errorhandler(WebhookRejected)
    async def webhook_rejected(error: WebhookRejected) -> Response:
        log.warning("webhook_rejected", path=request.path, reason=str(error))
        return problem(400, "the webhook could not be verified", "webhook_rejected")

    @app.errorhandler(ApiError)
    async def api_error(error: ApiError) -> Response:
        return problem(error.status, error.detail, error.code, **error.extra)

    @app.errorhandler(RequestSchemaValidationError)
    async def schema_error(error: RequestSchemaValidationError) -> Response:
        cause = error.validation_error
        if isinstance(cause, ValidationError):
            errors = _field_errors(cause)
        else:  # not JSON at all, or not an object
            errors = [{"field": "body", "message": "must be a JSON object"}]
        return problem(400, "the request is not valid", "validation_error", errors=errors)

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        headers = {}
        if status == 405 and getattr(error, "valid_methods", None):
            headers["Allow"] = ", ".join(sorted(error.valid_methods))  # type: ignore[attr-defined]
        return problem(status, _http_detail(status, error), headers=headers)

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> Response:
        log.exception("unhandled_error", request_id=getattr(g, "request_id", None))
        return problem(500, "something went wrong on our side; quote the request id if you report it")


def _http_detail(status: int, error: HTTPException) -> str:
    if status == 404:
        return "no such resource"
    if status == 405:
        return f"{request.method} is not allowed here"
    if status == 413:
        return "the request body is larger than this server accepts"
    if status == 400:
        return "the request could not be understood (malformed JSON?)"
    return error.description or CODE_BY_STATUS.get(status, ("", "error"))[1]
