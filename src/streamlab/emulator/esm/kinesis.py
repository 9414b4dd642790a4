"""Reading a Kinesis stream: a :class:`~.poller.StreamReader` over the Kinesis API.

The shard pipeline reads Kinesis exactly as it reads DynamoDB Streams (with-kinesis.html:
shards, iterators, lineage after a reshard, GetRecords of at most 1,000 records here, 10,000
on AWS); this module maps the three calls and their errors:

- ListShards (paginated with NextToken) gives ParentShardId and SequenceNumberRange, an
  EndingSequenceNumber marking a closed shard;
- GetShardIterator takes StartingSequenceNumber for AFTER_SEQUENCE_NUMBER and Timestamp for
  AT_TIMESTAMP (StartingPositionTimestamp);
- ExpiredIteratorException and ResourceNotFoundException become the poller's errors; a
  ProvisionedThroughputExceededException is retried on the next poll.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from streamlab.aws_rules import GET_RECORDS_LIMIT
from streamlab.emulator.esm.arns import EndpointURL, arn_region, resolve_endpoint
from streamlab.emulator.esm.poller import ExpiredIterator, RecordsPage, ShardInfo, StreamNotFound, StreamReadError

_ERRORS: dict[str, type[StreamReadError]] = {
    "ExpiredIteratorException": ExpiredIterator,
    "ResourceNotFoundException": StreamNotFound,
}


def _translate(error: ClientError) -> Exception:
    kind = _ERRORS.get(error.response.get("Error", {}).get("Code", ""))
    return kind(str(error)) if kind else error


def stream_name(stream_arn: str) -> str:
    """``arn:aws:kinesis:eu-west-1:123456789012:stream/orders`` -> ``orders``."""
    return stream_arn.rpartition(":")[2].partition("/")[2]


class Boto3KinesisReader:
    """:class:`~.poller.StreamReader` over a boto3 ``kinesis`` client aimed at an endpoint."""

    def __init__(self, endpoint_url: EndpointURL, region_name: str, client: Any = None) -> None:
        self._client = client or boto3.client(
            "kinesis",
            endpoint_url=resolve_endpoint(endpoint_url),
            region_name=region_name,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30),
        )

    @classmethod
    def for_stream(cls, endpoint_url: EndpointURL, stream_arn: str) -> Boto3KinesisReader:
        return cls(endpoint_url, arn_region(stream_arn))

    def list_shards(self, stream_arn: str) -> list[ShardInfo]:
        shards: list[ShardInfo] = []
        request: dict[str, Any] = {"StreamName": stream_name(stream_arn)}
        while True:
            try:
                answer = self._client.list_shards(**request)
            except ClientError as error:
                raise _translate(error) from None
            for shard in answer.get("Shards", []):
                sequence_range = shard.get("SequenceNumberRange") or {}
                shards.append(
                    ShardInfo(
                        shard_id=shard["ShardId"],
                        parent_shard_id=shard.get("ParentShardId"),
                        starting_sequence_number=sequence_range.get("StartingSequenceNumber"),
                        ending_sequence_number=sequence_range.get("EndingSequenceNumber"),
                    )
                )
            token = answer.get("NextToken")
            if not token:
                return shards
            request = {"NextToken": token}

    def shard_iterator(
        self,
        stream_arn: str,
        shard_id: str,
        iterator_type: str,
        sequence_number: str | None = None,
        timestamp: float | None = None,
    ) -> str:
        request: dict[str, Any] = {
            "StreamName": stream_name(stream_arn),
            "ShardId": shard_id,
            "ShardIteratorType": iterator_type,
        }
        if sequence_number is not None:
            request["StartingSequenceNumber"] = sequence_number
        if timestamp is not None:
            request["Timestamp"] = dt.datetime.fromtimestamp(timestamp, dt.UTC)
        try:
            return str(self._client.get_shard_iterator(**request)["ShardIterator"])
        except ClientError as error:
            raise _translate(error) from None

    def get_records(self, iterator: str, limit: int = GET_RECORDS_LIMIT) -> RecordsPage:
        try:
            answer = self._client.get_records(ShardIterator=iterator, Limit=min(limit, GET_RECORDS_LIMIT))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ProvisionedThroughputExceededException":
                return RecordsPage(records=[], next_iterator=iterator)
            raise _translate(error) from None
        return RecordsPage(records=answer.get("Records", []), next_iterator=answer.get("NextShardIterator"))
