"""A voice platform's recording storage on 127.0.0.1: audio files by path, a redirect, a failure.

``GET /files/<name>`` answers the bytes put there with ``put`` (as audio/wav, with a length);
``GET /moved/<name>`` redirects there, as storage behind a CDN does; anything else is 404.
Every request's path is recorded, so a test can tell the bytes really came from here.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self


class RecordingStandIn:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.paths: list[str] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                standin.paths.append(self.path)
                kind, _, name = self.path.lstrip("/").partition("/")
                if kind == "moved":
                    self.send_response(302)
                    self.send_header("Location", f"/files/{name}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = standin.files.get(name) if kind == "files" else None
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "audio/wav")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def put(self, name: str, body: bytes) -> str:
        """Store a file; its address."""
        self.files[name] = body
        return f"{self.base}/files/{name}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
