"""Notifications: a new order -> an ``order-created`` message on the SNS topic.

The mapping's filter delivers only INSERT records of Orders. Each becomes one Publish with:

- body: ``{"type": "order-created", "order_id", "customer_id", "total", "currency",
  "created_at", "items"}`` (numbers exact, see :mod:`common.images`);
- message attributes ``event_type`` = ``order-created``, ``order_id``, ``customer_id`` and
  ``total`` (Number), so subscribers can filter without parsing the body.

A publish is not idempotent (every call is a new message), so each record is processed
through Powertools idempotency keyed on its ``eventID``: a redelivered record returns the
stored MessageId instead of publishing again.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.typing import LambdaContext
from common.idempotency import persistence_layer, record_config
from common.images import deserialize, plain
from common.streams import arn_for, as_dynamodb_stream_event

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
idempotency = record_config()

EVENT_TYPE = "order-created"
TOPIC = os.environ.get("NOTIFICATIONS_TOPIC", "")

_sns: Any = None
_topic_arn: str | None = None


def order_created_message(new_image: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """(body, MessageAttributes) for a new order's image (deserialized)."""
    order = plain(new_image)
    if "order_id" not in order:
        raise ValueError(f"an order needs an order_id: {sorted(order)}")
    body = {
        "type": EVENT_TYPE,
        "order_id": order["order_id"],
        "customer_id": order.get("customer_id"),
        "total": order.get("total"),
        "currency": order.get("currency"),
        "created_at": order.get("created_at"),
        "items": order.get("items", []),
    }
    attributes = {
        "event_type": {"DataType": "String", "StringValue": EVENT_TYPE},
        "order_id": {"DataType": "String", "StringValue": str(order["order_id"])},
    }
    if order.get("customer_id") is not None:
        attributes["customer_id"] = {"DataType": "String", "StringValue": str(order["customer_id"])}
    if new_image.get("total") is not None:
        attributes["total"] = {"DataType": "Number", "StringValue": str(new_image["total"])}
    return body, attributes


@idempotent_function(data_keyword_argument="record", config=idempotency, persistence_store=persistence_layer())
def publish_order_created(record: dict[str, Any]) -> dict[str, str]:
    """Publish once per stream record; the returned MessageId is what a duplicate gets back."""
    body, attributes = order_created_message(deserialize(record["dynamodb"].get("NewImage")))
    response = sns().publish(
        TopicArn=topic_arn(), Message=json.dumps(body, separators=(",", ":")), MessageAttributes=attributes
    )
    metrics.add_metric(name="OrderCreatedPublished", unit=MetricUnit.Count, value=1)
    logger.info("order-created published", extra={"order_id": body["order_id"], "message_id": response["MessageId"]})
    return {"order_id": str(body["order_id"]), "message_id": response["MessageId"]}


def record_handler(record: DynamoDBRecord) -> dict[str, str]:
    return publish_order_created(record=record.raw_event)


def sns() -> Any:
    global _sns
    if _sns is None:
        _sns = boto3.client("sns")
    return _sns


def topic_arn() -> str:
    if _topic_arn is None:
        raise RuntimeError("topic_arn() before the handler ran")
    return _topic_arn


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    global _topic_arn
    _topic_arn = arn_for(TOPIC, "sns", context.invoked_function_arn)
    idempotency.register_lambda_context(context)
    event = as_dynamodb_stream_event(event)  # the Orders changes arrive through Kinesis (setup/template.yaml)
    if not event.get("Records"):
        return {"batchItemFailures": []}
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
