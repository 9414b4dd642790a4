"""The embedded endpoint: moto's backends, the Lambda service and the gateway on one port.

moto keeps its state per process, so every endpoint started in one process shares the
same tables, queues and buckets. The pytest plugin therefore starts one per session.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

from streamlab.aws_rules import ACCOUNT_ID, EventSourceKind
from streamlab.emulator import moto_patches
from streamlab.emulator.awslambda.interpreters import (
    INTERPRETERS_ENV,
    SEARCH_SOURCES,
    InterpreterSearch,
    parse_named_interpreters,
)
from streamlab.emulator.awslambda.service import LambdaService
from streamlab.emulator.cloudformation.api import CloudFormationApi
from streamlab.emulator.cloudformation.service import CloudFormationService
from streamlab.emulator.endpoint_clients import EndpointClients
from streamlab.emulator.esm.config import MappingConfig
from streamlab.emulator.esm.engine import EventSourceMappingEngine, ReaderFactory, default_reader
from streamlab.emulator.esm.poller import StreamReader
from streamlab.emulator.esm.queue_reader import MotoQueueClient
from streamlab.emulator.esm.store_reader import StoreStreamReader
from streamlab.emulator.gateway import Gateway
from streamlab.emulator.http_server import DEFAULT_SERVER, HTTPServer, ServerSettings, make_server
from streamlab.emulator.kinesis_destinations import KinesisDestinationsApi
from streamlab.emulator.observability import Observability, ObservabilitySettings
from streamlab.emulator.observability.routes import ObservabilityRoutes
from streamlab.emulator.readiness import StackReadiness
from streamlab.emulator.stream_mappings import StreamMappingBridge, stream_exists_check
from streamlab.emulator.streams import StreamsApi, StreamSettings, StreamStore
from streamlab.emulator.telemetry import FanOut

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566

#: How the event source mapping engine finds new records.
#: ``wake``: on every DynamoDB write the gateway routed (milliseconds), with AWS's 4 polls a
#: second as a backstop; ``aws``: AWS's 4 polls a second only, for latency figures like AWS's.
ESM_CADENCES = ("wake", "aws")
ESM_CADENCE_ENV = "STREAMLAB_ESM_CADENCE"
#: ``STREAMLAB_MOTO_COMPAT=0`` runs on plain moto (speed-ups only): a defect can be reproduced.
MOTO_COMPAT_ENV = "STREAMLAB_MOTO_COMPAT"
AWS_POLL_INTERVAL_SECONDS = 0.25

log = logging.getLogger(__name__)


def _reader_for(
    store_reader: StoreStreamReader, endpoint_url: Callable[[], str], config: MappingConfig
) -> StreamReader:
    """One stateless reader of the store serves every DynamoDB mapping; Kinesis reads moto's API."""
    if config.source_kind == EventSourceKind.DYNAMODB:
        return store_reader
    return default_reader(endpoint_url, config)


def _queue_for(config: MappingConfig) -> MotoQueueClient:
    return MotoQueueClient(config.event_source_arn)


