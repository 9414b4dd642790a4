"""A :class:`~streamlab.emulator.esm.poller.StreamReader` over the embedded endpoint's stream store.

The embedded endpoint's engine polls streams that live in its own process. Through boto3 and
HTTP every GetRecords costs ~3 ms of CPU, empty or not (boto3 signing and parsing, the HTTP
server, the JSON body), against microseconds for the store call itself; with a poll on every
write plus 4 idle polls a second per shard, that was the largest share of the endpoint's CPU
under a steady write load. So the engine calls the store directly: the same operations the
DynamoDB Streams API answers over HTTP, with the same errors, under the store's own lock (not
the DynamoDB lock: reading a stream never waits for a table write).

Everything outside the embedded endpoint keeps using
:class:`~streamlab.emulator.esm.poller.Boto3StreamReader`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from streamlab.aws_rules import GET_RECORDS_LIMIT
from streamlab.emulator.esm.poller import (
    ExpiredIterator,
    RecordsPage,
    ShardInfo,
    StreamNotFound,
    StreamReadError,
    TrimmedData,
    shards_of,
)
from streamlab.emulator.streams import ExpiredIterator as StoreExpiredIterator
from streamlab.emulator.streams import ResourceNotFound, StreamStore, TrimmedDataAccess

_ERRORS: tuple[tuple[type[Exception], type[StreamReadError]], ...] = (
    (StoreExpiredIterator, ExpiredIterator),
    (TrimmedDataAccess, TrimmedData),
    (ResourceNotFound, StreamNotFound),
)

_T = TypeVar("_T")


def _call(operation: Callable[[], _T]) -> _T:
    """Run a store call; the errors the poller recovers from become the poller's, others pass."""
    try:
        return operation()
    except Exception as error:
        for store_error, poller_error in _ERRORS:
            if isinstance(error, store_error):
                raise poller_error(str(error)) from None
        raise


class StoreStreamReader:
    """Reads streams straight from a :class:`~streamlab.emulator.streams.StreamStore`."""

    def __init__(self, store: StreamStore) -> None:
        self._store = store

    def list_shards(self, stream_arn: str) -> list[ShardInfo]:
        shards: list[ShardInfo] = []
        start: str | None = None
        while True:
            description = _call(functools.partial(self._store.describe, stream_arn, exclusive_start=start))
            shards.extend(shards_of(description))
            start = description.get("LastEvaluatedShardId")
            if not start:
                return shards

    def shard_iterator(
        self,
        stream_arn: str,
        shard_id: str,
        iterator_type: str,
        sequence_number: str | None = None,
        timestamp: float | None = None,  # AT_TIMESTAMP is Kinesis only
    ) -> str:
        return _call(lambda: self._store.shard_iterator(stream_arn, shard_id, iterator_type, sequence_number))

    def get_records(self, iterator: str, limit: int = GET_RECORDS_LIMIT) -> RecordsPage:
        page = _call(lambda: self._store.get_records(iterator, min(limit, GET_RECORDS_LIMIT)))
        stream = page.stream
        region = stream.table.region
        records: list[Mapping[str, Any]] = [
            record.to_dict(stream.arn, region, stream.view_type) for record in page.records
        ]
        return RecordsPage(records=records, next_iterator=page.next_iterator)
