"""Checkpoints: per mapping, per shard, the last sequence number fully processed.

Lambda checkpoints a shard at the highest sequence number of a batch that succeeded (or was
discarded to the on-failure destination, or filtered out) and resumes after it: when a
mapping is disabled and enabled again, and when a poller is replaced (with-ddb.html,
services-ddb-batchfailurereporting.html). The store outlives workers so a restarted or
re-enabled worker resumes from it; it is in memory, like the rest of the embedded endpoint.

With ParallelizationFactor > 1 batches of one shard finish out of order, so the checkpoint
is the end of the *contiguous* prefix of finished records (:class:`ShardProgress`): a record
is never skipped because a later batch finished first.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class ShardCheckpoint:
    sequence_number: str | None = None  # last record fully processed
    finished: bool = False  # closed shard read and processed to its end
    pinned_iterator: str | None = None  # LATEST iterator taken at mapping creation, before any record
    window_state: dict[str, Any] | None = field(default=None, compare=False)  # tumbling window carry-over


class CheckpointStore:
    """Thread-safe ``(mapping uuid, shard id) -> ShardCheckpoint``; sequence numbers only move forward."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shards: dict[str, dict[str, ShardCheckpoint]] = {}
        self._started: set[str] = set()

    def get(self, mapping_uuid: str, shard_id: str) -> ShardCheckpoint:
        with self._lock:
            return self._shards.get(mapping_uuid, {}).get(shard_id, ShardCheckpoint())

    def shards(self, mapping_uuid: str) -> dict[str, ShardCheckpoint]:
        with self._lock:
            return dict(self._shards.get(mapping_uuid, {}))

    def has_started(self, mapping_uuid: str) -> bool:
        """Whether this mapping already took its StartingPosition (first start only)."""
        with self._lock:
            return mapping_uuid in self._started

    def mark_started(self, mapping_uuid: str) -> None:
        with self._lock:
            self._started.add(mapping_uuid)

    def _update(self, mapping_uuid: str, shard_id: str, **changes: Any) -> ShardCheckpoint:
        with self._lock:
            shards = self._shards.setdefault(mapping_uuid, {})
            current = shards.get(shard_id, ShardCheckpoint())
            updated = shards[shard_id] = replace(current, **changes)
            return updated

    def advance(self, mapping_uuid: str, shard_id: str, sequence_number: str) -> bool:
        """Move the checkpoint to ``sequence_number`` if it is further; True when it moved."""
        with self._lock:
            shards = self._shards.setdefault(mapping_uuid, {})
            current = shards.get(shard_id, ShardCheckpoint())
            if current.sequence_number is not None and int(current.sequence_number) >= int(sequence_number):
                return False
            shards[shard_id] = replace(current, sequence_number=sequence_number, pinned_iterator=None)
            return True

    def mark_finished(self, mapping_uuid: str, shard_id: str) -> None:
        self._update(mapping_uuid, shard_id, finished=True, pinned_iterator=None)

    def pin_iterator(self, mapping_uuid: str, shard_id: str, iterator: str | None) -> None:
        self._update(mapping_uuid, shard_id, pinned_iterator=iterator)

    def save_window_state(self, mapping_uuid: str, shard_id: str, state: dict[str, Any] | None) -> None:
        self._update(mapping_uuid, shard_id, window_state=state)

    def forget_shards(self, mapping_uuid: str, keep: set[str]) -> None:
        """Drop the checkpoints of this mapping's shards that are not in ``keep`` (trimmed away)."""
        with self._lock:
            shards = self._shards.get(mapping_uuid)
            if shards:
                for shard_id in [shard_id for shard_id in shards if shard_id not in keep]:
                    del shards[shard_id]

    def forget(self, mapping_uuid: str) -> None:
        """Drop everything about a deleted mapping."""
        with self._lock:
            self._shards.pop(mapping_uuid, None)
            self._started.discard(mapping_uuid)


class ShardProgress:
    """Records read from one shard, in order, and which are done; yields the new checkpoint.

    ``add`` registers records as they are read; ``complete`` marks some done (delivered,
    discarded or filtered); ``checkpoint`` is the last sequence number of the done prefix.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: deque[str] = deque()  # sequence numbers in read order, not yet checkpointed
        self._done: set[str] = set()

    def add(self, sequence_numbers: list[str]) -> None:
        with self._lock:
            self._pending.extend(sequence_numbers)

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._pending)

    def complete(self, sequence_numbers: list[str]) -> str | None:
        """Mark done; return the new checkpoint if the done prefix grew, else None."""
        with self._lock:
            self._done.update(sequence_numbers)
            advanced: str | None = None
            while self._pending and self._pending[0] in self._done:
                advanced = self._pending.popleft()
                self._done.discard(advanced)
            return advanced
