"""What differs between the stream sources the shard pipeline reads: DynamoDB Streams and Kinesis.

Everything after reading (batching, retries, bisect, record age, partial batch response,
on-failure destinations, windows, parallelization) is the same for both (with-kinesis.html
says so of its parameters); a :class:`StreamSource` names what is not:

- how a raw GetRecords record becomes the record Lambda delivers (:func:`dynamodb_record`,
  :func:`kinesis_record`) and which member is its sequence number;
- the on-failure record's batch-info key (``DDBStreamBatchInfo`` / ``KinesisBatchInfo``) and
  its time format.

Kinesis event shape: LocalStack's AWS-validated test_lambda_integration_kinesis.snapshot.json
(test_kinesis_event_source_mapping_with_async_invocation, recorded 2024-12-11):
``{"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey", "sequenceNumber", "data" (base64),
"approximateArrivalTimestamp" (epoch seconds, a float)}, "eventSource": "aws:kinesis",
"eventVersion": "1.0", "eventID": "<shardId>:<sequenceNumber>", "eventName": "aws:kinesis:record",
"invokeIdentityArn" (the function's role), "awsRegion", "eventSourceARN"}``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from streamlab.aws_rules import EventSourceKind
from streamlab.emulator.esm.arns import arn_region
from streamlab.emulator.esm.records import StreamRecord, encode_json

#: ``to_record(raw, shard_id)``: one GetRecords record -> the delivered record.
ToRecord = Callable[[Mapping[str, Any], str], StreamRecord]


@dataclass(frozen=True)
class StreamSource:
    kind: EventSourceKind
    to_record: ToRecord
    sequence_of: Callable[[Mapping[str, Any]], str]
    batch_info_key: str
    #: on-failure record times: DynamoDB's are whole seconds, Kinesis's carry milliseconds
    arrival_millis: bool = False


def _epoch(value: Any) -> float:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
    return float(value)


def _decoded_json(data: bytes) -> Any:
    """The data as JSON when it is (what a filter's ``data`` pattern matches), else None."""
    try:
        return json.loads(data)
    except ValueError:
        return None


def kinesis_record(
    raw: Mapping[str, Any], *, stream_arn: str, shard_id: str, invoke_identity_arn: str | None
) -> StreamRecord:
    data = raw.get("Data", b"")
    if isinstance(data, str):  # raw JSON from the wire: already base64
        data = base64.b64decode(data)
    sequence = str(raw["SequenceNumber"])
    arrival = _epoch(raw.get("ApproximateArrivalTimestamp", 0))
    kinesis = {
        "kinesisSchemaVersion": "1.0",
        "partitionKey": raw.get("PartitionKey", ""),
        "sequenceNumber": sequence,
        "data": base64.b64encode(bytes(data)).decode("ascii"),
        "approximateArrivalTimestamp": round(arrival, 3),
    }
    event: dict[str, Any] = {
        "kinesis": kinesis,
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{sequence}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": invoke_identity_arn,
        "awsRegion": arn_region(stream_arn),
        "eventSourceARN": stream_arn,
    }
    # Filters name the record's members at top level ({"partitionKey": [...]}, {"data": {...}});
    # data that is JSON is matched as an object, other data only by the metadata.
    view: dict[str, Any] = {**event, **{k: v for k, v in kinesis.items() if k != "data"}}
    parsed = _decoded_json(bytes(data))
    if parsed is not None:
        view["data"] = parsed
    return StreamRecord(
        event=event,
        shard_id=shard_id,
        sequence_number=sequence,
        arrival=arrival,
        partition_key=str(raw.get("PartitionKey", "")),
        size=len(encode_json(event)),
        filter_view=view,
    )


def dynamodb_source(stream_arn: str) -> StreamSource:
    return StreamSource(
        kind=EventSourceKind.DYNAMODB,
        to_record=lambda raw, shard_id: StreamRecord.from_stream(raw, stream_arn, shard_id),
        sequence_of=lambda raw: str(raw["dynamodb"]["SequenceNumber"]),
        batch_info_key="DDBStreamBatchInfo",
    )


def kinesis_source(stream_arn: str, invoke_identity_arn: str | None = None) -> StreamSource:
    return StreamSource(
        kind=EventSourceKind.KINESIS,
        to_record=lambda raw, shard_id: kinesis_record(
            raw, stream_arn=stream_arn, shard_id=shard_id, invoke_identity_arn=invoke_identity_arn
        ),
        sequence_of=lambda raw: str(raw["SequenceNumber"]),
        batch_info_key="KinesisBatchInfo",
        arrival_millis=True,
    )
