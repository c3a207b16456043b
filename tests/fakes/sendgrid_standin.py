"""A local stand-in for SendGrid's v3 API, for the official SDK to talk to in tests.

``SendGridStandIn`` is a small threaded HTTP server on 127.0.0.1 (a port of its own) that answers
the one call Switchboard's email adapter makes, the way SendGrid does:

- ``POST /v3/mail/send`` with a JSON body is accepted with ``202``, an empty body and the
  message's id in the ``X-Message-Id`` header.
- The API key comes as ``Authorization: Bearer SG....``; anything else is SendGrid's ``401``.
- A body that is not JSON, or that lacks ``personalizations`` or ``from``, is a ``400``.
- Errors are SendGrid's JSON: ``{"errors": [{"message", "field", "help"}]}``.

Every request is recorded (method, path, headers with lower-case names, the JSON body parsed,
raw body). ``fail_next`` makes the next requests fail: a 500, a 400 (unverified sender), a 401,
a 403 or a 429.

Use it as a context manager; the server stops, and its port closes, when the block exits::

    with SendGridStandIn() as sendgrid_api:
        plugin = SendGridPlugin(api_base=sendgrid_api.api_base)
"""

from __future__ import annotations

import base64
import secrets
from typing import Any

from tests.fakes.standin import Answer, RecordedRequest, StandIn

# What SendGrid answers for each failure a test can ask for: (field, message).
FAILURES: dict[int, tuple[str | None, str]] = {
    400: (
        "from",
        "The from address does not match a verified Sender Identity. Mail cannot be sent until this "
        "error is resolved.",
    ),
    401: (None, "The provided authorization grant is invalid, expired, or revoked"),
    403: (None, "access forbidden"),
    429: (None, "too many requests"),
    500: (None, "internal error"),
    503: (None, "service unavailable"),
}


def _error(status: int, message: str, field: str | None = None) -> Answer:
    return Answer(status, {"errors": [{"message": message, "field": field, "help": None}]})


def _message_id() -> str:
    """Like SendGrid's: 22 url-safe base64 characters."""
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")


class SendGridStandIn(StandIn):
    PROVIDER = "SendGrid"
    FAILURES = FAILURES
    BODY = "json"

    def __init__(self) -> None:
        super().__init__()
        self.sent: dict[str, dict[str, Any]] = {}  # accepted mail-send bodies by message id

    # --- answering ---------------------------------------------------------------------------

    def answer_failure(self, failure: int) -> Answer:
        field, message = FAILURES[failure]
        return _error(failure, message, field)

    def route(self, request: RecordedRequest) -> Answer:
        if (request.method, request.path) != ("POST", "/v3/mail/send"):
            return _error(404, "not found")
        key = request.api_key
        if not key or not key.startswith("SG."):
            field, message = FAILURES[401]
            return _error(401, message, field)
        body = request.json
        if not isinstance(body, dict):
            return _error(400, "Bad Request", None)
        if not body.get("personalizations"):
            return _error(
                400,
                "The personalizations field is required and must have at least one personalization.",
                "personalizations",
            )
        if not isinstance(body.get("from"), dict) or not body["from"].get("email"):
            return _error(400, "The from object must be provided for every email send.", "from")
        if not body.get("template_id") and not body.get("content"):
            return _error(
                400, "Unless a valid template_id is provided, the content parameter is required.", "content"
            )
        message_id = _message_id()
        with self._lock:
            self.sent[message_id] = body
        return Answer(202, None, (("X-Message-Id", message_id),))
