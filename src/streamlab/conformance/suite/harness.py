"""The conformance harness: DynamoDB Streams -> Lambda semantics, through the public AWS API only.

Nothing here imports streamlab's emulator: every step is a boto3 call (create a streamed table,
create a function from an inline zip, create an event source mapping, write items, read what the
function recorded), so the same suite runs on the embedded endpoint (default), on LocalStack and on
AWS. The streamlab pytest plugin's backend (``--streamlab-backend`` / ``STREAMLAB_BACKEND``: embedded |
container | localstack | aws) picks and starts the backend and scales every wait; an explicit
``--streamlab-endpoint-url`` / ``AWS_ENDPOINT_URL`` is used as it is (a LocalStack from compose).

How the function tells the test what it received: the handler (``HANDLER_SOURCE``) writes one S3
object per invocation (the event, the time it started, its request id) under
``calls/<table>/<ns>-<request id>.json`` of a recorder bucket, using a plain ``boto3.client("s3")``,
so it needs nothing beyond what AWS gives a function (streamlab and LocalStack set
AWS_ENDPOINT_URL in execution environments). S3 works the same on all three backends, keys sort by
start time, and each test reads only its own table's prefix, so one function serves many tests.

The handler's behaviour is driven by the items written (attribute ``directive``), so a test shows
the failure it provokes next to the item that provokes it:

- ``raise``: the invocation raises (a poison record); ``raise-once``: only the first time this
  record is seen (a marker object in the bucket remembers it);
- ``fail-item`` / ``fail-item-once``: reported in ``batchItemFailures`` (mode ``partial``);
- ``bad-id-once`` / ``empty-id-once`` / ``null-id-once`` / ``bad-key-once``: a malformed partial
  batch response the first time;
- ``no-state-once``: a tumbling-window answer without ``state`` the first time;
- ``big-state``: a tumbling-window state above the 1 MB limit;
- ``sleep:<seconds>``: sleep before answering;
- attribute ``reply`` (a JSON text): the answer when nothing failed.

Function environment ``MODE``: ``record`` (answers null), ``partial`` (answers batchItemFailures),
``window`` (tumbling windows: counts records into ``state``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from streamlab.testing import eventually

SLOW_ENV = "STREAMLAB_CONFORMANCE_SLOW"


PARTITION = "p"  # every item of a test shares one partition key: one shard, one sequence


HANDLER_SOURCE = r'''
import base64
import json
import os
import time

import boto3
from botocore.exceptions import ClientError

_BUCKET = os.environ["RECORDER_BUCKET"]
_MODE = os.environ.get("MODE", "record")
_s3 = boto3.client("s3", region_name=os.environ.get("RECORDER_REGION") or None)


def _table(event):
    """The table, queue or Kinesis stream the event came from (the recorder's prefix)."""
    arn = event.get("eventSourceARN") or ""
    if not arn:
        for record in event.get("Records") or []:
            arn = record.get("eventSourceARN") or ""
            break
    if ":table/" in arn:
        return arn.split(":table/", 1)[1].split("/", 1)[0]
    if ":stream/" in arn:
        return arn.split(":stream/", 1)[1]
    if ":sqs:" in arn:
        return arn.rsplit(":", 1)[1]
    return "unknown"


def _payload(record):
    """An SQS body or Kinesis data as JSON (a dict), else {}."""
    try:
        if "body" in record:
            value = json.loads(record["body"])
        elif "kinesis" in record:
            value = json.loads(base64.b64decode(record["kinesis"]["data"]))
        else:
            return {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _image(record):
    dynamodb = record.get("dynamodb") or {}
    return dynamodb.get("NewImage") or dynamodb.get("OldImage") or {}


def _text(record, name):
    if "dynamodb" not in record:
        return str(_payload(record).get(name) or "")
    return (_image(record).get(name) or {}).get("S") or ""


def _identifier(record):
    """What a partial batch response names: the sequence number, or an SQS message id."""
    if "dynamodb" in record:
        return record["dynamodb"]["SequenceNumber"]
    if "kinesis" in record:
        return record["kinesis"]["sequenceNumber"]
    return record["messageId"]


def _first_time(record, tag):
    """True the first time this record meets this tag, on any execution environment."""
    key = "marks/%s/%s" % (tag, _identifier(record))
    try:
        _s3.head_object(Bucket=_BUCKET, Key=key)
        return False
    except ClientError:
        _s3.put_object(Bucket=_BUCKET, Key=key, Body=b"")
        return True


def handler(event, context):
    started = time.time()
    records = event.get("Records") or []
    _s3.put_object(
        Bucket=_BUCKET,
        Key="calls/%s/%020d-%s.json" % (_table(event), time.time_ns(), context.aws_request_id),
        Body=json.dumps({"event": event, "at": started, "request_id": context.aws_request_id,
                         "function": context.function_name}).encode(),
    )
    for record in records:
        directive = _text(record, "directive")
        if directive.startswith("sleep:"):
            time.sleep(float(directive.split(":", 1)[1]))
    for record in records:
        directive = _text(record, "directive")
        if directive == "raise" or (directive == "raise-once" and _first_time(record, "raise")):
            raise RuntimeError("poison record " + _identifier(record))
    reply = None
    for record in records:
        if _text(record, "reply"):
            reply = json.loads(_text(record, "reply"))
    if _MODE == "partial":
        malformed = {
            "bad-id-once": {"batchItemFailures": [{"itemIdentifier": "not-a-sequence-number"}]},
            "empty-id-once": {"batchItemFailures": [{"itemIdentifier": ""}]},
            "null-id-once": {"batchItemFailures": [{"itemIdentifier": None}]},
        }
        failures = []
        for record in records:
            directive = _text(record, "directive")
            sequence = _identifier(record)
            if directive in malformed and _first_time(record, directive):
                return malformed[directive]
            if directive == "bad-key-once" and _first_time(record, directive):
                return {"batchItemFailures": [{"itemId": sequence}]}
            if directive == "fail-item" or (directive == "fail-item-once" and _first_time(record, "fail-item")):
                failures.append({"itemIdentifier": sequence})
        if failures:
            return {"batchItemFailures": failures}
        return reply
    if _MODE == "window":
        for record in records:
            if _text(record, "directive") == "no-state-once" and _first_time(record, "no-state"):
                return {"note": "no state"}
        state = dict(event.get("state") or {})
        state["count"] = state.get("count", 0) + len(records)
        seen = [_text(r, "sk") or (r["dynamodb"]["Keys"]["sk"]["S"]) for r in records]
        state["items"] = list(state.get("items", [])) + seen
        if any(_text(r, "directive") == "big-state" for r in records):
            state["pad"] = "x" * (1100 * 1024)
        return {"state": state}
    return reply
'''


# -- backend timing ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Backend:
    """How long things take on a backend. Waits poll for an effect until these deadlines."""

    name: str
    mapping_ready: float  # create/update/delete a mapping until its State settles
    delivery: float  # a write until the function has seen it
    retries: float  # a failing batch until retries/destinations have played out
    quiet: float  # how long "nothing happens" is watched where no sentinel can be used
    settle_latest: float  # after a LATEST mapping is Enabled, before its first write (AWS needs it)
    poll: float  # interval between two looks
    role_propagation: float  # a new IAM role until Lambda can assume it

    @property
    def is_aws(self) -> bool:
        return self.name == "aws"

    @classmethod
    def named(cls, name: str) -> Backend:
        if name == "aws":
            return cls(
                name,
                mapping_ready=300,
                delivery=180,
                retries=420,
                quiet=30,
                settle_latest=20,
                poll=2.0,
                role_propagation=60,
            )
        if name == "localstack":
            return cls(
                name, mapping_ready=60, delivery=60, retries=120, quiet=5, settle_latest=2, poll=0.5, role_propagation=0
            )
        return cls(
            name, mapping_ready=10, delivery=10, retries=30, quiet=1.0, settle_latest=0, poll=0.05, role_propagation=0
        )


def slow_enabled() -> bool:
    return os.environ.get(SLOW_ENV, "") not in ("", "0", "false", "no")


ClientFactory = Callable[..., Any]


def new_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# -- session resources: recorder bucket, role, functions ---------------------------------------
@dataclass
class Recorder:
    """Reads what the handler wrote to the recorder bucket."""

    client: ClientFactory
    bucket: str
    region: str
    _bodies: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _s3(self) -> Any:
        return self.client("s3", region=self.region)

    def invocations(self, table: str) -> list[Invocation]:
        """Every invocation recorded for ``table`` so far, in start order."""
        s3 = self._s3()
        keys: list[str] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=f"calls/{table}/"):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        for key in keys:
            if key not in self._bodies:
                self._bodies[key] = json.loads(s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        return [Invocation.from_body(self._bodies[key]) for key in sorted(keys)]


@dataclass(frozen=True)
class Invocation:
    event: dict[str, Any]
    at: float
    request_id: str

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Invocation:
        return cls(body["event"], body["at"], body["request_id"])

    @property
    def records(self) -> list[dict[str, Any]]:
        return list(self.event.get("Records") or [])

    @property
    def sks(self) -> list[str]:
        return [sk_of(record) for record in self.records]


def sk_of(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["Keys"]["sk"]["S"])


def text_of(record: dict[str, Any], attribute: str) -> str | None:
    image = record["dynamodb"].get("NewImage") or record["dynamodb"].get("OldImage") or {}
    value = image.get(attribute)
    return None if value is None else next(iter(value.values()))


TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def execution_policy(bucket: str) -> dict[str, Any]:
    """AWSLambdaDynamoDBExecutionRole's, AWSLambdaSQSQueueExecutionRole's and AWSLambdaKinesisExecutionRole's
    actions, plus the recorder bucket and the destinations."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "dynamodb:DescribeStream",
                    "dynamodb:GetRecords",
                    "dynamodb:GetShardIterator",
                    "dynamodb:ListStreams",
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "kinesis:DescribeStream",
                    "kinesis:DescribeStreamSummary",
                    "kinesis:GetRecords",
                    "kinesis:GetShardIterator",
                    "kinesis:ListShards",
                    "kinesis:ListStreams",
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                ],
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetObject", "s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            },
            {"Effect": "Allow", "Action": ["sqs:SendMessage", "sns:Publish"], "Resource": "*"},
        ],
    }


def handler_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("recorder.py", HANDLER_SOURCE)
    return buffer.getvalue()


@dataclass
class Functions:
    """One function per (mode, region), created on first use and shared by the session."""

    client: ClientFactory
    role: str
    recorder: Recorder
    backend: Backend
    _arns: dict[tuple[str, str | None], str] = field(default_factory=dict)

    def get(self, mode: str = "record", region: str | None = None) -> str:
        key = (mode, region)
        if key not in self._arns:
            self._arns[key] = self._create(mode, region)
        return self._arns[key]

    def _create(self, mode: str, region: str | None) -> str:
        lam = self.client("lambda", region=region)
        name = new_name(f"streamlab-conf-{mode}")
        request = dict(
            FunctionName=name,
            Runtime="python3.12",
            Role=self.role,
            Handler="recorder.handler",
            Code={"ZipFile": handler_zip()},
            Timeout=60,
            MemorySize=256,
            Environment={
                "Variables": {
                    "RECORDER_BUCKET": self.recorder.bucket,
                    "RECORDER_REGION": self.recorder.region,
                    "MODE": mode,
                }
            },
        )
        deadline = time.monotonic() + self.backend.role_propagation
        while True:
            try:
                arn = lam.create_function(**request)["FunctionArn"]
                break
            except ClientError as error:  # a fresh IAM role takes a while to be assumable on AWS
                if "role" not in str(error).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(2)
        lam.get_waiter("function_active_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 1 if not self.backend.is_aws else 3, "MaxAttempts": 120}
        )
        return str(arn)

    def delete_all(self) -> None:
        for (_, region), arn in self._arns.items():
            with contextlib.suppress(ClientError):
                self.client("lambda", region=region).delete_function(FunctionName=arn)


# -- per-test resources --------------------------------------------------------------------------
@dataclass
class Table:
    name: str
    stream_arn: str
    region: str
    view: str


@dataclass
class Source:
    """An SQS queue or a Kinesis stream a mapping reads (``url`` for queues)."""

    name: str
    arn: str
    region: str
    url: str | None = None


@dataclass
class Mapping:
    uuid: str
    region: str


@dataclass
class Scenario:
    """One test's resources and helpers; everything it created is deleted afterwards."""

    client: ClientFactory
    backend: Backend
    recorder: Recorder
    functions: Functions
    region: str
    tables: list[Table] = field(default_factory=list)
    mappings: list[Mapping] = field(default_factory=list)
    queues: list[tuple[str, str]] = field(default_factory=list)
    topics: list[tuple[str, str]] = field(default_factory=list)
    streams: list[Source] = field(default_factory=list)

    # tables and writes ------------------------------------------------------------------------
    def table(self, view: str = "NEW_AND_OLD_IMAGES", region: str | None = None, key_type: str = "S") -> Table:
        """A table with key (pk, sk) and a stream; every test item uses pk = PARTITION (with
        ``key_type`` "B" or "N" both key attributes are of that type and the test writes its own items)."""
        region = region or self.region
        dynamodb = self.client("dynamodb", region=region)
        name = new_name("conf")
        description = dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": key_type},
                {"AttributeName": "sk", "AttributeType": key_type},
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
        )["TableDescription"]
        table = Table(name, description["LatestStreamArn"], region, view)
        self.tables.append(table)
        dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        return table

    def put(self, table: Table, sk: str, **attributes: Any) -> None:
        self.client("dynamodb", region=table.region).put_item(TableName=table.name, Item=item(sk, **attributes))

    def put_many(self, table: Table, items: list[dict[str, Any]]) -> None:
        """One BatchWriteItem per 25 items, so the records land close together in the stream."""
        dynamodb = self.client("dynamodb", region=table.region)
        for start in range(0, len(items), 25):
            requests = [{"PutRequest": {"Item": one}} for one in items[start : start + 25]]
            while requests:
                answer = dynamodb.batch_write_item(RequestItems={table.name: requests})
                requests = answer.get("UnprocessedItems", {}).get(table.name, [])

    def delete(self, table: Table, sk: str) -> None:
        self.client("dynamodb", region=table.region).delete_item(
            TableName=table.name, Key={"pk": {"S": PARTITION}, "sk": {"S": sk}}
        )

    # functions and mappings ------------------------------------------------------------------
    def lambda_client(self, region: str | None = None, *, validate: bool = True) -> Any:
        return self.client("lambda", region=region or self.region, validate=validate)

    def map(self, table: Table, mode: str = "record", *, wait: bool = True, **parameters: Any) -> str:
        """Create a mapping from ``table``'s stream to the ``mode`` function; wait until Enabled."""
        lam = self.lambda_client(table.region)
        parameters.setdefault("StartingPosition", "TRIM_HORIZON")
        function = self.functions.get(mode, table.region if table.region != self.region else None)
        deadline = time.monotonic() + self.backend.role_propagation
        while True:
            try:
                created = lam.create_event_source_mapping(
                    EventSourceArn=table.stream_arn, FunctionName=function, **parameters
                )
                break
            except ClientError as error:  # AWS: the new role's stream permissions are not visible yet
                if "permission" not in str(error).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(5)
        self.mappings.append(Mapping(created["UUID"], table.region))
        if wait and parameters.get("Enabled", True):
            self.wait_state(created["UUID"], "Enabled", table.region)
            if parameters["StartingPosition"] == "LATEST" and self.backend.settle_latest:
                time.sleep(self.backend.settle_latest)  # AWS: LATEST is taken some time after Enabled
        return str(created["UUID"])

    def mapping(self, uuid_: str, region: str | None = None) -> dict[str, Any]:
        described: dict[str, Any] = self.lambda_client(region).get_event_source_mapping(UUID=uuid_)
        return described

    def wait_state(self, uuid_: str, state: str, region: str | None = None) -> dict[str, Any]:
        return eventually(
            lambda: (m := self.mapping(uuid_, region))["State"] == state and m,
            self.backend.mapping_ready,
            self.backend.poll * 4,
            f"mapping {uuid_} State == {state}",
        )

    # SQS and Kinesis sources ---------------------------------------------------------------
    def source_queue(self, fifo: bool = False, **attributes: str) -> Source:
        """A queue for a mapping to read (FIFO with content-based deduplication when ``fifo``)."""
        sqs = self.client("sqs")
        name = new_name("conf-src") + (".fifo" if fifo else "")
        if fifo:
            attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true", **attributes}
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.queues.append((url, arn))
        return Source(name, arn, self.region, url)

    def kinesis_stream(self, shards: int = 1) -> Source:
        kinesis = self.client("kinesis")
        name = new_name("conf-kds")
        kinesis.create_stream(StreamName=name, ShardCount=shards)
        kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
        source = Source(name, arn, self.region)
        self.streams.append(source)
        return source

    def send(self, queue: Source, body: dict[str, Any], **extra: Any) -> str:
        """SendMessage with a JSON body; the message id."""
        answer = self.client("sqs").send_message(QueueUrl=queue.url, MessageBody=json.dumps(body), **extra)
        return str(answer["MessageId"])

    def put_record(self, stream: Source, data: dict[str, Any], key: str = PARTITION) -> str:
        """PutRecord with JSON data; the sequence number."""
        answer = self.client("kinesis").put_record(
            StreamName=stream.name, Data=json.dumps(data).encode(), PartitionKey=key
        )
        return str(answer["SequenceNumber"])

    def map_source(self, source: Source, mode: str = "record", *, wait: bool = True, **parameters: Any) -> str:
        """A mapping from a queue or a Kinesis stream to the ``mode`` function; waits until Enabled."""
        lam = self.lambda_client(source.region)
        function = self.functions.get(mode)
        deadline = time.monotonic() + self.backend.role_propagation
        while True:
            try:
                created = lam.create_event_source_mapping(
                    EventSourceArn=source.arn, FunctionName=function, **parameters
                )
                break
            except ClientError as error:  # AWS: the new role's permissions are not visible yet
                if "permission" not in str(error).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(5)
        self.mappings.append(Mapping(created["UUID"], source.region))
        if wait:
            self.wait_state(created["UUID"], "Enabled", source.region)
            if parameters.get("StartingPosition") == "LATEST" and self.backend.settle_latest:
                time.sleep(self.backend.settle_latest)
        return str(created["UUID"])

    def queue_depth(self, queue: Source) -> int:
        attributes = self.client("sqs").get_queue_attributes(
            QueueUrl=queue.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    # destinations ----------------------------------------------------------------------------
    def queue(self) -> tuple[str, str]:
        """(url, arn) of a fresh SQS queue."""
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=new_name("conf-dlq"))["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.queues.append((url, arn))
        return url, arn

    def topic_to_queue(self, raw: bool = True) -> tuple[str, str]:
        """(topic arn, queue url): an SNS topic delivering to a fresh SQS queue.

        ``raw``: the queue gets the message itself; otherwise SNS's Notification envelope.
        """
        sns, sqs = self.client("sns"), self.client("sqs")
        topic = sns.create_topic(Name=new_name("conf-topic"))["TopicArn"]
        self.topics.append((topic, ""))
        url, queue_arn = self.queue()
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
        sns.subscribe(
            TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": str(raw).lower()}
        )
        return topic, url

    def messages(self, url: str, count: int, timeout: float | None = None) -> list[dict[str, Any]]:
        """Receive (and delete) at least ``count`` JSON messages from the queue."""
        sqs = self.client("sqs")
        bodies: list[dict[str, Any]] = []

        def enough() -> bool:
            answer = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1 if self.backend.is_aws else 0
            )
            for message in answer.get("Messages", []):
                bodies.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            return len(bodies) >= count

        eventually(enough, timeout or self.backend.retries, self.backend.poll * 2, f"{count} message(s) on {url}")
        return bodies

    def s3_failure_object(self, bucket: str, mapping_uuid: str) -> tuple[str, dict[str, Any]]:
        """(key, body) of the first on-failure object the mapping wrote to ``bucket``."""
        s3 = self.client("s3")
        prefix = f"aws/lambda/{mapping_uuid}/"
        keys = eventually(
            lambda: [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])],
            self.backend.retries,
            self.backend.poll * 4,
            f"an object under s3://{bucket}/{prefix}",
        )
        return keys[0], json.loads(s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read())

    # observing -------------------------------------------------------------------------------
    def invocations(self, table: Table | Source) -> list[Invocation]:
        return self.recorder.invocations(table.name)

    def delivered(self, table: Table | Source) -> list[dict[str, Any]]:
        """Every record the function received for ``table``, in invocation order (duplicates kept)."""
        return [record for invocation in self.invocations(table) for record in invocation.records]

    def wait_delivered(self, table: Table, sks: list[str] | set[str], timeout: float | None = None) -> list[Invocation]:
        """Wait until every ``sk`` was delivered at least once; returns the invocations so far."""
        wanted = set(sks)

        def check() -> list[Invocation] | None:
            invocations = self.invocations(table)
            seen = {sk for invocation in invocations for sk in invocation.sks}
            return invocations if wanted <= seen else None

        return eventually(
            check,
            timeout or self.backend.delivery,
            self.backend.poll,
            f"records {sorted(wanted)} delivered from {table.name}",
        )

    def wait_invocations(
        self,
        table: Table | Source,
        predicate: Callable[[list[Invocation]], bool],
        timeout: float | None = None,
        message: str = "",
    ) -> list[Invocation]:
        def check() -> list[Invocation] | None:
            invocations = self.invocations(table)
            return invocations if predicate(invocations) else None

        return eventually(check, timeout or self.backend.delivery, self.backend.poll, message)

    # cleanup ---------------------------------------------------------------------------------
    def close(self) -> None:
        for mapping in self.mappings:
            with contextlib.suppress(ClientError):
                self.lambda_client(mapping.region).delete_event_source_mapping(UUID=mapping.uuid)
        for table in self.tables:
            with contextlib.suppress(ClientError):
                self.client("dynamodb", region=table.region).delete_table(TableName=table.name)
        for url, _ in self.queues:
            with contextlib.suppress(ClientError):
                self.client("sqs").delete_queue(QueueUrl=url)
        for topic, _ in self.topics:
            with contextlib.suppress(ClientError):
                self.client("sns").delete_topic(TopicArn=topic)
        for stream in self.streams:
            with contextlib.suppress(ClientError):
                self.client("kinesis").delete_stream(StreamName=stream.name)


def item(sk: str, **attributes: Any) -> dict[str, Any]:
    """A DynamoDB item: str -> S, int -> N, bytes -> B, bool -> BOOL; dicts are passed through typed."""
    result: dict[str, Any] = {"pk": {"S": PARTITION}, "sk": {"S": sk}}
    for name, value in attributes.items():
        if isinstance(value, bool):
            result[name] = {"BOOL": value}
        elif isinstance(value, int | float):
            result[name] = {"N": str(value)}
        elif isinstance(value, bytes):
            result[name] = {"B": value}
        elif isinstance(value, dict):
            result[name] = value
        else:
            result[name] = {"S": str(value)}
    return result
