"""moto's DynamoDB stream records, corrected to what AWS writes.

Every fix is one function below, named after what it makes moto do, with a docstring that says
what moto 5.2.5 does and what AWS does instead. The registry (``moto_patches/__init__.py``)
installs them in its order: ``StreamShard.add`` is wrapped several times, and the UpdateItem
coalescing must be outermost, so the single record it writes at the end still passes the
filters installed before it.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import StreamRecord, StreamShard, Table
from moto.dynamodb.models.utilities import bytesize

from streamlab.emulator.moto_patches.patching import Patcher


def skip_records_for_unchanged_items(patcher: Patcher) -> None:
    """No record for a write that changes nothing.

    moto appends a MODIFY for every PutItem/UpdateItem of an existing item, even when the item is
    identical afterwards. AWS writes a stream record only when an item is inserted, changed or
    deleted: a PutItem that rewrites the same item, or an UpdateItem that sets the values it
    already has, leaves the stream untouched (and a DeleteItem of a missing item writes nothing,
    which moto already gets right).
    """
    original = StreamShard.add

    @functools.wraps(original)
    def add(self: StreamShard, old: Item | None, new: Item | None) -> None:
        if old is None and new is None:
            return
        if old is not None and new is not None and old == new:
            return
        original(self, old, new)

    patcher.replace(StreamShard, "add", add)


def skip_records_while_stream_disabled(patcher: Patcher) -> None:
    """Writes to a table whose stream was disabled succeed and write no record.

    moto keeps the table's shard after ``UpdateTable(StreamSpecification={StreamEnabled: False})``
    but drops the StreamViewType, so every later PutItem/UpdateItem/DeleteItem fails with HTTP 500
    (KeyError in StreamShard.add). AWS stops writing records to a disabled stream and the table
    keeps working. The view type is remembered so DescribeStream can still describe the stream.
    """
    original_add = StreamShard.add
    original_set = Table.set_stream_specification

    @functools.wraps(original_add)
    def add(self: StreamShard, old: Item | None, new: Item | None) -> None:
        if (self.table.stream_specification or {}).get("StreamEnabled"):
            original_add(self, old, new)

    @functools.wraps(original_set)
    def set_stream_specification(self: Table, streams: dict[str, Any] | None) -> None:
        original_set(self, streams)
        view_type = (self.stream_specification or {}).get("StreamViewType")
        if view_type:
            self.streamlab_view_type = view_type  # type: ignore[attr-defined]  # moto's Table has no slot for it

    patcher.replace(StreamShard, "add", add)
    patcher.replace(Table, "set_stream_specification", set_stream_specification)


def allow_reenabling_a_disabled_stream(patcher: Patcher) -> None:
    """UpdateTable can turn a disabled stream back on, as a new stream with a new ARN.

    moto refuses (StreamAlreadyEnabledException) once a table ever had a stream, because
    disabling never clears the stream label. AWS allows enabling a stream on a table whose
    stream is disabled, and gives it a new label, hence a new LatestStreamArn. Unlike AWS,
    which keeps the old stream readable for 24 hours, moto has room for one stream a table,
    so the old stream's records are gone once the new one starts.
    """
    original = DynamoDBBackend.update_table_streams

    @functools.wraps(original)
    def update_table_streams(self: DynamoDBBackend, table: Table, stream_specification: dict[str, Any]) -> None:
        currently_enabled = (table.stream_specification or {}).get("StreamEnabled")
        turning_on = stream_specification.get("StreamEnabled") or stream_specification.get("StreamViewType")
        if turning_on and not currently_enabled:
            table.set_stream_specification(stream_specification)
            return
        original(self, table, stream_specification)

    patcher.replace(DynamoDBBackend, "update_table_streams", update_table_streams)


_deferred = threading.local()


@contextlib.contextmanager
def _coalesced_records(shard: StreamShard | None) -> Iterator[None]:
    """Within the block, collect the shard's (old, new) pairs; then write one record for them all."""
    pending: dict[int, list[tuple[Item | None, Item | None]]] = _deferred.__dict__.setdefault("by_shard", {})
    if shard is None or id(shard) in pending:
        yield
        return
    pending[id(shard)] = []
    try:
        yield
    finally:
        changes = pending.pop(id(shard))
        if changes:
            shard.add(changes[0][0], changes[-1][1])


