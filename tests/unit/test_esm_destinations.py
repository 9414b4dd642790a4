"""The on-failure record's AWS shape and how it is routed to SQS, SNS and S3."""

from __future__ import annotations

import datetime as dt
import json
import re

from streamlab.emulator.esm.destinations import Boto3FailureDestination, failure_record, s3_object_key
from streamlab.emulator.esm.records import StreamRecord

STREAM_ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/t/stream/2026"
FUNCTION_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:f"


def records():
    return [
        StreamRecord({"eventID": "a", "dynamodb": {"SequenceNumber": "100"}}, "shard-1", "100", 1657719481, "k", 10),
        StreamRecord({"eventID": "b", "dynamodb": {"SequenceNumber": "105"}}, "shard-1", "105", 1657719490, "k", 10),
    ]


def build(**overrides):
    options = dict(
        function_arn=FUNCTION_ARN,
        stream_arn=STREAM_ARN,
        shard_id="shard-1",
        records=records(),
        condition="RetryAttemptsExhausted",
        invoke_count=2,
        status_code=200,
        function_error="Unhandled",
        now=dt.datetime(2022, 7, 13, 13, 48, 1, 123456, tzinfo=dt.UTC),
        request_id="req-1",
    )
    options.update(overrides)
    return failure_record(**options)


def test_record_shape_matches_aws():
    assert build() == {
        "requestContext": {
            "requestId": "req-1",
            "functionArn": FUNCTION_ARN,
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 2,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": "2022-07-13T13:48:01.123Z",
        "DDBStreamBatchInfo": {
            "shardId": "shard-1",
            "startSequenceNumber": "100",
            "endSequenceNumber": "105",
            "approximateArrivalOfFirstRecord": "2022-07-13T13:38:01Z",
            "approximateArrivalOfLastRecord": "2022-07-13T13:38:10Z",
            "batchSize": 2,
            "streamArn": STREAM_ARN,
        },
    }
    assert list(build()) == ["requestContext", "responseContext", "version", "timestamp", "DDBStreamBatchInfo"]


def test_record_age_condition_and_generated_request_id():
    record = build(condition="RecordAgeExceeded", request_id=None, function_error=None)
    assert record["requestContext"]["condition"] == "RecordAgeExceeded"
    assert re.fullmatch(r"[0-9a-f-]{36}", record["requestContext"]["requestId"])
    assert record["responseContext"]["functionError"] is None


def test_s3_key_convention():
    moment = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
    key = s3_object_key("esm-uuid", "shardId-1", moment)
    assert re.fullmatch(r"aws/lambda/esm-uuid/shardId-1/2026/03/04/2026-03-04T05\.06\.07-[0-9a-f-]{36}", key)


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, service, **options):
        recorder = self

        class Client:
            def __getattr__(self, operation):
                def call(**request):
                    recorder.calls.append((service, options["region_name"], operation, request))
                    return {"QueueUrl": "http://queue"} if operation == "get_queue_url" else {}

                return call

        return Client()


def test_routing_by_destination_arn():
    recorder = Recorder()
    sender = Boto3FailureDestination("http://127.0.0.1:1", default_region="eu-west-1", client_factory=recorder)
    record = build()
    sender.send("arn:aws:sqs:eu-west-2:123456789012:dlq", record, records(), "esm-1")
    sender.send("arn:aws:sns:eu-west-1:123456789012:topic", record, records(), "esm-1")
    sender.send("arn:aws:s3:::bucket", record, records(), "esm-1")
    (_, region, op, request), (_, _, op2, request2) = recorder.calls[:2]
    assert (region, op, request) == (
        "eu-west-2",
        "get_queue_url",
        {"QueueName": "dlq", "QueueOwnerAWSAccountId": "123456789012"},
    )
    assert op2 == "send_message"
    assert json.loads(request2["MessageBody"]) == record
    sns = recorder.calls[2]
    assert sns[2] == "publish"
    assert json.loads(sns[3]["Message"]) == record
    s3 = recorder.calls[3]
    assert s3[2] == "put_object"
    assert s3[3]["Bucket"] == "bucket"
    body = json.loads(s3[3]["Body"])
    assert body["payload"] == {"Records": [r.event for r in records()]}
    assert s3[3]["Key"].startswith("aws/lambda/esm-1/shard-1/")


def test_endpoint_url_may_be_resolved_late():
    recorder = Recorder()
    endpoint = {"url": None}
    sender = Boto3FailureDestination(
        lambda: endpoint["url"], client_factory=lambda service, **options: recorder.calls.append(options) or object()
    )
    endpoint["url"] = "http://127.0.0.1:4566"  # known only once the server has started
    sender._client("sqs", "us-east-1")
    assert recorder.calls[0]["endpoint_url"] == "http://127.0.0.1:4566"
