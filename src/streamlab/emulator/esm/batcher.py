"""Batching: BatchSize, MaximumBatchingWindowInSeconds, the 6 MB payload cap, filters.

services-ddb-params.html / with-ddb.html: Lambda invokes the function when the batch is full
(BatchSize, 1-10,000), when the batching window (0-300 s) elapses, or when the batch reaches
the 6 MB synchronous payload limit, whichever comes first. With a window of 0 the records at
hand are sent at once. Filtering happens before batching (invocation-eventfiltering.html):
records that match no filter never reach the function and are returned to the caller so they
can be checkpointed like processed ones.

A ``boundary`` function (tumbling windows) keeps records of different windows out of one
batch: a batch ends where the boundary changes, and a buffered record of a later window
makes the earlier records ready at once.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable

from streamlab.aws_rules import MAX_INVOKE_PAYLOAD_BYTES
from streamlab.emulator.esm.filtering import RecordFilter
from streamlab.emulator.esm.records import StreamRecord, payload_size

_ENVELOPE = payload_size([])


class Batcher:
    def __init__(
        self,
        batch_size: int = 100,
        window_seconds: float = 0.0,
        *,
        max_payload_bytes: int = MAX_INVOKE_PAYLOAD_BYTES,
        record_filter: RecordFilter | None = None,
        boundary: Callable[[StreamRecord], Hashable] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.batch_size = batch_size
        self.window_seconds = window_seconds
        self.max_payload_bytes = max_payload_bytes
        self.record_filter = record_filter
        self.boundary = boundary
        self._clock = clock
        self._buffer: deque[StreamRecord] = deque()
        self._buffer_bytes = 0
        self._window_opened: float | None = None

    def __len__(self) -> int:
        return len(self._buffer)

    def add(self, records: Iterable[StreamRecord]) -> list[StreamRecord]:
        """Buffer the records that pass the filter; return the ones filtered out."""
        dropped: list[StreamRecord] = []
        for record in records:
            if self.record_filter is not None and not self.record_filter.matches(record.filtered_event):
                dropped.append(record)
                continue
            if not self._buffer:
                self._window_opened = self._clock()
            self._buffer.append(record)
            self._buffer_bytes += record.size + 1
        return dropped

    def _payload_full(self) -> bool:
        return _ENVELOPE + self._buffer_bytes - 1 >= self.max_payload_bytes

    def _crosses_boundary(self) -> bool:
        if self.boundary is None or len(self._buffer) < 2:
            return False
        return self.boundary(self._buffer[0]) != self.boundary(self._buffer[-1])

    def time_until_ready(self) -> float | None:
        """Seconds until the buffered records must go (0: now); None when nothing is buffered."""
        if not self._buffer:
            return None
        if len(self._buffer) >= self.batch_size or self._payload_full() or self._crosses_boundary():
            return 0.0
        opened = self._window_opened if self._window_opened is not None else self._clock()
        return max(0.0, opened + self.window_seconds - self._clock())

    def ready(self) -> bool:
        wait = self.time_until_ready()
        return wait is not None and wait <= 0

    def take(self, force: bool = False) -> list[StreamRecord]:
        """The next batch if one is due (or ``force``): in order, within size, payload and window."""
        if not self._buffer or not (force or self.ready()):
            return []
        batch: list[StreamRecord] = []
        size = _ENVELOPE
        first_boundary = self.boundary(self._buffer[0]) if self.boundary else None
        while self._buffer and len(batch) < self.batch_size:
            record = self._buffer[0]
            if batch and size + record.size + 1 > self.max_payload_bytes:
                break
            if self.boundary is not None and self.boundary(record) != first_boundary:
                break
            self._buffer.popleft()
            self._buffer_bytes -= record.size + 1
            size += record.size + (1 if batch else 0)
            batch.append(record)
        # What is left has waited already; it is sent on its own schedule from now on.
        self._window_opened = self._clock() if self._buffer else None
        return batch

    def drain(self) -> list[StreamRecord]:
        """Everything buffered (a stopping worker gives records back unprocessed)."""
        records = list(self._buffer)
        self._buffer.clear()
        self._buffer_bytes = 0
        self._window_opened = None
        return records
