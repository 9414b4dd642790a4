"""Helpers of the observability tests: a streamed table with a mapping, queues, the endpoint's JSON."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streamlab.testing import eventually
from tests.integration.stream_support import Stream, make_stream

POISON_AWARE = """
import json

def handler(event, context):
    for record in event["Records"]:
        print("record", record["dynamodb"]["Keys"]["pk"]["S"])
        if record["dynamodb"]["Keys"]["pk"]["S"].startswith("poison"):
            raise ValueError("poison order " + record["dynamodb"]["Keys"]["pk"]["S"])
    return {"ok": len(event["Records"])}
"""


@dataclass
class Queue:
    url: str
    arn: str


def make_queue(sqs: Any, name: str) -> Queue:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return Queue(str(url), str(arn))


def receive_all(sqs: Any, queue: Queue, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []

    def enough() -> bool:
        got.extend(
            sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        )
        return len(got) >= count

    eventually(enough, timeout=timeout, interval=0.1, message=f"{count} message(s) on {queue.arn}")
    return got


def get_json(url: str, method: str = "GET") -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def stream_with_mapping(client: Callable[..., Any], table: str, function: str, **mapping: Any) -> tuple[Stream, str]:
    """A streamed table and an enabled mapping of ``function`` on it (TRIM_HORIZON); (stream, UUID)."""
    stream = make_stream(client, table)
    lam = client("lambda")
    uuid = lam.create_event_source_mapping(
        FunctionName=function, EventSourceArn=stream.arn, StartingPosition="TRIM_HORIZON", **mapping
    )["UUID"]
    eventually(
        lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled", timeout=30, message="mapping Enabled"
    )
    return stream, str(uuid)
