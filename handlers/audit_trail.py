"""Audit trail: every change of a table, as one JSON Lines object per batch in S3.

Object key: ``<table>/<YYYY>/<MM>/<DD>/<shard>/<first sequence>-<last sequence>.jsonl``, the
date being the first record's ApproximateCreationDateTime (UTC). One line per record::

    {"eventID", "eventName", "table", "keys", "sequence_number", "approximate_creation_time",
     "old_image", "new_image", "changed_attributes"}

Why per batch and not per record: one PutObject per batch keeps S3 requests (and cost) in
proportion to invocations, not writes.

Why no idempotency table here: the key is derived from the batch's own sequence range, so a
redelivered batch overwrites its own object instead of adding one. Marking records done one by
one would even be wrong: a record would count as audited before the object holding it was
written, and a failed PutObject would lose it. Records are converted one by one through the
BatchProcessor, so a record that cannot be converted is reported (ReportBatchItemFailures) and
retried without holding back the conversion of the others; the object is written only with the
records up to the first failure, because Lambda retries from that record on (the records after
it come again, in a later batch and object).

The event carries no shard id; it is looked up with DescribeStream (cached for the warm
environment, refreshed when a sequence number falls outside every known shard). Sequence
numbers are unique within a stream, so keys stay unique even when the lookup cannot tell.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from common.images import changed_attributes, deserialize, plain
from common.streams import as_dynamodb_stream_event, table_name

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)

BUCKET = os.environ.get("AUDIT_BUCKET", "")
UNKNOWN_SHARD = "unknown-shard"
REFRESH_SECONDS = 30.0

_s3: Any = None
_streams: Any = None
#: stream ARN -> (monotonic time of the DescribeStream, its shards)
_shards: dict[str, tuple[float, list[dict[str, Any]]]] = {}


def audit_line(record: DynamoDBRecord) -> dict[str, Any]:
    """One JSON Lines entry: both images as plain JSON and which attributes changed."""
    stream = record.dynamodb
    if stream is None:
        raise ValueError(f"record {record.event_id} has no dynamodb section")
    old, new = deserialize(stream.get("OldImage")), deserialize(stream.get("NewImage"))
    created = stream.approximate_creation_date_time
    return {
        "eventID": record.event_id,
        "eventName": record.event_name.name if record.event_name else None,
        "table": table_name(record.event_source_arn),
        "keys": plain(deserialize(stream.get("Keys"))),
        "sequence_number": stream.sequence_number,
        "approximate_creation_time": _iso(created) if created is not None else None,
        "old_image": plain(old) if stream.get("OldImage") is not None else None,
        "new_image": plain(new) if stream.get("NewImage") is not None else None,
        "changed_attributes": changed_attributes(old, new),
    }


def object_key(table: str, shard_id: str, first: dict[str, Any], last: dict[str, Any]) -> str:
    """``Orders/2026/11/26/shardId-.../<first seq>-<last seq>.jsonl``."""
    day = dt.datetime.fromisoformat(first["approximate_creation_time"] or _iso(0)).strftime("%Y/%m/%d")
    return f"{table}/{day}/{shard_id}/{first['sequence_number']}-{last['sequence_number']}.jsonl"


def shard_of(stream_arn: str, sequence_number: str) -> str:
    """The shard holding ``sequence_number``: DescribeStream, cached, refreshed on a miss.

    A miss refreshes at most every :data:`REFRESH_SECONDS` (DescribeStream is limited to 10
    calls a second per account); a stream that cannot be described gives ``unknown-shard``.
    """
    cached = _shards.get(stream_arn)
    if cached is not None:
        found = _shard_containing(cached[1], int(sequence_number))
        if found or time.monotonic() - cached[0] < REFRESH_SECONDS:
            return found or UNKNOWN_SHARD
    try:
        shards = _describe_shards(stream_arn)
    except ClientError as error:
        logger.warning(
            "cannot describe the stream; audit objects go under unknown-shard",
            extra={"stream_arn": stream_arn, "error": str(error)},
        )
        shards = []
    _shards[stream_arn] = (time.monotonic(), shards)
    return _shard_containing(shards, int(sequence_number)) or UNKNOWN_SHARD


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    event = as_dynamodb_stream_event(event)  # Orders through Kinesis, Products from its stream
    if not event.get("Records"):
        return {"batchItemFailures": []}
    lines: list[dict[str, Any]] = []

    def convert(record: DynamoDBRecord) -> dict[str, Any]:
        line = audit_line(record)
        lines.append(line)
        return line

    response = process_partial_response(event=event, record_handler=convert, processor=processor, context=context)
    kept = lines_before_first_failure(lines, response)
    if kept:
        _write(event["Records"][0]["eventSourceARN"], kept, event["Records"][0].get("kinesisShardId"))
    return response


def lines_before_first_failure(
    lines: list[dict[str, Any]], response: PartialItemFailureResponse
) -> list[dict[str, Any]]:
    """The converted lines Lambda will not deliver again: those before the lowest failed sequence number."""
    failed = [int(item["itemIdentifier"]) for item in response.get("batchItemFailures", [])]
    if not failed:
        return lines
    checkpoint = min(failed)
    return [line for line in lines if int(line["sequence_number"]) < checkpoint]


def _write(stream_arn: str, lines: list[dict[str, Any]], shard_id: str | None = None) -> None:
    global _s3
    if _s3 is None:
        _s3 = boto3.client("s3")
    first, last = lines[0], lines[-1]
    shard = shard_id or shard_of(stream_arn, first["sequence_number"])  # a Kinesis record names its shard
    key = object_key(first["table"], shard, first, last)
    body = "".join(json.dumps(line, separators=(",", ":"), sort_keys=True) + "\n" for line in lines)
    _s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode("utf-8"), ContentType="application/x-ndjson")
    metrics.add_metric(name="AuditedRecords", unit=MetricUnit.Count, value=len(lines))
    logger.info("audit object written", extra={"bucket": BUCKET, "key": key, "records": len(lines)})


def _describe_shards(stream_arn: str) -> list[dict[str, Any]]:
    global _streams
    if _streams is None:
        _streams = boto3.client("dynamodbstreams")
    shards: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"StreamArn": stream_arn}
    while True:
        description = _streams.describe_stream(**kwargs)["StreamDescription"]
        shards += description.get("Shards", [])
        last = description.get("LastEvaluatedShardId")
        if not last:
            return shards
        kwargs["ExclusiveStartShardId"] = last


def _shard_containing(shards: list[dict[str, Any]], sequence: int) -> str | None:
    """The shard whose range holds ``sequence``; among open shards, the latest that started before it."""
    best: tuple[int, str] | None = None
    for shard in shards:
        bounds = shard.get("SequenceNumberRange", {})
        start = int(bounds.get("StartingSequenceNumber", "0"))
        end = bounds.get("EndingSequenceNumber")
        if start <= sequence and (end is None or sequence <= int(end)):
            if end is not None:
                return str(shard["ShardId"])
            if best is None or start > best[0]:
                best = (start, str(shard["ShardId"]))
    return best[1] if best else None


def _iso(epoch: int | float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat()
