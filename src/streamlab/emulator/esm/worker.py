"""One stream mapping's worker: poll the shards, feed the lanes, checkpoint, restart on a crash.

Generic over the stream source (DynamoDB Streams, Kinesis): a :class:`~.poller.StreamReader`
reads it and a :class:`~.sources.StreamSource` converts its records; the pipelines get a
:class:`~.context.PipelineContext`, not the worker.

The worker thread takes the StartingPosition once, discovers shards (parents before children),
reads each ready shard with a :class:`~streamlab.emulator.esm.poller.ShardCursor` and hands the
records to that shard's :class:`~streamlab.emulator.esm.pipeline.ShardPipeline` (filter, batch,
invoke, checkpoint, on-failure destination, windows). A closed shard is finished once read to
its end and fully processed; its children are then picked up.

Polling: AWS polls each shard 4 times a second (with-ddb.html) and keeps reading while records
come back; the worker does the same at ``poll_interval`` and also wakes on :meth:`MappingWorker.wake`
(the gateway's DynamoDB write listener) for lower latency. Reading is bounded by the records in
flight, so a shard blocked by a failing batch stops being read instead of filling memory.

Crashes: an unexpected exception in the worker loop or in a lane ends the current *run*; the
supervisor stops that run's lanes and starts a new one from the checkpoints (records in flight
are read again: at-least-once, like a replaced poller on AWS).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from streamlab.aws_rules import GET_RECORDS_LIMIT, EventSourceKind, StartingPosition
from streamlab.emulator.esm.checkpoint import CheckpointStore
from streamlab.emulator.esm.config import MappingConfig
from streamlab.emulator.esm.context import PipelineContext
from streamlab.emulator.esm.destinations import FailureDestination
from streamlab.emulator.esm.filtering import RecordFilter
from streamlab.emulator.esm.invoker import InvokeFunction
from streamlab.emulator.esm.metrics import MappingCounters, MappingMetrics, WorkerSettings
from streamlab.emulator.esm.pipeline import ShardPipeline
from streamlab.emulator.esm.poller import ShardCursor, StreamNotFound, StreamReader, ready_shards
from streamlab.emulator.esm.sources import StreamSource, dynamodb_source, kinesis_source
from streamlab.emulator.telemetry import NULL_SINK, TelemetrySink
from streamlab.errors import StreamlabError

log = logging.getLogger(__name__)

__all__ = [
    "MappingMetrics",
    "MappingWorker",
    "WorkerSettings",
]


class LaneCrashed(StreamlabError, RuntimeError):
    """A lane of the worker's run died; the watchdog restarts the run from the checkpoint."""


def source_for(config: MappingConfig) -> StreamSource:
    if config.source_kind == EventSourceKind.KINESIS:
        return kinesis_source(config.event_source_arn, config.invoke_identity_arn)
    return dynamodb_source(config.event_source_arn)


