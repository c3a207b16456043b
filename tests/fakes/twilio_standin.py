"""A local stand-in for Twilio's REST API, for the official SDK to talk to in tests.

``TwilioStandIn`` is a small threaded HTTP server on 127.0.0.1 (a port of its own) that answers
the one call Switchboard's SMS adapter makes, the way Twilio does:

- ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` with a form-encoded body (``To``,
  ``From`` or ``MessagingServiceSid``, ``Body``) creates a message and answers ``201`` with its
  JSON (``sid`` ``SM...``, ``status`` ``queued``, or ``accepted`` through a messaging service).
- Credentials come as HTTP Basic auth, the account sid and its auth token; a missing one, or a
  user that is not the account in the path, is Twilio's ``401`` (code 20003).
- Errors are Twilio's JSON: ``{"code", "message", "more_info", "status"}``.

Every request is recorded (method, path, headers with lower-case names, Basic credentials, form
fields, raw body). ``fail_next`` makes the next requests fail: a 500, a 400 "invalid To number"
(code 21211), a 429 or a 401.

Use it as a context manager; the server stops, and its port closes, when the block exits::

    with TwilioStandIn() as twilio_api:
        plugin = TwilioPlugin(api_base=twilio_api.api_base)
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import threading
from collections import deque
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-f]{32})/Messages\.json$")

# What Twilio answers for each failure a test can ask for: (code, message).
FAILURES: dict[int, tuple[int, str]] = {
    400: (21211, "Invalid 'To' Phone Number"),
    401: (20003, "Authenticate"),
    429: (20429, "Too Many Requests"),
    500: (20500, "An internal server error has occurred"),
    503: (20503, "Service Unavailable"),
}


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    form: dict[str, str]  # the url-encoded body
    body: bytes

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        """The (user, password) of an ``Authorization: Basic`` header."""
        scheme, _, encoded = self.headers.get("authorization", "").partition(" ")
        if scheme != "Basic":
            return None
        try:
            user, colon, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return (user, password) if colon else None


@dataclass(frozen=True)
class _Answer:
    status: int
    body: dict[str, Any]


def _error(status: int, code: int, message: str) -> _Answer:
    return _Answer(
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
    )


class TwilioStandIn:
    def __init__(self) -> None:
        self.messages: dict[str, dict[str, Any]] = {}
        self._requests: list[RecordedRequest] = []
        self._failures: deque[int] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> TwilioStandIn:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.standin = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="twilio-standin", daemon=True
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
        """What stands for ``https://api.twilio.com``."""
        assert self._server is not None, "the stand-in is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # --- what tests read and arrange ---------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def fail_next(self, count: int = 1, status: int = 500) -> None:
        """Answer the next ``count`` requests with Twilio's error for ``status`` (see FAILURES)."""
        if status not in FAILURES:
            raise ValueError(f"no canned Twilio error for {status}; pick one of {sorted(FAILURES)}")
        with self._lock:
            self._failures.extend([status] * count)

    # --- answering ---------------------------------------------------------------------------

    def answer(self, request: RecordedRequest) -> _Answer:
        with self._lock:
            self._requests.append(request)
            failure = self._failures.popleft() if self._failures else None
        if failure is not None:
            return _error(failure, *FAILURES[failure])
        matched = MESSAGES_PATH.match(request.path)
        if request.method != "POST" or matched is None:
            return _error(404, 20404, f"The requested resource {request.path} was not found")
        credentials = request.basic_auth
        if credentials is None or credentials[0] != matched.group(1) or not credentials[1]:
            return _error(401, *FAILURES[401])
        return self._create_message(matched.group(1), request.form)

    def _create_message(self, account_sid: str, form: dict[str, str]) -> _Answer:
        to, sender, service = form.get("To"), form.get("From"), form.get("MessagingServiceSid")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not re.fullmatch(r"\+[1-9][0-9]{6,14}", to):
            return _error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not sender and not service:
            return _error(400, 21603, "A 'From' phone number is required.")
        if not form.get("Body"):
            return _error(400, 21602, "Message body is required.")
        sid = f"SM{secrets.token_hex(16)}"
        now = formatdate(usegmt=True).replace("GMT", "+0000")
        message = {
            "account_sid": account_sid,
            "api_version": "2010-04-01",
            "body": form["Body"],
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            # Through a messaging service Twilio first accepts, then picks a sender and queues.
            "status": "queued" if sender else "accepted",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}/Media.json"},
            "to": to,
            "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
        }
        with self._lock:
            self.messages[sid] = message
        return _Answer(201, message)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "twilio-standin"

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        request = RecordedRequest(
            method=self.command,
            path=urlsplit(self.path).path,
            headers={name.lower(): value for name, value in self.headers.items()},
            form=dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True)),
            body=body,
        )
        answer = self.server.standin.answer(request)  # type: ignore[attr-defined]
        payload = json.dumps(answer.body).encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Twilio-Request-Id", f"RQ{secrets.token_hex(16)}")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # the base class's name for it
        """Quiet: the requests are recorded, not logged."""
