"""SQS message move tasks (StartMessageMoveTask, ListMessageMoveTasks, CancelMessageMoveTask), which moto lacks.

AWS's DLQ redrive (sqs-configure-dead-letter-queue-redrive): a task moves the messages of a
dead-letter queue back to the queue they came from, or to ``DestinationArn``, at up to
``MaxNumberOfMessagesPerSecond`` (1-500); ListMessageMoveTasks reports the most recent tasks
of the source queue (RUNNING, COMPLETED, CANCELLING, CANCELLED, FAILED) with the approximate
numbers moved and to move. A moved message is the same message (id, body, attributes), fresh
in its new queue: received 0 times, visible at once.

Where the embedded endpoint differs: a message moved from a dead-letter queue with several
source queues goes back only with a DestinationArn (moto does not record which queue a message
came from; AWS does), otherwise the task FAILS and moves nothing; messages that are in flight
(invisible) when the task starts stay where they are.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from moto.core.responses import ActionResult
from moto.sqs.exceptions import InvalidParameterValue, SQSException
from moto.sqs.models import Message, Queue, SQSBackend, sqs_backends
from moto.sqs.responses import SQSResponse

from streamlab.aws_rules import MESSAGE_MOVE_MAX_RATE, is_region_name
from streamlab.emulator.moto_patches.patching import Patcher

#: ListMessageMoveTasks reports at most this many tasks (its MaxResults, 1-10, default 1).
MAX_LISTED_TASKS = 10
_task_numbers = itertools.count(1)
_ACCOUNT = re.compile(r"^\d{12}$")


class ResourceNotFound(SQSException):
    code = "ResourceNotFoundException"

    def __init__(self, message: str) -> None:
        super().__init__("ResourceNotFoundException", message)


class UnsupportedOperation(SQSException):
    def __init__(self, message: str) -> None:
        super().__init__("UnsupportedOperation", message)


@dataclass
class MoveTask:
    handle: str
    source_arn: str
    destination_arn: str | None
    rate: int | None
    started: float = field(default_factory=time.time)
    status: str = "RUNNING"
    moved: int = 0
    to_move: int = 0
    failure: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    def describe(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "Status": self.status,
            "SourceArn": self.source_arn,
            "ApproximateNumberOfMessagesMoved": self.moved,
            "ApproximateNumberOfMessagesToMove": self.to_move,
            "StartedTimestamp": int(self.started * 1000),
        }
        if self.status == "RUNNING":
            answer["TaskHandle"] = self.handle
        if self.destination_arn:
            answer["DestinationArn"] = self.destination_arn
        if self.rate is not None:
            answer["MaxNumberOfMessagesPerSecond"] = self.rate
        if self.failure:
            answer["FailureReason"] = self.failure
        return answer


_lock = threading.Lock()
_tasks: dict[str, list[MoveTask]] = {}  # source ARN -> tasks, newest last


def _queue_of(arn: Any, member: str) -> Queue:
    parts = arn.split(":") if isinstance(arn, str) else []
    # Region and account index moto's backends, which create one for any key: check them first.
    if (
        len(parts) != 6
        or parts[0] != "arn"
        or parts[2] != "sqs"
        or not is_region_name(parts[3])
        or not _ACCOUNT.match(parts[4])
    ):
        raise InvalidParameterValue(f"Value {arn} for parameter {member} is invalid. Reason: Invalid ARN.")
    _, _, _, region, account, name = parts
    backend: SQSBackend = sqs_backends[account][region]
    queue = backend.queues.get(name)
    if queue is None:
        raise ResourceNotFound(f"The resource that you specified for the {member} parameter doesn't exist.")
    return queue


def _sources(dead_letter: Queue) -> list[Queue]:
    backend: SQSBackend = sqs_backends[dead_letter.account_id][dead_letter.region]
    return [q for q in backend.queues.values() if q.dead_letter_queue is dead_letter]


def start(source_arn: Any, destination_arn: Any, rate: Any) -> str:
    source = _queue_of(source_arn, "SourceArn")
    destination = _queue_of(destination_arn, "DestinationArn") if destination_arn else None
    if rate is not None and not (isinstance(rate, int) and 1 <= rate <= MESSAGE_MOVE_MAX_RATE):
        raise InvalidParameterValue(
            f"Value {rate} for parameter MaxNumberOfMessagesPerSecond is invalid. "
            f"Reason: must be between 1 and {MESSAGE_MOVE_MAX_RATE}."
        )
    sources = _sources(source)
    if not sources:
        raise InvalidParameterValue("Source queue must be configured as a Dead Letter Queue.")
    with _lock:
        if any(t.status == "RUNNING" for t in _tasks.get(source.queue_arn, [])):
            raise UnsupportedOperation("There is already a task running. Only one active task is allowed per source.")
        task = MoveTask(f"{uuid.uuid4()}-{next(_task_numbers)}", source.queue_arn, destination_arn or None, rate)
        _tasks.setdefault(source.queue_arn, []).append(task)
    target = destination or (sources[0] if len(sources) == 1 else None)
    if target is None:
        task.status = "FAILED"
        task.failure = "The dead-letter queue has several source queues; name the DestinationArn."
        return task.handle
    threading.Thread(target=_move, args=(task, source, target), name="sqs-message-move", daemon=True).start()
    return task.handle


def _move(task: MoveTask, source: Queue, destination: Queue) -> None:
    with source._messages_lock:
        waiting = [m for m in source._messages if m.visible]
    task.to_move = len(waiting)
    interval = 1.0 / task.rate if task.rate else 0.0
    for message in waiting:
        if task.cancel.is_set():
            task.status = "CANCELLED"
            return
        with source._messages_lock:
            if message not in source._messages or not message.visible:
                continue  # received or deleted meanwhile: it is not ours to move
            source._messages.remove(message)
        _refresh(message)
        destination.add_message(message)
        task.moved += 1
        if interval:
            time.sleep(interval)
    task.status = "COMPLETED"


def _refresh(message: Message) -> None:
    """The message as a new arrival of its queue."""
    message.approximate_receive_count = 0
    message.approximate_first_receive_timestamp = None
    message.visible_at = 0.0
    message.delayed_until = 0.0
    message.receipt_handle = None


def listed(source_arn: Any, max_results: Any) -> list[dict[str, Any]]:
    source = _queue_of(source_arn, "SourceArn")
    count = max_results if isinstance(max_results, int) else 1
    if not 1 <= count <= MAX_LISTED_TASKS:
        raise InvalidParameterValue(
            f"Value {max_results} for parameter MaxResults is invalid. Reason: must be between 1 and 10."
        )
    with _lock:
        tasks = list(_tasks.get(source.queue_arn, []))
    return [task.describe() for task in reversed(tasks)][:count]


def cancel(handle: Any) -> int:
    with _lock:
        task = next((t for ts in _tasks.values() for t in ts if t.handle == handle), None)
    if task is None or task.status != "RUNNING":
        raise ResourceNotFound("The resource that you specified for the TaskHandle parameter doesn't exist.")
    task.cancel.set()
    task.status = "CANCELLING"
    return task.moved


def add_message_move_tasks(patcher: Patcher) -> None:
    """StartMessageMoveTask, ListMessageMoveTasks and CancelMessageMoveTask answer as on AWS.

    moto 5.2.5 has none of the three (its SQS answers them as unknown actions), so a DLQ cannot be
    redriven through the API that AWS's console and ``streamlab redrive`` use.
    """

    def start_message_move_task(self: SQSResponse) -> ActionResult:
        handle = start(
            self._get_param("SourceArn"),
            self._get_param("DestinationArn"),
            self._get_param("MaxNumberOfMessagesPerSecond"),
        )
        return ActionResult({"TaskHandle": handle})

    def list_message_move_tasks(self: SQSResponse) -> ActionResult:
        return ActionResult({"Results": listed(self._get_param("SourceArn"), self._get_param("MaxResults"))})

    def cancel_message_move_task(self: SQSResponse) -> ActionResult:
        return ActionResult({"ApproximateNumberOfMessagesMoved": cancel(self._get_param("TaskHandle"))})

    patcher.replace(SQSResponse, "start_message_move_task", start_message_move_task)
    patcher.replace(SQSResponse, "list_message_move_tasks", list_message_move_tasks)
    patcher.replace(SQSResponse, "cancel_message_move_task", cancel_message_move_task)
