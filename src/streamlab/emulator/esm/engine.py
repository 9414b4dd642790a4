"""The event source mapping engine: one worker per enabled mapping, a poller per source.

DynamoDB Streams and Kinesis mappings run a :class:`~.worker.MappingWorker` (shards ->
:class:`~.pipeline.ShardPipeline`), reading with the source's :class:`~.poller.StreamReader`;
SQS mappings run a :class:`~.sqs.QueueWorker` (receive -> invoke -> delete).

Interface for the Lambda service (the control plane adapts its stored mappings to
:class:`~streamlab.emulator.esm.config.MappingConfig`)::

    engine = EventSourceMappingEngine(invoke, endpoint_url="http://127.0.0.1:4566",
                                      poll_interval=0.25, status_listener=store.set_last_processing_result)
    gateway.add_write_listener(engine.wake)        # wake(operation) after each DynamoDB write

    engine.start_mapping(MappingConfig(uuid=..., function_name=..., event_source_arn=...,
                                       starting_position="LATEST", batch_size=10, ...))
    engine.update_mapping(new_config)              # running mapping: restart with new parameters, same checkpoints
    engine.stop_mapping(uuid)                      # disable: keeps checkpoints; start_mapping resumes
    engine.delete_mapping(uuid)                    # stop and forget the checkpoints
    engine.stop_all()
    engine.status(uuid) -> MappingMetrics          # LastProcessingResult, IteratorAge, counters
    engine.last_processing_result(uuid) -> str     # "OK" | "PROBLEM: Function call failed" | "No records processed"

- ``invoke(function_name: str, payload: bytes) -> InvokeResult`` is the Lambda service's
  synchronous invoke (anything with ``status_code``, ``payload``, ``function_error``). It raises
  when the function cannot be invoked at all (unknown, throttled): the engine retries that
  without charging MaximumRetryAttempts, as AWS does.
- Filter criteria are validated by :class:`MappingConfig` (``InvalidFilterCriteria`` ->
  InvalidParameterValueException; also usable alone: ``filtering.validate_filter_criteria``).
- Streams are read, and on-failure records sent, with boto3 clients aimed at ``endpoint_url``
  (both injectable: ``reader_factory``, ``destination``).
- ``start_mapping`` takes the StartingPosition before it returns (LATEST is "now"), so a write
  that follows it is delivered.
- Lambda allows "no more than two" readers per shard (with-ddb.html); a third mapping on one
  stream logs a warning here rather than being throttled.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from streamlab.aws_rules import EventSourceKind, ProcessingResult, arn_resource_name
from streamlab.emulator.esm.arns import EndpointURL
from streamlab.emulator.esm.checkpoint import CheckpointStore
from streamlab.emulator.esm.config import MappingConfig
from streamlab.emulator.esm.destinations import Boto3FailureDestination, FailureDestination
from streamlab.emulator.esm.invoker import InvokeFunction
from streamlab.emulator.esm.kinesis import Boto3KinesisReader
from streamlab.emulator.esm.metrics import MappingMetrics, WorkerSettings
from streamlab.emulator.esm.poller import Boto3StreamReader, StreamReader
from streamlab.emulator.esm.sqs import Boto3QueueClient, QueueClient, QueueWorker
from streamlab.emulator.esm.worker import MappingWorker
from streamlab.emulator.telemetry import NULL_SINK, TelemetrySink

log = logging.getLogger(__name__)

MAX_READERS_PER_STREAM = 2

ReaderFactory = Callable[[MappingConfig], StreamReader]
QueueFactory = Callable[[MappingConfig], QueueClient]


class Worker(Protocol):
    """What the engine needs of a mapping's worker, whatever its source."""

    def start(self) -> object: ...

    def stop(self, timeout: float | None = None) -> None: ...

    def is_alive(self) -> bool: ...

    @property
    def stopped(self) -> bool: ...

    def wake(self) -> None: ...

    def initialise(self) -> None: ...

    def count(self, **increments: int) -> None: ...

    def metrics(self) -> MappingMetrics: ...


def default_reader(endpoint_url: EndpointURL, config: MappingConfig) -> StreamReader:
    if config.source_kind == EventSourceKind.KINESIS:
        return Boto3KinesisReader.for_stream(endpoint_url, config.event_source_arn)
    return Boto3StreamReader.for_stream(endpoint_url, config.event_source_arn)