class MappingWorker:
    """The thread that runs one enabled stream mapping (see the module docstring)."""

    def __init__(
        self,
        config: MappingConfig,
        invoke: InvokeFunction,
        reader: StreamReader,
        checkpoints: CheckpointStore,
        destination: FailureDestination | None,
        settings: WorkerSettings,
        status_listener: Callable[[str, str], None] | None = None,
        telemetry: TelemetrySink = NULL_SINK,
        source: StreamSource | None = None,
    ) -> None:
        self.config = config
        self.reader = reader
        self.checkpoints = checkpoints
        self.settings = settings
        self.source = source or source_for(config)
        self.counters = MappingCounters(
            config.uuid, config.resolved_function_arn, config.event_source_arn, telemetry, status_listener
        )
        self.context = PipelineContext(
            config=config,
            invoke=invoke,
            checkpoints=checkpoints,
            destination=destination,
            telemetry=telemetry,
            counters=self.counters,
            settings=settings,
            record_filter=RecordFilter.from_criteria(config.filter_criteria),
            source=self.source,
            wake=self.wake,
            report_crash=self.report_crash,
        )
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._crash: BaseException | None = None
        self._pipelines: dict[str, ShardPipeline] = {}
        self._thread = threading.Thread(target=self._supervise, name=f"esm-{config.uuid[:8]}", daemon=True)

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> MappingWorker:
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        for pipeline in list(self._pipelines.copy().values()):
            pipeline.run_stop.set()  # interrupt retries and backoffs now
        self._wake.set()
        self._thread.join(self.settings.stop_timeout if timeout is None else timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def stopped(self) -> bool:
        """True once :meth:`stop` was called (a dead thread that was not stopped has died)."""
        return self._stop.is_set()

    def wake(self) -> None:
        # Every write calls this: a wake not yet taken up covers the next ones (the loop clears the
        # flag before it reads, so a write committed before this check is read either way), and
        # Event.set takes a lock and notifies on each call.
        if not self._wake.is_set():
            self._wake.set()

    def report_crash(self, error: BaseException) -> None:
        self._crash = error
        self._wake.set()

    # -- metrics ------------------------------------------------------------------------
    def count(self, **increments: int) -> None:
        self.counters.count(**increments)

    def metrics(self) -> MappingMetrics:
        return self.counters.snapshot()

    # -- starting position ----------------------------------------------------------------
    def initialise(self) -> None:
        """Take the StartingPosition once per mapping (LATEST is pinned at creation time)."""
        uuid = self.config.uuid
        if self.checkpoints.has_started(uuid):
            return
        position = self.config.starting_position
        if position in (StartingPosition.LATEST, StartingPosition.AT_TIMESTAMP):
            # Both are pinned now, to the shards open now (AT_TIMESTAMP: Kinesis only).
            for shard in self.reader.list_shards(self.config.event_source_arn):
                if shard.is_closed and position == StartingPosition.LATEST:
                    self.checkpoints.mark_finished(uuid, shard.shard_id)
                    continue
                if position == StartingPosition.LATEST:
                    iterator = self.reader.shard_iterator(self.config.event_source_arn, shard.shard_id, "LATEST")
                else:
                    iterator = self.reader.shard_iterator(
                        self.config.event_source_arn,
                        shard.shard_id,
                        "AT_TIMESTAMP",
                        timestamp=self.config.starting_position_timestamp,
                    )
                self.checkpoints.pin_iterator(uuid, shard.shard_id, iterator)
        self.checkpoints.mark_started(uuid)

    # -- the run loop ---------------------------------------------------------------------
    def _supervise(self) -> None:
        crashes = 0
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._run()
            except StreamNotFound as error:
                crashes = 0 if time.monotonic() - started > self.settings.stable_run_seconds else crashes + 1
                log.warning("event source mapping %s: stream not found, retrying (%s)", self.config.uuid, error)
                self.counters.set_error(f"StreamNotFound: {error}")
            except Exception as error:
                crashes = 0 if time.monotonic() - started > self.settings.stable_run_seconds else crashes + 1
                log.exception(
                    "event source mapping %s worker crashed; restarting from the checkpoint", self.config.uuid
                )
                self.counters.count(restarts=1)
                self.counters.set_error(f"{type(error).__name__}: {error}")
            finally:
                for pipeline in self._pipelines.values():
                    pipeline.stop(self.settings.stop_timeout)
                self._pipelines = {}
                self._crash = None
            if not self._stop.is_set():
                delay = self.settings.restart_delay * (2 ** max(crashes - 1, 0))
                self._stop.wait(min(delay, self.settings.restart_delay_max))

    def _open_pipeline(self, shard_id: str) -> ShardPipeline:
        saved = self.checkpoints.get(self.config.uuid, shard_id)
        pinned = saved.pinned_iterator if saved.sequence_number is None else None
        cursor = ShardCursor(
            self.reader,
            self.config.event_source_arn,
            shard_id,
            initial_type=self._pinned_type() if pinned else "TRIM_HORIZON",
            after_sequence=saved.sequence_number,
            iterator=pinned,
            sequence_of=self.source.sequence_of,
            timestamp=self.config.starting_position_timestamp,
        )
        return ShardPipeline(self.context, shard_id, cursor)

    def _pinned_type(self) -> str:
        """What a pinned iterator is re-issued as when it expired before the first record."""
        if self.config.starting_position == StartingPosition.AT_TIMESTAMP:
            return "AT_TIMESTAMP"
        return "LATEST"

    def _refresh_shards(self) -> None:
        uuid = self.config.uuid
        finished = [shard_id for shard_id, saved in self.checkpoints.shards(uuid).items() if saved.finished]
        shards = self.reader.list_shards(self.config.event_source_arn)
        # Shards retention removed are gone for good: so are their checkpoints (their children
        # are ready, see ready_shards), or a mapping that runs for weeks would keep them all.
        self.checkpoints.forget_shards(uuid, keep={shard.shard_id for shard in shards} | set(self._pipelines))
        for shard in ready_shards(shards, finished):
            if shard.shard_id not in self._pipelines:
                self._pipelines[shard.shard_id] = self._open_pipeline(shard.shard_id)

    def _run(self) -> None:
        self.initialise()
        next_refresh = 0.0
        while not self._stop.is_set():
            if self._crash is not None:
                raise LaneCrashed(f"a lane crashed: {self._crash!r}")
            now = time.monotonic()
            if now >= next_refresh:
                self._refresh_shards()
                next_refresh = now + self.settings.shard_refresh_interval
            self._wake.clear()
            read_any = False
            for shard_id, pipeline in list(self._pipelines.items()):
                room = pipeline.room()
                if room and not pipeline.cursor.exhausted:
                    raw = pipeline.cursor.read(min(room, GET_RECORDS_LIMIT))
                    if raw:
                        read_any = True
                        records = pipeline.feed(raw)
                        self.count(records_read=len(records))
                    elif pipeline.progress.in_flight == 0:
                        self.counters.clear_iterator_age(shard_id)
                if pipeline.cursor.exhausted and pipeline.idle():
                    self.checkpoints.mark_finished(self.config.uuid, shard_id)
                    pipeline.stop(self.settings.stop_timeout)
                    del self._pipelines[shard_id]
                    self.counters.clear_iterator_age(shard_id, forget=True)
                    next_refresh = 0.0  # its children are ready now
            if not read_any:
                self._wake.wait(self.settings.poll_interval)
