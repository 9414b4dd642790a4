"""One table's stream: its shards, their lineage, and which shard each item's records go to.

Routing: the partition key value (the table's HASH attribute) is hashed into a 64-bit space
that the open shards divide between them. An item's records therefore always land in the open
shard owning its hash, and after a split in a child of that shard: one item's records stay in
one lineage, in write order, as DynamoDB keeps them ("changes to one item appear in the order
they were made"; Streams.html).

Shards close and open children as AWS's do (Streams.html, "the stream records in a shard are
removed after 24 hours ... a shard can split"; DescribeStream's ParentShardId):

- a *rollover* closes every open shard and opens one child per shard, with the same key range
  (AWS rolls shards over routinely, about every four hours);
- a *split* closes every open shard and opens two children, each with half of its parent's range
  (a partition split).

Sequence numbers come from one counter per stream, so they grow in write order across all its
shards; each starts from the stream's creation time in milliseconds times 10^9, which makes them
22-23 digits (AWS's are 21-40) and keeps a re-enabled stream's numbers above the old one's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from streamlab.emulator.streams.errors import LimitExceeded, shard_not_found
from streamlab.emulator.streams.records import Item, StreamRecord
from streamlab.emulator.streams.shard import HASH_SPACE, Shard

SEQUENCE_SCALE = 10**9


@dataclass(frozen=True)
class TableInfo:
    """What a stream needs to know about its table."""

    account: str
    region: str
    name: str
    arn: str
    key_schema: tuple[Mapping[str, str], ...]

    @property
    def hash_key(self) -> str:
        return next(k["AttributeName"] for k in self.key_schema if k["KeyType"] == "HASH")

    @property
    def range_key(self) -> str | None:
        return next((k["AttributeName"] for k in self.key_schema if k["KeyType"] == "RANGE"), None)


def stream_label(created_ms: int) -> str:
    """AWS's label: an ISO 8601 UTC time to the millisecond, without a zone (``2015-05-11T21:21:33.291``)."""
    moment = dt.datetime.fromtimestamp(created_ms / 1000, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{created_ms % 1000:03d}"


def key_hash(value: Mapping[str, Any]) -> int:
    """Where a partition key value falls in the hash space (stable across processes)."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return int.from_bytes(hashlib.md5(canonical, usedforsecurity=False).digest()[:8], "big")


class Stream:
    """The shards of one stream (callers hold the store's lock)."""

    def __init__(
        self, table: TableInfo, label: str, view_type: str, created_ms: int, shard_count: int, max_open_shards: int
    ) -> None:
        self.table = table
        self.label = label
        self.arn = f"{table.arn}/stream/{label}"
        self.view_type = view_type
        self.created_ms = created_ms
        self.enabled = True
        self.disabled_ms: int | None = None
        self.max_open_shards = max_open_shards
        self._last_sequence = created_ms * SEQUENCE_SCALE
        self._last_shard_ms = 0
        self.shards: dict[str, Shard] = {}  # in creation order, which is also shard id order
        self._open: list[Shard] = []
        width = HASH_SPACE // shard_count
        for index in range(shard_count):
            high = HASH_SPACE if index == shard_count - 1 else (index + 1) * width
            self._open_shard(None, index * width, high, created_ms)

    # -- shards ----------------------------------------------------------------------------
    def _shard_id(self, now_ms: int) -> str:
        # The number is the creation time in ms, made strictly increasing so ids sort in creation order.
        self._last_shard_ms = max(now_ms, self._last_shard_ms + 1)
        return f"shardId-{self._last_shard_ms:020d}-{secrets.token_hex(4)}"

    def _open_shard(self, parent: str | None, low: int, high: int, now_ms: int) -> Shard:
        shard = Shard(self._shard_id(now_ms), parent, low, high, self._last_sequence, now_ms)
        self.shards[shard.shard_id] = shard
        self._open.append(shard)
        return shard

    def open_shards(self) -> list[Shard]:
        return list(self._open)

    def shard(self, shard_id: str) -> Shard:
        shard = self.shards.get(shard_id)
        if shard is None:
            raise shard_not_found(shard_id)
        return shard

    @property
    def next_sequence(self) -> int:
        return self._last_sequence + 1

    # -- writes ----------------------------------------------------------------------------
    def append(self, keys: Item, old: Item | None, new: Item | None, now_ms: int) -> StreamRecord | None:
        """Record one item change in the shard its partition key routes to (None: stream disabled)."""
        if not self.enabled:
            return None
        routed = key_hash(keys[self.table.hash_key])
        shard = next(s for s in self._open if s.owns(routed))
        if shard.records:
            now_ms = max(now_ms, shard.records[-1].created_ms)  # trimming relies on time order
        self._last_sequence += 1
        record = StreamRecord.build(self._last_sequence, now_ms, self.view_type, keys, old, new)
        shard.append(record)
        return record

    def reshard(self, children: int, now_ms: int) -> list[Shard]:
        """Close every open shard and open ``children`` (1: rollover, 2: split) per shard."""
        if children not in (1, 2):
            raise ValueError(f"a shard has 1 or 2 children, not {children}")
        parents = self._open
        if len(parents) * children > self.max_open_shards:
            raise LimitExceeded(
                f"Splitting {len(parents)} open shards would open {len(parents) * children}; "
                f"this endpoint allows at most {self.max_open_shards} open shards per stream"
            )
        self._open = []
        opened: list[Shard] = []
        for parent in parents:
            parent.close(now_ms)
            low, high = parent.hash_low, parent.hash_high
            middle = low + (high - low) // 2
            ranges = [(low, high)] if children == 1 else [(low, middle), (middle, high)]
            opened.extend(self._open_shard(parent.shard_id, start, end, now_ms) for start, end in ranges)
        return opened

    def disable(self, now_ms: int) -> None:
        """No more records; the shards close and stay readable until retention removes them."""
        if self.enabled:
            self.enabled = False
            self.disabled_ms = now_ms
            for shard in self._open:
                shard.close(now_ms)
            self._open = []

    # -- retention -------------------------------------------------------------------------
    def trim(self, older_than_ms: int) -> int:
        """Drop records (and closed, emptied shards) older than the horizon; returns records dropped."""
        dropped = sum(shard.trim(older_than_ms) for shard in self.shards.values())
        for shard_id in [shard_id for shard_id, shard in self.shards.items() if shard.expired(older_than_ms)]:
            del self.shards[shard_id]
        return dropped

    def expired(self, older_than_ms: int) -> bool:
        return self.disabled_ms is not None and self.disabled_ms < older_than_ms and not self.shards

    # -- describing ------------------------------------------------------------------------
    @property
    def status(self) -> str:
        return "ENABLED" if self.enabled else "DISABLED"

    def record_count(self) -> int:
        return sum(len(shard.records) for shard in self.shards.values())

    def listed_shards(self, exclusive_start: str | None, children_of: str | None) -> Iterable[Shard]:
        for shard in self.shards.values():
            if exclusive_start is not None and shard.shard_id <= exclusive_start:
                continue
            if children_of is not None and shard.parent_shard_id != children_of:
                continue
            yield shard

    def describe(
        self, limit: int = 100, exclusive_start: str | None = None, children_of: str | None = None
    ) -> dict[str, Any]:
        """DescribeStream's StreamDescription, one page of shards (LastEvaluatedShardId if more)."""
        shards = list(self.listed_shards(exclusive_start, children_of))
        page = shards[:limit]
        description: dict[str, Any] = {
            "StreamArn": self.arn,
            "StreamLabel": self.label,
            "StreamStatus": self.status,
            "StreamViewType": self.view_type,
            "CreationRequestDateTime": self.created_ms / 1000,
            "TableName": self.table.name,
            "KeySchema": [dict(key) for key in self.table.key_schema],
            "Shards": [shard.describe() for shard in page],
        }
        if len(shards) > len(page):
            description["LastEvaluatedShardId"] = page[-1].shard_id
        return description

    def summary(self) -> dict[str, str]:
        """ListStreams' entry."""
        return {"StreamArn": self.arn, "TableName": self.table.name, "StreamLabel": self.label}
