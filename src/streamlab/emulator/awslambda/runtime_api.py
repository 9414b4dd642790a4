"""The Lambda Runtime API (2018-06-01) that awslambdaric talks to, one small server per
execution environment.

``GET /invocation/next`` does not block a thread: the handler either answers at once (an
event is waiting) or parks the ``deliver`` callback, and the invoking thread later writes
the event straight onto the runtime's socket. That saves a thread hand-off on every warm
invoke; the connection thread meanwhile goes back to reading the runtime's next request.

A server per environment means the listening port identifies the environment, so
``AWS_LAMBDA_RUNTIME_API`` stays a plain ``host:port`` (awslambdaric's Python fallback
client cannot take a path prefix). The HTTP handling is deliberately minimal: the only
client is the runtime interface client, one keep-alive connection for the invocation loop
plus short ones for init errors. TCP_NODELAY is set on every accepted socket; without it
Nagle's algorithm and delayed ACKs add ~40 ms to each exchange.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable
from typing import Protocol

from streamlab.emulator.awslambda.invocation import Invocation

API_PREFIX = b"/2018-06-01/runtime/"
MAX_RESPONSE_BYTES = 6 * 1024 * 1024
_REASONS = {
    200: b"OK",
    202: b"Accepted",
    400: b"Bad Request",
    403: b"Forbidden",
    404: b"Not Found",
    413: b"Payload Too Large",
    500: b"Internal Server Error",
}


class RuntimeApiHandler(Protocol):
    """What the server calls; implemented by the execution environment."""

    def next_invocation(self, deliver: Callable[[Invocation], None]) -> None:
        """The runtime asks for its next event: call ``deliver(invocation)`` now, or keep
        ``deliver`` and call it (from any thread) once there is one."""

    def invocation_response(self, request_id: str, body: bytes) -> tuple[int, dict[str, str]]:
        """The runtime's result for ``request_id``; returns the HTTP status and JSON body to answer."""

    def invocation_error(self, request_id: str, body: bytes, error_type: str | None) -> tuple[int, dict[str, str]]:
        """The runtime reports the handler failed."""

    def init_error(self, body: bytes, error_type: str | None) -> tuple[int, dict[str, str]]:
        """The runtime could not initialise (import error, handler not found...)."""


class RuntimeApiServer:
    """Listens on 127.0.0.1:<free port>; a thread per connection."""

    def __init__(self, handler: RuntimeApiHandler, host: str = "127.0.0.1") -> None:
        self._handler = handler
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(16)
        self.host, self.port = self._listener.getsockname()[:2]
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, name=f"runtime-api-{self.port}", daemon=True)

    @property
    def address(self) -> str:
        """The value for ``AWS_LAMBDA_RUNTIME_API``."""
        return f"{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._closed = True
            connections = list(self._connections)
        for sock in [self._listener, *connections]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept_loop(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if self._closed:
                    conn.close()
                    return
                self._connections.add(conn)
            threading.Thread(
                target=self._serve, args=(conn,), name=f"runtime-api-conn-{self.port}", daemon=True
            ).start()

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb", buffering=65536)
        try:
            while self._serve_one(conn, reader):
                pass
        except (OSError, ValueError):
            pass
        finally:
            with self._lock:
                self._connections.discard(conn)
            try:
                reader.close()
                conn.close()
            except OSError:
                pass

    def _serve_one(self, conn: socket.socket, reader) -> bool:  # type: ignore[no-untyped-def]
        request_line = reader.readline(65537)
        if not request_line:
            return False
        method, target, _version = request_line.split(None, 2)
        headers: dict[bytes, bytes] = {}
        while True:
            line = reader.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if headers.get(b"expect", b"").lower() == b"100-continue":
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            body = _read_chunked(reader)
        else:
            length = int(headers.get(b"content-length", b"0") or b"0")
            body = reader.read(length) if length else b""
        keep_alive = headers.get(b"connection", b"").lower() != b"close"

        if method == b"GET" and target == API_PREFIX + b"invocation/next":
            self._handler.next_invocation(lambda invocation: conn.sendall(_next_response(invocation)))
            return keep_alive
        status, answer = self._dispatch_post(method, target, headers, body)
        payload = json.dumps(answer).encode()
        conn.sendall(
            b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (status, _REASONS.get(status, b""), len(payload), payload)
        )
        return keep_alive

    def _dispatch_post(
        self, method: bytes, target: bytes, headers: dict[bytes, bytes], body: bytes
    ) -> tuple[int, dict[str, str]]:
        if method != b"POST" or not target.startswith(API_PREFIX):
            return 404, {"errorMessage": "Not found", "errorType": "InvalidRequest"}
        path = target[len(API_PREFIX) :].decode()
        error_type = headers.get(b"lambda-runtime-function-error-type")
        error_type_text = error_type.decode(errors="replace") if error_type else None
        if path == "init/error":
            return self._handler.init_error(body, error_type_text)
        parts = path.split("/")
        if len(parts) == 3 and parts[0] == "invocation":
            if parts[2] == "response":
                return self._handler.invocation_response(parts[1], body)
            if parts[2] == "error":
                return self._handler.invocation_error(parts[1], body, error_type_text)
        return 404, {"errorMessage": f"Unknown path {path}", "errorType": "InvalidRequest"}


def _next_response(invocation: Invocation) -> bytes:
    headers = [
        b"HTTP/1.1 200 OK",
        b"Content-Type: application/json",
        b"Lambda-Runtime-Aws-Request-Id: " + invocation.request_id.encode(),
        b"Lambda-Runtime-Deadline-Ms: %d" % invocation.deadline_ms,
        b"Lambda-Runtime-Invoked-Function-Arn: " + invocation.function_arn.encode(),
        b"Lambda-Runtime-Trace-Id: " + invocation.trace_id.encode(),
    ]
    if invocation.client_context:
        headers.append(b"Lambda-Runtime-Client-Context: " + invocation.client_context.encode())
    if invocation.cognito_identity:
        headers.append(b"Lambda-Runtime-Cognito-Identity: " + invocation.cognito_identity.encode())
    headers.append(b"Content-Length: %d" % len(invocation.payload))
    return b"\r\n".join(headers) + b"\r\n\r\n" + invocation.payload


def _read_chunked(reader) -> bytes:  # type: ignore[no-untyped-def]
    chunks: list[bytes] = []
    while True:
        size_line = reader.readline(65537)
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while reader.readline(65537) not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(chunks)
        chunks.append(reader.read(size))
        reader.readline(65537)
