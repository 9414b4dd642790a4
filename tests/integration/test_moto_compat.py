"""streamlab's fixes to moto's DynamoDB Streams, checked through plain boto3 clients.

Each test names the AWS behaviour it checks. Run them against plain moto to see the defects:
``STREAMLAB_MOTO_COMPAT=0 pytest tests/integration/test_moto_compat.py``.
Tests marked ``embedded`` move the endpoint's iterator clock or look at moto's backend, so they
need the in-process embedded endpoint and are skipped against any other endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from streamlab.emulator.moto_patches import stream_iterators
from streamlab.streams import create_stream_table, first_shard_id

Record = dict[str, Any]
FIFTEEN_MINUTES = 15 * 60


@dataclass
class Stream:
    """A table with a stream, and the clients to write to it and read its one shard."""

    dynamodb: Any
    streams: Any
    table: str
    arn: str
    shard_id: str

    def iterator(self, kind: str = "TRIM_HORIZON", **kwargs: Any) -> str:
        response = self.streams.get_shard_iterator(
            StreamArn=self.arn, ShardId=self.shard_id, ShardIteratorType=kind, **kwargs
        )
        return response["ShardIterator"]

    def read_all(self, iterator: str | None = None) -> list[Record]:
        """Every record from the iterator (default TRIM_HORIZON) up to the end of the shard."""
        iterator = iterator or self.iterator()
        records: list[Record] = []
        while True:
            response = self.streams.get_records(ShardIterator=iterator)
            records.extend(response["Records"])
            iterator = response["NextShardIterator"]
            if not response["Records"]:
                return records

    def put(self, pk: str, **attrs: Any) -> None:
        self.dynamodb.put_item(TableName=self.table, Item={"pk": {"S": pk}, **attrs})

    def set_v(self, pk: str, number: str) -> None:
        """UpdateItem ``SET v = number`` on the item with key ``pk``."""
        self.dynamodb.update_item(
            TableName=self.table,
            Key={"pk": {"S": pk}},
            UpdateExpression="SET v = :v",
            ExpressionAttributeValues={":v": {"N": number}},
        )


def make_stream(
    streamlab_client: Callable[..., Any], name: str, region: str | None = None, view: str = "NEW_AND_OLD_IMAGES"
) -> Stream:
    dynamodb = streamlab_client("dynamodb", region=region)
    streams = streamlab_client("dynamodbstreams", region=region)
    arn = create_stream_table(dynamodb, name, view)
    shard_id = first_shard_id(streams, arn)
    return Stream(dynamodb, streams, name, arn, shard_id)


@pytest.fixture
def stream(streamlab_client: Callable[..., Any], streamlab_unique_name: Callable[[str], str]) -> Stream:
    return make_stream(streamlab_client, streamlab_unique_name("compat"))


@pytest.fixture
def embedded(streamlab_in_process: bool) -> None:
    """Skip unless the endpoint under test is the embedded one, in this process."""
    if not streamlab_in_process:
        pytest.skip("moves this process's iterator clock: needs the in-process embedded endpoint")


@pytest.fixture
def frozen_clock(embedded: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """The endpoint's iterator clock, frozen at a start time; assign ``[0]`` to move it."""
    now = [1_800_000_000.0]
    monkeypatch.setattr(stream_iterators, "clock", lambda: now[0])
    return now


def error_code(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return caught.value.response["Error"]["Code"]


# --- 1. UpdateItem that creates an item ----------------------------------------------------


def test_update_item_creating_an_item_writes_one_insert_with_the_whole_item(stream: Stream) -> None:
    """AWS: an UpdateItem that creates an item writes one INSERT whose NewImage is the new item."""
    stream.dynamodb.update_item(
        TableName=stream.table,
        Key={"pk": {"S": "a"}},
        UpdateExpression="SET v = :v, w = :w",
        ExpressionAttributeValues={":v": {"N": "1"}, ":w": {"S": "x"}},
    )

    records = stream.read_all()

    assert [r["eventName"] for r in records] == ["INSERT"]
    assert records[0]["dynamodb"]["NewImage"] == {"pk": {"S": "a"}, "v": {"N": "1"}, "w": {"S": "x"}}
    assert "OldImage" not in records[0]["dynamodb"]


def test_update_item_of_an_existing_item_writes_one_modify(stream: Stream) -> None:
    """AWS: an UpdateItem that changes an existing item writes one MODIFY with both images."""
    stream.put("a", v={"N": "1"})
    stream.set_v("a", "2")

    records = stream.read_all()

    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]
    assert records[1]["dynamodb"]["OldImage"] == {"pk": {"S": "a"}, "v": {"N": "1"}}
    assert records[1]["dynamodb"]["NewImage"] == {"pk": {"S": "a"}, "v": {"N": "2"}}


