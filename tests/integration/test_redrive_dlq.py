"""``streamlab redrive`` on the queues other failures park messages in, through the public API only.

A RedrivePolicy dead-letter queue goes back to its source through StartMessageMoveTask; a
function's DeadLetterConfig queue and an async OnFailure queue are re-invoked once the function
is fixed; a message is deleted only after its invocation succeeded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from streamlab.redrive import FAILED, REDRIVEN, redrive
from streamlab.testing import eventually
from tests.integration.lambda_support import zip_source

FAILS = """
def handler(event, context):
    raise RuntimeError("not fixed yet")
"""

#: The fixed handler tells the test what it was given, through a queue of the endpoint.
FIXED = """
import json, os
import boto3

def handler(event, context):
    boto3.client("sqs").send_message(QueueUrl=os.environ["SEEN_URL"], MessageBody=json.dumps(event))
    return {"ok": True}
"""


def _queue(sqs: Any, name: str, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _count(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def _bodies(sqs: Any, url: str, count: int) -> list[Any]:
    bodies: list[Any] = []

    def enough() -> bool:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(bodies) >= count

    eventually(enough, timeout=20, interval=0.2)
    return bodies


@pytest.fixture
def sqs(streamlab_client: Callable[..., Any]) -> Any:
    return streamlab_client("sqs")


def test_a_redrive_policy_dead_letter_queue_moves_back_to_its_source(
    sqs: Any, streamlab_endpoint_url: str, streamlab_region: str, streamlab_unique_name: Callable[[str], str]
) -> None:
    dlq_url, dlq_arn = _queue(sqs, streamlab_unique_name("dlq"))
    source_url, _ = _queue(
        sqs,
        streamlab_unique_name("source"),
        RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}),
    )
    for n in range(3):
        sqs.send_message(QueueUrl=source_url, MessageBody=f"poison {n}")
    sqs.receive_message(QueueUrl=source_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    # The next receive finds them over maxReceiveCount: SQS moves them to the dead-letter queue.
    assert "Messages" not in sqs.receive_message(QueueUrl=source_url, MaxNumberOfMessages=10)
    assert _count(sqs, dlq_url) == 3

    lines: list[str] = []
    report = redrive(dlq_url, streamlab_endpoint_url, streamlab_region, log=lines.append)

    assert report.ok, lines
    assert report.move_task is not None
    assert (report.move_task.status, report.move_task.moved, report.move_task.to_move) == ("COMPLETED", 3, 3)
    assert _count(sqs, dlq_url) == 0
    received = sqs.receive_message(QueueUrl=source_url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert sorted(m["Body"] for m in received) == ["poison 0", "poison 1", "poison 2"]
    # Fresh in the source queue: a consumer gets them maxReceiveCount times again.
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in received} == {"1"}


def test_move_task_errors_are_aws_errors(sqs: Any, streamlab_unique_name: Callable[[str], str]) -> None:
    _, plain_arn = _queue(sqs, streamlab_unique_name("plain"))
    with pytest.raises(sqs.exceptions.ClientError) as excinfo:
        sqs.start_message_move_task(SourceArn=plain_arn)
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(sqs.exceptions.ClientError) as excinfo:
        sqs.start_message_move_task(SourceArn=plain_arn + "-missing")
    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    for hostile in ("arn:aws:sqs:../../etc:123456789012:q", "arn:aws:sqs:us-east-1:me:q", "not-an-arn"):
        with pytest.raises(sqs.exceptions.ClientError) as excinfo:
            sqs.list_message_move_tasks(SourceArn=hostile)
        assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValue", hostile


def _fix(lambda_client: Any, name: str, seen_url: str) -> None:
    lambda_client.update_function_code(FunctionName=name, ZipFile=zip_source(FIXED))
    lambda_client.update_function_configuration(FunctionName=name, Environment={"Variables": {"SEEN_URL": seen_url}})
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})


def test_a_functions_dead_letter_events_are_reinvoked_once_it_is_fixed(
    sqs: Any,
    lambda_client: Any,
    make_function: Callable[..., str],
    streamlab_endpoint_url: str,
    streamlab_region: str,
    streamlab_unique_name: Callable[[str], str],
) -> None:
    dlq_url, dlq_arn = _queue(sqs, streamlab_unique_name("fn-dlq"))
    seen_url, _ = _queue(sqs, streamlab_unique_name("seen"))
    name = make_function(FAILS, DeadLetterConfig={"TargetArn": dlq_arn})
    lambda_client.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"order": 7}')
    eventually(lambda: _count(sqs, dlq_url) == 1, timeout=20, interval=0.2)

    # Still broken: the message stays, visible again for the next run.
    report = redrive(dlq_url, streamlab_endpoint_url, streamlab_region, log=lambda line: None)
    assert [o.status for o in report.outcomes] == [FAILED]
    assert "not fixed yet" in report.outcomes[0].detail
    assert _count(sqs, dlq_url) == 1

    _fix(lambda_client, name, seen_url)
    report = redrive(dlq_url, streamlab_endpoint_url, streamlab_region, log=lambda line: None)
    assert [o.status for o in report.outcomes] == [REDRIVEN]
    assert report.ok
    assert _bodies(sqs, seen_url, 1) == [{"order": 7}]
    assert _count(sqs, dlq_url) == 0


def test_async_on_failure_records_are_reinvoked_with_their_request_payload(
    sqs: Any,
    lambda_client: Any,
    make_function: Callable[..., str],
    streamlab_endpoint_url: str,
    streamlab_region: str,
    streamlab_unique_name: Callable[[str], str],
) -> None:
    failures_url, failures_arn = _queue(sqs, streamlab_unique_name("onfailure"))
    seen_url, _ = _queue(sqs, streamlab_unique_name("seen"))
    name = make_function(FAILS)
    lambda_client.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": failures_arn}}
    )
    lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"order": 8}')
    eventually(lambda: _count(sqs, failures_url) == 1, timeout=20, interval=0.2)

    _fix(lambda_client, name, seen_url)
    report = redrive(failures_url, streamlab_endpoint_url, streamlab_region, log=lambda line: None)
    assert [o.status for o in report.outcomes] == [REDRIVEN]
    assert _bodies(sqs, seen_url, 1) == [{"order": 8}]
    assert _count(sqs, failures_url) == 0
