"""handlers/analytics.py on captured INSERTs in the engine's tumbling-window envelope."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from tests.unit.handler_support import FakeContext, event, sequence_numbers


@pytest.fixture
def aggregates(streamlab_client: Callable[..., Any], streamlab_unique_name: Callable[[str], str]) -> str:
    name = streamlab_unique_name("aggregates")
    streamlab_client("dynamodb").create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "window_start", "AttributeType": "S"},
            {"AttributeName": "shard_id", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "window_start", "KeyType": "HASH"},
            {"AttributeName": "shard_id", "KeyType": "RANGE"},
        ],
    )
    return name


def items(streamlab_client: Callable[..., Any], table: str) -> list[dict[str, Any]]:
    return streamlab_client("dynamodb").scan(TableName=table)["Items"]


def test_state_accumulates_and_the_final_invoke_writes_the_window(load_handler, aggregates, streamlab_client) -> None:
    analytics = load_handler("analytics", AGGREGATES_TABLE=aggregates)
    window = event("orders_window")
    first = {**window, "Records": window["Records"][:1]}
    rest = {**window, "Records": window["Records"][1:]}

    response = analytics.handler(first, FakeContext())
    assert response == {"state": {"orders": 1, "revenue": "32.25"}, "batchItemFailures": []}
    rest["state"] = response["state"]  # Lambda carries the state to the next invocation
    response = analytics.handler(rest, FakeContext())
    assert response["state"] == {"orders": 3, "revenue": "66.50"}
    assert items(streamlab_client, aggregates) == []  # nothing written before the window closes

    final = event("orders_window_final")
    final["state"] = response["state"]
    assert analytics.handler(final, FakeContext()) == {"state": {"orders": 0, "revenue": "0"}, "batchItemFailures": []}
    (item,) = items(streamlab_client, aggregates)
    assert item["window_start"] == {"S": window["window"]["start"]}
    assert item["window_end"] == {"S": window["window"]["end"]}
    assert item["shard_id"] == {"S": window["shardId"]}
    assert (item["orders"], Decimal(item["revenue"]["N"])) == ({"N": "3"}, Decimal("66.50"))


def test_a_repeated_final_invoke_overwrites_the_same_item(load_handler, aggregates, streamlab_client) -> None:
    analytics = load_handler("analytics", AGGREGATES_TABLE=aggregates)
    final = event("orders_window_final")
    final["state"] = {"orders": 2, "revenue": "10.5"}
    analytics.handler(final, FakeContext())
    analytics.handler(final, FakeContext())
    (item,) = items(streamlab_client, aggregates)
    assert item["orders"] == {"N": "2"}


def test_a_failed_record_and_those_after_it_stay_out_of_the_state(load_handler, aggregates) -> None:
    analytics = load_handler("analytics", AGGREGATES_TABLE=aggregates)
    window = event("orders_window")
    seqs = sequence_numbers(window)
    del window["Records"][1]["dynamodb"]["NewImage"]["total"]
    response = analytics.handler(window, FakeContext())
    assert response["batchItemFailures"] == [{"itemIdentifier": seqs[1]}]
    # o-1003 succeeded but comes again with the retry from seqs[1]: counting it now would count it twice
    assert response["state"] == {"orders": 1, "revenue": "32.25"}