class EmbeddedEndpoint:
    """Start with :meth:`start` (or ``with``), read :attr:`url`, stop with :meth:`stop`."""

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        server: str = DEFAULT_SERVER,
        esm_cadence: str | None = None,
        server_settings: ServerSettings | None = None,
        moto_compat: bool | None = None,
        log_events_per_group: int | None = None,
        stream_settings: StreamSettings | None = None,
        lambda_pythons: Mapping[str, str] | None = None,
        python_search: tuple[str, ...] = SEARCH_SOURCES,
        observability_settings: ObservabilitySettings | None = None,
    ) -> None:
        """``lambda_pythons`` names the interpreter of a runtime (``{"python3.12": "/opt/py312/bin/python3"}``,
        default from ``STREAMLAB_LAMBDA_PYTHONS``); ``python_search`` is where the others are looked
        for (see :mod:`streamlab.emulator.awslambda.interpreters`; ``()`` uses only the named ones and
        the endpoint's own)."""
        esm_cadence = esm_cadence or os.environ.get(ESM_CADENCE_ENV) or "wake"
        self.moto_compat = moto_compat if moto_compat is not None else os.environ.get(MOTO_COMPAT_ENV, "1") != "0"
        if esm_cadence not in ESM_CADENCES:
            raise ValueError(f"unknown ESM cadence {esm_cadence!r}; expected one of {', '.join(ESM_CADENCES)}")
        # Bind first: a taken port must fail before anything else is started.
        self._server: HTTPServer = make_server(self._route, host, port, kind=server, settings=server_settings)
        # DynamoDB Streams is streamlab's stream store, fed by moto's tables (one per process, as
        # moto's state is); plain moto keeps its own single-shard streams. ``stream_settings``
        # reshape the process's streams from now on; None leaves them as they are.
        self.streams: StreamStore | None = moto_patches.stream_store() if self.moto_compat else None
        if self.streams is not None and stream_settings is not None:
            if self.streams.settings not in (StreamSettings(), stream_settings):
                log.warning(
                    "stream settings %s replace %s for every endpoint of this process",
                    stream_settings,
                    self.streams.settings,
                )
            self.streams.configure(stream_settings)
        if lambda_pythons is None:
            lambda_pythons = parse_named_interpreters(os.environ.get(INTERPRETERS_ENV))
        # Everything the engine and the Lambda service report; metrics, status, the dashboard
        # and journeys subscribe with ``telemetry.add``.
        self.telemetry = FanOut()
        self.lambda_service = LambdaService(
            endpoint_url=lambda: self.url,
            interpreters=InterpreterSearch(named=dict(lambda_pythons), sources=("endpoint", *python_search)),
            source_checks={"dynamodb": stream_exists_check(self.streams)} if self.streams is not None else None,
            telemetry=self.telemetry,
        )
        # CloudWatch metrics and alarms, status, the dashboard and record journeys.
        self._clients = EndpointClients(lambda: self.url)
        self.observability = Observability(
            self.telemetry, self._clients.get, self.lambda_service, observability_settings
        )
        self.cloudformation = CloudFormationService(endpoint_url=lambda: self.url)
        self.gateway = Gateway(
            self.lambda_service,
            runtimes=self.lambda_service.runtimes,
            streams=StreamsApi(self.streams) if self.streams is not None else None,
            cloudformation_app=CloudFormationApi(self.cloudformation),
            own_routes=ObservabilityRoutes(
                self.observability, self.lambda_service, self.streams, current_age=self._iterator_age
            ),
            kinesis_destinations=(
                KinesisDestinationsApi(moto_patches.kinesis_destinations(), ACCOUNT_ID)
                if self.streams is not None
                else None
            ),
        )
        mapping_store = self.lambda_service.event_source_mappings
        self.esm_cadence = esm_cadence
        # The engine reads the store in-process (a GetRecords over HTTP costs ~150 times the
        # store call); on plain moto it reads over HTTP like any other client.
        reader_factory: ReaderFactory | None = None
        if self.streams is not None:
            store_reader = StoreStreamReader(self.streams)
            reader_factory = functools.partial(_reader_for, store_reader, lambda: self.url)
        self.esm_engine = EventSourceMappingEngine(
            # FunctionInvoked names who asked: one engine runs every source's mappings (their own
            # BatchInvoked says which mapping and source).
            functools.partial(self.lambda_service.invoke, invocation_type="EventSourceMapping"),
            endpoint_url=lambda: self.url,
            poll_interval=AWS_POLL_INTERVAL_SECONDS,
            status_listener=mapping_store.set_last_processing_result,
            reader_factory=reader_factory,
            # Queues are moto's, in this process: polled in-process too (benchmarks/sqs_receive.py).
            queue_factory=_queue_for,
            telemetry=self.telemetry,
        )
        if esm_cadence == "wake":
            self.gateway.add_write_listener(self.esm_engine.wake)
        self._mappings = StreamMappingBridge(mapping_store, self.esm_engine, role_of=self._function_role)
        self._holds_moto_patches = False
        self._log_events_per_group = log_events_per_group

    def _iterator_age(self, mapping_uuid: str) -> float | None:
        """The engine's IteratorAge gauge of a mapping it runs (None for another engine's)."""
        if mapping_uuid not in {config.uuid for config in self.esm_engine.mappings()}:
            return None
        return self.esm_engine.status(mapping_uuid).iterator_age_ms

    @property
    def stack(self) -> StackReadiness:
        """The stack ``up`` deploys, as the health answer reports it."""
        return self.gateway.stack

    def _function_role(self, function_arn: str) -> str | None:
        return self.lambda_service.function(function_arn).config.role

    def _route(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
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

    def start(self) -> EmbeddedEndpoint:
        # moto is patched while an endpoint runs, and restored when the last one stops.
        if not self._holds_moto_patches:
            moto_patches.acquire(compat=self.moto_compat)
            self._holds_moto_patches = True
        if self._log_events_per_group is not None:
            moto_patches.logs.limits.max_events_per_group = self._log_events_per_group
        self._server.start()
        self.lambda_service.start()
        self.observability.start()
        # The interpreter search takes seconds (it runs every candidate Python); doing it now keeps
        # the first health answer, which reports it, as quick as the others.
        threading.Thread(target=self.lambda_service.runtimes, name="streamlab-runtimes", daemon=True).start()
        self.gateway.ready.set()
        log.info("embedded endpoint listening on %s", self.url)
        return self

    def stop(self) -> None:
        self.gateway.ready.clear()
        self._mappings.close()
        self.observability.stop()
        self.lambda_service.stop()
        self._server.stop()
        if self._holds_moto_patches:
            self._holds_moto_patches = False
            moto_patches.release()

    def __enter__(self) -> EmbeddedEndpoint:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
