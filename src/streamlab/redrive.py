"""``streamlab redrive``: re-invoke the stream records an event source mapping gave up on.

When a DynamoDB Streams mapping exhausts its retries (or a record gets too old), Lambda sends an
*on-failure record* to the mapping's destination. For SQS and SNS that record holds only the
batch's coordinates, not the records (services-dynamodb-errors.html)::

    {"requestContext": {"functionArn", "condition", ...},
     "DDBStreamBatchInfo": {"streamArn", "shardId", "startSequenceNumber", "endSequenceNumber",
                            "batchSize", ...}, ...}

so redriving means, for each message of the queue:

1. read the range back from the stream: GetShardIterator AT_SEQUENCE_NUMBER start, GetRecords
   until the end sequence number;
2. keep what the function was really given: the mapping's FilterCriteria (looked up with
   ListEventSourceMappings for that function and stream) dropped the records it did not match,
   and records of the range that matched no filter were never the function's;
3. invoke the function (``requestContext.functionArn``) synchronously with those records in the
   Lambda event shape (:func:`streamlab.emulator.esm.records.to_lambda_record`, the converter the
   embedded engine uses);
4. delete the message when the invocation succeeded with no ``batchItemFailures``; otherwise make
   it visible again at once and say why.

Stream records are kept 24 hours: a range that has left the stream (TrimmedDataAccessException,
or a stream/shard that no longer exists) cannot be redriven, and the report says so and leaves
the message where it is. Everything goes through the public API, so this works on AWS,
LocalStack and the embedded endpoint alike.

The queue may hold other things a failure parks, and each goes back as AWS would send it again:

- a queue that is another queue's RedrivePolicy dead-letter queue: its messages move back to
  their source queue with SQS's own StartMessageMoveTask (the console's "Start DLQ redrive"),
  and the run waits (bounded) until ListMessageMoveTasks reports the task done;
- a function's DeadLetterConfig target (found with ListFunctions): each message is the event
  itself, with the RequestID / ErrorCode / ErrorMessage attributes Lambda adds; the function is
  invoked with it again;
- an asynchronous invocation's OnFailure record (``requestContext`` and ``requestPayload``, no
  batch info): the function it names is invoked with the ``requestPayload`` again.

A message is deleted only when its invocation succeeded; nothing is dropped.

Limitations: a mapping with tumbling windows is re-invoked without its window state (the
destination record does not carry it); S3 on-failure destinations (which hold the records
themselves) are not read by this command.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

from streamlab.emulator.esm.arns import arn_region
from streamlab.emulator.esm.filtering import RecordFilter
from streamlab.emulator.esm.records import to_lambda_record
from streamlab.errors import StreamlabError
from streamlab.target import Target, error_code

#: A synchronous invoke may take the function's whole timeout (at most 15 minutes).
_INVOKE_CONFIG = Config(read_timeout=905, connect_timeout=10, retries={"max_attempts": 0})
#: How long a received message stays invisible to other consumers while it is being redriven.
VISIBILITY_TIMEOUT = 900
#: GetRecords may answer empty pages before reaching records; give up on a range after this many.
MAX_EMPTY_PAGES = 5
_RETENTION = "DynamoDB Streams keeps records 24 hours"

REDRIVEN, FAILED, EXPIRED, SKIPPED = "redriven", "failed", "expired", "skipped"
#: How long a run waits for a message move task to finish, and how often it asks.
MOVE_TASK_WAIT_SECONDS = 300.0
MOVE_TASK_POLL_SECONDS = 0.5
#: The message attributes Lambda puts on an event it parks in a function's dead-letter queue.
_DEAD_LETTER_MARKS = ("RequestID", "ErrorCode")


class RedriveError(StreamlabError, RuntimeError):
    """The queue itself cannot be used (not found, not reachable)."""


@dataclass
class MessageOutcome:
    """What happened to one DLQ message."""

    message_id: str
    status: str  # redriven | failed | expired | skipped
    detail: str
    function_arn: str | None = None
    stream_arn: str | None = None
    shard_id: str | None = None
    start_sequence_number: str | None = None
    end_sequence_number: str | None = None
    records: int = 0

    def line(self) -> str:
        where = ""
        if self.start_sequence_number:
            function = (self.function_arn or "?").rsplit(":", 1)[-1]
            where = f" {function} {self.shard_id} {self.start_sequence_number}..{self.end_sequence_number}"
        return f"{self.status} message {self.message_id}{where}: {self.detail}"


@dataclass
class MoveTaskOutcome:
    """A StartMessageMoveTask run on a RedrivePolicy dead-letter queue."""

    status: str  # ListMessageMoveTasks' Status: COMPLETED, FAILED, CANCELLED, RUNNING (still, when we stopped waiting)
    moved: int
    to_move: int
    destinations: list[str]
    failure: str | None = None

    def line(self) -> str:
        where = ", ".join(self.destinations) or "its source queue"
        reason = f": {self.failure}" if self.failure else ""
        counts = f"{self.moved} of {self.to_move} message(s)"
        return f"message move task {self.status.lower()}: {counts} back to {where}{reason}"


@dataclass
class RedriveReport:
    """Every message the run looked at, in order (or the move task that handled them all)."""

    queue_url: str
    outcomes: list[MessageOutcome] = field(default_factory=list)
    move_task: MoveTaskOutcome | None = None

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    @property
    def redriven(self) -> int:
        return self.count(REDRIVEN)

    @property
    def ok(self) -> bool:
        """True when every message was redriven (an empty queue is fine too)."""
        if self.move_task is not None and self.move_task.status != "COMPLETED":
            return False
        return all(outcome.status == REDRIVEN for outcome in self.outcomes)

    @property
    def summary(self) -> str:
        if self.move_task is not None:
            return self.move_task.line()
        if not self.outcomes:
            return f"no on-failure records in {self.queue_url}"
        parts = [f"{self.count(s)} {s}" for s in (REDRIVEN, FAILED, EXPIRED, SKIPPED) if self.count(s)]
        return f"{len(self.outcomes)} message(s): " + ", ".join(parts)


def redrive(
    queue: str,
    endpoint_url: str | None = None,
    region: str | None = None,
    log: Callable[[str], None] = print,
    *,
    session: boto3.Session | None = None,
    max_messages: int | None = None,
) -> RedriveReport:
    """Redrive every on-failure record in ``queue`` (a queue URL, ARN or name); returns the report.

    ``endpoint_url`` None means ``AWS_ENDPOINT_URL`` if set, else AWS. Each message is received
    once per run (it stays invisible for :data:`VISIBILITY_TIMEOUT` while being handled), so a
    message that fails again is not retried in a loop. ``max_messages`` stops after that many.
    Raises :class:`RedriveError` when the queue cannot be found.
    """
    target = Target.connect(endpoint_url, region, session)
    sqs = target.client("sqs")
    queue_url = _queue_url(sqs, queue)
    report = RedriveReport(queue_url)
    sources = sqs.list_dead_letter_source_queues(QueueUrl=queue_url).get("queueUrls", [])
    if sources:
        log(f"{queue_url} is the dead-letter queue of {', '.join(sources)}: moving its messages back")
        report.move_task = move_back(sqs, queue_url, sources, log)
        log(report.summary)
        return report
    parked_by = _functions_parking_in(target, _queue_arn(sqs, queue_url))
    log(f"redriving on-failure records from {queue_url}")
    seen: set[str] = set()
    while max_messages is None or len(report.outcomes) < max_messages:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            VisibilityTimeout=VISIBILITY_TIMEOUT,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        for message in messages:
            if message["MessageId"] in seen:  # one this run left visible: hand it back at once
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
        if not fresh:
            break
        for message in fresh:
            seen.add(message["MessageId"])
            outcome = _redrive_one(target, message, parked_by)
            if outcome.status == REDRIVEN:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            else:
                # Visible again now, for the next run (or another consumer), not in 15 minutes.
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            report.outcomes.append(outcome)
            log(outcome.line())
            if max_messages is not None and len(report.outcomes) >= max_messages:
                break
    log(report.summary)
    return report


# --- a RedrivePolicy dead-letter queue: SQS moves the messages ------------------------------------


def move_back(
    sqs: Any, queue_url: str, sources: list[str], log: Callable[[str], None], wait: float = MOVE_TASK_WAIT_SECONDS
) -> MoveTaskOutcome:
    """StartMessageMoveTask (back to each message's source queue), then ListMessageMoveTasks until it ends."""
    queue_arn = _queue_arn(sqs, queue_url)
    try:
        handle = sqs.start_message_move_task(SourceArn=queue_arn)["TaskHandle"]
    except ClientError as error:
        message = error.response["Error"].get("Message") or error_code(error)
        return MoveTaskOutcome("FAILED", 0, 0, sources, f"StartMessageMoveTask: {message}")
    log(f"message move task {handle} started")
    deadline = time.monotonic() + wait
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=queue_arn, MaxResults=10).get("Results", [])
        task = next((t for t in tasks if t.get("TaskHandle") in (handle, None)), tasks[0] if tasks else {})
        status = str(task.get("Status", "RUNNING"))
        if status not in ("RUNNING", "CANCELLING") or time.monotonic() >= deadline:
            return MoveTaskOutcome(
                status,
                int(task.get("ApproximateNumberOfMessagesMoved", 0)),
                int(task.get("ApproximateNumberOfMessagesToMove", 0)),
                sources,
                task.get("FailureReason"),
            )
        time.sleep(MOVE_TASK_POLL_SECONDS)


