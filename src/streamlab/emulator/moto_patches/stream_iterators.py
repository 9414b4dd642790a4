"""DynamoDB Streams shard iterators and errors, as AWS answers them.

Shard iterators: stateless and signed
-------------------------------------
moto keeps every iterator it ever issued in a dict, and every GetRecords issues a new
NextShardIterator, so a poller that runs for a day leaks hundreds of megabytes. AWS's rules are:
an iterator "expires 15 minutes after it is returned to the requester" (GetShardIterator), it may
be used again and again until then (GetRecords does not consume it; AWS's own conformance
tests, and pollers that retry a failed batch, re-read from the same iterator), and using one
after that gives ``ExpiredIteratorException``. A store of live iterators therefore cannot stay
small: a poller at 4 polls a second on one shard holds 3,600 live iterators at any moment, and
100,000 polls in a few minutes would all still be live.

So streamlab stores nothing. An iterator is
``<stream ARN>|1|<token>``, the same shape as AWS's and moto's, where the token carries the
iterator's whole state: the shard id, the position (the sequence number of the next record
GetRecords returns) and the issue time, followed by an HMAC-SHA256 tag under a per-process
random key. GetRecords checks the tag (a forged or garbled iterator is a ``ValidationException``),
checks the age against :data:`ITERATOR_TTL_SECONDS` using :data:`clock`
(``ExpiredIteratorException``), then slices the shard's record list at the position: O(1) work
plus the records returned, no scan over iterators, and memory that stays flat however long a
poller runs. Because the stream is looked up by ARN on every call, an iterator also keeps
working when moto swaps a table object for its backup copy (a cancelled TransactWriteItems
does that, and leaves moto's own iterators reading an orphaned shard).

Tests move :data:`clock` (a module attribute, read on every call) to prove expiry without waiting
15 minutes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.dynamodb.models.table import StreamShard, Table
from moto.dynamodbstreams.models import DynamoDBStreamsBackend
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

from streamlab.aws_rules import GET_RECORDS_LIMIT
from streamlab.emulator.moto_patches.patching import Patcher
from streamlab.errors import StreamlabError

#: AWS: "A shard iterator expires 15 minutes after it is returned to the requester."
ITERATOR_TTL_SECONDS: float = 15 * 60

#: Seconds since the epoch; iterators are stamped and checked with it. Replace it in tests.
clock: Callable[[], float] = time.time


ITERATOR_TYPES = ("TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER")
_SEQUENCE_NUMBER_TYPES = ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER")
_SEQUENCE_NUMBER = re.compile(r"^[0-9]{21,40}$")  # the SequenceNumber shape: 21-40 characters
_STREAM_ARN = re.compile(r"^arn:[\w-]+:dynamodb:[\w-]*:\d{12}:table/[^/]+/stream/.+$")
_ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"


class StreamsError(JsonRESTError, StreamlabError):
    """An HTTP 400 DynamoDB Streams error; boto3 shows ``code`` as ClientError's Error.Code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(_ERROR_PREFIX + code, message)


def validation_error(message: str) -> StreamsError:
    return StreamsError("ValidationException", message)


def invalid_iterator() -> StreamsError:
    return validation_error("Invalid ShardIterator")


def stream_not_found(arn: str) -> StreamsError:
    return StreamsError("ResourceNotFoundException", f"Requested resource not found: Stream: {arn} not found")


def shard_not_found(shard_id: str) -> StreamsError:
    return StreamsError("ResourceNotFoundException", f"Requested resource not found: Shard: {shard_id} does not exist")


def iterator_expired() -> StreamsError:
    # The message is the one the DynamoDB Streams service model documents for this error.
    return StreamsError("ExpiredIteratorException", "The provided iterator exceeds the maximum age allowed.")


def data_trimmed() -> StreamsError:
    return StreamsError("TrimmedDataAccessException", "The data you are trying to access has been trimmed.")


def _constraint_error(value: Any, member: str, constraint: str) -> StreamsError:
    """AWS's wording for a request member that fails its shape's constraint."""
    return validation_error(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
    )


# --------------------------------------------------------------------------------------------
# Shard iterators
# --------------------------------------------------------------------------------------------


_SECRET = secrets.token_bytes(32)
_TAG_BYTES = 16


