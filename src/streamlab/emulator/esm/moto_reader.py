"""A :class:`~streamlab.emulator.esm.poller.StreamReader` that calls moto's backend in-process.

The embedded endpoint's engine polls streams that live in its own process. Through boto3 and
HTTP every GetRecords costs ~3 ms of CPU, empty or not (measured here: boto3 signing and
parsing, waitress, Flask, moto's response serializer), against ~0.02 ms for the backend call
itself. With a poll on every write plus 4 idle polls a second per shard, that was the largest
share of the endpoint's CPU under a steady write load and, through the GIL, of every
request's latency. The Lambda service writes its logs into moto the same way, for the same
reason (:mod:`streamlab.emulator.awslambda.logs`).

It calls the very backend methods the HTTP path ends in (with streamlab's compatibility
fixes applied: signed expiring iterators, AWS errors), under the gateway's DynamoDB lock, so
it sees exactly what GetRecords over HTTP would. Everything outside the embedded endpoint
keeps using :class:`~streamlab.emulator.esm.poller.Boto3StreamReader`.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from streamlab.aws_rules import GET_RECORDS_LIMIT
from streamlab.emulator.esm.arns import arn_account, arn_region
from streamlab.emulator.esm.poller import (
    ExpiredIterator,
    RecordsPage,
    ShardInfo,
    StreamNotFound,
    StreamReadError,
    TrimmedData,
    shards_of,
)

_ERRORS: dict[str, type[StreamReadError]] = {
    "ExpiredIteratorException": ExpiredIterator,
    "TrimmedDataAccessException": TrimmedData,
    "ResourceNotFoundException": StreamNotFound,
}


def _translate(error: Exception) -> Exception:
    """moto's AWS-shaped errors -> the poller's; anything else unchanged."""
    code = str(getattr(error, "error_type", "") or "").rsplit("#", 1)[-1]
    kind = _ERRORS.get(code)
    return kind(str(getattr(error, "message", error))) if kind else error


class MotoStreamReader:
    """Reads one stream straight from this process's moto DynamoDB Streams backend."""

    def __init__(self, stream_arn: str, lock: threading.Lock | None = None) -> None:
        from moto.dynamodbstreams.models import dynamodbstreams_backends

        self._backend = dynamodbstreams_backends[arn_account(stream_arn)][arn_region(stream_arn)]
        self._lock: AbstractContextManager[Any] = lock if lock is not None else nullcontext()

    def _call(self, method: str, *args: Any) -> Any:
        try:
            with self._lock:
                return getattr(self._backend, method)(*args)
        except Exception as error:
            raise _translate(error) from None

    def list_shards(self, stream_arn: str) -> list[ShardInfo]:
        return shards_of(self._call("describe_stream", stream_arn))

    def shard_iterator(
        self, stream_arn: str, shard_id: str, iterator_type: str, sequence_number: str | None = None
    ) -> str:
        iterator = self._call("get_shard_iterator", stream_arn, shard_id, iterator_type, sequence_number)
        return iterator if isinstance(iterator, str) else iterator.arn  # plain moto returns its ShardIterator

    def get_records(self, iterator: str, limit: int = GET_RECORDS_LIMIT) -> RecordsPage:
        answer = self._call("get_records", iterator, min(limit, GET_RECORDS_LIMIT))
        return RecordsPage(records=list(answer.get("Records", [])), next_iterator=answer.get("NextShardIterator"))
