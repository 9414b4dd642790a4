"""Tumbling windows (TumblingWindowInSeconds, 0-900): state carried between invocations.

services-ddb-windows.html:

- every record belongs to a window given by its insertion time (ApproximateCreationDateTime);
  windows are fixed, back to back: [k*W, (k+1)*W);
- the event gains ``window`` {start, end}, ``state``, ``shardId``, ``eventSourceARN``,
  ``isFinalInvokeForWindow`` and ``isWindowTerminatedEarly``;
- the function must answer ``{"state": {...}}`` (plus batchItemFailures when used); without
  ``state`` the invocation counts as failed;
- the state is carried per shard from one invocation to the next within the window; when the
  window ends Lambda makes a final invocation (``isFinalInvokeForWindow`` true) with the
  aggregated state, and the state is dropped after it succeeds; a failed final invocation
  suspends the shard until it succeeds;
- state is at most 1 MB per shard; above that the window ends early
  (``isWindowTerminatedEarly``) and the same window continues with a fresh state.

Choices where the docs say nothing (UNVERIFIED): the final invocation carries ``Records: []``;
a window is closed by the wall clock passing its end (no later record needed); the early
termination is its own final-style invocation carrying the oversized state.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from typing import Any

from streamlab.aws_rules import MAX_WINDOW_STATE_BYTES
from streamlab.emulator.esm.records import StreamRecord


def iso_utc(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def window_start(arrival: float, seconds: float) -> float:
    return math.floor(arrival / seconds) * seconds


@dataclass
class TumblingWindow:
    """One shard's window and its state."""

    seconds: float
    shard_id: str
    stream_arn: str
    start: float | None = None  # the open window; None when no window is open
    state: dict[str, Any] = field(default_factory=dict)

    def boundary(self, record: StreamRecord) -> float:
        """The batcher's boundary key: records of different windows never share a batch."""
        return window_start(record.arrival, self.seconds)

    @property
    def end(self) -> float | None:
        return None if self.start is None else self.start + self.seconds

    def open_for(self, records: list[StreamRecord]) -> bool:
        """True when the open window must be closed before these records (a later window)."""
        if not records:
            return False
        start = self.boundary(records[0])
        if self.start is not None and start != self.start:
            return True
        self.start = start
        return False

    def is_due(self, now: float) -> bool:
        end = self.end
        return end is not None and now >= end

    def event(
        self, records: list[StreamRecord], *, final: bool = False, terminated_early: bool = False
    ) -> dict[str, Any]:
        start = self.start if self.start is not None else (self.boundary(records[0]) if records else 0.0)
        return {
            "Records": [record.event for record in records],
            "window": {"start": iso_utc(start), "end": iso_utc(start + self.seconds)},
            "state": self.state,
            "shardId": self.shard_id,
            "eventSourceARN": self.stream_arn,
            "isFinalInvokeForWindow": final,
            "isWindowTerminatedEarly": terminated_early,
        }

    def accept(self, response: Any) -> bool:
        """Keep the function's new state; True when it exceeds 1 MB (the window ends early)."""
        state = response.get("state") if isinstance(response, dict) else None
        self.state = state if isinstance(state, dict) else {}
        return len(json.dumps(self.state).encode()) > MAX_WINDOW_STATE_BYTES

    def closed(self) -> None:
        """The final invocation succeeded: the window and its state are gone."""
        self.start = None
        self.state = {}

    def restarted_early(self) -> None:
        """The early-termination invocation succeeded: same window, fresh state."""
        self.state = {}

    def snapshot(self) -> dict[str, Any]:
        return {"start": self.start, "state": self.state}

    def restore(self, saved: dict[str, Any] | None) -> None:
        if saved:
            self.start = saved.get("start")
            self.state = dict(saved.get("state") or {})
