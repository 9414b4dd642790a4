"""SQS queues: attributes, redrive to a dead-letter queue, and the policy that lets topics send.

Queues are applied dead-letter queues first (the stack loader rejects redrive cycles), so a
redrive policy always names the ARN of a queue that exists. Attributes a queue does not
declare are left as the service has them; a redrive policy is owned by the stack, so one
that is no longer declared is removed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from streamlab.deploy.report import Change
from streamlab.deploy.target import Target, error_code
from streamlab.stack import Queue, Stack

_MISSING_QUEUE = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}
_ATTRIBUTES = {
    "visibility_timeout": "VisibilityTimeout",
    "message_retention_period": "MessageRetentionPeriod",
    "delay_seconds": "DelaySeconds",
    "receive_message_wait_time_seconds": "ReceiveMessageWaitTimeSeconds",
    "maximum_message_size": "MaximumMessageSize",
}
_SNAKE = {v: k for k, v in _ATTRIBUTES.items()} | {"RedrivePolicy": "redrive", "Policy": "policy"}


def queue_order(stack: Stack) -> list[Queue]:
    """Queues with each dead-letter queue before the queues that redrive to it."""
    ordered: list[Queue] = []
    placed: set[str] = set()

    def place(name: str) -> None:
        if name in placed:
            return
        placed.add(name)
        dlq = stack.queues[name].dead_letter_queue
        if dlq is not None and dlq in stack.queues:
            place(dlq)
        ordered.append(stack.queues[name])

    for name in stack.queues:
        place(name)
    return ordered


def sns_send_policy(queue_arn: str, topic_arns: list[str]) -> dict[str, Any]:
    """The queue policy SNS needs (on AWS) to deliver the given topics' messages to the queue."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "streamlab-sns-send",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": sorted(topic_arns)}},
            }
        ],
    }


def desired_attributes(queue: Queue, queue_arns: Mapping[str, str], policy: dict[str, Any] | None) -> dict[str, str]:
    attributes = {
        aws: str(getattr(queue, attr)) for attr, aws in _ATTRIBUTES.items() if getattr(queue, attr) is not None
    }
    if queue.dead_letter_queue is not None:
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": queue_arns[queue.dead_letter_queue], "maxReceiveCount": queue.max_receive_count}
        )
    if policy is not None:
        attributes["Policy"] = json.dumps(policy, sort_keys=True)
    return attributes


def apply_queue(
    target: Target, queue: Queue, queue_arns: Mapping[str, str], policy: dict[str, Any] | None = None
) -> tuple[Change, str, str]:
    """Create or update ``queue``; returns the change, its URL and its ARN.

    ``queue_arns`` must already hold the dead-letter queue's ARN; ``policy`` is the queue policy
    to own (None leaves any policy alone).
    """
    sqs = target.client("sqs")
    desired = desired_attributes(queue, queue_arns, policy)
    try:
        url = sqs.get_queue_url(QueueName=queue.physical_name)["QueueUrl"]
    except ClientError as exc:
        if error_code(exc) not in _MISSING_QUEUE:
            raise
        url = sqs.create_queue(QueueName=queue.physical_name, Attributes=desired)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return Change("queue", queue.name, "created", physical_name=queue.physical_name), url, arn

    current = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    diff = {k: v for k, v in desired.items() if not _same(k, current.get(k), v)}
    if queue.dead_letter_queue is None and current.get("RedrivePolicy"):
        diff["RedrivePolicy"] = ""
    if diff:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=diff)
    details = tuple(_SNAKE.get(k, k) for k in diff)
    change = Change("queue", queue.name, "updated" if diff else "unchanged", details, queue.physical_name)
    return change, url, current["QueueArn"]


def _same(name: str, actual: str | None, wanted: str) -> bool:
    if actual is None:
        return False
    if name == "RedrivePolicy":
        try:
            have, want = json.loads(actual), json.loads(wanted)
        except ValueError:
            return False
        return have.get("deadLetterTargetArn") == want["deadLetterTargetArn"] and int(
            have.get("maxReceiveCount", 0)
        ) == int(want["maxReceiveCount"])
    if name == "Policy":
        try:
            return bool(_normal_policy(json.loads(actual)) == _normal_policy(json.loads(wanted)))
        except ValueError:
            return False
    return actual == wanted


def _normal_policy(policy: Any) -> Any:
    """Policies come back re-serialised (single-item lists may become strings); compare their meaning."""
    if isinstance(policy, dict):
        return {k: _normal_policy(v) for k, v in policy.items()}
    if isinstance(policy, list):
        items = [_normal_policy(v) for v in policy]
        if len(items) == 1:
            return items[0]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return policy
