"""DynamoDB's Kinesis streaming destination through boto3: table changes land in a Kinesis stream
in AWS's record format (kds.html), and a Kinesis event source mapping can consume them."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from streamlab.testing import eventually
from tests.integration.lambda_support import error_of


@pytest.fixture
def setup(
    streamlab_client: Callable[..., Any], streamlab_unique_name: Callable[[str], str]
) -> Iterator[tuple[Any, Any, str, str, str]]:
    dynamodb, kinesis = streamlab_client("dynamodb"), streamlab_client("kinesis")
    table, stream = streamlab_unique_name("kds-table"), streamlab_unique_name("kds")
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    arn = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    yield dynamodb, kinesis, table, stream, arn
    with contextlib.suppress(ClientError):
        dynamodb.delete_table(TableName=table)
    with contextlib.suppress(ClientError):
        kinesis.delete_stream(StreamName=stream)


def read_all(kinesis: Any, stream: str) -> list[dict[str, Any]]:
    shard = kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    return kinesis.get_records(ShardIterator=iterator, Limit=1000)["Records"]


def test_enable_describe_disable_and_the_change_records(
    setup: tuple[Any, Any, str, str, str], streamlab_region: str
) -> None:
    dynamodb, kinesis, table, stream, arn = setup
    enabled = dynamodb.enable_kinesis_streaming_destination(TableName=table, StreamArn=arn)
    assert (enabled["TableName"], enabled["StreamArn"], enabled["DestinationStatus"]) == (table, arn, "ENABLING")
    described = dynamodb.describe_kinesis_streaming_destination(TableName=table)
    assert described["KinesisDataStreamDestinations"] == [
        {"StreamArn": arn, "DestinationStatus": "ACTIVE", "ApproximateCreationDateTimePrecision": "MILLISECOND"}
    ]
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "a"}, "n": {"N": "1"}})
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "a"}, "n": {"N": "1"}})  # no change: no record
    dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": "a"}},
        UpdateExpression="SET n = :n",
        ExpressionAttributeValues={":n": {"N": "2"}},
    )
    dynamodb.delete_item(TableName=table, Key={"pk": {"S": "a"}})
    records = read_all(kinesis, stream)
    changes = [json.loads(r["Data"]) for r in records]
    assert [c["eventName"] for c in changes] == ["INSERT", "MODIFY", "REMOVE"]
    first = changes[0]
    assert list(first) == [
        "awsRegion",
        "eventID",
        "eventName",
        "userIdentity",
        "recordFormat",
        "tableName",
        "dynamodb",
        "eventSource",
    ]
    assert first["awsRegion"] == streamlab_region
    assert first["userIdentity"] is None
    assert first["recordFormat"] == "application/json"
    assert first["tableName"] == table
    assert first["eventSource"] == "aws:dynamodb"
    assert list(first["dynamodb"]) == ["ApproximateCreationDateTime", "Keys", "NewImage", "SizeBytes"]
    assert first["dynamodb"]["Keys"] == {"pk": {"S": "a"}}
    assert first["dynamodb"]["ApproximateCreationDateTime"] > 1_600_000_000_000  # milliseconds
    assert changes[1]["dynamodb"]["OldImage"]["n"] == {"N": "1"}
    assert changes[1]["dynamodb"]["NewImage"]["n"] == {"N": "2"}
    assert "NewImage" not in changes[2]["dynamodb"]
    assert len({r["PartitionKey"] for r in records}) == 1  # one item, one partition key
    assert len(records[0]["PartitionKey"]) == 32
    disabled = dynamodb.disable_kinesis_streaming_destination(TableName=table, StreamArn=arn)
    assert disabled["DestinationStatus"] == "DISABLING"
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "b"}})
    assert len(read_all(kinesis, stream)) == 3
    assert (
        dynamodb.describe_kinesis_streaming_destination(TableName=table)["KinesisDataStreamDestinations"][0][
            "DestinationStatus"
        ]
        == "DISABLED"
    )


def test_bad_input_answers_aws_errors(setup: tuple[Any, Any, str, str, str], streamlab_region: str) -> None:
    dynamodb, _, table, _, arn = setup
    with pytest.raises(ClientError) as excinfo:
        dynamodb.enable_kinesis_streaming_destination(TableName="no-such-table", StreamArn=arn)
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 400)
    missing = f"arn:aws:kinesis:{streamlab_region}:123456789012:stream/no-such-stream"
    with pytest.raises(ClientError) as excinfo:
        dynamodb.enable_kinesis_streaming_destination(TableName=table, StreamArn=missing)
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 400)
    with pytest.raises(ClientError) as excinfo:
        dynamodb.disable_kinesis_streaming_destination(TableName=table, StreamArn=arn)
    assert error_of(excinfo)[:2] == ("ValidationException", 400)


def test_a_kinesis_mapping_consumes_the_table_changes(
    setup: tuple[Any, Any, str, str, str],
    lambda_client: Any,
    make_function: Callable[..., str],
    streamlab_client: Callable[..., Any],
    streamlab_unique_name: Callable[[str], str],
) -> None:
    """The fan-out pattern: table -> Kinesis -> function, without a DynamoDB stream reader."""
    dynamodb, _, table, _, arn = setup
    sqs = streamlab_client("sqs")
    results = sqs.create_queue(QueueName=streamlab_unique_name("kds-results"))["QueueUrl"]
    source = """
import base64, json, os
import boto3

sqs = boto3.client("sqs")

def handler(event, context):
    for record in event["Records"]:
        change = json.loads(base64.b64decode(record["kinesis"]["data"]))
        sqs.send_message(QueueUrl=os.environ["RESULTS"], MessageBody=json.dumps(change))
"""
    function = make_function(source, Environment={"Variables": {"RESULTS": results}})
    dynamodb.enable_kinesis_streaming_destination(TableName=table, StreamArn=arn)
    mapping = lambda_client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=function, StartingPosition="TRIM_HORIZON"
    )["UUID"]
    try:
        dynamodb.put_item(TableName=table, Item={"pk": {"S": "order-1"}, "status": {"S": "PAID"}})
        messages = eventually(
            lambda: sqs.receive_message(QueueUrl=results, MaxNumberOfMessages=10).get("Messages"), timeout=20
        )
        change = json.loads(messages[0]["Body"])
        assert change["eventName"] == "INSERT"
        assert change["dynamodb"]["NewImage"]["status"] == {"S": "PAID"}
    finally:
        lambda_client.delete_event_source_mapping(UUID=mapping)
        sqs.delete_queue(QueueUrl=results)
