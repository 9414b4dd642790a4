"""What the Locust file and ``streamlab bench --table`` write to a user's table, and how the Locust
run's stream metric counts the probe's records apart from its requests."""

from __future__ import annotations

import csv
import io

import pytest

from streamlab.measure.item_shape import ItemShape, TableShapeError, shape_of
from streamlab.measure.stream_tally import StreamTally, rounded_ms, summary_csv, summary_line

STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-12-02T00:00:00.000"


def described(hash_type: str, sort: tuple[str, str] | None = None, view: str = "NEW_IMAGE") -> dict:
    schema = [{"AttributeName": "tenant", "KeyType": "HASH"}]
    definitions = [{"AttributeName": "tenant", "AttributeType": hash_type}]
    if sort:
        schema.append({"AttributeName": sort[0], "KeyType": "RANGE"})
        definitions.append({"AttributeName": sort[0], "AttributeType": sort[1]})
    return {
        "TableName": "t",
        "KeySchema": schema,
        "AttributeDefinitions": definitions,
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": view},
        "LatestStreamArn": STREAM,
    }


@pytest.mark.parametrize("key_type", ["S", "N", "B"])
def test_a_runs_keys_share_its_prefix_in_the_tables_key_type(key_type: str) -> None:
    shape, arn = shape_of(described(key_type, ("sk", "N")))
    assert arn == STREAM
    prefix = shape.run_prefix("0123abcd")
    keys = {shape.unique_key(prefix) for _ in range(500)}
    assert len(keys) == 500
    assert all(key.startswith(prefix) for key in keys)
    if key_type == "N":  # a DynamoDB number keeps every digit: no leading zero, well under 38 digits
        assert all(key.isdigit() and key[0] != "0" and len(key) == 18 for key in keys)
    assert prefix != shape.run_prefix("fedc9876")


def test_items_are_what_boto3_takes_with_the_probes_attributes() -> None:
    shape, _ = shape_of(described("B", ("sk", "S")))
    item = shape.item("locust-x-1", 3, 1700000000.5)
    assert item == {
        "tenant": {"B": b"locust-x-1"},
        "sk": {"S": "streamlab-probe"},
        "streamlab_probe_version": {"N": "3"},
        "streamlab_probe_written_at": {"N": "1700000000.5"},
    }
    assert shape.key_of("locust-x-1") == {"tenant": {"B": b"locust-x-1"}, "sk": {"S": "streamlab-probe"}}
    assert shape.probe_environment()["PROBE_KEY_ATTRIBUTE"] == "tenant"


def test_a_table_without_new_images_is_refused_plainly() -> None:
    with pytest.raises(TableShapeError, match="KEYS_ONLY: the probe reads the new image"):
        shape_of(described("S", view="KEYS_ONLY"))
    assert ItemShape().run_prefix("abc") == "locust-abc-"


def test_the_tally_counts_records_not_requests_and_what_they_say() -> None:
    tally = StreamTally()
    tally.add("a", 1, 40.0)
    tally.add("a", 2, 60.0)
    tally.add("a", 2, 900.0)  # redelivered: latency counts the first delivery only
    tally.add("b", 2, 120.4)
    tally.add("b", 1, 20.0)  # version 1 after version 2 of its key
    summary = tally.summary(writes_acknowledged=6)
    assert (summary["records"], summary["delivered"], summary["redelivered"], summary["out_of_order"]) == (5, 4, 1, 1)
    assert summary["not_seen"] == 2
    latency = summary["latency_ms"]
    assert (latency["min"], latency["max"]) == (20.0, 120.4)
    assert latency["p50"] == 40.0
    assert latency["p99"] == 120.0  # rounded to 10 ms above 100 ms
    assert latency["avg"] == pytest.approx((40 + 60 + 120.4 + 20) / 4)


def test_no_records_yet_is_no_figure_not_zero() -> None:
    summary = StreamTally().summary(writes_acknowledged=3)
    assert summary["latency_ms"]["p50"] is None
    assert summary["not_seen"] == 3
    row = next(csv.DictReader(io.StringIO(summary_csv(summary))))
    assert (row["Records"], row["Not Seen"], row["50%"]) == ("0", "3", "")
    assert "0 records of 3 acknowledged writes (3 not seen)" in summary_line(summary)


def test_latencies_are_bucketed_as_locust_rounds_them() -> None:
    assert [rounded_ms(v) for v in (0.4, 99.4, 104.0, 999.0, 1049.0, 12_345.0)] == [0, 99, 100, 1000, 1000, 12_300]
