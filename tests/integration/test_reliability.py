"""Reliability of DynamoDB Streams -> Lambda on the embedded endpoint, through the real path.

Every test deploys with boto3 (table with a stream, function from an inline zip, event
source mapping), writes items with boto3, and observes what the handler did through public
APIs only: the handler records each successful invocation in a *ledger* table (boto3
inside the execution environment, aimed at AWS_ENDPOINT_URL), and failures show in the
function's CloudWatch Logs and in GetEventSourceMapping's LastProcessingResult.

Two things have no public API on the embedded endpoint, so these tests start their own
:class:`EmbeddedEndpoint` (module fixture; moto state is process-wide, hence unique names)
and touch its internals for exactly these, nothing else:

- IteratorAge: on AWS it is the CloudWatch metric ``AWS/Lambda IteratorAge``, which the
  endpoint does not publish; it is read from ``endpoint.esm_engine.status(uuid)``.
- Fault injection into the mapping's worker (its stream reader raising once), which no
  API can cause.

Every check waits for a condition with a deadline; the only timed waits are the short
grace periods of the "nothing is delivered while ..." checks, which are absence checks,
never speed assertions.
"""

from __future__ import annotations

import contextlib
import functools
import io
import itertools
import json
import textwrap
import threading
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.config import Config

from streamlab.emulator.endpoint import EmbeddedEndpoint
from streamlab.emulator.esm.parallel import lane_for_key
from streamlab.emulator.telemetry import BatchInvoked, InvokeOutcome, RecordsDiscarded, RecordsRead, TelemetryEvent
from streamlab.measure.delivery import DeliveryReport, analyze
from streamlab.testing import eventually

ROLE = "arn:aws:iam::123456789012:role/streamlab-reliability"
REGION = "us-east-1"
PROBLEM = "PROBLEM: Function call failed"

#: Shared by every handler below: the ledger and a "first time only" marker that survives
#: the execution environment (a crash or a timeout kills it, so memory would not do).
PRELUDE = '''
import json, os, sys, time, uuid
import boto3

ddb = boto3.client("dynamodb")
LEDGER = os.environ["LEDGER"]


def first_time(marker):
    """True exactly once per marker, across environments (a conditional put on the ledger)."""
    try:
        ddb.put_item(
            TableName=LEDGER, Item={"pk": {"S": "marker#" + marker}}, ConditionExpression="attribute_not_exists(pk)"
        )
        return True
    except ddb.exceptions.ConditionalCheckFailedException:
        return False


def items(event):
    return [
        (
            r["dynamodb"]["Keys"]["pk"]["S"],
            int(r["dynamodb"]["NewImage"]["v"]["N"]),
            r["dynamodb"]["SequenceNumber"],
            r["dynamodb"]["NewImage"],
        )
        for r in event["Records"]
    ]


def record(event, outcome="ok"):
    """One ledger row per invocation: its records in order, when, and how it ended."""
    rows = [[key, version, seq] for key, version, seq, _ in items(event)]
    ddb.put_item(
        TableName=LEDGER,
        Item={
            "pk": {"S": "inv#" + uuid.uuid4().hex},
            "t": {"N": repr(time.time())},
            "records": {"S": json.dumps(rows)},
            "outcome": {"S": outcome},
        },
    )
'''


# -- plumbing ---------------------------------------------------------------------------------
#: Reliability scenarios retry and restart: give them longer than the Lambda tests' default.
wait_for = functools.partial(eventually, timeout=15.0)


