"""``InvocationType=Event``: queued, run in the background, retried and routed like Lambda does.

Throttles are retried with a short backoff (AWS keeps retrying for up to 6 hours); function
errors are retried ``MaximumRetryAttempts`` times (default 2) after ``retry_delays`` (AWS: about
1 and 2 minutes apart), and an event older than ``MaximumEventAgeInSeconds`` (default 6 h) is
dropped. Both come from the function's EventInvokeConfig, read again before every attempt.
When the invocation succeeds, or fails for the last time, its invocation record goes to the
OnSuccess / OnFailure destination.

The record's shape follows LocalStack's AWS-validated snapshots of TestLambdaDestinationSqs
(test_lambda_destinations.snapshot.json, validated 2025-11-24)::

    {"version": "1.0", "timestamp": "...Z",
     "requestContext": {"requestId", "functionArn": "...:$LATEST", "condition": "Success" |
                        "RetriesExhausted" | "EventAgeExceeded", "approximateInvokeCount"},
     "requestPayload": <event>,
     "responseContext": {"statusCode": 200, "executedVersion", "functionError"?},
     "responsePayload": <the function's answer>}

EventBridge receives it as ``Detail`` with DetailType ``Lambda Function Invocation Result -
Success`` / ``- Failure`` and Source ``lambda`` (invocation-async-retain-records.html).

An event that exhausts its retries or ages out also goes to the function's DeadLetterConfig
target as AWS sends it (LocalStack's AWS-recorded TestLambdaDLQ::test_dead_letter_queue,
2024-03-21, and TestSNSSubscriptionLambda::test_sns_topic_as_lambda_dead_letter_queue,
validated 2023-08-24): the body is the event itself, with the message attributes RequestID
(String), ErrorCode (Number, the invocation's status code, "200" for a function error) and
ErrorMessage (String). A record or event that cannot be sent is reported to telemetry as
:class:`~streamlab.emulator.telemetry.AsyncDeliveryFailed` (AWS's DeadLetterErrors and
DestinationDeliveryFailures metrics).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from streamlab.aws_rules import DEAD_LETTER_ATTRIBUTES
from streamlab.emulator.awslambda.exceptions import LambdaError, TooManyRequestsException
from streamlab.emulator.awslambda.invoke import Invoker, InvokeResult, check_payload_size
from streamlab.emulator.awslambda.models import LATEST, FunctionConfig, function_arn
from streamlab.emulator.endpoint_clients import EndpointClients
from streamlab.emulator.telemetry import NULL_SINK, AsyncDeliveryFailed, AsyncDeliveryKind, TelemetrySink

log = logging.getLogger(__name__)

DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_EVENT_AGE_S = 6 * 3600


@dataclass(frozen=True)
class AsyncTarget:
    """What one attempt runs, and the EventInvokeConfig that applies to it."""

    config: FunctionConfig
    invoked_arn: str
    maximum_retry_attempts: int | None = None
    maximum_event_age_s: int | None = None
    on_success: str | None = None
    on_failure: str | None = None
    dead_letter_arn: str | None = None


AsyncLookup = Callable[[], AsyncTarget | None]


class DestinationSender(Protocol):
    def send(self, destination_arn: str, record: dict[str, Any], success: bool) -> None: ...

    def send_dead_letter(self, target_arn: str, payload: bytes, attributes: Mapping[str, str]) -> None: ...


@dataclass(frozen=True)
class _Attempt:
    """One queued event and what its attempts so far gave."""

    lookup: AsyncLookup
    payload: bytes
    queued_at: float
    attempts: int = 0
    last: InvokeResult | None = None
    throttled: bool = False


class AsyncInvoker:
    """Runs Event invocations on a small thread pool; timers hold the ones waiting for a retry."""

    def __init__(
        self,
        invoker: Invoker,
        destinations: DestinationSender | None = None,
        workers: int = 8,
        retry_delays: tuple[float, ...] = (60.0, 120.0),
        telemetry: TelemetrySink = NULL_SINK,
    ) -> None:
        self._invoker = invoker
        self._destinations = destinations
        self._telemetry = telemetry
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lambda-async")
        self.retry_delays = retry_delays
        self._timers: set[threading.Timer] = set()
        self._lock = threading.Lock()
        self._stopped = False

    def submit(self, lookup: AsyncLookup, payload: bytes) -> None:
        check_payload_size(payload, asynchronous=True)
        self._schedule(0.0, _Attempt(lookup, payload, queued_at=time.monotonic()))

    def _schedule(self, delay: float, event: _Attempt) -> None:
        with self._lock:
            if self._stopped:
                return
            if delay <= 0:
                self._pool.submit(self._run, event)
                return
            timer = threading.Timer(delay, self._schedule, args=(0.0, event))
            timer.daemon = True
            self._timers = {t for t in self._timers if t.is_alive()}
            self._timers.add(timer)
            timer.start()

    def _run(self, event: _Attempt) -> None:
        target = event.lookup()
        if target is None:
            return  # deleted meanwhile: AWS drops the event too
        throttle_backoff = 0.05
        while True:
            max_age = target.maximum_event_age_s or DEFAULT_MAX_EVENT_AGE_S
            if time.monotonic() - event.queued_at > max_age:
                log.warning("dropping an Event invocation of %s: older than %d s", target.config.name, max_age)
                self._give_up(target, event, "EventAgeExceeded")
                return
            try:
                result = self._invoker.invoke(target.config, event.payload, invoked_arn=target.invoked_arn)
                break
            except TooManyRequestsException:
                with self._lock:
                    if self._stopped:
                        return
                event = dataclasses.replace(event, throttled=True)
                time.sleep(throttle_backoff)
                throttle_backoff = min(1.0, throttle_backoff * 2)
                target = event.lookup() or target
            except LambdaError as error:
                log.warning("Event invocation of %s failed: %s", target.config.name, error.message)
                return
        event = dataclasses.replace(event, attempts=event.attempts + 1, last=result, throttled=False)
        max_retries = DEFAULT_MAX_RETRIES if target.maximum_retry_attempts is None else target.maximum_retry_attempts
        if not result.function_error:
            self._record(target, event, "Success")
        elif event.attempts <= max_retries:
            delay = self.retry_delays[min(event.attempts - 1, len(self.retry_delays) - 1)]
            self._schedule(delay, event)
        else:
            self._give_up(target, event, "RetriesExhausted")

    def _give_up(self, target: AsyncTarget, event: _Attempt, condition: str) -> None:
        """Retries exhausted or too old: the OnFailure record and the dead-letter message (both, as on AWS)."""
        self._record(target, event, condition)
        if target.dead_letter_arn is None or self._destinations is None:
            return
        try:
            self._destinations.send_dead_letter(target.dead_letter_arn, event.payload, dead_letter_attributes(event))
        except Exception as error:
            log.exception("could not park an event of %s in %s", target.config.name, target.dead_letter_arn)
            self._failed(target, AsyncDeliveryKind.DEAD_LETTER, target.dead_letter_arn, error)

    def _record(self, target: AsyncTarget, event: _Attempt, condition: str) -> None:
        success = condition == "Success"
        destination = target.on_success if success else target.on_failure
        if destination is None or self._destinations is None:
            return
        record = invocation_record(target.config, event.payload, event.last, max(event.attempts, 1), condition)
        try:
            self._destinations.send(destination, record, success)
        except Exception as error:
            log.exception("could not send the invocation record of %s to %s", target.config.name, destination)
            self._failed(target, AsyncDeliveryKind.DESTINATION, destination, error)

    def _failed(self, target: AsyncTarget, kind: AsyncDeliveryKind, target_arn: str, error: Exception) -> None:
        qualifier = target.invoked_arn.split(":")[7] if target.invoked_arn.count(":") >= 7 else LATEST
        self._telemetry.emit(
            AsyncDeliveryFailed(target.config.name, qualifier, kind, target_arn, str(error), target.config.region)
        )

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)


def invocation_record(
    config: FunctionConfig, payload: bytes, result: InvokeResult | None, invoke_count: int, condition: str
) -> dict[str, Any]:
    now = datetime.now(UTC)
    response: dict[str, Any] = {"statusCode": result.status_code if result else None}
    response["executedVersion"] = result.executed_version if result else config.version
    if result is not None and result.function_error:
        response["functionError"] = result.function_error
    return {
        "version": "1.0",
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "requestContext": {
            "requestId": result.request_id if result else str(uuid.uuid4()),
            "functionArn": function_arn(config.region, config.name, config.version or LATEST),
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": _json_or_text(payload or b"{}"),
        "responseContext": response,
        "responsePayload": _json_or_text(result.payload) if result else None,
    }


def dead_letter_attributes(event: _Attempt) -> dict[str, str]:
    """RequestID, ErrorCode and ErrorMessage of the event's last attempt."""
    last = event.last
    if last is None:  # never ran: throttled until it aged out
        code, message, request_id = ("429" if event.throttled else "500"), "Event age exceeded", str(uuid.uuid4())
    else:
        answer = _json_or_text(last.payload) if last.payload else None
        error_message = answer.get("errorMessage") if isinstance(answer, dict) else None
        code, request_id = str(last.status_code), last.request_id
        message = str(error_message or last.function_error or "")
    values = {"RequestID": request_id, "ErrorCode": code, "ErrorMessage": message}
    return {name: values[name] for name, _ in DEAD_LETTER_ATTRIBUTES}


