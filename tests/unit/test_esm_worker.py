"""The worker's glue without a network: lineage across a reshard, LATEST at creation, restart.

The stream is an in-memory :class:`StreamReader`; ``invoke`` is a recording callable.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import threading

import pytest

from streamlab.emulator.esm import EventSourceMappingEngine, InvokeResult, MappingConfig
from streamlab.emulator.esm.poller import RecordsPage, ShardInfo
from streamlab.testing import eventually

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x"


class MemoryStream:
    """Shards of records; iterators are '<shard>|<index>'. Closed shards end their iterators."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.shards: dict[str, dict] = {}
        self.sequence = 100

    def add_shard(self, shard_id: str, parent: str | None = None) -> None:
        with self.lock:
            self.shards[shard_id] = {"parent": parent, "records": [], "closed": False}

    def close(self, shard_id: str) -> None:
        with self.lock:
            self.shards[shard_id]["closed"] = True

    def write(self, shard_id: str, key: str) -> None:
        with self.lock:
            self.sequence += 1
            self.shards[shard_id]["records"].append(
                {
                    "eventID": str(self.sequence),
                    "eventName": "INSERT",
                    "dynamodb": {
                        "ApproximateCreationDateTime": dt.datetime.now(dt.UTC),
                        "Keys": {"pk": {"S": key}},
                        "SequenceNumber": str(self.sequence),
                        "SizeBytes": 10,
                        "StreamViewType": "KEYS_ONLY",
                    },
                }
            )

    # StreamReader
    def list_shards(self, stream_arn):
        with self.lock:
            return [
                ShardInfo(shard_id, info["parent"], "1", str(self.sequence) if info["closed"] else None)
                for shard_id, info in self.shards.items()
            ]

    def shard_iterator(self, stream_arn, shard_id, iterator_type, sequence_number=None):
        with self.lock:
            records = self.shards[shard_id]["records"]
            if iterator_type == "TRIM_HORIZON":
                return f"{shard_id}|0"
            if iterator_type == "LATEST":
                return f"{shard_id}|{len(records)}"
            index = next(i + 1 for i, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] == sequence_number)
            return f"{shard_id}|{index}"

    def get_records(self, iterator, limit=1000):
        shard_id, index = iterator.split("|")
        with self.lock:
            shard = self.shards[shard_id]
            page = shard["records"][int(index) : int(index) + limit]
            end = int(index) + len(page)
            done = shard["closed"] and end >= len(shard["records"])
            return RecordsPage(page, None if done else f"{shard_id}|{end}")


wait_for = functools.partial(eventually, timeout=5.0, interval=0.01)


def keys_of(events):
    return [r["dynamodb"]["Keys"]["pk"]["S"] for e in events for r in e["Records"]]


def engine_for(stream, events, **options):
    def invoke(name, payload):
        events.append(json.loads(payload))
        return InvokeResult(200, b"")

    return EventSourceMappingEngine(
        invoke,
        None,
        reader_factory=lambda config: stream,
        destination=None,
        poll_interval=0.02,
        shard_refresh_interval=0.05,
        **options,
    )


def test_parent_shard_is_finished_before_its_child():
    stream = MemoryStream()
    stream.add_shard("parent")
    for n in range(3):
        stream.write("parent", f"p{n}")
    stream.close("parent")
    stream.add_shard("child", parent="parent")
    for n in range(3):
        stream.write("child", f"c{n}")
    events: list[dict] = []
    engine = engine_for(stream, events)
    config = MappingConfig(uuid="m1", function_name="f", event_source_arn=ARN, batch_size=2)
    engine.start_mapping(config)
    try:
        wait_for(lambda: len(keys_of(events)) == 6)
        assert keys_of(events) == ["p0", "p1", "p2", "c0", "c1", "c2"]
        wait_for(lambda: engine.checkpoints.get("m1", "parent").finished)
    finally:
        engine.stop_all()


def test_latest_skips_closed_shards_and_existing_records_then_reads_new_shards_from_the_start():
    stream = MemoryStream()
    stream.add_shard("old")
    stream.write("old", "old-record")
    stream.close("old")
    stream.add_shard("open", parent="old")
    stream.write("open", "before")
    events: list[dict] = []
    engine = engine_for(stream, events)
    engine.start_mapping(MappingConfig(uuid="m2", function_name="f", event_source_arn=ARN, starting_position="LATEST"))
    try:
        stream.write("open", "after")
        wait_for(lambda: keys_of(events) == ["after"])
        stream.close("open")
        stream.add_shard("split", parent="open")
        stream.write("split", "new-shard")
        wait_for(lambda: keys_of(events) == ["after", "new-shard"])
    finally:
        engine.stop_all()


def test_restarting_the_engine_object_resumes_from_a_shared_checkpoint_store():
    stream = MemoryStream()
    stream.add_shard("s")
    stream.write("s", "a")
    events: list[dict] = []
    first = engine_for(stream, events)
    config = MappingConfig(uuid="m3", function_name="f", event_source_arn=ARN)
    first.start_mapping(config)
    wait_for(lambda: keys_of(events) == ["a"])
    wait_for(lambda: first.checkpoints.get("m3", "s").sequence_number is not None)
    first.stop_all()
    stream.write("s", "b")
    second = engine_for(stream, events, checkpoints=first.checkpoints)
    second.start_mapping(config)
    try:
        wait_for(lambda: keys_of(events) == ["a", "b"])
    finally:
        second.stop_all()


