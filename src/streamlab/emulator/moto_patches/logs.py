"""moto's CloudWatch Logs, bounded: retention policies expire events, and a log group holds at most
a configured number of them.

moto keeps every log event for ever and ignores PutRetentionPolicy, so a long run (every Lambda
invocation writes START / END / REPORT and the handler's lines) grows without end. After each
PutLogEvents the group drops, oldest first, the events its retention policy (``retentionInDays``)
has expired and, beyond :attr:`LogLimits.max_events_per_group`, the oldest events of the group
(AWS has no such cap; it keeps this process's memory flat, and a run that needs more raises it:
``streamlab up --log-events-per-group N``). Streams stay, as AWS keeps empty streams.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any

from moto.logs.models import LogGroup, LogStream

from streamlab.emulator.moto_patches.patching import Patcher

DEFAULT_MAX_EVENTS_PER_GROUP = 100_000
_DAY_MS = 86_400_000


@dataclass
class LogLimits:
    """What the endpoint configures (:class:`~streamlab.emulator.endpoint.EmbeddedEndpoint`)."""

    max_events_per_group: int = DEFAULT_MAX_EVENTS_PER_GROUP


limits = LogLimits()


def bound_log_groups(patcher: Patcher) -> None:
    """Log groups honour their retention policy and hold at most ``limits.max_events_per_group`` events."""
    original = LogGroup.put_log_events

    @functools.wraps(original)
    def put_log_events(self: LogGroup, log_stream_name: str, log_events: list[dict[str, Any]]) -> str:
        token: str = original(self, log_stream_name, log_events)
        trim(self, limits.max_events_per_group, now_ms=int(time.time() * 1000))
        return token

    patcher.replace(LogGroup, "put_log_events", put_log_events)


def trim(group: LogGroup, max_events: int, now_ms: int) -> int:
    """Drop expired events, then the oldest beyond ``max_events``; how many were dropped."""
    streams: list[LogStream] = [stream for stream in group.streams.values() if stream.events]
    dropped = 0
    days = _retention_days(group)
    if days is not None:
        cutoff = now_ms - days * _DAY_MS
        for stream in streams:
            dropped += _drop_front(stream, lambda event, cutoff=cutoff: event.timestamp < cutoff)
    excess = sum(len(stream.events) for stream in streams) - max_events
    while excess > 0:
        # The stream whose first event is oldest gives up events until it is no longer the oldest.
        live = [stream for stream in streams if stream.events]
        oldest = min(live, key=lambda stream: stream.events[0].timestamp)
        others = [stream.events[0].timestamp for stream in live if stream is not oldest]
        bound = min(others) if others else None
        count = 0
        for event in oldest.events:
            if count >= excess or (bound is not None and event.timestamp > bound):
                break
            count += 1
        count = max(count, 1)
        _remove(oldest, count)
        dropped += count
        excess -= count
    return dropped


def _retention_days(group: LogGroup) -> int | None:
    try:
        days = int(group.retention_in_days) if group.retention_in_days else None
    except (TypeError, ValueError):
        return None
    return days if days and days > 0 else None


def _drop_front(stream: LogStream, expired: Any) -> int:
    count = 0
    for event in stream.events:
        if not expired(event):
            break
        count += 1
    if count:
        _remove(stream, count)
    return count


def _remove(stream: LogStream, count: int) -> None:
    removed = stream.events[:count]
    del stream.events[:count]
    stream.stored_bytes = max(0, stream.stored_bytes - sum(len(event.message) for event in removed))
