"""The threaded HTTP/1.1 servers the embedded endpoint can run on.

cheroot is the default. Measured with ``benchmarks/gateway.py`` (same run, ratios to moto
in-process): as ``streamlab up`` in its own process, PutItem through cheroot reached 0.47x
(1 client thread) and 0.85x (4 threads) against waitress's 0.35x and 0.69x; both keep
connections alive, and moto's own Werkzeug server reached 0.32x / 0.34x. waitress stays
selectable (``--server waitress``, with the ``bench`` extra) so the comparison can be re-run.
"""

from __future__ import annotations

import errno
import socket
import threading
from typing import Any, Protocol

SERVER_KINDS = ("cheroot", "waitress")
DEFAULT_SERVER = "cheroot"


class PortInUseError(RuntimeError):
    """The requested port is already taken by another process."""


class HTTPServer(Protocol):
    host: str
    port: int

    def start(self) -> None: ...

    def stop(self) -> None: ...


def _bind(host: str, port: int) -> socket.socket:
    """Bind first, so a taken port is a clear error rather than a server-thread traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit TCP_NODELAY; without it Nagle and delayed ACKs add tens of ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise PortInUseError(f"port {port} on {host} is already in use") from None
        raise
    sock.listen(1024)
    return sock


def _continue_safe_channel(base: type) -> type:
    """waitress 3.0 hangs a request sent with ``Expect: 100-continue`` whose body is already
    complete (``Content-Length: 0``, as boto3 sends for ``put_object(Body=b"")``): sending the
    ``100 Continue`` marks the request incomplete again, so it is never dispatched. This
    channel keeps the request's completion state across the interim response.
    """

    class ContinueSafeChannel(base):  # type: ignore[valid-type,misc]
        def send_continue(self) -> None:
            completed = self.request.completed
            super().send_continue()
            self.request.completed = completed

    return ContinueSafeChannel


class WaitressServer:
    """waitress on a pre-bound socket, in a background thread."""

    def __init__(self, app: Any, host: str, port: int, threads: int = 16) -> None:
        try:
            from waitress.server import create_server
        except ImportError:
            raise RuntimeError("the waitress server needs the bench extra: pip install -e '.[bench]'") from None

        self._socket = _bind(host, port)
        self.host, self.port = self._socket.getsockname()[:2]
        self._server = create_server(
            app,
            sockets=[self._socket],
            threads=threads,
            ident="streamlab",
            channel_timeout=300,
            connection_limit=1000,
            expose_tracebacks=False,
            _start=True,
        )
        for server in [self._server, *getattr(self._server, "map", {}).values()]:
            if hasattr(server, "channel_class"):
                server.channel_class = _continue_safe_channel(server.channel_class)
        self._thread = threading.Thread(target=self._run, name="streamlab-http", daemon=True)

    def _run(self) -> None:
        try:
            self._server.run()
        except (OSError, ValueError):
            pass  # the loop ends with EBADF once stop() has closed the sockets

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.task_dispatcher.shutdown(timeout=2)
        for channel in list(self._server._map.values()):
            channel.close()
        self._server.close()
        self._thread.join(timeout=5)


class CherootServer:
    """cheroot's threaded WSGI server, in a background thread."""

    def __init__(self, app: Any, host: str, port: int, threads: int = 16) -> None:
        from cheroot import wsgi

        probe = _bind(host, port)
        self.host, self.port = probe.getsockname()[:2]
        probe.close()
        self._server = wsgi.Server((self.host, self.port), app, numthreads=threads, server_name="streamlab")
        self._server.prepare()
        self._thread = threading.Thread(target=self._server.serve, name="streamlab-http", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.stop()
        self._thread.join(timeout=5)


def make_server(app: Any, host: str, port: int, kind: str = DEFAULT_SERVER, threads: int = 16) -> HTTPServer:
    if kind == "waitress":
        return WaitressServer(app, host, port, threads)
    if kind == "cheroot":
        return CherootServer(app, host, port, threads)
    raise ValueError(f"unknown server kind {kind!r}; expected one of {', '.join(SERVER_KINDS)}")
