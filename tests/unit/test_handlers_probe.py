"""handlers/probe.py on captured Orders records: one JSON line per record, attempts counted."""

from __future__ import annotations

import json

from tests.unit.handler_support import FakeContext, event

STACK_ATTRIBUTES = {
    "PROBE_KEY_ATTRIBUTE": "order_id",
    "PROBE_VERSION_ATTRIBUTE": "version",
    "PROBE_WRITTEN_AT_ATTRIBUTE": "written_at",
}


def probe_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith('{"probe"')]


def test_one_line_per_record_with_key_version_and_timestamps(load_handler, capsys) -> None:
    probe = load_handler("probe", **STACK_ATTRIBUTES)
    created = event("orders_created")
    assert probe.handler(created, FakeContext()) == {"batchItemFailures": []}

    lines = probe_lines(capsys.readouterr().out)
    assert [line["key"] for line in lines] == ["o-1001", "o-1002", "o-1003"]
    for line, record in zip(lines, created["Records"], strict=True):
        assert line["version"] == 1
        assert line["written_at"] == float(record["dynamodb"]["NewImage"]["written_at"]["N"])
        assert line["written_at"] <= line["processed_at"]
        assert line["attempt"] == 1
        assert line["eventID"] == record["eventID"]
        assert line["SequenceNumber"] == record["dynamodb"]["SequenceNumber"]


def test_redelivery_in_a_warm_environment_counts_attempts(load_handler, capsys) -> None:
    probe = load_handler("probe", **STACK_ATTRIBUTES)
    lifecycle = event("order_lifecycle")
    probe.handler(lifecycle, FakeContext())
    probe.handler({"Records": lifecycle["Records"][2:]}, FakeContext())  # Lambda retries from the third

    lines = probe_lines(capsys.readouterr().out)
    assert [(line["version"], line["attempt"]) for line in lines] == [
        (1, 1),
        (2, 1),
        (3, 1),
        (4, 1),
        (5, 1),
        (3, 2),
        (4, 2),
        (5, 2),
    ]


def test_default_attributes_are_the_measurement_writers(load_handler, capsys) -> None:
    probe = load_handler("probe")
    record = event("orders_created")["Records"][0]
    record["dynamodb"]["NewImage"] = {"pk": {"S": "k7"}, "v": {"N": "3"}, "w": {"N": "1700000000.25"}}
    probe.handler({"Records": [record]}, FakeContext())
    (line,) = probe_lines(capsys.readouterr().out)
    assert (line["key"], line["version"], line["written_at"]) == ("k7", 3, 1700000000.25)


def test_binary_and_number_keys_are_reported_as_written(load_handler, capsys) -> None:
    # A stream record carries a B key base64-encoded; the writer's prefix must still match it.
    probe = load_handler("probe")
    record = event("orders_created")["Records"][0]
    lines = []
    for key in ({"B": "bG9jdXN0LWFiYy0x"}, {"B": "//79"}, {"N": "739201000042"}):
        record["dynamodb"]["NewImage"] = {"pk": key, "v": {"N": "1"}, "w": {"N": "1700000000.25"}}
        probe.handler({"Records": [record]}, FakeContext())
        lines += probe_lines(capsys.readouterr().out)
    assert [line["key"] for line in lines] == ["locust-abc-1", "//79", "739201000042"]  # not UTF-8: as carried


def test_an_empty_event_is_fine(load_handler) -> None:
    assert load_handler("probe").handler({"Records": []}, FakeContext()) == {"batchItemFailures": []}


def test_sqs_and_kinesis_records_report_the_json_they_carry(load_handler, capsys) -> None:
    import base64

    probe = load_handler("probe")
    payload = {"pk": "k1", "v": 3, "w": 1700000000.5}
    sqs_record = {"messageId": "m-1", "body": json.dumps(payload), "eventSource": "aws:sqs"}
    kinesis_record = {
        "eventID": "shardId-000000000000:1",
        "eventSource": "aws:kinesis",
        "kinesis": {"data": base64.b64encode(json.dumps(payload).encode()).decode(), "sequenceNumber": "1"},
    }
    not_json = {"messageId": "m-2", "body": "plain text", "eventSource": "aws:sqs"}
    probe.handler({"Records": [sqs_record, kinesis_record, not_json]}, FakeContext())
    lines = probe_lines(capsys.readouterr().out)
    assert [(line["key"], line["version"], line["written_at"]) for line in lines] == [
        ("k1", 3, 1700000000.5),
        ("k1", 3, 1700000000.5),
        (None, None, None),
    ]
    assert [line["eventID"] for line in lines] == ["m-1", "shardId-000000000000:1", "m-2"]