# --- one message -------------------------------------------------------------------------------


def _redrive_one(target: Target, message: dict[str, Any], parked_by: list[str]) -> MessageOutcome:
    """The message's kind decides: a stream batch's coordinates, an async record, or a parked event."""
    body = message.get("Body", "")
    if failure_record(body) is not None:
        return _redrive_message(target, message)
    record = async_failure_record(body)
    if record is not None:
        function_arn = str(record["requestContext"]["functionArn"])
        return _reinvoke(target, message["MessageId"], function_arn, record["requestPayload"], "on-failure record")
    attributes = message.get("MessageAttributes") or {}
    if all(name in attributes for name in _DEAD_LETTER_MARKS):
        if len(parked_by) != 1:
            detail = (
                "a function's dead-letter message, but no function names this queue as its DeadLetterConfig"
                if not parked_by
                else f"a dead-letter message, but several functions park here ({', '.join(parked_by)})"
            )
            return MessageOutcome(message["MessageId"], SKIPPED, detail + "; left in the queue")
        try:
            event = json.loads(body)
        except ValueError:
            event = body
        return _reinvoke(target, message["MessageId"], parked_by[0], event, "dead-letter event")
    return MessageOutcome(
        message["MessageId"], SKIPPED, "not an on-failure record or dead-letter event; left in the queue"
    )


