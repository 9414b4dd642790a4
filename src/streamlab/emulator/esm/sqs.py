"""SQS event source mappings: a queue poller, a batch processor and the delete that acknowledges.

Behaviour reproduced (with-sqs.html, services-sqs-configure.html, services-sqs-errorhandling.html,
services-sqs-scaling.html; LocalStack's AWS-validated test_lambda_integration_sqs.snapshot.json):

- pollers receive up to 10 messages a call (ReceiveMessage's limit) and gather a batch of up to
  BatchSize (1-10, or up to 10,000 with MaximumBatchingWindowInSeconds) within the window, under
  the 6 MB invocation payload;
- a batch that succeeds is deleted; a function error leaves every message in flight, so it comes
  back after the queue's visibility timeout (that is the retry: test_failing_lambda_retries_after_
  visibility_timeout, 2023-02-27, ApproximateReceiveCount "1" then "2"); the queue's RedrivePolicy
  moves a message to its dead-letter queue after maxReceiveCount receives (test_redrive_policy_
  with_failing_lambda, 2023-02-27; moto applies it on receive, as SQS does);
- ReportBatchItemFailures: ``{"batchItemFailures": [{"itemIdentifier": "<messageId>"}]}`` deletes
  all but the named messages (test_report_batch_item_failures, 2023-11-10); an invalid answer fails
  the whole batch; on a FIFO queue the messages of a group after its first failure stay too, so
  the group keeps its order;
- FIFO queues: SQS itself hands out a message group to one receiver at a time, so several
  pollers keep each group in order;
- FilterCriteria match the record with a JSON body as an object (``{"body": {"status": [...]}}``);
  messages no filter matches are deleted, never delivered (invocation-eventfiltering.html);
- ScalingConfig.MaximumConcurrency (2-1000) bounds the batches in flight; without it this engine
  runs :data:`~streamlab.aws_rules.SQS_DEFAULT_CONCURRENCY` (AWS scales to 1,250; one machine here
  cannot, and a bound is all MaximumConcurrency promises).

The event record (test_report_batch_item_failures and test_failing_lambda_retries_after_visibility_
timeout): messageId, receiptHandle, body, attributes {ApproximateReceiveCount, SentTimestamp,
SenderId, ApproximateFirstReceiveTimestamp; FIFO also SequenceNumber, MessageGroupId,
MessageDeduplicationId}, messageAttributes {name: {stringValue, stringListValues, binaryListValues,
dataType}}, md5OfMessageAttributes (when there are attributes), md5OfBody, eventSource "aws:sqs",
eventSourceARN, awsRegion.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from streamlab.aws_rules import (
    MAX_INVOKE_PAYLOAD_BYTES,
    SQS_DEFAULT_CONCURRENCY,
    SQS_RECEIVE_LIMIT,
    BatchOutcome,
    ProcessingResult,
)
from streamlab.emulator.esm.arns import EndpointURL, arn_account, arn_region, arn_resource, resolve_endpoint
from streamlab.emulator.esm.config import MappingConfig
from streamlab.emulator.esm.filtering import RecordFilter
from streamlab.emulator.esm.invoker import InvokeFunction, judge
from streamlab.emulator.esm.metrics import MappingCounters, MappingMetrics, WorkerSettings, batch_invoked
from streamlab.emulator.esm.records import StreamRecord, encode_json, event_payload, payload_size
from streamlab.emulator.telemetry import (
    NULL_SINK,
    InvokeOutcome,
    RecordsFiltered,
    RecordsRead,
    TelemetrySink,
)
from streamlab.errors import StreamlabError

log = logging.getLogger(__name__)

#: Attributes Lambda puts in a record, in AWS's order (FIFO members only when present).
_ATTRIBUTE_ORDER = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "SenderId",
    "MessageDeduplicationId",
    "ApproximateFirstReceiveTimestamp",
)
#: The most pollers one mapping runs here, whatever MaximumConcurrency allows (2 shared cores).
MAX_POLLER_THREADS = 10


class QueueNotFound(StreamlabError):
    """The mapping's queue does not exist (yet, or any more)."""


class QueueClient(Protocol):
    """The SQS calls the poller needs (boto3's parsed shapes)."""

    @property
    def is_fifo(self) -> bool: ...

    def receive(self, max_messages: int, wait_seconds: int) -> list[dict[str, Any]]: ...

    def delete(self, receipt_handles: list[str]) -> None: ...


