"""``streamlab.redrive``: what it does with each kind of message, through the public API only.

The poison-order story (DLQ -> failed redrive -> fix -> redriven) is in test_demo_stack.py;
here: the mapping's filters decide which records of a range are re-invoked, a range that has
left the stream or a stream that is gone is reported and kept, anything that is not an
on-failure record is left alone, and a queue that does not exist is a clear error.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from streamlab.redrive import RedriveError, failure_record, redrive
from tests.integration.demo_stack import DemoStack, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def queue(streamlab_client: Callable[..., Any], streamlab_unique_name: Callable[[str], str]) -> str:
    return str(streamlab_client("sqs").create_queue(QueueName=streamlab_unique_name("redrive"))["QueueUrl"])


def stream_of(demo: DemoStack, table: str) -> tuple[str, str, list[dict[str, Any]]]:
    """(stream ARN, shard id, every record so far) of a demo table."""
    streams = demo.client("dynamodbstreams")
    arn = demo.client("dynamodb").describe_table(TableName=demo.name(table))["Table"]["LatestStreamArn"]
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


def function_arn(demo: DemoStack, logical: str) -> str:
    return str(demo.client("lambda").get_function(FunctionName=demo.name(logical))["Configuration"]["FunctionArn"])


def remaining(streamlab_client: Callable[..., Any], queue: str) -> int:
    attributes = streamlab_client("sqs").get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )
    return sum(int(v) for v in attributes["Attributes"].values())


def test_only_the_records_the_mapping_delivered_are_reinvoked(demo: DemoStack, queue: str, streamlab_client) -> None:
    order = demo.new_order()
    demo.table("Orders").put_item(Item=order)
    wait_for(
        lambda: (
            demo.table("Orders")
            .get_item(Key={"order_id": order["order_id"]}, ConsistentRead=True)
            .get("Item", {})
            .get("status")
            == "Shipped"
        ),
        message="the order to ship",
    )
    arn, shard, records = stream_of(demo, "Orders")
    mine = [r for r in records if r["dynamodb"]["Keys"]["order_id"]["S"] == order["order_id"]]
    assert [r["eventName"] for r in mine] == ["INSERT"] + ["MODIFY"] * 4
    start, end = mine[0]["dynamodb"]["SequenceNumber"], mine[-1]["dynamodb"]["SequenceNumber"]
    # order_charge's filter (MODIFY with NewImage.status Validated) matches one record of the range
    streamlab_client("sqs").send_message(
        QueueUrl=queue, MessageBody=on_failure_record(function_arn(demo, "order_charge"), arn, shard, start, end, 1)
    )

    lines: list[str] = []
    report = redrive(queue, endpoint_url=demo.endpoint_url, region=demo.region, log=lines.append)
    (outcome,) = report.outcomes
    assert (outcome.status, outcome.records) == ("redriven", 1), outcome.detail
    assert report.ok
    assert report.summary == "1 message(s): 1 redriven"
    assert lines[0].startswith("redriving on-failure records from ")
    assert lines[-1] == report.summary
    assert remaining(streamlab_client, queue) == 0
    # the stage found the order already past it (conditional write): nothing moved twice
    item = demo.table("Orders").get_item(Key={"order_id": order["order_id"]}, ConsistentRead=True)["Item"]
    assert (item["status"], item["version"]) == ("Shipped", 5)


def test_a_range_that_left_the_stream_is_reported_and_kept(demo: DemoStack, queue: str, streamlab_client) -> None:
    arn, shard, _ = stream_of(demo, "Orders")
    first = demo.client("dynamodbstreams").describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][-1][
        "SequenceNumberRange"
    ]["StartingSequenceNumber"]
    trimmed = str(int(first) - 100)  # before the shard's first record: trimmed after 24 h on AWS
    streamlab_client("sqs").send_message(
        QueueUrl=queue,
        MessageBody=on_failure_record(
            function_arn(demo, "order_validate"), arn, shard, trimmed, str(int(first) - 90), 3
        ),
    )

    report = redrive(queue, endpoint_url=demo.endpoint_url, region=demo.region, log=lambda line: None)
    (outcome,) = report.outcomes
    assert outcome.status == "expired"
    assert "have left the stream" in outcome.detail
    assert "24 hours" in outcome.detail
    assert "left in the queue" in outcome.detail
    assert not report.ok
    assert remaining(streamlab_client, queue) == 1


def test_a_stream_that_is_gone_is_reported_and_kept(demo: DemoStack, queue: str, streamlab_client) -> None:
    arn, shard, _ = stream_of(demo, "Orders")
    gone = arn.replace(demo.name("Orders"), f"deleted-{uuid.uuid4().hex[:6]}")
    streamlab_client("sqs").send_message(
        QueueUrl=queue,
        MessageBody=on_failure_record(function_arn(demo, "order_validate"), gone, shard, "1" * 21, "1" * 20 + "2", 2),
    )
    (outcome,) = redrive(queue, endpoint_url=demo.endpoint_url, region=demo.region, log=lambda line: None).outcomes
    assert outcome.status == "expired"
    assert "no longer exists" in outcome.detail
    assert remaining(streamlab_client, queue) == 1


def test_other_messages_are_left_alone(demo: DemoStack, queue: str, streamlab_client) -> None:
    streamlab_client("sqs").send_message(QueueUrl=queue, MessageBody='{"hello": "world"}')
    report = redrive(queue, endpoint_url=demo.endpoint_url, region=demo.region, log=lambda line: None)
    assert [o.status for o in report.outcomes] == ["skipped"]
    assert remaining(streamlab_client, queue) == 1


def test_an_empty_queue_and_a_missing_queue(demo: DemoStack, queue: str) -> None:
    lines: list[str] = []
    report = redrive(queue, endpoint_url=demo.endpoint_url, region=demo.region, log=lines.append)
    assert report.ok
    assert report.outcomes == []
    assert lines[-1].startswith("no on-failure records in ")
    with pytest.raises(RedriveError, match="no-such-queue"):
        redrive("no-such-queue", endpoint_url=demo.endpoint_url, region=demo.region, log=lambda line: None)


def test_failure_records_are_recognised_in_sns_envelopes_too() -> None:
    record = {"requestContext": {"functionArn": "f"}, "DDBStreamBatchInfo": {"streamArn": "s"}}
    assert failure_record(json.dumps(record)) == record
    assert failure_record(json.dumps({"Type": "Notification", "Message": json.dumps(record)})) == record
    assert failure_record("not json") is None
    assert failure_record('{"DDBStreamBatchInfo": 1}') is None
