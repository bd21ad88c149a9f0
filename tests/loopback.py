"""An HTTP server on a free loopback port, in a thread, for tests that stand in for the gateway or serve a handler
under test."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@contextmanager
def serve_http(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serves `handler` on 127.0.0.1 until the block ends; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class JsonHandler(BaseHTTPRequestHandler):
    """Writes JSON answers and keeps the test's output free of access-log lines."""

    def send_json(self, status: int, value: object) -> None:
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def recording_gateway(answer_for: Callable[[str, str], object]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A stand-in gateway that records each request (method, path, JSON body or None) and answers 200 with
    `answer_for(method, path)`; yields the base URL and the list of recorded requests."""
    seen: list[dict[str, Any]] = []

    class Handler(JsonHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            seen.append({"method": self.command, "path": self.path, "body": body})
            self.send_json(200, answer_for(self.command, self.path))

        do_GET = do_POST = do_DELETE = _answer

    with serve_http(Handler) as url:
        yield url, seen
