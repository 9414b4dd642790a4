"""moto's DynamoDB tables feed streamlab's stream store instead of moto's single stream shard.

moto keeps one ``StreamShard`` per table: a list that never splits, closes or trims, whose
records are dicts of moto's attribute objects (about 4.6 KB each for a 1 KiB item), with
iterators it stores forever. streamlab's :class:`~streamlab.emulator.streams.StreamStore` is
DynamoDB Streams as AWS shapes it (several shards, splits and lineage, retention, AWS's
formats), and the gateway serves the Streams API from it. These patches connect the two: every
place moto's tables touch their stream now tells the store instead.

moto's state lives in its process, so does the store that mirrors it: :func:`stream_store` is
the one every endpoint of the process serves (they share moto's tables too).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import threading
from collections.abc import Iterator
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import StreamShard, Table

from streamlab.emulator.kinesis_destinations import KinesisDestinations, attach_changes, moto_put_record
from streamlab.emulator.moto_patches.patching import Patcher
from streamlab.emulator.streams import StreamStore, TableInfo, stream_label

_store = StreamStore()
_destinations = KinesisDestinations()
_destinations.put = moto_put_record


def stream_store() -> StreamStore:
    """The stream store moto's tables feed while the patches are installed (one per process)."""
    return _store


def kinesis_destinations() -> KinesisDestinations:
    """The tables' Kinesis streaming destinations, fed from the same writes as the store."""
    return _destinations


def _table_info(table: Table) -> TableInfo:
    return TableInfo(
        account=table.account_id,
        region=table.region_name,
        name=table.name,
        arn=table.table_arn,
        key_schema=tuple(dict(key) for key in table.schema),
    )


def _attributes(item: Item | None) -> dict[str, Any] | None:
    return None if item is None else _base64_binaries(item.to_json()["Attributes"])


def _base64_binaries(value: Any) -> Any:
    """moto keeps a binary key's value as bytes (other B values as the request's base64 text); a
    stream record carries base64 text for both, as DynamoDB's JSON does."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {name: _base64_binaries(inner) for name, inner in value.items()}
    if isinstance(value, list):
        return [_base64_binaries(inner) for inner in value]
    return value


def feed_the_stream_store(patcher: Patcher) -> None:
    """Table writes, stream (re-)enabling, disabling and table deletion go to the stream store.

    moto appends every write of a streamed table to the table's single ``StreamShard`` (and, with
    the stream disabled, fails the write with HTTP 500: KeyError on the view type it dropped).
    Here ``StreamShard.add`` hands the change to :func:`stream_store` and keeps nothing; enabling a
    stream opens a new stream there (its shard count from the table's tag
    ``streamlab:stream-shards``) with a label to the millisecond as AWS's are
    (``2015-05-11T21:21:33.291``; moto's has microseconds); disabling it, or deleting the table,
    leaves the stream DISABLED and readable until retention removes it (DeleteTable: "the stream
    is automatically deleted after 24 hours").
    """
    original_set = Table.set_stream_specification
    original_delete = DynamoDBBackend.delete_table

    def add(self: StreamShard, old: Item | None, new: Item | None) -> None:
        table = self.table
        before, after = _attributes(old), _attributes(new)
        _store.record_change(table.table_arn, before, after)
        if _destinations.has_active(table.table_arn):  # DynamoDB's Kinesis streaming destination
            key_names = tuple(str(key["AttributeName"]) for key in table.schema)
            _destinations.record_change(table.table_arn, table.region_name, table.name, key_names, before, after)

    @functools.wraps(original_set)
    def set_stream_specification(self: Table, streams: dict[str, Any] | None) -> None:
        previous_label = self.latest_stream_label
        original_set(self, streams)
        specification = self.stream_specification or {}
        if _destinations.has_active(self.table_arn):
            attach_changes(self)  # a Kinesis destination keeps receiving the writes without a stream
        if not specification.get("StreamEnabled"):
            _store.disable_stream(self.table_arn)
            return
        now_ms = int(_store.clock() * 1000)
        label = stream_label(now_ms)
        while label == previous_label:  # a stream enabled again within the same millisecond
            now_ms += 1
            label = stream_label(now_ms)
        self.latest_stream_label = label
        tags = {tag["Key"]: tag["Value"] for tag in self.tags or []}
        _store.open_stream(_table_info(self), label, specification["StreamViewType"], tags)

    @functools.wraps(original_delete)
    def delete_table(self: DynamoDBBackend, name: str) -> Table:
        table = original_delete(self, name)
        _store.disable_stream(table.table_arn)
        _destinations.forget(table.table_arn)
        return table

    patcher.replace(StreamShard, "add", add)
    patcher.replace(Table, "set_stream_specification", set_stream_specification)
    patcher.replace(DynamoDBBackend, "delete_table", delete_table)


def allow_reenabling_a_disabled_stream(patcher: Patcher) -> None:
    """UpdateTable can turn a disabled stream back on, as a new stream with a new ARN.

    moto refuses (StreamAlreadyEnabledException) once a table ever had a stream, because
    disabling never clears the stream label. AWS allows enabling a stream on a table whose
    stream is disabled, and gives it a new label, hence a new LatestStreamArn; the old stream
    stays readable (DISABLED) until its records are trimmed.
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
