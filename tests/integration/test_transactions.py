"""TransactWriteItems through boto3: all or nothing, AWS's cancellation reasons, idempotency tokens,
and one stream record per changed item, none for a cancelled transaction.

Follows the TransactWriteItems API reference (docs.aws.amazon.com/amazondynamodb/latest/APIReference/
API_TransactWriteItems.html, read 2026-12): CancellationReasons has one entry per item in request order,
``None`` for items that did not fail, ``ConditionalCheckFailed`` (with the item when
ReturnValuesOnConditionCheckFailure is ALL_OLD), ``ValidationError`` for e.g. a type mismatch in an update;
a ClientRequestToken makes the call idempotent for 10 minutes, and reusing it with other parameters is an
IdempotentParameterMismatchException; an item may appear once per transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from streamlab.streams import create_stream_table, first_shard_id


@pytest.fixture
def table(streamlab_client, streamlab_unique_name) -> dict[str, Any]:
    ddb = streamlab_client("dynamodb")
    streams = streamlab_client("dynamodbstreams")
    name = streamlab_unique_name("txn")
    arn = create_stream_table(ddb, name)
    ddb.put_item(TableName=name, Item={"pk": {"S": "stock"}, "count": {"N": "10"}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "gone"}, "v": {"S": "x"}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "text"}, "v": {"S": "words"}})
    shard = first_shard_id(streams, arn)
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]
    return {"name": name, "ddb": ddb, "streams": streams, "iterator": iterator}


def new_records(table: dict[str, Any]) -> list[dict[str, Any]]:
    """Records written since the fixture (or the last call), following the iterator."""
    answer = table["streams"].get_records(ShardIterator=table["iterator"])
    table["iterator"] = answer["NextShardIterator"]
    return answer["Records"]


def item(table: dict[str, Any], key: str) -> dict[str, Any] | None:
    return table["ddb"].get_item(TableName=table["name"], Key={"pk": {"S": key}}).get("Item")


def reserve(table: dict[str, Any], order: str, condition: str = "#c >= :n") -> list[dict[str, Any]]:
    """The demo's order_reserve shape: take stock and record the order, in one transaction."""
    name = table["name"]
    return [
        {
            "Update": {
                "TableName": name,
                "Key": {"pk": {"S": "stock"}},
                "UpdateExpression": "SET #c = #c - :n",
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#c": "count"},
                "ExpressionAttributeValues": {":n": {"N": "3"}},
            }
        },
        {"Put": {"TableName": name, "Item": {"pk": {"S": order}, "status": {"S": "Reserved"}}}},
        {"Delete": {"TableName": name, "Key": {"pk": {"S": "gone"}}}},
    ]


def test_a_transaction_writes_every_item_and_one_stream_record_each(table) -> None:
    table["ddb"].transact_write_items(TransactItems=reserve(table, "o-1"))
    assert item(table, "stock")["count"] == {"N": "7"}
    assert item(table, "o-1")["status"] == {"S": "Reserved"}
    assert item(table, "gone") is None
    records = new_records(table)
    assert [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in records] == [
        ("MODIFY", "stock"),
        ("INSERT", "o-1"),
        ("REMOVE", "gone"),
    ]
    assert records[0]["dynamodb"]["OldImage"]["count"] == {"N": "10"}
    assert records[0]["dynamodb"]["NewImage"]["count"] == {"N": "7"}


def test_a_failed_condition_cancels_every_item_and_writes_nothing(table) -> None:
    items = reserve(table, "o-2", condition="#c >= :n AND attribute_not_exists(locked)")
    items.append(
        {
            "ConditionCheck": {
                "TableName": table["name"],
                "Key": {"pk": {"S": "text"}},
                "ConditionExpression": "v = :w",
                "ExpressionAttributeValues": {":w": {"S": "other"}},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }
    )
    with pytest.raises(ClientError) as cancelled:
        table["ddb"].transact_write_items(TransactItems=items)
    error = cancelled.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    reasons = error["CancellationReasons"]
    assert [reason["Code"] for reason in reasons] == ["None", "None", "None", "ConditionalCheckFailed"]
    assert reasons[3]["Item"] == {"pk": {"S": "text"}, "v": {"S": "words"}}
    assert "[None, None, None, ConditionalCheckFailed]" in error["Error"]["Message"]
    assert item(table, "stock")["count"] == {"N": "10"}
    assert item(table, "o-2") is None
    assert item(table, "gone") is not None
    assert new_records(table) == []


def test_a_type_mismatch_in_one_update_is_a_validation_error_reason(table) -> None:
    items = [
        {"Put": {"TableName": table["name"], "Item": {"pk": {"S": "o-3"}}}},
        {
            "Update": {
                "TableName": table["name"],
                "Key": {"pk": {"S": "text"}},
                "UpdateExpression": "ADD v :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
    ]
    with pytest.raises(ClientError) as cancelled:
        table["ddb"].transact_write_items(TransactItems=items)
    assert [r["Code"] for r in cancelled.value.response["CancellationReasons"]] == ["None", "ValidationError"]
    assert item(table, "o-3") is None
    assert new_records(table) == []


def test_the_stream_keeps_flowing_after_a_cancelled_transaction(table) -> None:
    with pytest.raises(ClientError):
        table["ddb"].transact_write_items(TransactItems=reserve(table, "o-4", condition="#c > :big"))
    table["ddb"].put_item(TableName=table["name"], Item={"pk": {"S": "after"}})
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in new_records(table)] == ["after"]


def test_a_client_request_token_makes_the_call_idempotent(table) -> None:
    token = uuid.uuid4().hex
    items = reserve(table, "o-5")
    table["ddb"].transact_write_items(TransactItems=items, ClientRequestToken=token)
    table["ddb"].transact_write_items(TransactItems=items, ClientRequestToken=token)  # a retry: not applied again
    assert item(table, "stock")["count"] == {"N": "7"}
    assert len(new_records(table)) == 3
    with pytest.raises(ClientError) as mismatch:
        table["ddb"].transact_write_items(TransactItems=reserve(table, "o-6"), ClientRequestToken=token)
    assert mismatch.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert item(table, "o-6") is None
    table["ddb"].transact_write_items(TransactItems=reserve(table, "o-6"), ClientRequestToken=uuid.uuid4().hex)
    assert item(table, "stock")["count"] == {"N": "4"}


def test_two_operations_on_one_item_are_refused(table) -> None:
    key = {"pk": {"S": "stock"}}
    with pytest.raises(ClientError) as refused:
        table["ddb"].transact_write_items(
            TransactItems=[
                {"Delete": {"TableName": table["name"], "Key": key}},
                {
                    "ConditionCheck": {
                        "TableName": table["name"],
                        "Key": key,
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert item(table, "stock") is not None


@pytest.mark.parametrize("items", [[{}], []])
def test_an_item_without_exactly_one_action_is_a_validation_exception(streamlab_client, table, items) -> None:
    ddb = streamlab_client("dynamodb", config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as refused:
        ddb.transact_write_items(TransactItems=items)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
