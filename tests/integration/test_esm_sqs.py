"""SQS event source mappings through the real path: boto3 -> the embedded endpoint -> SQS (moto)
-> the engine's queue poller -> the Lambda runtime -> the handler.

Each handler forwards what it received to a *results* queue (boto3 inside the execution
environment, aimed at AWS_ENDPOINT_URL); the test reads that queue and the source queue's
attributes, public APIs only. Shapes and answers follow LocalStack's AWS-validated
test_lambda_integration_sqs.snapshot.json (validated 2023-02-27 to 2024-01-04).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from streamlab.testing import eventually
from tests.integration.lambda_support import error_of

#: Forwards each invocation's records (and the receive count it saw) to RESULTS; a body with
#: "fail" fails its message while its receive count is below "fail"; "raise" fails the batch;
#: "crash" kills the runtime. With PARTIAL set it answers a partial batch response.
FORWARDER = """
import json, os
import boto3

sqs = boto3.client("sqs")

def handler(event, context):
    records = event["Records"]
    sqs.send_message(QueueUrl=os.environ["RESULTS"], MessageBody=json.dumps({"records": records}))
    failures = []
    for record in records:
        try:
            body = json.loads(record["body"])
        except ValueError:
            body = {}
        count = int(record["attributes"]["ApproximateReceiveCount"])
        if body.get("crash"):
            os._exit(1)
        if body.get("raise"):
            raise RuntimeError("failed attempt")
        if count <= int(body.get("fail", 0)):
            failures.append({"itemIdentifier": record["messageId"]})
    if os.environ.get("PARTIAL"):
        return {"batchItemFailures": failures}
    if failures:
        raise RuntimeError("failed attempt")
    return {}