def emit_one_record_per_update_item(patcher: Patcher) -> None:
    """An UpdateItem that creates an item writes exactly one INSERT, with the whole new item.

    moto creates the missing item with a keys-only PutItem (one INSERT with a keys-only
    NewImage), then applies the update and appends a second INSERT. AWS writes one record per
    item change: one INSERT whose NewImage is the item as the update left it. The updates' stream
    writes are collected and written once, from the item before to the item after the call.
    """
    original_update = DynamoDBBackend.update_item
    original_add = StreamShard.add

    @functools.wraps(original_update)
    def update_item(self: DynamoDBBackend, table_name: str, *args: Any, **kwargs: Any) -> Item:
        with _coalesced_records(self.get_table(table_name).stream_shard):
            return original_update(self, table_name, *args, **kwargs)

    @functools.wraps(original_add)
    def add(self: StreamShard, old: Item | None, new: Item | None) -> None:
        pending = getattr(_deferred, "by_shard", {}).get(id(self))
        if pending is not None:
            pending.append((old, new))
        else:
            original_add(self, old, new)

    patcher.replace(DynamoDBBackend, "update_item", update_item)
    patcher.replace(StreamShard, "add", add)


def use_table_region_in_records(patcher: Patcher) -> None:
    """awsRegion is the table's region.

    moto hard-codes ``"awsRegion": "us-east-1"`` in every record. AWS sets it to the region the
    stream lives in (Record.awsRegion: "The region in which the GetRecords request was received"),
    which is the table's region.
    """
    original = StreamRecord.__init__

    @functools.wraps(original)
    def __init__(self: StreamRecord, table: Table, *args: Any, **kwargs: Any) -> None:
        original(self, table, *args, **kwargs)
        self.record["awsRegion"] = table.region_name

    patcher.replace(StreamRecord, "__init__", __init__)


def round_creation_time_to_seconds(patcher: Patcher) -> None:
    """ApproximateCreationDateTime is whole epoch seconds.

    moto stamps the record with the current time to the microsecond (on the wire: epoch seconds
    with a fraction). AWS: "in UNIX epoch time format and rounded down to the closest second".
    """
    original = StreamRecord.__init__

    @functools.wraps(original)
    def __init__(self: StreamRecord, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        stream_record = self.record["dynamodb"]
        created = stream_record["ApproximateCreationDateTime"]
        stream_record["ApproximateCreationDateTime"] = created.replace(microsecond=0)

    patcher.replace(StreamRecord, "__init__", __init__)


def _attributes_size(attributes: dict[str, Any]) -> int:
    """DynamoDB's size of an attribute map: each name's UTF-8 length plus its value's size."""
    return sum(bytesize(name) + DynamoType(value).size() for name, value in attributes.items())


def size_records_by_keys_and_images(patcher: Patcher) -> None:
    """SizeBytes counts the record's keys and images.

    moto sets SizeBytes to the length of the record's JSON text (type tags, sequence number,
    view type and timestamp included), several times AWS's figure. AWS counts the item size of
    Keys plus NewImage and OldImage where present: a record whose key is {ID: "2", Title: "aaa"}
    and whose NewImage is that same item has SizeBytes 22. Consumers batch by it.
    """
    original = StreamRecord.__init__

    @functools.wraps(original)
    def __init__(self: StreamRecord, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        stream_record = self.record["dynamodb"]
        parts = [stream_record[part] for part in ("Keys", "NewImage", "OldImage") if part in stream_record]
        stream_record["SizeBytes"] = max(1, sum(_attributes_size(part) for part in parts))

    patcher.replace(StreamRecord, "__init__", __init__)


def use_current_event_version(patcher: Patcher) -> None:
    """eventVersion is "1.1".

    moto writes eventVersion "1.0"; DynamoDB Streams' GetRecords (and the Lambda events built from
    it) has written "1.1" for years. Clients should not depend on it, but fixtures and snapshot
    tests recorded against AWS do.
    """
    original = StreamRecord.__init__

    @functools.wraps(original)
    def __init__(self: StreamRecord, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.record["eventVersion"] = "1.1"

    patcher.replace(StreamRecord, "__init__", __init__)
