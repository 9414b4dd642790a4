"""Probe stacks for the other triggers: an SQS queue or a Kinesis stream -> mapping -> the probe function.

The same probe handler (``handlers/probe.py``) as the DynamoDB stream measurement logs one line
per record, so loss, duplicates, order and latency come from the same analysis
(:mod:`streamlab.measure.delivery`). Messages and records carry ``{"pk", "v", "w"}`` as JSON
(key, version, written_at). Everything goes through boto3, so LocalStack and AWS measure the
same way; the writer is one paced thread in this process (SQS and Kinesis writes are cheap
next to the endpoint's work at the rates measured here).
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streamlab.aws_rules import MappingState
from streamlab.errors import StreamlabError, WaitTimeout
from streamlab.measure.probe_stack import LOCAL_ROLE, client, probe_zip
from streamlab.measure.writers import PacedWrite

#: The triggers a measurement can go through; "dynamodb" is the table's stream (probe_stack).
TRIGGERS = ("dynamodb", "sqs", "kinesis")


class UnknownTrigger(StreamlabError, ValueError):
    """A trigger other than dynamodb, sqs or kinesis."""


def parse_triggers(text: str) -> list[str]:
    triggers = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [t for t in triggers if t not in TRIGGERS]
    if unknown or not triggers:
        raise UnknownTrigger(f"unknown trigger(s) {unknown or text!r}; choose from {', '.join(TRIGGERS)}")
    return triggers


@dataclass(frozen=True)
class SourceProbe:
    trigger: str  # sqs | kinesis
    endpoint_url: str | None
    region: str
    source: str  # queue URL or stream name
    source_arn: str
    function: str
    mapping: str

    def write(self, key: str, version: int) -> None:
        body = json.dumps({"pk": key, "v": version, "w": time.time()})
        if self.trigger == "sqs":
            _client(self, "sqs").send_message(QueueUrl=self.source, MessageBody=body)
        else:
            _client(self, "kinesis").put_record(StreamName=self.source, Data=body.encode(), PartitionKey=key)


_CLIENTS: dict[tuple[str, str | None, str], Any] = {}


def _client(probe: SourceProbe, service: str) -> Any:
    key = (service, probe.endpoint_url, probe.region)
    if key not in _CLIENTS:
        _CLIENTS[key] = client(service, probe.endpoint_url, probe.region)
    return _CLIENTS[key]


def deploy_source_probe(
    trigger: str, endpoint_url: str | None, region: str, *, role_arn: str | None = None, settle_seconds: float = 60.0
) -> SourceProbe:
    """Queue or stream, probe function and mapping; returns once the mapping is Enabled."""
    suffix = uuid.uuid4().hex[:8]
    function = f"probe-{trigger}-fn-{suffix}"
    lam = client("lambda", endpoint_url, region)
    if trigger == "sqs":
        sqs = client("sqs", endpoint_url, region)
        source = sqs.create_queue(QueueName=f"probe-{suffix}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        parameters: dict[str, Any] = {"BatchSize": 10}
    elif trigger == "kinesis":
        kinesis = client("kinesis", endpoint_url, region)
        source = f"probe-{suffix}"
        kinesis.create_stream(StreamName=source, ShardCount=1)
        kinesis.get_waiter("stream_exists").wait(StreamName=source, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
        arn = kinesis.describe_stream_summary(StreamName=source)["StreamDescriptionSummary"]["StreamARN"]
        parameters = {"BatchSize": 100, "StartingPosition": "LATEST"}
    else:
        raise UnknownTrigger(trigger)
    probe = SourceProbe(trigger, endpoint_url, region, source, arn, function, "")
    try:
        lam.create_function(
            FunctionName=function,
            Runtime="python3.12",
            Role=role_arn or LOCAL_ROLE,
            Handler="probe.handler",
            Code={"ZipFile": probe_zip()},
            Timeout=30,
        )
        lam.get_waiter("function_active_v2").wait(FunctionName=function, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=function, **parameters)["UUID"]
        probe = SourceProbe(trigger, endpoint_url, region, source, arn, function, mapping)
        deadline = time.monotonic() + settle_seconds
        while lam.get_event_source_mapping(UUID=mapping)["State"] != MappingState.ENABLED:
            if time.monotonic() > deadline:
                raise WaitTimeout(f"the {trigger} event source mapping did not become Enabled")
            time.sleep(0.1 if endpoint_url else 1.0)
    except BaseException:
        teardown_source_probe(probe)
        raise
    return probe


def teardown_source_probe(probe: SourceProbe) -> None:
    lam = client("lambda", probe.endpoint_url, probe.region)
    calls: list[Callable[[], object]] = [
        lambda: lam.delete_function(FunctionName=probe.function),
        lambda: client("logs", probe.endpoint_url, probe.region).delete_log_group(
            logGroupName=f"/aws/lambda/{probe.function}"
        ),
    ]
    if probe.mapping:
        calls.insert(0, lambda: lam.delete_event_source_mapping(UUID=probe.mapping))
    if probe.trigger == "sqs":
        calls.append(lambda: client("sqs", probe.endpoint_url, probe.region).delete_queue(QueueUrl=probe.source))
    else:
        calls.append(lambda: client("kinesis", probe.endpoint_url, probe.region).delete_stream(StreamName=probe.source))
    for call in calls:
        with contextlib.suppress(Exception):
            call()


def write_paced(probe: SourceProbe, keys: list[str], versions: int, rate: float) -> list[PacedWrite]:
    """Every key's versions in order, the i-th write at ``start + i / rate``; (key, version, sent, ack)."""
    writes: list[PacedWrite] = []
    start = time.time() + 0.1
    schedule = [(key, version) for version in range(1, versions + 1) for key in keys]
    for index, (key, version) in enumerate(schedule):
        delay = start + index / rate - time.time()
        if delay > 0:
            time.sleep(delay)
        written_at = time.time()
        probe.write(key, version)
        writes.append((key, version, written_at, time.time()))
    return writes