def zip_source(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("app.py", textwrap.dedent(PRELUDE) + textwrap.dedent(source))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def endpoint() -> Iterator[EmbeddedEndpoint]:
    with EmbeddedEndpoint(port=0) as started:
        yield started


@pytest.fixture(scope="module")
def client(endpoint: EmbeddedEndpoint) -> Callable[[str], Any]:
    clients: dict[str, Any] = {}

    def make(service: str) -> Any:
        if service not in clients:
            clients[service] = boto3.client(
                service,
                endpoint_url=endpoint.url,
                region_name=REGION,
                aws_access_key_id="test",
                aws_secret_access_key="test",
                config=Config(retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=30),
            )
        return clients[service]

    return make


@dataclass
class Ledger:
    """What the handler recorded: one row per invocation, read back with Scan."""

    ddb: Any
    table: str

    def invocations(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for page in self.ddb.get_paginator("scan").paginate(TableName=self.table, ConsistentRead=True):
            for item in page["Items"]:
                if item["pk"]["S"].startswith("inv#"):
                    rows.append(
                        {
                            "t": float(item["t"]["N"]),
                            "records": json.loads(item["records"]["S"]),
                            "outcome": item["outcome"]["S"],
                        }
                    )
        return sorted(rows, key=lambda row: row["t"])

    def deliveries(self) -> list[tuple[str, int, float]]:
        """``(key, version, processed_at)`` of every record of every successful invocation, in order."""
        return [
            (key, version, row["t"])
            for row in self.invocations()
            if row["outcome"] == "ok"
            for key, version, _ in row["records"]
        ]


@dataclass
class Stack:
    """A table with a stream, its writer's log, a function and the ledger the function fills."""

    client: Callable[[str], Any]
    table: str
    stream_arn: str
    ledger: Ledger
    function: str = ""
    mapping: str = ""
    writes: list[tuple[str, int, float]] = field(default_factory=list)

    def put(self, key: str, version: int, **attributes: Any) -> None:
        item = {"pk": {"S": key}, "v": {"N": str(version)}}
        for name, value in attributes.items():
            item[name] = {"S": str(value)}
        self.client("dynamodb").put_item(TableName=self.table, Item=item)
        self.writes.append((key, version, time.time()))

    def put_many(self, pairs: list[tuple[str, int]]) -> None:
        """One BatchWriteItem: the records land on the stream together (one GetRecords sees them all)."""
        requests = [{"PutRequest": {"Item": {"pk": {"S": key}, "v": {"N": str(version)}}}} for key, version in pairs]
        answer = self.client("dynamodb").batch_write_item(RequestItems={self.table: requests})
        assert not answer.get("UnprocessedItems")
        now = time.time()
        self.writes.extend((key, version, now) for key, version in pairs)

    def report(self) -> DeliveryReport:
        return analyze(self.writes, self.ledger.deliveries())

    def all_delivered(self) -> DeliveryReport | None:
        report = self.report()
        return report if report.lost == 0 else None

    def delivered(self) -> set[tuple[str, int]]:
        return {(key, version) for key, version, _ in self.ledger.deliveries()}

    def mapping_state(self) -> dict[str, Any]:
        return self.client("lambda").get_event_source_mapping(UUID=self.mapping)

    def log_messages(self) -> list[str]:
        logs = self.client("logs")
        try:
            pages = logs.get_paginator("filter_log_events").paginate(logGroupName=f"/aws/lambda/{self.function}")
            return [event["message"] for page in pages for event in page["events"]]
        except logs.exceptions.ResourceNotFoundException:
            return []


@pytest.fixture
def make_stack(client: Callable[[str], Any]) -> Iterator[Callable[..., Stack]]:
    """``make_stack(handler_source, function_kwargs, mapping_kwargs, shards) -> Stack``; deleted afterwards.

    ``shards``: the table's tag ``streamlab:stream-shards`` (its stream's initial shard count).
    """
    created: list[Stack] = []
    ddb, lam = client("dynamodb"), client("lambda")

    def create_table(name: str, stream: bool, shards: int | None = None) -> str:
        options: dict[str, Any] = {}
        if stream:
            options["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
        if shards is not None:
            options["Tags"] = [{"Key": "streamlab:stream-shards", "Value": str(shards)}]
        description = ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            **options,
        )["TableDescription"]
        return description.get("LatestStreamArn", "")

    def make(
        source: str,
        function: dict[str, Any] | None = None,
        mapping: dict[str, Any] | None = None,
        shards: int | None = None,
    ) -> Stack:
        suffix = uuid.uuid4().hex[:8]
        table, ledger, name = f"rel-src-{suffix}", f"rel-ledger-{suffix}", f"rel-fn-{suffix}"
        stack = Stack(client, table, create_table(table, stream=True, shards=shards), Ledger(ddb, ledger))
        created.append(stack)
        create_table(ledger, stream=False)
        options = {"Timeout": 10, **(function or {})}
        variables = {"LEDGER": ledger, **options.pop("Variables", {})}
        lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": zip_source(source)},
            Environment={"Variables": variables},
            **options,
        )
        stack.function = name
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        settings = {"StartingPosition": "TRIM_HORIZON", "BatchSize": 10, **(mapping or {})}
        stack.mapping = lam.create_event_source_mapping(EventSourceArn=stack.stream_arn, FunctionName=name, **settings)[
            "UUID"
        ]
        wait_for(lambda: stack.mapping_state()["State"] == "Enabled", message="mapping enabled")
        return stack

    yield make
    for stack in created:
        for call, arguments in (
            (lam.delete_event_source_mapping, {"UUID": stack.mapping}),
            (lam.delete_function, {"FunctionName": stack.function}),
            (ddb.delete_table, {"TableName": stack.table}),
            (ddb.delete_table, {"TableName": stack.ledger.table}),
        ):
            with contextlib.suppress(Exception):
                call(**arguments)


def update_environment(stack: Stack, **variables: str) -> None:
    """UpdateFunctionConfiguration (new environments pick it up), then wait for it to apply."""
    lam = stack.client("lambda")
    lam.update_function_configuration(
        FunctionName=stack.function, Environment={"Variables": {"LEDGER": stack.ledger.table, **variables}}
    )
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=stack.function, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )


