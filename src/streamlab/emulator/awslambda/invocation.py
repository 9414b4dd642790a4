"""One invocation in flight: what the Runtime API hands to the runtime, and how it ended.

The invoking thread, the Runtime API connection thread and the environment's exit
watcher all race to end an invocation (response, timeout, crash); :meth:`Invocation.finish`
lets exactly one of them win.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Literal

OutcomeKind = Literal["response", "error", "init_error", "exit", "timeout", "throttled"]

#: A log line: (epoch milliseconds, message without the trailing newline).
LogLine = tuple[int, str]


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    payload: bytes
    error_type: str | None = None

    @property
    def function_error(self) -> str | None:
        """The ``X-Amz-Function-Error`` value: every failure of the function is Unhandled."""
        return None if self.kind == "response" else "Unhandled"


@dataclass
class Invocation:
    payload: bytes
    function_arn: str
    timeout_s: float
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_context: str | None = None
    cognito_identity: str | None = None
    trace_id: str = ""
    #: Set when the runtime received the event (or the invocation ended before that).
    delivered: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    delivered_at: float = 0.0  # perf_counter
    delivered_epoch_ms: int = 0
    deadline_ms: int = 0
    finished_at: float = 0.0  # perf_counter
    outcome: Outcome | None = None
    #: Output the environment produced before this invocation started (its init, on a cold start).
    pre_lines: list[LogLine] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not self.trace_id:
            self.trace_id = (
                f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()};Parent={os.urandom(8).hex()};Sampled=0"
            )

    def mark_delivered(self) -> None:
        self.delivered_at = time.perf_counter()
        self.delivered_epoch_ms = int(time.time() * 1000)
        self.deadline_ms = self.delivered_epoch_ms + int(self.timeout_s * 1000)
        self.delivered.set()

    def finish(self, outcome: Outcome) -> bool:
        """Record how the invocation ended; False when something else ended it first."""
        with self._lock:
            if self.outcome is not None:
                return False
            self.outcome = outcome
            self.finished_at = time.perf_counter()
        self.delivered.set()
        self.done.set()
        return True
