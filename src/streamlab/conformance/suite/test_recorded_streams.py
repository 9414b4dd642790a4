"""DynamoDB and DynamoDB Streams answers compared with what AWS answered, as recorded.

The recordings are LocalStack's AWS-validated snapshots (repository localstack/localstack):
``tests/aws/services/dynamodb/test_dynamodb.snapshot.json`` and
``tests/aws/services/dynamodbstreams/test_dynamodb_streams.snapshot.json``, each test's
``.validation.json`` entry giving the day it last ran against AWS; and the examples in botocore's
``dynamodbstreams/2012-08-10/examples-1.json`` (AWS's API reference examples). Every scenario names
its recording and date. No Lambda function is involved: only DynamoDB and DynamoDB Streams.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from streamlab.conformance.suite.harness import Scenario, Table, new_name
from streamlab.testing import eventually

#: AWS's stream labels: an ISO 8601 time to the millisecond (API reference example "2015-05-20T20:51:10.252").
STREAM_LABEL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}")


def streamed_table(scenario: Scenario, key: str, view: str, **options: Any) -> tuple[Table, dict[str, Any]]:
    """A table with one string HASH key ``key`` and a stream; returns it and CreateTable's TableDescription."""
    dynamodb = scenario.client("dynamodb")
    name = new_name("conf-rec")
    description = dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
        **(options or {"BillingMode": "PAY_PER_REQUEST"}),
    )["TableDescription"]
    table = Table(name, description["LatestStreamArn"], scenario.region, view)
    scenario.tables.append(table)
    dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    return table, description