def assert_complete_and_ordered(report: DeliveryReport, *, exactly_once: bool = False) -> None:
    assert report.lost == 0, f"lost {report.lost_items}"
    assert report.order_violations == 0, f"out of order {report.violating_items}"
    assert report.unexpected == 0
    if exactly_once:
        assert report.duplicates == 0


# -- a handler that fails -------------------------------------------------------------------------
CRASH_ONCE = """
def handler(event, context):
    for key, version, seq, image in items(event):
        if key.startswith("crash") and first_time("exit#" + key):
            print("crashing on", key, flush=True)
            os._exit(1)
    record(event)
"""


def test_a_handler_that_exits_is_retried_without_loss(make_stack: Callable[..., Stack]) -> None:
    """os._exit(1) on a key's first delivery: Runtime.ExitError, the batch is retried, nothing lost."""
    stack = make_stack(CRASH_ONCE)
    for version in (1, 2, 3):
        for key in ("a", "crash", "b"):
            stack.put(key, version)
    report = wait_for(stack.all_delivered, message="every record delivered")
    assert_complete_and_ordered(report, exactly_once=True)
    wait_for(
        lambda: any("Runtime.ExitError" in message for message in stack.log_messages()),
        message="Runtime.ExitError logged",
    )


HANG_ONCE = """
def handler(event, context):
    for key, version, seq, image in items(event):
        if key.startswith("slow") and first_time("hang#" + key):
            time.sleep(30)
    record(event)
"""


def test_a_handler_that_hangs_past_its_timeout_is_retried_without_loss(make_stack: Callable[..., Stack]) -> None:
    """Timeout 1 s, the first delivery sleeps 30 s: the environment is killed, the batch retried.

    The wait's deadline (15 s) is below the handler's sleep, so completing at all means the
    hung invocation was cut off at its timeout rather than waited out.
    """
    stack = make_stack(HANG_ONCE, function={"Timeout": 1})
    for version in (1, 2):
        for key in ("a", "slow", "b"):
            stack.put(key, version)
    report = wait_for(stack.all_delivered, timeout=15, message="every record delivered")
    assert_complete_and_ordered(report, exactly_once=True)
    wait_for(
        lambda: any("Task timed out after 1.00 seconds" in message for message in stack.log_messages()),
        message="timeout logged",
    )


MALFORMED = """
SHAPES = {
    "bad-unknown": lambda seq: {"batchItemFailures": [{"itemIdentifier": "0"}]},
    "bad-empty": lambda seq: {"batchItemFailures": [{"itemIdentifier": ""}]},
    "bad-null": lambda seq: {"batchItemFailures": [{"itemIdentifier": None}]},
    "bad-misnamed": lambda seq: {"batchItemFailures": [{"itemIdentifer": seq}]},
}


def handler(event, context):
    for key, version, seq, image in items(event):
        if key in SHAPES and first_time("bad#" + key):
            record(event, outcome="malformed:" + key)
            return SHAPES[key](seq)
    record(event)
    return {"batchItemFailures": []}
"""


