"""Query reads the queried partition only (moto read and sorted the whole table for each Query):
results, order, paging and filters stay as DynamoDB documents them (Query API reference, read
2026-12: items of one partition key in sort-key order, ScanIndexForward, Limit with
LastEvaluatedKey, FilterExpression after the key condition)."""

from __future__ import annotations

from typing import Any


def query_all(ddb: Any, **request: Any) -> list[int]:
    found: list[int] = []
    while True:
        answer = ddb.query(**request)
        found += [int(item["sk"]["N"]) for item in answer["Items"]]
        if "LastEvaluatedKey" not in answer:
            return found
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def test_query_pages_one_partition_in_order(streamlab_client, streamlab_unique_name) -> None:
    ddb = streamlab_client("dynamodb")
    table = streamlab_unique_name("query")
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for partition in ("a", "b", "c"):
        for sk in (5, 1, 4, 2, 3):
            ddb.put_item(
                TableName=table, Item={"pk": {"S": partition}, "sk": {"N": str(sk)}, "odd": {"BOOL": sk % 2 == 1}}
            )
    key = {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "b"}}}
    assert query_all(ddb, TableName=table, Limit=2, **key) == [1, 2, 3, 4, 5]
    assert query_all(ddb, TableName=table, Limit=2, ScanIndexForward=False, **key) == [5, 4, 3, 2, 1]
    odd = {
        "KeyConditionExpression": "pk = :p AND sk > :low",
        "FilterExpression": "odd = :t",
        "ExpressionAttributeValues": {":p": {"S": "c"}, ":low": {"N": "1"}, ":t": {"BOOL": True}},
    }
    assert query_all(ddb, TableName=table, **odd) == [3, 5]
    missing = {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "none"}}}
    assert query_all(ddb, TableName=table, **missing) == []
