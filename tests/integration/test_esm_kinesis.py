"""Kinesis event source mappings through the real path: boto3 -> the embedded endpoint -> Kinesis
(moto) -> the engine's shard pipeline -> the Lambda runtime -> the handler.

The handler forwards each invocation's records to a *results* SQS queue (boto3 inside the
execution environment); on-failure records land in a *failures* queue. Shapes and answers follow
LocalStack's AWS-validated test_lambda_integration_kinesis.snapshot.json (test_create_kinesis_
event_source_mapping recorded 2024-10-12, test_kinesis_event_source_mapping_with_async_invocation
2024-12-11) and kinesis-on-failure-destination.html for KinesisBatchInfo.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from streamlab.testing import eventually
from tests.integration.lambda_support import ROLE, error_of

#: Forwards the records; data {"raise": true} fails the batch, {"crash": true} kills the runtime,
#: {"fail": N} is reported as a batch item failure until it was delivered N times.
FORWARDER = """
import base64, json, os
import boto3

sqs = boto3.client("sqs")
seen = {}

def handler(event, context):
    records = event["Records"]
    sqs.send_message(QueueUrl=os.environ["RESULTS"], MessageBody=json.dumps({"records": records}))
    failures = []
    for record in records:
        data = json.loads(base64.b64decode(record["kinesis"]["data"]))
        sequence = record["kinesis"]["sequenceNumber"]
        seen[sequence] = seen.get(sequence, 0) + 1
        if data.get("crash"):
            os._exit(1)
        if data.get("raise"):
            raise RuntimeError("failed attempt")
        if seen[sequence] <= int(data.get("fail", 0)):
            failures.append({"itemIdentifier": sequence})
    return {"batchItemFailures": failures}
