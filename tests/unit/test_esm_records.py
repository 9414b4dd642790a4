"""Stream record -> Lambda event record, and the payload size the 6 MB cap is measured on."""

from __future__ import annotations

import datetime as dt
import json

from dateutil.tz import tzlocal

from streamlab.emulator.esm.records import (
    StreamRecord,
    encode_json,
    epoch_seconds,
    event_payload,
    payload_size,
    to_lambda_record,
)

STREAM_ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/2026-01-01T00:00:00.000"


def boto3_record(**overrides):
    """A GetRecords record as boto3 parses it (datetime, bytes), keys shuffled on purpose."""
    record = {
        "awsRegion": "us-east-1",  # moto's historic default: the ARN's region must win
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "eventName": "MODIFY",
        "eventID": "e1",
        "dynamodb": {
            "StreamViewType": "NEW_AND_OLD_IMAGES",
            "SizeBytes": 59,
            "SequenceNumber": "1100000000017454423009",
            "OldImage": {"pk": {"S": "a"}, "blob": {"B": b"old"}},
            "NewImage": {
                "pk": {"S": "a"},
                "blob": {"B": b"foobar"},
                "blobs": {"BS": [b"x", b"y"]},
                "nested": {"M": {"inner": {"B": b"\x00\x01"}, "list": {"L": [{"B": b"z"}, {"N": "1"}]}}},
            },
            "Keys": {"pk": {"S": "a"}},
            "ApproximateCreationDateTime": dt.datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=dt.UTC),
        },
    }
    record.update(overrides)
    return record


def test_event_record_has_aws_shape_and_key_order():
    event = to_lambda_record(boto3_record(), STREAM_ARN)
    assert list(event) == [
        "eventID",
        "eventName",
        "eventVersion",
        "eventSource",
        "awsRegion",
        "dynamodb",
        "eventSourceARN",
    ]
    assert event["eventVersion"] == "1.1"
    assert event["eventSource"] == "aws:dynamodb"
    assert event["awsRegion"] == "eu-west-1"
    assert event["eventSourceARN"] == STREAM_ARN
    assert list(event["dynamodb"]) == [
        "ApproximateCreationDateTime",
        "Keys",
        "NewImage",
        "OldImage",
        "SequenceNumber",
        "SizeBytes",
        "StreamViewType",
    ]


def test_creation_time_is_a_float_of_whole_epoch_seconds():
    """LocalStack's AWS-validated test_dynamodb_event_filter (2025-11-25) asserts a float."""
    event = to_lambda_record(boto3_record(), STREAM_ARN)
    value = event["dynamodb"]["ApproximateCreationDateTime"]
    assert value == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC).timestamp()
    assert isinstance(value, float)
    assert json.dumps(value) == "1767323045.0"


def test_epoch_seconds_accepts_every_wire_form():
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert epoch_seconds(moment) == moment.timestamp()
    assert epoch_seconds(moment.astimezone(tzlocal())) == moment.timestamp()
    assert epoch_seconds(1767323045.9) == 1767323045.0
    assert epoch_seconds(1767323045) == 1767323045.0
    assert epoch_seconds("1767323045") == 1767323045.0
    assert epoch_seconds("2026-01-02T03:04:05.6Z") == 1767323045.0
    assert all(isinstance(epoch_seconds(v), float) for v in (moment, 1767323045, "1767323045"))


def test_binary_values_are_base64_everywhere():
    event = to_lambda_record(boto3_record(), STREAM_ARN)
    image = event["dynamodb"]["NewImage"]
    assert image["blob"] == {"B": "Zm9vYmFy"}  # LocalStack's AWS snapshot: b"foobar" -> "Zm9vYmFy"
    assert image["blobs"] == {"BS": ["eA==", "eQ=="]}
    assert image["nested"]["M"]["inner"] == {"B": "AAE="}
    assert image["nested"]["M"]["list"]["L"] == [{"B": "eg=="}, {"N": "1"}]
    assert event["dynamodb"]["OldImage"]["blob"] == {"B": "b2xk"}
    json.dumps(event)  # JSON-serialisable as the function receives it


def test_raw_json_records_pass_through_unchanged():
    raw = json.loads(json.dumps(boto3_record(), default=lambda v: "Zm9vYmFy" if isinstance(v, bytes) else 1767323045))
    event = to_lambda_record(raw, STREAM_ARN)
    assert event["dynamodb"]["NewImage"]["blob"] == {"B": "Zm9vYmFy"}
    assert event["dynamodb"]["ApproximateCreationDateTime"] == 1767323045


def test_ttl_delete_carries_user_identity_in_lambda_spelling():
    raw = boto3_record(eventName="REMOVE", userIdentity={"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"})
    event = to_lambda_record(raw, STREAM_ARN)
    assert event["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    assert "userIdentity" not in to_lambda_record(boto3_record(), STREAM_ARN)


def test_absent_images_are_absent():
    raw = boto3_record()
    del raw["dynamodb"]["OldImage"]
    raw["dynamodb"]["StreamViewType"] = "KEYS_ONLY"
    del raw["dynamodb"]["NewImage"]
    assert set(to_lambda_record(raw, STREAM_ARN)["dynamodb"]) == {
        "ApproximateCreationDateTime",
        "Keys",
        "SequenceNumber",
        "SizeBytes",
        "StreamViewType",
    }


def test_stream_record_exposes_order_key_and_size():
    record = StreamRecord.from_stream(boto3_record(), STREAM_ARN, "shard-1")
    assert record.sequence_number == "1100000000017454423009"
    assert record.sequence == 1100000000017454423009
    assert record.partition_key == '{"pk":{"S":"a"}}'
    assert record.size == len(encode_json(record.event))
    assert record.shard_id == "shard-1"


def test_payload_size_matches_the_encoded_event():
    records = [StreamRecord.from_stream(boto3_record(eventID=f"e{i}"), STREAM_ARN, "s") for i in range(3)]
    assert payload_size(records) == len(encode_json(event_payload(records)))
    assert payload_size([]) == len(encode_json({"Records": []}))
