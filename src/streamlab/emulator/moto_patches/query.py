"""A Query on a table's key reads that key's partition, not the whole table.

moto's ``Table.query`` without an index builds its candidates from ``all_items()``, which lists
and *sorts* every item of the table, and then keeps those with the queried hash key: each Query
costs O(n log n) in the table's size. benchmarks/concurrency.py showed it: after a run with 200
clients (4,000 items) the same 4-client load ran at a third of its first throughput. Here moto's
own query runs on a view of the table that holds only the queried partition, so results, order,
paging and filters are moto's, at the cost of the partition. Queries on an index are unchanged
(moto keeps no index structure to read from).
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

from streamlab.emulator.moto_patches.patching import Patcher


def query_only_the_partition(patcher: Patcher) -> None:
    """Query on a table's hash key reads that partition only."""
    original = Table.query

    @functools.wraps(original)
    def query(self: Table, hash_key: DynamoType | None, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name or hash_key is None:
            return original(self, hash_key, *args, **kwargs)
        view = copy.copy(self)
        view.items = {hash_key: self.items[hash_key]} if hash_key in self.items else {}  # type: ignore[assignment]
        return original(view, hash_key, *args, **kwargs)

    patcher.replace(Table, "query", query)
