"""An HTTP proxy in front of the local API that a test can take down, or make swallow the answer to the next
batch of readings (forwarded and stored, the answer never given), and that logs every batch it forwarded."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import requests

Mode = Literal["down", "up", "swallow"]


@dataclass(frozen=True)
class ForwardedBatch:
    idempotency_key: str | None
    readings: list[dict[str, Any]]
    status: int | None  # None: the answer was swallowed
    replayed: bool


class FlakyApi:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode: Mode = "down"
        self.refused = 0
        self.batches: list[ForwardedBatch] = []
        self.swallowed = threading.Event()  # set once a batch was forwarded and its answer held back
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FlakyApi:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def release(self) -> None:
        """Ends the swallowed request's wait (its client is gone by then)."""
        self._release.set()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                readings = self.path == "/v1/readings"
                with proxy._lock:
                    mode = proxy.mode
                    if mode == "down":
                        proxy.refused += readings
                    elif mode == "swallow" and readings:
                        proxy.mode = "up"  # only this one
                if mode == "down":
                    self._answer(503, b'{"message": "Service Unavailable"}', {})
                    return
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
                }
                answer = requests.post(proxy.upstream + self.path, data=body, headers=headers, timeout=60)
                if readings:
                    swallow = mode == "swallow"
                    proxy.batches.append(
                        ForwardedBatch(
                            self.headers.get("Idempotency-Key"),
                            json.loads(body)["readings"],
                            None if swallow else answer.status_code,
                            answer.headers.get("Idempotent-Replayed") == "true",
                        )
                    )
                    if swallow:
                        proxy.swallowed.set()
                        proxy._release.wait(timeout=120)
                        self.close_connection = True
                        return
                self._answer(answer.status_code, answer.content, dict(answer.headers))

            def _answer(self, status: int, content: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", headers.get("Content-Type", "application/json"))
                if "Idempotent-Replayed" in headers:
                    self.send_header("Idempotent-Replayed", headers["Idempotent-Replayed"])
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

        return Handler
