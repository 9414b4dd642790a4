"""moto's DynamoDB answers, shaped as AWS's.

The reference is what AWS answered in LocalStack's AWS-validated snapshots
``tests/aws/services/dynamodb/test_dynamodb.snapshot.json``: ``test_table_crud`` (CreateTable of a
provisioned table), ``test_batch_write_items`` and ``test_transaction_write_items`` (validated
2025-10-08 and 2026-01-07), and the CreateTable answers of
``test_lambda_integration_dynamodbstreams.snapshot.json`` (PAY_PER_REQUEST with a stream,
validated 2025-11-25).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any

from moto.core.responses import ActionResult
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

from streamlab.emulator.moto_patches.patching import Patcher


def _table_id(table: Table) -> str:
    """The table's TableId: a UUID, made once per table."""
    table_id = getattr(table, "streamlab_table_id", None)
    if table_id is None:
        table_id = str(uuid.uuid4())
        table.streamlab_table_id = table_id  # type: ignore[attr-defined]  # moto's Table has no such field
    return table_id


def answer_create_table_like_aws(patcher: Patcher) -> None:
    """CreateTable and DescribeTable carry a TableId; CreateTable's answer has only AWS's keys.

    moto's table description has no TableId (AWS: "Unique identifier for the table"), and
    CreateTable answers with the same description DescribeTable gives: TableStatus ACTIVE, empty
    GlobalSecondaryIndexes / LocalSecondaryIndexes lists, WarmThroughput, and a BillingModeSummary
    for provisioned tables. AWS's CreateTable answer says CREATING, lists no indexes the table
    has none of, has no WarmThroughput, and names the billing mode only for PAY_PER_REQUEST.
    """
    original_describe = Table.describe
    original_create = DynamoHandler.create_table

    @functools.wraps(original_describe)
    def describe(self: Table, base_key: str = "TableDescription") -> dict[str, Any]:
        result = original_describe(self, base_key)
        result[base_key]["TableId"] = _table_id(self)
        return result

    @functools.wraps(original_create)
    def create_table(self: DynamoHandler) -> ActionResult:
        result = original_create(self)
        description = result.result["TableDescription"]  # type: ignore[index]  # moto: a dict result
        description["TableStatus"] = "CREATING"
        description.pop("WarmThroughput", None)
        for indexes in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if not description.get(indexes):
                description.pop(indexes, None)
        if (description.get("BillingModeSummary") or {}).get("BillingMode") != "PAY_PER_REQUEST":
            description.pop("BillingModeSummary", None)
        return result

    patcher.replace(Table, "describe", describe)
    patcher.replace(DynamoHandler, "create_table", create_table)


def _only_what_was_asked(original: Callable[[DynamoHandler], ActionResult]) -> Callable[[DynamoHandler], ActionResult]:
    @functools.wraps(original)
    def answer(self: DynamoHandler) -> ActionResult:
        result = original(self)
        body: dict[str, Any] = result.result  # type: ignore[assignment]  # moto: a dict result
        if self.body.get("ReturnConsumedCapacity", "NONE") == "NONE":
            body.pop("ConsumedCapacity", None)
        if self.body.get("ReturnItemCollectionMetrics", "NONE") == "NONE":
            body.pop("ItemCollectionMetrics", None)
        return result

    return answer


def answer_writes_with_what_was_asked(patcher: Patcher) -> None:
    """BatchWriteItem and TransactWriteItems answer ConsumedCapacity / ItemCollectionMetrics only on request.

    moto always adds both (``"ConsumedCapacity": [...], "ItemCollectionMetrics": {}``). AWS answers
    BatchWriteItem with ``{"UnprocessedItems": {}}`` and TransactWriteItems with ``{}`` unless the
    request sets ReturnConsumedCapacity / ReturnItemCollectionMetrics.
    """
    for operation in ("batch_write_item", "transact_write_items"):
        patcher.replace(DynamoHandler, operation, _only_what_was_asked(getattr(DynamoHandler, operation)))


def _untracked_item(cls: type[Item], *args: Any, **kwargs: Any) -> Item:
    return object.__new__(cls)


def forget_items_once_replaced(patcher: Patcher) -> None:
    """An item that was overwritten or deleted is freed; memory does not grow with every write.

    moto's models register every instance they ever create in a class-level list
    (``BaseModel.__new__`` appends to ``cls.instances_tracked``, which only moto's own
    ``/moto-api/data.json`` dump reads), so each PutItem, UpdateItem and DeleteItem keeps one more
    ``Item`` alive for good: about 2 KB per write of a 1 KiB item, on a table whose size does not
    change. DynamoDB items are created without that registration; the table's own dicts still hold
    the live ones.
    """
    patcher.replace(Item, "__new__", staticmethod(_untracked_item))
