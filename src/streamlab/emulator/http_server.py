"""The HTTP/1.1 server the embedded endpoint runs on, chosen by measurement: an asyncio loop.

A load test holds one keep-alive connection per simulated user, and the endpoint is CPU-bound on
2 cores, so a server must share that CPU among any number of connections and never let one that
sends nothing, or trickles its headers, hold what the others need. ``benchmarks/concurrency.py``
(4 / 50 / 200 keep-alive clients cycling PutItem, UpdateItem, Query, GetRecords; then 4 clients
beside 64 idle or header-trickling sockets; 2 cores shared with other work; figures and command
in the notes of issue 12) measured three servers:

- cheroot, 16 threads (the default until then): a new connection takes a worker thread until its
  request line arrives, and the read timeout restarts with every byte. 50 clients got 0.55x the
  throughput of 4, with connections dropped; 20 idle sockets stalled every request for 9 s, 20
  trickling ones for 76 s. With 256 threads it shares well (200 clients 0.97x) but every idle
  socket still holds a thread, so a few hundred of them stop it again;
- waitress: idle and trickling sockets hold no thread (PutItem p99 1.3x beside 64 of them), but
  its loop asks every channel whether it is readable and writable on every pass: at 200 clients
  that was 40% of the endpoint's CPU (py-spy) and 0.41x the throughput of 4;
- asyncio (:mod:`streamlab.emulator.asyncio_http`, h11 parsing, epoll): 50 clients 1.18x, 200
  clients 1.13x the throughput of 4; beside 64 idle or trickling sockets the PutItem p99 0.8-0.9x.

Limits that keep a hostile or broken client from holding the endpoint (:class:`ServerSettings`):
request headers due ``header_timeout`` after connecting or after the request's first byte, idle
keep-alive connections closed after ``idle_timeout``, a listen backlog of ``backlog``. waitress and
cheroot stay selectable (``streamlab up --server``, the ``bench`` extra) so the comparison can be
re-run; waitress 3.0 needs one fix there, for ``Expect: 100-continue`` (:func:`_continue_safe_channel`).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from streamlab.errors import StreamlabError

SERVER_KINDS = ("asyncio", "waitress", "cheroot")
DEFAULT_SERVER = "asyncio"


class PortInUseError(StreamlabError, RuntimeError):
    """The requested port is already taken by another process."""


class ServerUnavailable(StreamlabError, RuntimeError):
    """The server kind asked for is not installed."""


@dataclass(frozen=True)
class ServerSettings:
    """How the endpoint's HTTP server treats connections."""

    #: Worker threads running requests. DynamoDB calls take one lock, so more threads add no
    #: throughput there; they keep slow calls (a synchronous Invoke) from holding up the rest.
    threads: int = 32
    #: Seconds a keep-alive connection may sit idle between requests before it is closed.
    idle_timeout: float = 60.0
    #: Seconds from connecting (or from a request's first byte) to the end of its headers.
    header_timeout: float = 10.0
    #: Pending connections the kernel queues before ``accept`` (capped by net.core.somaxconn).
    backlog: int = 1024
    #: Open connections beyond which the server stops accepting until some close.
    connection_limit: int = 2000


class HTTPServer(Protocol):
    host: str
    port: int

    def start(self) -> None: ...

    def stop(self) -> None: ...


def _bind(host: str, port: int, backlog: int) -> socket.socket:
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
    sock.listen(backlog)
    return sock


def _continue_safe_channel(base: type) -> type:
    """waitress 3.0 hangs a request sent with ``Expect: 100-continue`` whose body is already
    complete (``Content-Length: 0``, as boto3 sends for ``put_object(Body=b"")``): sending the
    ``100 Continue`` marks the request incomplete again, so it is never dispatched. This
    channel keeps the request's completion state across the interim response, and notes when
    the request being received began, for the header timeout.
    """

    class StreamlabChannel(base):  # type: ignore[misc]  # waitress has no type information
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # When the request whose headers are still coming began; None between requests.
            # A new connection's first request counts from the connection, so one that sends
            # nothing at all is closed by the header timeout too.
            self.request_began: float | None = time.monotonic()

        def received(self, data: bytes) -> bool:
            if data and self.request is None and self.request_began is None:
                self.request_began = time.monotonic()
            handled = bool(super().received(data))
            if self.request is None or self.request.headers_finished:
                self.request_began = None
            return handled

        def send_continue(self) -> None:
            completed = self.request.completed
            super().send_continue()
            self.request.completed = completed

    return StreamlabChannel


