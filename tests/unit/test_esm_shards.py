"""The engine across many shards of a real stream store: lineage, concurrency, per-shard figures.

The stream is streamlab's :class:`StreamStore` read through :class:`StoreStreamReader` (what the
embedded endpoint runs); ``invoke`` records what each invocation received and when.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections import defaultdict
from typing import Any

import pytest

from streamlab.emulator.esm import EventSourceMappingEngine, InvokeResult, MappingConfig
from streamlab.emulator.esm.store_reader import StoreStreamReader
from streamlab.emulator.streams import StreamSettings, StreamStore, TableInfo, stream_label
from streamlab.testing import eventually

TABLE = TableInfo(
    account="123456789012",
    region="us-east-1",
    name="orders",
    arn="arn:aws:dynamodb:us-east-1:123456789012:table/orders",
    key_schema=({"AttributeName": "pk", "KeyType": "HASH"},),
)


class Recorder:
    """An invoke callable: records each batch with its start/end times; may sleep."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.calls: list[dict[str, Any]] = []
        self.in_flight = 0
        self.most_in_flight = 0

    def __call__(self, name: str, payload: bytes) -> InvokeResult:
        started = time.monotonic()
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        if self.delay:
            time.sleep(self.delay)
        records = json.loads(payload)["Records"]
        with self.lock:
            self.in_flight -= 1
            self.calls.append({"records": records, "started": started, "ended": time.monotonic()})
        return InvokeResult(200, b"")

    def delivered(self) -> list[tuple[str, int]]:
        with self.lock:
            return [
                (r["dynamodb"]["Keys"]["pk"]["S"], int(r["dynamodb"]["NewImage"]["v"]["N"]))
                for call in self.calls
                for r in call["records"]
            ]


wait_for = functools.partial(eventually, timeout=10.0, interval=0.01)


def write(store: StreamStore, key: str, version: int) -> None:
    old = {"pk": {"S": key}, "v": {"N": str(version - 1)}} if version else None
    store.record_change(TABLE.arn, old, {"pk": {"S": key}, "v": {"N": str(version)}})


@pytest.fixture
def store() -> StreamStore:
    return StreamStore(StreamSettings(shards=4))


def start(store: StreamStore, recorder: Recorder, **parameters: Any) -> tuple[EventSourceMappingEngine, str]:
    arn = store.open_stream(TABLE, stream_label(int(time.time() * 1000)), "NEW_AND_OLD_IMAGES").arn
    engine = EventSourceMappingEngine(
        recorder,
        None,
        reader_factory=lambda config: StoreStreamReader(store),
        destination=None,
        poll_interval=0.02,
        shard_refresh_interval=0.05,
    )
    engine.start_mapping(MappingConfig(uuid="m", function_name="f", event_source_arn=arn, **parameters))
    return engine, arn


def shard_of_sequences(store: StreamStore, arn: str) -> dict[int, str]:
    stream = store.stream(arn)
    return {record.sequence: shard.shard_id for shard in stream.shards.values() for record in shard.records}


@pytest.mark.parametrize("parallelization", [1, 3])
def test_splits_under_load_lose_nothing_duplicate_nothing_and_keep_per_key_order(
    store: StreamStore, parallelization: int
) -> None:
    recorder = Recorder()
    engine, arn = start(store, recorder, batch_size=7, parallelization_factor=parallelization)
    keys, versions = 50, 8
    try:
        for version in range(versions):
            for index in range(keys):
                write(store, f"key-{index}", version)
            if version in (2, 5):
                store.reshard(TABLE.region, TABLE.name, children=2)
        wait_for(lambda: len(recorder.delivered()) >= keys * versions)
        time.sleep(0.1)  # anything extra would show up now
    finally:
        engine.stop_all()

    delivered = recorder.delivered()
    assert len(delivered) == keys * versions, "no duplicates"
    assert set(delivered) == {(f"key-{i}", v) for i in range(keys) for v in range(versions)}, "no loss"
    per_key: dict[str, list[int]] = defaultdict(list)
    for key, version in delivered:
        per_key[key].append(version)
    assert all(seen == list(range(versions)) for seen in per_key.values()), "per-key order"

    # Parents before children: every batch of a child started after its parent's last batch ended.
    shard_of = shard_of_sequences(store, arn)
    shards = {shard["ShardId"]: shard for shard in store.describe(arn)["Shards"]}
    assert len(shards) == 4 + 8 + 16
    spans: dict[str, tuple[float, float]] = {}
    for call in recorder.calls:
        [shard_id] = {shard_of[int(r["dynamodb"]["SequenceNumber"])] for r in call["records"]}
        first, last = spans.get(shard_id, (call["started"], call["ended"]))
        spans[shard_id] = (min(first, call["started"]), max(last, call["ended"]))
    for shard_id, (first_started, _) in spans.items():
        parent = shards[shard_id].get("ParentShardId")
        if parent in spans:
            assert first_started >= spans[parent][1], f"{shard_id} started before its parent {parent} was drained"


def test_handlers_run_concurrently_on_several_shards(store: StreamStore) -> None:
    recorder = Recorder(delay=0.2)
    engine, _ = start(store, recorder, batch_size=1)
    try:
        for index in range(16):
            write(store, f"key-{index}", 0)
        wait_for(lambda: len(recorder.delivered()) == 16)
    finally:
        engine.stop_all()
    assert recorder.most_in_flight >= 3, "one batch at a time per shard, four shards at a time"
    assert recorder.most_in_flight <= 4, "no more than one batch per shard without ParallelizationFactor"


def test_iterator_age_and_checkpoints_are_per_shard(store: StreamStore) -> None:
    recorder = Recorder()
    engine, arn = start(store, recorder)
    try:
        for index in range(40):
            write(store, f"key-{index}", 0)
        wait_for(lambda: len(recorder.delivered()) == 40)
        open_ids = {shard["ShardId"] for shard in store.describe(arn)["Shards"]}
        wait_for(lambda: set(engine.status("m").iterator_age_by_shard) == open_ids)
        checkpoints = engine.checkpoints.shards("m")
        assert {shard_id for shard_id, saved in checkpoints.items() if saved.sequence_number} == open_ids
        shard_of = shard_of_sequences(store, arn)
        for shard_id, saved in checkpoints.items():
            assert shard_of[int(saved.sequence_number or 0)] == shard_id
    finally:
        engine.stop_all()


def test_checkpoints_of_shards_retention_removed_are_forgotten() -> None:
    now = [1_800_000_000.0]
    store = StreamStore(StreamSettings(shards=2, retention_seconds=60), clock=lambda: now[0])
    recorder = Recorder()
    engine, arn = start(store, recorder)
    try:
        write(store, "a", 0)
        parents = {shard["ShardId"] for shard in store.describe(arn)["Shards"]}
        store.reshard(TABLE.region, TABLE.name, children=1)
        write(store, "a", 1)
        wait_for(lambda: len(recorder.delivered()) == 2)
        wait_for(lambda: all(engine.checkpoints.get("m", p).finished for p in parents))
        now[0] += 61
        store.maintain()
        assert not parents & {shard["ShardId"] for shard in store.describe(arn)["Shards"]}
        wait_for(lambda: not parents & set(engine.checkpoints.shards("m")))
        write(store, "a", 2)
        wait_for(lambda: len(recorder.delivered()) == 3)
    finally:
        engine.stop_all()
    assert [version for _, version in recorder.delivered()] == [0, 1, 2]
