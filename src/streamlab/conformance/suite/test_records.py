"""The event record the function receives, and which writes produce one."""

from __future__ import annotations

import base64

import pytest

from streamlab.conformance.suite.harness import PARTITION, Scenario, text_of

BLOB = b"\x00\x01streamlab\xff"

#: view type -> (NewImage on INSERT/MODIFY, OldImage on MODIFY/REMOVE)
VIEWS = {
    "KEYS_ONLY": (False, False),
    "NEW_IMAGE": (True, False),
    "OLD_IMAGE": (False, True),
    "NEW_AND_OLD_IMAGES": (True, True),
}


@pytest.mark.parametrize(
    ("view", "region"),
    [
        ("KEYS_ONLY", None),
        ("NEW_IMAGE", None),
        ("OLD_IMAGE", None),
        ("NEW_AND_OLD_IMAGES", None),
        ("NEW_AND_OLD_IMAGES", "eu-west-1"),
    ],
    ids=["keys-only", "new-image", "old-image", "new-and-old", "new-and-old-eu-west-1"],
)
def test_event_record_shape(scenario: Scenario, view: str, region: str | None) -> None:
    """Each record carries eventID, eventName, eventVersion "1.1", eventSource "aws:dynamodb",
    awsRegion (the table's region), eventSourceARN, and dynamodb {ApproximateCreationDateTime
    (whole epoch seconds), Keys, NewImage/OldImage as the StreamViewType says, SequenceNumber,
    SizeBytes, StreamViewType}. Binary values are base64. Only TTL deletes carry userIdentity.

    Source: docs.aws.amazon.com/lambda/latest/dg/with-ddb.html (example event);
    docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html (StreamViewType);
    esm-semantics.md "Event record shape" (recent real events show eventVersion 1.1).
    """
    table = scenario.table(view, region=region)
    scenario.map(table, BatchSize=10)
    scenario.put(table, "a", v=1, blob=BLOB)
    scenario.put(table, "a", v=2, blob=BLOB)
    scenario.delete(table, "a")
    calls = scenario.wait_invocations(table, lambda cs: sum(len(c.records) for c in cs) >= 3, message="three records")
    records = [r for c in calls for r in c.records]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    new_expected, old_expected = VIEWS[view]
    sequences: list[int] = []
    for record in records:
        assert record["eventID"]
        assert isinstance(record["eventID"], str)
        assert record["eventVersion"] == "1.1"
        assert record["eventSource"] == "aws:dynamodb"
        assert record["awsRegion"] == table.region
        assert record["eventSourceARN"] == table.stream_arn
        assert "userIdentity" not in record, "only TTL deletes carry userIdentity"
        data = record["dynamodb"]
        created = data["ApproximateCreationDateTime"]
        assert isinstance(created, int | float), f"epoch seconds: {created!r}"
        assert created == int(created), f"whole epoch seconds: {created!r}"
        assert data["Keys"] == {"pk": {"S": PARTITION}, "sk": {"S": "a"}}
        assert isinstance(data["SizeBytes"], int)
        assert data["SizeBytes"] > 0
        assert data["StreamViewType"] == view
        assert data["SequenceNumber"].isdigit()
        sequences.append(int(data["SequenceNumber"]))
        name = record["eventName"]
        assert ("NewImage" in data) == (new_expected and name != "REMOVE"), f"{view} {name}: {sorted(data)}"
        assert ("OldImage" in data) == (old_expected and name != "INSERT"), f"{view} {name}: {sorted(data)}"
        for image in (data.get("NewImage"), data.get("OldImage")):
            if image is not None:
                assert base64.b64decode(image["blob"]["B"]) == BLOB
    assert sequences == sorted(sequences)
    assert len(set(sequences)) == 3
    if new_expected:
        assert text_of(records[1], "v") == "2"


def test_a_write_that_changes_nothing_produces_no_record(scenario: Scenario) -> None:
    """An identical PutItem (the item already holds exactly those values) writes no stream record.

    Source: docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html (a PutItem or
    UpdateItem that changes no data in the item writes no stream record); esm-semantics.md.
    """
    table = scenario.table()
    scenario.map(table, BatchSize=10)
    scenario.put(table, "a", v=1)
    scenario.put(table, "a", v=1)
    scenario.put(table, "a", v=2)
    scenario.wait_invocations(
        table, lambda cs: any(text_of(r, "v") == "2" for c in cs for r in c.records), message="v=2 delivered"
    )
    records = scenario.delivered(table)
    assert [(r["eventName"], text_of(r, "v")) for r in records] == [("INSERT", "1"), ("MODIFY", "2")]


def test_binary_keys_arrive_base64_one_record_per_write(scenario: Scenario) -> None:
    """A table keyed by binary attributes streams as any other: one record per write, its Keys
    and images base64 in the event (``{"B": "AAFzdHJlYW1sYWL/"}``), the bytes written.

    Source: docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_AttributeValue.html (B: "An
    attribute of type Binary", base64 in JSON; the key schema's scalar types are S, N and B);
    docs.aws.amazon.com/lambda/latest/dg/with-ddb.html (the event's Keys are the item's key
    attributes). streamlab once failed such a write's stream record with InternalFailure: boto3's
    retry then succeeded without a record, so the change was lost.
    """
    table = scenario.table("NEW_IMAGE", key_type="B")
    scenario.map(table, BatchSize=10)
    dynamodb = scenario.client("dynamodb", region=table.region)
    key = {"pk": {"B": BLOB}, "sk": {"B": b"\x00"}}
    dynamodb.put_item(TableName=table.name, Item={**key, "v": {"N": "1"}})
    dynamodb.put_item(TableName=table.name, Item={**key, "v": {"N": "2"}})
    calls = scenario.wait_invocations(table, lambda cs: sum(len(c.records) for c in cs) >= 2, message="two records")
    records = [r for c in calls for r in c.records]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]
    wire = {"pk": {"B": base64.b64encode(BLOB).decode()}, "sk": {"B": "AA=="}}
    for version, record in enumerate(records, start=1):
        assert record["dynamodb"]["Keys"] == wire
        assert record["dynamodb"]["NewImage"] == {**wire, "v": {"N": str(version)}}
