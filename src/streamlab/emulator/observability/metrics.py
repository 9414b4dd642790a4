"""AWS/Lambda CloudWatch metrics from telemetry events, aggregated before they are written.

Lambda publishes a data point per invocation; writing each one with PutMetricData would cost an
HTTP call per invocation. :class:`LambdaMetrics` folds the events of each second into one
StatisticSet per metric and dimension set, and :meth:`LambdaMetrics.flush` writes what has
gathered (the endpoint calls it every second), so GetMetricStatistics and GetMetricData answer
with the same Sum, SampleCount, Minimum and Maximum as per-invocation points would give.

Names, units and dimensions follow Lambda's metrics page (docs.aws.amazon.com/lambda/latest/dg/
monitoring-metrics-types.html): Invocations, Errors, Throttles, Duration, ConcurrentExecutions,
IteratorAge, DeadLetterErrors and DestinationDeliveryFailures by FunctionName, by FunctionName and
Resource (``function`` or ``function:qualifier``), by Resource and ExecutedVersion when an alias
was invoked, and across all functions (no dimension). EventSourceMappingUUID is the dimension of
the event source mapping metrics only (PolledEventCount, FilteredOutEventCount, InvokedEventCount,
FailedInvokeEventCount, DroppedEventCount, OnFailureDestinationDeliveredEventCount), which AWS
publishes when the mapping's MetricsConfig asks for EventCount.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from streamlab.aws_rules import (
    DEFAULT_REGION,
    DIM_EVENT_SOURCE_MAPPING,
    DIM_EXECUTED_VERSION,
    DIM_FUNCTION_NAME,
    DIM_RESOURCE,
    LAMBDA_NAMESPACE,
    PUT_METRIC_DATA_LIMIT,
)
from streamlab.emulator.telemetry import (
    AsyncDeliveryFailed,
    AsyncDeliveryKind,
    BatchInvoked,
    FunctionInvoked,
    InvokeOutcome,
    IteratorAgeSampled,
    RecordsDiscarded,
    RecordsFiltered,
    RecordsRead,
    TelemetryEvent,
)

log = logging.getLogger(__name__)

Dimensions = tuple[tuple[str, str], ...]
LATEST = "$LATEST"


class MetricWriter(Protocol):
    def put(self, region: str, namespace: str, metric_data: list[dict[str, Any]]) -> None: ...


class Boto3MetricWriter:
    """PutMetricData through a client on the endpoint (the public API, like any publisher)."""

    def __init__(self, client: Callable[[str, str], Any]) -> None:
        self._client = client

    def put(self, region: str, namespace: str, metric_data: list[dict[str, Any]]) -> None:
        client = self._client("cloudwatch", region)
        for start in range(0, len(metric_data), PUT_METRIC_DATA_LIMIT):
            client.put_metric_data(Namespace=namespace, MetricData=metric_data[start : start + PUT_METRIC_DATA_LIMIT])


@dataclass
class StatisticSet:
    sum: float = 0.0
    count: int = 0
    minimum: float = float("inf")
    maximum: float = float("-inf")

    def add(self, value: float) -> None:
        self.sum += value
        self.count += 1
        self.minimum = min(self.minimum, value)
        self.maximum = max(self.maximum, value)


#: (region, metric name, unit, dimensions, whole second): a plain tuple, hashed on every event.
_Key = tuple[str, str, str, Dimensions, int]


def function_dimensions(name: str, qualifier: str, executed_version: str = "") -> list[Dimensions]:
    """The dimension sets Lambda publishes an invocation metric under."""
    resource = name if qualifier in ("", LATEST) else f"{name}:{qualifier}"
    sets: list[Dimensions] = [(), ((DIM_FUNCTION_NAME, name),), ((DIM_FUNCTION_NAME, name), (DIM_RESOURCE, resource))]
    is_alias = qualifier not in ("", LATEST) and not qualifier.isdigit()
    if is_alias and executed_version:
        sets.append(((DIM_FUNCTION_NAME, name), (DIM_RESOURCE, resource), (DIM_EXECUTED_VERSION, executed_version)))
    return sets


def parse_function_arn(arn: str) -> tuple[str, str, str]:
    """(region, name, qualifier) of ``arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]``."""
    parts = arn.split(":")
    if len(parts) < 7:
        return DEFAULT_REGION, arn, ""
    return parts[3] or DEFAULT_REGION, parts[6], parts[7] if len(parts) > 7 else ""


def _region_of_arn(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else DEFAULT_REGION


class LambdaMetrics:
    """A telemetry sink: folds events into per-second statistic sets; :meth:`flush` writes them.

    ``event_count_enabled(uuid)`` says whether a mapping's MetricsConfig asks for EventCount.
    """

    def __init__(
        self,
        writer: MetricWriter,
        event_count_enabled: Callable[[str], bool] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._writer = writer
        self._event_count_enabled = event_count_enabled or (lambda _uuid: False)
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[_Key, StatisticSet] = {}
        self._mapping_regions: dict[str, str] = {}

    # -- the sink -----------------------------------------------------------------------
    def emit(self, event: TelemetryEvent) -> None:
        if isinstance(event, FunctionInvoked):
            self._function_invoked(event)
        elif isinstance(event, IteratorAgeSampled):
            region, name, qualifier = parse_function_arn(event.function_arn)
            for dims in function_dimensions(name, qualifier)[1:3]:
                self._add(region, "IteratorAge", "Milliseconds", dims, event.age_ms)
        elif isinstance(event, RecordsDiscarded):
            self._discarded(event)
        elif isinstance(event, AsyncDeliveryFailed):
            name = "DeadLetterErrors" if event.kind == AsyncDeliveryKind.DEAD_LETTER else "DestinationDeliveryFailures"
            for dims in function_dimensions(event.function_name, event.qualifier)[1:3]:
                self._add(event.region or DEFAULT_REGION, name, "Count", dims, 1.0)
        elif isinstance(event, RecordsRead | RecordsFiltered | BatchInvoked):
            self._event_counts(event)

    def _function_invoked(self, event: FunctionInvoked) -> None:
        region = event.region or DEFAULT_REGION
        dimension_sets = function_dimensions(event.function_name, event.qualifier, event.executed_version)
        if event.outcome == InvokeOutcome.THROTTLED:
            for dims in dimension_sets:
                self._add(region, "Throttles", "Count", dims, 1.0)
            return
        if event.outcome == InvokeOutcome.UNREACHABLE:
            return  # not an invocation: nothing ran, nothing is billed
        failed = 1.0 if event.outcome in (InvokeOutcome.FUNCTION_ERROR, InvokeOutcome.TIMEOUT) else 0.0
        second = int(self._clock())
        points = []
        for dims in dimension_sets:
            points.append(((region, "Invocations", "Count", dims, second), 1.0))
            points.append(((region, "Errors", "Count", dims, second), failed))
            points.append(((region, "Duration", "Milliseconds", dims, second), event.duration_ms))
        for dims in dimension_sets[:2]:  # account-wide and per function, as AWS reports it
            points.append(((region, "ConcurrentExecutions", "Count", dims, second), float(event.concurrent_executions)))
        with self._lock:
            for key, value in points:
                stat = self._pending.get(key)
                if stat is None:
                    stat = self._pending[key] = StatisticSet()
                stat.add(value)

    def _discarded(self, event: RecordsDiscarded) -> None:
        region, name, qualifier = parse_function_arn(event.function_arn)
        if event.destination_arn and not event.delivered:
            for dims in function_dimensions(name, qualifier)[1:3]:
                self._add(region, "DestinationDeliveryFailures", "Count", dims, 1.0)
        if self._event_count_enabled(event.mapping_uuid):
            dims = ((DIM_EVENT_SOURCE_MAPPING, event.mapping_uuid),)
            self._add(region, "DroppedEventCount", "Count", dims, float(len(event.record_ids)))
            if event.delivered:
                self._add(
                    region, "OnFailureDestinationDeliveredEventCount", "Count", dims, float(len(event.record_ids))
                )

    def _event_counts(self, event: RecordsRead | RecordsFiltered | BatchInvoked) -> None:
        if not self._event_count_enabled(event.mapping_uuid):
            return
        region = _region_of_arn(event.event_source_arn)
        dims = ((DIM_EVENT_SOURCE_MAPPING, event.mapping_uuid),)
        count = float(len(event.record_ids))
        if isinstance(event, RecordsRead):
            self._add(region, "PolledEventCount", "Count", dims, count)
        elif isinstance(event, RecordsFiltered):
            self._add(region, "FilteredOutEventCount", "Count", dims, count)
        else:
            self._add(region, "InvokedEventCount", "Count", dims, count)
            if event.outcome not in (InvokeOutcome.SUCCESS, InvokeOutcome.PARTIAL):
                self._add(region, "FailedInvokeEventCount", "Count", dims, count)

    def _add(self, region: str, name: str, unit: str, dims: Dimensions, value: float) -> None:
        key = (region, name, unit, dims, int(self._clock()))
        with self._lock:
            stat = self._pending.get(key)
            if stat is None:
                stat = self._pending[key] = StatisticSet()
            stat.add(value)

    # -- writing ------------------------------------------------------------------------
    def flush(self) -> int:
        """Write everything gathered so far; returns how many statistic sets were written."""
        with self._lock:
            pending, self._pending = self._pending, {}
        by_region: dict[str, list[dict[str, Any]]] = {}
        for key, stat in pending.items():
            by_region.setdefault(key[0], []).append(_datum(key, stat))
        for region, data in by_region.items():
            try:
                self._writer.put(region, LAMBDA_NAMESPACE, data)
            except Exception:  # a metric lost is better than a stopped publisher
                log.exception("could not write %d Lambda metrics to CloudWatch in %s", len(data), region)
        return len(pending)

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)


def _datum(key: _Key, stat: StatisticSet) -> dict[str, Any]:
    _region, metric, unit, dimensions, second = key
    return {
        "MetricName": metric,
        "Dimensions": [{"Name": name, "Value": value} for name, value in dimensions],
        "Timestamp": dt.datetime.fromtimestamp(second, dt.UTC),
        "Unit": unit,
        "StatisticValues": {
            "SampleCount": float(stat.count),
            "Sum": stat.sum,
            "Minimum": stat.minimum,
            "Maximum": stat.maximum,
        },
    }
