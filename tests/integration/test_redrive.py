"""``streamlab.redrive``: what it does with each kind of message, through the public API only.

The poison-order story (DLQ -> failed redrive -> fix -> redriven) is in test_demo_template.py;
here: the mapping's filters decide which records of a range are re-invoked, a range that has
left the stream or a stream that is gone is reported and kept, anything that is not an
on-failure record is left alone, and a queue that does not exist is a clear error.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from streamlab.redrive import RedriveError, failure_record, redrive
from streamlab.testing import eventually
from tests.integration.lambda_support import ROLE, zip_source

pytestmark = pytest.mark.slow

#: The pipeline stage of the demo shop, reduced to one step: a Validated order becomes Paid, once
#: (a conditional write, so a record delivered twice moves nothing twice).
PAY = """
import os
import boto3
from botocore.exceptions import ClientError

table = boto3.resource("dynamodb").Table(os.environ["ORDERS"])

def handler(event, context):
    for record in event["Records"]:
        key = record["dynamodb"]["Keys"]["order_id"]["S"]
        try:
            table.update_item(
                Key={"order_id": key},
                UpdateExpression="SET #s = :paid, version = version + :one",
                ConditionExpression="#s = :validated",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":paid": "Paid", ":validated": "Validated", ":one": 1},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
"""

#: The mapping reads MODIFY records whose new image is Validated, as the demo's order_charge does.
VALIDATED = {
    "Filters": [{"Pattern": '{"eventName": ["MODIFY"], "dynamodb": {"NewImage": {"status": {"S": ["Validated"]}}}}'}]
}


@dataclass
class Shop:
    """An Orders table with a stream, the pay function and its filtered mapping."""

    client: Callable[..., Any]
    endpoint_url: str
    region: str
    table: str
    function_arn: str

    def status(self, order_id: str) -> tuple[str, int]:
        item = self.client("dynamodb").get_item(
            TableName=self.table, Key={"order_id": {"S": order_id}}, ConsistentRead=True
        )["Item"]
        return item["status"]["S"], int(item["version"]["N"])


@pytest.fixture(scope="module")
def shop(streamlab_client: Callable[..., Any], streamlab_endpoint_url: str, streamlab_region: str) -> Iterator[Shop]:
    suffix = uuid.uuid4().hex[:8]
    ddb, lam = streamlab_client("dynamodb"), streamlab_client("lambda")
    table = f"redrive-orders-{suffix}"
    stream_arn = ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]
    function = lam.create_function(
        FunctionName=f"redrive-pay-{suffix}",
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_source(PAY)},
        Environment={"Variables": {"ORDERS": table}},
        Timeout=10,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=function["FunctionName"])
    mapping = lam.create_event_source_mapping(
        EventSourceArn=stream_arn,
        FunctionName=function["FunctionName"],
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        FilterCriteria=VALIDATED,
    )["UUID"]
    yield Shop(streamlab_client, streamlab_endpoint_url, streamlab_region, table, function["FunctionArn"])
    lam.delete_event_source_mapping(UUID=mapping)
    lam.delete_function(FunctionName=function["FunctionName"])
    ddb.delete_table(TableName=table)


@pytest.fixture
def queue(streamlab_client: Callable[..., Any], streamlab_unique_name: Callable[[str], str]) -> str:
    return str(streamlab_client("sqs").create_queue(QueueName=streamlab_unique_name("redrive"))["QueueUrl"])


def stream_of(shop: Shop) -> tuple[str, str, list[dict[str, Any]]]:
    """(stream ARN, shard id, every record so far) of the shop's table."""
    streams = shop.client("dynamodbstreams")
    arn = shop.client("dynamodb").describe_table(TableName=shop.table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][-1]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    records: list[dict[str, Any]] = []
    while iterator:
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        if not page["Records"]:
            break
        records += page["Records"]
        iterator = page.get("NextShardIterator")
    return arn, shard["ShardId"], records


def on_failure_record(function_arn: str, stream_arn: str, shard_id: str, start: str, end: str, size: int) -> str:
    """An on-failure record as Lambda sends it to SQS (services-dynamodb-errors.html)."""
    return json.dumps(
        {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": function_arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": 3,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": "2026-11-26T12:00:00.000Z",
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": start,
                "endSequenceNumber": end,
                "approximateArrivalOfFirstRecord": "2026-11-26T12:00:00Z",
                "approximateArrivalOfLastRecord": "2026-11-26T12:00:00Z",
                "batchSize": size,
                "streamArn": stream_arn,
            },
        }
    )


def remaining(streamlab_client: Callable[..., Any], queue: str) -> int:
    attributes = streamlab_client("sqs").get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )
    return sum(int(v) for v in attributes["Attributes"].values())


