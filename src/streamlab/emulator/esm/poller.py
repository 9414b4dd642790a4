"""Reading a DynamoDB stream: shard discovery, lineage, iterators, GetRecords.

What it reproduces (with-ddb.html, Streams.html):

- shards come from DescribeStream, paginated with ExclusiveStartShardId/LastEvaluatedShardId;
- a parent shard is processed completely before its children; a closed shard (it has an
  EndingSequenceNumber) is read to its end, then it is finished;
- StartingPosition applies to the shards open when the mapping is first created (LATEST:
  only records written after creation; shards already closed then are skipped); shards that
  appear later are always read from TRIM_HORIZON, else records after a split would be lost;
- after a checkpoint, reading resumes with AFTER_SEQUENCE_NUMBER;
- ExpiredIteratorException re-issues the iterator from the last position read (which is the
  checkpoint when nothing is in flight); TrimmedDataAccessException restarts at TRIM_HORIZON
  (records older than 24 h are gone on AWS too);
- GetRecords returns at most 1,000 records a call.

The reader sits behind :class:`StreamReader` so the boto3 one can be swapped for an in-process
reader without touching the rest of the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from streamlab.aws_rules import GET_RECORDS_LIMIT
from streamlab.emulator.esm.arns import EndpointURL, arn_region, resolve_endpoint
from streamlab.errors import StreamlabError


class StreamReadError(StreamlabError):
    """A stream read failed in a way the poller knows how to recover from."""


class ExpiredIterator(StreamReadError):
    pass


class TrimmedData(StreamReadError):
    pass


class StreamNotFound(StreamReadError):
    pass


@dataclass(frozen=True)
class ShardInfo:
    shard_id: str
    parent_shard_id: str | None
    starting_sequence_number: str | None
    ending_sequence_number: str | None

    @property
    def is_closed(self) -> bool:
        return self.ending_sequence_number is not None


@dataclass(frozen=True)
class RecordsPage:
    records: list[Mapping[str, Any]]
    next_iterator: str | None  # None: the shard is closed and fully read


class StreamReader(Protocol):
    """The three Streams calls the engine needs."""

    def list_shards(self, stream_arn: str) -> list[ShardInfo]: ...

    def shard_iterator(
        self,
        stream_arn: str,
        shard_id: str,
        iterator_type: str,
        sequence_number: str | None = None,
        timestamp: float | None = None,
    ) -> str: ...

    def get_records(self, iterator: str, limit: int = GET_RECORDS_LIMIT) -> RecordsPage: ...


_ERRORS: dict[str, type[StreamReadError]] = {
    "ExpiredIteratorException": ExpiredIterator,
    "TrimmedDataAccessException": TrimmedData,
    "ResourceNotFoundException": StreamNotFound,
}


def _translate(error: ClientError) -> Exception:
    code = error.response.get("Error", {}).get("Code", "")
    kind = _ERRORS.get(code)
    return kind(str(error)) if kind else error


def shards_of(description: Mapping[str, Any]) -> list[ShardInfo]:
    """The shards of one DescribeStream ``StreamDescription`` page."""
    shards: list[ShardInfo] = []
    for shard in description.get("Shards", []):
        sequence_range = shard.get("SequenceNumberRange") or {}
        shards.append(
            ShardInfo(
                shard_id=shard["ShardId"],
                parent_shard_id=shard.get("ParentShardId"),
                starting_sequence_number=sequence_range.get("StartingSequenceNumber"),
                ending_sequence_number=sequence_range.get("EndingSequenceNumber"),
            )
        )
    return shards


class Boto3StreamReader:
    """:class:`StreamReader` over a boto3 ``dynamodbstreams`` client aimed at an endpoint."""

    def __init__(self, endpoint_url: EndpointURL, region_name: str, client: Any = None) -> None:
        self._client = client or boto3.client(
            "dynamodbstreams",
            endpoint_url=resolve_endpoint(endpoint_url),
            region_name=region_name,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30),
        )

    @classmethod
    def for_stream(cls, endpoint_url: EndpointURL, stream_arn: str) -> Boto3StreamReader:
        return cls(endpoint_url, arn_region(stream_arn))

    def list_shards(self, stream_arn: str) -> list[ShardInfo]:
        shards: list[ShardInfo] = []
        request: dict[str, Any] = {"StreamArn": stream_arn}
        while True:
            try:
                description = self._client.describe_stream(**request)["StreamDescription"]
            except ClientError as error:
                raise _translate(error) from None
            shards.extend(shards_of(description))
            last = description.get("LastEvaluatedShardId")
            if not last:
                return shards
            request["ExclusiveStartShardId"] = last

    def shard_iterator(
        self,
        stream_arn: str,
        shard_id: str,
        iterator_type: str,
        sequence_number: str | None = None,
        timestamp: float | None = None,  # AT_TIMESTAMP is Kinesis only
    ) -> str:
        request = {"StreamArn": stream_arn, "ShardId": shard_id, "ShardIteratorType": iterator_type}
        if sequence_number is not None:
            request["SequenceNumber"] = sequence_number
        try:
            return str(self._client.get_shard_iterator(**request)["ShardIterator"])
        except ClientError as error:
            raise _translate(error) from None

    def get_records(self, iterator: str, limit: int = GET_RECORDS_LIMIT) -> RecordsPage:
        try:
            answer = self._client.get_records(ShardIterator=iterator, Limit=min(limit, GET_RECORDS_LIMIT))
        except ClientError as error:
            raise _translate(error) from None
        return RecordsPage(records=answer.get("Records", []), next_iterator=answer.get("NextShardIterator"))


def ready_shards(shards: Sequence[ShardInfo], finished: Iterable[str]) -> list[ShardInfo]:
    """Shards that may be read now: not finished, and their parent (if still listed) finished.

    A parent that DescribeStream no longer lists has been trimmed (24 h retention), so its
    children are ready.
    """
    done = set(finished)
    listed = {shard.shard_id for shard in shards}
    return [
        shard
        for shard in shards
        if shard.shard_id not in done
        and (shard.parent_shard_id is None or shard.parent_shard_id not in listed or shard.parent_shard_id in done)
    ]


def dynamodb_sequence(raw: Mapping[str, Any]) -> str:
    return str(raw["dynamodb"]["SequenceNumber"])


class ShardCursor:
    """One shard's read position: an iterator plus what to re-issue it from.

    ``initial_type`` is where reading starts when nothing was read or checkpointed yet
    (TRIM_HORIZON, LATEST or AT_TIMESTAMP with ``timestamp``); ``after_sequence`` is the last
    sequence number read; ``sequence_of`` reads it from a raw record (the source's shape).
    """

    def __init__(
        self,
        reader: StreamReader,
        stream_arn: str,
        shard_id: str,
        initial_type: str = "TRIM_HORIZON",
        after_sequence: str | None = None,
        iterator: str | None = None,
        *,
        sequence_of: Callable[[Mapping[str, Any]], str] = dynamodb_sequence,
        timestamp: float | None = None,
    ) -> None:
        self._reader = reader
        self._sequence_of = sequence_of
        self.timestamp = timestamp
        self.stream_arn = stream_arn
        self.shard_id = shard_id
        self.initial_type = initial_type
        self.after_sequence = after_sequence
        self._iterator = iterator
        self.exhausted = False  # closed shard read to its end

    @property
    def iterator(self) -> str | None:
        return self._iterator

    def _issue(self) -> str:
        if self.after_sequence is not None:
            return self._reader.shard_iterator(
                self.stream_arn, self.shard_id, "AFTER_SEQUENCE_NUMBER", self.after_sequence
            )
        if self.initial_type == "AT_TIMESTAMP":
            return self._reader.shard_iterator(
                self.stream_arn, self.shard_id, self.initial_type, timestamp=self.timestamp
            )
        return self._reader.shard_iterator(self.stream_arn, self.shard_id, self.initial_type)

    def open(self) -> str:
        """Make sure an iterator exists (LATEST must be pinned when the mapping starts)."""
        if self._iterator is None:
            self._iterator = self._issue()
        return self._iterator

    def read(self, limit: int = GET_RECORDS_LIMIT) -> list[Mapping[str, Any]]:
        """The next records (possibly none). Sets :attr:`exhausted` at a closed shard's end."""
        if self.exhausted:
            return []
        for _attempt in range(3):
            iterator = self.open()
            try:
                page = self._reader.get_records(iterator, limit)
            except ExpiredIterator:
                self._iterator = None
                continue
            except TrimmedData:
                self._iterator = None
                self.after_sequence = None
                self.initial_type = "TRIM_HORIZON"
                continue
            if page.records:
                self.after_sequence = self._sequence_of(page.records[-1])
            self._iterator = page.next_iterator
            if page.next_iterator is None:
                self.exhausted = True
            return list(page.records)
        raise ExpiredIterator(f"could not obtain a usable iterator for {self.shard_id}")