def test_a_malformed_partial_batch_response_retries_the_whole_batch(make_stack: Callable[..., Stack]) -> None:
    """ReportBatchItemFailures with an unknown, empty, null or misnamed identifier fails the
    whole batch: every record of it is delivered again, none is checkpointed past."""
    stack = make_stack(MALFORMED, mapping={"FunctionResponseTypes": ["ReportBatchItemFailures"], "BatchSize": 20})
    shapes = ["bad-unknown", "bad-empty", "bad-null", "bad-misnamed"]
    stack.put_many([("a", 1), *[(shape, 1) for shape in shapes], ("b", 1)])
    report = wait_for(stack.all_delivered, message="every record delivered")
    assert_complete_and_ordered(report, exactly_once=True)
    invocations = stack.ledger.invocations()
    malformed = [index for index, row in enumerate(invocations) if row["outcome"].startswith("malformed:")]
    assert sorted(invocations[index]["outcome"].split(":", 1)[1] for index in malformed) == sorted(shapes)
    for index in malformed:
        batch = {seq for _, _, seq in invocations[index]["records"]}
        assert len(batch) > 1, "the batch should hold more than the bad record"
        retried = {seq for _, _, seq in invocations[index + 1]["records"]}
        assert batch <= retried, f"the whole batch must be retried after {invocations[index]['outcome']}"


# -- a poison record --------------------------------------------------------------------------------
POISON = """
def handler(event, context):
    poisoned = [key for key, version, seq, image in items(event) if "poison" in image]
    if poisoned and os.environ.get("FIXED") != "1":
        raise ValueError(f"poison record(s) {poisoned}")
    record(event)
"""


def iterator_age_ms(endpoint: EmbeddedEndpoint, mapping: str) -> float:
    """Not a public API: AWS publishes IteratorAge as a CloudWatch metric, the endpoint does not."""
    return endpoint.esm_engine.status(mapping).iterator_age_ms


def wait_for_growing_iterator_age(endpoint: EmbeddedEndpoint, mapping: str) -> None:
    first = wait_for(
        lambda: iterator_age_ms(endpoint, mapping) >= 1000 and iterator_age_ms(endpoint, mapping),
        message="IteratorAge >= 1 s",
    )
    wait_for(lambda: iterator_age_ms(endpoint, mapping) > first + 500, message="IteratorAge growing")


def test_a_poison_record_blocks_its_shard_until_fixed(
    endpoint: EmbeddedEndpoint, make_stack: Callable[..., Stack]
) -> None:
    """MaximumRetryAttempts -1: later records of the shard wait while another table's mapping
    flows and IteratorAge grows; once the function is fixed (UpdateFunctionConfiguration)
    everything arrives, exactly once, in order per key."""
    blocked = make_stack(POISON, mapping={"MaximumRetryAttempts": -1})
    other = make_stack(POISON)
    blocked.put("a", 1)
    wait_for(lambda: ("a", 1) in blocked.delivered(), message="first record delivered")

    blocked.put("p", 1, poison="yes")
    later = [("a", 2), ("b", 1), ("a", 3)]
    for key, version in later:
        blocked.put(key, version)
    wait_for(
        lambda: blocked.mapping_state()["LastProcessingResult"] == PROBLEM,
        message="the mapping reports the failing call",
    )

    for version in (1, 2, 3):
        other.put("x", version)
    assert_complete_and_ordered(
        wait_for(other.all_delivered, message="the other table's records delivered"), exactly_once=True
    )
    wait_for_growing_iterator_age(endpoint, blocked.mapping)
    assert blocked.delivered() == {("a", 1)}, "records behind the poison record were delivered"

    update_environment(blocked, FIXED="1")
    report = wait_for(blocked.all_delivered, message="everything delivered after the fix")
    assert_complete_and_ordered(report, exactly_once=True)
    assert wait_for(lambda: blocked.mapping_state()["LastProcessingResult"] == "OK", message="the mapping reports OK")


class Recorder:
    """A telemetry consumer that keeps every event of one mapping."""

    def __init__(self) -> None:
        self.events: list[TelemetryEvent] = []
        self.mapping = ""

    def emit(self, event: TelemetryEvent) -> None:
        if getattr(event, "mapping_uuid", None) == self.mapping:
            self.events.append(event)

    def of(self, kind: type[Any]) -> list[Any]:
        return [event for event in self.events if isinstance(event, kind)]


