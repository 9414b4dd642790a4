"""streamlab's own DynamoDB Streams: a store fed by the table writes, and the API that reads it.

- :class:`StreamStore` keeps every stream: shards routed by partition key, splits and rollovers
  with their lineage, retention, signed stateless iterators;
- :class:`StreamSettings` is how the endpoint shapes them (shards, rotation, retention);
- :class:`StreamsApi` answers DescribeStream, GetShardIterator, GetRecords and ListStreams;
- :class:`TableInfo` is what the table side tells the store about a table.

The table side (moto's DynamoDB, through :mod:`streamlab.emulator.moto_patches`) calls
:meth:`StreamStore.open_stream`, :meth:`StreamStore.disable_stream` and
:meth:`StreamStore.record_change`; nothing here imports moto.
"""

from streamlab.emulator.streams.api import StreamsApi
from streamlab.emulator.streams.errors import (
    ExpiredIterator,
    LimitExceeded,
    ResourceNotFound,
    StreamsError,
    TrimmedDataAccess,
    ValidationError,
)
from streamlab.emulator.streams.records import StreamRecord
from streamlab.emulator.streams.store import (
    DEFAULT_RETENTION_SECONDS,
    SHARDS_TAG,
    RecordsPage,
    Reshard,
    StreamSettings,
    StreamStore,
)
from streamlab.emulator.streams.stream import Stream, TableInfo, stream_label

__all__ = [
    "DEFAULT_RETENTION_SECONDS",
    "SHARDS_TAG",
    "ExpiredIterator",
    "LimitExceeded",
    "RecordsPage",
    "Reshard",
    "ResourceNotFound",
    "Stream",
    "StreamRecord",
    "StreamSettings",
    "StreamStore",
    "StreamsApi",
    "StreamsError",
    "TableInfo",
    "TrimmedDataAccess",
    "ValidationError",
    "stream_label",
]
