"""What ``streamlab up`` prints while it serves: one concise line per invocation or failure.

A telemetry sink on the endpoint's :class:`~streamlab.emulator.telemetry.FanOut`:

- each batch a mapping sends (every retry and bisect half): function, mapping (its source and the
  first 8 characters of its UUID), batch size, attempt, duration, result, and the error's type
  and message;
- each other invocation (Invoke, an Event attempt): function, type, duration, result, cold start;
- each failure that is not an invocation: records a mapping gives up on and where they went, a
  throttle, an on-failure or dead-letter delivery that failed.

``quiet`` prints failures only; ``verbose`` adds what mappings read and filtered and the full
error messages. Lines go to ``out`` (stdout), whole, one at a time.
"""

from __future__ import annotations

import datetime as dt
import sys
import threading
from enum import StrEnum
from typing import TextIO

from streamlab.emulator.telemetry import (
    AsyncDeliveryFailed,
    BatchInvoked,
    FunctionInvoked,
    InvokeOutcome,
    RecordsDiscarded,
    RecordsFiltered,
    RecordsRead,
    TelemetryEvent,
)

#: Invocation types a mapping's BatchInvoked line already reports.
MAPPING_SOURCES = frozenset({"EventSourceMapping", "dynamodb", "kinesis", "sqs", "kafka", "mq", "docdb"})
SHORT_MESSAGE_CHARS = 160


class Verbosity(StrEnum):
    QUIET = "quiet"
    NORMAL = "normal"
    VERBOSE = "verbose"


def source_name(arn: str) -> str:
    """``Orders`` for a table's stream, the queue's or Kinesis stream's name otherwise."""
    parts = arn.split(":")
    if len(parts) < 6:
        return arn
    resource = ":".join(parts[5:])
    if parts[2] == "dynamodb":
        pieces = resource.split("/")
        return pieces[1] if len(pieces) > 1 else resource
    return resource.split("/")[-1]


def function_name(arn: str) -> str:
    parts = arn.split(":")
    return parts[6] if len(parts) > 6 else arn


def _result(outcome: InvokeOutcome) -> str:
    return {
        InvokeOutcome.SUCCESS: "OK",
        InvokeOutcome.PARTIAL: "PARTIAL",
        InvokeOutcome.FUNCTION_ERROR: "ERROR",
        InvokeOutcome.TIMEOUT: "TIMEOUT",
        InvokeOutcome.THROTTLED: "THROTTLED",
        InvokeOutcome.UNREACHABLE: "NOT INVOKED",
    }[outcome]


class UpConsole:
    def __init__(self, verbosity: Verbosity = Verbosity.NORMAL, out: TextIO | None = None) -> None:
        self.verbosity = verbosity
        self._out = out
        self._lock = threading.Lock()

    def emit(self, event: TelemetryEvent) -> None:
        line = self.format(event)
        if line is None:
            return
        stamp = dt.datetime.now().strftime("%H:%M:%S.%f")[:-3]
        out = self._out or sys.stdout
        with self._lock:
            out.write(f"{stamp} {line}\n")
            out.flush()

    # -- one line per event, or None ----------------------------------------------------
    def format(self, event: TelemetryEvent) -> str | None:
        if isinstance(event, BatchInvoked):
            return self._batch(event)
        if isinstance(event, FunctionInvoked):
            return self._invocation(event)
        if isinstance(event, RecordsDiscarded):
            return self._discarded(event)
        if isinstance(event, AsyncDeliveryFailed):
            return (
                f"{event.function_name}: {event.kind.value.replace('_', ' ')} delivery to {event.target_arn} FAILED: "
                f"{self._message(event.error_message)}"
            )
        if self.verbosity == Verbosity.VERBOSE and isinstance(event, RecordsRead | RecordsFiltered):
            verb = "read" if isinstance(event, RecordsRead) else "filtered out"
            return (
                f"{source_name(event.event_source_arn)} [{event.mapping_uuid[:8]}] {verb} {len(event.record_ids)} "
                f"record(s) of {event.shard_id}"
            )
        return None

    def _batch(self, event: BatchInvoked) -> str | None:
        failed = event.outcome not in (InvokeOutcome.SUCCESS,)
        if not failed and self.verbosity == Verbosity.QUIET:
            return None
        line = (
            f"{function_name(event.function_arn)} <- {source_name(event.event_source_arn)} [{event.mapping_uuid[:8]}] "
            f"batch {len(event.record_ids)} attempt {event.attempt} {event.duration_ms:.1f} ms {_result(event.outcome)}"
        )
        if event.outcome == InvokeOutcome.PARTIAL:
            line += f" ({len(event.failed_record_ids)} item(s) reported failed)"
        if event.error_type or event.error_message:
            line += f" {event.error_type or 'Error'}: {self._message(event.error_message)}"
        return line

    def _invocation(self, event: FunctionInvoked) -> str | None:
        if event.invocation_type in MAPPING_SOURCES and event.outcome != InvokeOutcome.THROTTLED:
            return None  # its mapping's batch line says it, with the mapping
        failed = event.outcome != InvokeOutcome.SUCCESS
        if not failed and self.verbosity == Verbosity.QUIET:
            return None
        qualifier = "" if event.qualifier in ("", "$LATEST") else f":{event.qualifier}"
        line = (
            f"{event.function_name}{qualifier} {event.invocation_type} {event.duration_ms:.1f} ms "
            f"{_result(event.outcome)}{' (cold start)' if event.cold_start else ''}"
        )
        if event.error_type or event.error_message:
            line += f" {event.error_type or 'Error'}: {self._message(event.error_message)}"
        return line

    def _discarded(self, event: RecordsDiscarded) -> str:
        if event.destination_arn is None:
            where = "LOST (no on-failure destination)"
        elif event.delivered:
            where = f"sent to {event.destination_arn}"
        else:
            where = f"NOT delivered to {event.destination_arn}"
        return (
            f"{function_name(event.function_arn)} <- {source_name(event.event_source_arn)} [{event.mapping_uuid[:8]}] "
            f"gave up on {len(event.record_ids)} record(s) ({event.condition}): {where}"
        )

    def _message(self, message: str | None) -> str:
        text = (message or "").strip()
        if self.verbosity == Verbosity.VERBOSE:
            return text
        first = text.splitlines()[0] if text else ""
        return first if len(first) <= SHORT_MESSAGE_CHARS else first[: SHORT_MESSAGE_CHARS - 1] + "…"