def test_a_discarded_poison_record_is_reported_attempt_by_attempt(
    endpoint: EmbeddedEndpoint, make_stack: Callable[..., Stack]
) -> None:
    """The telemetry contract the metrics, the console and journeys rely on: each invocation of
    the poison batch is one BatchInvoked with its attempt and the handler's error, then one
    RecordsDiscarded naming the condition; the good record before it is read and succeeds."""
    recorder = Recorder()
    endpoint.telemetry.add(recorder)
    stack = make_stack(POISON, mapping={"MaximumRetryAttempts": 1, "BatchSize": 1})
    recorder.mapping = stack.mapping
    stack.put("a", 1)
    stack.put("p", 1, poison="yes")
    wait_for(lambda: recorder.of(RecordsDiscarded), message="the poison record discarded")

    read = [seq for event in recorder.of(RecordsRead) for seq in event.record_ids]
    assert len(read) == 2
    calls = recorder.of(BatchInvoked)
    good, poison = ([call for call in calls if call.record_ids == [seq]] for seq in read)
    assert [(call.attempt, call.outcome) for call in good] == [(1, InvokeOutcome.SUCCESS)]
    assert [(call.attempt, call.outcome) for call in poison] == [
        (1, InvokeOutcome.FUNCTION_ERROR),
        (2, InvokeOutcome.FUNCTION_ERROR),
    ]
    assert all(call.error_type == "ValueError" and "poison" in (call.error_message or "") for call in poison)
    assert all(call.function_arn.endswith(f":function:{stack.function}") for call in calls)
    (discarded,) = recorder.of(RecordsDiscarded)
    assert discarded.record_ids == [read[1]]
    assert discarded.condition == "RetryAttemptsExhausted"
    assert (discarded.destination_arn, discarded.delivered) == (None, False)


def test_with_parallelization_a_poison_key_blocks_only_its_key_group(
    endpoint: EmbeddedEndpoint, make_stack: Callable[..., Stack]
) -> None:
    """ParallelizationFactor 4: keys of other groups flow past the poison key, which blocks
    only its own group; after the fix every key is complete and in order.

    Which keys share a group is not public on AWS; the embedded routing (crc32 of the item's
    Keys, :func:`lane_for_key`) is used to name them.
    """
    lanes = 4
    stack = make_stack(POISON, mapping={"ParallelizationFactor": lanes, "BatchSize": 5, "MaximumRetryAttempts": -1})
    keys = [f"k{n}" for n in range(12)]

    def lane(key: str) -> int:
        return lane_for_key(json.dumps({"pk": {"S": key}}, sort_keys=True, separators=(",", ":")), lanes)

    poison_lane = lane("poison")
    same_group = [key for key in keys if lane(key) == poison_lane]
    free = [key for key in keys if lane(key) != poison_lane]
    assert same_group, "the keys must cover the poison key's group"
    assert free, "the keys must cover other groups than the poison key's"

    for key in keys:
        stack.put(key, 1)
    stack.put("poison", 1, poison="yes")
    for version in (2, 3):
        for key in keys:
            stack.put(key, version)

    wait_for(
        lambda: {(key, v) for key in free for v in (1, 2, 3)} <= stack.delivered(),
        message="keys of other groups delivered",
    )
    wait_for_growing_iterator_age(endpoint, stack.mapping)
    delivered = stack.delivered()
    assert not {(key, v) for key in same_group for v in (2, 3)} & delivered, "the poison key's group went past it"
    assert ("poison", 1) not in delivered

    update_environment(stack, FIXED="1")
    report = wait_for(stack.all_delivered, message="everything delivered after the fix")
    assert_complete_and_ordered(report, exactly_once=True)


# -- a worker that restarts -------------------------------------------------------------------------
RECORD_ALL = """
def handler(event, context):
    record(event)
"""


