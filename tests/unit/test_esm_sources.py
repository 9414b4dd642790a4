"""The per-source pieces of the engine: record shapes, SQS acknowledgement, Kinesis batch info."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from streamlab.emulator.esm.config import MappingConfig
from streamlab.emulator.esm.destinations import failure_record
from streamlab.emulator.esm.filtering import RecordFilter
from streamlab.emulator.esm.sources import kinesis_record
from streamlab.emulator.esm.sqs import acknowledged, failed_identifiers, sqs_record

QUEUE = "arn:aws:sqs:eu-west-1:123456789012:orders.fifo"
STREAM = "arn:aws:kinesis:eu-west-1:123456789012:stream/events"


def message(message_id: str, body: str, group: str | None = None, **extra: object) -> dict[str, object]:
    attributes = {
        "SenderId": "AIDAEXAMPLE",
        "ApproximateFirstReceiveTimestamp": "1700000000100",
        "SentTimestamp": "1700000000000",
        "ApproximateReceiveCount": "1",
        "AWSTraceHeader": "Root=1-abc",  # not among the attributes Lambda delivers
    }
    if group:
        attributes.update(MessageGroupId=group, SequenceNumber="10000000000000000001", MessageDeduplicationId="d1")
    return {
        "MessageId": message_id,
        "ReceiptHandle": f"rh-{message_id}",
        "MD5OfBody": "md5",
        "Body": body,
        "Attributes": attributes,
        **extra,
    }


def test_sqs_record_has_lambdas_members_in_order() -> None:
    record = sqs_record(
        message(
            "m1",
            '{"status": "PAID"}',
            group="g",
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "x"}},
            MD5OfMessageAttributes="md5a",
        ),
        QUEUE,
    )
    event = record.event
    assert list(event) == [
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfMessageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    ]
    assert list(event["attributes"]) == [
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SequenceNumber",
        "MessageGroupId",
        "SenderId",
        "MessageDeduplicationId",
        "ApproximateFirstReceiveTimestamp",
    ]
    assert event["messageAttributes"]["kind"] == {
        "stringValue": "x",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert event["awsRegion"] == "eu-west-1"
    assert record.sequence_number == "m1"
    assert record.partition_key == "g"
    assert record.arrival == pytest.approx(1_700_000_000.0)


def test_sqs_filters_match_a_json_body_as_an_object() -> None:
    keep = RecordFilter.from_criteria({"Filters": [{"Pattern": json.dumps({"body": {"status": ["PAID"]}})}]})
    assert keep is not None
    assert keep.matches(sqs_record(message("a", '{"status": "PAID"}'), QUEUE).filtered_event)
    assert not keep.matches(sqs_record(message("b", '{"status": "NEW"}'), QUEUE).filtered_event)
    assert not keep.matches(sqs_record(message("c", "PAID"), QUEUE).filtered_event)


def test_partial_response_keeps_named_messages_and_later_ones_of_their_fifo_group() -> None:
    records = [sqs_record(message(f"m{i}", "{}", group=group), QUEUE) for i, group in enumerate("aaba")]
    assert failed_identifiers({"batchItemFailures": [{"itemIdentifier": "m1"}]}, ["m0", "m1", "m2", "m3"]) == {"m1"}
    fifo_done = acknowledged(records, {"m1"}, fifo=True)
    assert [r.sequence_number for r in fifo_done] == ["m0", "m2"]  # m3 is behind m1 in group a
    standard_done = acknowledged(records, {"m1"}, fifo=False)
    assert [r.sequence_number for r in standard_done] == ["m0", "m2", "m3"]


@pytest.mark.parametrize(
    "response",
    [
        {"batchItemFailures": [{"itemIdentifier": "unknown"}]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"id": "m0"}]},
        {"batchItemFailures": "m0"},
    ],
)
def test_an_invalid_partial_response_fails_the_whole_batch(response: object) -> None:
    assert failed_identifiers(response, ["m0"]) is None


@pytest.mark.parametrize("response", [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}, "ok"])
def test_an_empty_partial_response_is_success(response: object) -> None:
    assert failed_identifiers(response, ["m0"]) == set()


def test_kinesis_record_shape_and_filter_view() -> None:
    arrival = dt.datetime(2024, 12, 11, 9, 54, 54, 123000, tzinfo=dt.UTC)
    raw = {"SequenceNumber": "4960", "ApproximateArrivalTimestamp": arrival, "Data": b'{"t": 30}', "PartitionKey": "p"}
    record = kinesis_record(raw, stream_arn=STREAM, shard_id="shardId-000000000000", invoke_identity_arn="arn:role")
    assert record.event == {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": "p",
            "sequenceNumber": "4960",
            "data": base64.b64encode(b'{"t": 30}').decode(),
            "approximateArrivalTimestamp": arrival.timestamp(),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": "shardId-000000000000:4960",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:role",
        "awsRegion": "eu-west-1",
        "eventSourceARN": STREAM,
    }
    hot = RecordFilter.from_criteria({"Filters": [{"Pattern": json.dumps({"data": {"t": [{"numeric": [">", 25]}]}})}]})
    assert hot is not None
    assert hot.matches(record.filtered_event)
    by_key = RecordFilter.from_criteria({"Filters": [{"Pattern": json.dumps({"partitionKey": ["p"]})}]})
    assert by_key is not None
    assert by_key.matches(record.filtered_event)


def test_kinesis_failure_record_carries_kinesis_batch_info_with_milliseconds() -> None:
    raw = {"SequenceNumber": "1", "ApproximateArrivalTimestamp": 1573691884.835, "Data": b"x", "PartitionKey": "p"}
    record = kinesis_record(raw, stream_arn=STREAM, shard_id="shardId-000000000001", invoke_identity_arn=None)
    shaped = failure_record(
        function_arn="arn:aws:lambda:eu-west-1:123456789012:function:f",
        stream_arn=STREAM,
        shard_id="shardId-000000000001",
        records=[record],
        condition="RetryAttemptsExhausted",
        invoke_count=1,
        status_code=200,
        function_error="Unhandled",
        batch_info_key="KinesisBatchInfo",
        arrival_millis=True,
    )
    assert "DDBStreamBatchInfo" not in shaped
    assert shaped["KinesisBatchInfo"]["approximateArrivalOfFirstRecord"] == "2019-11-14T00:38:04.835Z"


def test_mapping_config_per_source() -> None:
    sqs = MappingConfig.from_api(
        {"UUID": "u", "FunctionArn": "arn:aws:lambda:eu-west-1:1:function:f", "EventSourceArn": QUEUE}
    )
    assert sqs.batch_size == 10
    assert sqs.source_kind == "sqs"
    with pytest.raises(ValueError, match="MaximumConcurrency"):
        MappingConfig(uuid="u", function_name="f", event_source_arn=QUEUE, maximum_concurrency=1)
    with pytest.raises(ValueError, match="StartingPosition"):
        MappingConfig(
            uuid="u",
            function_name="f",
            event_source_arn=QUEUE.replace("sqs", "dynamodb"),
            starting_position="AT_TIMESTAMP",
        )
    kinesis = MappingConfig(
        uuid="u",
        function_name="f",
        event_source_arn=STREAM,
        starting_position="AT_TIMESTAMP",
        starting_position_timestamp=1.0,
    )
    assert kinesis.source_kind == "kinesis"
