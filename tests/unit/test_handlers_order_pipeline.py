"""handlers/order_pipeline.py stage by stage on captured Orders records."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from tests.unit.handler_support import FakeContext, event, sequence_numbers


@pytest.fixture
def tables(streamlab_client: Callable[..., Any], streamlab_unique_name: Callable[[str], str]) -> dict[str, str]:
    client = streamlab_client("dynamodb")
    names = {"orders": streamlab_unique_name("orders"), "products": streamlab_unique_name("products")}
    for name, key in ((names["orders"], "order_id"), (names["products"], "sku")):
        client.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        )
    for sku, stock in (("sku-red-mug", "10"), ("sku-blue-plate", "1")):
        client.put_item(TableName=names["products"], Item={"sku": {"S": sku}, "stock": {"N": stock}})
    return names


@pytest.fixture
def pipeline(load_handler, tables, idempotency_table) -> Callable[..., Any]:
    def load(**extra: str) -> Any:
        return load_handler(
            "order_pipeline",
            ORDERS_TABLE=tables["orders"],
            PRODUCTS_TABLE=tables["products"],
            IDEMPOTENCY_TABLE=idempotency_table,
            **extra,
        )

    return load


def put_images(streamlab_client: Callable[..., Any], table: str, evt: dict[str, Any]) -> None:
    """The table as it was when the records were written: each record's NewImage."""
    for record in evt["Records"]:
        streamlab_client("dynamodb").put_item(TableName=table, Item=record["dynamodb"]["NewImage"])


def order(streamlab_client: Callable[..., Any], table: str, order_id: str) -> dict[str, Any]:
    return streamlab_client("dynamodb").get_item(
        TableName=table, Key={"order_id": {"S": order_id}}, ConsistentRead=True
    )["Item"]


def stock(streamlab_client: Callable[..., Any], table: str, sku: str) -> int:
    return int(streamlab_client("dynamodb").get_item(TableName=table, Key={"sku": {"S": sku}})["Item"]["stock"]["N"])


def test_validate_advances_good_orders_and_reports_the_poison(pipeline, tables, streamlab_client) -> None:
    created = event("orders_created")
    put_images(streamlab_client, tables["orders"], created)
    seqs = sequence_numbers(created)
    stages = pipeline()

    assert stages.validate(created, FakeContext()) == {"batchItemFailures": [{"itemIdentifier": seqs[2]}]}
    assert [order(streamlab_client, tables["orders"], o)["status"]["S"] for o in ("o-1001", "o-1002", "o-1003")] == [
        "Validated",
        "Validated",
        "Created",
    ]
    assert order(streamlab_client, tables["orders"], "o-1001")["version"] == {"N": "2"}
    assert "validated_at" in order(streamlab_client, tables["orders"], "o-1001")


def test_the_poison_alone_is_a_function_error_so_the_mapping_retries_and_gives_up(
    pipeline, tables, streamlab_client
) -> None:
    created = event("orders_created")
    put_images(streamlab_client, tables["orders"], created)
    with pytest.raises(BatchProcessingError, match="currency GBP is not one of EUR, USD"):
        pipeline().validate({"Records": created["Records"][2:]}, FakeContext())


def test_after_the_fix_the_same_record_goes_through(pipeline, tables, streamlab_client) -> None:
    created = event("orders_created")
    put_images(streamlab_client, tables["orders"], created)
    poison = {"Records": created["Records"][2:]}
    with pytest.raises(BatchProcessingError):
        pipeline().validate(poison, FakeContext())
    # A failed record leaves no idempotency record behind, so the redrive really processes it.
    assert pipeline(SUPPORTED_CURRENCIES="USD,EUR,GBP").validate(poison, FakeContext()) == {"batchItemFailures": []}
    assert order(streamlab_client, tables["orders"], "o-1003")["status"] == {"S": "Validated"}


def test_redelivered_records_do_not_advance_twice(pipeline, tables, streamlab_client) -> None:
    created = event("orders_created")
    put_images(streamlab_client, tables["orders"], created)
    stages = pipeline()
    stages.validate({"Records": created["Records"][:2]}, FakeContext())
    before = order(streamlab_client, tables["orders"], "o-1001")
    assert stages.validate({"Records": created["Records"][:2]}, FakeContext()) == {"batchItemFailures": []}
    assert order(streamlab_client, tables["orders"], "o-1001") == before


def test_a_stale_record_is_skipped_by_the_conditional_write(pipeline, tables, streamlab_client) -> None:
    lifecycle = event("order_lifecycle")
    validated = lifecycle["Records"][1]  # MODIFY -> Validated, version 2
    put_images(streamlab_client, tables["orders"], {"Records": [lifecycle["Records"][-1]]})  # the order already shipped
    assert pipeline().charge({"Records": [validated]}, FakeContext()) == {"batchItemFailures": []}
    assert order(streamlab_client, tables["orders"], "o-2001")["status"] == {"S": "Shipped"}


def test_each_stage_moves_the_order_one_step_and_reserve_takes_stock(pipeline, tables, streamlab_client) -> None:
    lifecycle = event("order_lifecycle")
    stages = pipeline()
    steps = [
        (stages.validate, 0, "Validated"),
        (stages.charge, 1, "Paid"),
        (stages.reserve, 2, "InventoryReserved"),
        (stages.ship, 3, "Shipped"),
    ]
    for stage, index, expected in steps:
        record = lifecycle["Records"][index]
        put_images(streamlab_client, tables["orders"], {"Records": [record]})
        assert stage({"Records": [record]}, FakeContext()) == {"batchItemFailures": []}
        assert order(streamlab_client, tables["orders"], "o-2001")["status"] == {"S": expected}
    shipped = order(streamlab_client, tables["orders"], "o-2001")
    assert shipped["payment_id"]["S"].startswith("pay_")
    assert shipped["tracking_number"]["S"].startswith("TRK")
    assert stock(streamlab_client, tables["products"], "sku-red-mug") == 8


def test_reserve_without_stock_fails_and_takes_nothing(pipeline, tables, streamlab_client) -> None:
    paid = event("order_lifecycle")["Records"][2]
    for item in paid["dynamodb"]["NewImage"]["items"]["L"]:
        item["M"]["sku"] = {"S": "sku-blue-plate"}  # stock 1, the order wants 2
    put_images(streamlab_client, tables["orders"], {"Records": [paid]})
    with pytest.raises(BatchProcessingError, match="not enough stock for sku-blue-plate"):
        pipeline().reserve({"Records": [paid]}, FakeContext())
    assert stock(streamlab_client, tables["products"], "sku-blue-plate") == 1
    assert order(streamlab_client, tables["orders"], "o-2001")["status"] == {"S": "Paid"}