@dataclass(frozen=True)
class IteratorState:
    """Everything a shard iterator stands for; it travels inside the iterator string."""

    stream_arn: str
    shard_id: str
    position: int  # sequence number of the next record GetRecords returns
    issued_at_ms: int

    def is_expired(self, now: float) -> bool:
        return now * 1000 >= self.issued_at_ms + ITERATOR_TTL_SECONDS * 1000


def _tag(stream_arn: str, body: bytes) -> bytes:
    return hmac.new(_SECRET, stream_arn.encode() + b"|" + body, hashlib.sha256).digest()[:_TAG_BYTES]


def encode_iterator(state: IteratorState) -> str:
    """``<stream ARN>|1|<token>``: the token is the state plus its HMAC tag, base64url."""
    body = f"{state.shard_id}|{state.position}|{state.issued_at_ms}".encode()
    token = base64.urlsafe_b64encode(body + _tag(state.stream_arn, body)).decode().rstrip("=")
    return f"{state.stream_arn}|1|{token}"


def decode_iterator(iterator: str) -> IteratorState:
    """The state inside an iterator this process issued; ValidationException for anything else."""
    parts = iterator.split("|") if isinstance(iterator, str) else []
    if len(parts) != 3 or parts[1] != "1":
        raise invalid_iterator()
    stream_arn, _, token = parts
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise invalid_iterator() from None
    body, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
    if len(raw) <= _TAG_BYTES or not hmac.compare_digest(tag, _tag(stream_arn, body)):
        raise invalid_iterator()
    shard_id, position, issued_at_ms = body.decode().split("|")
    return IteratorState(stream_arn, shard_id, int(position), int(issued_at_ms))


def _now_ms() -> int:
    return int(clock() * 1000)


def _stream_table(backend: DynamoDBStreamsBackend, arn: Any) -> Table:
    """The table whose current stream has this ARN (ValidationException / ResourceNotFoundException)."""
    if not isinstance(arn, str) or not _STREAM_ARN.match(arn):
        raise validation_error(f"Invalid StreamArn: {arn}")
    table_name = arn.split(":", 5)[5].split("/")[1]
    table = backend.dynamodb.tables.get(table_name)
    if table is None or table.stream_shard is None or arn != f"{table.table_arn}/stream/{table.latest_stream_label}":
        raise stream_not_found(arn)
    return table


def _shard(table: Table, shard_id: Any) -> StreamShard:
    shard = table.stream_shard
    if shard is None or shard.id != shard_id:
        raise shard_not_found(str(shard_id))
    return shard


def _end_position(shard: StreamShard) -> int:
    """The sequence number the shard's next record will get."""
    return shard.starting_sequence_number + len(shard.items)


def _start_position(shard: StreamShard, iterator_type: str, sequence_number: str | None) -> int:
    if iterator_type == "TRIM_HORIZON":
        return shard.starting_sequence_number
    if iterator_type == "LATEST":
        return _end_position(shard)
    position = int(sequence_number) + (1 if iterator_type == "AFTER_SEQUENCE_NUMBER" else 0)  # type: ignore[arg-type]
    if position < shard.starting_sequence_number:
        raise data_trimmed()
    if position > _end_position(shard):
        raise validation_error(f"Invalid SequenceNumber {sequence_number}: beyond the end of shard {shard.id}")
    return position


def _validate_iterator_request(iterator_type: Any, sequence_number: Any) -> None:
    """The request checks AWS makes before it looks at the stream."""
    if iterator_type not in ITERATOR_TYPES:
        raise _constraint_error(
            iterator_type, "shardIteratorType", f"Member must satisfy enum value set: [{', '.join(ITERATOR_TYPES)}]"
        )
    if iterator_type in _SEQUENCE_NUMBER_TYPES and sequence_number is None:
        raise validation_error(f"Must specify a SequenceNumber for ShardIteratorType {iterator_type}")
    if iterator_type not in _SEQUENCE_NUMBER_TYPES and sequence_number is not None:
        raise validation_error(f"Must not specify a SequenceNumber for ShardIteratorType {iterator_type}")
    well_formed = isinstance(sequence_number, str) and _SEQUENCE_NUMBER.match(sequence_number)
    if sequence_number is not None and not well_formed:
        raise validation_error(f"Invalid SequenceNumber: {sequence_number}")


