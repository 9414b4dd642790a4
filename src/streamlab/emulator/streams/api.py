"""The DynamoDB Streams API (JSON 1.0, target ``DynamoDBStreams_20120810``) over a :class:`StreamStore`.

Four operations: DescribeStream (Limit, ExclusiveStartShardId, LastEvaluatedShardId, and the
ShardFilter ``CHILD_SHARDS``), GetShardIterator, GetRecords and ListStreams (Limit,
ExclusiveStartStreamArn, LastEvaluatedStreamArn, TableName). The gateway has already checked the
request against botocore's service model (types, required members); what is checked here is
what the model cannot say. GetRecords' answer is assembled from the records' stored JSON bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from streamlab.aws_rules import DESCRIBE_STREAM_LIMIT, GET_RECORDS_LIMIT, SEQUENCE_NUMBER, SHARD_ITERATOR_TYPES
from streamlab.emulator.streams.errors import StreamsError, ValidationError
from streamlab.emulator.streams.iterators import invalid_iterator
from streamlab.emulator.streams.records import encode
from streamlab.emulator.streams.store import StreamStore

_STREAM_ARN = re.compile(r"arn:[\w-]+:dynamodb:[\w-]*:\d{12}:table/[^/]+/stream/.+")
_ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"


def _constraint(value: Any, member: str, constraint: str) -> ValidationError:
    return ValidationError(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
    )


def _limit(value: Any, member: str, maximum: int, default: int, *, strict: bool) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _constraint(value, member, "Member must have value greater than or equal to 1")
    if value > maximum:
        if strict:
            raise _constraint(value, member, f"Member must have value less than or equal to {maximum}")
        return maximum
    return value


def _stream_arn(value: Any) -> str:
    if not isinstance(value, str) or not _STREAM_ARN.fullmatch(value):
        raise ValidationError(f"Invalid StreamArn: {value}")
    return value


def validate_iterator_request(iterator_type: Any, sequence_number: Any) -> str:
    """The checks GetShardIterator makes before it looks at the stream; returns the iterator type."""
    if iterator_type not in SHARD_ITERATOR_TYPES:
        raise _constraint(
            iterator_type,
            "shardIteratorType",
            f"Member must satisfy enum value set: [{', '.join(SHARD_ITERATOR_TYPES)}]",
        )
    needs_number = iterator_type in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER")
    if needs_number and sequence_number is None:
        raise ValidationError(f"Must specify a SequenceNumber for ShardIteratorType {iterator_type}")
    if not needs_number and sequence_number is not None:
        raise ValidationError(f"Must not specify a SequenceNumber for ShardIteratorType {iterator_type}")
    if sequence_number is not None and not (
        isinstance(sequence_number, str) and SEQUENCE_NUMBER.fullmatch(sequence_number)
    ):
        raise ValidationError(f"Invalid SequenceNumber: {sequence_number}")
    return str(iterator_type)


class StreamsApi:
    """Answers one request: :meth:`handle` gives ``(status, body)``, errors included."""

    def __init__(self, store: StreamStore) -> None:
        self.store = store
        self._operations: dict[str, Callable[[dict[str, Any], str, str | None], bytes]] = {
            "DescribeStream": self.describe_stream,
            "GetShardIterator": self.get_shard_iterator,
            "GetRecords": self.get_records,
            "ListStreams": self.list_streams,
        }

    def handle(self, operation: str, body: bytes, region: str, account: str | None = None) -> tuple[int, bytes]:
        handler = self._operations.get(operation)
        try:
            if handler is None:
                raise ValidationError(f"Unsupported operation: {operation}")
            request = json.loads(body or b"{}")
            if not isinstance(request, dict):
                raise ValidationError("The request body must be a JSON object")
            return 200, handler(request, region, account)
        except StreamsError as error:
            return error.status, error_body(error)
        except ValueError as error:
            return 400, error_body(ValidationError(f"Malformed request: {error}"))

    # -- operations --------------------------------------------------------------------------
    def describe_stream(self, request: dict[str, Any], region: str, account: str | None) -> bytes:
        arn = _stream_arn(request.get("StreamArn"))
        limit = _limit(request.get("Limit"), "limit", DESCRIBE_STREAM_LIMIT, DESCRIBE_STREAM_LIMIT, strict=False)
        children_of = None
        shard_filter = request.get("ShardFilter")
        if shard_filter is not None:
            if not isinstance(shard_filter, dict) or shard_filter.get("Type") != "CHILD_SHARDS":
                raise _constraint(
                    (shard_filter or {}).get("Type") if isinstance(shard_filter, dict) else shard_filter,
                    "shardFilter.type",
                    "Member must satisfy enum value set: [CHILD_SHARDS]",
                )
            children_of = shard_filter.get("ShardId")
            if not isinstance(children_of, str):
                raise ValidationError("ShardFilter of type CHILD_SHARDS needs a ShardId")
        description = self.store.describe(arn, limit, request.get("ExclusiveStartShardId"), children_of)
        return encode({"StreamDescription": description})

    def get_shard_iterator(self, request: dict[str, Any], region: str, account: str | None) -> bytes:
        sequence_number = request.get("SequenceNumber")
        iterator_type = validate_iterator_request(request.get("ShardIteratorType"), sequence_number)
        arn = _stream_arn(request.get("StreamArn"))
        shard_id = request.get("ShardId")
        if not isinstance(shard_id, str):
            raise ValidationError(f"Invalid ShardId: {shard_id}")
        iterator = self.store.shard_iterator(arn, shard_id, iterator_type, sequence_number)
        return encode({"ShardIterator": iterator})

    def get_records(self, request: dict[str, Any], region: str, account: str | None) -> bytes:
        limit = _limit(request.get("Limit"), "limit", GET_RECORDS_LIMIT, GET_RECORDS_LIMIT, strict=True)
        iterator = request.get("ShardIterator")
        if not isinstance(iterator, str):
            raise invalid_iterator()
        page = self.store.get_records(iterator, limit)
        stream = page.stream
        table_region = stream.table.region
        records = b",".join(record.to_json(stream.arn, table_region, stream.view_type) for record in page.records)
        answer = b'{"Records":[' + records + b"]"
        if page.next_iterator is not None:
            answer += b',"NextShardIterator":' + encode(page.next_iterator)
        return answer + b"}"

    def list_streams(self, request: dict[str, Any], region: str, account: str | None) -> bytes:
        limit = _limit(request.get("Limit"), "limit", DESCRIBE_STREAM_LIMIT, DESCRIBE_STREAM_LIMIT, strict=False)
        table_name = request.get("TableName")
        streams = self.store.list_streams(region, table_name, account)
        start = request.get("ExclusiveStartStreamArn")
        if start is not None:
            arns = [entry["StreamArn"] for entry in streams]
            streams = streams[arns.index(start) + 1 :] if start in arns else streams
        page = streams[:limit]
        answer: dict[str, Any] = {"Streams": page}
        if len(streams) > len(page):
            answer["LastEvaluatedStreamArn"] = page[-1]["StreamArn"]
        return encode(answer)


def error_body(error: StreamsError) -> bytes:
    """The JSON 1.0 error body botocore reads (``__type`` names the code)."""
    return encode({"__type": _ERROR_PREFIX + error.code, "message": error.message})
