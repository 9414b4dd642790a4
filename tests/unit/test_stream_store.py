"""The stream store on its own: shards, routing, lineage, iterators, retention (no moto, no HTTP)."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import pytest

from streamlab.aws_rules import SHARD_ID
from streamlab.emulator.streams import (
    ExpiredIterator,
    LimitExceeded,
    ResourceNotFound,
    StreamsApi,
    StreamSettings,
    StreamStore,
    TableInfo,
    TrimmedDataAccess,
    ValidationError,
    stream_label,
)
from streamlab.emulator.streams.records import StreamRecord, item_size

TABLE = TableInfo(
    account="123456789012",
    region="eu-west-1",
    name="orders",
    arn="arn:aws:dynamodb:eu-west-1:123456789012:table/orders",
    key_schema=({"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}),
)


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def item(pk: str, sk: str = "s", **attributes: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}, **{name: {"S": value} for name, value in attributes.items()}}


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_store(clock: Clock, **settings: Any) -> StreamStore:
    return StreamStore(StreamSettings(**settings), clock=clock)


def open_stream(store: StreamStore, view: str = "NEW_AND_OLD_IMAGES", **tags: str) -> str:
    return store.open_stream(TABLE, stream_label(int(store.clock() * 1000)), view, tags).arn


def read_shard(store: StreamStore, arn: str, shard_id: str, kind: str = "TRIM_HORIZON") -> list[StreamRecord]:
    iterator: str | None = store.shard_iterator(arn, shard_id, kind)
    records: list[StreamRecord] = []
    while iterator is not None:
        page = store.get_records(iterator, 1000)
        records.extend(page.records)
        if not page.records:
            break
        iterator = page.next_iterator
    return records


# -- records ---------------------------------------------------------------------------------

#: (SizeBytes AWS recorded, Keys, NewImage, OldImage), from LocalStack's AWS snapshots
#: test_lambda_integration_dynamodbstreams.snapshot.json (validated 2025-11-25) and
#: test_dynamodb.snapshot.json (validated 2025-10-08).
RECORDED_SIZES = [
    (12, {"Username": {"S": "Fred"}}, None, None),
    (
        46,
        {"id": {"S": "my-item-id"}},
        {"attr1": {"S": "value1"}, "attr2": {"S": "value2"}, "id": {"S": "my-item-id"}},
        None,
    ),
    (
        80,
        {"id": {"S": "my-item-id"}},
        {"attr1": {"S": "value2"}, "attr2": {"S": "value3"}, "id": {"S": "my-item-id"}},
        {"attr1": {"S": "value1"}, "attr2": {"S": "value2"}, "id": {"S": "my-item-id"}},
    ),
    (
        70,
        {"my_partition_key": {"S": "hello world"}},
        {"binary_key": {"B": "Zm9vYmFy"}, "my_partition_key": {"S": "hello world"}},
        None,
    ),
    (39, {"id": {"S": "id_value_1"}}, {"id": {"S": "id_value_1"}, "numericFilter": {"N": "42"}}, None),
    (
        58,
        {"my_partition_key": {"S": "testId0"}},
        {"my_partition_key": {"S": "testId0"}, "should_fail": {"BOOL": False}},
        None,
    ),
]


@pytest.mark.parametrize(("recorded", "keys", "new", "old"), RECORDED_SIZES)
def test_size_bytes_is_what_aws_recorded(recorded: int, keys: Any, new: Any, old: Any) -> None:
    assert sum(item_size(part) for part in (keys, new, old) if part is not None) == recorded


def test_a_record_serves_the_same_fields_as_dict_and_as_json(clock: Clock) -> None:
    record = StreamRecord.build(
        10**21 + 7,
        1_800_000_000_123,
        "NEW_AND_OLD_IMAGES",
        {"pk": {"S": "a"}},
        None,
        {"pk": {"S": "a"}, "b": {"B": "AAE="}},
    )
    as_dict = record.to_dict("arn:s", "eu-west-1", "NEW_AND_OLD_IMAGES")
    assert json.loads(record.to_json("arn:s", "eu-west-1", "NEW_AND_OLD_IMAGES")) == as_dict
    assert as_dict["eventName"] == "INSERT"
    assert as_dict["eventVersion"] == "1.1"
    assert re.fullmatch(r"[0-9a-f]{32}", as_dict["eventID"])
    assert as_dict["dynamodb"]["ApproximateCreationDateTime"] == 1_800_000_000  # rounded down to the second
    assert as_dict["dynamodb"]["SizeBytes"] == 2 + 1 + 2 + 1 + 1 + 2  # Keys pk=a; NewImage pk=a, b=2 bytes
    assert "OldImage" not in as_dict["dynamodb"]


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        ("KEYS_ONLY", {"Keys"}),
        ("NEW_IMAGE", {"Keys", "NewImage"}),
        ("OLD_IMAGE", {"Keys", "OldImage"}),
        ("NEW_AND_OLD_IMAGES", {"Keys", "NewImage", "OldImage"}),
    ],
)
def test_the_view_type_decides_the_images(clock: Clock, view: str, expected: set[str]) -> None:
    store = make_store(clock)
    arn = open_stream(store, view)
    store.record_change(TABLE.arn, item("a", v="1"), item("a", v="2"))
    [shard] = store.describe(arn)["Shards"]
    [record] = read_shard(store, arn, shard["ShardId"])
    members = set(record.to_dict(arn, TABLE.region, view)["dynamodb"]) & {"Keys", "NewImage", "OldImage"}
    assert members == expected


def test_a_write_that_changes_nothing_writes_no_record(clock: Clock) -> None:
    store = make_store(clock)
    arn = open_stream(store)
    assert store.record_change(TABLE.arn, None, item("a")) is not None
    assert store.record_change(TABLE.arn, item("a"), item("a")) is None
    assert store.record_change(TABLE.arn, None, None) is None
    tagged = {**item("a"), "tags": {"SS": ["x", "y"]}, "n": {"N": "1.0"}}
    assert store.record_change(TABLE.arn, item("a"), tagged) is not None
    reordered = {**item("a"), "tags": {"SS": ["y", "x"]}, "n": {"N": "1"}}
    assert store.record_change(TABLE.arn, tagged, reordered) is None, "sets are unordered, 1.0 == 1"
    assert store.stats()["records"] == 2
    assert store.describe(arn)["StreamStatus"] == "ENABLED"


# -- shards, routing, lineage -----------------------------------------------------------------


def test_a_stream_has_the_configured_shards_with_aws_shaped_ids_and_sequence_numbers(clock: Clock) -> None:
    store = make_store(clock, shards=4)
    arn = open_stream(store)
    description = store.describe(arn)
    shards = description["Shards"]
    assert len(shards) == 4
    assert all(SHARD_ID.fullmatch(shard["ShardId"]) for shard in shards)
    assert [shard["ShardId"] for shard in shards] == sorted(shard["ShardId"] for shard in shards)
    assert all(
        "ParentShardId" not in shard and "EndingSequenceNumber" not in shard["SequenceNumberRange"] for shard in shards
    )
    for index in range(40):
        store.record_change(TABLE.arn, None, item(f"key-{index}"))
    for shard in shards:
        start = int(shard["SequenceNumberRange"]["StartingSequenceNumber"])
        records = read_shard(store, arn, shard["ShardId"])
        assert records, "40 keys spread over every one of 4 shards"
        assert all(record.sequence > start for record in records), "AWS: the first record is after the start"
        assert 21 <= len(str(records[0].sequence)) <= 40


def test_the_shards_tag_overrides_the_setting(clock: Clock) -> None:
    store = make_store(clock, shards=1)
    assert len(store.describe(open_stream(store, **{"streamlab:stream-shards": "3"}))["Shards"]) == 3


@pytest.mark.parametrize("value", ["0", "many", "65"])
def test_a_bad_shards_tag_is_ignored(clock: Clock, value: str) -> None:
    store = make_store(clock, shards=2)
    assert len(store.describe(open_stream(store, **{"streamlab:stream-shards": value}))["Shards"]) == 2


def test_the_stream_label_is_milliseconds(clock: Clock) -> None:
    assert stream_label(1_800_000_000_123) == "2027-01-15T08:00:00.123"


def test_splits_keep_each_keys_records_in_one_lineage_in_order(clock: Clock) -> None:
    store = make_store(clock, shards=2)
    arn = open_stream(store)
    written: dict[str, list[int]] = {}

    def write_round(version: int) -> None:
        for index in range(20):
            key = f"key-{index}"
            record = store.record_change(
                TABLE.arn, item(key, v=str(version - 1)) if version else None, item(key, v=str(version))
            )
            assert record is not None
            written.setdefault(key, []).append(record.sequence)
            clock.now += 0.001

    write_round(0)
    store.reshard(TABLE.region, TABLE.name, children=2)
    write_round(1)
    store.reshard(TABLE.region, TABLE.name, children=1)
    write_round(2)

    shards = {shard["ShardId"]: shard for shard in store.describe(arn)["Shards"]}
    assert len(shards) == 2 + 4 + 4
    closed = [s for s in shards.values() if "EndingSequenceNumber" in s["SequenceNumberRange"]]
    assert len(closed) == 6
    for shard in shards.values():
        parent = shard.get("ParentShardId")
        if parent is not None:
            assert parent in shards
            assert int(shard["SequenceNumberRange"]["StartingSequenceNumber"]) >= int(
                shards[parent]["SequenceNumberRange"]["EndingSequenceNumber"]
            )
    by_key: dict[str, list[tuple[str, int]]] = {}
    for shard_id in shards:
        for record in read_shard(store, arn, shard_id):
            key = json.loads(record.body)["Keys"]["pk"]["S"]
            by_key.setdefault(key, []).append((shard_id, record.sequence))
    for key, seen in by_key.items():
        assert sorted(sequence for _, sequence in seen) == written[key]
        lineage = [shard_id for shard_id, _ in sorted(seen, key=lambda pair: pair[1])]
        for earlier, later in itertools.pairwise(lineage):
            assert earlier == later or shards[later].get("ParentShardId") == earlier, f"{key} left its lineage"


def test_a_split_beyond_the_open_shard_limit_is_refused(clock: Clock) -> None:
    store = make_store(clock, shards=4, max_open_shards=6)
    open_stream(store)
    with pytest.raises(LimitExceeded):
        store.reshard(TABLE.region, TABLE.name, children=2)
    assert len(store.reshard(TABLE.region, TABLE.name, children=1).opened) == 4


def test_splitting_an_unknown_table_is_resource_not_found(clock: Clock) -> None:
    with pytest.raises(ResourceNotFound):
        make_store(clock).reshard("eu-west-1", "nope")


def test_shards_roll_over_on_the_rotation_period(clock: Clock) -> None:
    store = make_store(clock, shards=2, rotation_seconds=60)
    arn = open_stream(store)
    store.maintain()
    clock.now += 59
    store.maintain()
    assert len(store.describe(arn)["Shards"]) == 2
    clock.now += 2
    store.maintain()
    shards = store.describe(arn)["Shards"]
    assert len(shards) == 4
    assert {s["ParentShardId"] for s in shards if "ParentShardId" in s} == {s["ShardId"] for s in shards[:2]}


# -- DescribeStream paging --------------------------------------------------------------------


def test_describe_stream_pages_with_limit_and_exclusive_start(clock: Clock) -> None:
    store = make_store(clock, shards=5)
    arn = open_stream(store)
    first = store.describe(arn, limit=2)
    assert len(first["Shards"]) == 2
    second = store.describe(arn, limit=2, exclusive_start=first["LastEvaluatedShardId"])
    third = store.describe(arn, limit=2, exclusive_start=second["LastEvaluatedShardId"])
    assert len(third["Shards"]) == 1
    assert "LastEvaluatedShardId" not in third
    ids = [s["ShardId"] for page in (first, second, third) for s in page["Shards"]]
    assert ids == [s["ShardId"] for s in store.describe(arn)["Shards"]]


def test_describe_stream_child_shards_filter(clock: Clock) -> None:
    store = make_store(clock)
    arn = open_stream(store)
    [parent] = store.describe(arn)["Shards"]
    children = {shard.shard_id for shard in store.reshard(TABLE.region, TABLE.name, children=2).opened}
    filtered = store.describe(arn, children_of=parent["ShardId"])["Shards"]
    assert {shard["ShardId"] for shard in filtered} == children


# -- iterators --------------------------------------------------------------------------------


def test_iterator_positions(clock: Clock) -> None:
    store = make_store(clock)
    arn = open_stream(store)
    [shard] = store.describe(arn)["Shards"]
    shard_id = shard["ShardId"]
    start = shard["SequenceNumberRange"]["StartingSequenceNumber"]
    latest = store.shard_iterator(arn, shard_id, "LATEST")
    sequences = [store.record_change(TABLE.arn, None, item(f"k{i}")).sequence for i in range(3)]  # type: ignore[union-attr]
    assert [r.sequence for r in store.get_records(latest, 10).records] == sequences
    assert [
        r.sequence
        for r in store.get_records(store.shard_iterator(arn, shard_id, "AT_SEQUENCE_NUMBER", start), 10).records
    ] == sequences
    at_second = store.shard_iterator(arn, shard_id, "AT_SEQUENCE_NUMBER", str(sequences[1]))
    after_second = store.shard_iterator(arn, shard_id, "AFTER_SEQUENCE_NUMBER", str(sequences[1]))
    assert [r.sequence for r in store.get_records(at_second, 10).records] == sequences[1:]
    assert [r.sequence for r in store.get_records(after_second, 10).records] == sequences[2:]
    page = store.get_records(store.shard_iterator(arn, shard_id, "TRIM_HORIZON"), 2)
    assert [r.sequence for r in page.records] == sequences[:2]
    assert page.next_iterator is not None
    assert [r.sequence for r in store.get_records(page.next_iterator, 10).records] == sequences[2:]
    with pytest.raises(ValidationError):
        store.shard_iterator(arn, shard_id, "AT_SEQUENCE_NUMBER", str(sequences[-1] + 5))


def test_an_iterator_expires_after_15_minutes_and_can_be_reused_until_then(clock: Clock) -> None:
    store = make_store(clock)
    arn = open_stream(store)
    store.record_change(TABLE.arn, None, item("a"))
    iterator = store.shard_iterator(arn, store.describe(arn)["Shards"][0]["ShardId"], "TRIM_HORIZON")
    clock.now += 14 * 60
    assert len(store.get_records(iterator, 10).records) == 1
    assert len(store.get_records(iterator, 10).records) == 1
    clock.now += 61
    with pytest.raises(ExpiredIterator):
        store.get_records(iterator, 10)


@pytest.mark.parametrize("iterator", ["garbage", "a|1|b", "x|2|y"])
def test_a_foreign_iterator_is_a_validation_error(clock: Clock, iterator: str) -> None:
    with pytest.raises(ValidationError, match="Invalid ShardIterator"):
        make_store(clock).get_records(iterator, 10)


def test_a_closed_shard_ends_without_a_next_iterator(clock: Clock) -> None:
    store = make_store(clock)
    arn = open_stream(store)
    store.record_change(TABLE.arn, None, item("a"))
    [parent] = store.describe(arn)["Shards"]
    store.reshard(TABLE.region, TABLE.name, children=1)
    page = store.get_records(store.shard_iterator(arn, parent["ShardId"], "TRIM_HORIZON"), 10)
    assert len(page.records) == 1
    assert page.next_iterator is None
    latest = store.get_records(store.shard_iterator(arn, parent["ShardId"], "LATEST"), 10)
    assert latest.records == []
    assert latest.next_iterator is None


# -- retention --------------------------------------------------------------------------------


def test_retention_trims_records_from_memory_and_old_positions_are_trimmed_data(clock: Clock) -> None:
    store = make_store(clock, retention_seconds=60)
    arn = open_stream(store)
    shard_id = store.describe(arn)["Shards"][0]["ShardId"]
    old = store.record_change(TABLE.arn, None, item("old"))
    horizon = store.shard_iterator(arn, shard_id, "TRIM_HORIZON")
    clock.now += 30
    kept = store.record_change(TABLE.arn, None, item("kept"))
    clock.now += 31
    assert store.maintain() == 1
    assert store.stats()["records"] == 1
    with pytest.raises(TrimmedDataAccess):
        store.get_records(horizon, 10)
    with pytest.raises(TrimmedDataAccess):
        store.shard_iterator(arn, shard_id, "AT_SEQUENCE_NUMBER", str(old.sequence))  # type: ignore[union-attr]
    fresh = store.shard_iterator(arn, shard_id, "TRIM_HORIZON")
    assert [r.sequence for r in store.get_records(fresh, 10).records] == [kept.sequence]  # type: ignore[union-attr]


def test_closed_shards_and_disabled_streams_disappear_once_trimmed(clock: Clock) -> None:
    store = make_store(clock, retention_seconds=60)
    arn = open_stream(store)
    store.record_change(TABLE.arn, None, item("a"))
    store.reshard(TABLE.region, TABLE.name, children=1)
    clock.now += 61
    store.maintain()
    [child] = store.describe(arn)["Shards"]
    assert "ParentShardId" in child, "the child keeps naming its trimmed parent, as on AWS"
    store.disable_stream(TABLE.arn)
    assert store.describe(arn)["StreamStatus"] == "DISABLED"
    assert store.record_change(TABLE.arn, None, item("b")) is None
    clock.now += 61
    store.maintain()
    with pytest.raises(ResourceNotFound):
        store.describe(arn)
    assert store.stats() == {"streams": 0, "shards": 0, "open_shards": 0, "records": 0}


def test_reenabling_makes_a_new_stream_and_the_old_one_stays_readable(clock: Clock) -> None:
    store = make_store(clock)
    first = open_stream(store)
    store.record_change(TABLE.arn, None, item("a"))
    store.disable_stream(TABLE.arn)
    clock.now += 1
    second = open_stream(store)
    assert first != second
    assert store.describe(first)["StreamStatus"] == "DISABLED"
    [old_shard] = store.describe(first)["Shards"]
    assert "EndingSequenceNumber" in old_shard["SequenceNumberRange"]
    assert len(read_shard(store, first, old_shard["ShardId"])) == 1
    assert [s["StreamArn"] for s in store.list_streams(TABLE.region, TABLE.name)] == [first, second]


# -- the API ----------------------------------------------------------------------------------


def call(api: StreamsApi, operation: str, **request: Any) -> tuple[int, dict[str, Any]]:
    status, body = api.handle(operation, json.dumps(request).encode(), TABLE.region)
    return status, json.loads(body)


def test_api_get_records_is_the_wire_shape(clock: Clock) -> None:
    store = make_store(clock)
    api = StreamsApi(store)
    arn = open_stream(store, "NEW_IMAGE")
    store.record_change(TABLE.arn, None, item("a", v="1"))
    _, description = call(api, "DescribeStream", StreamArn=arn)
    shard_id = description["StreamDescription"]["Shards"][0]["ShardId"]
    _, answer = call(api, "GetShardIterator", StreamArn=arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")
    status, page = call(api, "GetRecords", ShardIterator=answer["ShardIterator"])
    assert status == 200
    [record] = page["Records"]
    assert record["dynamodb"]["NewImage"] == item("a", v="1")
    assert record["awsRegion"] == "eu-west-1"
    assert page["NextShardIterator"].startswith(arn + "|1|")


@pytest.mark.parametrize(
    ("operation", "request_", "code"),
    [
        (
            "DescribeStream",
            {"StreamArn": "arn:aws:dynamodb:eu-west-1:123456789012:table/x/stream/2020-01-01T00:00:00.000"},
            "ResourceNotFoundException",
        ),
        ("DescribeStream", {"StreamArn": "not-an-arn"}, "ValidationException"),
        (
            "GetShardIterator",
            {"StreamArn": "x", "ShardId": "s", "ShardIteratorType": "SIDEWAYS"},
            "ValidationException",
        ),
        ("GetRecords", {"ShardIterator": "nonsense"}, "ValidationException"),
        ("GetRecords", {"ShardIterator": "nonsense", "Limit": 1001}, "ValidationException"),
        ("Frobnicate", {}, "ValidationException"),
    ],
)
def test_api_errors_are_aws_shaped(clock: Clock, operation: str, request_: dict[str, Any], code: str) -> None:
    status, body = call(StreamsApi(make_store(clock)), operation, **request_)
    assert status == 400
    assert body["__type"].endswith("#" + code)
    assert body["message"]


def test_api_list_streams_pages(clock: Clock) -> None:
    store = make_store(clock)
    api = StreamsApi(store)
    arns = []
    for _ in range(3):
        arns.append(open_stream(store))
        clock.now += 1
    _, first = call(api, "ListStreams", Limit=2)
    assert [s["StreamArn"] for s in first["Streams"]] == arns[:2]
    _, rest = call(api, "ListStreams", Limit=2, ExclusiveStartStreamArn=first["LastEvaluatedStreamArn"])
    assert [s["StreamArn"] for s in rest["Streams"]] == arns[2:]
    assert "LastEvaluatedStreamArn" not in rest
    _, none = call(api, "ListStreams", TableName="other")
    assert none["Streams"] == []