class WaitressServer:
    """waitress on a pre-bound socket, in a background thread."""

    def __init__(self, app: Any, host: str, port: int, settings: ServerSettings) -> None:
        try:
            from waitress.adjustments import Adjustments
            from waitress.channel import HTTPChannel
            from waitress.server import TcpWSGIServer
            from waitress.task import ThreadedTaskDispatcher
        except ImportError:
            raise ServerUnavailable("the waitress server needs the bench extra: pip install -e '.[bench]'") from None

        # waitress logs every queued task as a warning once all threads are busy: under load,
        # that is the normal state of a CPU-bound endpoint, not news.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        self._socket = _bind(host, port, settings.backlog)
        self.host, self.port = self._socket.getsockname()[:2]
        adjustments = Adjustments(
            sockets=[self._socket],
            threads=settings.threads,
            ident="streamlab",
            channel_timeout=settings.idle_timeout,
            cleanup_interval=1,
            connection_limit=settings.connection_limit,
            backlog=settings.backlog,
            asyncore_use_poll=True,
            expose_tracebacks=False,
        )
        header_timeout = settings.header_timeout
        channel_class = _continue_safe_channel(HTTPChannel)

        class Server(TcpWSGIServer):  # type: ignore[misc]
            def maintenance(self, now: float) -> None:
                super().maintenance(now)  # closes connections idle for longer than idle_timeout
                cutoff = time.monotonic() - header_timeout
                for channel in list(self.active_channels.values()):
                    began = channel.request_began
                    if began is not None and began < cutoff and not channel.requests:
                        channel.will_close = True

        Server.channel_class = channel_class
        dispatcher = ThreadedTaskDispatcher()
        dispatcher.set_thread_count(settings.threads)
        self._map: dict[int, Any] = {}
        self._server = Server(
            app,
            self._map,
            _start=True,
            _sock=self._socket,
            dispatcher=dispatcher,
            adj=adjustments,
            bind_socket=False,
            sockinfo=(self._socket.family, self._socket.type, self._socket.proto, self._socket.getsockname()),
        )
        self._thread = threading.Thread(target=self._run, name="streamlab-http", daemon=True)

    def _run(self) -> None:
        # The loop ends with EBADF once stop() has closed the sockets.
        with contextlib.suppress(OSError, ValueError):
            self._server.run()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.task_dispatcher.shutdown(timeout=2)
        for channel in list(self._map.values()):
            with contextlib.suppress(OSError):
                channel.close()
        self._server.close()
        self._thread.join(timeout=5)


class CherootServer:
    """cheroot's threaded WSGI server, in a background thread (kept to re-run the comparison)."""

    def __init__(self, app: Any, host: str, port: int, settings: ServerSettings) -> None:
        try:
            from cheroot import wsgi
        except ImportError:
            raise ServerUnavailable("the cheroot server needs the bench extra: pip install -e '.[bench]'") from None

        probe = _bind(host, port, settings.backlog)
        self.host, self.port = probe.getsockname()[:2]
        probe.close()
        self._server = wsgi.Server(
            (self.host, self.port),
            app,
            numthreads=settings.threads,
            server_name="streamlab",
            request_queue_size=settings.backlog,
            timeout=int(settings.header_timeout),
        )
        self._server.keep_alive_conn_limit = settings.connection_limit
        self._server.prepare()
        self._thread = threading.Thread(target=self._server.serve, name="streamlab-http", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.stop()
        self._thread.join(timeout=5)


def make_server(
    app: Any, host: str, port: int, kind: str = DEFAULT_SERVER, settings: ServerSettings | None = None
) -> HTTPServer:
    settings = settings or ServerSettings()
    if kind == "asyncio":
        from streamlab.emulator.asyncio_http import AsyncioServer

        return AsyncioServer(app, _bind(host, port, settings.backlog), settings)
    if kind == "waitress":
        return WaitressServer(app, host, port, settings)
    if kind == "cheroot":
        return CherootServer(app, host, port, settings)
    raise ValueError(f"unknown server kind {kind!r}; expected one of {', '.join(SERVER_KINDS)}")
