"""What the engine and the Lambda service report as they work, and the sinks that receive it.

The producers (event source mapping pipelines of every source, synchronous and asynchronous
invokes) know nothing of CloudWatch, the dashboard, ``streamlab up``'s console lines or record
journeys: they call a :class:`TelemetrySink` with small frozen events. Consumers implement the
protocol; :class:`FanOut` hands one event to several of them, :data:`NULL_SINK` drops it.

A sink must be cheap and must never raise into the producer: :class:`FanOut` logs and swallows a
consumer's error, so a broken dashboard cannot stop a shard.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

log = logging.getLogger(__name__)

__all__ = [
    "NULL_SINK",
    "AsyncDeliveryFailed",
    "AsyncDeliveryKind",
    "BatchInvoked",
    "FanOut",
    "FunctionInvoked",
    "InvokeOutcome",
    "IteratorAgeSampled",
    "RecordsDiscarded",
    "RecordsFiltered",
    "RecordsRead",
    "TelemetryEvent",
    "TelemetrySink",
]


class InvokeOutcome(StrEnum):
    """How one invocation ended, as the caller saw it."""

    SUCCESS = "success"
    PARTIAL = "partial"  # a partial batch response named failed items
    FUNCTION_ERROR = "function_error"  # Unhandled / Handled: the handler raised or the runtime died
    TIMEOUT = "timeout"
    THROTTLED = "throttled"
    UNREACHABLE = "unreachable"  # the function could not be invoked at all (deleted, bad config)


@dataclass(frozen=True)
class RecordsRead:
    """A poller read records from a source (a DynamoDB/Kinesis shard, an SQS queue)."""

    mapping_uuid: str
    event_source_arn: str
    shard_id: str  # the queue's ARN for SQS
    record_ids: Sequence[str]  # sequence numbers, or SQS message ids


@dataclass(frozen=True)
class RecordsFiltered:
    """FilterCriteria dropped these records: they are never delivered (and never retried)."""

    mapping_uuid: str
    event_source_arn: str
    shard_id: str
    record_ids: Sequence[str]


@dataclass(frozen=True)
class BatchInvoked:
    """One invocation of a mapping's function with a batch (each retry and bisect half is one)."""

    mapping_uuid: str
    function_arn: str
    event_source_arn: str
    shard_id: str
    record_ids: Sequence[str]
    attempt: int  # 1 for the first try of these records
    outcome: InvokeOutcome
    duration_ms: float
    request_id: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    failed_record_ids: Sequence[str] = field(default_factory=tuple)  # for PARTIAL


@dataclass(frozen=True)
class RecordsDiscarded:
    """Records a mapping gave up on (retries exhausted, too old) and where their record went."""

    mapping_uuid: str
    function_arn: str
    event_source_arn: str
    shard_id: str
    record_ids: Sequence[str]
    condition: str  # RetryAttemptsExhausted, RecordAgeExceeded, ...
    destination_arn: str | None
    delivered: bool  # False: no destination, or sending to it failed (DestinationDeliveryFailures)


@dataclass(frozen=True)
class IteratorAgeSampled:
    """Age of the last record of a batch when it was handed to the function (AWS's IteratorAge)."""

    mapping_uuid: str
    function_arn: str
    event_source_arn: str
    age_ms: float


@dataclass(frozen=True)
class FunctionInvoked:
    """One invocation of a function by anyone: sync Invoke, async (Event) attempt, a mapping, a push."""

    function_name: str
    qualifier: str  # $LATEST, a version or an alias name
    invocation_type: str  # RequestResponse, Event, or the mapping's source ("dynamodb", "sqs", ...)
    outcome: InvokeOutcome
    duration_ms: float
    request_id: str | None = None
    cold_start: bool = False
    concurrent_executions: int = 0  # environments busy right after this one started
    error_type: str | None = None
    error_message: str | None = None


class AsyncDeliveryKind(StrEnum):
    DEAD_LETTER = "dead_letter"  # the function's DeadLetterConfig (AWS metric DeadLetterErrors)
    DESTINATION = "destination"  # OnSuccess / OnFailure (AWS metric DestinationDeliveryFailures)


@dataclass(frozen=True)
class AsyncDeliveryFailed:
    """An asynchronous invocation's event or record could not be sent where it was configured to go."""

    function_name: str
    qualifier: str
    kind: AsyncDeliveryKind
    target_arn: str
    error_message: str
    region: str = ""


TelemetryEvent = (
    RecordsRead
    | RecordsFiltered
    | BatchInvoked
    | RecordsDiscarded
    | IteratorAgeSampled
    | FunctionInvoked
    | AsyncDeliveryFailed
)


class TelemetrySink(Protocol):
    def emit(self, event: TelemetryEvent) -> None: ...


class _NullSink:
    def emit(self, event: TelemetryEvent) -> None:
        return None


NULL_SINK: TelemetrySink = _NullSink()


class FanOut:
    """Hands every event to each consumer; a failing consumer is logged, never raised."""

    def __init__(self, consumers: Iterable[TelemetrySink] = ()) -> None:
        self._consumers: list[TelemetrySink] = list(consumers)

    def add(self, consumer: TelemetrySink) -> None:
        self._consumers.append(consumer)

    def remove(self, consumer: TelemetrySink) -> None:
        """Stop handing events to ``consumer`` (a test's recorder, a closed dashboard)."""
        if consumer in self._consumers:
            self._consumers.remove(consumer)

    def emit(self, event: TelemetryEvent) -> None:
        for consumer in self._consumers:
            try:
                consumer.emit(event)
            except Exception:
                log.exception("telemetry consumer %r failed on %s", consumer, type(event).__name__)
