"""The threaded HTTP/1.1 servers the embedded endpoint can run on.

cheroot is the default. ``benchmarks/gateway.py`` (PutItem ops/s as ratios to moto in-process,
two runs on 2 cores, 1 / 4 client threads): in the client's own process, as the pytest
fixture runs it, cheroot 0.52-0.60x / 0.68-0.72x against waitress 0.40-0.49x / 0.47-0.68x;
as ``streamlab up`` in its own process the two are within noise of each other (cheroot
0.41-0.63x / 0.93-0.99x, waitress 0.63-0.69x / 1.12-1.13x); moto's Werkzeug server
0.27-0.41x / 0.34-0.54x. cheroot also stops cleanly and needs no patch for
``Expect: 100-continue``. waitress stays selectable (``--server waitress``, the ``bench``
extra) so the comparison can be re-run.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import threading
from typing import Any, Protocol

from streamlab.errors import StreamlabError

SERVER_KINDS = ("cheroot", "waitress")
DEFAULT_SERVER = "cheroot"


class PortInUseError(StreamlabError, RuntimeError):
    """The requested port is already taken by another process."""


class ServerUnavailable(StreamlabError, RuntimeError):
    """The server kind asked for is not installed."""


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

    class ContinueSafeChannel(base):  # type: ignore[misc]  # waitress's channel class is untyped
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
            raise ServerUnavailable("the waitress server needs the bench extra: pip install -e '.[bench]'") from None

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
        # The loop ends with EBADF once stop() has closed the sockets.
        with contextlib.suppress(OSError, ValueError):
            self._server.run()

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
