"""A :class:`~streamlab.emulator.esm.sqs.QueueClient` over moto's SQS backend, in-process.

The embedded endpoint's engine polls queues that live in its own process. Through boto3 and
HTTP an empty ReceiveMessage costs ~350 times the backend call (``benchmarks/sqs_receive.py``:
27 ms against 0.08 ms median under a load average of 8), and every SQS mapping's pollers make
one a second while idle; so, like the stream store reader, the engine calls the backend directly:
the same ``receive_message`` / ``delete_message`` the SQS API answers with, so visibility
timeouts, receive counts, FIFO group locks and the redrive to a DLQ are moto's own. The messages
come back in the shape boto3 parses ReceiveMessage into (``AttributeNames=["All"]``).

Outside the embedded endpoint the engine keeps :class:`~streamlab.emulator.esm.sqs.Boto3QueueClient`.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from streamlab.aws_rules import SQS_RECEIVE_LIMIT
from streamlab.emulator.esm.arns import arn_account, arn_region, arn_resource
from streamlab.emulator.esm.sqs import QueueNotFound

log = logging.getLogger(__name__)

#: moto's receive is not atomic: two pollers receiving at the same moment can both be handed one
#: message (each sees it visible before either marks it received). One lock per queue makes a
#: receive, and a delete, whole; long polls wait outside it.
_QUEUE_LOCKS: dict[tuple[str, str, str], threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _queue_lock(account: str, region: str, name: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _QUEUE_LOCKS.setdefault((account, region, name), threading.Lock())


def _received(message: Any) -> dict[str, Any]:
    attributes: dict[str, str] = {
        "SenderId": str(message.sender_id),
        "SentTimestamp": str(message.sent_timestamp),
        "ApproximateReceiveCount": str(message.approximate_receive_count),
        "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
    }
    if message.deduplication_id is not None:
        attributes["MessageDeduplicationId"] = str(message.deduplication_id)
    if message.group_id is not None:
        attributes["MessageGroupId"] = str(message.group_id)
    if message.sequence_number is not None:
        attributes["SequenceNumber"] = str(message.sequence_number)
    shaped: dict[str, Any] = {
        "MessageId": message.id,
        "ReceiptHandle": message.receipt_handle,
        "MD5OfBody": message.body_md5,
        "Body": message.body,
        "Attributes": attributes,
    }
    if message.message_attributes:
        shaped["MessageAttributes"] = dict(message.message_attributes)
        shaped["MD5OfMessageAttributes"] = message.attribute_md5
    return shaped


class MotoQueueClient:
    """Receives from and deletes in one queue of moto's SQS backend (see the module docstring)."""

    def __init__(self, queue_arn: str) -> None:
        self._arn = queue_arn
        self._name = arn_resource(queue_arn)
        self._account = arn_account(queue_arn)
        self._region = arn_region(queue_arn)
        self._lock = _queue_lock(self._account, self._region, self._name)

    @property
    def is_fifo(self) -> bool:
        return self._name.endswith(".fifo")

    def _backend(self) -> Any:
        from moto.sqs.models import sqs_backends

        backend = sqs_backends[self._account][self._region]
        if self._name not in backend.queues:
            raise QueueNotFound(f"The specified queue does not exist: {self._arn}")
        return backend

    def _receive_now(self, count: int) -> list[dict[str, Any]]:
        backend = self._backend()
        queue = backend.queues[self._name]
        with self._lock:
            messages = backend.receive_message(self._name, count, 0, int(queue.visibility_timeout), ["All"])
            return [_received(message) for message in messages]

    def receive(self, max_messages: int, wait_seconds: int) -> list[dict[str, Any]]:
        count = max(1, min(max_messages, SQS_RECEIVE_LIMIT))
        messages = self._receive_now(count)
        if messages or wait_seconds <= 0:
            return messages
        # Long polling: wait for a send (moto notifies its queue's condition), then look again.
        self._backend().queues[self._name].wait_for_messages(wait_seconds)
        return self._receive_now(count)

    def delete(self, receipt_handles: list[str]) -> None:
        backend = self._backend()
        with self._lock:
            for handle in receipt_handles:
                try:
                    backend.delete_message(self._name, handle)
                except Exception as error:  # comes back after its visibility timeout: at-least-once
                    log.warning("could not delete message from %s: %s", self._arn, error)
