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
import json
import secrets
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

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


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    json: Any  # the body parsed, or None when it is not JSON
    body: bytes

    @property
    def api_key(self) -> str | None:
        scheme, _, key = self.headers.get("authorization", "").partition(" ")
        return key if scheme == "Bearer" else None


@dataclass(frozen=True)
class _Answer:
    status: int
    body: dict[str, Any] | None = None
    headers: tuple[tuple[str, str], ...] = ()


def _error(status: int, message: str, field: str | None = None) -> _Answer:
    return _Answer(status, {"errors": [{"message": message, "field": field, "help": None}]})


def _message_id() -> str:
    """Like SendGrid's: 22 url-safe base64 characters."""
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")


class SendGridStandIn:
    def __init__(self) -> None:
        self.sent: dict[str, dict[str, Any]] = {}  # accepted mail-send bodies by message id
        self._requests: list[RecordedRequest] = []
        self._failures: deque[int] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> SendGridStandIn:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.standin = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="sendgrid-standin", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        assert self._server is not None
        assert self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def api_base(self) -> str:
        """What stands for ``https://api.sendgrid.com``."""
        assert self._server is not None, "the stand-in is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # --- what tests read and arrange ---------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def fail_next(self, count: int = 1, status: int = 500) -> None:
        """Answer the next ``count`` requests with SendGrid's error for ``status`` (see FAILURES)."""
        if status not in FAILURES:
            raise ValueError(f"no canned SendGrid error for {status}; pick one of {sorted(FAILURES)}")
        with self._lock:
            self._failures.extend([status] * count)

    # --- answering ---------------------------------------------------------------------------

    def answer(self, request: RecordedRequest) -> _Answer:
        with self._lock:
            self._requests.append(request)
            failure = self._failures.popleft() if self._failures else None
        if failure is not None:
            field, message = FAILURES[failure]
            return _error(failure, message, field)
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
        return _Answer(202, None, (("X-Message-Id", message_id),))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sendgrid-standin"

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        request = RecordedRequest(
            method=self.command,
            path=urlsplit(self.path).path,
            headers={name.lower(): value for name, value in self.headers.items()},
            json=parsed,
            body=body,
        )
        answer = self.server.standin.answer(request)  # type: ignore[attr-defined]
        payload = json.dumps(answer.body).encode() if answer.body is not None else b""
        self.send_response(answer.status)
        if payload:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in answer.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # the base class's name for it
        """Quiet: the requests are recorded, not logged."""
