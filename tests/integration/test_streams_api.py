"""DynamoDB Streams as the embedded endpoint serves it (streamlab's stream store), through boto3.

Each test names the AWS behaviour it checks. Tests that move the store's clock need the
in-process embedded endpoint and are skipped against any other endpoint.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from streamlab.emulator import moto_patches
from streamlab.streams import first_shard_id
from tests.integration.stream_support import Stream, error_code, make_stream

FIFTEEN_MINUTES = 15 * 60


@pytest.fixture
def stream(streamlab_client: Callable[..., Any], streamlab_unique_name: Callable[[str], str]) -> Stream:
    return make_stream(streamlab_client, streamlab_unique_name("streams"))


@pytest.fixture
def embedded(streamlab_in_process: bool) -> None:
    """Skip unless the endpoint under test is the embedded one, in this process."""
    if not streamlab_in_process:
        pytest.skip("moves this process's stream store clock: needs the in-process embedded endpoint")


@pytest.fixture
def frozen_clock(embedded: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """The stream store's clock, frozen at the current time; assign ``[0]`` to move it.

    The store is the process's: moved a day ahead, its maintenance would trim every other test's
    records, so tests move it by minutes only (retention is tested in its own process).
    """
    now = [time.time()]
    monkeypatch.setattr(moto_patches.stream_store(), "clock", lambda: now[0])
    return now


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


def test_the_stream_of_a_deleted_table_stays_readable_and_disabled(stream: Stream) -> None:
    """AWS DeleteTable: "the corresponding stream on that table goes into the DISABLED state, and
    the stream is automatically deleted after 24 hours"; until then its records can be read."""
    stream.put("a")
    iterator = stream.iterator()
    stream.dynamodb.delete_table(TableName=stream.table)

    description = stream.streams.describe_stream(StreamArn=stream.arn)["StreamDescription"]
    assert description["StreamStatus"] == "DISABLED"
    assert all("EndingSequenceNumber" in shard["SequenceNumberRange"] for shard in description["Shards"])
    response = stream.streams.get_records(ShardIterator=iterator)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in response["Records"]] == ["a"]
    assert "NextShardIterator" not in response, "a closed shard read to its end has no next iterator"


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


# --- Shards, splits and retention -----------------------------------------------------------------


def post_split(url: str, body: object, method: str = "POST") -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"{url}/_streamlab/streams/split", data=json.dumps(body).encode(), method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_shards_tag_sets_the_shard_count_and_a_split_opens_two_children_each(
    streamlab_client: Callable[..., Any],
    streamlab_unique_name: Callable[[str], str],
    streamlab_endpoint_url: str,
    embedded: None,
) -> None:
    """Table tag streamlab:stream-shards=4: the stream has 4 shards; POST /_streamlab/streams/split
    closes them (EndingSequenceNumber) and opens 8 children naming their parents; DescribeStream
    pages with Limit / ExclusiveStartShardId / LastEvaluatedShardId as AWS documents."""
    dynamodb, streams = streamlab_client("dynamodb"), streamlab_client("dynamodbstreams")
    name = streamlab_unique_name("tagged")
    arn = dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
        Tags=[{"Key": "streamlab:stream-shards", "Value": "4"}],
    )["TableDescription"]["LatestStreamArn"]
    roots = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    assert len(roots) == 4
    for index in range(20):
        dynamodb.put_item(TableName=name, Item={"pk": {"S": f"k{index}"}})

    status, answer = post_split(streamlab_endpoint_url, {"TableName": name, "Region": "us-east-1"})
    assert status == 200, answer
    assert answer["StreamArn"] == arn
    assert sorted(answer["ClosedShards"]) == sorted(s["ShardId"] for s in roots)
    assert len(answer["OpenedShards"]) == 8

    pages, request = [], {"StreamArn": arn, "Limit": 5}
    while True:
        description = streams.describe_stream(**request)["StreamDescription"]
        pages.append(description["Shards"])
        if "LastEvaluatedShardId" not in description:
            break
        request["ExclusiveStartShardId"] = description["LastEvaluatedShardId"]
    assert [len(page) for page in pages] == [5, 5, 2]
    shards = [shard for page in pages for shard in page]
    closed = [s for s in shards if "EndingSequenceNumber" in s["SequenceNumberRange"]]
    assert {s["ShardId"] for s in closed} == {s["ShardId"] for s in roots}
    children = [s for s in shards if "ParentShardId" in s]
    assert sorted({s["ParentShardId"] for s in children}) == sorted(s["ShardId"] for s in roots)
    for shard in closed:  # each closed shard ends at its last record and holds the records it had
        numbers = shard["SequenceNumberRange"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        page = streams.get_records(ShardIterator=iterator["ShardIterator"])
        if page["Records"]:
            assert page["Records"][-1]["dynamodb"]["SequenceNumber"] == numbers["EndingSequenceNumber"]
            assert int(page["Records"][0]["dynamodb"]["SequenceNumber"]) > int(numbers["StartingSequenceNumber"])
        assert "NextShardIterator" not in page


@pytest.mark.parametrize(
    ("body", "method", "status"),
    [
        ({"TableName": "no-such-table-anywhere"}, "POST", 404),
        ({"Region": "us-east-1"}, "POST", 400),
        ({"TableName": "t", "Region": "../etc"}, "POST", 400),
        ({"TableName": "t", "Children": 3}, "POST", 400),
        ([], "POST", 400),
        ({"TableName": "t"}, "GET", 405),
    ],
)
def test_a_bad_split_request_is_a_clear_json_error(
    streamlab_endpoint_url: str, embedded: None, body: object, method: str, status: int
) -> None:
    answer_status, answer = post_split(streamlab_endpoint_url, body, method)
    assert answer_status == status
    assert answer["error"]
    assert answer["message"]


def test_an_unknown_streamlab_route_is_404_json(streamlab_endpoint_url: str, embedded: None) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{streamlab_endpoint_url}/_streamlab/nothing-here", timeout=10)
    assert caught.value.code == 404
    assert json.loads(caught.value.read())["error"] == "NotFound"
