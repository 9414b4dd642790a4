"""DynamoDB Streams GetRecords records -> the records Lambda puts in ``event["Records"]``.

The shape follows AWS's delivered events (LocalStack's AWS-validated snapshot
``test_lambda_integration_dynamodbstreams.snapshot.json``; with-ddb.html):

- keys in AWS's order: eventID, eventName, eventVersion, eventSource, awsRegion, dynamodb,
  eventSourceARN (plus userIdentity for TTL deletes);
- ``eventVersion`` "1.1" (doc samples say "1.0", recorded events say "1.1");
- ``dynamodb.ApproximateCreationDateTime`` as a floating-point number of epoch seconds (whole
  seconds: DynamoDB rounds it down); the AWS-validated ``test_dynamodb_event_filter`` checks that
  every delivered value is a float (last validated 2025-11-25), an integer is not what AWS sends;
- binary attribute values (B, BS, nested in M/L) base64 encoded, as JSON carries them;
- ``userIdentity`` {"type": "Service", "principalId": "dynamodb.amazonaws.com"} for TTL deletes
  (time-to-live-ttl-streams.html); the Streams API spells its members PrincipalId/Type.

The region is the table's, read from the stream ARN: it is what AWS reports, and it does
not depend on the backend getting ``awsRegion`` right.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from streamlab.emulator.esm.arns import arn_region

#: Synchronous invocation payload limit (gettingstarted-limits.html): a batch is cut below it.
_ENVELOPE_BYTES = len(b'{"Records":[]}')

_DYNAMODB_KEY_ORDER = (
    "ApproximateCreationDateTime",
    "Keys",
    "NewImage",
    "OldImage",
    "SequenceNumber",
    "SizeBytes",
    "StreamViewType",
)


def epoch_seconds(value: Any) -> float:
    """ApproximateCreationDateTime as Lambda delivers it: whole epoch seconds, as a float.

    boto3 gives a datetime, raw JSON a number, some emulators an ISO text.
    """
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        seconds = value.timestamp()
    elif isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = float(value)
        except ValueError:
            seconds = dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    else:
        raise TypeError(f"unsupported ApproximateCreationDateTime {value!r}")
    return float(math.floor(seconds))


def _b64(value: Any) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return str(value)  # already base64 (raw JSON from the wire)


def json_attribute_value(value: Any) -> Any:
    """One DynamoDB AttributeValue with binaries base64 encoded, recursively."""
    if not isinstance(value, Mapping):
        return value
    converted: dict[str, Any] = {}
    for type_name, inner in value.items():
        if type_name == "B":
            converted[type_name] = _b64(inner)
        elif type_name == "BS":
            converted[type_name] = [_b64(item) for item in inner]
        elif type_name == "M":
            converted[type_name] = json_item(inner)
        elif type_name == "L":
            converted[type_name] = [json_attribute_value(item) for item in inner]
        else:
            converted[type_name] = inner
    return converted


def json_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: json_attribute_value(value) for name, value in item.items()}


def to_lambda_record(raw: Mapping[str, Any], stream_arn: str, region: str | None = None) -> dict[str, Any]:
    """Convert one GetRecords record (boto3's parsed shape or raw JSON) to Lambda's event record."""
    source = raw.get("dynamodb") or {}
    dynamodb: dict[str, Any] = {}
    for key in _DYNAMODB_KEY_ORDER:
        if key not in source:
            continue
        value = source[key]
        if key == "ApproximateCreationDateTime":
            value = epoch_seconds(value)
        elif key in ("Keys", "NewImage", "OldImage"):
            value = json_item(value)
        dynamodb[key] = value
    record: dict[str, Any] = {
        "eventID": raw.get("eventID"),
        "eventName": raw.get("eventName"),
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region or arn_region(stream_arn),
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }
    identity = raw.get("userIdentity")
    if identity:
        record["userIdentity"] = {
            "type": identity.get("Type", identity.get("type")),
            "principalId": identity.get("PrincipalId", identity.get("principalId")),
        }
    return record


def encode_json(value: Any) -> bytes:
    """Compact JSON, the bytes the function receives and the payload cap is measured on."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class StreamRecord:
    """A delivered record plus what the engine needs to order, batch and checkpoint it."""

    event: dict[str, Any]
    shard_id: str
    sequence_number: str
    arrival: float  # ApproximateCreationDateTime, epoch seconds
    partition_key: str  # canonical JSON of Keys: records of one item share it
    size: int  # bytes of the record's JSON in the invoke payload
    #: What FilterCriteria match, when it is not the event itself (an SQS body or Kinesis data
    #: that is JSON is matched as an object: invocation-eventfiltering.html).
    filter_view: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def sequence(self) -> int:
        return int(self.sequence_number)

    @property
    def filtered_event(self) -> dict[str, Any]:
        return self.event if self.filter_view is None else self.filter_view

    @classmethod
    def from_stream(cls, raw: Mapping[str, Any], stream_arn: str, shard_id: str) -> StreamRecord:
        event = to_lambda_record(raw, stream_arn)
        dynamodb = event["dynamodb"]
        return cls(
            event=event,
            shard_id=shard_id,
            sequence_number=str(dynamodb.get("SequenceNumber")),
            arrival=float(dynamodb.get("ApproximateCreationDateTime", 0)),
            partition_key=json.dumps(dynamodb.get("Keys") or {}, sort_keys=True, separators=(",", ":")),
            size=len(encode_json(event)),
        )


def payload_size(records: Iterable[StreamRecord]) -> int:
    """Bytes of ``{"Records":[...]}`` for these records, without encoding them again."""
    total = _ENVELOPE_BYTES
    count = 0
    for record in records:
        total += record.size
        count += 1
    return total + max(count - 1, 0)  # the commas


def event_payload(records: Iterable[StreamRecord]) -> dict[str, Any]:
    return {"Records": [record.event for record in records]}
