"""The embedded endpoint: moto's backends, the Lambda service and the gateway on one port.

moto keeps its state per process, so every endpoint started in one process shares the
same tables, queues and buckets. The pytest plugin therefore starts one per session.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from streamlab.emulator import moto_compat, moto_speedups
from streamlab.emulator.awslambda.service import LambdaService
from streamlab.emulator.esm.engine import EventSourceMappingEngine
from streamlab.emulator.gateway import Gateway
from streamlab.emulator.http_server import HTTPServer, make_server
from streamlab.emulator.stream_mappings import StreamMappingBridge

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566

log = logging.getLogger(__name__)


class EmbeddedEndpoint:
    """Start with :meth:`start` (or ``with``), read :attr:`url`, stop with :meth:`stop`."""

    def __init__(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, server: str = "waitress") -> None:
        moto_compat.apply()
        moto_speedups.apply()
        # Bind first: a taken port must fail before anything else is started.
        self._server: HTTPServer = make_server(self._route, host, port, kind=server)
        self.lambda_service = LambdaService(endpoint_url=lambda: self.url)
        self.gateway = Gateway(self.lambda_service)
        mapping_store = self.lambda_service.event_source_mappings
        # Polls at AWS's 4 times a second, and wakes on every DynamoDB write the gateway
        # routed, so a record reaches its handler in milliseconds.
        self.esm_engine = EventSourceMappingEngine(
            self.lambda_service.invoke,
            endpoint_url=lambda: self.url,
            poll_interval=0.25,
            status_listener=mapping_store.set_last_processing_result,
        )
        self.gateway.add_write_listener(self.esm_engine.wake)
        self._mappings = StreamMappingBridge(mapping_store, self.esm_engine)

    def _route(self, environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        return self.gateway(environ, start_response)

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
        self._mappings.close()
        self.lambda_service.stop()
        self._server.stop()

    def __enter__(self) -> "EmbeddedEndpoint":
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
