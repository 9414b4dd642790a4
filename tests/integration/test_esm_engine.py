"""The ESM engine against the embedded endpoint's real DynamoDB stream, SQS, SNS and S3.

Every AWS call is real boto3 against the endpoint. The one stand-in is ``invoke``, the
function boundary the Lambda service will provide: an in-test callable that records the
events it receives and fails on demand.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest

from streamlab.emulator.esm import EventSourceMappingEngine, InvokeResult, MappingConfig
from streamlab.emulator.esm.poller import Boto3StreamReader
from streamlab.streams import create_stream_table
from streamlab.testing import eventually

FAST = dict(
    poll_interval=0.05, retry_backoff=0.01, retry_backoff_max=0.05, shard_refresh_interval=0.5, restart_delay=0.05
)


wait_for = functools.partial(eventually, timeout=10.0, interval=0.02)


class Function:
    """The in-test function: records every event; ``behaviour(event) -> InvokeResult`` decides."""

    def __init__(self, behaviour: Callable[[dict[str, Any]], InvokeResult] | None = None) -> None:
        self.behaviour = behaviour or (lambda event: InvokeResult(200, b"null"))
        self.events: list[dict[str, Any]] = []
        self.names: list[str] = []
        self._lock = threading.Lock()
        self.active = 0
        self.max_active = 0

    def __call__(self, function_name: str, payload: bytes) -> InvokeResult:
        event = json.loads(payload)
        with self._lock:
            self.events.append(event)
            self.names.append(function_name)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            return self.behaviour(event)
        finally:
            with self._lock:
                self.active -= 1

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            return [record for event in self.events for record in event.get("Records", [])]

    def values(self, attribute: str = "n") -> list[str]:
        return [
            r["dynamodb"]["NewImage"][attribute].get("S") or r["dynamodb"]["NewImage"][attribute].get("N")
            for r in self.records()
        ]


def ok(body: Any = None) -> InvokeResult:
    return InvokeResult(200, json.dumps(body).encode())


def unhandled() -> InvokeResult:
    return InvokeResult(200, b'{"errorMessage":"boom","errorType":"Exception"}', "Unhandled")


@pytest.fixture
def stream_table(streamlab_client, streamlab_unique_name):
    """``stream_table(view)`` -> (table name, stream ARN) of a fresh table with a stream."""
    dynamodb = streamlab_client("dynamodb")
    created: list[str] = []

    def make(view: str = "NEW_AND_OLD_IMAGES") -> tuple[str, str]:
        name = streamlab_unique_name("esm")
        stream_arn = create_stream_table(dynamodb, name, view)
        created.append(name)
        return name, stream_arn

    yield make
    for name in created:
        dynamodb.delete_table(TableName=name)


@pytest.fixture
def engines(streamlab_endpoint_url):
    started: list[EventSourceMappingEngine] = []

    def make(invoke, **options) -> EventSourceMappingEngine:
        engine = EventSourceMappingEngine(invoke, streamlab_endpoint_url, **{**FAST, **options})
        started.append(engine)
        return engine

    yield make
    for engine in started:
        engine.stop_all()


def mapping(stream_arn: str, **parameters: Any) -> MappingConfig:
    parameters.setdefault("starting_position", "TRIM_HORIZON")
    return MappingConfig(uuid=str(uuid.uuid4()), function_name="handler", event_source_arn=stream_arn, **parameters)


def put(streamlab_client, table: str, key: str, n: int, **extra: Any) -> None:
    item = {"pk": {"S": key}, "n": {"N": str(n)}}
    item.update(extra)
    streamlab_client("dynamodb").put_item(TableName=table, Item=item)


def queue(streamlab_client, streamlab_unique_name) -> tuple[str, str]:
    sqs = streamlab_client("sqs")
    url = sqs.create_queue(QueueName=streamlab_unique_name("dlq"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive(streamlab_client, url: str, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
    sqs = streamlab_client("sqs")
    bodies: list[dict[str, Any]] = []

    def enough() -> bool:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []):
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(bodies) >= count

    wait_for(enough, timeout=timeout, interval=0.05)
    return bodies


def last_sequence_number(streamlab_client, stream_arn: str) -> str:
    reader = Boto3StreamReader(streamlab_client("dynamodbstreams").meta.endpoint_url, stream_arn.split(":")[3])
    shard = reader.list_shards(stream_arn)[-1]
    return all_shard_records(reader, stream_arn, shard.shard_id)[-1]["dynamodb"]["SequenceNumber"]


def all_shard_records(reader: Boto3StreamReader, stream_arn: str, shard_id: str) -> list[dict[str, Any]]:
    iterator = reader.shard_iterator(stream_arn, shard_id, "TRIM_HORIZON")
    records: list[dict[str, Any]] = []
    while iterator:
        page = reader.get_records(iterator)
        if not page.records:
            break
        records.extend(page.records)
        iterator = page.next_iterator
    return records


# -- delivery -----------------------------------------------------------------------------------
def test_every_record_delivered_once_in_order_per_key(streamlab_client, stream_table, engines):
    table, stream_arn = stream_table()
    function = Function()
    engine = engines(function)
    config = mapping(stream_arn, batch_size=7)
    engine.start_mapping(config)
    for n in range(60):
        put(streamlab_client, table, f"key-{n % 6}", n)
    wait_for(lambda: len(function.records()) >= 60)
    time.sleep(0.2)
    records = function.records()
    assert len(records) == 60
    assert sorted(int(v) for v in function.values()) == list(range(60))  # no loss, no duplicate
    by_key: dict[str, list[int]] = defaultdict(list)
    for record in records:
        by_key[record["dynamodb"]["Keys"]["pk"]["S"]].append(int(record["dynamodb"]["NewImage"]["n"]["N"]))
    assert all(values == sorted(values) for values in by_key.values())
    assert all(len(event["Records"]) <= 7 for event in function.events)
    first = records[0]
    assert list(first) == [
        "eventID",
        "eventName",
        "eventVersion",
        "eventSource",
        "awsRegion",
        "dynamodb",
        "eventSourceARN",
    ]
    assert (first["eventVersion"], first["eventSource"], first["eventSourceARN"]) == ("1.1", "aws:dynamodb", stream_arn)
    assert isinstance(first["dynamodb"]["ApproximateCreationDateTime"], float)  # AWS sends a float
    assert function.names == ["handler"] * len(function.events)
    status = engine.status(config.uuid)
    assert status.last_processing_result == "OK"
    assert status.records_delivered == 60
    assert status.restarts == 0
    assert engine.checkpoints.get(config.uuid, next(iter(engine.checkpoints.shards(config.uuid)))).sequence_number == (
        last_sequence_number(streamlab_client, stream_arn)
    )


def test_binary_values_arrive_base64(streamlab_client, stream_table, engines):
    table, stream_arn = stream_table("NEW_IMAGE")
    function = Function()
    engines(function).start_mapping(mapping(stream_arn))
    put(streamlab_client, table, "bin", 1, binary_key={"B": b"foobar"})
    wait_for(function.records)
    assert function.records()[0]["dynamodb"]["NewImage"]["binary_key"] == {"B": "Zm9vYmFy"}
    assert function.records()[0]["dynamodb"]["StreamViewType"] == "NEW_IMAGE"


def test_latest_only_sees_writes_after_the_mapping_starts(streamlab_client, stream_table, engines):
    table, stream_arn = stream_table()
    put(streamlab_client, table, "before", 1)
    function = Function()
    engines(function).start_mapping(mapping(stream_arn, starting_position="LATEST"))
    put(streamlab_client, table, "after", 2)
    wait_for(function.records)
    time.sleep(0.2)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in function.records()] == ["after"]


def written_while_asleep(streamlab_client, stream_table, engines) -> tuple[str, Function, Any]:
    """A mapping whose next poll is 30 s away, and a record written after its first poll."""
    table, stream_arn = stream_table()
    function = Function()
    engine = engines(function, poll_interval=30.0)
    engine.start_mapping(mapping(stream_arn))
    time.sleep(0.2)  # the first poll found nothing; the next one is 30 s away
    put(streamlab_client, table, "k", 1)
    return table, function, engine


def test_wake_delivers_without_waiting_for_the_poll(streamlab_client, stream_table, engines):
    _, function, engine = written_while_asleep(streamlab_client, stream_table, engines)
    started = time.monotonic()
    engine.wake("PutItem")
    wait_for(function.records, timeout=5)
    assert time.monotonic() - started < 2


def test_a_wake_reaches_only_the_mappings_of_the_tables_written(streamlab_client, stream_table, engines):
    table, function, engine = written_while_asleep(streamlab_client, stream_table, engines)
    engine.wake("PutItem", frozenset({"another-table"}))
    time.sleep(1.0)
    assert function.records() == []  # a write elsewhere: this mapping did not poll
    engine.wake("PutItem", frozenset({table}))
    wait_for(function.records, timeout=5)


def test_batching_window_gathers_records(streamlab_client, stream_table, engines):
    table, stream_arn = stream_table()
    function = Function()
    engines(function).start_mapping(mapping(stream_arn, batch_size=100, maximum_batching_window_in_seconds=0.6))
    for n in range(5):
        put(streamlab_client, table, f"k{n}", n)
    wait_for(lambda: len(function.records()) >= 5)
    assert [len(event["Records"]) for event in function.events] == [5]


# -- failures -----------------------------------------------------------------------------------
def test_retries_exhausted_sends_the_aws_record_to_sqs(streamlab_client, stream_table, engines, streamlab_unique_name):
    table, stream_arn = stream_table()
    url, queue_arn = queue(streamlab_client, streamlab_unique_name)
    function = Function(
        lambda event: unhandled() if event["Records"][0]["dynamodb"]["Keys"]["pk"]["S"] == "bad" else ok()
    )
    engine = engines(function)
    config = mapping(
        stream_arn,
        batch_size=1,
        maximum_retry_attempts=1,
        destination_config={"OnFailure": {"Destination": queue_arn}},
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:handler",
    )
    engine.start_mapping(config)
    put(streamlab_client, table, "bad", 1)
    wait_for(lambda: engine.last_processing_result(config.uuid) == "PROBLEM: Function call failed")
    put(streamlab_client, table, "good", 2)
    (body,) = receive(streamlab_client, url)
    bad = function.records()[0]
    assert list(body) == ["requestContext", "responseContext", "version", "timestamp", "DDBStreamBatchInfo"]
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert body["requestContext"]["approximateInvokeCount"] == 2  # 1 + MaximumRetryAttempts
    assert body["requestContext"]["functionArn"] == config.function_arn
    assert body["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert body["version"] == "1.0"
    assert body["timestamp"].endswith("Z")
    assert len(body["timestamp"]) == 24
    info = body["DDBStreamBatchInfo"]
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == bad["dynamodb"]["SequenceNumber"]
    assert info["batchSize"] == 1
    assert info["streamArn"] == stream_arn
    assert info["shardId"].startswith("shardId-")
    assert info["approximateArrivalOfFirstRecord"].endswith("Z")
    assert "payload" not in body
    wait_for(lambda: "good" in [r["dynamodb"]["Keys"]["pk"]["S"] for r in function.records()])  # the shard moved on
    wait_for(lambda: engine.last_processing_result(config.uuid) == "OK")


def test_bisect_isolates_a_poison_record(streamlab_client, stream_table, engines, streamlab_unique_name):
    table, stream_arn = stream_table()
    url, queue_arn = queue(streamlab_client, streamlab_unique_name)
    for n in range(8):
        put(streamlab_client, table, f"k{n}", n)

    def behaviour(event):
        keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]
        return unhandled() if "k5" in keys else ok()

    function = Function(behaviour)
    engines(function).start_mapping(
        mapping(
            stream_arn,
            batch_size=8,
            maximum_retry_attempts=1,
            bisect_batch_on_function_error=True,
            destination_config={"OnFailure": {"Destination": queue_arn}},
        )
    )
    (body,) = receive(streamlab_client, url)
    assert body["DDBStreamBatchInfo"]["batchSize"] == 1
    assert body["requestContext"]["approximateInvokeCount"] == 2
    # The records after the poison go out once it is discarded, which may be after its on-failure record.
    wait_for(lambda: {"k6", "k7"} <= {r["dynamodb"]["Keys"]["pk"]["S"] for r in function.records()})
    poison = next(r for r in function.records() if r["dynamodb"]["Keys"]["pk"]["S"] == "k5")
    assert body["DDBStreamBatchInfo"]["startSequenceNumber"] == poison["dynamodb"]["SequenceNumber"]
    sizes = [len(event["Records"]) for event in function.events]
    assert sizes[:3] == [8, 4, 4]
    assert sizes.count(1) >= 2
    succeeded = [
        r["dynamodb"]["Keys"]["pk"]["S"]
        for e in function.events
        for r in e["Records"]
        if "k5" not in [x["dynamodb"]["Keys"]["pk"]["S"] for x in e["Records"]]
    ]
    assert sorted(succeeded) == [f"k{n}" for n in range(8) if n != 5]


def test_report_batch_item_failures_resumes_from_the_lowest_failure(streamlab_client, stream_table, engines):
    table, stream_arn = stream_table()
    for n in range(6):
        put(streamlab_client, table, f"k{n}", n)
    calls = []

    def behaviour(event):
        calls.append([r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]])
        if len(calls) == 1:
            by_key = {r["dynamodb"]["Keys"]["pk"]["S"]: r["dynamodb"]["SequenceNumber"] for r in event["Records"]}
            return ok({"batchItemFailures": [{"itemIdentifier": by_key["k4"]}, {"itemIdentifier": by_key["k3"]}]})
        return ok({"batchItemFailures": []})

    function = Function(behaviour)
    engines(function).start_mapping(
        mapping(stream_arn, batch_size=10, function_response_types=("ReportBatchItemFailures",))
    )
    wait_for(lambda: len(calls) >= 2)
    time.sleep(0.2)
    assert calls == [[f"k{n}" for n in range(6)], ["k3", "k4", "k5"]]


def test_invalid_batch_item_failures_fail_the_whole_batch(
    streamlab_client, stream_table, engines, streamlab_unique_name
):
    table, stream_arn = stream_table()
    url, queue_arn = queue(streamlab_client, streamlab_unique_name)
    put(streamlab_client, table, "k0", 0)
    function = Function(lambda event: ok({"batchItemFailures": [{"itemIdentifier": ""}]}))
    engines(function).start_mapping(
        mapping(
            stream_arn,
            maximum_retry_attempts=2,
            function_response_types=("ReportBatchItemFailures",),
            destination_config={"OnFailure": {"Destination": queue_arn}},
        )
    )
    (body,) = receive(streamlab_client, url)
    assert len(function.events) == 3
    assert body["responseContext"]["functionError"] is None
    assert body["requestContext"]["approximateInvokeCount"] == 3


def test_record_age_exceeded_is_discarded(streamlab_client, stream_table, engines, streamlab_unique_name):
    table, stream_arn = stream_table()
    url, queue_arn = queue(streamlab_client, streamlab_unique_name)
    function = Function(lambda event: unhandled())
    engines(function, retry_backoff=0.05, retry_backoff_max=0.1).start_mapping(
        # ApproximateCreationDateTime is whole seconds, so a record can look up to 1 s older
        # than it is: 3 s leaves room for the first invocation before the age runs out.
        mapping(
            stream_arn, maximum_record_age_in_seconds=3, destination_config={"OnFailure": {"Destination": queue_arn}}
        )
    )
    put(streamlab_client, table, "k", 1)
    (body,) = receive(streamlab_client, url, timeout=15)
    assert body["requestContext"]["condition"] == "RecordAgeExceeded"
    assert body["requestContext"]["approximateInvokeCount"] >= 1


def test_s3_destination_carries_the_payload(streamlab_client, stream_table, engines, streamlab_unique_name):
    table, stream_arn = stream_table()
    s3 = streamlab_client("s3")
    bucket = streamlab_unique_name("failures")
    s3.create_bucket(Bucket=bucket)
    function = Function(lambda event: unhandled())
    config = mapping(
        stream_arn,
        maximum_retry_attempts=0,
        destination_config={"OnFailure": {"Destination": f"arn:aws:s3:::{bucket}"}},
    )
    engines(function).start_mapping(config)
    put(streamlab_client, table, "k", 1)
    objects = wait_for(lambda: s3.list_objects_v2(Bucket=bucket).get("Contents"))
    key = objects[0]["Key"]
    assert key.startswith(f"aws/lambda/{config.uuid}/shardId-")
    body = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert body["payload"] == {"Records": function.records()[:1]}
    assert body["requestContext"]["approximateInvokeCount"] == 1


def test_sns_destination(streamlab_client, stream_table, engines, streamlab_unique_name):
    table, stream_arn = stream_table()
    url, queue_arn = queue(streamlab_client, streamlab_unique_name)
    sns = streamlab_client("sns")
    topic = sns.create_topic(Name=streamlab_unique_name("failures"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    function = Function(lambda event: unhandled())
    engines(function).start_mapping(
        mapping(stream_arn, maximum_retry_attempts=0, destination_config={"OnFailure": {"Destination": topic}})
    )
    put(streamlab_client, table, "k", 1)
    (envelope,) = receive(streamlab_client, url)
    assert envelope["TopicArn"] == topic
    assert json.loads(envelope["Message"])["requestContext"]["condition"] == "RetryAttemptsExhausted"


# -- filters, windows, parallelization ------------------------------------------------------------
def test_filter_drops_non_matching_records_but_checkpoints_them(streamlab_client, stream_table, engines):
    table, stream_arn = stream_table()
    function = Function()
    engine = engines(function)
    criteria = {
        "Filters": [
            {"Pattern": json.dumps({"eventName": ["INSERT"], "dynamodb": {"NewImage": {"status": {"S": ["PAID"]}}}})}
        ]
    }
    config = mapping(stream_arn, filter_criteria=criteria)
    engine.start_mapping(config)
    put(streamlab_client, table, "a", 1, status={"S": "PAID"})
    put(streamlab_client, table, "b", 2, status={"S": "OPEN"})
    put(streamlab_client, table, "a", 3, status={"S": "PAID"})  # MODIFY: filtered out
    put(streamlab_client, table, "c", 4, status={"S": "PAID"})
    put(streamlab_client, table, "d", 5)
    last = last_sequence_number(streamlab_client, stream_arn)
    wait_for(lambda: any(s.sequence_number == last for s in engine.checkpoints.shards(config.uuid).values()))
    assert [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in function.records()] == [
        ("INSERT", "a"),
        ("INSERT", "c"),
    ]
    assert engine.status(config.uuid).records_filtered == 3


def test_tumbling_window_carries_state_and_ends_with_a_final_invoke(streamlab_client, stream_table, engines):
    table, stream_arn = stream_table()

    def behaviour(event):
        count = event["state"].get("count", 0) + len(event["Records"])
        return ok({"state": {"count": count}})

    function = Function(behaviour)
    engines(function).start_mapping(mapping(stream_arn, batch_size=2, tumbling_window_in_seconds=2))
    wait_for(lambda: time.time() % 2 < 0.3, timeout=3, interval=0.005)  # write early in a window
    for n in range(5):
        put(streamlab_client, table, f"k{n}", n)
    wait_for(
        lambda: len(function.records()) >= 5 and any(e["isFinalInvokeForWindow"] for e in function.events[-1:]),
        timeout=10,
    )
    finals = [e for e in function.events if e["isFinalInvokeForWindow"]]
    assert sum(e["state"]["count"] for e in finals) == 5  # every record counted in exactly one window
    for event in function.events:
        assert set(event) == {
            "Records",
            "window",
            "state",
            "shardId",
            "eventSourceARN",
            "isFinalInvokeForWindow",
            "isWindowTerminatedEarly",
        }
        assert event["eventSourceARN"] == stream_arn
        assert not event["isWindowTerminatedEarly"]
    assert all(e["Records"] == [] for e in finals)
    per_window = defaultdict(int)
    for event in function.events:
        per_window[event["window"]["start"]] += 0 if event["isFinalInvokeForWindow"] else 1
    assert max(per_window.values()) >= 2  # batch size 2: several invokes shared a window and its state
    carried: dict[str, int] = defaultdict(int)  # window start -> records delivered in it so far
    for event in function.events:
        start = event["window"]["start"]
        assert event["window"]["start"] < event["window"]["end"]
        assert event["state"].get("count", 0) == carried[start]  # the state came back within the window
        if event["isFinalInvokeForWindow"]:
            carried[start] = -1  # a window closes once
        else:
            assert carried[start] >= 0, "records delivered after their window's final invoke"
            carried[start] += len(event["Records"])


def test_tumbling_window_answer_without_state_is_a_failure(streamlab_client, stream_table, engines):
    table, stream_arn = stream_table()
    answers = iter([ok({"batchItemFailures": []})])
    function = Function(lambda event: next(answers, ok({"state": {}})))
    engines(function).start_mapping(mapping(stream_arn, tumbling_window_in_seconds=1))
    put(streamlab_client, table, "k", 1)
    wait_for(lambda: len(function.events) >= 2)
    assert function.events[1]["Records"] == function.events[0]["Records"]  # retried


def test_parallelization_keeps_per_key_order(streamlab_client, stream_table, engines):
    table, stream_arn = stream_table()
    for n in range(80):
        put(streamlab_client, table, f"key-{n % 8}", n)

    def behaviour(event):
        time.sleep(0.02)
        return ok()

    function = Function(behaviour)
    engines(function).start_mapping(mapping(stream_arn, batch_size=5, parallelization_factor=4))
    wait_for(lambda: len(function.records()) >= 80)
    by_key: dict[str, list[int]] = defaultdict(list)
    for record in function.records():
        by_key[record["dynamodb"]["Keys"]["pk"]["S"]].append(int(record["dynamodb"]["NewImage"]["n"]["N"]))
    assert sum(len(v) for v in by_key.values()) == 80
    assert all(values == sorted(values) for values in by_key.values())
    assert function.max_active > 1  # batches of one shard really were in flight together


def test_parallel_failing_key_blocks_only_its_lane(streamlab_client, stream_table, engines):
    table, stream_arn = stream_table()
    release = threading.Event()

    def behaviour(event):
        if any(r["dynamodb"]["Keys"]["pk"]["S"] == "stuck" for r in event["Records"]) and not release.is_set():
            return unhandled()
        return ok()

    function = Function(behaviour)
    engine = engines(function)
    config = mapping(stream_arn, batch_size=1, parallelization_factor=10)
    engine.start_mapping(config)
    put(streamlab_client, table, "stuck", 0)
    others = [f"other-{n}" for n in range(12)]
    for n, key in enumerate(others):
        put(streamlab_client, table, key, n + 1)
    from streamlab.emulator.esm.parallel import lane_for_key

    def lane(key: str) -> int:
        return lane_for_key(json.dumps({"pk": {"S": key}}, sort_keys=True, separators=(",", ":")), 10)

    free = [key for key in others if lane(key) != lane("stuck")]

    def delivered():
        return {
            r["dynamodb"]["Keys"]["pk"]["S"]
            for e in function.events
            for r in e["Records"]
            if e["Records"][0]["dynamodb"]["Keys"]["pk"]["S"] != "stuck"
        }

    wait_for(lambda: set(free) <= delivered())
    shard_checkpoint = next(iter(engine.checkpoints.shards(config.uuid).values()), None)
    assert shard_checkpoint is None or shard_checkpoint.sequence_number is None  # "stuck" holds the checkpoint
    release.set()
    wait_for(lambda: set(others) <= delivered() and engine.checkpoints.shards(config.uuid))


# -- lifecycle ----------------------------------------------------------------------------------
def test_disable_and_enable_resume_from_the_checkpoint(streamlab_client, stream_table, engines):
    table, stream_arn = stream_table()
    function = Function()
    engine = engines(function)
    config = mapping(stream_arn, starting_position="LATEST")
    engine.start_mapping(config)
    for n in range(5):
        put(streamlab_client, table, f"k{n}", n)
    wait_for(lambda: len(function.records()) >= 5)
    engine.stop_mapping(config.uuid)
    assert not engine.is_running(config.uuid)
    for n in range(5, 10):
        put(streamlab_client, table, f"k{n}", n)
    time.sleep(0.2)
    assert len(function.records()) == 5  # disabled: nothing delivered
    engine.start_mapping(config)
    wait_for(lambda: len(function.records()) >= 10)
    time.sleep(0.2)
    assert sorted(int(v) for v in function.values()) == list(range(10))  # resumed after, not from LATEST


def test_update_mapping_keeps_the_checkpoint(streamlab_client, stream_table, engines):
    table, stream_arn = stream_table()
    function = Function()
    engine = engines(function)
    config = mapping(stream_arn, batch_size=1)
    engine.start_mapping(config)
    put(streamlab_client, table, "a", 1)
    wait_for(function.records)
    assert engine.update_mapping(config.with_changes(batch_size=10, maximum_batching_window_in_seconds=0.3))
    put(streamlab_client, table, "b", 2)
    put(streamlab_client, table, "c", 3)
    wait_for(lambda: len(function.records()) >= 3)
    time.sleep(0.2)
    assert [len(e["Records"]) for e in function.events] == [1, 2]
    engine.stop_mapping(config.uuid)
    assert not engine.update_mapping(config)  # a disabled mapping is not started by an update
    assert not engine.is_running(config.uuid)


class CrashingReader:
    """The real boto3 reader, plus one unexpected exception (a bug) when armed."""

    def __init__(self, inner: Boto3StreamReader) -> None:
        self.inner = inner
        self.armed = threading.Event()

    def list_shards(self, stream_arn):
        return self.inner.list_shards(stream_arn)

    def shard_iterator(self, *args, **kwargs):
        return self.inner.shard_iterator(*args, **kwargs)

    def get_records(self, iterator, limit=1000):
        page = self.inner.get_records(iterator, limit)
        if page.records and self.armed.is_set():
            self.armed.clear()
            raise RuntimeError("injected worker crash")
        return page


def test_crashed_worker_restarts_from_the_checkpoint(
    streamlab_client, stream_table, engines, streamlab_endpoint_url, caplog
):
    table, stream_arn = stream_table()
    readers: list[CrashingReader] = []

    def reader_factory(config):
        readers.append(CrashingReader(Boto3StreamReader.for_stream(streamlab_endpoint_url, config.event_source_arn)))
        return readers[-1]

    function = Function()
    engine = engines(function, reader_factory=reader_factory)
    config = mapping(stream_arn)
    engine.start_mapping(config)
    for n in range(5):
        put(streamlab_client, table, f"k{n}", n)
    wait_for(lambda: len(function.records()) >= 5)
    readers[0].armed.set()
    with caplog.at_level(logging.ERROR, logger="streamlab.emulator.esm.worker"):
        for n in range(5, 10):
            put(streamlab_client, table, f"k{n}", n)
        wait_for(lambda: len(function.records()) >= 10)
    time.sleep(0.2)
    assert engine.status(config.uuid).restarts == 1
    assert sorted(int(v) for v in function.values()) == list(range(10))  # checkpointed records not read again
    assert engine.is_running(config.uuid)
    assert any("restarting from the checkpoint" in message for message in caplog.messages)


def test_a_third_mapping_on_one_stream_logs_a_warning(streamlab_client, stream_table, engines, caplog):
    _, stream_arn = stream_table()
    engine = engines(Function())
    with caplog.at_level(logging.WARNING, logger="streamlab.emulator.esm.engine"):
        for _ in range(3):
            engine.start_mapping(mapping(stream_arn))
    assert sum("readers per shard" in message for message in caplog.messages) == 1


def test_uninvokable_function_is_retried_until_it_exists(streamlab_client, stream_table, engines):
    table, stream_arn = stream_table()
    available = threading.Event()
    function = Function()

    def invoke(name, payload):
        if not available.is_set():
            raise LookupError("Function not found")
        return function(name, payload)

    engine = engines(invoke)
    config = mapping(stream_arn, maximum_retry_attempts=0)
    engine.start_mapping(config)
    put(streamlab_client, table, "k", 1)
    wait_for(lambda: engine.last_processing_result(config.uuid) == "PROBLEM: Function call failed")
    available.set()
    wait_for(function.records)  # not discarded: the retry quota was never charged
