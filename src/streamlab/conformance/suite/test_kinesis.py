"""Kinesis -> Lambda: the record shape, starting positions and on-failure records (public API only).

Recordings: LocalStack's AWS-validated ``tests/aws/services/lambda_/event_source_mapping/
test_lambda_integration_kinesis.snapshot.json`` (repository localstack/localstack), each scenario naming
its test and its recorded date; AWS docs with-kinesis.html and kinesis-on-failure-destination.html.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from streamlab.conformance.suite.harness import Scenario

RECORD_KEYS = [
    "kinesis",
    "eventSource",
    "eventVersion",
    "eventID",
    "eventName",
    "invokeIdentityArn",
    "awsRegion",
    "eventSourceARN",
]


def data_of(record: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(base64.b64decode(record["kinesis"]["data"])))


def test_a_kinesis_mapping_answers_like_a_stream_mapping(scenario: Scenario) -> None:
    """CreateEventSourceMapping on a Kinesis stream: BatchSize 100, ParallelizationFactor 1,
    MaximumRetryAttempts -1, DestinationConfig {"OnFailure": {}}, StateTransitionReason "User action".

    Recorded: test_lambda_integration_kinesis.snapshot.json, test_create_kinesis_event_source_mapping,
    "create_event_source_mapping_response" (recorded 2024-10-12).
    """
    stream = scenario.kinesis_stream()
    answer = scenario.mapping(scenario.map_source(stream, StartingPosition="LATEST"))
    assert answer["BatchSize"] == 100
    assert answer["ParallelizationFactor"] == 1
    assert answer["MaximumRetryAttempts"] == -1
    assert answer["MaximumRecordAgeInSeconds"] == -1
    assert answer["BisectBatchOnFunctionError"] is False
    assert answer["DestinationConfig"] == {"OnFailure": {}}
    assert answer["StartingPosition"] == "LATEST"
    assert answer["StateTransitionReason"] == "User action"
    assert answer["TumblingWindowInSeconds"] == 0


def test_a_record_arrives_in_the_recorded_shape(scenario: Scenario) -> None:
    """A Kinesis record: kinesis {kinesisSchemaVersion "1.0", partitionKey, sequenceNumber, data
    (base64), approximateArrivalTimestamp}, eventSource aws:kinesis, eventVersion "1.0",
    eventID "<shardId>:<sequenceNumber>", eventName aws:kinesis:record, invokeIdentityArn, awsRegion,
    eventSourceARN.

    Recorded: test_lambda_integration_kinesis.snapshot.json,
    test_kinesis_event_source_mapping_with_async_invocation, "invocation_events" (recorded 2024-12-11).
    """
    stream = scenario.kinesis_stream()
    sequence = scenario.put_record(stream, {"record_id": 0}, key="test_0")
    scenario.map_source(stream, StartingPosition="TRIM_HORIZON")
    [invocation] = scenario.wait_invocations(stream, lambda calls: len(calls) >= 1, message="record delivered")
    [record] = invocation.records
    assert list(record) == RECORD_KEYS
    assert list(record["kinesis"]) == [
        "kinesisSchemaVersion",
        "partitionKey",
        "sequenceNumber",
        "data",
        "approximateArrivalTimestamp",
    ]
    assert record["kinesis"]["sequenceNumber"] == sequence
    assert record["kinesis"]["partitionKey"] == "test_0"
    assert data_of(record) == {"record_id": 0}
    assert record["eventID"].endswith(f":{sequence}")
    assert record["eventID"].startswith("shardId-")
    assert record["eventName"] == "aws:kinesis:record"
    assert record["eventVersion"] == "1.0"
    assert record["eventSourceARN"] == stream.arn
    assert record["invokeIdentityArn"].startswith("arn:aws:iam::")


def test_retries_exhausted_send_kinesis_batch_info_to_the_on_failure_queue(scenario: Scenario) -> None:
    """After MaximumRetryAttempts the batch's record goes to the on-failure queue with KinesisBatchInfo
    {shardId, startSequenceNumber, endSequenceNumber, approximateArrivalOfFirstRecord,
    approximateArrivalOfLastRecord, batchSize, streamArn}, and the shard moves on.

    Source: docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html (example record);
    approximateInvokeCount as in test_lambda_integration_dynamodbstreams' recording (1 + retries).
    """
    stream = scenario.kinesis_stream()
    dlq_url, dlq_arn = scenario.queue()
    poison = scenario.put_record(stream, {"directive": "raise"})
    after = scenario.put_record(stream, {"n": 1})
    scenario.map_source(
        stream,
        StartingPosition="TRIM_HORIZON",
        BatchSize=1,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": dlq_arn}},
    )
    [record] = scenario.messages(dlq_url, 1)
    info = record["KinesisBatchInfo"]
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == poison
    assert info["batchSize"] == 1
    assert info["streamArn"] == stream.arn
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    scenario.wait_invocations(
        stream,
        lambda calls: any(r["kinesis"]["sequenceNumber"] == after for c in calls for r in c.records),
        message="the record after the poison delivered",
    )


def test_a_partial_batch_response_retries_from_the_failed_sequence_number(scenario: Scenario) -> None:
    """ReportBatchItemFailures on Kinesis: Lambda retries from the lowest failed sequence number
    (the records after it come again); the ones before it are done.

    Source: docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html.
    """
    stream = scenario.kinesis_stream()
    for n, directive in enumerate(["", "", "fail-item-once", ""]):
        scenario.put_record(stream, {"n": n, "directive": directive})
    scenario.map_source(
        stream,
        "partial",
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        MaximumBatchingWindowInSeconds=2,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    scenario.wait_invocations(
        stream, lambda calls: sum(len(c.records) for c in calls) >= 6, scenario.backend.retries, "retried"
    )
    numbers = [data_of(r)["n"] for r in scenario.delivered(stream)]
    assert numbers[:6] == [0, 1, 2, 3, 2, 3]
