"""handlers/audit_trail.py on captured records: JSON Lines objects in S3, partial failure, redelivery."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from tests.unit.handler_support import FakeContext, event, sequence_numbers


def load_audit(load_handler, shards: list[dict[str, Any]], bucket: str) -> Any:
    """The captured stream went with the endpoint that made it: DescribeStream answers ``shards``."""
    audit = load_handler("audit_trail", AUDIT_BUCKET=bucket)
    audit._describe_shards = lambda stream_arn: shards
    return audit


def one_shard(evt: dict[str, Any], shard_id: str = "shardId-00000001700000000000-0a1b2c3d") -> list[dict[str, Any]]:
    first = sequence_numbers(evt)[0]
    return [
        {
            "ShardId": "shardId-closed-parent",
            "SequenceNumberRange": {"StartingSequenceNumber": "1", "EndingSequenceNumber": str(int(first) - 1)},
        },
        {"ShardId": shard_id, "SequenceNumberRange": {"StartingSequenceNumber": first}},
    ]


@pytest.fixture
def bucket(streamlab_client: Callable[..., Any], streamlab_unique_name: Callable[[str], str]) -> str:
    name = streamlab_unique_name("audit")
    streamlab_client("s3").create_bucket(Bucket=name)
    return name


def objects(streamlab_client: Callable[..., Any], bucket: str) -> dict[str, list[dict[str, Any]]]:
    s3 = streamlab_client("s3")
    found: dict[str, list[dict[str, Any]]] = {}
    for entry in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        body = s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read().decode()
        found[entry["Key"]] = [json.loads(line) for line in body.splitlines()]
    return found


def test_a_batch_becomes_one_jsonl_object_keyed_by_table_date_shard_and_range(
    load_handler, bucket, streamlab_client
) -> None:
    changes = event("products_changes")
    audit = load_audit(load_handler, one_shard(changes), bucket)
    seqs = sequence_numbers(changes)
    assert audit.handler(changes, FakeContext()) == {"batchItemFailures": []}

    ((key, lines),) = objects(streamlab_client, bucket).items()
    table, year, month, day, shard, name = key.split("/")
    assert table == "Products"
    assert len(year) == 4
    assert len(month) == 2
    assert len(day) == 2
    assert name == f"{seqs[0]}-{seqs[-1]}.jsonl"
    assert shard == "shardId-00000001700000000000-0a1b2c3d"  # from DescribeStream: the event has no shard id

    assert [line["eventName"] for line in lines] == ["INSERT", "MODIFY", "INSERT", "REMOVE"]
    insert, modify, _, remove = lines
    assert insert["old_image"] is None
    assert insert["changed_attributes"] == sorted(insert["new_image"])
    # DynamoDB types as exact JSON: Decimal -> int / float, binary -> base64, set -> sorted list
    image = insert["new_image"]
    assert image["stock"] == 40
    assert image["price"] == 12.5
    assert image["tags"] == ["kitchen", "red"]
    assert base64.b64decode(image["thumbnail"]) == b"\x89PNG\r\n\x1a\n\x00\x01"
    assert image["dimensions"] == {"height_cm": 9.5, "weights": [0.35, 0.1]}
    assert modify["changed_attributes"] == ["price", "stock"]
    assert (modify["old_image"]["price"], modify["new_image"]["price"]) == (12.5, 13)
    assert remove["new_image"] is None
    assert remove["old_image"]["sku"] == "sku-old-bowl"
    assert remove["keys"] == {"sku": "sku-old-bowl"}


def test_a_bad_record_is_reported_and_only_the_records_before_it_are_written(
    load_handler, bucket, streamlab_client
) -> None:
    audit = load_audit(load_handler, [], bucket)
    changes = event("products_changes")
    seqs = sequence_numbers(changes)
    del changes["Records"][2]["dynamodb"]["Keys"]  # unreadable: its table cannot be told apart
    changes["Records"][2]["eventSourceARN"] = "not-an-arn"

    response = audit.handler(changes, FakeContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": seqs[2]}]}
    ((key, lines),) = objects(streamlab_client, bucket).items()
    assert key.endswith(f"/unknown-shard/{seqs[0]}-{seqs[1]}.jsonl")  # Lambda retries from seqs[2]: those come again
    assert [line["sequence_number"] for line in lines] == seqs[:2]


def test_redelivered_batch_overwrites_its_own_object(load_handler, bucket, streamlab_client) -> None:
    shards = one_shard(event("products_changes"))
    audit = load_audit(load_handler, shards, bucket)
    audit.handler(event("products_changes"), FakeContext())
    first = objects(streamlab_client, bucket)
    audit = load_audit(load_handler, shards, bucket)  # a cold environment, too
    audit.handler(event("products_changes"), FakeContext())
    again = objects(streamlab_client, bucket)
    assert again.keys() == first.keys()
    assert len(again) == 1
    assert [line["eventID"] for line in next(iter(again.values()))] == [
        line["eventID"] for line in next(iter(first.values()))
    ]


def test_a_batch_that_fails_entirely_is_a_function_error_and_writes_nothing(
    load_handler, bucket, streamlab_client
) -> None:
    audit = load_audit(load_handler, [], bucket)
    changes = event("orders_created")
    for record in changes["Records"]:
        record["eventSourceARN"] = "not-an-arn"
    with pytest.raises(BatchProcessingError):
        audit.handler(changes, FakeContext())
    assert objects(streamlab_client, bucket) == {}


def test_a_stream_that_cannot_be_described_gives_unknown_shard(load_handler, bucket, streamlab_client) -> None:
    audit = load_handler("audit_trail", AUDIT_BUCKET=bucket)  # the real DescribeStream: stream not found
    changes = event("products_changes")
    assert audit.handler(changes, FakeContext()) == {"batchItemFailures": []}
    (key,) = objects(streamlab_client, bucket)
    assert key.split("/")[4] == "unknown-shard"
