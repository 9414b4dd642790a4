"""Invoking the function with a batch: the verdict on its answer, retries, bisect, record age.

Behaviour reproduced (services-dynamodb-errors.html, services-ddb-batchfailurereporting.html,
services-ddb-params.html):

- a function error (``FunctionError`` set, or a non-2xx status) fails the whole batch; Lambda
  retries it until it succeeds, its records are older than MaximumRecordAgeInSeconds, or
  MaximumRetryAttempts retries were made (-1: forever). Then the batch is discarded (sent to
  the on-failure destination if any) and the shard moves on.
- BisectBatchOnFunctionError splits a failed batch in two halves, first half first; the split
  does not consume the retry quota.
- ReportBatchItemFailures: ``{"batchItemFailures": [{"itemIdentifier": "<SequenceNumber>"}]}``.
  Empty/null list, empty/null response: success. An itemIdentifier that is empty, null, not a
  sequence number of the batch, or a wrongly named key: the whole batch failed (recorded on AWS
  with ``functionError: null``). Otherwise the lowest failed sequence number is the checkpoint:
  records before it are done, Lambda retries from it. With bisect on as well, the batch is split
  at that sequence number; the split is not charged to the retry quota when it made progress.
- With a tumbling window the answer must carry ``state``; without it the invoke failed.
- If the function cannot be invoked at all (throttled, not found: the ``invoke`` callable
  raises), Lambda retries until the records expire; that does not count as a retry attempt.

``approximateInvokeCount`` in the on-failure record is the number of invocations of the batch
that failed last (1 + retries; LocalStack's AWS snapshot: MaximumRetryAttempts 1 -> 2).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from streamlab.aws_rules import BatchOutcome, DiscardCondition
from streamlab.emulator.esm.records import StreamRecord

RETRY_ATTEMPTS_EXHAUSTED = DiscardCondition.RETRY_ATTEMPTS_EXHAUSTED
RECORD_AGE_EXCEEDED = DiscardCondition.RECORD_AGE_EXCEEDED


class InvokeResultLike(Protocol):
    """What the Lambda service's ``invoke`` returns (its InvokeResult has these and more)."""

    @property
    def status_code(self) -> int: ...

    @property
    def payload(self) -> bytes: ...

    @property
    def function_error(self) -> str | None: ...


@dataclass(frozen=True)
class InvokeResult:
    """A minimal :class:`InvokeResultLike` for callers that have nothing richer."""

    status_code: int = 200
    payload: bytes = b""
    function_error: str | None = None


#: ``invoke(function_name, payload) -> InvokeResult`` as the Lambda service provides it.
InvokeFunction = Callable[[str, bytes], InvokeResultLike]


@dataclass(frozen=True)
class Verdict:
    """What one invocation meant for its batch."""

    outcome: BatchOutcome
    status_code: int | None = None
    function_error: str | None = None
    failed_from: int = 0  # partial: index of the first record to retry
    response: Any = None  # the function's answer, parsed when it is JSON
    invoked: bool = True  # False: the function could not be invoked at all
    reason: str = ""


@dataclass(frozen=True)
class PartialResponse:
    valid: bool
    failed_from: int | None = None  # index of the lowest failed record; None: all succeeded
    reason: str = ""


def parse_response_payload(payload: bytes | None) -> Any:
    if not payload:
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", "replace")


def parse_batch_item_failures(response: Any, sequence_numbers: list[str]) -> PartialResponse:
    """Interpret a ReportBatchItemFailures answer against the batch's sequence numbers."""
    if response is None or not isinstance(response, dict):
        return PartialResponse(valid=True)  # null / empty EventResponse (or no object at all)
    failures = response.get("batchItemFailures")
    if failures is None or failures == []:
        return PartialResponse(valid=True)
    if not isinstance(failures, list):
        return PartialResponse(valid=False, reason="batchItemFailures is not a list")
    positions = {sequence: index for index, sequence in enumerate(sequence_numbers)}
    lowest: int | None = None
    for failure in failures:
        if not isinstance(failure, dict) or "itemIdentifier" not in failure:
            return PartialResponse(valid=False, reason="a batch item failure without itemIdentifier")
        identifier = failure["itemIdentifier"]
        if not isinstance(identifier, str) or not identifier:
            return PartialResponse(valid=False, reason=f"invalid itemIdentifier {identifier!r}")
        index = positions.get(identifier)
        if index is None:
            return PartialResponse(valid=False, reason=f"itemIdentifier {identifier} is not in the batch")
        lowest = index if lowest is None else min(lowest, index)
    return PartialResponse(valid=True, failed_from=lowest)


