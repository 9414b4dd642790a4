"""moto's SQS, where the stack's queues need AWS's behaviour."""

from __future__ import annotations

import functools
import itertools
import threading
from typing import Any

from moto.sqs.models import Queue, SQSBackend

from streamlab.emulator.moto_patches.patching import Patcher


def keep_queue_policy_unless_set(patcher: Patcher) -> None:
    """SetQueueAttributes changes only the attributes it names.

    moto sets a queue's Policy to whatever the call carries, so changing the visibility timeout
    of a queue that an SNS topic may send to silently removes the topic's permission. AWS leaves
    attributes the request does not name as they are (an empty Policy removes it).
    """
    original = Queue._set_attributes

    @functools.wraps(original)
    def _set_attributes(self: Queue, attributes: dict[str, Any], now: Any = None) -> None:
        policy = getattr(self, "policy", None)
        original(self, attributes, now)
        if "Policy" not in attributes:
            self.policy = policy

    patcher.replace(Queue, "_set_attributes", _set_attributes)


#: FIFO sequence numbers: 20 digits and increasing, like SQS's ("18849496460467696128").
_FIFO_SEQUENCE = itertools.count(10**19)
_FIFO_SEQUENCE_LOCK = threading.Lock()


def fifo_sequence_numbers(patcher: Patcher) -> None:
    """Every message sent to a FIFO queue gets a SequenceNumber that grows with each send.

    moto assigns one only when the sender names a MessageDeduplicationId, and a random one
    then: with ContentBasedDeduplication a received message has no SequenceNumber attribute,
    which SQS always reports for FIFO queues (and Lambda's FIFO records carry: LocalStack's
    AWS-validated test_report_batch_item_failures, 2023-11-10).
    """
    original = SQSBackend.send_message

    @functools.wraps(original)
    def send_message(self: SQSBackend, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        message = original(self, queue_name, *args, **kwargs)
        if self.get_queue(queue_name).fifo_queue:
            with _FIFO_SEQUENCE_LOCK:
                message.sequence_number = f"{next(_FIFO_SEQUENCE):020d}"
        return message

    patcher.replace(SQSBackend, "send_message", send_message)
