"""What every stand-in shares: a threaded HTTP server on 127.0.0.1, recording and failing on demand.

A provider's stand-in subclasses ``StandIn`` and gives its name, its canned ``FAILURES``, how it
reads request bodies, and two answers: ``route`` (what the provider says to a request) and
``answer_failure`` (what it says when a test asked, with ``fail_next``, for the request to fail).

``StandIn`` does the rest: it is a context manager that serves on a port of its own while the
block runs (``api_base`` is the address to point an SDK at) and closes the port on the way out;
it records every request it receives, failed ones included (``requests``); and it writes each
``Answer`` as JSON, or as an empty body when the answer has none.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Literal, Self
from urllib.parse import parse_qsl, urlsplit


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    form: dict[str, str] = field(default_factory=dict)  # a url-encoded body, bracketed names as sent
    json: Any = None  # a JSON body parsed, or None when it is not JSON
    query: dict[str, str] = field(default_factory=dict)  # the query string's parameters

    @property
    def api_key(self) -> str | None:
        """The key of an ``Authorization: Bearer`` header."""
        scheme, _, key = self.headers.get("authorization", "").partition(" ")
        return key if scheme == "Bearer" else None

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

    def nested(self, name: str) -> dict[str, str]:
        """The form fields sent as ``name[key]=value``, as ``{key: value}``."""
        prefix = f"{name}["
        return {k[len(prefix) : -1]: v for k, v in self.form.items() if k.startswith(prefix) and k[-1] == "]"}

    def multipart(self) -> dict[str, list[EmailMessage]] | None:
        """A ``multipart/form-data`` body's parts by field name (each field may come more than
        once); None when the body is not multipart."""
        content_type = self.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            return None
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + self.body
        )
        fields: dict[str, list[EmailMessage]] = {}
        for part in message.iter_parts():
            fields.setdefault(str(part.get_param("name", header="content-disposition")), []).append(part)
        return fields


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any = None  # sent as JSON; None sends an empty body
    headers: tuple[tuple[str, str], ...] = ()


class StandIn:
    """A provider's API on 127.0.0.1, for as long as the ``with`` block runs."""

    PROVIDER: ClassVar[str]  # as it is written: "Stripe"; in lower case it names the server
    FAILURES: ClassVar[Mapping[int, object]]  # what ``fail_next`` can ask for, by status
    BODY: ClassVar[Literal["form", "json"]] = "form"  # how request bodies come
    METHODS: ClassVar[tuple[str, ...]] = ("GET", "POST")  # others are the HTTP server's own 501
    CONTENT_TYPE: ClassVar[str] = "application/json"
    delay: float = 0.0  # seconds to wait before each answer

    def __init__(self) -> None:
        self._requests: list[RecordedRequest] = []
        self._failures: deque[Any] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return f"{self.PROVIDER.lower()}-standin"

    def __enter__(self) -> Self:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.standin = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.name, daemon=True
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
        """What stands for the provider's API address: what to give the SDK as its base."""
        assert self._server is not None, "the stand-in is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # --- what tests read and arrange ---------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def fail_next(self, count: int = 1, status: int = 500) -> None:
        """Answer the next ``count`` requests with the provider's error for ``status`` (see FAILURES)."""
        self._queue_failures(count, status, status)

    def _queue_failures(self, count: int, status: int, failure: object) -> None:
        """Have ``answer_failure(failure)`` answer the next ``count`` requests."""
        if status not in self.FAILURES:
            raise ValueError(
                f"no canned {self.PROVIDER} error for {status}; pick one of {sorted(self.FAILURES)}"
            )
        with self._lock:
            self._failures.extend([failure] * count)

    # --- answering ---------------------------------------------------------------------------

    def answer(self, request: RecordedRequest) -> Answer:
        with self._lock:
            self._requests.append(request)
            failure = self._failures.popleft() if self._failures else None
        if self.delay:
            time.sleep(self.delay)
        if failure is not None:
            return self.answer_failure(failure)
        return self.route(request)

    def answer_failure(self, failure: Any) -> Answer:
        """The answer to a request a test asked to fail; ``failure`` is as ``fail_next`` queued it."""
        raise NotImplementedError

    def route(self, request: RecordedRequest) -> Answer:
        """The provider's answer to ``request``."""
        raise NotImplementedError

    def response_headers(self) -> tuple[tuple[str, str], ...]:
        """Headers sent with every answer (before the answer's own), such as a request id."""
        return ()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ThreadingHTTPServer

    @property
    def standin(self) -> StandIn:
        return self.server.standin  # type: ignore[attr-defined,no-any-return]

    def version_string(self) -> str:
        return f"{self.standin.name} {self.sys_version}"

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def _handle(self) -> None:
        standin = self.standin
        if self.command not in standin.METHODS:
            # As the HTTP server answers a method it has no do_ for.
            self.send_error(HTTPStatus.NOT_IMPLEMENTED, f"Unsupported method ({self.command!r})")
            return
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        request = RecordedRequest(
            method=self.command,
            path=urlsplit(self.path).path,
            query=dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            **_parse(body, standin.BODY),
        )
        answer = standin.answer(request)
        payload = json.dumps(answer.body).encode() if answer.body is not None else b""
        self.send_response(answer.status)
        if payload:
            self.send_header("Content-Type", standin.CONTENT_TYPE)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (*standin.response_headers(), *answer.headers):
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # the base class's name for it
        """Quiet: the requests are recorded, not logged."""


def _parse(body: bytes, kind: Literal["form", "json"]) -> dict[str, Any]:
    if kind == "form":
        return {"form": dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))}
    try:
        return {"json": json.loads(body) if body else None}
    except ValueError:
        return {"json": None}
