"""SNS subscriptions with protocol lambda: moto's SNS -> streamlab's Lambda service, as AWS delivers.

The event shape follows LocalStack's AWS-validated TestSNSSubscriptionLambda tests
(test_sns.snapshot.json: test_python_lambda_subscribe_sns_topic, validated 2025-10-06;
test_publish_lambda_verify_signature, validated 2025-11-25). The handler's answer reaches the
test through the function's OnSuccess destination (an SQS queue), so only public APIs are used.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from streamlab.testing import eventually

RETURNS_EVENT = """
def handler(event, context):
    return event
"""


@pytest.fixture
def pushed(
    lambda_client: Any,
    make_function: Callable[..., str],
    streamlab_client: Callable[..., Any],
    streamlab_unique_name: Callable[[str], str],
) -> dict[str, Any]:
    """A function whose every successful event lands in a queue, and a topic."""
    sqs = streamlab_client("sqs")
    url = sqs.create_queue(QueueName=streamlab_unique_name("ok"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = make_function(RETURNS_EVENT)
    lambda_client.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0, DestinationConfig={"OnSuccess": {"Destination": queue_arn}}
    )
    sns = streamlab_client("sns")
    topic_arn = sns.create_topic(Name=streamlab_unique_name("topic"))["TopicArn"]
    function_arn = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    return {"sqs": sqs, "url": url, "name": name, "sns": sns, "topic": topic_arn, "function_arn": function_arn}


def _allow_sns(lambda_client: Any, name: str, source_arn: str) -> None:
    lambda_client.add_permission(
        FunctionName=name,
        StatementId="sns",
        Action="lambda:InvokeFunction",
        Principal="sns.amazonaws.com",
        SourceArn=source_arn,
    )


def _events(sqs: Any, url: str, count: int, wait: float = 20) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []

    def enough() -> bool:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            events.append(json.loads(message["Body"])["requestPayload"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(events) >= count

    eventually(enough, timeout=wait, interval=0.2)
    return events


def test_a_published_message_reaches_the_function_as_aws_delivers_it(
    lambda_client: Any, pushed: dict[str, Any]
) -> None:
    _allow_sns(lambda_client, pushed["name"], pushed["topic"])
    subscription = pushed["sns"].subscribe(TopicArn=pushed["topic"], Protocol="lambda", Endpoint=pushed["function_arn"])
    published = pushed["sns"].publish(
        TopicArn=pushed["topic"],
        Message="Hello world.",
        MessageAttributes={"colour": {"DataType": "String", "StringValue": "blue"}},
    )
    pushed["sns"].publish(TopicArn=pushed["topic"], Message="with a subject", Subject="[Subject] Test subject")

    events = _events(pushed["sqs"], pushed["url"], 2)
    by_message = {event["Records"][0]["Sns"]["Message"]: event for event in events}
    [record] = by_message["Hello world."]["Records"]
    assert (record["EventSource"], record["EventVersion"]) == ("aws:sns", "1.0")
    assert record["EventSubscriptionArn"] == subscription["SubscriptionArn"]
    sns = record["Sns"]
    assert set(sns) == {
        "Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion",
        "Signature", "SigningCertUrl", "UnsubscribeUrl", "MessageAttributes",
    }  # fmt: skip
    assert (sns["Type"], sns["TopicArn"], sns["MessageId"]) == ("Notification", pushed["topic"], published["MessageId"])
    assert sns["Subject"] is None
    assert sns["SignatureVersion"] == "1"
    assert sns["UnsubscribeUrl"].endswith(f"?Action=Unsubscribe&SubscriptionArn={subscription['SubscriptionArn']}")
    assert sns["MessageAttributes"] == {"colour": {"Type": "String", "Value": "blue"}}
    assert by_message["with a subject"]["Records"][0]["Sns"]["Subject"] == "[Subject] Test subject"


def test_without_permission_the_message_goes_to_the_subscription_dead_letter_queue(
    lambda_client: Any, pushed: dict[str, Any], streamlab_unique_name: Callable[[str], str]
) -> None:
    """AWS's delivery fails without an sns.amazonaws.com permission; the subscription's DLQ keeps it."""
    sqs = pushed["sqs"]
    dlq_url = sqs.create_queue(QueueName=streamlab_unique_name("sub-dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscription = pushed["sns"].subscribe(
        TopicArn=pushed["topic"],
        Protocol="lambda",
        Endpoint=pushed["function_arn"],
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})},
    )
    published = pushed["sns"].publish(TopicArn=pushed["topic"], Message="nobody allowed me")

    parked: list[dict[str, Any]] = []
    eventually(
        lambda: bool(parked.extend(sqs.receive_message(QueueUrl=dlq_url).get("Messages", [])) or parked),
        timeout=10,
        interval=0.2,
    )
    notification = json.loads(parked[0]["Body"])
    assert (notification["MessageId"], notification["Message"]) == (published["MessageId"], "nobody allowed me")
    assert notification["UnsubscribeURL"].endswith(subscription["SubscriptionArn"])
    # The function never ran.
    assert "Messages" not in sqs.receive_message(QueueUrl=pushed["url"], WaitTimeSeconds=1)


def test_a_permission_for_another_topic_does_not_let_this_one_in(
    lambda_client: Any, pushed: dict[str, Any], streamlab_region: str
) -> None:
    _allow_sns(lambda_client, pushed["name"], f"arn:aws:sns:{streamlab_region}:123456789012:some-other-topic")
    pushed["sns"].subscribe(TopicArn=pushed["topic"], Protocol="lambda", Endpoint=pushed["function_arn"])
    pushed["sns"].publish(TopicArn=pushed["topic"], Message="refused")
    assert "Messages" not in pushed["sqs"].receive_message(QueueUrl=pushed["url"], WaitTimeSeconds=2)


def test_the_subscription_filter_policy_decides_what_reaches_the_function(
    lambda_client: Any, pushed: dict[str, Any]
) -> None:
    _allow_sns(lambda_client, pushed["name"], pushed["topic"])
    pushed["sns"].subscribe(
        TopicArn=pushed["topic"],
        Protocol="lambda",
        Endpoint=pushed["function_arn"],
        Attributes={"FilterPolicy": json.dumps({"colour": ["blue"]})},
    )
    for colour in ("red", "blue", "green"):
        pushed["sns"].publish(
            TopicArn=pushed["topic"],
            Message=colour,
            MessageAttributes={"colour": {"DataType": "String", "StringValue": colour}},
        )
    [event] = _events(pushed["sqs"], pushed["url"], 1)
    assert event["Records"][0]["Sns"]["Message"] == "blue"
    assert "Messages" not in pushed["sqs"].receive_message(QueueUrl=pushed["url"], WaitTimeSeconds=2)
