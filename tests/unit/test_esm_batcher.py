"""Batching by size, window and payload cap; filtering before batching; window boundaries."""

from __future__ import annotations

import json

from streamlab.aws_rules import MAX_INVOKE_PAYLOAD_BYTES
from streamlab.emulator.esm.batcher import Batcher
from streamlab.emulator.esm.filtering import RecordFilter
from streamlab.emulator.esm.records import StreamRecord, encode_json, event_payload


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def rec(i, event_name="INSERT", size=None, arrival=1_000, padding=0):
    event = {"eventID": str(i), "eventName": event_name, "dynamodb": {"SequenceNumber": str(i), "pad": "x" * padding}}
    return StreamRecord(event, "s", str(i), arrival, f"k{i}", size if size is not None else len(encode_json(event)))


def test_window_zero_sends_what_is_there():
    batcher = Batcher(batch_size=10, window_seconds=0, clock=Clock())
    batcher.add([rec(1), rec(2)])
    assert batcher.ready()
    assert [r.sequence_number for r in batcher.take()] == ["1", "2"]
    assert batcher.take() == []
    assert len(batcher) == 0


def test_window_waits_until_full_or_elapsed():
    clock = Clock()
    batcher = Batcher(batch_size=3, window_seconds=2, clock=clock)
    batcher.add([rec(1)])
    assert not batcher.ready()
    assert batcher.time_until_ready() == 2
    clock.now = 1.5
    batcher.add([rec(2)])
    assert not batcher.ready()
    assert batcher.take() == []
    clock.now = 2.0
    assert batcher.ready()
    assert len(batcher.take()) == 2


def test_full_batch_is_ready_before_the_window():
    clock = Clock()
    batcher = Batcher(batch_size=3, window_seconds=300, clock=clock)
    batcher.add([rec(i) for i in range(7)])
    assert [len(batcher.take()) for _ in range(2)] == [3, 3]
    assert not batcher.ready()  # one left: it waits for its own window
    clock.now = 300
    assert len(batcher.take()) == 1


def test_payload_cap_cuts_the_batch():
    big = MAX_INVOKE_PAYLOAD_BYTES // 3  # three of them cannot fit with the envelope
    batcher = Batcher(batch_size=100, window_seconds=300, clock=Clock())
    batcher.add([rec(i, size=big) for i in range(3)])
    assert batcher.ready()  # cap reached before size or window
    assert len(batcher.take()) == 2
    assert len(batcher.take(force=True)) == 1


def test_payload_cap_with_real_sizes():
    records = [rec(i, padding=200_000) for i in range(40)]
    batcher = Batcher(batch_size=10_000, window_seconds=0, clock=Clock())
    batcher.add(records)
    batch = batcher.take()
    assert 0 < len(batch) < 40
    assert len(encode_json(event_payload(batch))) <= MAX_INVOKE_PAYLOAD_BYTES
    assert len(encode_json(event_payload([*batch, records[len(batch)]]))) > MAX_INVOKE_PAYLOAD_BYTES


def test_filtered_records_are_returned_for_checkpointing():
    only_inserts = RecordFilter.from_criteria({"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]})}]})
    batcher = Batcher(batch_size=10, record_filter=only_inserts, clock=Clock())
    dropped = batcher.add([rec(1), rec(2, "MODIFY"), rec(3), rec(4, "REMOVE")])
    assert [r.sequence_number for r in dropped] == ["2", "4"]
    assert [r.sequence_number for r in batcher.take()] == ["1", "3"]


def test_boundary_keeps_windows_apart():
    clock = Clock()
    batcher = Batcher(batch_size=10, window_seconds=300, boundary=lambda r: r.arrival // 10, clock=clock)
    batcher.add([rec(1, arrival=100), rec(2, arrival=105)])
    assert not batcher.ready()
    batcher.add([rec(3, arrival=111)])  # a later window: the earlier records must go now
    assert [r.sequence_number for r in batcher.take()] == ["1", "2"]
    assert not batcher.ready()
    assert [r.sequence_number for r in batcher.take(force=True)] == ["3"]


def test_drain_returns_everything():
    batcher = Batcher(batch_size=10, window_seconds=60, clock=Clock())
    batcher.add([rec(1), rec(2)])
    assert [r.sequence_number for r in batcher.drain()] == ["1", "2"]
    assert batcher.time_until_ready() is None