def async_failure_record(body: str) -> dict[str, Any] | None:
    """An asynchronous invocation's OnFailure record (also inside an SNS envelope); None otherwise."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, dict) and data.get("Type") == "Notification" and isinstance(data.get("Message"), str):
        return async_failure_record(data["Message"])
    if not isinstance(data, dict) or "DDBStreamBatchInfo" in data or "requestPayload" not in data:
        return None
    context = data.get("requestContext")
    if not isinstance(context, dict) or not isinstance(context.get("functionArn"), str):
        return None
    return data if context.get("condition") != "Success" else None


def _reinvoke(target: Target, message_id: str, function_arn: str, event: Any, kind: str) -> MessageOutcome:
    """Invoke the function with the event again, synchronously, so the message goes only once it succeeded."""
    outcome = MessageOutcome(message_id, FAILED, "", function_arn=function_arn)
    lambda_client = _client(target, "lambda", arn_region(function_arn, target.region), _INVOKE_CONFIG)
    try:
        response = lambda_client.invoke(
            FunctionName=function_arn, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
        )
    except ClientError as error:
        outcome.detail = (
            f"could not invoke {function_arn}: {error.response['Error'].get('Message') or error_code(error)}"
        )
        return outcome
    payload = response["Payload"].read()
    if response.get("FunctionError"):
        outcome.detail = f"the function failed again on the {kind}: {_error_summary(payload)}"
        return outcome
    outcome.status, outcome.records = REDRIVEN, 1
    outcome.detail = f"the {kind} re-invoked {function_arn.rsplit(':', 1)[-1]} successfully; message deleted"
    return outcome


def failure_record(body: str) -> dict[str, Any] | None:
    """The on-failure record in a message body (also inside an SNS envelope); None if it is not one."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, dict) and data.get("Type") == "Notification" and isinstance(data.get("Message"), str):
        return failure_record(data["Message"])
    if (
        isinstance(data, dict)
        and isinstance(data.get("DDBStreamBatchInfo"), dict)
        and isinstance(data.get("requestContext"), dict)
    ):
        return data
    return None


