"""The local API Gateway's HTTP server: a ThreadingHTTPServer whose handler reads each request into a
``GatewayRequest``, lets the ``LocalApiGateway`` answer it and writes the answer (see ``local.apigateway``).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import threading
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Final, cast

from local.gateway_values import GatewayAnswer, GatewayRequest, _gateway_error, _header_value, _json_bytes

if TYPE_CHECKING:
    from local.apigateway import LocalApiGateway

# The gateway's logger: access lines and connection failures are logged where they were before the split.
logger = logging.getLogger("local.apigateway")

_READ_CHUNK_BYTES: Final = 64 * 1024
_MAX_LINE_BYTES: Final = 64 * 1024


@dataclass(frozen=True)
class _OversizedBody:
    received_bytes: int


class _BadRequestError(ValueError):
    """A request whose body cannot be delimited; the connection cannot be reused."""


class _GatewayHttpServer(ThreadingHTTPServer):
    """One thread per connection; remembers open connections so ``stop`` can end idle keep-alive ones."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], gateway: LocalApiGateway) -> None:
        self.gateway = gateway
        self._open_connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _GatewayRequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can stall on a machine without DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._open_connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._open_connections.discard(request)
        super().shutdown_request(request)

    def end_open_connections(self) -> None:
        """Wake the threads waiting for a next request on a kept-alive connection; they then close it."""
        with self._connections_lock:
            connections = list(self._open_connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # closed meanwhile
                connection.shutdown(socket.SHUT_RD)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("connection from %s failed", client_address, exc_info=True)


class _GatewayRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as API Gateway
    server_version = "meterbill-local-apigateway"
    sys_version = ""
    error_content_type = "application/json"
    error_message_format = '{"message": "%(message)s"}'

    @property
    def gateway(self) -> LocalApiGateway:
        return cast(_GatewayHttpServer, self.server).gateway

    def serve(self) -> None:
        path, _, query = self.path.partition("?")
        try:
            # Read the body first, whatever the answer: bytes left unread would be parsed as the next request.
            body = self._read_body(self.gateway.max_body_bytes)
        except _BadRequestError as problem:
            self.close_connection = True
            self._write(self.gateway.answer_unreadable(str(problem)))
            return
        if isinstance(body, _OversizedBody):
            self._write(self.gateway.answer_too_large(body.received_bytes))
            return
        request = GatewayRequest(
            method=self.command,
            path=path,
            query=query,
            headers=list(self.headers.items()),
            body=body,
            source_ip=str(self.client_address[0]),
            protocol=self.request_version,
        )
        self._write(self.gateway.answer(request))

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = serve

    def refuse_method(self) -> None:
        """Any other method (TRACE, CONNECT, QUERY, ...) matches no method API Gateway can deploy: 403, as for
        every request that matches no deployed method, before any authorizer."""
        try:
            self._read_body(self.gateway.max_body_bytes)  # so that keep-alive finds where the next one starts
        except _BadRequestError:
            self.close_connection = True
        self._write(
            _gateway_error(
                403,
                "MissingAuthenticationTokenException",
                {"message": "Missing Authentication Token"},
                str(uuid.uuid4()),
            )
        )

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The answers http.server gives by itself (414 URI Too Long, 431 headers too large, 400 a request
        line it cannot read, ...) as problem documents, like every other answer; the connection closes."""
        status = HTTPStatus(code)
        problem = {
            "type": "about:blank",
            "title": status.phrase,
            "status": code,
            "detail": message or explain or status.description,
            "errors": [],
        }
        body = _json_bytes(problem)
        self.log_error("code %d, message %s", code, message)
        self.close_connection = True
        self.send_response(code, message)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/problem+json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def __getattr__(self, name: str) -> Any:
        # BaseHTTPRequestHandler looks up do_<METHOD>, and answers 501 when there is none.
        if name.startswith("do_"):
            return self.refuse_method
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _read_body(self, limit: int) -> bytes | _OversizedBody:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked(limit)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError as error:
            raise _BadRequestError("Content-Length is not a number") from error
        if length < 0:
            raise _BadRequestError("Content-Length is negative")
        if length > limit:
            self._discard(length)
            return _OversizedBody(length)
        return self.rfile.read(length)

    def _read_chunked(self, limit: int) -> bytes | _OversizedBody:
        chunks: list[bytes] = []
        received = 0
        while True:
            size_line = self.rfile.readline(_MAX_LINE_BYTES)
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError as error:
                raise _BadRequestError("a chunk size is not a hexadecimal number") from error
            if size == 0:
                break
            received += size
            if received <= limit:
                chunks.append(self.rfile.read(size))
            else:
                self._discard(size)
            self.rfile.readline(_MAX_LINE_BYTES)  # the line end after each chunk
        while self.rfile.readline(_MAX_LINE_BYTES) not in (b"\r\n", b"\n", b""):
            pass  # trailer fields
        return b"".join(chunks) if received <= limit else _OversizedBody(received)

    def _discard(self, byte_count: int) -> None:
        while byte_count > 0:
            chunk = self.rfile.read(min(byte_count, _READ_CHUNK_BYTES))
            if not chunk:
                return
            byte_count -= len(chunk)

    def _write(self, answer: GatewayAnswer) -> None:
        error_type = _header_value(answer.headers, "x-amzn-ErrorType")
        if error_type is not None and error_type in self.gateway.gateway_responses:
            answer = self.gateway.gateway_responses[error_type].restyle(answer)
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.log(self.gateway.access_log_level, "%s " + format, self.address_string(), *args)
