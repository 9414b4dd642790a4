"""Analytics: revenue and order counts per tumbling window, written when the window closes.

The mapping sets TumblingWindowInSeconds and a filter on INSERT: every new order of the
window adds 1 to ``orders`` and its ``total`` to ``revenue``. Lambda carries the returned
``state`` from one invocation to the next within the window (per shard), and calls once more
with ``isFinalInvokeForWindow`` (and no records) when the window ends: that call writes one
item to the aggregates table, keyed ``window_start`` + ``shard_id``.

Why no idempotency table: the state Lambda keeps is the one the *successful* invocation
returned, so a failed or retried invocation contributes nothing twice; and the final write is
a PutItem of the whole aggregate under the window's key, so a repeated final call overwrites
it with the same values. Revenue travels in the state as a decimal string: state is JSON, and
a float would round money.

With ReportBatchItemFailures, only the records before the first failed one are folded into
the state: Lambda delivers that record and every later one again.
"""

from __future__ import annotations

import os
import time
from decimal import Decimal
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord, DynamoDBStreamEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from common.images import deserialize
from common.streams import as_dynamodb_stream_event

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)

AGGREGATES_TABLE = os.environ.get("AGGREGATES_TABLE", "")

_dynamodb: Any = None


def empty_state() -> dict[str, Any]:
    return {"orders": 0, "revenue": "0"}


def add(state: dict[str, Any], total: Decimal) -> dict[str, Any]:
    """A new state with one more order of ``total``."""
    return {
        "orders": int(state.get("orders", 0)) + 1,
        "revenue": str(Decimal(state.get("revenue", "0")) + total),
    }


def order_total(record: DynamoDBRecord) -> dict[str, str]:
    """The record's contribution, ``{"sequence_number", "total"}``; an order without a total fails."""
    stream = record.dynamodb
    if stream is None:
        raise ValueError(f"record {record.event_id} has no dynamodb section")
    image = deserialize(stream.get("NewImage"))
    total = image.get("total")
    if not isinstance(total, Decimal):
        raise ValueError(f"order {image.get('order_id')!r} has no numeric total")
    return {"sequence_number": str(stream.sequence_number), "total": str(total)}


def aggregate_item(window: dict[str, str], shard_id: str, state: dict[str, Any]) -> dict[str, Any]:
    """The aggregates table item (boto3 resource types) for a closed window."""
    return {
        "window_start": window["start"],
        "shard_id": shard_id,
        "window_end": window["end"],
        "orders": int(state.get("orders", 0)),
        "revenue": Decimal(state.get("revenue", "0")),
        "written_at": Decimal(str(round(time.time(), 3))),
    }


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    event = as_dynamodb_stream_event(event)  # the Orders changes arrive through Kinesis (setup/template.yaml)
    stream_event = DynamoDBStreamEvent(event)
    state = dict(stream_event.state or empty_state())
    failures: list[dict[str, str]] = []
    if event.get("Records"):
        contributions: list[dict[str, str]] = []

        def record_handler(record: DynamoDBRecord) -> dict[str, str]:
            contribution = order_total(record)
            contributions.append(contribution)
            return contribution

        response = process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
        failures = list(response.get("batchItemFailures", []))
        checkpoint = min((int(f["itemIdentifier"]) for f in failures), default=None)
        for contribution in contributions:
            if checkpoint is None or int(contribution["sequence_number"]) < checkpoint:
                state = add(state, Decimal(contribution["total"]))

    if stream_event.is_final_invoke_for_window:
        window = event.get("window") or {}
        item = aggregate_item(window, str(stream_event.shard_id), state)
        table().put_item(Item=item)
        metrics.add_metric(name="WindowsClosed", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="WindowOrders", unit=MetricUnit.Count, value=item["orders"])
        logger.info(
            "window aggregate written",
            extra={
                "window": window,
                "orders": item["orders"],
                "revenue": str(item["revenue"]),
                "terminated_early": bool(stream_event.is_window_terminated_early),
            },
        )
        state = empty_state()
    return {"state": state, "batchItemFailures": failures}


def table() -> Any:
    global _dynamodb
    if _dynamodb is None:
        _dynamodb = boto3.resource("dynamodb")
    return _dynamodb.Table(AGGREGATES_TABLE)