def get_shard_iterator(
    self: DynamoDBStreamsBackend,
    arn: str,
    shard_id: str,
    shard_iterator_type: str,
    sequence_number: str | None = None,
) -> str:
    """GetShardIterator: validate, then hand out a signed iterator stamped with the issue time."""
    _validate_iterator_request(shard_iterator_type, sequence_number)
    shard = _shard(_stream_table(self, arn), shard_id)
    position = _start_position(shard, shard_iterator_type, sequence_number)
    return encode_iterator(IteratorState(arn, shard.id, position, _now_ms()))


def get_records(self: DynamoDBStreamsBackend, iterator_arn: str, limit: int) -> dict[str, Any]:
    """GetRecords: at most ``limit`` records from the iterator's position, and a fresh iterator."""
    if not isinstance(limit, int) or limit < 1:
        raise _constraint_error(limit, "limit", "Member must have value greater than or equal to 1")
    if limit > GET_RECORDS_LIMIT:
        raise _constraint_error(limit, "limit", f"Member must have value less than or equal to {GET_RECORDS_LIMIT}")
    state = decode_iterator(iterator_arn)
    if state.is_expired(clock()):
        raise iterator_expired()
    shard = _shard(_stream_table(self, state.stream_arn), state.shard_id)
    start = state.position - shard.starting_sequence_number
    if start < 0:
        raise data_trimmed()
    records = [record.to_json() for record in shard.items[start : start + limit]]
    following = IteratorState(state.stream_arn, shard.id, state.position + len(records), _now_ms())
    return {"Records": records, "NextShardIterator": encode_iterator(following)}


def describe_stream(self: DynamoDBStreamsBackend, arn: str) -> dict[str, Any]:
    """DescribeStream with AWS's errors, and a disabled stream described as DISABLED."""
    table = _stream_table(self, arn)
    spec = table.stream_specification or {}
    return {
        "StreamArn": arn,
        "StreamLabel": table.latest_stream_label,
        "StreamStatus": "ENABLED" if spec.get("StreamEnabled") else "DISABLED",
        "StreamViewType": spec.get("StreamViewType") or getattr(table, "streamlab_view_type", None),
        "CreationRequestDateTime": table.stream_shard.created_on,  # type: ignore[union-attr]
        "TableName": table.name,
        "KeySchema": table.schema,
        "Shards": [table.stream_shard.to_json()],  # type: ignore[union-attr]
    }


def _handle_get_shard_iterator(self: DynamoDBStreamsHandler) -> ActionResult:
    """moto's handler int()s SequenceNumber (HTTP 500 on bad input); pass the string through."""
    iterator = self.backend.get_shard_iterator(
        self._get_param("StreamArn"),
        self._get_param("ShardId"),
        self._get_param("ShardIteratorType"),
        self._get_param("SequenceNumber"),
    )
    return ActionResult({"ShardIterator": iterator})


def serve_stateless_expiring_iterators(patcher: Patcher) -> None:
    """Shard iterators that expire 15 minutes after issue and cost no memory.

    moto stores every iterator it issues, forever (one per GetRecords, since each returns a new
    NextShardIterator), and never expires them. AWS iterators expire 15 minutes after they are
    returned; a GetRecords with an older one fails with ExpiredIteratorException. See the module
    docstring for why the state lives in the (signed) iterator string instead of a store.
    """
    patcher.replace(DynamoDBStreamsBackend, "get_shard_iterator", get_shard_iterator)
    patcher.replace(DynamoDBStreamsBackend, "get_records", get_records)
    patcher.replace(DynamoDBStreamsHandler, "get_shard_iterator", _handle_get_shard_iterator)


def answer_streams_errors_like_aws(patcher: Patcher) -> None:
    """Bad input and unknown resources get AWS's HTTP 400 errors, not HTTP 500.

    moto answers a garbage or unknown shard iterator, an unknown ShardId, an unknown iterator type,
    AT/AFTER_SEQUENCE_NUMBER without a SequenceNumber and a malformed StreamArn with an internal
    error (KeyError, AssertionError, ValueError -> HTTP 500). AWS answers ValidationException for
    malformed input, ResourceNotFoundException for an unknown stream or shard,
    ExpiredIteratorException for an expired iterator and TrimmedDataAccessException for a position
    before the oldest record. GetShardIterator/GetRecords raise these (see above); this adds
    DescribeStream, which also failed with HTTP 500 for a stream whose table disabled it.
    """
    patcher.replace(DynamoDBStreamsBackend, "describe_stream", describe_stream)
