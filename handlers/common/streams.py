"""Facts about a stream record that the Lambda event does not spell out."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

_TABLE_IN_ARN = re.compile(r":table/(?P<table>[^/]+)/stream/")


def table_name(event_source_arn: str | None) -> str:
    """``arn:aws:dynamodb:us-east-1:123:table/Orders/stream/2026-...`` -> ``Orders``."""
    match = _TABLE_IN_ARN.search(event_source_arn or "")
    if match is None:
        raise ValueError(f"not a DynamoDB stream ARN: {event_source_arn!r}")
    return match.group("table")


def arn_for(resource_arn_or_name: str, service: str, invoked_function_arn: str) -> str:
    """An ARN from configuration that may give only a name (``order-notifications``).

    A stack can name its resources but only knows their ARNs after deploying; the function's own
    ARN carries the partition, region and account every resource of the stack shares.
    """
    if resource_arn_or_name.startswith("arn:"):
        return resource_arn_or_name
    _, partition, _, region, account = invoked_function_arn.split(":")[:5]
    return f"arn:{partition}:{service}:{region}:{account}:{resource_arn_or_name}"


def as_dynamodb_stream_event(event: dict[str, Any]) -> dict[str, Any]:
    """The same event with Kinesis records of DynamoDB changes as DynamoDB stream records.

    A table's Kinesis streaming destination (KinesisStreamSpecification) puts each change on a
    Kinesis stream as JSON (``eventName``, ``tableName``, ``dynamodb`` with Keys/NewImage/OldImage,
    AWS's documented format); a function that reads it through a Kinesis mapping gets those
    base64-encoded in ``kinesis.data``. The record's Kinesis sequence number goes where a stream
    record's is (``dynamodb.SequenceNumber``), so a partial batch failure names the record
    Lambda must retry. Other keys of the event (tumbling window state) are kept; records that
    are DynamoDB stream records already pass as they are.
    """
    records = event.get("Records") or []
    if not any("kinesis" in record for record in records):
        return event
    return {**event, "Records": [_from_kinesis(record) if "kinesis" in record else record for record in records]}


def _from_kinesis(record: dict[str, Any]) -> dict[str, Any]:
    kinesis = record["kinesis"]
    change = json.loads(base64.b64decode(kinesis["data"]))
    arn = str(record.get("eventSourceARN") or "")
    parts = arn.split(":")
    partition, account = (parts[1], parts[4]) if len(parts) >= 5 else ("aws", "")
    region = change.get("awsRegion") or record.get("awsRegion") or (parts[3] if len(parts) >= 4 else "")
    dynamodb = dict(change.get("dynamodb") or {})
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, int | float) and created > 10**11:  # Kinesis carries milliseconds
        dynamodb["ApproximateCreationDateTime"] = created / 1000
    dynamodb["SequenceNumber"] = kinesis["sequenceNumber"]
    return {
        "eventID": change.get("eventID") or record.get("eventID"),
        "eventName": change.get("eventName"),
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": dynamodb,
        "eventSourceARN": f"arn:{partition}:dynamodb:{region}:{account}:table/{change.get('tableName')}/stream/kinesis",
        "kinesisEventSourceARN": arn,
        "kinesisShardId": str(record.get("eventID") or "").partition(":")[0],
    }
