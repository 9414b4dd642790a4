"""A function's DeadLetterConfig through boto3: validated, reported, and where failed events land.

Shapes follow LocalStack's AWS-recorded TestLambdaDLQ::test_dead_letter_queue
(test_lambda_destinations.snapshot.json, recorded 2024-03-21) and
TestSNSSubscriptionLambda::test_sns_topic_as_lambda_dead_letter_queue (test_sns, validated 2023-08-24).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from streamlab.testing import eventually
from tests.integration.lambda_support import error_of

FAILS = """
def handler(event, context):
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    return {"ok": True}
"""


def _queue(streamlab_client: Callable[..., Any], name: str) -> tuple[Any, str, str]:
    sqs = streamlab_client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs, url, queue_arn


def _receive(sqs: Any, url: str, count: int, timeout: float = 20) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []

    def enough() -> bool:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        for message in answer.get("Messages", []):
            received.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(received) >= count

    eventually(enough, timeout=timeout, interval=0.2)
    return received


def test_dead_letter_config_is_reported_updated_and_removed(
    lambda_client: Any,
    make_function: Callable[..., str],
    streamlab_client: Callable[..., Any],
    streamlab_unique_name: Callable[[str], str],
) -> None:
    _, _, queue_arn = _queue(streamlab_client, streamlab_unique_name("dlq"))
    name = make_function(FAILS, DeadLetterConfig={"TargetArn": queue_arn})
    assert lambda_client.get_function_configuration(FunctionName=name)["DeadLetterConfig"] == {"TargetArn": queue_arn}
    # An empty DeadLetterConfig leaves the target as it is (AWS's recorded answer).
    kept = lambda_client.update_function_configuration(FunctionName=name, DeadLetterConfig={})
    assert kept["DeadLetterConfig"] == {"TargetArn": queue_arn}
    removed = lambda_client.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": ""})
    assert "DeadLetterConfig" not in removed
    assert "DeadLetterConfig" not in lambda_client.get_function_configuration(FunctionName=name)


@pytest.mark.parametrize(
    "target", ["arn:aws:lambda:us-east-1:123456789012:function:f", "not-an-arn", "arn:aws:sqs:us-east-1:12:q"]
)
def test_dead_letter_target_must_be_a_queue_or_topic(
    lambda_client: Any, make_function: Callable[..., str], target: str
) -> None:
    name = make_function(FAILS)
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as excinfo:
        lambda_client.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": target})
    assert error_of(excinfo)[1] == 400
    assert target in error_of(excinfo)[2]
    assert "DeadLetterConfig" not in lambda_client.get_function_configuration(FunctionName=name)


def test_failed_event_goes_to_the_sqs_dead_letter_queue_as_aws_sends_it(
    lambda_client: Any,
    make_function: Callable[..., str],
    streamlab_client: Callable[..., Any],
    streamlab_unique_name: Callable[[str], str],
) -> None:
    sqs, url, queue_arn = _queue(streamlab_client, streamlab_unique_name("dlq"))
    _, failure_url, failure_arn = _queue(streamlab_client, streamlab_unique_name("onfailure"))
    name = make_function(FAILS, DeadLetterConfig={"TargetArn": queue_arn})
    lambda_client.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": failure_arn}}
    )
    lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"ok": 1}')
    lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"fail": true, "n": 2}')

    [message] = _receive(sqs, url, 1)
    assert json.loads(message["Body"]) == {"fail": True, "n": 2}
    attributes = message["MessageAttributes"]
    assert attributes["ErrorCode"] == {"DataType": "Number", "StringValue": "200"}
    assert attributes["ErrorMessage"] == {"DataType": "String", "StringValue": "asked to fail"}
    assert attributes["RequestID"]["DataType"] == "String"
    # The OnFailure destination gets its record too, for the same invocation.
    [record] = _receive(sqs, failure_url, 1)
    body = json.loads(record["Body"])
    assert body["requestContext"]["requestId"] == attributes["RequestID"]["StringValue"]
    assert body["requestContext"]["condition"] == "RetriesExhausted"
    # The successful event never reaches the dead-letter queue.
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)


def test_failed_event_goes_to_an_sns_dead_letter_topic(
    lambda_client: Any,
    make_function: Callable[..., str],
    streamlab_client: Callable[..., Any],
    streamlab_unique_name: Callable[[str], str],
) -> None:
    sqs, url, queue_arn = _queue(streamlab_client, streamlab_unique_name("dlq-topic-sub"))
    sns = streamlab_client("sns")
    topic_arn = sns.create_topic(Name=streamlab_unique_name("dlq-topic"))["TopicArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    name = make_function(FAILS, DeadLetterConfig={"TargetArn": topic_arn})
    lambda_client.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"fail": true}')

    [message] = _receive(sqs, url, 1)
    notification = json.loads(message["Body"])
    assert notification["TopicArn"] == topic_arn
    assert json.loads(notification["Message"]) == {"fail": True}
    assert notification["MessageAttributes"]["ErrorCode"] == {"Type": "Number", "Value": "200"}
    assert notification["MessageAttributes"]["ErrorMessage"] == {"Type": "String", "Value": "asked to fail"}
    assert set(notification["MessageAttributes"]) == {"ErrorCode", "ErrorMessage", "RequestID"}


class _Recorder:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def emit(self, event: Any) -> None:
        self.events.append(event)


def test_an_unreachable_dead_letter_target_is_reported_to_telemetry(
    request: pytest.FixtureRequest,
    streamlab_in_process: bool,
    lambda_client: Any,
    make_function: Callable[..., str],
    streamlab_region: str,
    streamlab_unique_name: Callable[[str], str],
) -> None:
    """AWS counts it in DeadLetterErrors; the endpoint emits AsyncDeliveryFailed (kind dead_letter)."""
    if not streamlab_in_process:
        pytest.skip("reads the embedded endpoint's telemetry")
    from streamlab.emulator.telemetry import AsyncDeliveryFailed, AsyncDeliveryKind

    endpoint = request.getfixturevalue("streamlab_backend").endpoint
    recorder = _Recorder()
    endpoint.telemetry.add(recorder)
    try:
        missing = f"arn:aws:sqs:{streamlab_region}:123456789012:{streamlab_unique_name('gone')}"
        name = make_function(FAILS, DeadLetterConfig={"TargetArn": missing})
        lambda_client.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
        lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"fail": true}')

        def failures() -> list[AsyncDeliveryFailed]:
            return [e for e in recorder.events if isinstance(e, AsyncDeliveryFailed) and e.function_name == name]

        eventually(lambda: len(failures()) == 1, timeout=20, interval=0.1)
        [failure] = failures()
        assert (failure.kind, failure.target_arn) == (AsyncDeliveryKind.DEAD_LETTER, missing)
        assert failure.qualifier == "$LATEST"
        assert failure.region == streamlab_region
    finally:
        endpoint.telemetry.remove(recorder)
