"""Tumbling window boundaries, event shape and state handling."""

from __future__ import annotations

from streamlab.aws_rules import MAX_WINDOW_STATE_BYTES
from streamlab.emulator.esm.records import StreamRecord
from streamlab.emulator.esm.windows import TumblingWindow, window_start

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x"


def rec(seq, arrival):
    return StreamRecord({"eventID": str(seq)}, "shard-1", str(seq), arrival, "k", 10)


def test_windows_are_aligned_back_to_back():
    assert window_start(125, 60) == 120
    assert window_start(179, 60) == 120
    assert window_start(180, 60) == 180


def test_event_shape():
    window = TumblingWindow(60, "shard-1", ARN)
    assert not window.open_for([rec(1, 1_767_323_045)])
    event = window.event([rec(1, 1_767_323_045)])
    assert event == {
        "Records": [{"eventID": "1"}],
        "window": {"start": "2026-01-02T03:04:00Z", "end": "2026-01-02T03:05:00Z"},
        "state": {},
        "shardId": "shard-1",
        "eventSourceARN": ARN,
        "isFinalInvokeForWindow": False,
        "isWindowTerminatedEarly": False,
    }
    final = window.event([], final=True)
    assert final["Records"] == []
    assert final["isFinalInvokeForWindow"]


def test_state_carries_until_the_window_closes():
    window = TumblingWindow(10, "shard-1", ARN)
    window.open_for([rec(1, 100)])
    assert not window.accept({"state": {"count": 1}})
    assert window.event([rec(2, 105)])["state"] == {"count": 1}
    assert window.open_for([rec(3, 111)])  # a later window: the open one must close first
    assert window.is_due(110)
    assert not window.is_due(109)
    window.closed()
    assert window.start is None
    assert window.state == {}
    assert not window.open_for([rec(3, 111)])
    assert window.start == 110


def test_oversized_state_ends_the_window_early():
    window = TumblingWindow(10, "shard-1", ARN)
    window.open_for([rec(1, 100)])
    assert window.accept({"state": {"blob": "x" * (MAX_WINDOW_STATE_BYTES + 1)}})
    event = window.event([], final=True, terminated_early=True)
    assert event["isWindowTerminatedEarly"]
    assert event["isFinalInvokeForWindow"]
    window.restarted_early()
    assert window.start == 100
    assert window.state == {}


def test_missing_state_resets_and_snapshot_roundtrip():
    window = TumblingWindow(10, "shard-1", ARN)
    window.open_for([rec(1, 100)])
    window.accept({"state": {"n": 2}})
    copy = TumblingWindow(10, "shard-1", ARN)
    copy.restore(window.snapshot())
    assert (copy.start, copy.state) == (100, {"n": 2})
    window.accept(None)
    assert window.state == {}