"""


@pytest.fixture
def sqs(streamlab_client: Callable[..., Any]) -> Any:
    return streamlab_client("sqs")


@pytest.fixture
def kinesis(streamlab_client: Callable[..., Any]) -> Any:
    return streamlab_client("kinesis")


@pytest.fixture
def stream(kinesis: Any, streamlab_unique_name: Callable[[str], str]) -> Iterator[Callable[..., tuple[str, str]]]:
    made: list[str] = []

    def make(shards: int = 1) -> tuple[str, str]:
        name = streamlab_unique_name("events")
        kinesis.create_stream(StreamName=name, ShardCount=shards)
        made.append(name)
        kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
        arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
        return name, arn

    yield make
    for name in made:
        with contextlib.suppress(ClientError):
            kinesis.delete_stream(StreamName=name)


@pytest.fixture
def queue(sqs: Any, streamlab_unique_name: Callable[[str], str]) -> Iterator[Callable[[str], tuple[str, str]]]:
    made: list[str] = []

    def make(prefix: str) -> tuple[str, str]:
        url = sqs.create_queue(QueueName=streamlab_unique_name(prefix))["QueueUrl"]
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
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return messages


class Results:
    def __init__(self, sqs: Any, url: str) -> None:
        self.sqs, self.url = sqs, url
        self.invocations: list[list[dict[str, Any]]] = []

    def records(self) -> list[dict[str, Any]]:
        for message in drain(self.sqs, self.url):
            self.invocations.append(json.loads(message["Body"])["records"])
        return [record for invocation in self.invocations for record in invocation]

    def data(self) -> list[Any]:
        return [json.loads(base64.b64decode(r["kinesis"]["data"])) for r in self.records()]


@pytest.fixture
def forwarder(
    make_function: Callable[..., str], queue: Callable[[str], tuple[str, str]], sqs: Any, lambda_client: Any
) -> tuple[str, Results]:
    results_url, _ = queue("results")
    name = make_function(FORWARDER, Environment={"Variables": {"RESULTS": results_url}}, Timeout=10)
    return name, Results(sqs, results_url)


def put(kinesis: Any, name: str, data: Any, key: str = "k") -> str:
    return str(kinesis.put_record(StreamName=name, Data=json.dumps(data).encode(), PartitionKey=key)["SequenceNumber"])


def test_create_answers_the_kinesis_shape(
    lambda_client: Any, make_function: Callable[..., str], stream: Callable[..., tuple[str, str]], mappings: list[str]
) -> None:
    """test_create_kinesis_event_source_mapping (recorded 2024-10-12)."""
    _, arn = stream()
    name = make_function()
    created = lambda_client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=name, StartingPosition="LATEST"
    )
    mappings.append(created["UUID"])
    expected = {
        "BatchSize": 100,
        "BisectBatchOnFunctionError": False,
        "DestinationConfig": {"OnFailure": {}},
        "FunctionResponseTypes": [],
        "LastProcessingResult": "No records processed",
        "MaximumBatchingWindowInSeconds": 0,
        "MaximumRecordAgeInSeconds": -1,
        "MaximumRetryAttempts": -1,
        "ParallelizationFactor": 1,
        "StartingPosition": "LATEST",
        "State": "Creating",
        "StateTransitionReason": "User action",
        "TumblingWindowInSeconds": 0,
    }
    assert {key: created[key] for key in expected} == expected
    with pytest.raises(ClientError) as excinfo:
        lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=make_function())
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)


def test_delivers_the_kinesis_record_shape(
    lambda_client: Any,
    kinesis: Any,
    stream: Callable[..., tuple[str, str]],
    forwarder: tuple[str, Results],
    mappings: list[str],
    streamlab_region: str,
) -> None:
    name, arn = stream()
    function, results = forwarder
    sequence = put(kinesis, name, {"order": 1}, key="test_0")
    mappings.append(
        lambda_client.create_event_source_mapping(
            EventSourceArn=arn, FunctionName=function, StartingPosition="TRIM_HORIZON"
        )["UUID"]
    )
    [record] = eventually(results.records, timeout=15, message="the handler never received the record")
    assert list(record) == [
        "kinesis",
        "eventSource",
        "eventVersion",
        "eventID",
        "eventName",
        "invokeIdentityArn",
        "awsRegion",
        "eventSourceARN",
    ]
    shard = kinesis.list_shards(StreamName=name)["Shards"][0]["ShardId"]
    assert record["eventID"] == f"{shard}:{sequence}"
    assert record["eventSource"] == "aws:kinesis"
    assert record["eventName"] == "aws:kinesis:record"
    assert record["eventVersion"] == "1.0"
    assert record["invokeIdentityArn"] == ROLE
    assert record["awsRegion"] == streamlab_region
    assert record["eventSourceARN"] == arn
    inner = record["kinesis"]
    assert list(inner) == [
        "kinesisSchemaVersion",
        "partitionKey",
        "sequenceNumber",
        "data",
        "approximateArrivalTimestamp",
    ]
    assert inner["kinesisSchemaVersion"] == "1.0"
    assert inner["partitionKey"] == "test_0"
    assert inner["sequenceNumber"] == sequence
    assert json.loads(base64.b64decode(inner["data"])) == {"order": 1}
    assert isinstance(inner["approximateArrivalTimestamp"], float)
    assert abs(inner["approximateArrivalTimestamp"] - time.time()) < 120


def test_latest_and_at_timestamp_start_where_asked(
    lambda_client: Any,
    kinesis: Any,
    stream: Callable[..., tuple[str, str]],
    make_function: Callable[..., str],
    queue: Callable[[str], tuple[str, str]],
    sqs: Any,
    mappings: list[str],
) -> None:
    name, arn = stream()
    put(kinesis, name, {"n": "before"})
    time.sleep(1.1)  # arrival timestamps are compared, not the clock of this process
    moment = dt.datetime.now(dt.UTC)
    time.sleep(1.1)
    put(kinesis, name, {"n": "after-moment"})
    outputs: dict[str, Results] = {}
    for position in ("LATEST", "AT_TIMESTAMP"):
        url, _ = queue(f"results-{position.lower()}")
        function = make_function(FORWARDER, Environment={"Variables": {"RESULTS": url}})
        outputs[position] = Results(sqs, url)
        extra = {"StartingPositionTimestamp": moment} if position == "AT_TIMESTAMP" else {}
        created = lambda_client.create_event_source_mapping(
            EventSourceArn=arn, FunctionName=function, StartingPosition=position, **extra
        )
        mappings.append(created["UUID"])
        if position == "AT_TIMESTAMP":
            assert abs(created["StartingPositionTimestamp"].timestamp() - moment.timestamp()) < 1
    put(kinesis, name, {"n": "after-mappings"})
    assert eventually(
        lambda: outputs["AT_TIMESTAMP"].data() == [{"n": "after-moment"}, {"n": "after-mappings"}], timeout=15
    )
    assert eventually(lambda: outputs["LATEST"].data() == [{"n": "after-mappings"}], timeout=15)


def test_exhausted_retries_send_kinesis_batch_info_and_the_shard_moves_on(
    lambda_client: Any,
    kinesis: Any,
    sqs: Any,
    stream: Callable[..., tuple[str, str]],
    forwarder: tuple[str, Results],
    queue: Callable[[str], tuple[str, str]],
    mappings: list[str],
) -> None:
    """A poison record that crashes the runtime: bisect isolates it, it ends in the on-failure queue."""
    name, arn = stream()
    function, results = forwarder
    failures_url, failures_arn = queue("failures")
    sequences = [put(kinesis, name, {"n": n}) for n in range(3)]
    poison = put(kinesis, name, {"crash": True})
    sequences += [put(kinesis, name, {"n": n}) for n in range(3, 5)]
    mappings.append(
        lambda_client.create_event_source_mapping(
            EventSourceArn=arn,
            FunctionName=function,
            StartingPosition="TRIM_HORIZON",
            MaximumRetryAttempts=0,
            BisectBatchOnFunctionError=True,
            DestinationConfig={"OnFailure": {"Destination": failures_arn}},
        )["UUID"]
    )
    [message] = eventually(lambda: drain(sqs, failures_url), timeout=30, message="no on-failure record")
    record = json.loads(message["Body"])
    info = record["KinesisBatchInfo"]
    shard = kinesis.list_shards(StreamName=name)["Shards"][0]["ShardId"]
    assert info["shardId"] == shard
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == poison
    assert info["batchSize"] == 1
    assert info["streamArn"] == arn
    assert info["approximateArrivalOfFirstRecord"].endswith("Z")
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert "DDBStreamBatchInfo" not in record

    def delivered() -> set[str] | None:
        seen = {r["kinesis"]["sequenceNumber"] for r in results.records()}
        return seen if set(sequences) <= seen else None

    assert eventually(delivered, timeout=20, message="records around the poison were lost")


def test_partial_batch_response_retries_from_the_failed_sequence_number(
    lambda_client: Any,
    kinesis: Any,
    stream: Callable[..., tuple[str, str]],
    forwarder: tuple[str, Results],
    mappings: list[str],
) -> None:
    name, arn = stream()
    function, results = forwarder
    for n in range(4):
        put(kinesis, name, {"n": n, "fail": 1 if n == 2 else 0})
    mappings.append(
        lambda_client.create_event_source_mapping(
            EventSourceArn=arn,
            FunctionName=function,
            StartingPosition="TRIM_HORIZON",
            BatchSize=10,
            MaximumBatchingWindowInSeconds=1,
            FunctionResponseTypes=["ReportBatchItemFailures"],
        )["UUID"]
    )
    numbers = eventually(lambda: n if len(n := [d["n"] for d in results.data()]) >= 6 else None, timeout=20)
    # the first batch, then a retry from record 2 on (records after it come again)
    assert numbers == [0, 1, 2, 3, 2, 3]