def test_disable_then_enable_resumes_from_the_checkpoint(make_stack: Callable[..., Stack]) -> None:
    """UpdateEventSourceMapping Enabled=False then True: records written meanwhile arrive
    after enabling; nothing delivered before the disable is delivered again."""
    stack = make_stack(RECORD_ALL)
    lam = stack.client("lambda")
    for version in (1, 2):
        for key in ("a", "b"):
            stack.put(key, version)
    wait_for(stack.all_delivered, message="first records delivered")

    lam.update_event_source_mapping(UUID=stack.mapping, Enabled=False)
    wait_for(lambda: stack.mapping_state()["State"] == "Disabled", message="mapping disabled")
    for version in (3, 4):
        for key in ("a", "b"):
            stack.put(key, version)
    time.sleep(0.75)  # absence check: a disabled mapping delivers nothing
    assert not {("a", 3), ("b", 3), ("a", 4), ("b", 4)} & stack.delivered()

    lam.update_event_source_mapping(UUID=stack.mapping, Enabled=True)
    wait_for(lambda: stack.mapping_state()["State"] == "Enabled", message="mapping enabled")
    report = wait_for(stack.all_delivered, message="records written while disabled delivered")
    # Every invocation before the disable completed and was checkpointed: no re-delivery at all.
    assert_complete_and_ordered(report, exactly_once=True)


class InjectedCrash(Exception):
    """Raised once by the stream reader: the worker's run fails like any unexpected error."""


class InjectedThreadDeath(BaseException):
    """A BaseException the worker's supervisor does not catch: its thread ends."""


def arm_reader_fault(endpoint: EmbeddedEndpoint, mapping: str, error: BaseException) -> threading.Event:
    """Fault injection through the endpoint's internals (no API can cause it): the mapping's
    worker reader raises ``error`` on its next GetRecords that returns records, i.e. with
    those records read but not delivered. Returns an event set once it fired."""
    worker = endpoint.esm_engine._workers[mapping]
    reader = worker.reader
    original = reader.get_records
    fired = threading.Event()

    def get_records(iterator: str, limit: int = 1000) -> Any:
        page = original(iterator, limit)
        if page.records and not fired.is_set():
            fired.set()
            raise error
        return page

    reader.get_records = get_records  # type: ignore[method-assign]
    return fired


def test_a_crashed_worker_run_restarts_from_the_checkpoint(
    endpoint: EmbeddedEndpoint, make_stack: Callable[..., Stack]
) -> None:
    """The worker's stream read raises once with records in hand: the run restarts from the
    checkpoint, re-reads them and delivers them; nothing before the checkpoint comes again.

    Fault injection only: the failure is caused through the endpoint's engine object
    (:func:`arm_reader_fault`), since no API can make a poller fail; the restart count is
    read from ``esm_engine.status`` for the same reason. Everything else is public API.
    """
    stack = make_stack(RECORD_ALL)
    for key in ("a", "b"):
        stack.put(key, 1)
    wait_for(stack.all_delivered, message="first records delivered")

    fired = arm_reader_fault(endpoint, stack.mapping, InjectedCrash("injected stream read failure"))
    stack.put_many([("a", 2), ("b", 2), ("c", 1)])
    stack.put("a", 3)
    report = wait_for(stack.all_delivered, message="records read by the crashed run delivered")
    assert fired.is_set()
    assert_complete_and_ordered(report, exactly_once=True)
    status = endpoint.esm_engine.status(stack.mapping)
    assert status.restarts >= 1
    assert "injected" in (status.last_error or "")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_worker_thread_is_restarted_from_the_checkpoint(
    endpoint: EmbeddedEndpoint, make_stack: Callable[..., Stack]
) -> None:
    """The worker thread itself dies, with records read but not delivered, and no write
    follows to wake the engine: it is revived from the checkpoint and delivers them.

    Fault injection only: a BaseException raised from the mapping's stream reader through
    the endpoint's engine object (:func:`arm_reader_fault`) ends the thread, which no API
    can do; the restart count is read from ``esm_engine.status``. The rest is public API.
    """
    stack = make_stack(RECORD_ALL)
    for key in ("a", "b"):
        stack.put(key, 1)
    wait_for(stack.all_delivered, message="first records delivered")

    fired = arm_reader_fault(endpoint, stack.mapping, InjectedThreadDeath("injected thread death"))
    stack.put_many([("a", 2), ("b", 2), ("c", 1)])  # the last write: nothing else will wake the engine
    report = wait_for(stack.all_delivered, message="records read by the dead thread delivered")
    assert fired.is_set()
    assert_complete_and_ordered(report, exactly_once=True)
    assert endpoint.esm_engine.status(stack.mapping).restarts >= 1