# --- 2. Writes that change nothing ------------------------------------------------------------


def test_identical_put_item_writes_no_record(stream: Stream) -> None:
    """AWS: a PutItem that leaves the item exactly as it was writes no stream record."""
    stream.put("a", v={"N": "1"}, tags={"SS": ["x", "y"]})
    stream.put("a", v={"N": "1"}, tags={"SS": ["y", "x"]})

    assert [r["eventName"] for r in stream.read_all()] == ["INSERT"]


def test_update_item_that_changes_nothing_writes_no_record(stream: Stream) -> None:
    """AWS: an UpdateItem that sets the values the item already has writes no stream record."""
    stream.put("a", v={"N": "1"})
    stream.set_v("a", "1")

    assert [r["eventName"] for r in stream.read_all()] == ["INSERT"]


def test_delete_item_of_a_missing_item_writes_no_record(stream: Stream) -> None:
    """AWS: deleting an item that does not exist changes nothing, so writes no stream record."""
    stream.dynamodb.delete_item(TableName=stream.table, Key={"pk": {"S": "never-written"}})
    stream.put("a")
    stream.dynamodb.delete_item(TableName=stream.table, Key={"pk": {"S": "a"}})
    stream.dynamodb.delete_item(TableName=stream.table, Key={"pk": {"S": "a"}})

    assert [r["eventName"] for r in stream.read_all()] == ["INSERT", "REMOVE"]


def test_transact_write_update_creating_an_item_writes_one_insert(stream: Stream) -> None:
    """AWS: one record per item change, whichever API made it; a TransactWriteItems Update that
    creates an item is one INSERT with the whole new item."""
    stream.dynamodb.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": stream.table,
                    "Key": {"pk": {"S": "a"}},
                    "UpdateExpression": "SET v = :v",
                    "ExpressionAttributeValues": {":v": {"N": "1"}},
                }
            }
        ]
    )

    records = stream.read_all()
    assert [r["eventName"] for r in records] == ["INSERT"]
    assert records[0]["dynamodb"]["NewImage"] == {"pk": {"S": "a"}, "v": {"N": "1"}}


def test_batch_write_of_an_identical_item_writes_no_record(stream: Stream) -> None:
    """AWS: a BatchWriteItem PutRequest that leaves the item as it was writes no stream record."""
    stream.put("a", v={"N": "1"})
    stream.dynamodb.batch_write_item(
        RequestItems={stream.table: [{"PutRequest": {"Item": {"pk": {"S": "a"}, "v": {"N": "1"}}}}]}
    )

    assert [r["eventName"] for r in stream.read_all()] == ["INSERT"]


def test_changing_put_item_still_writes_a_modify(stream: Stream) -> None:
    """AWS: a PutItem that replaces an item with a different one writes a MODIFY."""
    stream.put("a", v={"N": "1"})
    stream.put("a", v={"N": "2"})

    assert [r["eventName"] for r in stream.read_all()] == ["INSERT", "MODIFY"]


# --- 3. awsRegion -------------------------------------------------------------------------------


def test_records_carry_the_region_of_the_table(
    streamlab_client: Callable[..., Any], streamlab_unique_name: Callable[[str], str]
) -> None:
    """AWS: Record.awsRegion is the region of the stream (the table's region), here eu-west-1."""
    stream = make_stream(streamlab_client, streamlab_unique_name("compat-eu"), region="eu-west-1")
    stream.put("a")

    assert [r["awsRegion"] for r in stream.read_all()] == ["eu-west-1"]