def _redrive_message(target: Target, message: dict[str, Any]) -> MessageOutcome:
    message_id = message["MessageId"]
    record = failure_record(message.get("Body", ""))
    if record is None:
        return MessageOutcome(message_id, SKIPPED, "not a DynamoDB Streams on-failure record; left in the queue")
    info = record["DDBStreamBatchInfo"]
    outcome = MessageOutcome(
        message_id,
        FAILED,
        "",
        function_arn=record["requestContext"].get("functionArn"),
        stream_arn=info.get("streamArn"),
        shard_id=info.get("shardId"),
        start_sequence_number=info.get("startSequenceNumber"),
        end_sequence_number=info.get("endSequenceNumber"),
    )
    missing = [
        k
        for k in ("functionArn", "streamArn", "shardId", "startSequenceNumber", "endSequenceNumber")
        if not (record["requestContext"].get(k) if k == "functionArn" else info.get(k))
    ]
    if missing:
        outcome.status, outcome.detail = SKIPPED, f"the on-failure record has no {', '.join(missing)}"
        return outcome

    region = arn_region(outcome.stream_arn or "", target.region)
    try:
        raw = read_range(
            _client(target, "dynamodbstreams", region),
            outcome.stream_arn or "",
            outcome.shard_id or "",
            outcome.start_sequence_number or "",
            outcome.end_sequence_number or "",
        )
    except ParamValidationError as error:
        outcome.status, outcome.detail = SKIPPED, f"the on-failure record names no valid range: {error}"
        return outcome
    except ClientError as error:
        code = error_code(error)
        if code == "TrimmedDataAccessException":
            outcome.status = EXPIRED
            outcome.detail = (
                f"the records have left the stream ({_RETENTION}; the batch failed at "
                f"{record.get('timestamp', 'an unknown time')}); they cannot be redriven, "
                f"the message is left in the queue"
            )
            return outcome
        if code == "ResourceNotFoundException":
            outcome.status = EXPIRED
            outcome.detail = (
                f"the stream or shard no longer exists ({_RETENTION}, and a disabled or deleted "
                f"stream goes with its records): {error.response['Error'].get('Message', '')}; "
                f"the message is left in the queue"
            )
            return outcome
        raise
    if not raw:
        outcome.status = EXPIRED
        outcome.detail = (
            f"no records of the range are left in the stream ({_RETENTION}); the message is left in the queue"
        )
        return outcome

    lambda_client = _client(target, "lambda", arn_region(outcome.function_arn or "", region), _INVOKE_CONFIG)
    events = [to_lambda_record(r, outcome.stream_arn or "") for r in raw]
    matcher = _mapping_filter(lambda_client, outcome.function_arn or "", outcome.stream_arn or "")
    if matcher is not None:
        events = [e for e in events if matcher.matches(e)]
    outcome.records = len(events)
    expected = info.get("batchSize")
    if not events:
        outcome.status, outcome.detail = (
            SKIPPED,
            "no record of the range matches the mapping's filters; left in the queue",
        )
        return outcome
    note = f" (the failed batch had {expected})" if isinstance(expected, int) and expected != len(events) else ""

    response = lambda_client.invoke(
        FunctionName=outcome.function_arn,
        InvocationType="RequestResponse",
        Payload=json.dumps({"Records": events}).encode(),
    )
    payload = response["Payload"].read()
    if response.get("FunctionError"):
        outcome.detail = f"the function failed again on {len(events)} record(s){note}: {_error_summary(payload)}"
        return outcome
    failures = _batch_item_failures(payload)
    if failures:
        outcome.detail = (
            f"the function reported {len(failures)} of {len(events)} record(s) failed{note}: "
            f"{', '.join(failures)}; the message stays in the queue"
        )
        return outcome
    outcome.status = REDRIVEN
    outcome.detail = f"{len(events)} record(s) re-invoked successfully{note}; message deleted"
    return outcome


