"""Reliability of asynchronous invocations and pushes: nothing is lost, what AWS parks lands in its DLQ.

Each test sends a mix of good and poison events (a failing handler, a crashing runtime, a
handler past its timeout, a poison SNS message) and counts where every one of them ended:
the OnSuccess destination for the good ones, the function's dead-letter queue for the rest,
with the number of attempts AWS makes (1 + MaximumRetryAttempts). The handler logs each
attempt to a queue of the endpoint (boto3 inside the environment), so the counts are the
handler's own.

The retries wait about a minute on AWS; these tests shorten the waits of the in-process
endpoint's async queue (``retry_delays``, a constructor setting of the Lambda service), which
no API can, and therefore run only on the embedded backend.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from streamlab.testing import eventually

HANDLER = """
import json, os, time
import boto3

_sqs = boto3.client("sqs")

def handler(event, context):
    marker = event["Records"][0]["Sns"]["Message"] if "Records" in event else event["id"]
    _sqs.send_message(QueueUrl=os.environ["ATTEMPTS_URL"], MessageBody=marker)
    if marker.startswith("raise"):
        raise RuntimeError("poison " + marker)
    if marker.startswith("crash"):
        os._exit(3)  # the runtime dies mid-invocation
    if marker.startswith("hang"):
        time.sleep(10)  # past the function's 3 s timeout
    return {"done": marker}
"""


@pytest.fixture
def fast_retries(request: pytest.FixtureRequest, streamlab_in_process: bool) -> Iterator[None]:
    if not streamlab_in_process:
        pytest.skip("shortens the embedded endpoint's async retry delays (about a minute on AWS)")
    invoker = request.getfixturevalue("streamlab_backend").endpoint.lambda_service.async_invoker
    saved, invoker.retry_delays = invoker.retry_delays, (0.2, 0.4)
    try:
        yield
    finally:
        invoker.retry_delays = saved


@pytest.fixture
def rig(
    fast_retries: None,
    lambda_client: Any,
    make_function: Callable[..., str],
    streamlab_client: Callable[..., Any],
    streamlab_unique_name: Callable[[str], str],
) -> dict[str, Any]:
    sqs = streamlab_client("sqs")

    def queue(prefix: str) -> tuple[str, str]:
        url = sqs.create_queue(QueueName=streamlab_unique_name(prefix))["QueueUrl"]
        return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    attempts_url, _ = queue("attempts")
    success_url, success_arn = queue("ok")
    dlq_url, dlq_arn = queue("dlq")
    name = make_function(
        HANDLER,
        Timeout=3,
        DeadLetterConfig={"TargetArn": dlq_arn},
        Environment={"Variables": {"ATTEMPTS_URL": attempts_url}},
    )
    lambda_client.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=2, DestinationConfig={"OnSuccess": {"Destination": success_arn}}
    )
    # Two environments at most: the async queue retries throttled events (as AWS does), and this
    # 2-core machine is not asked to start seven boto3-importing runtimes within the 10 s init limit.
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    return {"sqs": sqs, "name": name, "attempts": attempts_url, "ok": success_url, "dlq": dlq_url}


def _drain(sqs: Any, url: str, into: list[str], body: Callable[[dict[str, Any]], str]) -> None:
    answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    for message in answer.get("Messages", []):
        into.append(body(message))
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def _outcome(rig: dict[str, Any], good: int, parked: int, timeout: float = 120) -> tuple[list[str], list[str]]:
    """(markers that succeeded, markers parked in the DLQ), once every event has ended somewhere."""
    done: list[str] = []
    dead: list[str] = []
    errors: dict[str, str] = {}

    def marker_of_dead(message: dict[str, Any]) -> str:
        event = json.loads(message["Body"])
        marker = str(event["Records"][0]["Sns"]["Message"] if "Records" in event else event["id"])
        errors[marker] = message["MessageAttributes"]["ErrorMessage"]["StringValue"]
        return marker

    def settled() -> bool:
        _drain(rig["sqs"], rig["ok"], done, lambda m: json.loads(m["Body"])["responsePayload"]["done"])
        _drain(rig["sqs"], rig["dlq"], dead, marker_of_dead)
        return len(done) >= good and len(dead) >= parked

    try:
        eventually(settled, timeout=timeout, interval=0.3)
    except AssertionError as error:
        raise AssertionError(f"{error}; succeeded {done}, parked {errors}") from None
    return done, dead


def _attempts(rig: dict[str, Any]) -> Counter[str]:
    seen: list[str] = []
    for _ in range(5):  # a few reads: receive_message returns at most 10 at a time
        _drain(rig["sqs"], rig["attempts"], seen, lambda m: str(m["Body"]))
    return Counter(seen)


def test_failing_crashing_and_hanging_events_end_in_the_dead_letter_queue_after_three_attempts(
    rig: dict[str, Any], lambda_client: Any
) -> None:
    markers = ["good-1", "raise-1", "good-2", "crash-1", "good-3", "hang-1", "good-4"]
    for marker in markers:
        lambda_client.invoke(FunctionName=rig["name"], InvocationType="Event", Payload=json.dumps({"id": marker}))

    done, dead = _outcome(rig, good=4, parked=3)

    assert sorted(done) == ["good-1", "good-2", "good-3", "good-4"]
    assert sorted(dead) == ["crash-1", "hang-1", "raise-1"]  # each parked once, none lost
    attempts = _attempts(rig)
    assert {m: attempts[m] for m in ("raise-1", "crash-1", "hang-1")} == {"raise-1": 3, "crash-1": 3, "hang-1": 3}
    assert all(attempts[m] == 1 for m in done)
    # After a crash and a timeout the function still serves: a later event succeeds.
    lambda_client.invoke(FunctionName=rig["name"], InvocationType="Event", Payload=b'{"id": "good-after"}')
    assert _outcome(rig, good=1, parked=0)[0] == ["good-after"]


def test_a_poison_sns_message_is_parked_and_the_others_are_processed(
    rig: dict[str, Any], lambda_client: Any, streamlab_client: Callable[..., Any], streamlab_unique_name: Any
) -> None:
    sns = streamlab_client("sns")
    topic = sns.create_topic(Name=streamlab_unique_name("orders"))["TopicArn"]
    lambda_client.add_permission(
        FunctionName=rig["name"],
        StatementId="sns",
        Action="lambda:InvokeFunction",
        Principal="sns.amazonaws.com",
        SourceArn=topic,
    )
    function_arn = lambda_client.get_function(FunctionName=rig["name"])["Configuration"]["FunctionArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn)
    for marker in ("good-a", "good-b", "raise-poison", "good-c"):
        sns.publish(TopicArn=topic, Message=marker)

    done, dead = _outcome(rig, good=3, parked=1)

    assert sorted(done) == ["good-a", "good-b", "good-c"]
    assert dead == ["raise-poison"]  # the SNS event itself, as the function was given it
    assert _attempts(rig)["raise-poison"] == 3