"""


@pytest.fixture
def sqs(streamlab_client: Callable[..., Any]) -> Any:
    return streamlab_client("sqs")


@pytest.fixture
def queues(sqs: Any, streamlab_unique_name: Callable[[str], str]) -> Iterator[Callable[..., tuple[str, str]]]:
    """``make(prefix, fifo=False, **attributes) -> (url, arn)``; deleted afterwards."""
    made: list[str] = []

    def make(prefix: str, fifo: bool = False, **attributes: str) -> tuple[str, str]:
        name = streamlab_unique_name(prefix) + (".fifo" if fifo else "")
        if fifo:
            attributes = {"FifoQueue": "true", **attributes}
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        made.append(url)
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    yield make
    for url in made:
        with contextlib.suppress(ClientError):
            sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def mappings(lambda_client: Any) -> Iterator[list[str]]:
    created: list[str] = []
    yield created
    for uuid in created:
        with contextlib.suppress(ClientError):
            lambda_client.delete_event_source_mapping(UUID=uuid)


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return messages


class Results:
    """The invocations the forwarder reported, in the order they arrived."""

    def __init__(self, sqs: Any, url: str) -> None:
        self.sqs = sqs
        self.url = url
        self.invocations: list[list[dict[str, Any]]] = []

    def poll(self) -> list[list[dict[str, Any]]]:
        for message in drain(self.sqs, self.url):
            self.invocations.append(json.loads(message["Body"])["records"])
        return self.invocations

    def records(self) -> list[dict[str, Any]]:
        return [record for invocation in self.poll() for record in invocation]

    def bodies(self) -> list[str]:
        return [record["body"] for record in self.records()]


def queue_depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


@pytest.fixture
def forwarder(
    make_function: Callable[..., str], queues: Callable[..., tuple[str, str]], sqs: Any, lambda_client: Any
) -> Callable[..., tuple[str, Results]]:
    def make(partial: bool = False) -> tuple[str, Results]:
        results_url, _ = queues("results")
        variables = {"RESULTS": results_url, **({"PARTIAL": "1"} if partial else {})}
        name = make_function(FORWARDER, Environment={"Variables": variables}, Timeout=10)
        # Warm: a cold start slower than a 1 s visibility timeout would double-receive the first message.
        lambda_client.invoke(FunctionName=name, Payload=b'{"Records": []}')
        return name, Results(sqs, results_url)

    return make


def test_create_answers_the_sqs_shape(
    lambda_client: Any, make_function: Callable[..., str], queues: Callable[..., tuple[str, str]], mappings: list[str]
) -> None:
    """test_sqs_event_source_mapping / test_failing_lambda_retries_after_visibility_timeout (2023-02-27):
    no StartingPosition and no stream-only members, BatchSize 10, USER_INITIATED."""
    _, queue_arn = queues("source")
    name = make_function()
    created = lambda_client.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=name)
    mappings.append(created["UUID"])
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert created["BatchSize"] == 10
    assert created["MaximumBatchingWindowInSeconds"] == 0
    assert created["StateTransitionReason"] == "USER_INITIATED"
    assert created["FunctionResponseTypes"] == []
    for member in ("StartingPosition", "ParallelizationFactor", "MaximumRetryAttempts", "DestinationConfig"):
        assert member not in created
    assert eventually(lambda: lambda_client.get_event_source_mapping(UUID=created["UUID"])["State"] == "Enabled")
    with pytest.raises(ClientError) as excinfo:
        lambda_client.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=name, BatchSize=11)
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)


def test_delivers_aws_record_shape_and_deletes_on_success(
    lambda_client: Any,
    sqs: Any,
    queues: Callable[..., tuple[str, str]],
    forwarder: Callable[..., tuple[str, Results]],
    mappings: list[str],
    streamlab_region: str,
) -> None:
    url, queue_arn = queues("source")
    name, results = forwarder()
    mappings.append(lambda_client.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=name)["UUID"])
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody='{"order": 1}',
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "paid"}},
    )
    [record] = eventually(results.records, timeout=15, message="the handler never received the message")
    assert list(record) == [
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfMessageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    ]
    assert record["messageId"] == sent["MessageId"]
    assert record["body"] == '{"order": 1}'
    assert record["md5OfBody"] == sent["MD5OfMessageBody"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue_arn
    assert record["awsRegion"] == streamlab_region
    assert list(record["attributes"]) == [
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    ]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"] == {
        "kind": {"stringValue": "paid", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    }
    assert eventually(lambda: queue_depth(sqs, url) == 0, timeout=10, message="the message was not deleted")


def test_failing_handler_retries_after_visibility_timeout_then_redrives_to_dlq(
    lambda_client: Any,
    sqs: Any,
    queues: Callable[..., tuple[str, str]],
    forwarder: Callable[..., tuple[str, Results]],
    mappings: list[str],
) -> None:
    """test_redrive_policy_with_failing_lambda (2023-02-27): receive counts 1 and 2, then the DLQ."""
    dlq_url, dlq_arn = queues("dlq")
    url, queue_arn = queues(
        "source",
        VisibilityTimeout="1",
        RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}),
    )
    name, results = forwarder()
    mappings.append(lambda_client.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=name)["UUID"])
    sent = sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"raise": True}))
    parked = eventually(lambda: drain(sqs, dlq_url), timeout=20, message="the message never reached the DLQ")
    assert [m["MessageId"] for m in parked] == [sent["MessageId"]]
    # A slow cold start may still be reporting the attempts the visibility timeout cut short.
    counts = eventually(
        lambda: (
            c if len(c := sorted(r["attributes"]["ApproximateReceiveCount"] for r in results.records())) >= 2 else None
        ),
        timeout=10,
    )
    assert counts == ["1", "2"]
    assert queue_depth(sqs, url) == 0


def test_partial_batch_response_keeps_only_the_failed_messages(
    lambda_client: Any,
    sqs: Any,
    queues: Callable[..., tuple[str, str]],
    forwarder: Callable[..., tuple[str, Results]],
    mappings: list[str],
) -> None:
    """test_report_batch_item_failures (2023-11-10): the named messages come back, the rest are deleted."""
    # A visibility timeout well above a batch's round trip: a message in flight is not received twice.
    url, queue_arn = queues("source", VisibilityTimeout="3")
    name, results = forwarder(partial=True)
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": str(i), "MessageBody": json.dumps({"n": i, "fail": 1 if i % 2 else 0})} for i in range(4)],
    )
    mappings.append(
        lambda_client.create_event_source_mapping(
            EventSourceArn=queue_arn,
            FunctionName=name,
            BatchSize=10,
            FunctionResponseTypes=["ReportBatchItemFailures"],
        )["UUID"]
    )

    def settled() -> list[dict[str, Any]] | None:
        records = results.records()
        return records if len(records) >= 6 and queue_depth(sqs, url) == 0 else None

    records = eventually(settled, timeout=20, message="the failed messages were not retried and deleted")
    by_number: dict[int, list[str]] = {}
    for record in records:
        by_number.setdefault(json.loads(record["body"])["n"], []).append(
            record["attributes"]["ApproximateReceiveCount"]
        )
    assert by_number == {0: ["1"], 1: ["1", "2"], 2: ["1"], 3: ["1", "2"]}


def test_fifo_keeps_order_per_message_group(
    lambda_client: Any,
    sqs: Any,
    queues: Callable[..., tuple[str, str]],
    forwarder: Callable[..., tuple[str, Results]],
    mappings: list[str],
) -> None:
    url, queue_arn = queues("source", fifo=True, ContentBasedDeduplication="true")
    name, results = forwarder()
    mappings.append(
        lambda_client.create_event_source_mapping(
            EventSourceArn=queue_arn, FunctionName=name, BatchSize=3, ScalingConfig={"MaximumConcurrency": 4}
        )["UUID"]
    )
    for n in range(12):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n}), MessageGroupId=f"g{n % 3}")
    records = eventually(lambda: r if len(r := results.records()) >= 12 else None, timeout=20)
    assert set(records[0]["attributes"]) >= {"MessageGroupId", "SequenceNumber", "MessageDeduplicationId"}
    for group in ("g0", "g1", "g2"):
        seen = [json.loads(r["body"])["n"] for r in records if r["attributes"]["MessageGroupId"] == group]
        assert seen == sorted(seen), (group, seen)
        assert len(seen) == 4, (group, seen)


def test_filter_on_json_body_deletes_what_does_not_match(
    lambda_client: Any,
    sqs: Any,
    queues: Callable[..., tuple[str, str]],
    forwarder: Callable[..., tuple[str, Results]],
    mappings: list[str],
) -> None:
    url, queue_arn = queues("source")
    name, results = forwarder()
    mappings.append(
        lambda_client.create_event_source_mapping(
            EventSourceArn=queue_arn,
            FunctionName=name,
            FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["keep"]}})}]},
        )["UUID"]
    )
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "drop", "n": 1}))
    sqs.send_message(QueueUrl=url, MessageBody="not json")
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "keep", "n": 2}))
    assert eventually(lambda: queue_depth(sqs, url) == 0, timeout=15, message="filtered messages were not deleted")
    assert eventually(lambda: results.bodies(), timeout=10) == [json.dumps({"kind": "keep", "n": 2})]


def test_batching_window_gathers_more_than_one_receive(
    lambda_client: Any,
    sqs: Any,
    queues: Callable[..., tuple[str, str]],
    forwarder: Callable[..., tuple[str, Results]],
    mappings: list[str],
) -> None:
    """BatchSize above 10 needs a window; within it several receives make one batch."""
    url, queue_arn = queues("source")
    name, results = forwarder()
    for start in range(0, 30, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(start + i)} for i in range(10)])
    mappings.append(
        lambda_client.create_event_source_mapping(
            EventSourceArn=queue_arn,
            FunctionName=name,
            BatchSize=100,
            MaximumBatchingWindowInSeconds=1,
            ScalingConfig={"MaximumConcurrency": 2},
        )["UUID"]
    )
    invocations = eventually(lambda: i if sum(map(len, i := results.poll())) >= 30 else None, timeout=20)
    assert sorted(int(r["body"]) for inv in invocations for r in inv) == list(range(30))
    assert max(len(inv) for inv in invocations) > 10


def test_crashing_runtime_parks_the_poison_message_and_delivers_the_rest(
    lambda_client: Any,
    sqs: Any,
    queues: Callable[..., tuple[str, str]],
    forwarder: Callable[..., tuple[str, Results]],
    mappings: list[str],
) -> None:
    """A poison message that kills the runtime: nothing is lost, the poison ends in the DLQ."""
    dlq_url, dlq_arn = queues("dlq")
    url, queue_arn = queues(
        "source",
        VisibilityTimeout="1",
        RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}),
    )
    name, results = forwarder()
    mappings.append(
        lambda_client.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=name, BatchSize=1)["UUID"]
    )
    poison = sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"crash": True}))["MessageId"]
    good = [sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n}))["MessageId"] for n in range(3)]
    parked = eventually(lambda: drain(sqs, dlq_url), timeout=25, message="the poison message never reached the DLQ")
    assert [m["MessageId"] for m in parked] == [poison]

    def delivered() -> set[str] | None:
        ids = {r["messageId"] for r in results.records()}
        return ids if set(good) <= ids else None

    assert eventually(delivered, timeout=15)
    assert eventually(lambda: queue_depth(sqs, url) == 0, timeout=10)
