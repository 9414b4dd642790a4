"""moto objects made per request are not kept for ever.

moto's ``BaseModel.__new__`` appends every instance of every model to its class's
``instances_tracked`` list, for moto's own reset and data-listing API. For models made per request
that list is the only thing keeping them alive once they are replaced: every PutItem's ``Item``
(and the parsed request it holds), every stream record, every CloudWatch Logs event, every SQS
message. Measured with tracemalloc: 1.1 KB of RSS per overwrite of the same 200 keys in a table
without a stream, all of it in those lists (benchmarks/soak.py, issue 12). These classes are no
longer tracked; resources (tables, queues, log groups) still are. Neither moto's reset, which
replaces the backends, nor anything streamlab does reads the lists of these classes.
"""

from __future__ import annotations

from typing import Any

from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import StreamRecord
from moto.logs.models import LogEvent
from moto.sqs.models import Message

from streamlab.emulator.moto_patches.patching import Patcher

PER_REQUEST_MODELS = (Item, StreamRecord, LogEvent, Message)


class _Untracked(list[Any]):
    """An ``instances_tracked`` that forgets what it is given."""

    def append(self, instance: Any) -> None:
        return None


def stop_tracking_per_request_models(patcher: Patcher) -> None:
    """Items, stream records, log events and SQS messages are freed when nothing uses them."""
    for model in PER_REQUEST_MODELS:
        patcher.replace(model, "instances_tracked", _Untracked())
