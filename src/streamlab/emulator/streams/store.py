"""Every stream of the endpoint, fed by the table writes, served by the DynamoDB Streams API.

The store is what DynamoDB Streams is to DynamoDB: tables tell it when a stream is enabled or
disabled (:meth:`StreamStore.open_stream`, :meth:`StreamStore.disable_stream`) and hand it every
item change (:meth:`StreamStore.record_change`); readers describe streams, take iterators and
read records. It keeps AWS's rules:

- a write that changes nothing writes no record (Streams.html);
- each table's stream has ``settings.shards`` shards, or as many as its tag
  ``streamlab:stream-shards`` says, and every item's records go to one lineage of them
  (:mod:`.stream`);
- shards roll over every ``settings.rotation_seconds`` (AWS does, routinely) and split on demand
  (:meth:`StreamStore.reshard`);
- records older than ``settings.retention_seconds`` (AWS: 24 hours) are removed from memory,
  an iterator into them answers TrimmedDataAccessException, and closed shards and disabled
  streams disappear once nothing in them is left;
- a disabled stream, or the stream of a deleted table, stays readable (DISABLED) until then.

One lock guards everything; every operation is short (no I/O under it). A maintenance thread
trims and rolls over in the background once :meth:`StreamStore.start` ran; tests may instead
call :meth:`StreamStore.maintain` with their own clock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from streamlab.aws_rules import STREAM_RETENTION_SECONDS, STREAM_VIEW_TYPES
from streamlab.emulator.streams.errors import ExpiredIterator, ValidationError, stream_not_found, table_not_found
from streamlab.emulator.streams.iterators import IteratorCodec, IteratorState
from streamlab.emulator.streams.records import Item, StreamRecord, same_item
from streamlab.emulator.streams.shard import Shard
from streamlab.emulator.streams.stream import Stream, TableInfo

log = logging.getLogger(__name__)

#: Table tag that sets how many shards the table's stream starts with.
SHARDS_TAG = "streamlab:stream-shards"
DEFAULT_RETENTION_SECONDS = STREAM_RETENTION_SECONDS
MAX_SHARDS = 64


@dataclass(frozen=True)
class StreamSettings:
    """How the endpoint shapes its streams (``streamlab up --stream-shards/--shard-rotation/--stream-retention``)."""

    shards: int = 1
    rotation_seconds: float | None = None
    retention_seconds: float = DEFAULT_RETENTION_SECONDS
    max_open_shards: int = MAX_SHARDS

    def __post_init__(self) -> None:
        if not 1 <= self.shards <= self.max_open_shards:
            raise ValueError(f"stream shards must be between 1 and {self.max_open_shards}, not {self.shards}")
        if self.rotation_seconds is not None and self.rotation_seconds <= 0:
            raise ValueError(f"shard rotation must be a positive number of seconds, not {self.rotation_seconds}")
        if self.retention_seconds <= 0:
            raise ValueError(f"stream retention must be a positive number of seconds, not {self.retention_seconds}")


@dataclass(frozen=True)
class Reshard:
    """What a split or rollover did: the shards it closed and the children it opened."""

    stream_arn: str
    closed: list[str]
    opened: list[Shard]


@dataclass(frozen=True)
class RecordsPage:
    records: list[StreamRecord]
    next_iterator: str | None  # None: a closed shard read to its end
    stream: Stream


def shard_count_from_tags(tags: Mapping[str, str], default: int, maximum: int) -> int:
    """The ``streamlab:stream-shards`` tag's value, if it is a whole number in range (else ``default``)."""
    value = tags.get(SHARDS_TAG)
    if value is None:
        return default
    try:
        count = int(value)
    except ValueError:
        count = 0
    if not 1 <= count <= maximum:
        log.warning("ignoring tag %s=%r: expected a whole number from 1 to %d", SHARDS_TAG, value, maximum)
        return default
    return count