def read_stream(scenario: Scenario, table: Table, count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(shards, records): every shard from AT_SEQUENCE_NUMBER of its StartingSequenceNumber, until
    ``count`` records were read (AWS makes them readable within seconds)."""
    streams = scenario.client("dynamodbstreams")
    shards = streams.describe_stream(StreamArn=table.stream_arn)["StreamDescription"]["Shards"]
    iterators = {
        shard["ShardId"]: streams.get_shard_iterator(
            StreamArn=table.stream_arn,
            ShardId=shard["ShardId"],
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=shard["SequenceNumberRange"]["StartingSequenceNumber"],
        )["ShardIterator"]
        for shard in shards
    }
    records: list[dict[str, Any]] = []

    def enough() -> bool:
        for shard_id, iterator in list(iterators.items()):
            if iterator is None:
                continue
            answer = streams.get_records(ShardIterator=iterator)
            records.extend(answer["Records"])
            iterators[shard_id] = answer.get("NextShardIterator")
        return len(records) >= count

    eventually(enough, scenario.backend.delivery, scenario.backend.poll * 4, f"{count} stream records")
    return shards, records


def test_a_keys_only_stream_records_every_change_once_partiql_included(scenario: Scenario) -> None:
    """A KEYS_ONLY stream: PutItem, the same PutItem again (no record), UpdateItem, DeleteItem, then
    PartiQL INSERT, UPDATE ... SET partiql=1 and DELETE give INSERT, MODIFY, REMOVE per item, keys
    only, eventVersion "1.1", SizeBytes 12 and 13; AT_SEQUENCE_NUMBER of the shard's
    StartingSequenceNumber reads them from the first; labels are milliseconds.

    Recorded: test_dynamodb.snapshot.json, TestDynamoDB::test_dynamodb_stream_stream_view_type
    (validated 2025-10-08); the label format from the DescribeStream example of AWS's API reference.
    """
    table, created = streamed_table(scenario, "Username", "KEYS_ONLY")
    assert STREAM_LABEL.fullmatch(created["LatestStreamLabel"]), created["LatestStreamLabel"]
    assert created["LatestStreamArn"].endswith("/stream/" + created["LatestStreamLabel"])
    dynamodb = scenario.client("dynamodb")
    dynamodb.put_item(TableName=table.name, Item={"Username": {"S": "Fred"}})
    dynamodb.put_item(TableName=table.name, Item={"Username": {"S": "Fred"}})
    dynamodb.update_item(
        TableName=table.name,
        Key={"Username": {"S": "Fred"}},
        UpdateExpression="set S=:r",
        ExpressionAttributeValues={":r": {"S": "Fred_Modified"}},
        ReturnValues="UPDATED_NEW",
    )
    dynamodb.delete_item(TableName=table.name, Key={"Username": {"S": "Fred"}})
    dynamodb.execute_statement(Statement=f"INSERT INTO \"{table.name}\" VALUE {{'Username': 'Alice'}}")
    dynamodb.execute_statement(Statement=f"UPDATE \"{table.name}\" SET partiql=1 WHERE Username='Alice'")
    dynamodb.execute_statement(Statement=f"DELETE FROM \"{table.name}\" WHERE Username='Alice'")

    shards, records = read_stream(scenario, table, 6)
    by_user: dict[str, list[tuple[str, int]]] = {}
    for record in sorted(records, key=lambda r: int(r["dynamodb"]["SequenceNumber"])):
        data = record["dynamodb"]
        assert set(data) == {"ApproximateCreationDateTime", "Keys", "SequenceNumber", "SizeBytes", "StreamViewType"}
        assert (record["eventSource"], record["eventVersion"], data["StreamViewType"]) == (
            "aws:dynamodb",
            "1.1",
            "KEYS_ONLY",
        )
        assert record["awsRegion"] == table.region
        by_user.setdefault(data["Keys"]["Username"]["S"], []).append((record["eventName"], data["SizeBytes"]))
    assert by_user == {
        "Fred": [("INSERT", 12), ("MODIFY", 12), ("REMOVE", 12)],
        "Alice": [("INSERT", 13), ("MODIFY", 13), ("REMOVE", 13)],
    }
    assert all(shard["ShardId"].startswith("shardId-") for shard in shards)


def test_update_item_records_one_insert_then_one_modify_after_the_shard_start(scenario: Scenario) -> None:
    """An UpdateItem that creates an item is one INSERT (SizeBytes 46), the same update again writes
    nothing, a changing update one MODIFY with both images (SizeBytes 80); the first record's
    SequenceNumber is above the shard's StartingSequenceNumber; ApproximateCreationDateTime is whole
    seconds.

    Recorded: test_dynamodb.snapshot.json, TestDynamoDB::test_dynamodb_stream_records_with_update_item
    (validated 2024-06-26; on AWS it asserts insert sequence number > StartingSequenceNumber).
    """
    table, _ = streamed_table(
        scenario,
        "id",
        "NEW_AND_OLD_IMAGES",
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
    )
    dynamodb = scenario.client("dynamodb")
    for first, second in (("value1", "value2"), ("value1", "value2"), ("value2", "value3")):
        dynamodb.update_item(
            TableName=table.name,
            Key={"id": {"S": "my-item-id"}},
            UpdateExpression="SET attr1 = :v1, attr2 = :v2",
            ExpressionAttributeValues={":v1": {"S": first}, ":v2": {"S": second}},
        )
    shards, records = read_stream(scenario, table, 2)
    time.sleep(scenario.backend.quiet)
    _, again = read_stream(scenario, table, 2)
    assert len(again) == 2, "the repeated update wrote no record"
    insert, modify = sorted(records, key=lambda r: int(r["dynamodb"]["SequenceNumber"]))
    assert (insert["eventName"], insert["dynamodb"]["SizeBytes"]) == ("INSERT", 46)
    assert insert["dynamodb"]["NewImage"] == {
        "attr1": {"S": "value1"},
        "attr2": {"S": "value2"},
        "id": {"S": "my-item-id"},
    }
    assert "OldImage" not in insert["dynamodb"]
    assert (modify["eventName"], modify["dynamodb"]["SizeBytes"]) == ("MODIFY", 80)
    assert modify["dynamodb"]["OldImage"] == insert["dynamodb"]["NewImage"]
    shard_start = {s["ShardId"]: int(s["SequenceNumberRange"]["StartingSequenceNumber"]) for s in shards}
    assert int(insert["dynamodb"]["SequenceNumber"]) > min(shard_start.values())
    assert all(r["dynamodb"]["ApproximateCreationDateTime"].microsecond == 0 for r in records)


def test_describe_stream_starts_after_the_exclusive_start_shard(scenario: Scenario) -> None:
    """DescribeStream with ExclusiveStartShardId lists only the shards after it.

    Recorded: test_dynamodb.py, TestDynamoDB::test_dynamodb_streams_describe_with_exclusive_start_shard_id
    (validated 2025-10-08; "AWS will often return 4 Shards" for a new table).
    """
    table, _ = streamed_table(scenario, "id", "NEW_AND_OLD_IMAGES")
    streams = scenario.client("dynamodbstreams")
    shards = streams.describe_stream(StreamArn=table.stream_arn)["StreamDescription"]["Shards"]
    assert len(shards) >= 1
    first = shards[0]["ShardId"]
    after = streams.describe_stream(StreamArn=table.stream_arn, ExclusiveStartShardId=first)["StreamDescription"]
    assert first not in {shard["ShardId"] for shard in after["Shards"]}
    assert [shard["ShardId"] for shard in after["Shards"]] == [shard["ShardId"] for shard in shards[1:]]


def test_describing_a_stream_that_does_not_exist_names_it(scenario: Scenario) -> None:
    """DescribeStream of a well-formed ARN that names no stream: 400 ResourceNotFoundException
    "Requested resource not found: Stream: <arn> not found", with the caller's account and region.

    Recorded: test_dynamodb_streams.snapshot.json, TestDynamoDBStreams::test_non_existent_stream
    (validated 2024-11-20).
    """
    account = scenario.client("sts").get_caller_identity()["Account"]
    arn = (
        f"arn:aws:dynamodb:{scenario.region}:{account}:table/{new_name('non-existent')}/stream/2024-11-18T14:36:44.149"
    )
    with pytest.raises(ClientError) as caught:
        scenario.client("dynamodbstreams").describe_stream(StreamArn=arn)
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"] == {
        "Code": "ResourceNotFoundException",
        "Message": f"Requested resource not found: Stream: {arn} not found",
    }


def test_create_table_answers_creating_with_a_table_id_and_only_awss_keys(scenario: Scenario) -> None:
    """CreateTable of a provisioned table without a stream answers TableStatus "CREATING", a TableId,
    and exactly AWS's members (no BillingModeSummary, no empty index lists, no WarmThroughput);
    DescribeTable gives the same TableId.

    Recorded: test_dynamodb.snapshot.json, TestDynamoDB::test_table_crud, "create-table" (validated
    2025-10-08).
    """
    dynamodb = scenario.client("dynamodb")
    name = new_name("conf-crud")
    created = dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
    )["TableDescription"]
    scenario.tables.append(Table(name, "", scenario.region, ""))
    assert set(created) == {
        "AttributeDefinitions",
        "CreationDateTime",
        "DeletionProtectionEnabled",
        "ItemCount",
        "KeySchema",
        "ProvisionedThroughput",
        "TableArn",
        "TableId",
        "TableName",
        "TableSizeBytes",
        "TableStatus",
    }
    assert created["TableStatus"] == "CREATING"
    assert created["ProvisionedThroughput"] == {
        "NumberOfDecreasesToday": 0,
        "ReadCapacityUnits": 5,
        "WriteCapacityUnits": 5,
    }
    dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    assert dynamodb.describe_table(TableName=name)["Table"]["TableId"] == created["TableId"]


def test_batch_and_transact_writes_answer_nothing_they_were_not_asked_for(scenario: Scenario) -> None:
    """BatchWriteItem answers {"UnprocessedItems": {}} and TransactWriteItems {}: no ConsumedCapacity
    or ItemCollectionMetrics unless the request asks for them.

    Recorded: test_dynamodb.snapshot.json, TestDynamoDB::test_batch_write_items (validated 2025-10-08)
    and TestDynamoDB::test_transaction_write_items (validated 2026-01-07).
    """
    table, _ = streamed_table(scenario, "id", "NEW_AND_OLD_IMAGES")
    dynamodb = scenario.client("dynamodb")
    batch = dynamodb.batch_write_item(RequestItems={table.name: [{"PutRequest": {"Item": {"id": {"S": "a"}}}}]})
    transact = dynamodb.transact_write_items(
        TransactItems=[{"Put": {"TableName": table.name, "Item": {"id": {"S": "b"}}}}]
    )
    assert {key: value for key, value in batch.items() if key != "ResponseMetadata"} == {"UnprocessedItems": {}}
    assert {key: value for key, value in transact.items() if key != "ResponseMetadata"} == {}