def test_only_the_records_the_mapping_delivered_are_reinvoked(shop: Shop, queue: str, streamlab_client) -> None:
    order_id = f"o-{uuid.uuid4().hex[:8]}"
    ddb = shop.client("dynamodb")
    ddb.put_item(
        TableName=shop.table, Item={"order_id": {"S": order_id}, "status": {"S": "Created"}, "version": {"N": "1"}}
    )
    ddb.update_item(
        TableName=shop.table,
        Key={"order_id": {"S": order_id}},
        UpdateExpression="SET #s = :v, version = :two",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":v": {"S": "Validated"}, ":two": {"N": "2"}},
    )
    eventually(lambda: shop.status(order_id) == ("Paid", 3), timeout=30, message="the order to be paid")
    arn, shard, records = stream_of(shop)
    mine = [r for r in records if r["dynamodb"]["Keys"]["order_id"]["S"] == order_id]
    assert [r["eventName"] for r in mine] == ["INSERT", "MODIFY", "MODIFY"]
    start, end = mine[0]["dynamodb"]["SequenceNumber"], mine[-1]["dynamodb"]["SequenceNumber"]
    # the mapping's filter (MODIFY with NewImage.status Validated) matches one record of the range
    streamlab_client("sqs").send_message(
        QueueUrl=queue, MessageBody=on_failure_record(shop.function_arn, arn, shard, start, end, 3)
    )

    lines: list[str] = []
    report = redrive(queue, endpoint_url=shop.endpoint_url, region=shop.region, log=lines.append)
    (outcome,) = report.outcomes
    assert (outcome.status, outcome.records) == ("redriven", 1), outcome.detail
    assert report.ok
    assert report.summary == "1 message(s): 1 redriven"
    assert lines[0].startswith("redriving on-failure records from ")
    assert lines[-1] == report.summary
    assert remaining(streamlab_client, queue) == 0
    # the function found the order already past it (conditional write): nothing moved twice
    assert shop.status(order_id) == ("Paid", 3)


def test_a_range_that_left_the_stream_is_reported_and_kept(shop: Shop, queue: str, streamlab_client) -> None:
    arn, shard, _ = stream_of(shop)
    first = shop.client("dynamodbstreams").describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][-1][
        "SequenceNumberRange"
    ]["StartingSequenceNumber"]
    trimmed = str(int(first) - 100)  # before the shard's first record: trimmed after 24 h on AWS
    streamlab_client("sqs").send_message(
        QueueUrl=queue,
        MessageBody=on_failure_record(shop.function_arn, arn, shard, trimmed, str(int(first) - 90), 3),
    )

    report = redrive(queue, endpoint_url=shop.endpoint_url, region=shop.region, log=lambda line: None)
    (outcome,) = report.outcomes
    assert outcome.status == "expired"
    assert "have left the stream" in outcome.detail
    assert "24 hours" in outcome.detail
    assert "left in the queue" in outcome.detail
    assert not report.ok
    assert remaining(streamlab_client, queue) == 1


def test_a_stream_that_is_gone_is_reported_and_kept(shop: Shop, queue: str, streamlab_client) -> None:
    arn, shard, _ = stream_of(shop)
    gone = arn.replace(shop.table, f"deleted-{uuid.uuid4().hex[:6]}")
    streamlab_client("sqs").send_message(
        QueueUrl=queue,
        MessageBody=on_failure_record(shop.function_arn, gone, shard, "1" * 21, "1" * 20 + "2", 2),
    )
    (outcome,) = redrive(queue, endpoint_url=shop.endpoint_url, region=shop.region, log=lambda line: None).outcomes
    assert outcome.status == "expired"
    assert "no longer exists" in outcome.detail
    assert remaining(streamlab_client, queue) == 1


def test_other_messages_are_left_alone(shop: Shop, queue: str, streamlab_client) -> None:
    streamlab_client("sqs").send_message(QueueUrl=queue, MessageBody='{"hello": "world"}')
    report = redrive(queue, endpoint_url=shop.endpoint_url, region=shop.region, log=lambda line: None)
    assert [o.status for o in report.outcomes] == ["skipped"]
    assert remaining(streamlab_client, queue) == 1


def test_an_empty_queue_and_a_missing_queue(shop: Shop, queue: str) -> None:
    lines: list[str] = []
    report = redrive(queue, endpoint_url=shop.endpoint_url, region=shop.region, log=lines.append)
    assert report.ok
    assert report.outcomes == []
    assert lines[-1].startswith("no on-failure records in ")
    with pytest.raises(RedriveError, match="no-such-queue"):
        redrive("no-such-queue", endpoint_url=shop.endpoint_url, region=shop.region, log=lambda line: None)


def test_failure_records_are_recognised_in_sns_envelopes_too() -> None:
    record = {"requestContext": {"functionArn": "f"}, "DDBStreamBatchInfo": {"streamArn": "s"}}
    assert failure_record(json.dumps(record)) == record
    assert failure_record(json.dumps({"Type": "Notification", "Message": json.dumps(record)})) == record
    assert failure_record("not json") is None
    assert failure_record('{"DDBStreamBatchInfo": 1}') is None
