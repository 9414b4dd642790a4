"""Function errors: retries, on-failure destinations, bisect, record age."""

from __future__ import annotations

import re
from typing import Any

import pytest

from streamlab.conformance.suite.harness import Scenario, item, sk_of

ISO_MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ISO_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def sequence_numbers(scenario: Scenario, table: Any) -> dict[str, str]:
    return {sk_of(r): r["dynamodb"]["SequenceNumber"] for r in scenario.delivered(table)}


def assert_on_failure_record(
    body: dict[str, Any], *, function_arn: str, stream_arn: str, sequence: str, condition: str, invoke_count: int
) -> None:
    """The documented on-failure record: metadata about the batch, never the records themselves."""
    assert set(body) == {"requestContext", "responseContext", "version", "timestamp", "DDBStreamBatchInfo"}, sorted(
        body
    )
    assert body["version"] == "1.0"
    assert ISO_MILLIS.match(body["timestamp"]), body["timestamp"]
    context = body["requestContext"]
    assert context["condition"] == condition
    assert context["functionArn"] == function_arn
    assert context["approximateInvokeCount"] == invoke_count
    assert context["requestId"]
    assert body["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    info = body["DDBStreamBatchInfo"]
    assert set(info) == {
        "shardId",
        "startSequenceNumber",
        "endSequenceNumber",
        "approximateArrivalOfFirstRecord",
        "approximateArrivalOfLastRecord",
        "batchSize",
        "streamArn",
    }
    assert info["streamArn"] == stream_arn
    assert info["shardId"].startswith("shardId-")
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (sequence, sequence, 1)
    assert ISO_SECONDS.match(info["approximateArrivalOfFirstRecord"])
    assert ISO_SECONDS.match(info["approximateArrivalOfLastRecord"])
    assert "Records" not in str(body)
    assert "NewImage" not in str(body)
    assert "payload" not in body


def test_retries_exhausted_go_to_the_sqs_on_failure_destination(scenario: Scenario) -> None:
    """MaximumRetryAttempts N: a failing batch is invoked 1 + N times, then its metadata (not its
    records) goes to the SQS on-failure destination and the shard moves on.

    Source: docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html (on-failure
    destination: the invocation record holds metadata about the failed batch, and a consumer
    re-reads the records from the stream); services-ddb-params.html (MaximumRetryAttempts);
    record shape from LocalStack's AWS snapshot
    test_dynamodb_event_source_mapping_with_sns_on_failure_destination_config
    / ..._on_failure_destination_config (condition RetryAttemptsExhausted, approximateInvokeCount 2).
    """
    table = scenario.table()
    url, queue_arn = scenario.queue()
    uuid = scenario.map(
        table, BatchSize=1, MaximumRetryAttempts=1, DestinationConfig={"OnFailure": {"Destination": queue_arn}}
    )
    scenario.put(table, "poison", directive="raise")
    scenario.put(table, "after")
    [body] = scenario.messages(url, 1)
    calls = scenario.wait_delivered(table, ["after"])
    assert [c.sks for c in calls].count(["poison"]) == 2, [c.sks for c in calls]
    mapping = scenario.mapping(uuid)
    assert_on_failure_record(
        body,
        function_arn=mapping["FunctionArn"],
        stream_arn=table.stream_arn,
        sequence=sequence_numbers(scenario, table)["poison"],
        condition="RetryAttemptsExhausted",
        invoke_count=2,
    )


def test_sns_on_failure_destination_receives_the_same_record(scenario: Scenario) -> None:
    """An SNS topic works as the on-failure destination; the message is the same metadata record.

    Source: docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html (SQS queue or SNS
    topic); LocalStack's AWS snapshot test_dynamodb_event_source_mapping_with_sns_on_failure_destination_config.
    """
    table = scenario.table()
    topic, url = scenario.topic_to_queue()
    uuid = scenario.map(
        table, BatchSize=1, MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": topic}}
    )
    scenario.put(table, "poison", directive="raise")
    [body] = scenario.messages(url, 1)
    assert_on_failure_record(
        body,
        function_arn=scenario.mapping(uuid)["FunctionArn"],
        stream_arn=table.stream_arn,
        sequence=sequence_numbers(scenario, table)["poison"],
        condition="RetryAttemptsExhausted",
        invoke_count=1,
    )


def test_bisect_isolates_a_poison_record(scenario: Scenario) -> None:
    """BisectBatchOnFunctionError: a failed batch is split in two and each half retried, until the
    poison record is alone; splitting does not count against MaximumRetryAttempts.

    Source: docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html (BisectBatchOnFunctionError);
    services-dynamodb-errors.html (split the batch in two before retrying); esm-semantics.md
    (splitting does not count against the retry quota).
    """
    table = scenario.table()
    url, queue_arn = scenario.queue()
    scenario.map(
        table,
        BatchSize=10,
        MaximumBatchingWindowInSeconds=1,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    good = ["a", "b", "c", "e", "f", "g"]
    scenario.put_many(
        table, [item("a"), item("b"), item("c"), item("d", directive="raise"), item("e"), item("f"), item("g")]
    )
    [body] = scenario.messages(url, 1)
    calls = scenario.wait_invocations(
        table,
        lambda cs: {sk for c in cs if "d" not in c.sks for sk in c.sks} >= set(good),
        message="every good record processed in a batch without the poison",
    )
    assert [len(c.sks) for c in calls if "d" in c.sks][-1] == 1, "the poison ends up alone"
    info = body["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1
    assert info["startSequenceNumber"] == sequence_numbers(scenario, table)["d"]
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"


def arm_record_age(scenario: Scenario) -> tuple[Any, str]:
    """Session start: a mapping with MaximumRecordAgeInSeconds 60 and a record that always fails."""
    table = scenario.table()
    url, queue_arn = scenario.queue()
    scenario.map(
        table, BatchSize=1, MaximumRecordAgeInSeconds=60, DestinationConfig={"OnFailure": {"Destination": queue_arn}}
    )
    scenario.put(table, "poison", directive="raise")
    return table, url


@pytest.mark.slow_on_aws
@pytest.mark.early_start.with_args(arm_record_age)
def test_records_older_than_maximum_record_age_are_discarded(armed: tuple[Scenario, Any]) -> None:
    """MaximumRecordAgeInSeconds (-1, or 60-604,800): a failing record older than that is discarded
    (to the on-failure destination, condition RecordAgeExceeded) and the shard moves on.

    Source: docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html (MaximumRecordAgeInSeconds);
    services-dynamodb-errors.html. 60 s is the minimum, so the scenario is armed at session start
    (``early_start``) and checked last.
    """
    scenario, (table, url) = armed
    [body] = scenario.messages(url, 1, timeout=60 + scenario.backend.retries)
    calls = scenario.invocations(table)
    assert len(calls) >= 2, "retried until it expired"
    assert all(c.sks == ["poison"] for c in calls), "only the poison record was retried"
    assert calls[-1].at - calls[0].at < 60 + 30, "no invocation long after the record expired"
    assert body["requestContext"]["condition"] == "RecordAgeExceeded"
    info = body["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1
    assert info["startSequenceNumber"] == sequence_numbers(scenario, table)["poison"]
    scenario.put(table, "after")
    scenario.wait_delivered(table, ["after"])


def test_s3_on_failure_destination_carries_the_records(scenario: Scenario) -> None:
    """An S3 bucket as on-failure destination: the object holds the same metadata record plus the
    invocation's records under "payload", at aws/lambda/<mapping UUID>/<shard id>/YYYY/MM/DD/...

    Source: docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html (newer docs: S3
    destination); LocalStack's AWS snapshot ..._on_failure_destination_config[s3] (payload.Records).
    """
    table = scenario.table()
    bucket = scenario.recorder.bucket
    uuid = scenario.map(
        table,
        BatchSize=1,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": f"arn:aws:s3:::{bucket}"}},
    )
    scenario.put(table, "poison", directive="raise")
    key, body = scenario.s3_failure_object(bucket, uuid)
    info = body["DDBStreamBatchInfo"]
    prefix = f"aws/lambda/{uuid}/"
    assert re.match(rf"^{re.escape(prefix)}{re.escape(info['shardId'])}/\d{{4}}/\d\d/\d\d/", key), key
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
    records = body["payload"]["Records"]
    assert [sk_of(r) for r in records] == ["poison"]
    assert (
        records[0]["dynamodb"]["SequenceNumber"]
        == info["startSequenceNumber"]
        == sequence_numbers(scenario, table)["poison"]
    )
