"""Record journeys: for each stream record, what every mapping did with it.

:class:`JourneyJournal` is a telemetry sink. A record's journey starts when a mapping reads it
(RecordsRead) and gathers, per mapping, the filter's verdict (RecordsFiltered, or passed when it
was invoked), each invocation that carried it (BatchInvoked: request id, attempt, batch size,
duration, outcome, error; a smaller batch than the previous attempt's is a bisect; a partial batch
response that names it), and the end: delivered, or discarded with the on-failure destination it
went to (RecordsDiscarded). ``streamlab trace TABLE KEY`` and the dashboard read it through
``GET /_streamlab/trace``.

Bounded: the journal keeps the newest :data:`DEFAULT_MAX_RECORDS` records (10,000), oldest
dropped first, and at most :data:`MAX_STEPS` steps per record (a record retried forever keeps
its first steps and its latest ones).
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from streamlab.emulator.telemetry import (
    BatchInvoked,
    InvokeOutcome,
    RecordsDiscarded,
    RecordsFiltered,
    RecordsRead,
    TelemetryEvent,
)

DEFAULT_MAX_RECORDS = 10_000
MAX_STEPS = 60
_KEEP_FIRST = 10  # when a journey is full: its first steps stay, the middle goes


@dataclass
class Journey:
    source_arn: str
    shard_id: str
    sequence_number: str
    key: str = ""  # canonical JSON of the item's Keys (DynamoDB), else the partition key or message group
    event_name: str = ""
    first_seen: float = 0.0
    steps: list[dict[str, Any]] = field(default_factory=list)
    dropped_steps: int = 0

    def add(self, step: dict[str, Any]) -> None:
        if len(self.steps) >= MAX_STEPS:
            del self.steps[_KEEP_FIRST]
            self.dropped_steps += 1
        self.steps.append(step)

    def to_json(self) -> dict[str, Any]:
        keys = item_keys(self.key)
        return {
            "eventSourceArn": self.source_arn,
            "table": table_of(self.source_arn),
            "shardId": self.shard_id,
            "sequenceNumber": self.sequence_number,
            "keys": keys,
            "partitionKey": None if keys is not None else (self.key or None),
            "eventName": self.event_name,
            "firstSeen": self.first_seen,
            "steps": list(self.steps),
            "droppedSteps": self.dropped_steps,
        }


def table_of(source_arn: str) -> str:
    """``Orders`` of ``arn:aws:dynamodb:REGION:ACCOUNT:table/Orders/stream/LABEL`` ('' otherwise)."""
    resource = source_arn.split(":", 5)[-1]
    parts = resource.split("/")
    return parts[1] if len(parts) > 1 and parts[0] == "table" else ""


def _plain(value: Any) -> Any:
    """A DynamoDB typed value ({"S": "a"}) as its plain value, compared as text."""
    if isinstance(value, dict) and len(value) == 1:
        ((kind, inner),) = value.items()
        if kind in ("S", "N", "B", "BOOL"):
            return str(inner)
    return str(value)


def item_keys(record_key: str) -> dict[str, Any] | None:
    """The DynamoDB Keys of a record's key text; None for a Kinesis partition key or an SQS group,
    which are plain text (and may look like JSON fragments, such as ``123 abc``)."""
    if not record_key.startswith("{"):
        return None
    try:
        keys = json.loads(record_key)
    except ValueError:
        return None
    return keys if isinstance(keys, dict) else None


def parse_key(text: str) -> dict[str, str] | str:
    """What ``streamlab trace TABLE KEY`` accepts: a JSON object of the key (typed or plain),
    ``name=value[,name=value]``, or a bare value compared with each key attribute."""
    text = text.strip()
    if text.startswith("{"):
        parsed = json.loads(text)
        if not isinstance(parsed, dict):
            raise ValueError("a key given as JSON must be an object")
        return {str(k): _plain(v) for k, v in parsed.items()}
    if "=" in text:
        pairs = [part.split("=", 1) for part in text.split(",") if part]
        return {name.strip(): value.strip() for name, value in pairs}
    return text


def key_matches(record_key: str, wanted: dict[str, str] | str) -> bool:
    keys = item_keys(record_key)
    if keys is None:
        return False
    plain = {name: _plain(value) for name, value in keys.items()}
    if isinstance(wanted, str):
        return wanted in plain.values()
    return all(plain.get(name) == value for name, value in wanted.items())


class JourneyJournal:
    """The bounded journal (a telemetry sink); :meth:`trace` answers one item's journeys."""

    def __init__(self, max_records: int = DEFAULT_MAX_RECORDS, clock: Callable[[], float] = time.time) -> None:
        self.max_records = max_records
        self._clock = clock
        self._lock = threading.Lock()
        self._journeys: OrderedDict[tuple[str, str], Journey] = OrderedDict()
        self._last_batch: dict[tuple[str, str, str], int] = {}  # (mapping, source, seq) -> last batch size

    def emit(self, event: TelemetryEvent) -> None:
        if isinstance(event, RecordsRead):
            self._read(event)
        elif isinstance(event, RecordsFiltered):
            self._each(event.event_source_arn, event.record_ids, {"step": "filtered", "mapping": event.mapping_uuid})
        elif isinstance(event, BatchInvoked):
            self._invoked(event)
        elif isinstance(event, RecordsDiscarded):
            step = {
                "step": "discarded",
                "mapping": event.mapping_uuid,
                "condition": event.condition,
                "destination": event.destination_arn,
                "delivered": event.delivered,
                "batchSize": len(event.record_ids),
            }
            self._each(event.event_source_arn, event.record_ids, step)
            with self._lock:
                for record_id in event.record_ids:
                    self._last_batch.pop((event.mapping_uuid, event.event_source_arn, record_id), None)

    def _read(self, event: RecordsRead) -> None:
        now = self._clock()
        with self._lock:
            for index, record_id in enumerate(event.record_ids):
                ident = (event.event_source_arn, record_id)
                journey = self._journeys.get(ident)
                if journey is None:
                    journey = Journey(event.event_source_arn, event.shard_id, record_id, first_seen=now)
                    self._journeys[ident] = journey
                    while len(self._journeys) > self.max_records:
                        self._journeys.popitem(last=False)
                if index < len(event.keys):
                    journey.key = event.keys[index]
                if index < len(event.event_names):
                    journey.event_name = event.event_names[index]
                journey.add({"step": "read", "mapping": event.mapping_uuid, "at": now, "shardId": event.shard_id})

    def _invoked(self, event: BatchInvoked) -> None:
        failed = set(event.failed_record_ids)
        size = len(event.record_ids)
        now = self._clock()
        with self._lock:
            for record_id in event.record_ids:
                journey = self._journeys.get((event.event_source_arn, record_id))
                if journey is None:
                    continue
                memo = (event.mapping_uuid, event.event_source_arn, record_id)
                previous = self._last_batch.get(memo)
                self._last_batch[memo] = size
                if event.outcome == InvokeOutcome.SUCCESS:
                    self._last_batch.pop(memo, None)
                journey.add(
                    {
                        "step": "invoked",
                        "mapping": event.mapping_uuid,
                        "at": now,
                        "function": event.function_arn,
                        "requestId": event.request_id,
                        "attempt": event.attempt,
                        "batchSize": size,
                        "bisected": previous is not None and size < previous,
                        "durationMs": round(event.duration_ms, 2),
                        "outcome": event.outcome.value,
                        "reportedFailed": record_id in failed,
                        "errorType": event.error_type,
                        "errorMessage": event.error_message,
                    }
                )
            if len(self._last_batch) > 4 * self.max_records:  # records whose journey ended elsewhere
                self._last_batch.clear()

    def _each(self, source_arn: str, record_ids: Any, step: dict[str, Any]) -> None:
        step = {**step, "at": self._clock()}
        with self._lock:
            for record_id in record_ids:
                journey = self._journeys.get((source_arn, record_id))
                if journey is not None:
                    journey.add(dict(step))

    # -- reading ------------------------------------------------------------------------
    def trace(self, table: str, key: str, region: str | None = None) -> list[dict[str, Any]]:
        """Every journey of the item ``key`` (see :func:`parse_key`) of ``table``, oldest first."""
        wanted = parse_key(key)
        with self._lock:
            journeys = [
                j.to_json()
                for j in self._journeys.values()
                if table_of(j.source_arn) == table
                and (region is None or j.source_arn.split(":")[3] == region)
                and key_matches(j.key, wanted)
            ]
        return sorted(journeys, key=lambda j: (j["eventSourceArn"], int(j["sequenceNumber"] or 0)))

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        with self._lock:
            newest = list(self._journeys.values())[-limit:]
            return [j.to_json() for j in reversed(newest)]

    def __len__(self) -> int:
        with self._lock:
            return len(self._journeys)
