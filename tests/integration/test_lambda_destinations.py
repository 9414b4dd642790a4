"""OnSuccess / OnFailure destinations other than SQS: an SNS topic, another function, an EventBridge bus.

Record shapes as in test_lambda_async_config.py (LocalStack's AWS-recorded TestLambdaDestinationSqs,
2024-03-21); EventBridge's envelope per invocation-async-retain-records.html (Source ``lambda``,
DetailType ``Lambda Function Invocation Result - Success`` / ``- Failure``, the record as detail).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from streamlab.testing import eventually

FAILS = """
def handler(event, context):
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    return {"ok": event}
"""

#: A function that forwards the event it receives to a queue (the Lambda destination's receiver).
FORWARDS = """
import json, os
import boto3

def handler(event, context):
    boto3.client("sqs").send_message(QueueUrl=os.environ["SEEN_URL"], MessageBody=json.dumps(event))
"""


@pytest.fixture
def sqs(streamlab_client: Callable[..., Any]) -> Any:
    return streamlab_client("sqs")


def _queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _bodies(sqs: Any, url: str, count: int) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = []

    def enough() -> bool:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(bodies) >= count

    eventually(enough, timeout=30, interval=0.2)
    return bodies


def test_sns_topic_destination(
    sqs: Any,
    lambda_client: Any,
    make_function: Callable[..., str],
    streamlab_client: Callable[..., Any],
    streamlab_unique_name: Callable[[str], str],
) -> None:
    url, queue_arn = _queue(sqs, streamlab_unique_name("via-topic"))
    sns = streamlab_client("sns")
    topic = sns.create_topic(Name=streamlab_unique_name("records"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    name = make_function(FAILS)
    lambda_client.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": topic}}
    )
    lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"fail": true}')
    [notification] = _bodies(sqs, url, 1)
    assert notification["TopicArn"] == topic
    record = json.loads(notification["Message"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"] == {"fail": True}


def test_function_destination_is_invoked_with_the_record(
    sqs: Any,
    lambda_client: Any,
    make_function: Callable[..., str],
    streamlab_unique_name: Callable[[str], str],
) -> None:
    seen_url, _ = _queue(sqs, streamlab_unique_name("seen"))
    receiver = make_function(FORWARDS, Environment={"Variables": {"SEEN_URL": seen_url}})
    receiver_arn = lambda_client.get_function(FunctionName=receiver)["Configuration"]["FunctionArn"]
    name = make_function(FAILS)
    lambda_client.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": receiver_arn}}
    )
    lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 3}')
    [record] = _bodies(sqs, seen_url, 1)
    assert record["requestContext"]["condition"] == "Success"
    assert record["responsePayload"] == {"ok": {"n": 3}}


def test_eventbridge_destination_puts_the_record_as_detail(
    sqs: Any,
    lambda_client: Any,
    make_function: Callable[..., str],
    streamlab_client: Callable[..., Any],
    streamlab_unique_name: Callable[[str], str],
) -> None:
    url, queue_arn = _queue(sqs, streamlab_unique_name("via-bus"))
    events = streamlab_client("events")
    bus = events.create_event_bus(Name=streamlab_unique_name("bus"))["EventBusArn"]
    rule = streamlab_unique_name("results")
    events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps({"source": ["lambda"]}))
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}])
    name = make_function(FAILS)
    lambda_client.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": bus}}
    )
    lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"fail": true}')
    [event] = _bodies(sqs, url, 1)
    assert (event["source"], event["detail-type"]) == ("lambda", "Lambda Function Invocation Result - Failure")
    assert event["detail"]["requestContext"]["condition"] == "RetriesExhausted"
    assert event["detail"]["requestPayload"] == {"fail": True}