class StreamStore:
    """See the module docstring. ``clock`` gives seconds since the epoch (tests move it)."""

    def __init__(self, settings: StreamSettings | None = None, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings or StreamSettings()
        self.clock = clock
        self._codec = IteratorCodec()
        self._lock = threading.RLock()
        self._streams: dict[str, Stream] = {}  # by stream ARN, oldest first
        self._current: dict[str, Stream] = {}  # by table ARN: the stream new records go to
        self._next_rotation: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def configure(self, settings: StreamSettings) -> None:
        """New settings for streams created from now on (and the rotation period from now)."""
        with self._lock:
            self.settings = settings
            self._next_rotation = None

    # -- the table side ----------------------------------------------------------------------
    def open_stream(
        self, table: TableInfo, label: str, view_type: str, tags: Mapping[str, str] | None = None
    ) -> Stream:
        """A table enabled its stream (CreateTable or UpdateTable): it gets a new one, ENABLED."""
        if view_type not in STREAM_VIEW_TYPES:
            raise ValidationError(f"Invalid StreamViewType: {view_type}")
        settings = self.settings
        shards = shard_count_from_tags(tags or {}, settings.shards, settings.max_open_shards)
        with self._lock:
            now_ms = self._now_ms()
            previous = self._current.get(table.arn)
            if previous is not None:
                previous.disable(now_ms)
            stream = Stream(table, label, view_type, now_ms, shards, settings.max_open_shards)
            self._streams[stream.arn] = stream
            self._current[table.arn] = stream
        log.debug("stream %s opened with %d shard(s)", stream.arn, shards)
        return stream

    def disable_stream(self, table_arn: str) -> None:
        """The table disabled its stream, or was deleted: the stream is DISABLED, still readable."""
        with self._lock:
            stream = self._current.pop(table_arn, None)
            if stream is not None:
                stream.disable(self._now_ms())

    def record_change(self, table_arn: str, old: Item | None, new: Item | None) -> StreamRecord | None:
        """One item changed (``old``/``new`` None: it did not exist / no longer exists).

        Returns the record written, or None: no stream, or nothing changed.
        """
        if same_item(old, new):
            return None
        with self._lock:
            stream = self._current.get(table_arn)
            if stream is None:
                return None
            image = new if new is not None else old
            assert image is not None
            keys = {name: image[name] for name in (stream.table.hash_key, stream.table.range_key) if name is not None}
            return stream.append(keys, old, new, self._now_ms())

    # -- shards on demand --------------------------------------------------------------------
    def current_stream(self, region: str, table_name: str, account: str | None = None) -> Stream:
        with self._lock:
            for stream in self._current.values():
                table = stream.table
                if table.name == table_name and table.region == region and account in (None, table.account):
                    return stream
        raise table_not_found(table_name)

    def reshard(self, region: str, table_name: str, children: int = 2, account: str | None = None) -> Reshard:
        """Close the table's open shards and open their children (2: a split, 1: a rollover)."""
        with self._lock:
            stream = self.current_stream(region, table_name, account)
            closed = [shard.shard_id for shard in stream.open_shards()]
            opened = stream.reshard(children, self._now_ms())
        log.info("stream %s: %d shard(s) closed, %d opened", stream.arn, len(closed), len(opened))
        return Reshard(stream.arn, closed, opened)

    # -- the reader side ---------------------------------------------------------------------
    def stream(self, arn: str) -> Stream:
        with self._lock:
            stream = self._streams.get(arn)
        if stream is None:
            raise stream_not_found(arn)
        return stream

    def exists(self, arn: str) -> bool:
        with self._lock:
            return arn in self._streams

    def describe(
        self, arn: str, limit: int = 100, exclusive_start: str | None = None, children_of: str | None = None
    ) -> dict[str, Any]:
        with self._lock:
            return self.stream(arn).describe(limit, exclusive_start, children_of)

    def list_streams(
        self, region: str, table_name: str | None = None, account: str | None = None
    ) -> list[dict[str, str]]:
        """ListStreams' entries for a region (and table), oldest stream first."""
        with self._lock:
            return [
                stream.summary()
                for stream in self._streams.values()
                if stream.table.region == region
                and account in (None, stream.table.account)
                and table_name in (None, stream.table.name)
            ]

    def shard_iterator(self, arn: str, shard_id: str, iterator_type: str, sequence_number: str | None = None) -> str:
        """GetShardIterator (the API layer checked the request's shape)."""
        with self._lock:
            stream = self.stream(arn)
            shard = stream.shard(shard_id)
            if iterator_type == "TRIM_HORIZON":
                position = shard.trim_horizon()
            elif iterator_type == "LATEST":
                position = shard.end_position(stream.next_sequence)
            else:
                assert sequence_number is not None
                position = int(sequence_number) + (1 if iterator_type == "AFTER_SEQUENCE_NUMBER" else 0)
                position = shard.check_position(position, stream.next_sequence, sequence_number)
            now_ms = self._now_ms()
        return self._codec.encode(IteratorState(arn, shard_id, position, now_ms))

    def get_records(self, iterator: str, limit: int) -> RecordsPage:
        """GetRecords: up to ``limit`` records from the iterator's position, and the next iterator."""
        state = self._codec.decode(iterator)
        now_ms = self._now_ms()
        if state.is_expired(now_ms):
            raise ExpiredIterator()
        with self._lock:
            stream = self.stream(state.stream_arn)
            shard = stream.shard(state.shard_id)
            records, following, at_end = shard.read(state.position, limit)
        next_iterator = None
        if not at_end:
            next_iterator = self._codec.encode(replace(state, position=following, issued_ms=now_ms))
        return RecordsPage(records, next_iterator, stream)

    # -- maintenance -------------------------------------------------------------------------
    def maintain(self) -> int:
        """Trim by retention, drop what emptied, roll over if due; returns the records trimmed."""
        now = self.clock()
        with self._lock:
            horizon_ms = int((now - self.settings.retention_seconds) * 1000)
            trimmed = sum(stream.trim(horizon_ms) for stream in self._streams.values())
            for arn in [arn for arn, stream in self._streams.items() if stream.expired(horizon_ms)]:
                del self._streams[arn]
            rotation = self.settings.rotation_seconds
            if rotation is not None:
                if self._next_rotation is None:
                    self._next_rotation = now + rotation
                elif now >= self._next_rotation:
                    self._next_rotation = now + rotation
                    now_ms = int(now * 1000)
                    for stream in self._current.values():
                        stream.reshard(1, now_ms)
        return trimmed

    def start(self) -> StreamStore:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._maintain_forever, name="stream-store", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _interval(self) -> float:
        settings = self.settings
        interval = min(1.0, settings.retention_seconds / 20)
        if settings.rotation_seconds is not None:
            interval = min(interval, settings.rotation_seconds / 4)
        return max(interval, 0.01)

    def _maintain_forever(self) -> None:
        while not self._stop.wait(self._interval()):
            try:
                self.maintain()
            except Exception:  # keep trimming whatever one stream did
                log.exception("stream store maintenance failed")

    # -- figures -----------------------------------------------------------------------------
    def overview(self) -> list[dict[str, Any]]:
        """Per stream: its table, status, shards and retained records (``streamlab status``)."""
        with self._lock:
            return [
                {
                    "StreamArn": stream.arn,
                    "TableName": stream.table.name,
                    "Region": stream.table.region,
                    "StreamStatus": stream.status,
                    "Shards": len(stream.shards),
                    "OpenShards": len(stream.open_shards()),
                    "Records": stream.record_count(),
                }
                for stream in self._streams.values()
            ]

    def stats(self) -> dict[str, int]:
        with self._lock:
            streams = list(self._streams.values())
            return {
                "streams": len(streams),
                "shards": sum(len(stream.shards) for stream in streams),
                "open_shards": sum(len(stream.open_shards()) for stream in streams),
                "records": sum(stream.record_count() for stream in streams),
            }
