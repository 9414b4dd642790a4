"""The demo stack end to end on the embedded endpoint: a write, and every effect it should have.

One order written with boto3 must: advance Created -> Validated -> Paid -> InventoryReserved
-> Shipped (four functions, filtered on NewImage.status, conditional writes), publish
order-created to SNS and reach the subscribed queue, be audited to S3 (JSON Lines per batch),
count in the analytics window's aggregate, show in the probe's log, and, by taking stock, make
the product's Redis keys go. A poison order ends in the DLQ with the AWS failure record shape
and goes through after the fix and a redrive.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from streamlab.redrive import redrive
from tests.integration.demo_stack import DemoStack, wait_for

redis = pytest.importorskip("redis")
pytestmark = pytest.mark.slow


def order_status(demo: DemoStack, order_id: str) -> dict[str, Any]:
    return demo.table("Orders").get_item(Key={"order_id": order_id}, ConsistentRead=True).get("Item", {})


def messages(demo: DemoStack, queue: str, visibility: int = 30) -> Iterator[dict[str, Any]]:
    """Every message in ``queue`` once. With ``visibility=0`` they stay visible: a batch of only
    already-seen messages ends the walk (instead of reading the same ones forever)."""
    sqs = demo.client("sqs")
    url = demo.queue_url(queue)
    seen: set[str] = set()
    while True:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            VisibilityTimeout=visibility,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        fresh = [m for m in batch if m["MessageId"] not in seen]
        if not fresh:
            return
        seen.update(m["MessageId"] for m in fresh)
        yield from fresh


def audit_lines(demo: DemoStack, table: str) -> list[dict[str, Any]]:
    s3, bucket = demo.client("s3"), demo.name("streamlab-audit-trail")
    found: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{demo.name(table)}/"):
        for entry in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read().decode()
            found += [dict(json.loads(line), _key=entry["Key"]) for line in body.splitlines()]
    return found


@pytest.fixture(scope="module")
def cache(redis_url: str) -> Iterator[Any]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def test_an_order_reaches_shipped_and_every_effect_is_seen(demo: DemoStack, cache: Any) -> None:
    cache.set("product:sku-red-mug", b"cached")
    cache.sadd("product:sku-red-mug:keys", "product:sku-red-mug:price")
    cache.set("product:sku-red-mug:price", b"12.50")
    order = demo.new_order()
    demo.table("Orders").put_item(Item=order)
    oid = order["order_id"]

    shipped = wait_for(
        lambda: (item := order_status(demo, oid)).get("status") == "Shipped" and item,
        message=f"order {oid} to reach Shipped",
    )
    assert shipped["version"] == 5
    assert shipped["payment_id"].startswith("pay_")
    assert shipped["tracking_number"].startswith("TRK")

    # notifications: order-created on the topic -> the subscribed queue (raw delivery)
    def notification() -> dict[str, Any] | None:
        return next((m for m in messages(demo, "order-events") if json.loads(m["Body"]).get("order_id") == oid), None)

    message = wait_for(notification, message="the order-created notification")
    body = json.loads(message["Body"])
    assert body["type"] == "order-created"
    assert body["total"] == 32.25
    assert body["currency"] == "USD"
    assert message["MessageAttributes"]["event_type"]["StringValue"] == "order-created"
    assert message["MessageAttributes"]["order_id"]["StringValue"] == oid

    # audit trail: the INSERT and the four stage MODIFYs, with images and changed attributes
    def audited() -> list[dict[str, Any]] | None:
        lines = [line for line in audit_lines(demo, "Orders") if line["keys"] == {"order_id": oid}]
        return lines if len(lines) == 5 else None

    lines = wait_for(audited, message="five audit lines for the order")
    assert [line["eventName"] for line in lines] == ["INSERT"] + ["MODIFY"] * 4
    assert [line["new_image"]["status"] for line in lines] == [
        "Created",
        "Validated",
        "Paid",
        "InventoryReserved",
        "Shipped",
    ]
    assert "status" in lines[1]["changed_attributes"]
    assert "version" in lines[1]["changed_attributes"]
    table, _year, _month, _day, shard, name = lines[0]["_key"].split("/")
    assert table == demo.name("Orders")
    assert shard.startswith("shardId-")
    assert name.endswith(".jsonl")

    # inventory: stock taken in the reserve transaction; the Products MODIFY invalidated the cache
    wait_for(
        lambda: cache.exists("product:sku-red-mug", "product:sku-red-mug:keys", "product:sku-red-mug:price") == 0,
        message="the product's Redis keys to be deleted",
    )

    # probe: one JSON line per record of the order in the probe's log group
    logs = demo.client("logs")

    def probed() -> list[dict[str, Any]] | None:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{demo.name('probe')}", filterPattern=f'"{oid}"').get(
            "events", []
        )
        found = [json.loads(line) for e in events for line in e["message"].splitlines() if line.startswith('{"probe"')]
        found = [line for line in found if line["key"] == oid]
        return found if len(found) >= 5 else None

    probe_lines = wait_for(probed, message="the probe's lines for the order")
    assert sorted(line["version"] for line in probe_lines)[:5] == [1, 2, 3, 4, 5]
    assert all(line["processed_at"] >= line["written_at"] for line in probe_lines)


def test_aggregates_are_written_per_window(demo: DemoStack) -> None:
    orders = [demo.new_order(items=[("sku-blue-plate", 1, "10.00")]) for _ in range(3)]
    for order in orders:
        demo.table("Orders").put_item(Item=order)
    ids = {order["order_id"] for order in orders}

    def settled() -> list[dict[str, Any]] | None:
        created = [i for i in demo.table("Orders").scan(ConsistentRead=True)["Items"]]
        windows = demo.table("OrderAggregates").scan(ConsistentRead=True)["Items"]
        counted = sum(int(w["orders"]) for w in windows)
        return windows if ids <= {i["order_id"] for i in created} and counted == len(created) else None

    windows = wait_for(settled, timeout=40, message="every order to be counted in a closed window")
    total = sum(Decimal(w["revenue"]) for w in windows)
    created = demo.table("Orders").scan(ConsistentRead=True)["Items"]
    assert total == sum(Decimal(i["total"]) for i in created)
    for window in windows:
        assert window["window_start"] < window["window_end"]
        assert window["shard_id"].startswith("shardId-")


def test_a_poison_order_lands_in_the_dlq_and_is_redriven_after_the_fix(demo: DemoStack) -> None:
    poison = demo.new_order(currency="GBP")
    demo.table("Orders").put_item(Item=poison)
    validate_arn = demo.client("lambda").get_function(FunctionName=demo.name("order_validate"))["Configuration"][
        "FunctionArn"
    ]

    def failure() -> dict[str, Any] | None:
        for message in messages(demo, "orders-dlq", visibility=0):
            record = json.loads(message["Body"])
            if record["requestContext"]["functionArn"] == validate_arn:
                return record
        return None

    record = wait_for(failure, message="the on-failure record of order_validate")
    assert set(record) == {"requestContext", "responseContext", "version", "timestamp", "DDBStreamBatchInfo"}
    assert record["version"] == "1.0"
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3  # the first try and maximum_retry_attempts = 2
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    info = record["DDBStreamBatchInfo"]
    assert set(info) == {
        "shardId",
        "startSequenceNumber",
        "endSequenceNumber",
        "approximateArrivalOfFirstRecord",
        "approximateArrivalOfLastRecord",
        "batchSize",
        "streamArn",
    }
    assert info["batchSize"] == 1
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    assert f"table/{demo.name('Orders')}/stream/" in info["streamArn"]
    assert order_status(demo, poison["order_id"])["status"] == "Created"

    # Before the fix the redrive fails again and leaves the message where it is.
    lines: list[str] = []
    before = redrive(demo.queue_url("orders-dlq"), endpoint_url=demo.endpoint_url, region=demo.region, log=lines.append)
    mine = [o for o in before.outcomes if o.function_arn == validate_arn]
    assert [o.status for o in mine] == ["failed"]
    assert "currency GBP" in mine[0].detail

    # The fix: the business now sells in GBP.
    lam = demo.client("lambda")
    config = lam.get_function_configuration(FunctionName=validate_arn)
    variables = dict(config["Environment"]["Variables"], SUPPORTED_CURRENCIES="USD,EUR,GBP")
    lam.update_function_configuration(FunctionName=validate_arn, Environment={"Variables": variables})

    after = redrive(demo.name("orders-dlq"), endpoint_url=demo.endpoint_url, region=demo.region, log=lines.append)
    mine = [o for o in after.outcomes if o.function_arn == validate_arn]
    assert [(o.status, o.records) for o in mine] == [("redriven", 1)], lines
    assert any("redriven message" in line for line in lines)
    assert lines[-1] == after.summary
    wait_for(
        lambda: order_status(demo, poison["order_id"]).get("status") == "Shipped",
        message="the redriven order to reach Shipped",
    )
    assert failure() is None  # the message was deleted
