"""The in-process stream reader sees what GetRecords over HTTP sees, and fails the same way.

The embedded endpoint's engine reads streams with :class:`MotoStreamReader` (moto's backend
in-process); :class:`Boto3StreamReader` (boto3 over HTTP) is the reference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from moto.core.exceptions import JsonRESTError

from streamlab.emulator.esm.moto_reader import MotoStreamReader
from streamlab.emulator.esm.poller import Boto3StreamReader, StreamNotFound, StreamReadError
from streamlab.emulator.esm.records import StreamRecord
from streamlab.streams import create_stream_table


@pytest.fixture(autouse=True)
def in_process_only(streamlab_in_process: bool) -> None:
    if not streamlab_in_process:
        pytest.skip("reads this process's moto: needs the in-process embedded endpoint")


def make_table(streamlab_client: Callable[..., Any], name: str) -> str:
    return create_stream_table(streamlab_client("dynamodb"), name)


def test_same_shards_records_and_lambda_records(
    streamlab_client: Callable[..., Any], streamlab_endpoint_url: str, streamlab_unique_name: Callable[[str], str]
) -> None:
    table = streamlab_unique_name("reader")
    arn = make_table(streamlab_client, table)
    dynamodb = streamlab_client("dynamodb")
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "a"}, "n": {"N": "1"}, "b": {"B": b"\x00\x01"}})
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "a"}, "n": {"N": "2"}, "b": {"B": b"\x00\x01"}})
    moto_reader = MotoStreamReader(arn)
    boto_reader = Boto3StreamReader.for_stream(streamlab_endpoint_url, arn)

    shards = moto_reader.list_shards(arn)
    assert shards == boto_reader.list_shards(arn)
    shard = shards[0].shard_id
    pages = [
        reader.get_records(reader.shard_iterator(arn, shard, "TRIM_HORIZON")) for reader in (moto_reader, boto_reader)
    ]
    events = [[StreamRecord.from_stream(raw, arn, shard).event for raw in page.records] for page in pages]
    assert len(events[0]) == 2
    assert events[0] == events[1]
    assert all(page.next_iterator for page in pages)

    after = moto_reader.shard_iterator(arn, shard, "AFTER_SEQUENCE_NUMBER", events[0][0]["dynamodb"]["SequenceNumber"])
    assert [r["dynamodb"]["SequenceNumber"] for r in moto_reader.get_records(after).records] == [
        events[0][1]["dynamodb"]["SequenceNumber"]
    ]
    latest = moto_reader.get_records(moto_reader.shard_iterator(arn, shard, "LATEST"))
    assert latest.records == []


def test_errors_are_the_pollers(
    streamlab_client: Callable[..., Any], streamlab_unique_name: Callable[[str], str]
) -> None:
    table = streamlab_unique_name("reader")
    arn = make_table(streamlab_client, table)
    reader = MotoStreamReader(arn)
    with pytest.raises(JsonRESTError) as excinfo:  # not one the poller recovers from: passed on as it came
        reader.get_records("not-an-iterator")
    assert not isinstance(excinfo.value, StreamReadError)
    assert str(getattr(excinfo.value, "error_type", "")).endswith("ValidationException")
    streamlab_client("dynamodb").delete_table(TableName=table)
    with pytest.raises(StreamNotFound):
        reader.list_shards(arn)
