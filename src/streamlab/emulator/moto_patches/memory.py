"""moto objects made per request are not kept for ever (DynamoDB items: ``dynamodb.forget_items_once_replaced``).

moto's ``BaseModel.__new__`` appends every instance of every model to its class's
``instances_tracked`` list, for moto's own reset and data-listing API. For models made per request
that list is the only thing keeping them alive once they are dropped: every CloudWatch Logs event
(the log cap's trimming freed nothing), every SQS message, every moto stream record. Measured with
tracemalloc on DynamoDB items first: 1.1 KB of RSS per overwrite, all of it in that list
(benchmarks/soak.py, issue 12). These classes are no longer tracked; resources (tables, queues,
log groups) still are. Nothing streamlab does reads the lists of these classes.
"""

from __future__ import annotations

from typing import Any

from moto.dynamodb.models.table import StreamRecord
from moto.logs.models import LogEvent
from moto.sqs.models import Message

from streamlab.emulator.moto_patches.patching import Patcher

PER_REQUEST_MODELS = (StreamRecord, LogEvent, Message)


class _Untracked(list[Any]):
    """An ``instances_tracked`` that forgets what it is given."""

    def append(self, instance: Any) -> None:
        return None


def stop_tracking_per_request_models(patcher: Patcher) -> None:
    """Log events, SQS messages and moto stream records are freed when nothing uses them."""
    for model in PER_REQUEST_MODELS:
        patcher.replace(model, "instances_tracked", _Untracked())