def test_status_listener_sees_processing_results():
    stream = MemoryStream()
    stream.add_shard("s")
    results: list[tuple[str, str]] = []
    answers = iter([InvokeResult(200, b"{}", "Unhandled")])
    engine = EventSourceMappingEngine(
        lambda name, payload: next(answers, InvokeResult(200, b"")),
        None,
        reader_factory=lambda config: stream,
        destination=None,
        poll_interval=0.02,
        retry_backoff=0.01,
        status_listener=lambda uuid, result: results.append((uuid, result)),
    )
    engine.start_mapping(MappingConfig(uuid="m4", function_name="f", event_source_arn=ARN))
    try:
        assert engine.last_processing_result("m4") == "No records processed"
        stream.write("s", "x")
        wait_for(lambda: len(results) == 2)
        assert results == [("m4", "PROBLEM: Function call failed"), ("m4", "OK")]
        assert engine.status("m4").iterator_age_ms >= 0
    finally:
        engine.stop_all()


class DyingStream(MemoryStream):
    """Ends the worker thread itself (a BaseException the supervisor does not catch) once."""

    def __init__(self) -> None:
        super().__init__()
        self.die = threading.Event()

    def get_records(self, iterator, limit=1000):
        page = super().get_records(iterator, limit)
        if page.records and self.die.is_set():
            self.die.clear()
            raise SystemExit("thread killed")
        return page


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_worker_thread_is_revived_from_the_checkpoint_on_wake():
    stream = DyingStream()
    stream.add_shard("s")
    events: list[dict] = []
    engine = engine_for(stream, events, watchdog_interval=None)  # revived by this test, not the watchdog
    engine.start_mapping(MappingConfig(uuid="m5", function_name="f", event_source_arn=ARN))
    try:
        stream.write("s", "a")
        wait_for(lambda: keys_of(events) == ["a"])
        wait_for(lambda: engine.checkpoints.get("m5", "s").sequence_number is not None)
        stream.die.set()
        stream.write("s", "b")
        wait_for(lambda: not engine.is_running("m5"))
        assert engine.revive_dead_workers() == ["m5"]
        wait_for(lambda: keys_of(events) == ["a", "b"])
        assert engine.status("m5").restarts == 1
        assert engine.revive_dead_workers() == []
    finally:
        engine.stop_all()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_the_watchdog_revives_a_dead_worker_without_another_write():
    """A worker that dies after the last write must not wait for some unrelated write."""
    stream = DyingStream()
    stream.add_shard("s")
    events: list[dict] = []
    engine = engine_for(stream, events, watchdog_interval=0.05)
    engine.start_mapping(MappingConfig(uuid="m7", function_name="f", event_source_arn=ARN))
    try:
        stream.write("s", "a")
        wait_for(lambda: keys_of(events) == ["a"])
        wait_for(lambda: engine.checkpoints.get("m7", "s").sequence_number is not None)
        stream.die.set()
        stream.write("s", "b")  # nothing calls engine.wake(): only the watchdog can revive it
        wait_for(lambda: keys_of(events) == ["a", "b"])
        assert engine.status("m7").restarts == 1
    finally:
        engine.stop_all()


def test_iterator_age_grows_while_a_batch_is_retried_and_clears_once_caught_up():
    """IteratorAge is measured at each invocation (the event's last record), not when read."""
    stream = MemoryStream()
    stream.add_shard("s")
    fixed = threading.Event()
    delivered: list[dict] = []

    def invoke(name, payload):
        if not fixed.is_set():
            return InvokeResult(200, b'{"errorMessage":"poison"}', "Unhandled")
        delivered.append(json.loads(payload))
        return InvokeResult(200, b"")

    engine = EventSourceMappingEngine(
        invoke,
        None,
        reader_factory=lambda config: stream,
        destination=None,
        poll_interval=0.02,
        retry_backoff=0.01,
        retry_backoff_max=0.05,
    )
    engine.start_mapping(MappingConfig(uuid="m8", function_name="f", event_source_arn=ARN))
    try:
        stream.write("s", "poison")
        wait_for(lambda: engine.status("m8").iterator_age_ms >= 1000, timeout=4)
        stream.write("s", "fresh")  # read meanwhile, queued behind the poison: the age stays
        wait_for(lambda: engine.status("m8").records_read == 2)
        assert engine.status("m8").iterator_age_ms >= 1000
        fixed.set()
        wait_for(lambda: keys_of(delivered) == ["poison", "fresh"])
        wait_for(lambda: engine.status("m8").iterator_age_ms == 0)
    finally:
        engine.stop_all()


def test_oversized_window_state_terminates_the_window_early_and_continues_it_fresh():
    stream = MemoryStream()
    stream.add_shard("s")
    events: list[dict] = []

    def invoke(name, payload):
        event = json.loads(payload)
        events.append(event)
        if event["Records"] and len(events) == 1:
            return InvokeResult(200, json.dumps({"state": {"blob": "x" * (1024 * 1024 + 10)}}).encode())
        return InvokeResult(200, json.dumps({"state": {"seen": len(event["Records"])}}).encode())

    engine = EventSourceMappingEngine(
        invoke, None, reader_factory=lambda config: stream, destination=None, poll_interval=0.02
    )
    engine.start_mapping(
        MappingConfig(uuid="m6", function_name="f", event_source_arn=ARN, tumbling_window_in_seconds=600)
    )
    try:
        stream.write("s", "a")
        wait_for(lambda: len(events) >= 2)
        stream.write("s", "b")
        wait_for(lambda: len(events) >= 3)
        first, early, after = events[:3]
        assert first["state"] == {}
        assert not first["isFinalInvokeForWindow"]
        assert early["isWindowTerminatedEarly"]
        assert early["isFinalInvokeForWindow"]
        assert early["Records"] == []
        assert len(early["state"]["blob"]) > 1024 * 1024  # the oversized state is handed over once
        assert after["state"] == {}
        assert after["window"] == first["window"]
        assert keys_of([after]) == ["b"]
    finally:
        engine.stop_all()
