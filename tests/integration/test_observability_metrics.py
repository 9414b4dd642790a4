"""AWS/Lambda metrics in the endpoint's CloudWatch, and alarms on them, through the public API only.

What Lambda publishes (docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html):
Invocations, Errors, Duration, Throttles, ConcurrentExecutions by FunctionName, by FunctionName and
Resource, by ExecutedVersion for an alias, and across all functions; IteratorAge of stream mappings.
Alarm messages follow LocalStack's AWS recording (test_cloudwatch.snapshot.json, test_put_metric_alarm,
recorded 2023-10-26).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest

from streamlab.testing import eventually
from tests.integration.lambda_support import FunctionFactory
from tests.integration.observability_support import POISON_AWARE, make_queue, receive_all, stream_with_mapping

pytestmark = pytest.mark.slow

FAILS_ON_FLAG = """
def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return event
"""


def statistics(cloudwatch: Any, name: str, dimensions: dict[str, str], statistic: str = "Sum") -> float | None:
    now = dt.datetime.now(dt.UTC)
    answer = cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName=name,
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        StartTime=now - dt.timedelta(minutes=10),
        EndTime=now + dt.timedelta(minutes=1),
        Period=3600,
        Statistics=[statistic],
    )
    points = answer["Datapoints"]
    return (
        sum(p[statistic] for p in points)
        if statistic in ("Sum", "SampleCount") and points
        else (max(p[statistic] for p in points) if points else None)
    )


def test_invocations_errors_and_duration_by_function_and_resource(
    streamlab_client: Callable[..., Any], make_function: FunctionFactory, lambda_client: Any
) -> None:
    name = make_function(FAILS_ON_FLAG)
    cloudwatch = streamlab_client("cloudwatch")
    for _ in range(3):
        lambda_client.invoke(FunctionName=name, Payload=b"{}")
    failed = lambda_client.invoke(FunctionName=name, Payload=json.dumps({"fail": True}).encode())
    assert failed["FunctionError"] == "Unhandled"

    by_function = {"FunctionName": name}
    eventually(lambda: statistics(cloudwatch, "Invocations", by_function) == 4, timeout=15, message="4 Invocations")
    assert statistics(cloudwatch, "Errors", by_function) == 1
    # Errors is a binary indicator: one datapoint per invocation, so its SampleCount counts them too.
    assert statistics(cloudwatch, "Errors", by_function, "SampleCount") == 4
    assert statistics(cloudwatch, "Duration", by_function, "SampleCount") == 4
    assert (statistics(cloudwatch, "Duration", by_function, "Maximum") or 0) > 0
    # The same invocations by Resource: not added to the FunctionName series (dimensions match exactly).
    assert statistics(cloudwatch, "Invocations", {"FunctionName": name, "Resource": name}) == 4
    assert (statistics(cloudwatch, "ConcurrentExecutions", by_function, "Maximum") or 0) >= 1

    listed = cloudwatch.list_metrics(
        Namespace="AWS/Lambda", MetricName="Invocations", Dimensions=[{"Name": "FunctionName", "Value": name}]
    )
    dimension_sets = sorted(sorted(d["Name"] for d in m["Dimensions"]) for m in listed["Metrics"])
    assert dimension_sets == [["FunctionName"], ["FunctionName", "Resource"]]

    now = dt.datetime.now(dt.UTC)
    data = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "errors",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/Lambda",
                        "MetricName": "Errors",
                        "Dimensions": [{"Name": "FunctionName", "Value": name}],
                    },
                    "Period": 3600,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=now - dt.timedelta(minutes=10),
        EndTime=now + dt.timedelta(minutes=1),
    )
    assert sum(data["MetricDataResults"][0]["Values"]) == 1


def test_a_version_and_an_alias_get_their_resource_and_executed_version(
    streamlab_client: Callable[..., Any], make_function: FunctionFactory, lambda_client: Any
) -> None:
    name = make_function(FAILS_ON_FLAG)
    version = lambda_client.publish_version(FunctionName=name)["Version"]
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    lambda_client.invoke(FunctionName=name, Qualifier=version, Payload=b"{}")
    lambda_client.invoke(FunctionName=name, Qualifier="live", Payload=b"{}")
    cloudwatch = streamlab_client("cloudwatch")
    eventually(
        lambda: statistics(cloudwatch, "Invocations", {"FunctionName": name}) == 2, timeout=15, message="2 Invocations"
    )
    assert statistics(cloudwatch, "Invocations", {"FunctionName": name, "Resource": f"{name}:{version}"}) == 1
    assert statistics(cloudwatch, "Invocations", {"FunctionName": name, "Resource": f"{name}:live"}) == 1
    executed = {"FunctionName": name, "Resource": f"{name}:live", "ExecutedVersion": version}
    assert statistics(cloudwatch, "Invocations", executed) == 1


def test_throttles_are_counted_and_are_not_invocations(
    streamlab_client: Callable[..., Any], make_function: FunctionFactory, lambda_client: Any
) -> None:
    name = make_function(FAILS_ON_FLAG)
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(lambda_client.exceptions.TooManyRequestsException):
        lambda_client.invoke(FunctionName=name, Payload=b"{}")
    cloudwatch = streamlab_client("cloudwatch")
    eventually(
        lambda: statistics(cloudwatch, "Throttles", {"FunctionName": name}) == 1, timeout=15, message="Throttles"
    )
    assert statistics(cloudwatch, "Invocations", {"FunctionName": name}) is None


def test_an_iterator_age_alarm_fires_when_a_handler_blocks_its_shard(
    streamlab_client: Callable[..., Any], make_function: FunctionFactory, streamlab_unique_name: Callable[[str], str]
) -> None:
    """A poison record that fails forever (MaximumRetryAttempts -1) holds its shard: IteratorAge
    grows with every retry, the alarm on its Maximum goes to ALARM and its SNS topic says so."""
    function = make_function(POISON_AWARE)
    stream, uuid = stream_with_mapping(streamlab_client, streamlab_unique_name("blocked"), function, BatchSize=1)
    sns, sqs, cloudwatch = streamlab_client("sns"), streamlab_client("sqs"), streamlab_client("cloudwatch")
    topic = sns.create_topic(Name=streamlab_unique_name("alarms"))["TopicArn"]
    inbox = make_queue(sqs, streamlab_unique_name("alarm-inbox"))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox.arn, Attributes={"RawMessageDelivery": "true"})
    alarm = streamlab_unique_name("iterator-age")
    cloudwatch.put_metric_alarm(
        AlarmName=alarm,
        AlarmDescription="the stream is falling behind",
        Namespace="AWS/Lambda",
        MetricName="IteratorAge",
        Dimensions=[{"Name": "FunctionName", "Value": function}],
        Statistic="Maximum",
        Period=10,
        EvaluationPeriods=1,
        Threshold=1500.0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
        AlarmActions=[topic],
        OKActions=[topic],
    )
    created = cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]
    assert created["StateValue"] in ("INSUFFICIENT_DATA", "OK")  # OK once evaluated on no data (notBreaching)
    try:
        stream.put("poison-1")

        def in_alarm() -> dict[str, Any] | None:
            found = cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]
            return found if found["StateValue"] == "ALARM" else None

        fired = eventually(in_alarm, timeout=60, interval=0.5, message="the IteratorAge alarm in ALARM")
        assert fired["StateReason"].startswith("Threshold Crossed: 1 datapoint [")
        assert fired["StateReason"].endswith("was greater than the threshold (1500.0).")
        messages = [json.loads(m["Body"]) for m in receive_all(sqs, inbox, 1)]
        notice = next(m for m in messages if m["NewStateValue"] == "ALARM")
        assert notice["AlarmName"] == alarm
        assert notice["AlarmDescription"] == "the stream is falling behind"
        assert notice["OldStateValue"] in ("OK", "INSUFFICIENT_DATA")
        assert notice["NewStateReason"] == fired["StateReason"]
        assert notice["Region"] == "US East (N. Virginia)"
        assert notice["AlarmArn"] == fired["AlarmArn"]
        assert notice["Trigger"] == {
            "MetricName": "IteratorAge",
            "Namespace": "AWS/Lambda",
            "StatisticType": "Statistic",
            "Statistic": "MAXIMUM",
            "Unit": None,
            "Dimensions": [{"value": function, "name": "FunctionName"}],
            "Period": 10,
            "EvaluationPeriods": 1,
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 1500.0,
            "TreatMissingData": "notBreaching",
            "EvaluateLowSampleCountPercentile": "",
        }
        age = statistics(cloudwatch, "IteratorAge", {"FunctionName": function}, "Maximum")
        assert age is not None
        assert age > 1500
    finally:
        streamlab_client("lambda").delete_event_source_mapping(UUID=uuid)
        cloudwatch.delete_alarms(AlarmNames=[alarm])