# --- 4. Errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "iterator",
    [
        "garbage",
        "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024-01-01T00:00:00.000|1|AAAAAAAAAAAAAAAAAAAA",
    ],
    ids=["garbage", "never-issued"],
)
def test_get_records_with_an_invalid_iterator_is_a_validation_error(stream: Stream, iterator: str) -> None:
    """AWS: GetRecords with a malformed or unknown ShardIterator is a 400 ValidationException."""
    assert error_code(lambda: stream.streams.get_records(ShardIterator=iterator)) == "ValidationException"


def test_get_records_with_a_tampered_iterator_is_a_validation_error(stream: Stream) -> None:
    """AWS: an iterator the service did not issue (here one altered by the client) is rejected."""
    iterator = stream.iterator()
    tampered = iterator[:-2] + ("AA" if not iterator.endswith("AA") else "BB")

    assert error_code(lambda: stream.streams.get_records(ShardIterator=tampered)) == "ValidationException"


def test_get_records_for_a_deleted_table_is_resource_not_found(stream: Stream) -> None:
    """AWS: GetRecords on a stream that no longer exists is ResourceNotFoundException."""
    iterator = stream.iterator()
    stream.dynamodb.delete_table(TableName=stream.table)

    assert error_code(lambda: stream.streams.get_records(ShardIterator=iterator)) == "ResourceNotFoundException"


def test_get_shard_iterator_for_an_unknown_shard_is_resource_not_found(stream: Stream) -> None:
    """AWS: GetShardIterator for a ShardId the stream does not have is ResourceNotFoundException."""
    unknown_shard = "shardId-00000000000000000000-00000000"

    def get_iterator() -> Any:
        return stream.streams.get_shard_iterator(
            StreamArn=stream.arn, ShardId=unknown_shard, ShardIteratorType="LATEST"
        )

    assert error_code(get_iterator) == "ResourceNotFoundException"


@pytest.mark.parametrize("kind", ["AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"])
def test_sequence_number_iterator_without_sequence_number_is_a_validation_error(stream: Stream, kind: str) -> None:
    """AWS: AT_/AFTER_SEQUENCE_NUMBER without a SequenceNumber is a ValidationException."""
    assert error_code(lambda: stream.iterator(kind)) == "ValidationException"


@pytest.mark.parametrize(
    ("kind", "sequence_number"),
    [
        ("TRIM_HORIZON", "1100000000017454423009"),
        ("LATEST", "1100000000017454423009"),
        ("AT_SEQUENCE_NUMBER", "not-a-sequence-number-at-all"),
        ("NOT_A_TYPE", None),
    ],
)
def test_malformed_get_shard_iterator_is_a_validation_error(
    stream: Stream, kind: str, sequence_number: str | None
) -> None:
    """AWS: an unknown ShardIteratorType, a non-numeric SequenceNumber, or a SequenceNumber with
    TRIM_HORIZON/LATEST is a ValidationException."""
    kwargs = {} if sequence_number is None else {"SequenceNumber": sequence_number}

    assert error_code(lambda: stream.iterator(kind, **kwargs)) == "ValidationException"


def test_sequence_number_older_than_the_shard_is_trimmed_data(stream: Stream) -> None:
    """AWS: an iterator for a sequence number before the oldest record is TrimmedDataAccessException."""
    before_the_shard = "1" * 21

    code = error_code(lambda: stream.iterator("AT_SEQUENCE_NUMBER", SequenceNumber=before_the_shard))
    assert code == "TrimmedDataAccessException"


def test_describe_stream_of_an_unknown_stream_is_resource_not_found(stream: Stream) -> None:
    """AWS: DescribeStream for a well-formed ARN of a stream that does not exist is ResourceNotFoundException."""
    unknown = stream.arn.replace(f"table/{stream.table}/", f"table/{stream.table}-gone/")

    assert error_code(lambda: stream.streams.describe_stream(StreamArn=unknown)) == "ResourceNotFoundException"


def test_describe_stream_of_a_malformed_arn_is_a_validation_error(stream: Stream) -> None:
    """AWS: DescribeStream with a StreamArn that is not a stream ARN is a ValidationException."""
    malformed = "this-is-not-a-stream-arn-but-is-long-enough"

    assert error_code(lambda: stream.streams.describe_stream(StreamArn=malformed)) == "ValidationException"


