"""ParallelizationFactor (1-10): several batches of one shard in flight, per-key order kept.

with-ddb.html / services-ddb-params.html: with ParallelizationFactor > 1 Lambda processes up
to that many batches of a shard at once and still processes the records of one partition key
(here: the item's Keys) in order. Records are therefore routed by a stable hash of the key to
one of N *lanes*; each lane batches and delivers its records strictly in order, so a key's
records never overtake each other, and a lane whose batch keeps failing blocks only the keys
routed to it. The shard's checkpoint stays the contiguous processed prefix
(:class:`~streamlab.emulator.esm.checkpoint.ShardProgress`).

A lane is a thread that owns a batcher: the batching window and payload cap apply per lane,
as they do per concurrent batch on AWS.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable, Iterable

from streamlab.emulator.esm.batcher import Batcher
from streamlab.emulator.esm.records import StreamRecord

log = logging.getLogger(__name__)


def lane_for_key(partition_key: str, lanes: int) -> int:
    """Stable key -> lane routing (crc32, so it does not vary with PYTHONHASHSEED)."""
    if lanes <= 1:
        return 0
    return zlib.crc32(partition_key.encode("utf-8")) % lanes


def group_by_lane(records: Iterable[StreamRecord], lanes: int) -> dict[int, list[StreamRecord]]:
    groups: dict[int, list[StreamRecord]] = {}
    for record in records:
        groups.setdefault(lane_for_key(record.partition_key, lanes), []).append(record)
    return groups


#: ``process(batch) -> bool``: deliver a batch to the end; False when stopped midway.
ProcessBatch = Callable[[list[StreamRecord]], bool]


class Lane:
    """A thread that turns its queue of records into batches and processes them in order."""

    def __init__(
        self,
        name: str,
        batcher: Batcher,
        process: ProcessBatch,
        *,
        on_filtered: Callable[[list[StreamRecord]], None],
        on_crash: Callable[[BaseException], None],
        stop: threading.Event,
        idle: Callable[[], bool] | None = None,
        idle_interval: float = 0.1,
    ) -> None:
        self.name = name
        self._batcher = batcher
        self._process = process
        self._on_filtered = on_filtered
        self._on_crash = on_crash
        self._stop = stop
        self._idle = idle  # called when nothing is due; returns False when stopped midway
        self._idle_interval = idle_interval
        self._incoming: list[StreamRecord] = []
        self._condition = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Lane:
        self._thread.start()
        return self

    def submit(self, records: list[StreamRecord]) -> None:
        with self._condition:
            self._incoming.extend(records)
            self._condition.notify()

    def wake(self) -> None:
        with self._condition:
            self._condition.notify()

    def join(self, timeout: float | None = None) -> None:
        self.wake()
        self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _next_wait(self) -> float:
        due = self._batcher.time_until_ready()
        wait = self._idle_interval if due is None else min(due, self._idle_interval)
        return max(wait, 0.0)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                with self._condition:
                    if not self._incoming and not self._batcher.ready():
                        self._condition.wait(self._next_wait())
                    incoming, self._incoming = self._incoming, []
                    dropped = self._batcher.add(incoming) if incoming else []
                    batch = self._batcher.take()
                if dropped:
                    self._on_filtered(dropped)
                if batch:
                    if not self._process(batch):
                        return
                elif self._idle is not None and len(self._batcher) == 0 and not self._idle():
                    return
        except BaseException as error:  # reported to the worker, which restarts from the checkpoint
            log.exception("lane %s crashed", self.name)
            self._on_crash(error)
