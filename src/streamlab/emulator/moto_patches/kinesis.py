"""moto's Kinesis, where the event source mapping engine reads it while writers put records."""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto.kinesis.models import Shard

from streamlab.emulator.moto_patches.patching import Patcher

#: One lock for every shard's records: a put is a dict insert, a read a short scan.
_RECORDS_LOCK = threading.RLock()


def serialize_shard_records(patcher: Patcher) -> None:
    """PutRecord and GetRecords on one shard at the same time neither fail nor collide.

    moto's ``Shard`` keeps records in an OrderedDict with no lock (its own comment: "this function
    is not safe for concurrency"): a GetRecords scanning it while a PutRecord inserts fails with
    "OrderedDict mutated during iteration" (an HTTP 500 to the reader), and two concurrent puts can
    take the same sequence number, one record replacing the other. AWS serves both concurrently.
    """
    for name in ("put_record", "get_records", "get_sequence_number_at"):
        original = getattr(Shard, name)

        def locked(original: Any) -> Any:
            @functools.wraps(original)
            def call(self: Shard, *args: Any, **kwargs: Any) -> Any:
                with _RECORDS_LOCK:
                    return original(self, *args, **kwargs)

            return call

        patcher.replace(Shard, name, locked(original))
