"""Key routing for ParallelizationFactor and the lane thread's ordering guarantees."""

from __future__ import annotations

import threading
import time

from streamlab.emulator.esm.batcher import Batcher
from streamlab.emulator.esm.parallel import Lane, group_by_lane, lane_for_key
from streamlab.emulator.esm.records import StreamRecord


def rec(seq, key):
    return StreamRecord({"eventID": str(seq)}, "s", str(seq), 0, key, 10)


def test_routing_is_stable_and_spreads_keys():
    keys = [f'{{"pk":{{"S":"k{i}"}}}}' for i in range(100)]
    lanes = [lane_for_key(k, 4) for k in keys]
    assert lanes == [lane_for_key(k, 4) for k in keys]
    assert set(lanes) == {0, 1, 2, 3}
    assert all(lane_for_key(k, 1) == 0 for k in keys)


def test_grouping_keeps_each_keys_order():
    records = [rec(i, f"k{i % 7}") for i in range(70)]
    for lane, group in group_by_lane(records, 3).items():
        for key in {r.partition_key for r in group}:
            assert [r.sequence for r in group if r.partition_key == key] == [
                r.sequence for r in records if r.partition_key == key
            ]
            assert lane_for_key(key, 3) == lane


def test_lane_processes_batches_in_order_and_reports_filtered():
    stop = threading.Event()
    seen: list[list[int]] = []
    done = threading.Event()

    def process(batch):
        seen.append([r.sequence for r in batch])
        if sum(len(b) for b in seen) == 9:
            done.set()
        return True

    lane = Lane(
        "t", Batcher(batch_size=4), process, on_filtered=lambda r: None, on_crash=lambda e: None, stop=stop
    ).start()
    lane.submit([rec(i, "k") for i in range(5)])
    lane.submit([rec(i, "k") for i in range(5, 9)])
    assert done.wait(5)
    stop.set()
    lane.join(2)
    assert [s for batch in seen for s in batch] == list(range(9))
    assert all(len(batch) <= 4 for batch in seen)


def test_a_blocked_lane_does_not_block_the_others():
    stop = threading.Event()
    release = threading.Event()
    delivered: list[str] = []

    def slow(batch):
        release.wait(5)
        delivered.extend(r.partition_key for r in batch)
        return True

    def fast(batch):
        delivered.extend(r.partition_key for r in batch)
        return True

    crashes = []
    blocked = Lane("a", Batcher(10), slow, on_filtered=lambda r: None, on_crash=crashes.append, stop=stop).start()
    free = Lane("b", Batcher(10), fast, on_filtered=lambda r: None, on_crash=crashes.append, stop=stop).start()
    blocked.submit([rec(1, "poison")])
    free.submit([rec(2, "other")])
    deadline = time.monotonic() + 5
    while "other" not in delivered and time.monotonic() < deadline:
        time.sleep(0.01)
    assert delivered == ["other"]
    release.set()
    stop.set()
    blocked.join(2)
    free.join(2)
    assert not crashes


def test_lane_crash_is_reported():
    stop = threading.Event()
    crashes = []

    def explode(batch):
        raise RuntimeError("bug")

    lane = Lane("c", Batcher(1), explode, on_filtered=lambda r: None, on_crash=crashes.append, stop=stop).start()
    lane.submit([rec(1, "k")])
    lane.join(2)
    assert len(crashes) == 1
    assert isinstance(crashes[0], RuntimeError)
