"""The order pipeline: Created -> Validated -> Paid -> InventoryReserved -> Shipped.

Each stage is its own function (``order_pipeline.validate``, ``.charge``, ``.reserve``,
``.ship``) behind its own event source mapping, whose filter delivers only records whose
``NewImage.status`` is the stage's input status (validate: INSERT of a Created order; the
others: MODIFY). A stage does its work and advances the order with a conditional write::

    SET status = <next>, version = version + 1 ... IF status = <expected> AND version = <seen>

so an order moves exactly once per stage however often its record is delivered: a duplicate
(or a record made stale by a later write) fails the condition and is skipped, and the later
write's own record brings the stage round again if the order still needs it. On top of that,
each record goes through Powertools idempotency keyed on its ``eventID``, so a redelivered
record does not repeat a stage's side effects (the payment call, the stock reservation).

Validation failures are errors, not skips: the record is reported failed
(ReportBatchItemFailures), the mapping bisects and retries, and when its retries are exhausted
the on-failure destination receives the batch's coordinates; ``streamlab redrive`` re-invokes
it after the fix (for instance a currency added to ``SUPPORTED_CURRENCIES``).

Reserving inventory decrements each product's ``stock`` in the same transaction as the order's
advance, so stock is never taken for an order that does not move (or twice for one that does).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError
from common.idempotency import persistence_layer, record_config
from common.images import deserialize

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
idempotency = record_config()
persistence = persistence_layer()

ORDERS_TABLE = os.environ.get("ORDERS_TABLE", "")
PRODUCTS_TABLE = os.environ.get("PRODUCTS_TABLE", "")
SUPPORTED_CURRENCIES = frozenset(
    c.strip().upper() for c in os.environ.get("SUPPORTED_CURRENCIES", "USD,EUR").split(",") if c.strip()
)

CREATED, VALIDATED, PAID, RESERVED, SHIPPED = "Created", "Validated", "Paid", "InventoryReserved", "Shipped"

_dynamodb: Any = None


class OrderValidationError(ValueError):
    """The order cannot go on as it is; it must fail (and end in the on-failure destination)."""


class InsufficientStockError(RuntimeError):
    """A product does not have the stock the order needs (retried: stock may be replenished)."""


@dataclass(frozen=True)
class Stage:
    """One step: orders in ``expects`` are moved to ``advances_to`` after ``work`` (extra attributes)."""

    name: str
    expects: str
    advances_to: str
    work: Callable[[dict[str, Any]], dict[str, Any]]


# --- the work of each stage: pure functions of the order image, easy to test ----------------


def validate_order(order: dict[str, Any]) -> dict[str, Any]:
    """Check an order (deserialized image); raises :class:`OrderValidationError` naming every problem."""
    problems: list[str] = []
    if not order.get("customer_id"):
        problems.append("no customer_id")
    currency = str(order.get("currency", "")).upper()
    if currency not in SUPPORTED_CURRENCIES:
        problems.append(f"currency {currency or '(none)'} is not one of {', '.join(sorted(SUPPORTED_CURRENCIES))}")
    items = order.get("items")
    computed = Decimal(0)
    if not isinstance(items, list) or not items:
        problems.append("no items")
    else:
        for index, item in enumerate(items):
            qty, price = item.get("qty"), item.get("price")
            if not item.get("sku"):
                problems.append(f"items[{index}] has no sku")
            if not isinstance(qty, Decimal) or qty <= 0 or qty != qty.to_integral_value():
                problems.append(f"items[{index}].qty must be a positive whole number, got {qty}")
            elif not isinstance(price, Decimal) or price < 0:
                problems.append(f"items[{index}].price must be a non-negative number, got {price}")
            else:
                computed += qty * price
    total = order.get("total")
    if not problems and total != computed:
        problems.append(f"total {total} is not the sum of the items ({computed})")
    if problems:
        raise OrderValidationError(f"order {order.get('order_id')!r}: " + "; ".join(problems))
    return {"validated_at": _now()}


def charge_order(order: dict[str, Any]) -> dict[str, Any]:
    """Take the payment. A real payment provider gets the order id as its idempotency key."""
    payment_id = "pay_" + hashlib.sha256(f"payment:{order['order_id']}".encode()).hexdigest()[:16]
    return {"payment_id": payment_id, "paid_at": _now()}


def reserve_inventory(order: dict[str, Any]) -> dict[str, Any]:
    """Nothing to add to the order: the stock decrements join the advance's transaction."""
    return {"reserved_at": _now()}


