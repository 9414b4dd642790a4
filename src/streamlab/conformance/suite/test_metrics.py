"""CloudWatch metrics of a mapping's function: what Lambda publishes about its invocations.

Public API only (GetMetricStatistics), so it runs on every backend; AWS publishes within a few
minutes, which the backend's retry deadline covers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from streamlab.conformance.suite.harness import Scenario
from streamlab.testing import eventually


def _statistic(cloudwatch: Any, metric: str, function: str, statistic: str) -> float | None:
    now = dt.datetime.now(dt.UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName=metric,
        Dimensions=[{"Name": "FunctionName", "Value": function}],
        StartTime=now - dt.timedelta(minutes=30),
        EndTime=now + dt.timedelta(minutes=1),
        Period=60,
        Statistics=[statistic],
    )["Datapoints"]
    if not points:
        return None
    values = [float(p[statistic]) for p in points]
    return sum(values) if statistic in ("Sum", "SampleCount") else max(values)


def test_mapping_invocations_and_iterator_age_are_published(scenario: Scenario) -> None:
    """A mapping's invocations show in AWS/Lambda Invocations by FunctionName (Sum), a failing one
    in Errors, and the mapping's IteratorAge (Milliseconds, the age of each batch's last record).

    Source: docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html (Invocations,
    Errors: binary indicators viewed with Sum; IteratorAge for stream event sources; the
    FunctionName dimension). The function may serve other scenarios, so counts are lower bounds.
    """
    table = scenario.table()
    uuid = scenario.map(table, BatchSize=1, MaximumRetryAttempts=0)
    scenario.put(table, "poison", directive="raise")
    scenario.put(table, "fine")
    calls = scenario.wait_delivered(table, ["fine"])
    function = scenario.mapping(uuid)["FunctionArn"].split(":")[6]
    cloudwatch = scenario.client("cloudwatch")

    def published() -> bool:
        invocations = _statistic(cloudwatch, "Invocations", function, "Sum") or 0
        errors = _statistic(cloudwatch, "Errors", function, "Sum") or 0
        age = _statistic(cloudwatch, "IteratorAge", function, "Maximum")
        return invocations >= len(calls) and errors >= 1 and age is not None

    eventually(published, scenario.backend.retries, scenario.backend.poll * 5, "Invocations, Errors and IteratorAge")
    assert (_statistic(cloudwatch, "IteratorAge", function, "Maximum") or -1) >= 0
