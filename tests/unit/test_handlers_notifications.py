"""handlers/notifications.py on captured INSERTs: order-created on SNS, partial failure, idempotency."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.handler_support import FakeContext, event, sequence_numbers


@pytest.fixture
def topic_and_queue(
    streamlab_client: Callable[..., Any], streamlab_unique_name: Callable[[str], str]
) -> tuple[str, str]:
    """A topic (by name, as the stack passes it) and a queue subscribed with raw delivery."""
    sns, sqs = streamlab_client("sns"), streamlab_client("sqs")
    topic_name = streamlab_unique_name("order-notifications")
    topic_arn = sns.create_topic(Name=topic_name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=streamlab_unique_name("order-events"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    return topic_name, queue_url


def drain(streamlab_client: Callable[..., Any], queue_url: str) -> list[dict[str, Any]]:
    sqs, messages = streamlab_client("sqs"), []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not batch:
            return messages
        messages += batch
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )


@pytest.fixture
def notifications(load_handler, topic_and_queue, idempotency_table) -> Any:
    return load_handler("notifications", NOTIFICATIONS_TOPIC=topic_and_queue[0], IDEMPOTENCY_TABLE=idempotency_table)


def test_every_new_order_is_published_with_message_attributes(notifications, topic_and_queue, streamlab_client) -> None:
    assert notifications.handler(event("orders_created"), FakeContext()) == {"batchItemFailures": []}

    messages = drain(streamlab_client, topic_and_queue[1])
    bodies = sorted((json.loads(m["Body"]) for m in messages), key=lambda b: b["order_id"])
    assert [b["order_id"] for b in bodies] == ["o-1001", "o-1002", "o-1003"]
    first = bodies[0]
    assert first["type"] == "order-created"
    assert first["customer_id"] == "c-1"
    assert first["currency"] == "USD"
    assert first["total"] == 32.25
    assert first["items"][0] == {"sku": "sku-red-mug", "qty": 2, "price": 12.5}
    attributes = {m["MessageAttributes"]["order_id"]["StringValue"]: m["MessageAttributes"] for m in messages}
    assert attributes["o-1001"]["event_type"] == {"DataType": "String", "StringValue": "order-created"}
    assert attributes["o-1001"]["customer_id"]["StringValue"] == "c-1"
    assert attributes["o-1001"]["total"]["DataType"] == "Number"


def test_redelivered_records_are_not_published_again(notifications, topic_and_queue, streamlab_client) -> None:
    created = event("orders_created")
    notifications.handler(created, FakeContext())
    assert len(drain(streamlab_client, topic_and_queue[1])) == 3

    notifications.handler(event("orders_created"), FakeContext())  # the whole batch again
    notifications.handler({"Records": event("orders_created")["Records"][1:]}, FakeContext())
    assert drain(streamlab_client, topic_and_queue[1]) == []


def test_a_failed_record_is_reported_and_published_when_it_comes_again(
    notifications, topic_and_queue, streamlab_client
) -> None:
    created = event("orders_created")
    seqs = sequence_numbers(created)
    saved = created["Records"][1]["dynamodb"]["NewImage"].pop("order_id")
    assert notifications.handler(created, FakeContext()) == {"batchItemFailures": [{"itemIdentifier": seqs[1]}]}
    assert sorted(json.loads(m["Body"])["order_id"] for m in drain(streamlab_client, topic_and_queue[1])) == [
        "o-1001",
        "o-1003",
    ]

    # Lambda retries from the failed record; o-1003 comes again and must not be published twice.
    retry = {"Records": event("orders_created")["Records"][1:]}
    assert saved == retry["Records"][0]["dynamodb"]["NewImage"]["order_id"]
    assert notifications.handler(retry, FakeContext()) == {"batchItemFailures": []}
    assert [json.loads(m["Body"])["order_id"] for m in drain(streamlab_client, topic_and_queue[1])] == ["o-1002"]