def read_range(streams: Any, stream_arn: str, shard_id: str, start: str, end: str) -> list[dict[str, Any]]:
    """The shard's records from ``start`` through ``end`` (sequence numbers), as GetRecords returns them."""
    last = int(end)
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard_id, ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=start
    )["ShardIterator"]
    records: list[dict[str, Any]] = []
    empty = 0
    while iterator and empty < MAX_EMPTY_PAGES:
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        batch = page.get("Records", [])
        empty = 0 if batch else empty + 1
        for raw in batch:
            if int(raw["dynamodb"]["SequenceNumber"]) > last:
                return records
            records.append(raw)
        if records and int(records[-1]["dynamodb"]["SequenceNumber"]) >= last:
            return records
        iterator = page.get("NextShardIterator")
    return records


# --- helpers -----------------------------------------------------------------------------------


def _queue_url(sqs: Any, queue: str) -> str:
    if queue.startswith(("http://", "https://")):
        return queue
    try:
        if queue.startswith("arn:"):
            account, name = queue.split(":")[4], queue.split(":")[5]
            return str(sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])
        return str(sqs.get_queue_url(QueueName=queue)["QueueUrl"])
    except ClientError as error:
        raise RedriveError(f"queue {queue!r}: {error.response['Error'].get('Message') or error_code(error)}") from error


def _queue_arn(sqs: Any, queue_url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
    return str(attributes["QueueArn"])


def _functions_parking_in(target: Target, queue_arn: str) -> list[str]:
    """The functions (ARNs) whose DeadLetterConfig is this queue, in its region."""
    lambda_client = _client(target, "lambda", arn_region(queue_arn, target.region))
    try:
        pages = lambda_client.get_paginator("list_functions").paginate()
        return [
            str(function["FunctionArn"])
            for page in pages
            for function in page.get("Functions", [])
            if (function.get("DeadLetterConfig") or {}).get("TargetArn") == queue_arn
        ]
    except ClientError:
        return []  # no Lambda access: dead-letter events are then left where they are


def _client(target: Target, service: str, region: str, config: Config | None = None) -> Any:
    """A client in the region the ARN names (the stream's table may live in another region than the queue)."""
    if region == target.region and config is None:
        return target.client(service)
    return target.session.client(service, endpoint_url=target.endpoint_url, region_name=region, config=config)


def _mapping_filter(lambda_client: Any, function_arn: str, stream_arn: str) -> RecordFilter | None:
    """The mapping's filters; None when it has none (or the mapping is gone: every record was the function's)."""
    try:
        mappings = lambda_client.list_event_source_mappings(FunctionName=function_arn, EventSourceArn=stream_arn)
    except ClientError:
        return None
    for mapping in mappings.get("EventSourceMappings", []):
        criteria = mapping.get("FilterCriteria")
        if criteria and criteria.get("Filters"):
            return RecordFilter.from_criteria(criteria)
    return None


def _batch_item_failures(payload: bytes) -> list[str]:
    """Sequence numbers the function reported failed (ReportBatchItemFailures); [] for success."""
    try:
        response = json.loads(payload or b"null")
    except ValueError:
        return []
    if not isinstance(response, dict):
        return []
    failures = response.get("batchItemFailures") or []
    return [str(item.get("itemIdentifier")) for item in failures if isinstance(item, dict)]


def _error_summary(payload: bytes) -> str:
    """``errorType: first line ... last line`` of the function's error (Powertools puts the cause last)."""
    try:
        error = json.loads(payload)
    except ValueError:
        return payload.decode(errors="replace")[:300]
    if not isinstance(error, dict):
        return str(error)[:300]
    lines = [line.strip() for line in str(error.get("errorMessage", "")).strip().splitlines() if line.strip()]
    message = lines[0][:300] if lines else ""
    if len(lines) > 1:
        message += " ... " + lines[-1][:300]
    return f"{error.get('errorType', 'Error')}: {message}"