def judge(
    result: InvokeResultLike,
    records: list[StreamRecord],
    *,
    report_batch_item_failures: bool = False,
    requires_state: bool = False,
) -> Verdict:
    """The verdict on one invocation's answer."""
    response = parse_response_payload(result.payload)
    status = result.status_code
    if result.function_error or not 200 <= status < 300:
        return Verdict(
            BatchOutcome.FAILURE, status, result.function_error or None, response=response, reason="function error"
        )
    if requires_state and not (isinstance(response, dict) and isinstance(response.get("state"), dict)):
        return Verdict(
            BatchOutcome.FAILURE, status, None, response=response, reason="tumbling window answer without state"
        )
    if report_batch_item_failures:
        partial = parse_batch_item_failures(response, [r.sequence_number for r in records])
        if not partial.valid:
            return Verdict(BatchOutcome.FAILURE, status, None, response=response, reason=partial.reason)
        if partial.failed_from is not None:
            return Verdict(
                BatchOutcome.PARTIAL,
                status,
                None,
                failed_from=partial.failed_from,
                response=response,
                reason="batch item failures",
            )
    return Verdict(BatchOutcome.SUCCESS, status, None, response=response)


@dataclass(frozen=True)
class RetryPolicy:
    maximum_retry_attempts: int = -1
    maximum_record_age_in_seconds: float = -1
    bisect_batch_on_function_error: bool = False
    backoff_seconds: float = 0.1  # first retry delay; doubles up to backoff_max_seconds
    backoff_max_seconds: float = 2.0

    def backoff(self, failures: int) -> float:
        delay: float = self.backoff_seconds * 2 ** max(failures - 1, 0)
        return min(delay, self.backoff_max_seconds)

    def retries_exhausted(self, attempts: int) -> bool:
        return self.maximum_retry_attempts >= 0 and attempts > self.maximum_retry_attempts

    def expired(self, record: StreamRecord, now: float) -> bool:
        return self.maximum_record_age_in_seconds >= 0 and now - record.arrival > self.maximum_record_age_in_seconds


#: ``call(records, attempt) -> Verdict``: build the event, invoke, judge (the lane provides it);
#: ``attempt`` is 1 for the first invocation of these records.
CallBatch = Callable[[list[StreamRecord], int], Verdict]
#: ``on_done(records, verdict)``: the records succeeded.
OnDone = Callable[[list[StreamRecord], Verdict], None]
#: ``on_discard(records, condition, invoke_count, last_verdict)``: give up on the records.
OnDiscard = Callable[[list[StreamRecord], str, int, "Verdict | None"], None]


class BatchDelivery:
    """Delivers one batch to the end: success, partial success, bisect, retries, expiry.

    ``deliver`` returns True when every record was either processed or discarded and False
    when ``stop`` was set first (the caller leaves the rest unprocessed, uncheckpointed).
    """

    def __init__(
        self,
        policy: RetryPolicy,
        call: CallBatch,
        on_done: OnDone,
        on_discard: OnDiscard,
        stop: threading.Event,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy
        self._call = call
        self._on_done = on_done
        self._on_discard = on_discard
        self._stop = stop
        self._clock = clock

    def _drop_expired(self, records: list[StreamRecord], attempts: int, last: Verdict | None) -> list[StreamRecord]:
        now = self._clock()
        expired = [r for r in records if self.policy.expired(r, now)]
        if not expired:
            return records
        self._on_discard(expired, RECORD_AGE_EXCEEDED, attempts, last)
        keep = {r.sequence_number for r in expired}
        return [r for r in records if r.sequence_number not in keep]

    def deliver(self, records: list[StreamRecord]) -> bool:
        # (records, failed invocations so far, last verdict): the head is always processed next,
        # so a shard's (or key group's) records keep their order.
        work: deque[tuple[list[StreamRecord], int, Verdict | None]] = deque([(records, 0, None)])
        unreachable = 0
        while work:
            if self._stop.is_set():
                return False
            batch, attempts, last = work.popleft()
            batch = self._drop_expired(batch, attempts, last)
            if not batch:
                continue
            verdict = self._call(batch, attempts + 1)
            if not verdict.invoked:
                unreachable += 1
                work.appendleft((batch, attempts, last))
                self._stop.wait(self.policy.backoff(unreachable))
                continue
            unreachable = 0
            if verdict.outcome == BatchOutcome.SUCCESS:
                self._on_done(batch, verdict)
                continue
            failed = batch
            if verdict.outcome == BatchOutcome.PARTIAL:
                done, failed = batch[: verdict.failed_from], batch[verdict.failed_from :]
                if done:
                    self._on_done(done, verdict)
                    if self.policy.bisect_batch_on_function_error:
                        # Split at the returned sequence number: not charged to the retry quota.
                        work.appendleft((failed, attempts, verdict))
                        continue
            elif self.policy.bisect_batch_on_function_error and len(batch) > 1:
                middle = (len(batch) + 1) // 2
                work.appendleft((batch[middle:], attempts, verdict))
                work.appendleft((batch[:middle], attempts, verdict))
                continue
            attempts += 1
            if self.policy.retries_exhausted(attempts):
                self._on_discard(failed, RETRY_ATTEMPTS_EXHAUSTED, attempts, verdict)
                continue
            work.appendleft((failed, attempts, verdict))
            self._stop.wait(self.policy.backoff(attempts))
        return True