def ship_order(order: dict[str, Any]) -> dict[str, Any]:
    tracking = "TRK" + hashlib.sha256(f"shipment:{order['order_id']}".encode()).hexdigest()[:12].upper()
    return {"tracking_number": tracking, "shipped_at": _now()}


STAGES = {
    stage.name: stage
    for stage in (
        Stage("validate", CREATED, VALIDATED, validate_order),
        Stage("charge", VALIDATED, PAID, charge_order),
        Stage("reserve", PAID, RESERVED, reserve_inventory),
        Stage("ship", RESERVED, SHIPPED, ship_order),
    )
}


# --- advancing an order ------------------------------------------------------------------------


def advance_update(stage: Stage, order: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """The conditional UpdateItem (low-level client shape) that moves ``order`` past ``stage``."""
    serializer = TypeSerializer()
    names = {"#status": "status", "#version": "version", "#updated_at": "updated_at"}
    values: dict[str, Any] = {
        ":next": {"S": stage.advances_to},
        ":expected": {"S": stage.expects},
        ":seen": serializer.serialize(order["version"]),
        ":one": {"N": "1"},
        ":now": {"S": _now()},
    }
    sets = ["#status = :next", "#version = #version + :one", "#updated_at = :now"]
    for index, (name, value) in enumerate(sorted(extra.items())):
        names[f"#a{index}"] = name
        values[f":a{index}"] = serializer.serialize(value)
        sets.append(f"#a{index} = :a{index}")
    return {
        "TableName": ORDERS_TABLE,
        "Key": {"order_id": {"S": str(order["order_id"])}},
        "UpdateExpression": "SET " + ", ".join(sets),
        "ConditionExpression": "#status = :expected AND #version = :seen",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def stock_updates(order: dict[str, Any]) -> list[dict[str, Any]]:
    """One conditional stock decrement per ordered product (TransactWriteItems ``Update`` entries)."""
    wanted: dict[str, Decimal] = {}
    for item in order.get("items", []):
        wanted[str(item["sku"])] = wanted.get(str(item["sku"]), Decimal(0)) + Decimal(item["qty"])
    return [
        {
            "Update": {
                "TableName": PRODUCTS_TABLE,
                "Key": {"sku": {"S": sku}},
                "UpdateExpression": "SET #stock = #stock - :qty",
                "ConditionExpression": "#stock >= :qty",
                "ExpressionAttributeNames": {"#stock": "stock"},
                "ExpressionAttributeValues": {":qty": {"N": str(qty)}},
            }
        }
        for sku, qty in sorted(wanted.items())
    ]


def advance(stage: Stage, order: dict[str, Any]) -> dict[str, str]:
    """Do the stage's work and move the order on; a stale or duplicate record is skipped."""
    if order.get("status") != stage.expects:
        return _skipped(stage, order, f"status is {order.get('status')!r}")
    extra = stage.work(order)
    update = advance_update(stage, order, extra)
    try:
        if stage.name == "reserve":
            client().transact_write_items(TransactItems=[{"Update": update}, *stock_updates(order)])
        else:
            client().update_item(**update)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code not in ("ConditionalCheckFailedException", "TransactionCanceledException"):
            raise
        current = client().get_item(TableName=ORDERS_TABLE, Key=update["Key"], ConsistentRead=True).get("Item", {})
        now = deserialize(current)
        if now.get("status") != stage.expects or now.get("version") != order.get("version"):
            return _skipped(
                stage, order, f"the order moved on (status {now.get('status')!r}, version {now.get('version')})"
            )
        if stage.name == "reserve":
            raise InsufficientStockError(f"order {order['order_id']!r}: not enough stock for {_skus(order)}") from error
        raise
    metrics.add_metric(name=f"Orders{stage.advances_to}", unit=MetricUnit.Count, value=1)
    logger.info("order advanced", extra={"order_id": order["order_id"], "from": stage.expects, "to": stage.advances_to})
    return {"order_id": str(order["order_id"]), "status": stage.advances_to}


def _skipped(stage: Stage, order: dict[str, Any], why: str) -> dict[str, str]:
    metrics.add_metric(name="StaleRecordsSkipped", unit=MetricUnit.Count, value=1)
    logger.info("record skipped", extra={"order_id": order.get("order_id"), "stage": stage.name, "reason": why})
    return {"order_id": str(order.get("order_id")), "status": "skipped"}


# --- handlers -------------------------------------------------------------------------------


def _stage_process(stage: Stage) -> Callable[..., dict[str, str]]:
    """The stage's work on one record, once per record (Powertools idempotency on its eventID)."""

    @idempotent_function(
        data_keyword_argument="record",
        config=idempotency,
        persistence_store=persistence,
        key_prefix=f"order_pipeline.{stage.name}",
    )
    def process(record: dict[str, Any]) -> dict[str, str]:
        return advance(stage, deserialize((record.get("dynamodb") or {}).get("NewImage")))

    return process


PROCESS = {name: _stage_process(stage) for name, stage in STAGES.items()}
#: The stage each status is the input of: ``handler`` dispatches on it.
STAGE_FOR_STATUS = {stage.expects: name for name, stage in STAGES.items()}


def _stage_handler(stage: Stage) -> Callable[[dict[str, Any], LambdaContext], PartialItemFailureResponse]:
    process = PROCESS[stage.name]

    def record_handler(record: DynamoDBRecord) -> dict[str, str]:
        return process(record=record.raw_event)

    @logger.inject_lambda_context
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        logger.append_keys(stage=stage.name)
        idempotency.register_lambda_context(context)
        if not event.get("Records"):
            return {"batchItemFailures": []}
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    handler.__name__ = handler.__qualname__ = stage.name
    return handler


def _dispatch(record: DynamoDBRecord) -> dict[str, str]:
    image = deserialize((record.raw_event.get("dynamodb") or {}).get("NewImage"))
    name = STAGE_FOR_STATUS.get(str(image.get("status")))
    if name is None:  # no stage takes this status (Shipped, or a record the filter let through)
        return {"order_id": str(image.get("order_id")), "status": "skipped"}
    return PROCESS[name](record=record.raw_event)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """Every stage behind one mapping: each record goes to the stage its status is the input of.

    One reader of the Orders stream instead of four (AWS advises at most two per shard); the
    mapping's filter lists the four stages' patterns, so it still delivers only their records.
    """
    idempotency.register_lambda_context(context)
    if not event.get("Records"):
        return {"batchItemFailures": []}
    return process_partial_response(event=event, record_handler=_dispatch, processor=processor, context=context)


validate = _stage_handler(STAGES["validate"])
charge = _stage_handler(STAGES["charge"])
reserve = _stage_handler(STAGES["reserve"])
ship = _stage_handler(STAGES["ship"])


def client() -> Any:
    global _dynamodb
    if _dynamodb is None:
        _dynamodb = boto3.client("dynamodb")
    return _dynamodb


def _skus(order: dict[str, Any]) -> str:
    return ", ".join(sorted({str(item.get("sku")) for item in order.get("items", [])}))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
