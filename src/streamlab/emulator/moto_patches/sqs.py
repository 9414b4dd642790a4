"""moto's SQS, where the stack's queues need AWS's behaviour."""

from __future__ import annotations

import functools
from typing import Any

from moto.sqs.models import Queue

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