def test_get_records_limit_above_1000_is_a_validation_error(stream: Stream) -> None:
    """AWS: GetRecords' Limit has an upper limit of 1000; more is a ValidationException."""
    iterator = stream.iterator()

    assert error_code(lambda: stream.streams.get_records(ShardIterator=iterator, Limit=1001)) == "ValidationException"


# --- 5. Iterator lifetime and memory ------------------------------------------------------------


def test_iterator_expires_15_minutes_after_issue(stream: Stream, frozen_clock: list[float]) -> None:
    """AWS: "A shard iterator expires 15 minutes after it is returned to the requester";
    GetRecords with it afterwards is ExpiredIteratorException."""
    stream.put("a")
    issued_at = frozen_clock[0]
    iterator = stream.iterator()

    frozen_clock[0] = issued_at + FIFTEEN_MINUTES - 1
    assert len(stream.streams.get_records(ShardIterator=iterator)["Records"]) == 1
    frozen_clock[0] = issued_at + FIFTEEN_MINUTES
    assert error_code(lambda: stream.streams.get_records(ShardIterator=iterator)) == "ExpiredIteratorException"


def test_next_shard_iterator_gets_its_own_15_minutes(stream: Stream, frozen_clock: list[float]) -> None:
    """AWS: each NextShardIterator is a newly returned iterator, valid 15 minutes from its return."""
    start = frozen_clock[0]
    iterator = stream.iterator()
    frozen_clock[0] = start + 10 * 60
    following = stream.streams.get_records(ShardIterator=iterator)["NextShardIterator"]
    stream.put("a")

    frozen_clock[0] = start + 20 * 60
    assert error_code(lambda: stream.streams.get_records(ShardIterator=iterator)) == "ExpiredIteratorException"
    assert [r["eventName"] for r in stream.streams.get_records(ShardIterator=following)["Records"]] == ["INSERT"]


def test_iterator_can_be_used_again_until_it_expires(stream: Stream) -> None:
    """AWS: GetRecords does not consume an iterator; reading it twice returns the same records."""
    stream.put("a")
    stream.put("b")
    iterator = stream.iterator()

    first = stream.streams.get_records(ShardIterator=iterator, Limit=1)["Records"]
    again = stream.streams.get_records(ShardIterator=iterator)["Records"]

    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in first] == ["a"]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in again] == ["a", "b"]


def test_polling_keeps_no_iterator_state(stream: Stream, embedded: None) -> None:
    """AWS iterators cost the client nothing to drop; the emulator must not keep one per poll
    (moto stores every NextShardIterator forever)."""
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    stream.put("a")
    iterator = stream.iterator()
    for _ in range(300):
        iterator = stream.streams.get_records(ShardIterator=iterator)["NextShardIterator"]

    stored = sum(len(backend.shard_iterators) for _, _, backend in dynamodbstreams_backends.iter_backends())
    assert stored == 0


