"""Capture the unit tests' events from a real stream: ``python tests/unit/events/capture.py``.

The handler unit tests run on events that DynamoDB Streams produced, not hand-typed JSON:
this script starts an embedded endpoint (or uses ``--endpoint-url``), creates the demo's
Orders and Products tables with NEW_AND_OLD_IMAGES streams, makes the writes each scenario
needs, reads the records back with GetRecords and converts them to the records Lambda
delivers with streamlab's own converter (:func:`streamlab.emulator.esm.records.to_lambda_record`,
the code the event source mapping engine uses). Each scenario is saved as ``<name>.json``,
``{"Records": [...]}`` in stream order (plus the tumbling-window envelope for analytics, built
by the engine's :class:`~streamlab.emulator.esm.windows.TumblingWindow`).

Run it again after changing a scenario; eventIDs, sequence numbers and timestamps change,
nothing the tests assert on does.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
from boto3.dynamodb.types import Binary

from streamlab.emulator.esm.records import StreamRecord, to_lambda_record
from streamlab.emulator.esm.windows import TumblingWindow

HERE = Path(__file__).resolve().parent
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
WINDOW_SECONDS = 60


def order(order_id: str, customer: str, currency: str, items: list[tuple[str, int, str]]) -> dict[str, Any]:
    """An order as the demo writes it: status Created, version 1, total = sum of the items."""
    lines = [{"sku": sku, "qty": qty, "price": Decimal(price)} for sku, qty, price in items]
    return {
        "order_id": order_id,
        "customer_id": customer,
        "status": "Created",
        "version": 1,
        "currency": currency,
        "items": lines,
        "total": sum((line["qty"] * line["price"] for line in lines), Decimal(0)),
        "created_at": "2026-11-26T12:00:00Z",
        "written_at": Decimal(repr(time.time())),
    }


ORDERS = [
    order("o-1001", "c-1", "USD", [("sku-red-mug", 2, "12.50"), ("sku-blue-plate", 1, "7.25")]),
    order("o-1002", "c-2", "EUR", [("sku-red-mug", 1, "12.50")]),
    order("o-1003", "c-3", "GBP", [("sku-blue-plate", 3, "7.25")]),  # not a supported currency: the poison
]


def advance(table: Any, order_id: str, expected: str, next_status: str, version: int, **extra: Any) -> None:
    """What a pipeline stage does: a conditional status change that bumps the version."""
    names = {"#s": "status", "#v": "version"}
    values: dict[str, Any] = {":n": next_status, ":e": expected, ":seen": version, ":one": 1}
    sets = ["#s = :n", "#v = #v + :one"]
    for index, (name, value) in enumerate(extra.items()):
        names[f"#a{index}"], values[f":a{index}"] = name, value
        sets.append(f"#a{index} = :a{index}")
    table.update_item(
        Key={"order_id": order_id},
        UpdateExpression="SET " + ", ".join(sets),
        ConditionExpression="#s = :e AND #v = :seen",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def orders_created(orders: Any, products: Any) -> None:
    for item in ORDERS:
        orders.put_item(Item=item)


def order_lifecycle(orders: Any, products: Any) -> None:
    orders.put_item(Item=order("o-2001", "c-1", "USD", [("sku-red-mug", 2, "12.50")]))
    advance(orders, "o-2001", "Created", "Validated", 1, validated_at="2026-11-26T12:00:01Z")
    advance(orders, "o-2001", "Validated", "Paid", 2, payment_id="pay_0001", paid_at="2026-11-26T12:00:02Z")
    advance(orders, "o-2001", "Paid", "InventoryReserved", 3, reserved_at="2026-11-26T12:00:03Z")
    advance(
        orders,
        "o-2001",
        "InventoryReserved",
        "Shipped",
        4,
        tracking_number="TRK0001",
        shipped_at="2026-11-26T12:00:04Z",
    )


def products_changes(orders: Any, products: Any) -> None:
    products.put_item(
        Item={
            "sku": "sku-red-mug",
            "name": "Red mug",
            "price": Decimal("12.50"),
            "stock": 40,
            "tags": {"kitchen", "red"},
            "thumbnail": Binary(b"\x89PNG\r\n\x1a\n\x00\x01"),
            "dimensions": {"height_cm": Decimal("9.5"), "weights": [Decimal("0.35"), Decimal("0.1")]},
        }
    )
    products.update_item(
        Key={"sku": "sku-red-mug"},
        UpdateExpression="SET price = :p, stock = stock - :q",
        ExpressionAttributeValues={":p": Decimal("13.00"), ":q": 2},
    )
    products.put_item(Item={"sku": "sku-old-bowl", "name": "Old bowl", "price": Decimal("4"), "stock": 0})
    products.delete_item(Key={"sku": "sku-old-bowl"})


SCENARIOS: dict[str, Callable[[Any, Any], None]] = {
    "orders_created": orders_created,
    "order_lifecycle": order_lifecycle,
    "products_changes": products_changes,
}


def read_stream(streams: Any, stream_arn: str) -> list[dict[str, Any]]:
    """Every record of every shard, in order, as boto3 parses GetRecords."""
    records: list[dict[str, Any]] = []
    shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    for shard in shards:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            records += [dict(r, _shard=shard["ShardId"]) for r in page["Records"]]
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return records


def capture(endpoint_url: str, out: Path) -> list[Path]:
    session = boto3.Session(region_name=REGION, **CREDENTIALS)
    client = session.client("dynamodb", endpoint_url=endpoint_url)
    resource = session.resource("dynamodb", endpoint_url=endpoint_url)
    streams = session.client("dynamodbstreams", endpoint_url=endpoint_url)
    written: list[Path] = []
    for name, scenario in SCENARIOS.items():
        tables = {}
        for logical, key in (("Orders", "order_id"), ("Products", "sku")):
            # Same names as the demo stack, so eventSourceARN reads like the real thing.
            try:
                client.delete_table(TableName=logical)
                client.get_waiter("table_not_exists").wait(TableName=logical)
            except client.exceptions.ResourceNotFoundException:
                pass
            client.create_table(
                TableName=logical,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            )
            tables[logical] = client.describe_table(TableName=logical)["Table"]["LatestStreamArn"]
        scenario(resource.Table("Orders"), resource.Table("Products"))
        source = "Products" if name.startswith("products") else "Orders"
        raw = read_stream(streams, tables[source])
        event = {"Records": [to_lambda_record(r, tables[source]) for r in raw]}
        written.append(_save(out / f"{name}.json", event))
        if name == "orders_created":
            stream_records = [StreamRecord.from_stream(r, tables[source], r["_shard"]) for r in raw]
            window = TumblingWindow(WINDOW_SECONDS, stream_records[0].shard_id, tables[source])
            window.open_for(stream_records)
            written.append(_save(out / "orders_window.json", window.event(stream_records)))
            # The closing call: no records; the tests put in the state the handler returned.
            written.append(_save(out / "orders_window_final.json", window.event([], final=True)))
    return written


def _save(path: Path, event: dict[str, Any]) -> Path:
    path.write_text(json.dumps(event, indent=2, sort_keys=False) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url", help="an endpoint to use instead of starting an embedded one")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    if args.endpoint_url:
        paths = capture(args.endpoint_url, args.out)
    else:
        from streamlab.emulator.endpoint import EmbeddedEndpoint

        with EmbeddedEndpoint(port=0) as endpoint:
            paths = capture(endpoint.url, args.out)
    for path in paths:
        print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")


if __name__ == "__main__":
    main()
