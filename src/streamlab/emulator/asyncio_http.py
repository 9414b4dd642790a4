"""An asyncio HTTP/1.1 front for a WSGI application: every connection on one event loop.

The loop reads, parses (h11) and writes every connection; a request is handed to a worker
thread only once its headers and body are complete, and the thread hands back a complete
answer. An idle or trickling connection therefore costs a file descriptor and a few objects,
never a thread, and the loop's cost per event does not grow with the number of connections
(epoll), where waitress's loop asks every channel whether it is readable and writable on
every pass (40% of the endpoint's CPU with 200 keep-alive clients, measured with py-spy).

Deadlines, per connection: the request headers must be complete ``header_timeout`` seconds
after the connection opened or the request's first byte arrived; an idle keep-alive
connection, or a body that stops arriving, is closed after ``idle_timeout``. Request bodies
are capped (413), headers by h11's limit (431). Worker threads are daemons, so a request
still running (a synchronous Invoke) never holds up the process's exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import queue
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote_to_bytes

import h11

log = logging.getLogger(__name__)

#: The largest request body accepted (a Lambda zip of 50 MB arrives base64-encoded in JSON).
MAX_BODY_BYTES = 256 * 1024 * 1024
#: The largest request head (request line and headers) accepted.
MAX_HEAD_BYTES = 64 * 1024

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Answer = tuple[int, list[tuple[str, str]], bytes]


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


def _error_answer(status: int, code: str, message: str) -> Answer:
    body = json.dumps({"__type": code, "message": message}).encode()
    return status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body


class _Workers:
    """Daemon threads running WSGI calls; results go back to the loop."""

    def __init__(self, count: int) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._run, name=f"streamlab-http-{index}", daemon=True) for index in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            job()

    def stop(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)


def call_wsgi(app: WSGIApp, environ: dict[str, Any]) -> Answer:
    """Run the application and collect its whole answer; a failure becomes a JSON 500."""
    started: list[Any] = []
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        started[:] = [status, headers]
        return written.append

    try:
        result = app(environ, start_response)
        try:
            written.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = started
        return int(str(status).split(" ", 1)[0]), list(headers), b"".join(written)
    except Exception as error:  # the application's own handler failed: still an AWS-shaped answer
        log.exception("request %s %s failed", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
        return _error_answer(500, "InternalFailure", f"{type(error).__name__}: {error}")


class _Connection(asyncio.Protocol):
    """One client connection: h11 state, the deadline that applies now, the request being read."""

    def __init__(self, server: AsyncioServer) -> None:
        self._server = server
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        self._transport: asyncio.Transport | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._request: h11.Request | None = None
        self._body = bytearray()
        self._busy = False
        #: Which deadline applies: "head" (headers due), "body", "busy" (none), "idle" (keep-alive).
        self._phase = "head"
        self._peer: tuple[str, int] = ("", 0)

    # -- asyncio callbacks -----------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        if not self._server.admit(self):
            transport.abort()
            return
        peer = transport.get_extra_info("peername") or ("", 0)
        self._peer = (str(peer[0]), int(peer[1]))
        self._enter("head")  # from the connection on: one that sends nothing is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._server.release(self)
        self._transport = None

    def data_received(self, data: bytes) -> None:
        if self._phase == "idle":
            self._enter("head")  # the first byte of the next request
        try:
            self._h11.receive_data(data)
        except RuntimeError:  # data after the peer closed its side: ignore it
            return
        if not self._busy:
            self._process()

    def eof_received(self) -> bool | None:
        with contextlib.suppress(h11.RemoteProtocolError):
            self._h11.receive_data(b"")
        if not self._busy:
            self._process()
        return None

    # -- reading ---------------------------------------------------------------------
    def _process(self) -> None:
        """Consume h11 events until a request is complete (then run it) or more data is needed."""
        while self._transport is not None and not self._busy:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as error:
                status = error.error_status_hint
                self._reject(status, "Bad request" if status != 431 else "Request header fields too large")
                return
            if event is h11.NEED_DATA:
                self._send_continue_if_waiting()
                return
            if event is h11.PAUSED or isinstance(event, h11.ConnectionClosed):
                if isinstance(event, h11.ConnectionClosed):
                    self._close()
                return
            self._handle(event)

    def _handle(self, event: Any) -> None:
        if isinstance(event, h11.Request):
            if len(event.target) + sum(len(name) + len(value) for name, value in event.headers) > MAX_HEAD_BYTES:
                # h11 limits only a head still incomplete; one that arrived whole is checked here.
                self._reject(431, "Request header fields too large")
                return
            self._request = event
            self._body = bytearray()
            self._enter("body")
        elif isinstance(event, h11.Data):
            self._body += event.data
            if len(self._body) > MAX_BODY_BYTES:
                self._reject(413, f"Request body larger than {MAX_BODY_BYTES} bytes")
            else:
                self._enter("body")  # a body that stops arriving times out; one that arrives doesn't
        elif isinstance(event, h11.EndOfMessage) and self._request is not None:
            self._run(self._request, bytes(self._body))

    def _send_continue_if_waiting(self) -> None:
        if self._request is not None and self._h11.they_are_waiting_for_100_continue:
            self._write(self._h11.send(h11.InformationalResponse(status_code=100, headers=[])))

    # -- running and answering -------------------------------------------------------
    def _run(self, request: h11.Request, body: bytes) -> None:
        self._busy = True
        self._enter("busy")  # the application may take as long as it takes (a synchronous Invoke)
        assert self._transport is not None
        self._transport.pause_reading()
        environ = self._server.environ(request, body, self._peer)
        loop = asyncio.get_running_loop()
        app = self._server.app

        def job() -> None:
            answer = call_wsgi(app, environ)
            with contextlib.suppress(RuntimeError):  # the loop has stopped: nobody to answer
                loop.call_soon_threadsafe(self._answer, request.method, answer)

        self._server.workers.submit(job)

    def _answer(self, method: bytes, answer: Answer) -> None:
        if self._transport is None:
            return
        status, headers, body = answer
        try:
            self._send_answer(method, status, headers, body)
        except h11.LocalProtocolError as error:  # the application's headers are not valid HTTP
            log.error("invalid response to %s: %s", method.decode(errors="replace"), error)
            self._close()
            return
        self._request = None
        self._busy = False
        if self._h11.our_state is h11.MUST_CLOSE or self._h11.their_state is h11.MUST_CLOSE:
            self._close()
            return
        self._h11.start_next_cycle()
        self._enter("head" if self._h11.trailing_data[0] else "idle")
        self._transport.resume_reading()
        self._process()  # a pipelined request may already be buffered

    def _send_answer(self, method: bytes, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        names = {name.lower() for name, _ in headers}
        no_body = method == b"HEAD" or status in (204, 304) or 100 <= status < 200
        if "content-length" not in names and "transfer-encoding" not in names and not no_body:
            headers = [*headers, ("Content-Length", str(len(body)))]
        encoded = [(name.encode("latin-1"), _header_value(value)) for name, value in headers]
        data = self._h11.send(h11.Response(status_code=status, headers=encoded, reason=_reason(status)))
        if body and not no_body:
            data += self._h11.send(h11.Data(data=body))
        data += self._h11.send(h11.EndOfMessage())
        self._write(data)

    def _reject(self, status: int, message: str) -> None:
        """Answer a request that cannot be read (malformed, too large, too slow) and close."""
        if self._h11.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            _, headers, body = _error_answer(status, "BadRequest" if status == 400 else "RequestRejected", message)
            headers.append(("Connection", "close"))
            response = h11.Response(status_code=status, headers=headers, reason=_reason(status))
            with contextlib.suppress(h11.LocalProtocolError):
                self._write(
                    self._h11.send(response) + self._h11.send(h11.Data(data=body)) + self._h11.send(h11.EndOfMessage())
                )
        self._close()

    # -- deadlines and closing -------------------------------------------------------
    def _enter(self, phase: str) -> None:
        self._phase = phase
        self._disarm()
        settings = self._server.settings
        seconds = {"head": settings.header_timeout, "body": settings.idle_timeout, "idle": settings.idle_timeout}
        if phase in seconds:
            self._deadline = asyncio.get_running_loop().call_later(seconds[phase], self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if not self._busy:
            self._close()

    def _write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def _close(self) -> None:
        self._disarm()
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()


def _header_value(value: Any) -> bytes:
    text = str(value)
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode()


class AsyncioServer:
    """Serve ``app`` on a bound socket from an event loop in a background thread."""

    def __init__(self, app: WSGIApp, sock: socket.socket, settings: Any) -> None:
        self.app = app
        self.settings = settings
        self._socket = sock
        self.host, self.port = sock.getsockname()[:2]
        self.workers = _Workers(settings.threads)
        self._connections: set[_Connection] = set()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._serving = threading.Event()
        self._thread = threading.Thread(target=self._run, name="streamlab-http", daemon=True)

    # -- connections (called on the loop) --------------------------------------------
    def admit(self, connection: _Connection) -> bool:
        if len(self._connections) >= self.settings.connection_limit:
            return False
        self._connections.add(connection)
        return True

    def release(self, connection: _Connection) -> None:
        self._connections.discard(connection)

    def environ(self, request: h11.Request, body: bytes, peer: tuple[str, int]) -> dict[str, Any]:
        """The PEP 3333 environ of a complete request."""
        target = request.target.decode("latin-1")
        path, _, query = target.partition("?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method.decode("latin-1"),
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query,
            "RAW_URI": target,
            "REQUEST_URI": target,
            "SERVER_NAME": str(self.host),
            "SERVER_PORT": str(self.port),
            "SERVER_PROTOCOL": "HTTP/" + request.http_version.decode("latin-1"),
            "REMOTE_ADDR": peer[0],
            "REMOTE_PORT": str(peer[1]),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.input_terminated": True,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for raw_name, raw_value in request.headers:
            name = raw_name.decode("latin-1").upper().replace("-", "_")
            value = raw_value.decode("latin-1")
            if name == "CONTENT_TYPE" or name == "CONTENT_LENGTH":
                environ[name] = value
                continue
            key = "HTTP_" + name
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        if "CONTENT_LENGTH" not in environ and body:
            environ["CONTENT_LENGTH"] = str(len(body))  # a chunked body, now whole
        return environ

    # -- lifecycle -------------------------------------------------------------------
    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            self._loop.create_server(lambda: _Connection(self), sock=self._socket, backlog=self.settings.backlog)
        )
        self._serving.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    def start(self) -> None:
        self._thread.start()
        self._serving.wait(10)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._shutdown)
            self._thread.join(timeout=5)
        self.workers.stop()
        with contextlib.suppress(OSError):
            self._socket.close()

    def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections):
            connection._close()
        self._loop.stop()
