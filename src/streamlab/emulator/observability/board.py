"""What ``streamlab status`` and the dashboard show, gathered from telemetry events.

:class:`StatusBoard` is a telemetry sink that keeps, per mapping, its batches, errors, last
outcome and error, and its iterator age over time; per function, its invocations, errors,
throttles, cold starts, recent durations (for p50 / p99) and invocations and errors per second;
and the newest log lines of every function. Everything is bounded: series keep
:data:`SERIES_SECONDS` seconds, durations the last :data:`DURATION_SAMPLES` invocations, logs the
last :data:`LOG_LINES` lines.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from streamlab.emulator.observability.metrics import parse_function_arn
from streamlab.emulator.telemetry import (
    AsyncDeliveryFailed,
    BatchInvoked,
    FunctionInvoked,
    InvokeOutcome,
    IteratorAgeSampled,
    RecordsDiscarded,
    RecordsFiltered,
    RecordsRead,
    TelemetryEvent,
)

SERIES_SECONDS = 600
DURATION_SAMPLES = 1000
LOG_LINES = 200


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of ``values``; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100.0 * len(ordered)) - 1))
    return ordered[rank]


class _PerSecond:
    """Counts per whole second over the last SERIES_SECONDS seconds."""

    def __init__(self) -> None:
        self._counts: deque[list[float]] = deque()

    def add(self, second: int, amount: float = 1.0) -> None:
        if self._counts and int(self._counts[-1][0]) == second:
            self._counts[-1][1] += amount
        else:
            self._counts.append([float(second), amount])
        while self._counts and self._counts[0][0] < second - SERIES_SECONDS:
            self._counts.popleft()

    def series(self) -> list[list[float]]:
        return [list(item) for item in self._counts]


@dataclass
class MappingFigures:
    batches: int = 0
    failed_batches: int = 0
    records_read: int = 0
    records_filtered: int = 0
    records_discarded: int = 0
    last_outcome: str | None = None
    last_error: str | None = None
    last_batch_at: float | None = None
    iterator_age_ms: float = 0.0
    iterator_age: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=2 * SERIES_SECONDS))
    function_arn: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "failedBatches": self.failed_batches,
            "recordsRead": self.records_read,
            "recordsFiltered": self.records_filtered,
            "recordsDiscarded": self.records_discarded,
            "lastOutcome": self.last_outcome,
            "lastError": self.last_error,
            "lastBatchAt": self.last_batch_at,
            "iteratorAgeMs": self.iterator_age_ms,
            "iteratorAgeSeries": [list(point) for point in self.iterator_age],
        }


@dataclass
class FunctionFigures:
    invocations: int = 0
    errors: int = 0
    throttles: int = 0
    cold_starts: int = 0
    last_error: str | None = None
    durations: deque[float] = field(default_factory=lambda: deque(maxlen=DURATION_SAMPLES))
    invocation_rate: _PerSecond = field(default_factory=_PerSecond)
    error_rate: _PerSecond = field(default_factory=_PerSecond)
    delivery_failures: int = 0

    def to_json(self) -> dict[str, Any]:
        durations = list(self.durations)
        return {
            "invocations": self.invocations,
            "errors": self.errors,
            "throttles": self.throttles,
            "coldStarts": self.cold_starts,
            "deliveryFailures": self.delivery_failures,
            "lastError": self.last_error,
            "durationP50Ms": percentile(durations, 50),
            "durationP99Ms": percentile(durations, 99),
            "invocationsPerSecond": self.invocation_rate.series(),
            "errorsPerSecond": self.error_rate.series(),
        }


class StatusBoard:
    """The telemetry sink behind ``GET /_streamlab/status``."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._mappings: dict[str, MappingFigures] = {}
        self._functions: dict[tuple[str, str], FunctionFigures] = {}  # (region, name)
        self._logs: deque[dict[str, Any]] = deque(maxlen=LOG_LINES)

    def emit(self, event: TelemetryEvent) -> None:
        now = self._clock()
        with self._lock:
            if isinstance(event, FunctionInvoked):
                self._function_invoked(event, now)
            elif isinstance(event, BatchInvoked):
                figures = self._mapping(event.mapping_uuid)
                figures.function_arn = event.function_arn
                figures.batches += 1
                figures.last_batch_at = now
                figures.last_outcome = event.outcome.value
                if event.outcome not in (InvokeOutcome.SUCCESS, InvokeOutcome.PARTIAL):
                    figures.failed_batches += 1
                    figures.last_error = " ".join(filter(None, (event.error_type, event.error_message))) or None
            elif isinstance(event, IteratorAgeSampled):
                figures = self._mapping(event.mapping_uuid)
                figures.iterator_age_ms = event.age_ms
                figures.iterator_age.append((now, event.age_ms))
            elif isinstance(event, RecordsRead):
                self._mapping(event.mapping_uuid).records_read += len(event.record_ids)
            elif isinstance(event, RecordsFiltered):
                self._mapping(event.mapping_uuid).records_filtered += len(event.record_ids)
            elif isinstance(event, RecordsDiscarded):
                self._mapping(event.mapping_uuid).records_discarded += len(event.record_ids)
                if event.destination_arn and not event.delivered:
                    region, name, _ = parse_function_arn(event.function_arn)
                    self._function(region, name).delivery_failures += 1
            elif isinstance(event, AsyncDeliveryFailed):
                self._function(event.region or "us-east-1", event.function_name).delivery_failures += 1

    def _function_invoked(self, event: FunctionInvoked, now: float) -> None:
        figures = self._function(event.region or "us-east-1", event.function_name)
        if event.outcome == InvokeOutcome.THROTTLED:
            figures.throttles += 1
            return
        if event.outcome == InvokeOutcome.UNREACHABLE:
            return
        second = int(now)
        figures.invocations += 1
        figures.invocation_rate.add(second)
        figures.cold_starts += int(event.cold_start)
        figures.durations.append(event.duration_ms)
        if event.outcome in (InvokeOutcome.FUNCTION_ERROR, InvokeOutcome.TIMEOUT):
            figures.errors += 1
            figures.error_rate.add(second)
            figures.last_error = " ".join(filter(None, (event.error_type, event.error_message))) or None
        else:
            figures.error_rate.add(second, 0.0)
        for line in event.log_lines:
            self._logs.append({"at": now, "function": event.function_name, "requestId": event.request_id, "line": line})

    def _mapping(self, uuid: str) -> MappingFigures:
        figures = self._mappings.get(uuid)
        if figures is None:
            figures = self._mappings[uuid] = MappingFigures()
        return figures

    def _function(self, region: str, name: str) -> FunctionFigures:
        figures = self._functions.get((region, name))
        if figures is None:
            figures = self._functions[(region, name)] = FunctionFigures()
        return figures

    # -- reading ------------------------------------------------------------------------
    def mapping(self, uuid: str) -> dict[str, Any]:
        with self._lock:
            figures = self._mappings.get(uuid)
            return figures.to_json() if figures is not None else MappingFigures().to_json()

    def function(self, region: str, name: str) -> dict[str, Any]:
        with self._lock:
            figures = self._functions.get((region, name))
            return figures.to_json() if figures is not None else FunctionFigures().to_json()

    def logs(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._logs)[-limit:]
