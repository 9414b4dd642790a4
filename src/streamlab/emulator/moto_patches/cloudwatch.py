"""moto's CloudWatch, where Lambda's metrics and their alarms need AWS's behaviour."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

from moto.cloudwatch.exceptions import InvalidParameterValue
from moto.cloudwatch.models import Alarm, CloudWatchBackend, Statistics, daterange

from streamlab.emulator.moto_patches.patching import Patcher


def start_alarms_in_insufficient_data(patcher: Patcher) -> None:
    """A new alarm is INSUFFICIENT_DATA until it is evaluated.

    moto starts every alarm in OK; AWS answers DescribeAlarms right after PutMetricAlarm with
    StateValue INSUFFICIENT_DATA and StateReason "Unchecked: Initial alarm creation" (LocalStack's
    test_cloudwatch.snapshot.json, test_put_metric_alarm, recorded 2023-10-26), and the first
    notification says OldStateValue INSUFFICIENT_DATA.
    """
    original = Alarm.__init__

    @functools.wraps(original)
    def __init__(self: Alarm, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.state_value = "INSUFFICIENT_DATA"

    patcher.replace(Alarm, "__init__", __init__)


def match_statistics_dimensions_exactly(patcher: Patcher) -> None:
    """GetMetricStatistics answers the metric with exactly the dimensions asked for.

    moto returns every metric whose dimensions include those asked for, so asking for Lambda's
    Invocations by FunctionName also sums the same invocations published by FunctionName and
    Resource (and no dimensions at all matches every metric of the name). On AWS a metric is its
    namespace, name and whole dimension set (cloudwatch_concepts.html, "Dimensions"); moto's
    GetMetricData already matches that way.
    """

    def get_metric_statistics(
        self: CloudWatchBackend,
        namespace: str,
        metric_name: str,
        start_time: datetime,
        end_time: datetime,
        period: int,
        stats: list[str],
        dimensions: list[dict[str, str]],
        unit: str | None = None,
    ) -> list[Statistics]:
        start_time = start_time.replace(microsecond=0)
        end_time = end_time.replace(microsecond=0)
        if start_time >= end_time:
            raise InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
        wanted = {(d["Name"], d.get("Value")) for d in dimensions or []}
        data = sorted(
            (
                md
                for md in self.get_all_metrics()
                if md.namespace == namespace
                and md.name == metric_name
                and start_time <= md.timestamp < end_time
                and (not unit or md.unit == unit)
                and {(d.name, d.value) for d in md.dimensions} == wanted
            ),
            key=lambda md: md.timestamp,
        )
        if not data:
            return []
        step = timedelta(seconds=period)
        # Periods start at StartTime, as AWS aligns them; moto started them at the first datum.
        answer: list[Statistics] = []
        index = 0
        for begin in daterange(start_time, end_time, step):
            bucket = Statistics(stats, begin)
            while index < len(data) and data[index].timestamp < begin + step:
                if data[index].timestamp >= begin:
                    bucket.metric_data.append(data[index])
                    bucket.unit = data[index].unit
                index += 1
            if bucket.metric_data:
                answer.append(bucket)
        return answer

    patcher.replace(CloudWatchBackend, "get_metric_statistics", get_metric_statistics)


def list_each_metric_once(patcher: Patcher) -> None:
    """ListMetrics lists a metric (namespace, name, dimension set) once, however many datapoints it has.

    moto's duplicate check compares dimension lists so that only sets of one dimension ever
    match, so a metric published by FunctionName and Resource, or with no dimensions, is listed
    once per PutMetricData call, and the check compares each datapoint with every metric found
    so far. AWS lists each metric once (cloudwatch_concepts.html: a metric is its namespace,
    name and dimensions).
    """

    def get_filtered_metrics(
        self: CloudWatchBackend, metric_name: str, namespace: str, dimensions: list[dict[str, str]]
    ) -> list[Any]:
        seen: set[tuple[str, str, frozenset[tuple[str | None, str | None]]]] = set()
        found: list[Any] = []
        for md in self.get_all_metrics():
            if not md.filter(namespace=namespace, name=metric_name, dimensions=dimensions):
                continue
            identity = (md.namespace, md.name, frozenset((d.name, d.value) for d in md.dimensions))
            if identity not in seen:
                seen.add(identity)
                found.append(md)
        return found

    patcher.replace(CloudWatchBackend, "get_filtered_metrics", get_filtered_metrics)
