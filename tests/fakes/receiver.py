"""A webhook receiver on loopback: records each JSON body posted to it and answers the statuses it is given."""

from __future__ import annotations

import http.server
import json
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

SECRET_PATH = "/services/T0/B0/secret-part"  # a chat webhook's path: its secret


class Receiver:
    """Answers the queued statuses in turn (200 once they are used up), keeping every body and path posted at
    ``path``; :meth:`start` serves it, :meth:`close` stops it."""

    def __init__(self, statuses: list[int] | None = None, path: str = SECRET_PATH) -> None:
        self.statuses = list(statuses or [])
        self.path = path
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.received: queue.Queue[dict[str, Any]] = queue.Queue()  # the bodies, for :meth:`next`
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.posts.append((self.path, body))
                receiver.received.put(body)
                answer = b"ok" if status < 400 else b"no such hook"
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [body for _, body in self.posts]

    def start(self) -> Receiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def next(self, timeout: float = 30.0) -> dict[str, Any]:
        """The next body received (fails the test when none arrives in ``timeout``)."""
        try:
            return self.received.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no webhook call reached {self.url} within {timeout:g}s")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def receiving(statuses: list[int] | None = None) -> Iterator[Receiver]:
    """A started :class:`Receiver`, shut down after the block."""
    receiver = Receiver(statuses).start()
    try:
        yield receiver
    finally:
        receiver.close()
