"""The embedded endpoint: moto's backends, the Lambda service and the gateway on one port.

moto keeps its state per process, so every endpoint started in one process shares the
same tables, queues and buckets. The pytest plugin therefore starts one per session.
"""

from __future__ import annotations

import logging
from types import TracebackType

from streamlab.emulator import moto_compat, moto_speedups
from streamlab.emulator.awslambda.service import LambdaService
from streamlab.emulator.gateway import Gateway
from streamlab.emulator.http_server import HTTPServer, make_server

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566

log = logging.getLogger(__name__)


class EmbeddedEndpoint:
    """Start with :meth:`start` (or ``with``), read :attr:`url`, stop with :meth:`stop`."""

    def __init__(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, server: str = "waitress") -> None:
        moto_compat.apply()
        moto_speedups.apply()
        self.lambda_service = LambdaService(endpoint_url=lambda: self.url)
        self.gateway = Gateway(self.lambda_service)
        self._server: HTTPServer = make_server(self.gateway, host, port, kind=server)

    @property
    def host(self) -> str:
        return self._server.host

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> "EmbeddedEndpoint":
        self._server.start()
        self.lambda_service.start()
        self.gateway.ready.set()
        log.info("embedded endpoint listening on %s", self.url)
        return self

    def stop(self) -> None:
        self.gateway.ready.clear()
        self.lambda_service.stop()
        self._server.stop()

    def __enter__(self) -> "EmbeddedEndpoint":
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
