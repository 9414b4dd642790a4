"""A mapping's counters and gauges: what ``engine.status`` reports and LastProcessingResult.

One :class:`MappingCounters` per worker; every stage (pipeline lanes, the SQS poller) reports
to it through the narrow :class:`Counters` protocol, never by reaching into the worker.
IteratorAge is AWS's latency metric: at each invocation, the age of the event's last record.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from streamlab.aws_rules import ProcessingResult
from streamlab.emulator.esm.config import MappingConfig
from streamlab.emulator.esm.records import StreamRecord
from streamlab.emulator.telemetry import BatchInvoked, InvokeOutcome, IteratorAgeSampled, TelemetrySink

log = logging.getLogger(__name__)


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


class Counters(Protocol):
    """What a processing stage reports (the pipeline's and the SQS poller's metrics sink)."""

    def count(self, **increments: int) -> None: ...

    def set_result(self, result: str, error: str | None = None) -> None: ...

    def record_invocation_age(self, shard_id: str, lane: int, records: Sequence[StreamRecord]) -> None: ...


class MappingCounters:
    """Thread-safe :class:`MappingMetrics` of one mapping, plus the IteratorAge gauges."""

    def __init__(
        self,
        mapping_uuid: str,
        function_arn: str,
        event_source_arn: str,
        telemetry: TelemetrySink,
        status_listener: Callable[[str, str], None] | None = None,
    ) -> None:
        self._uuid = mapping_uuid
        self._function_arn = function_arn
        self._event_source_arn = event_source_arn
        self._telemetry = telemetry
        self._status_listener = status_listener
        self._metrics = MappingMetrics()
        self._lane_ages: dict[tuple[str, int], float] = {}  # (shard, lane) -> IteratorAge at its last invocation
        self._lock = threading.Lock()

    def count(self, **increments: int) -> None:
        with self._lock:
            for name, value in increments.items():
                setattr(self._metrics, name, getattr(self._metrics, name) + value)

    def set_result(self, result: str, error: str | None = None) -> None:
        with self._lock:
            changed = self._metrics.last_processing_result != result
            self._metrics.last_processing_result = result
            if error is not None:
                self._metrics.last_error = error
        if changed and self._status_listener is not None:
            try:
                self._status_listener(self._uuid, result)
            except Exception:
                log.exception("status listener failed")

    def set_error(self, error: str) -> None:
        with self._lock:
            self._metrics.last_error = error

    def snapshot(self) -> MappingMetrics:
        with self._lock:
            return self._metrics.snapshot()

    def record_invocation_age(self, shard_id: str, lane: int, records: Sequence[StreamRecord]) -> None:
        """IteratorAge as AWS defines it: at each invocation, the age of the event's last record.

        Measured when the batch is sent (every retry included), not when it is read: a shard
        blocked by a failing batch keeps re-sending old records, so its age grows, while the
        poller may meanwhile read fresh records that are merely queued behind it. The gauge
        is the maximum over the shard's lanes (key groups), so one blocked group shows.
        """
        if not records:
            return
        age = max(0.0, (time.time() - records[-1].arrival) * 1000.0)
        with self._lock:
            self._lane_ages[(shard_id, lane)] = age
            self._publish_ages()
        self._telemetry.emit(IteratorAgeSampled(self._uuid, self._function_arn, self._event_source_arn, age))

    def clear_iterator_age(self, shard_id: str, *, forget: bool = False) -> None:
        """The shard is caught up (nothing in flight, nothing new): its age is 0 again.

        ``forget``: the shard is finished, so it leaves the per-shard figures altogether.
        """
        with self._lock:
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


def batch_invoked(
    config: MappingConfig,
    shard_id: str,
    records: Sequence[StreamRecord],
    attempt: int,
    outcome: InvokeOutcome,
    started: float,
    *,
    error_type: str | None = None,
    error_message: str | None = None,
    failed_record_ids: Sequence[str] = (),
    request_id: str | None = None,
) -> BatchInvoked:
    """The telemetry event of one invocation of a mapping's function (``started``: time.monotonic())."""
    return BatchInvoked(
        mapping_uuid=config.uuid,
        function_arn=config.resolved_function_arn,
        event_source_arn=config.event_source_arn,
        shard_id=shard_id,
        record_ids=[r.sequence_number for r in records],
        attempt=attempt,
        outcome=outcome,
        duration_ms=(time.monotonic() - started) * 1000.0,
        request_id=request_id,
        error_type=error_type,
        error_message=error_message,
        failed_record_ids=tuple(failed_record_ids),
    )