def test_iterator_keeps_reading_after_a_cancelled_transaction(stream: Stream) -> None:
    """AWS: a cancelled TransactWriteItems changes nothing; an iterator taken before it still sees
    every later write (moto swaps the table for a backup copy, orphaning its own iterators)."""
    stream.put("a")
    iterator = stream.iterator("LATEST")
    with pytest.raises(ClientError):
        stream.dynamodb.transact_write_items(
            TransactItems=[
                {
                    "ConditionCheck": {
                        "TableName": stream.table,
                        "Key": {"pk": {"S": "a"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            ]
        )
    stream.put("b")

    records = stream.streams.get_records(ShardIterator=iterator)["Records"]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in records] == ["b"]


# --- Record fields ------------------------------------------------------------------------------


def test_sequence_numbers_are_digit_strings_increasing_in_write_order(stream: Stream) -> None:
    """AWS: SequenceNumber is a 21-40 digit string; within a shard they increase in write order."""
    for key in "abc":
        stream.put(key)

    numbers = [r["dynamodb"]["SequenceNumber"] for r in stream.read_all()]

    assert all(n.isdecimal() and 21 <= len(n) <= 40 for n in numbers)
    assert [int(n) for n in numbers] == sorted(int(n) for n in numbers)
    assert len(set(numbers)) == 3


def test_approximate_creation_time_is_whole_epoch_seconds(stream: Stream) -> None:
    """AWS: ApproximateCreationDateTime is UNIX epoch time "rounded down to the closest second"."""
    stream.put("a")

    created = stream.read_all()[0]["dynamodb"]["ApproximateCreationDateTime"]

    assert created.microsecond == 0


def test_size_bytes_counts_keys_and_images(
    streamlab_client: Callable[..., Any], streamlab_unique_name: Callable[[str], str]
) -> None:
    """AWS: SizeBytes is the item size of Keys plus the images; for key {pk: "2"} (3 bytes),
    an INSERT with NewImage {pk: "2", Title: "aaa"} (11 bytes) is 14 and its REMOVE with the
    same OldImage is 14; KEYS_ONLY records count the keys alone (3)."""
    both = make_stream(streamlab_client, streamlab_unique_name("compat-size"))
    keys_only = make_stream(streamlab_client, streamlab_unique_name("compat-size-k"), view="KEYS_ONLY")
    for stream in (both, keys_only):
        stream.put("2", Title={"S": "aaa"})
        stream.dynamodb.delete_item(TableName=stream.table, Key={"pk": {"S": "2"}})

    assert [r["dynamodb"]["SizeBytes"] for r in both.read_all()] == [14, 14]
    assert [r["dynamodb"]["SizeBytes"] for r in keys_only.read_all()] == [3, 3]


def test_event_version_is_1_1(stream: Stream) -> None:
    """AWS: GetRecords returns records with eventVersion "1.1" (as in Lambda's DynamoDB events)."""
    stream.put("a")

    assert [r["eventVersion"] for r in stream.read_all()] == ["1.1"]


def test_writes_after_disabling_the_stream_succeed_and_write_nothing(stream: Stream) -> None:
    """AWS: after UpdateTable disables the stream the table keeps working, no new records are
    written, and DescribeStream shows the stream as DISABLED (moto: HTTP 500 on every write)."""
    stream.put("a")
    stream.dynamodb.update_table(TableName=stream.table, StreamSpecification={"StreamEnabled": False})

    stream.put("b")
    description = stream.streams.describe_stream(StreamArn=stream.arn)["StreamDescription"]

    assert description["StreamStatus"] == "DISABLED"
    assert description["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in stream.read_all()] == ["a"]


def test_a_disabled_stream_can_be_enabled_again_as_a_new_stream(stream: Stream) -> None:
    """AWS: UpdateTable may enable a stream on a table whose stream is disabled; the table gets
    a new stream with a new LatestStreamArn, and records flow on it (moto: "Cannot enable stream")."""
    stream.dynamodb.update_table(TableName=stream.table, StreamSpecification={"StreamEnabled": False})
    stream.put("while-disabled")
    table = stream.dynamodb.update_table(
        TableName=stream.table, StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    )["TableDescription"]

    new_arn = table["LatestStreamArn"]
    assert new_arn != stream.arn
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    shard = first_shard_id(stream.streams, new_arn)
    renewed = Stream(stream.dynamodb, stream.streams, stream.table, new_arn, shard)
    renewed.put("after")
    records = renewed.read_all()
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in records] == ["after"]
    assert "NewImage" not in records[0]["dynamodb"]


def test_enabling_an_enabled_stream_is_still_refused(stream: Stream) -> None:
    """AWS: a table has at most one enabled stream; enabling it again is an error."""
    with pytest.raises(ClientError):
        stream.dynamodb.update_table(
            TableName=stream.table, StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
        )


def test_set_queue_attributes_keeps_the_policy_it_does_not_name(
    streamlab_client: Callable[..., Any], streamlab_unique_name: Callable[[str], str]
) -> None:
    """AWS SetQueueAttributes changes only the attributes in the request (moto dropped Policy)."""
    sqs = streamlab_client("sqs")
    statement = {"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage"}
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{**statement, "Resource": "*"}]})
    url = sqs.create_queue(QueueName=streamlab_unique_name("policy"), Attributes={"Policy": policy})["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "45"})
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "45"
    assert "sns.amazonaws.com" in attributes.get("Policy", "")