def _json_or_text(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", errors="replace")


class EndpointDestinations:
    """Sends invocation records through the endpoint's own services (SQS, SNS, EventBridge, S3),
    and to another function through ``invoke_function`` (an Event invocation)."""

    def __init__(self, endpoint_url: Callable[[], str], invoke_function: Callable[[str, bytes], None]) -> None:
        self._clients = EndpointClients(endpoint_url)
        self._invoke_function = invoke_function

    def send(self, destination_arn: str, record: dict[str, Any], success: bool) -> None:
        parts = destination_arn.split(":")
        service, region, resource = parts[2], parts[3], ":".join(parts[5:])
        body = json.dumps(record)
        if service == "sqs":
            client = self._clients.get("sqs", region)
            queue_url = client.get_queue_url(QueueName=resource, QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
            client.send_message(QueueUrl=queue_url, MessageBody=body)
        elif service == "sns":
            self._clients.get("sns", region).publish(TopicArn=destination_arn, Message=body)
        elif service == "events":
            outcome = "Success" if success else "Failure"
            self._clients.get("events", region).put_events(
                Entries=[
                    {
                        "Source": "lambda",
                        "DetailType": f"Lambda Function Invocation Result - {outcome}",
                        "Detail": body,
                        "EventBusName": destination_arn,
                        "Resources": [record["requestContext"]["functionArn"]],
                    }
                ]
            )
        elif service == "lambda":
            self._invoke_function(destination_arn, body.encode())
        elif service == "s3":
            # Key layout not confirmed against AWS: aws/lambda/async/<function>/<date>/<time>-<uuid>.
            function_name = record["requestContext"]["functionArn"].split(":")[6]
            stamp = datetime.now(UTC)
            key = f"aws/lambda/async/{function_name}/{stamp:%Y/%m/%d}/{stamp:%Y-%m-%dT%H.%M.%S}-{uuid.uuid4()}"
            bucket = resource.split("/", 1)[0]
            self._clients.get("s3", region or "us-east-1").put_object(Bucket=bucket, Key=key, Body=body.encode())
        else:
            log.warning("invocation record for %s not sent: unsupported destination", destination_arn)

    def send_dead_letter(self, target_arn: str, payload: bytes, attributes: Mapping[str, str]) -> None:
        parts = target_arn.split(":")
        service, region, account, name = parts[2], parts[3], parts[4], parts[5]
        types = dict(DEAD_LETTER_ATTRIBUTES)
        body = payload.decode("utf-8", errors="replace") or "{}"
        if service == "sqs":
            client = self._clients.get("sqs", region)
            queue_url = client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
            client.send_message(
                QueueUrl=queue_url,
                MessageBody=body,
                MessageAttributes={k: {"DataType": types[k], "StringValue": v} for k, v in attributes.items()},
            )
        elif service == "sns":
            self._clients.get("sns", region).publish(
                TopicArn=target_arn,
                Message=body,
                MessageAttributes={k: {"DataType": types[k], "StringValue": v} for k, v in attributes.items()},
            )
        else:  # CreateFunction/UpdateFunctionConfiguration let only SQS and SNS through
            raise ValueError(f"unsupported dead-letter target {target_arn}")
