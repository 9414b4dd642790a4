"""One mapping's worker: poll the shards, feed the lanes, checkpoint, restart on a crash.

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

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from streamlab.aws_rules import GET_RECORDS_LIMIT, ProcessingResult
from streamlab.emulator.esm.checkpoint import CheckpointStore
from streamlab.emulator.esm.config import MappingConfig
from streamlab.emulator.esm.destinations import FailureDestination
from streamlab.emulator.esm.filtering import RecordFilter
from streamlab.emulator.esm.invoker import InvokeFunction
from streamlab.emulator.esm.pipeline import ShardPipeline
from streamlab.emulator.esm.poller import ShardCursor, StreamNotFound, StreamReader, ready_shards
from streamlab.emulator.esm.records import StreamRecord
from streamlab.emulator.telemetry import NULL_SINK, IteratorAgeSampled, TelemetrySink
from streamlab.errors import StreamlabError

log = logging.getLogger(__name__)

__all__ = [
    "MappingMetrics",
    "MappingWorker",
    "WorkerSettings",
]


class LaneCrashed(StreamlabError, RuntimeError):
    """A lane of the worker's run died; the watchdog restarts the run from the checkpoint."""


@dataclass
class WorkerSettings:
    poll_interval: float = 0.25  # AWS: 4 polls per second per shard
    shard_refresh_interval: float = 2.0  # DescribeStream cadence (new shards after a split)
    retry_backoff: float = 0.1
    retry_backoff_max: float = 2.0
    restart_delay: float = 0.1  # doubles with each consecutive crash, up to restart_delay_max
    restart_delay_max: float = 5.0
    stable_run_seconds: float = 10.0  # a run that lasted this long resets the crash backoff
    lane_idle_interval: float = 0.1
    stop_timeout: float = 5.0


@dataclass
class MappingMetrics:
    """Counters and gauges the engine reports (IteratorAge is AWS's latency metric)."""

    records_read: int = 0
    records_delivered: int = 0
    records_filtered: int = 0
    records_discarded: int = 0
    invocations: int = 0
    failed_invocations: int = 0
    iterator_age_ms: float = 0.0  # the oldest shard's (AWS reports the maximum over shards)
    iterator_age_by_shard: dict[str, float] = dataclasses.field(default_factory=dict)
    restarts: int = 0
    last_processing_result: str = ProcessingResult.NO_RECORDS
    last_error: str | None = None

    def snapshot(self) -> MappingMetrics:
        return dataclasses.replace(self, iterator_age_by_shard=dict(self.iterator_age_by_shard))


class MappingWorker:
    """The thread that runs one enabled mapping (see the module docstring)."""

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
    ) -> None:
        self.config = config
        self.telemetry = telemetry
        self.invoke = invoke
        self.reader = reader
        self.checkpoints = checkpoints
        self.destination = destination
        self.settings = settings
        self.record_filter = RecordFilter.from_criteria(config.filter_criteria)
        self._status_listener = status_listener
        self._metrics = MappingMetrics()
        self._lane_ages: dict[tuple[str, int], float] = {}  # (shard, lane) -> IteratorAge at its last invocation
        self._metrics_lock = threading.Lock()
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
        self._wake.set()

    def report_crash(self, error: BaseException) -> None:
        self._crash = error
        self._wake.set()

    # -- metrics ------------------------------------------------------------------------
    def count(self, **increments: int) -> None:
        with self._metrics_lock:
            for name, value in increments.items():
                setattr(self._metrics, name, getattr(self._metrics, name) + value)

    def set_result(self, result: str, error: str | None = None) -> None:
        with self._metrics_lock:
            changed = self._metrics.last_processing_result != result
            self._metrics.last_processing_result = result
            if error is not None:
                self._metrics.last_error = error
        if changed and self._status_listener is not None:
            try:
                self._status_listener(self.config.uuid, result)
            except Exception:
                log.exception("status listener failed")

    def metrics(self) -> MappingMetrics:
        with self._metrics_lock:
            return self._metrics.snapshot()

    def record_invocation_age(self, shard_id: str, lane: int, records: list[StreamRecord]) -> None:
        """IteratorAge as AWS defines it: at each invocation, the age of the event's last record.

        Measured when the batch is sent (every retry included), not when it is read: a shard
        blocked by a failing batch keeps re-sending old records, so its age grows, while the
        poller may meanwhile read fresh records that are merely queued behind it. The gauge
        is the maximum over the shard's lanes (key groups), so one blocked group shows.
        """
        if not records:
            return
        age = max(0.0, (time.time() - records[-1].arrival) * 1000.0)
        with self._metrics_lock:
            self._lane_ages[(shard_id, lane)] = age
            self._publish_ages()
        config = self.config
        self.telemetry.emit(IteratorAgeSampled(config.uuid, config.resolved_function_arn, config.event_source_arn, age))

    def clear_iterator_age(self, shard_id: str, *, forget: bool = False) -> None:
        """The shard is caught up (nothing in flight, nothing new): its age is 0 again.

        ``forget``: the shard is finished, so it leaves the per-shard figures altogether.
        """
        with self._metrics_lock:
            for lane_key in [k for k in self._lane_ages if k[0] == shard_id]:
                del self._lane_ages[lane_key]
            if forget:
                self._metrics.iterator_age_by_shard.pop(shard_id, None)
            else:
                self._metrics.iterator_age_by_shard[shard_id] = 0.0
            self._publish_ages()

    def _publish_ages(self) -> None:
        """Per shard the maximum over its lanes; for the mapping the maximum over shards (holds the lock)."""
        by_shard = self._metrics.iterator_age_by_shard
        for shard_id in {shard for shard, _ in self._lane_ages}:
            by_shard[shard_id] = max(age for (shard, _), age in self._lane_ages.items() if shard == shard_id)
        self._metrics.iterator_age_ms = max(by_shard.values(), default=0.0)

    # -- starting position ----------------------------------------------------------------
    def initialise(self) -> None:
        """Take the StartingPosition once per mapping (LATEST is pinned at creation time)."""
        uuid = self.config.uuid
        if self.checkpoints.has_started(uuid):
            return
        if self.config.starting_position == "LATEST":
            for shard in self.reader.list_shards(self.config.event_source_arn):
                if shard.is_closed:
                    self.checkpoints.mark_finished(uuid, shard.shard_id)
                else:
                    iterator = self.reader.shard_iterator(self.config.event_source_arn, shard.shard_id, "LATEST")
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
                with self._metrics_lock:
                    self._metrics.last_error = f"StreamNotFound: {error}"
            except Exception as error:
                crashes = 0 if time.monotonic() - started > self.settings.stable_run_seconds else crashes + 1
                log.exception(
                    "event source mapping %s worker crashed; restarting from the checkpoint", self.config.uuid
                )
                with self._metrics_lock:
                    self._metrics.restarts += 1
                    self._metrics.last_error = f"{type(error).__name__}: {error}"
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
            initial_type="LATEST" if pinned else "TRIM_HORIZON",
            after_sequence=saved.sequence_number,
            iterator=pinned,
        )
        return ShardPipeline(self, shard_id, cursor)

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
                        self.clear_iterator_age(shard_id)
                if pipeline.cursor.exhausted and pipeline.idle():
                    self.checkpoints.mark_finished(self.config.uuid, shard_id)
                    pipeline.stop(self.settings.stop_timeout)
                    del self._pipelines[shard_id]
                    self.clear_iterator_age(shard_id, forget=True)
                    next_refresh = 0.0  # its children are ready now
            if not read_any:
                self._wake.wait(self.settings.poll_interval)
