"""One shard: an ordered run of records, a slice of the partition-key hash space, and a lifetime.

Positions: an iterator points at the sequence number of the next record GetRecords may return
(every record of the shard with a sequence number at or above it). A shard's own
StartingSequenceNumber is below its first record's (AWS's is too), so TRIM_HORIZON on a fresh
shard and AT_SEQUENCE_NUMBER of the StartingSequenceNumber both read from the beginning.

Trimming removes records from the front and remembers the highest sequence number it removed:
a position at or below it is data that is gone (TrimmedDataAccessException).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

from streamlab.emulator.streams.errors import TrimmedDataAccess, ValidationError
from streamlab.emulator.streams.records import StreamRecord

#: Partition keys hash into [0, HASH_SPACE); each open shard owns one contiguous range of it.
HASH_SPACE = 1 << 64


@dataclass
class Shard:
    shard_id: str
    parent_shard_id: str | None
    hash_low: int  # inclusive
    hash_high: int  # exclusive
    starting_sequence: int
    created_ms: int
    ending_sequence: int | None = None
    closed_ms: int | None = None
    records: list[StreamRecord] = field(default_factory=list)
    trimmed_through: int = 0  # highest sequence number removed by retention (0: none)

    @property
    def is_open(self) -> bool:
        return self.ending_sequence is None

    def owns(self, key_hash: int) -> bool:
        return self.hash_low <= key_hash < self.hash_high

    def append(self, record: StreamRecord) -> None:
        self.records.append(record)

    def close(self, now_ms: int) -> None:
        """No more records: the last one (or the start, for an empty shard) ends the range."""
        if self.is_open:
            self.ending_sequence = self.records[-1].sequence if self.records else self.starting_sequence
            self.closed_ms = now_ms

    # -- positions -------------------------------------------------------------------------
    def _first_live_position(self) -> int:
        return max(self.starting_sequence, self.trimmed_through + 1)

    def trim_horizon(self) -> int:
        return self._first_live_position()

    def end_position(self, next_sequence: int) -> int:
        """Where LATEST points: after the last record this shard holds or will hold."""
        if self.ending_sequence is not None:
            return self.ending_sequence + 1
        return next_sequence

    def check_position(self, position: int, next_sequence: int, shown: str) -> int:
        """A position a client asked for (``shown`` is the sequence number as the client gave it)."""
        if position < self.starting_sequence or position <= self.trimmed_through:
            raise TrimmedDataAccess()
        if position > self.end_position(next_sequence):
            raise ValidationError(f"Invalid SequenceNumber {shown} for shard {self.shard_id}: beyond its last record")
        return position

    # -- reading ---------------------------------------------------------------------------
    def read(self, position: int, limit: int) -> tuple[list[StreamRecord], int, bool]:
        """``(records, next position, at end)``; at end: a closed shard with nothing after them."""
        if position <= self.trimmed_through:
            raise TrimmedDataAccess()
        start = bisect_left(self.records, position, key=lambda record: record.sequence)
        page = self.records[start : start + limit]
        following = page[-1].sequence + 1 if page else position
        at_end = self.ending_sequence is not None and start + len(page) >= len(self.records)
        return page, following, at_end

    # -- retention -------------------------------------------------------------------------
    def trim(self, older_than_ms: int) -> int:
        """Drop records created before ``older_than_ms``; returns how many went."""
        records = self.records
        if not records or records[0].created_ms >= older_than_ms:
            return 0
        cut = bisect_left(records, older_than_ms, key=lambda record: record.created_ms)
        self.trimmed_through = records[cut - 1].sequence
        del records[:cut]
        return cut

    def expired(self, older_than_ms: int) -> bool:
        """Closed before the retention horizon with every record trimmed: DescribeStream drops it."""
        return self.closed_ms is not None and self.closed_ms < older_than_ms and not self.records

    def describe(self) -> dict[str, object]:
        sequence_range: dict[str, str] = {"StartingSequenceNumber": str(self.starting_sequence)}
        if self.ending_sequence is not None:
            sequence_range["EndingSequenceNumber"] = str(self.ending_sequence)
        description: dict[str, object] = {"ShardId": self.shard_id, "SequenceNumberRange": sequence_range}
        if self.parent_shard_id is not None:
            description["ParentShardId"] = self.parent_shard_id
        return description