# -- shards that split under load ---------------------------------------------------------------------
def split_shards(endpoint: EmbeddedEndpoint, table: str) -> dict[str, Any]:
    """``POST /_streamlab/streams/split``: the table's open shards close, each opens two children."""
    request = urllib.request.Request(
        f"{endpoint.url}/_streamlab/streams/split",
        data=json.dumps({"TableName": table, "Region": REGION}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return dict(json.loads(answer.read()))


def stream_shards(stack: Stack) -> list[dict[str, Any]]:
    return list(
        stack.client("dynamodbstreams").describe_stream(StreamArn=stack.stream_arn)["StreamDescription"]["Shards"]
    )


def shard_of_each_sequence(stack: Stack, shards: list[dict[str, Any]]) -> dict[str, str]:
    """Sequence number -> shard id, read with GetRecords from every shard."""
    streams = stack.client("dynamodbstreams")
    found: dict[str, str] = {}
    for shard in shards:
        iterator = streams.get_shard_iterator(
            StreamArn=stack.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator)
            found.update({r["dynamodb"]["SequenceNumber"]: shard["ShardId"] for r in page["Records"]})
            iterator = page.get("NextShardIterator") if page["Records"] else None
    return found


@pytest.mark.parametrize("parallelization", [1, 3])
def test_four_shards_split_twice_under_load_deliver_every_record_once_in_order_per_key(
    make_stack: Callable[..., Stack], endpoint: EmbeddedEndpoint, parallelization: int
) -> None:
    """A table with 4 stream shards; 50 keys are written 6 times each while the shards split twice.
    DescribeStream shows the lineage (4 closed roots, 8 closed children, 16 open grandchildren,
    each naming its parent); the handler receives every record exactly once, in order per key, and
    each key's records stay in one lineage (parents are read to their end before their children).
    """
    stack = make_stack(RECORD_ALL, mapping={"BatchSize": 10, "ParallelizationFactor": parallelization}, shards=4)
    assert len(stream_shards(stack)) == 4
    keys = [f"key-{n:02d}" for n in range(50)]
    versions = 6
    written = threading.Event()
    failures: list[BaseException] = []

    def writer() -> None:
        try:
            for version in range(1, versions + 1):
                for key in keys:
                    stack.put(key, version)
                    time.sleep(0.002)  # a steady load the splits happen in the middle of
        except BaseException as error:  # reported by the main thread
            failures.append(error)
        finally:
            written.set()

    thread = threading.Thread(target=writer, name="shard-writer")
    thread.start()
    split_at: list[int] = []
    for wanted in (len(keys) * 2, len(keys) * 4):  # split while the writer is mid-way, twice
        # a progress wait, not a timing check: under load a write can take 100 ms
        wait_for(
            lambda wanted=wanted: len(stack.writes) >= wanted or written.is_set(),
            timeout=60,
            message="writes under way",
        )
        split_shards(endpoint, stack.table)
        split_at.append(len(stack.writes))
    thread.join(60)
    assert not failures, failures
    assert len(stack.writes) == len(keys) * versions
    assert all(0 < at < len(stack.writes) for at in split_at), f"the splits came after the writes: {split_at}"

    report = wait_for(stack.all_delivered, timeout=60, message="every record delivered")
    assert_complete_and_ordered(report, exactly_once=True)

    shards = stream_shards(stack)
    by_id = {shard["ShardId"]: shard for shard in shards}
    roots = [s for s in shards if "ParentShardId" not in s]
    children = [s for s in shards if s.get("ParentShardId") in {r["ShardId"] for r in roots}]
    grandchildren = [s for s in shards if s.get("ParentShardId") in {c["ShardId"] for c in children}]
    assert (len(roots), len(children), len(grandchildren)) == (4, 8, 16)
    assert all("EndingSequenceNumber" in s["SequenceNumberRange"] for s in roots + children)
    assert not any("EndingSequenceNumber" in s["SequenceNumberRange"] for s in grandchildren)

    shard_of = shard_of_each_sequence(stack, shards)
    lineage: dict[str, list[str]] = {}
    for row in stack.ledger.invocations():
        for key, _, sequence in row["records"]:
            lineage.setdefault(key, []).append(shard_of[sequence])
    for key, path in lineage.items():
        for earlier, later in itertools.pairwise(path):
            assert earlier == later or by_id[later]["ParentShardId"] == earlier, f"{key} left its lineage: {path}"
    generations = [len(set(path)) for path in lineage.values()]
    assert max(generations) == 3, "some keys were written before, between and after the splits"