class Boto3QueueClient:
    """:class:`QueueClient` over the endpoint's public SQS API."""

    def __init__(self, endpoint_url: EndpointURL, queue_arn: str, client: Any = None) -> None:
        self._arn = queue_arn
        self._client = client or boto3.client(
            "sqs",
            endpoint_url=resolve_endpoint(endpoint_url),
            region_name=arn_region(queue_arn),
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30),
        )
        self._url: str | None = None

    @property
    def is_fifo(self) -> bool:
        return arn_resource(self._arn).endswith(".fifo")

    def _queue_url(self) -> str:
        if self._url is None:
            try:
                self._url = str(
                    self._client.get_queue_url(
                        QueueName=arn_resource(self._arn), QueueOwnerAWSAccountId=arn_account(self._arn)
                    )["QueueUrl"]
                )
            except ClientError as error:
                raise QueueNotFound(str(error)) from None
        return self._url

    def receive(self, max_messages: int, wait_seconds: int) -> list[dict[str, Any]]:
        try:
            answer = self._client.receive_message(
                QueueUrl=self._queue_url(),
                MaxNumberOfMessages=max(1, min(max_messages, SQS_RECEIVE_LIMIT)),
                WaitTimeSeconds=wait_seconds,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        except ClientError as error:
            if "NonExistentQueue" in str(error.response.get("Error", {}).get("Code", "")):
                self._url = None
                raise QueueNotFound(str(error)) from None
            raise
        return list(answer.get("Messages", []))

    def delete(self, receipt_handles: list[str]) -> None:
        for start in range(0, len(receipt_handles), SQS_RECEIVE_LIMIT):
            chunk = receipt_handles[start : start + SQS_RECEIVE_LIMIT]
            answer = self._client.delete_message_batch(
                QueueUrl=self._queue_url(),
                Entries=[{"Id": str(index), "ReceiptHandle": handle} for index, handle in enumerate(chunk)],
            )
            for failed in answer.get("Failed", []):  # comes back after its visibility timeout: at-least-once
                log.warning("could not delete message from %s: %s", self._arn, failed.get("Message"))


def _lambda_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """ReceiveMessage's MessageAttributeValue -> the record's camel-cased shape."""
    shaped: dict[str, Any] = {}
    if "StringValue" in value:
        shaped["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        binary = value["BinaryValue"]
        shaped["binaryValue"] = base64.b64encode(binary).decode() if isinstance(binary, bytes) else binary
    shaped["stringListValues"] = list(value.get("StringListValues", []))
    shaped["binaryListValues"] = [
        base64.b64encode(item).decode() if isinstance(item, bytes) else item
        for item in value.get("BinaryListValues", [])
    ]
    shaped["dataType"] = value.get("DataType")
    return shaped


def sqs_record(message: Mapping[str, Any], queue_arn: str) -> StreamRecord:
    """One received message -> the record Lambda delivers (see the module docstring)."""
    received = message.get("Attributes") or {}
    attributes = {name: str(received[name]) for name in _ATTRIBUTE_ORDER if name in received}
    event: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": attributes,
        "messageAttributes": {
            name: _lambda_attribute(value) for name, value in (message.get("MessageAttributes") or {}).items()
        },
    }
    if message.get("MD5OfMessageAttributes"):
        event["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    event.update(
        {
            "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": arn_region(queue_arn),
        }
    )
    view = None
    try:
        body = json.loads(event["body"])
    except ValueError:
        body = None
    if isinstance(body, (dict, list)):  # a JSON body is filtered as an object
        view = dict(event, body=body)
    sent = float(received.get("SentTimestamp", 0)) / 1000.0
    return StreamRecord(
        event=event,
        shard_id=queue_arn,
        sequence_number=str(message["MessageId"]),
        arrival=sent,
        partition_key=str(received.get("MessageGroupId", "")),
        size=len(encode_json(event)),
        filter_view=view,
    )


def acknowledged(records: list[StreamRecord], failed_ids: set[str], fifo: bool) -> list[StreamRecord]:
    """The records to delete after a partial batch response.

    On a FIFO queue a group's messages after its first failure stay as well: deleting them
    would let the group's order break when the failed one comes back.
    """
    blocked: set[str] = set()
    done: list[StreamRecord] = []
    for record in records:
        group = record.partition_key
        if record.sequence_number in failed_ids:
            if fifo:
                blocked.add(group)
            continue
        if fifo and group in blocked:
            continue
        done.append(record)
    return done


def failed_identifiers(response: Any, message_ids: list[str]) -> set[str] | None:
    """The message ids a ReportBatchItemFailures answer names; None when it is invalid (all failed)."""
    if not isinstance(response, dict):
        return set()
    failures = response.get("batchItemFailures")
    if failures is None or failures == []:
        return set()
    if not isinstance(failures, list):
        return None
    known = set(message_ids)
    named: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in known:
            return None
        named.add(identifier)
    return named


def _chunks_under_cap(records: list[StreamRecord], cap: int) -> list[list[StreamRecord]]:
    chunks: list[list[StreamRecord]] = [[]]
    for record in records:
        if chunks[-1] and payload_size([*chunks[-1], record]) > cap:
            chunks.append([])
        chunks[-1].append(record)
    return [chunk for chunk in chunks if chunk]


class QueueWorker:
    """Runs one enabled SQS mapping: a few poller threads, each receive -> invoke -> delete.

    Same lifecycle and status interface as :class:`~streamlab.emulator.esm.worker.MappingWorker`.
    """

    def __init__(
        self,
        config: MappingConfig,
        invoke: InvokeFunction,
        queue: QueueClient,
        settings: WorkerSettings,
        status_listener: Callable[[str, str], None] | None = None,
        telemetry: TelemetrySink = NULL_SINK,
    ) -> None:
        self.config = config
        self._invoke = invoke
        self._queue = queue
        self.settings = settings
        self._telemetry = telemetry
        self.counters = MappingCounters(
            config.uuid, config.resolved_function_arn, config.event_source_arn, telemetry, status_listener
        )
        self._filter = RecordFilter.from_criteria(config.filter_criteria)
        self._stop = threading.Event()
        pollers = min(config.maximum_concurrency or SQS_DEFAULT_CONCURRENCY, MAX_POLLER_THREADS)
        self._threads = [
            threading.Thread(target=self._supervise, name=f"esm-sqs-{config.uuid[:8]}-{index}", daemon=True)
            for index in range(pollers)
        ]

    # -- lifecycle (the engine's worker interface) ------------------------------------------
    def start(self) -> QueueWorker:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        deadline = time.monotonic() + (self.settings.stop_timeout if timeout is None else timeout)
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def is_alive(self) -> bool:
        return all(thread.is_alive() for thread in self._threads)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def wake(self) -> None:
        """Long polling already returns as soon as a message arrives."""

    def initialise(self) -> None:
        """A queue has no starting position."""

    def count(self, **increments: int) -> None:
        self.counters.count(**increments)

    def metrics(self) -> MappingMetrics:
        return self.counters.snapshot()

    # -- polling ------------------------------------------------------------------------
    def _supervise(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                batch = self._gather()
                if batch:
                    self._process(batch)
                failures = 0
            except QueueNotFound as error:
                failures += 1
                self.counters.set_error(f"QueueNotFound: {error}")
            except Exception as error:  # the messages stay in the queue and come back: nothing is lost
                failures += 1
                log.exception("SQS event source mapping %s poller failed; polling again", self.config.uuid)
                self.counters.count(restarts=1)
                self.counters.set_error(f"{type(error).__name__}: {error}")
            if failures:
                self._stop.wait(min(self.settings.restart_delay * 2 ** (failures - 1), self.settings.restart_delay_max))

    def _receive(self, wanted: int, wait: bool) -> list[dict[str, Any]]:
        # Long polling wakes on a send; a FIFO queue short-polls (a receive that finds only
        # messages of groups in flight would spin inside moto for the whole wait).
        long_poll = wait and not self._queue.is_fifo
        messages = self._queue.receive(min(wanted, SQS_RECEIVE_LIMIT), 1 if long_poll else 0)
        if not messages and wait and not long_poll:
            self._stop.wait(self.settings.poll_interval)
        return messages

    def _gather(self) -> list[StreamRecord]:
        """One batch: up to BatchSize messages within the batching window."""
        config = self.config
        window = float(config.maximum_batching_window_in_seconds)
        batch: list[StreamRecord] = []
        deadline: float | None = None
        while len(batch) < config.batch_size and not self._stop.is_set():
            if not batch:
                messages = self._receive(config.batch_size, wait=True)
                if not messages:
                    return []
                deadline = time.monotonic() + window
            else:
                assert deadline is not None
                if time.monotonic() >= deadline:
                    break
                messages = self._queue.receive(min(config.batch_size - len(batch), SQS_RECEIVE_LIMIT), 0)
                if not messages:
                    if window <= 0:
                        break
                    self._stop.wait(min(0.05, max(0.0, deadline - time.monotonic())))
                    continue
            records = [sqs_record(message, config.event_source_arn) for message in messages]
            self.counters.count(records_read=len(records))
            self._telemetry.emit(
                RecordsRead(
                    config.uuid, config.event_source_arn, config.event_source_arn, [r.sequence_number for r in records]
                )
            )
            batch.extend(self._kept(records))
            if window <= 0 and len(messages) < SQS_RECEIVE_LIMIT:
                break
        return batch

    def _kept(self, records: list[StreamRecord]) -> list[StreamRecord]:
        """Messages no filter matches are deleted without an invocation."""
        if self._filter is None:
            return records
        kept = [r for r in records if self._filter.matches(r.filtered_event)]
        dropped = [r for r in records if r not in kept]
        if dropped:
            self._queue.delete([r.event["receiptHandle"] for r in dropped])
            self.counters.count(records_filtered=len(dropped))
            config = self.config
            self._telemetry.emit(
                RecordsFiltered(
                    config.uuid, config.event_source_arn, config.event_source_arn, [r.sequence_number for r in dropped]
                )
            )
        return kept

    # -- processing -----------------------------------------------------------------------
    def _process(self, batch: list[StreamRecord]) -> None:
        for chunk in _chunks_under_cap(batch, MAX_INVOKE_PAYLOAD_BYTES):
            self._invoke_chunk(chunk)

    def _invoke_chunk(self, records: list[StreamRecord]) -> None:
        config = self.config
        attempt = max(int(r.event["attributes"].get("ApproximateReceiveCount", "1")) for r in records)
        started = time.monotonic()
        try:
            result = self._invoke(config.function_name, encode_json(event_payload(records)))
        except Exception as error:  # not invoked: the messages come back after their visibility timeout
            log.warning("SQS event source mapping %s could not invoke %s: %s", config.uuid, config.function_name, error)
            self.counters.set_result(ProcessingResult.FUNCTION_CALL_FAILED, error=str(error))
            self._report(records, attempt, InvokeOutcome.UNREACHABLE, started, error_type=type(error).__name__)
            return
        verdict = judge(result, records)
        failed: set[str] | None = set()
        if verdict.outcome == BatchOutcome.SUCCESS and config.reports_batch_item_failures:
            failed = failed_identifiers(verdict.response, [r.sequence_number for r in records])
        call_failed = verdict.outcome == BatchOutcome.FAILURE or failed is None
        self.counters.count(invocations=1, failed_invocations=int(call_failed))
        self.counters.set_result(ProcessingResult.FUNCTION_CALL_FAILED if call_failed else ProcessingResult.OK)
        if call_failed:
            response = verdict.response if isinstance(verdict.response, dict) else {}
            self._report(
                records,
                attempt,
                InvokeOutcome.FUNCTION_ERROR,
                started,
                error_type=str(response.get("errorType") or verdict.function_error or "") or None,
                error_message=str(response.get("errorMessage") or verdict.reason or "") or None,
            )
            return  # every message stays in flight: the visibility timeout is the retry
        assert failed is not None
        done = acknowledged(records, failed, self._queue.is_fifo)
        if done:
            self._queue.delete([r.event["receiptHandle"] for r in done])
            self.counters.count(records_delivered=len(done))
        kept = [r.sequence_number for r in records if r not in done]
        outcome = InvokeOutcome.PARTIAL if kept else InvokeOutcome.SUCCESS
        self._report(records, attempt, outcome, started, failed_record_ids=kept)

    def _report(
        self,
        records: list[StreamRecord],
        attempt: int,
        outcome: InvokeOutcome,
        started: float,
        *,
        error_type: str | None = None,
        error_message: str | None = None,
        failed_record_ids: list[str] | None = None,
    ) -> None:
        self._telemetry.emit(
            batch_invoked(
                self.config,
                self.config.event_source_arn,
                records,
                attempt,
                outcome,
                started,
                error_type=error_type,
                error_message=error_message,
                failed_record_ids=failed_record_ids or (),
            )
        )
