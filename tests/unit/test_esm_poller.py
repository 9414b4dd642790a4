"""Shard discovery, lineage and iterators against a fake StreamReader (no network)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from streamlab.emulator.esm.poller import (
    Boto3StreamReader,
    ExpiredIterator,
    RecordsPage,
    ShardCursor,
    ShardInfo,
    StreamNotFound,
    TrimmedData,
    ready_shards,
)

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x"


def shard(shard_id, parent=None, closed=False):
    return ShardInfo(shard_id, parent, "1", "9" if closed else None)


def test_parents_before_children():
    shards = [shard("p", closed=True), shard("c1", parent="p"), shard("c2", parent="p"), shard("solo")]
    assert [s.shard_id for s in ready_shards(shards, [])] == ["p", "solo"]
    assert [s.shard_id for s in ready_shards(shards, ["p"])] == ["c1", "c2", "solo"]


def test_trimmed_parent_does_not_block_children():
    assert [s.shard_id for s in ready_shards([shard("c", parent="gone")], [])] == ["c"]


class FakeReader:
    """Records 1..n in one shard; iterators are 'pos:<index>'; scripted errors."""

    def __init__(self, count=5, closed=False):
        self.records = [{"dynamodb": {"SequenceNumber": str(i)}} for i in range(1, count + 1)]
        self.closed = closed
        self.errors: list[Exception] = []
        self.issued: list[tuple[str, str | None]] = []

    def list_shards(self, stream_arn):
        return [shard("s", closed=self.closed)]

    def shard_iterator(self, stream_arn, shard_id, iterator_type, sequence_number=None):
        self.issued.append((iterator_type, sequence_number))
        if iterator_type == "TRIM_HORIZON":
            return "pos:0"
        if iterator_type == "LATEST":
            return f"pos:{len(self.records)}"
        return f"pos:{int(sequence_number)}"  # AFTER_SEQUENCE_NUMBER n -> index n

    def get_records(self, iterator, limit=1000):
        if self.errors:
            raise self.errors.pop(0)
        position = int(iterator.split(":")[1])
        page = self.records[position : position + limit]
        end = position + len(page)
        if self.closed and end >= len(self.records):
            return RecordsPage(page, None)
        return RecordsPage(page, f"pos:{end}")


def sequence_numbers(records):
    return [r["dynamodb"]["SequenceNumber"] for r in records]


def test_reads_in_pages_and_tracks_position():
    reader = FakeReader(5)
    cursor = ShardCursor(reader, ARN, "s")
    assert sequence_numbers(cursor.read(2)) == ["1", "2"]
    assert sequence_numbers(cursor.read(10)) == ["3", "4", "5"]
    assert cursor.read() == []
    assert not cursor.exhausted
    assert cursor.after_sequence == "5"


def test_closed_shard_is_exhausted_at_its_end():
    cursor = ShardCursor(FakeReader(3, closed=True), ARN, "s")
    assert len(cursor.read()) == 3
    assert cursor.exhausted
    assert cursor.read() == []


def test_resume_after_checkpoint():
    reader = FakeReader(5)
    cursor = ShardCursor(reader, ARN, "s", after_sequence="3")
    assert sequence_numbers(cursor.read()) == ["4", "5"]
    assert reader.issued == [("AFTER_SEQUENCE_NUMBER", "3")]


def test_latest_skips_existing_records():
    reader = FakeReader(5)
    cursor = ShardCursor(reader, ARN, "s", initial_type="LATEST")
    cursor.open()
    reader.records.append({"dynamodb": {"SequenceNumber": "6"}})
    assert sequence_numbers(cursor.read()) == ["6"]


def test_expired_iterator_is_reissued_from_last_position():
    reader = FakeReader(5)
    cursor = ShardCursor(reader, ARN, "s")
    cursor.read(2)
    reader.errors.append(ExpiredIterator("old"))
    assert sequence_numbers(cursor.read()) == ["3", "4", "5"]
    assert reader.issued[-1] == ("AFTER_SEQUENCE_NUMBER", "2")


def test_trimmed_data_restarts_at_trim_horizon():
    reader = FakeReader(3)
    cursor = ShardCursor(reader, ARN, "s", after_sequence="1")
    reader.errors.append(TrimmedData("gone"))
    assert sequence_numbers(cursor.read()) == ["1", "2", "3"]
    assert reader.issued[-1] == ("TRIM_HORIZON", None)


def test_persistent_expiry_gives_up():
    reader = FakeReader(3)
    reader.errors.extend(ExpiredIterator("x") for _ in range(5))
    with pytest.raises(ExpiredIterator):
        ShardCursor(reader, ARN, "s").read()


class PagedClient:
    """A stub botocore client for DescribeStream pagination and error translation."""

    def __init__(self):
        self.requests = []

    def describe_stream(self, **request):
        self.requests.append(request)
        if "ExclusiveStartShardId" not in request:
            return {
                "StreamDescription": {
                    "Shards": [
                        {
                            "ShardId": "a",
                            "SequenceNumberRange": {"StartingSequenceNumber": "1", "EndingSequenceNumber": "5"},
                        }
                    ],
                    "LastEvaluatedShardId": "a",
                }
            }
        return {
            "StreamDescription": {
                "Shards": [
                    {"ShardId": "b", "ParentShardId": "a", "SequenceNumberRange": {"StartingSequenceNumber": "6"}}
                ]
            }
        }

    def get_records(self, **request):
        raise ClientError({"Error": {"Code": "ExpiredIteratorException", "Message": "too old"}}, "GetRecords")

    def get_shard_iterator(self, **request):
        raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no"}}, "GetShardIterator")


def test_describe_stream_pagination_and_error_translation():
    client = PagedClient()
    reader = Boto3StreamReader(None, "us-east-1", client=client)
    shards = reader.list_shards(ARN)
    assert [(s.shard_id, s.parent_shard_id, s.is_closed) for s in shards] == [("a", None, True), ("b", "a", False)]
    assert client.requests[1]["ExclusiveStartShardId"] == "a"
    with pytest.raises(ExpiredIterator):
        reader.get_records("it")
    with pytest.raises(StreamNotFound):
        reader.shard_iterator(ARN, "a", "TRIM_HORIZON")


def test_reader_endpoint_may_be_a_callable():
    reader = Boto3StreamReader.for_stream(
        lambda: "http://127.0.0.1:4566", "arn:aws:dynamodb:eu-west-1:123456789012:table/t/stream/x"
    )
    assert reader._client.meta.endpoint_url == "http://127.0.0.1:4566"
    assert reader._client.meta.region_name == "eu-west-1"