class EventSourceMappingEngine:
    """Runs every enabled DynamoDB Streams mapping; see the module docstring for the interface.

    ``endpoint_url`` may be a string or a callable returning it (resolved when a mapping
    starts), so the Lambda service can build the engine before the server knows its port.
    """

    def __init__(
        self,
        invoke: InvokeFunction,
        endpoint_url: EndpointURL = None,
        *,
        poll_interval: float = 0.25,
        retry_backoff: float = 0.1,
        retry_backoff_max: float = 2.0,
        shard_refresh_interval: float = 2.0,
        restart_delay: float = 0.1,
        watchdog_interval: float | None = 1.0,
        reader_factory: ReaderFactory | None = None,
        queue_factory: QueueFactory | None = None,
        destination: FailureDestination | None = None,
        checkpoints: CheckpointStore | None = None,
        status_listener: Callable[[str, str], None] | None = None,
        telemetry: TelemetrySink = NULL_SINK,
    ) -> None:
        self._invoke = invoke
        self.telemetry = telemetry
        self.settings = WorkerSettings(
            poll_interval=poll_interval,
            shard_refresh_interval=shard_refresh_interval,
            retry_backoff=retry_backoff,
            retry_backoff_max=retry_backoff_max,
            restart_delay=restart_delay,
        )
        self._reader_factory = reader_factory or (lambda config: default_reader(endpoint_url, config))
        self._queue_factory = queue_factory or (lambda config: Boto3QueueClient(endpoint_url, config.event_source_arn))
        self._destination = destination if destination is not None else Boto3FailureDestination(endpoint_url)
        self.checkpoints = checkpoints or CheckpointStore()
        self._status_listener = status_listener
        self._lock = threading.RLock()
        self._workers: dict[str, Worker] = {}
        self._configs: dict[str, MappingConfig] = {}
        self._crowded_streams: set[str] = set()
        self._final_metrics: dict[str, MappingMetrics] = {}
        # Revives dead worker threads even when no write comes to wake the engine (None: off).
        self._watchdog_interval = watchdog_interval
        self._watchdog: threading.Thread | None = None

    # -- mapping lifecycle ------------------------------------------------------------------
    def start_mapping(self, config: MappingConfig, *, restarts: int = 0) -> None:
        """Start (or resume from its checkpoints) the worker of an enabled mapping.

        ``restarts`` carries a revived worker's restart count into its successor before the
        successor's thread runs, so its metrics never show a delivery ahead of the restart.
        """
        with self._lock:
            if config.uuid in self._workers:
                self._stop_worker(config.uuid)
            readers = sum(1 for other in self._configs.values() if other.event_source_arn == config.event_source_arn)
            if (
                config.source_kind == EventSourceKind.DYNAMODB
                and readers >= MAX_READERS_PER_STREAM
                and config.event_source_arn not in self._crowded_streams
            ):
                self._crowded_streams.add(config.event_source_arn)  # once a stream, not once a mapping
                log.warning(
                    "more than %d event source mappings read %s; AWS allows no more than %d readers per shard "
                    "and throttles the rest",
                    MAX_READERS_PER_STREAM,
                    config.event_source_arn,
                    MAX_READERS_PER_STREAM,
                )
            worker = self._new_worker(config)
            if restarts:
                worker.count(restarts=restarts)
            try:
                worker.initialise()
            except Exception:  # the worker retries it; the stream may not be ready yet
                log.warning("event source mapping %s: starting position not taken yet", config.uuid, exc_info=True)
            # Registered before its thread runs, so status() never reports the predecessor's
            # metrics for a delivery the new worker has already made.
            self._workers[config.uuid] = worker
            self._configs[config.uuid] = config
            worker.start()
            self._ensure_watchdog()

    def _new_worker(self, config: MappingConfig) -> Worker:
        if config.source_kind == EventSourceKind.SQS:
            return QueueWorker(
                config,
                self._invoke,
                self._queue_factory(config),
                self.settings,
                self._status_listener,
                self.telemetry,
            )
        return MappingWorker(
            config,
            self._invoke,
            self._reader_factory(config),
            self.checkpoints,
            self._destination,
            self.settings,
            self._status_listener,
            self.telemetry,
        )

    def update_mapping(self, config: MappingConfig) -> bool:
        """Apply new parameters to a running mapping: its worker restarts from the same checkpoints.

        Returns False (and does nothing) when the mapping is not running: a disabled mapping
        takes its new parameters when :meth:`start_mapping` enables it.
        """
        with self._lock:
            previous = self._configs.get(config.uuid)
            if previous is None:
                return False
            if previous.event_source_arn != config.event_source_arn:
                self.checkpoints.forget(config.uuid)
            self.start_mapping(config)
            return True

    def stop_mapping(self, mapping_uuid: str) -> None:
        """Disable: stop the worker, keep the checkpoints (a later start resumes from them)."""
        with self._lock:
            self._stop_worker(mapping_uuid)

    def delete_mapping(self, mapping_uuid: str) -> None:
        with self._lock:
            self._stop_worker(mapping_uuid)
            self.checkpoints.forget(mapping_uuid)
            self._final_metrics.pop(mapping_uuid, None)

    def stop_all(self) -> None:
        with self._lock:
            workers = list(self._workers)
        for mapping_uuid in workers:
            self.stop_mapping(mapping_uuid)

    def _stop_worker(self, mapping_uuid: str) -> None:
        """Stop the worker, then unregister it: status() reads it live until its final metrics are kept."""
        worker = self._workers.get(mapping_uuid)
        if worker is not None:
            worker.stop()
            self._final_metrics[mapping_uuid] = worker.metrics()
        self._workers.pop(mapping_uuid, None)
        self._configs.pop(mapping_uuid, None)

    # -- polling ----------------------------------------------------------------------------
    def wake(self, operation: str | None = None, written: frozenset[str] = frozenset()) -> None:
        """A write went through (the gateway's write listener signature): the mappings reading the
        tables or streams ``written`` names poll now; all of them when it names none."""
        self.revive_dead_workers()
        for mapping_uuid, worker in list(self._workers.copy().items()):
            config = self._configs.get(mapping_uuid)
            if not written or config is None or arn_resource_name(config.event_source_arn) in written:
                worker.wake()

    def revive_dead_workers(self) -> list[str]:
        """Restart, from their checkpoints, workers whose thread died without being stopped.

        Exceptions are already handled inside the worker (its supervisor restarts the run);
        this covers a thread ended by a BaseException. Called on every :meth:`wake`.
        """
        revived: list[str] = []
        if all(worker.is_alive() or worker.stopped for worker in list(self._workers.copy().values())):
            return revived  # the common case, checked without the lock (wake runs on every write)
        if not self._lock.acquire(timeout=0.5):
            return revived  # a start/stop is under way; the next wake checks again
        try:
            for mapping_uuid, worker in list(self._workers.items()):
                if not worker.is_alive() and not worker.stopped:
                    log.error(
                        "event source mapping %s worker thread died; restarting it from the checkpoint", mapping_uuid
                    )
                    self.start_mapping(self._configs[mapping_uuid], restarts=worker.metrics().restarts + 1)
                    revived.append(mapping_uuid)
        finally:
            self._lock.release()
        return revived

    def _ensure_watchdog(self) -> None:
        """Start the watchdog if none runs (caller holds ``_lock``).

        :meth:`wake` revives dead workers on every DynamoDB write, but a worker that dies
        after the last write would otherwise leave its records undelivered until some
        unrelated write: the watchdog bounds that to ``watchdog_interval``.
        """
        if self._watchdog_interval is None or self._watchdog is not None:
            return
        self._watchdog = threading.Thread(target=self._watch, name="esm-watchdog", daemon=True)
        self._watchdog.start()

    def _watch(self) -> None:
        assert self._watchdog_interval is not None
        while True:
            time.sleep(self._watchdog_interval)
            with self._lock:
                if not self._workers:  # nothing to watch: a later start_mapping starts a new watchdog
                    self._watchdog = None
                    return
            try:
                self.revive_dead_workers()
            except Exception:  # never let the watchdog itself die
                log.exception("event source mapping watchdog failed")

    # -- status -----------------------------------------------------------------------------
    def is_running(self, mapping_uuid: str) -> bool:
        worker = self._workers.get(mapping_uuid)
        return worker is not None and worker.is_alive()

    def status(self, mapping_uuid: str) -> MappingMetrics:
        worker = self._workers.get(mapping_uuid)
        if worker is not None:
            return worker.metrics()
        return self._final_metrics.get(mapping_uuid, MappingMetrics())

    def last_processing_result(self, mapping_uuid: str) -> str:
        return self.status(mapping_uuid).last_processing_result or ProcessingResult.NO_RECORDS

    def mappings(self) -> list[MappingConfig]:
        return list(self._configs.values())
