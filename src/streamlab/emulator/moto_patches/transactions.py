"""TransactWriteItems at the cost of the items it touches, with AWS's all-or-nothing semantics.

moto makes a transaction atomic by deep-copying every table it touches before it starts and
putting the copies back if an item fails: on a 5,000-item table of 1 KiB items each call took
0.4-1.3 s and left ~15 MiB behind; on 10,000 items the p50 was 3.5 s. Its rollback also swapped
in copies of the tables' stream shards, and it answered a type mismatch in one item's update with
a ValidationException for the call instead of a cancellation reason.

Here a transaction runs in three steps (TransactWriteItems API reference, read 2026-12):

1. up front, as AWS does, each item's table must exist, its key must match the schema, and no
   item may appear twice (ResourceNotFoundException / ValidationException for the call);
2. every item runs, in order, through moto's own PutItem / UpdateItem / DeleteItem (conditions,
   expressions, ReturnValuesOnConditionCheckFailure) against *shadow* tables: shallow copies of the
   touched tables holding deep copies of the touched items only, and no stream. Each item gets a
   cancellation reason: ``None``, ``ConditionalCheckFailed`` (with the old item when asked), or
   ``ValidationError`` for a failure that depends on the data (a type mismatch, an item too large);
3. if any item failed, TransactionCanceledException with every reason, and nothing was written;
   otherwise each changed item is written to the real table with moto's ``put_item`` /
   ``delete_item``, which record one stream record per item, in transaction order.

``ClientRequestToken`` (AWS: idempotent for 10 minutes): the same token with the same request
returns the first call's answer without writing again; with a different request it is an
``IdempotentParameterMismatchException``. Tokens are kept per account and region, at most
``MAX_TOKENS`` of them, for ``TRANSACTION_TOKEN_TTL_SECONDS``.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import time
from collections import OrderedDict, defaultdict
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ERROR_TYPE_PREFIX,
    ConditionalCheckFailed,
    DynamodbException,
    MockValidationException,
    MultipleTransactionsException,
    TransactionCanceledException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

from streamlab.aws_rules import MAX_TRANSACTION_ITEMS, TRANSACTION_TOKEN_TTL_SECONDS
from streamlab.emulator.moto_patches.patching import Patcher
from streamlab.errors import StreamlabError

ACTIONS = ("ConditionCheck", "Put", "Delete", "Update")
MAX_TOKENS = 10_000

_Position = tuple[str, DynamoType, DynamoType | None]  # table name, hash key, range key
_Reason = tuple[str | None, str | None, Any]  # code, message, item: moto's TransactionCanceledException input


class IdempotentParameterMismatchException(DynamodbException, StreamlabError):
    """A ClientRequestToken reused with another request (AWS's error, raised inside moto's handler)."""

    def __init__(self) -> None:
        super().__init__(
            ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException",
            message="The request uses the same client token as a previous, but non-identical request.",
        )


def write_only_the_touched_items(patcher: Patcher) -> None:
    """TransactWriteItems copies the items it touches, not whole tables, and writes only on success."""

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        positions = [_position(self, item) for item in transact_items]  # refuses what AWS refuses up front
        shadow = _shadow_backend(self, positions)
        reasons = [_run(shadow, item, position) for item, position in zip(transact_items, positions, strict=True)]
        if any(code is not None for code, _, _ in reasons):
            raise TransactionCanceledException(reasons)
        for item, position in zip(transact_items, positions, strict=True):
            if "ConditionCheck" not in item:
                _write_back(self, shadow, position)

    patcher.replace(DynamoDBBackend, "transact_write_items", transact_write_items)


def check_transaction_shape_and_tokens(patcher: Patcher) -> None:
    """TransactWriteItems: one action per item and 1-100 items (ValidationException, as AWS
    answers, where moto fails with an IndexError or accepts), and ``ClientRequestToken`` idempotency."""
    original = DynamoHandler.transact_write_items
    tokens: dict[tuple[str, str, str], OrderedDict[str, tuple[str, float, Any]]] = defaultdict(OrderedDict)

    @functools.wraps(original)
    def transact_write_items(self: DynamoHandler) -> Any:
        items = self.body.get("TransactItems") or []
        _check_shape(items)
        token = self.body.get("ClientRequestToken")
        if not token:
            return original(self)
        seen = tokens[(self.current_account, self.region, "TransactWriteItems")]
        fingerprint = _fingerprint(self.body)
        now = time.monotonic()
        while seen and next(iter(seen.values()))[1] < now - TRANSACTION_TOKEN_TTL_SECONDS:
            seen.popitem(last=False)
        if token in seen:
            first_fingerprint, _, answer = seen[token]
            if first_fingerprint != fingerprint:
                raise IdempotentParameterMismatchException()
            return answer
        answer = original(self)
        seen[token] = (fingerprint, now, answer)
        while len(seen) > MAX_TOKENS:
            seen.popitem(last=False)
        return answer

    patcher.replace(DynamoHandler, "transact_write_items", transact_write_items)


def _check_shape(items: Any) -> None:
    count = len(items) if isinstance(items, list) else 0
    if not 1 <= count <= MAX_TRANSACTION_ITEMS:
        bound = f"less than or equal to {MAX_TRANSACTION_ITEMS}" if count else "greater than or equal to 1"
        raise MockValidationException(
            "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: "
            f"Member must have length {bound}"
        )
    for item in items:
        actions = [name for name in ACTIONS if isinstance(item, dict) and item.get(name) is not None]
        if len(actions) != 1 or len(item) != 1:
            raise MockValidationException("TransactItems can only contain one of Check, Put, Update or Delete")


def _fingerprint(body: dict[str, Any]) -> str:
    request = {name: value for name, value in body.items() if name != "ClientRequestToken"}
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


def _position(backend: DynamoDBBackend, item: dict[str, Any]) -> _Position:
    """Where a transaction item writes; AWS's up-front ValidationException / ResourceNotFoundException otherwise."""
    action, operation = next(iter(item.items()))
    table = backend.get_table(operation.get("TableName"))
    source = operation.get("Item") if action == "Put" else operation.get("Key")
    names = [table.hash_key_attr, *([table.range_key_attr] if table.range_key_attr else [])]
    if not isinstance(source, dict) or any(name not in source for name in names):
        raise MockValidationException("The provided key element does not match the schema")
    hash_key, range_key = backend.get_keys_value(table, {name: source[name] for name in names})
    return table.name, hash_key, range_key


def _shadow_backend(backend: DynamoDBBackend, positions: list[_Position]) -> DynamoDBBackend:
    """A copy of ``backend`` whose touched tables hold copies of the touched items only, and no stream."""
    if len(set(positions)) != len(positions):
        raise MultipleTransactionsException()
    shadow = copy.copy(backend)
    shadow.tables = dict(backend.tables)
    for name, hash_key, range_key in positions:
        if shadow.tables[name] is backend.tables[name]:
            table = shadow.tables[name] = copy.copy(backend.tables[name])
            table.items = defaultdict(dict)
            table.stream_shard = None
        current = backend.tables[name].get_item(hash_key, range_key)
        if current is not None:
            _store(shadow.tables[name], hash_key, range_key, copy.deepcopy(current))
    return shadow


def _store(table: Table, hash_key: DynamoType, range_key: DynamoType | None, item: Item) -> None:
    if range_key is not None:
        table.items[hash_key][range_key] = item
    else:
        table.items[hash_key] = item  # type: ignore[assignment]  # moto keeps hash-only items in its range dict


def _run(shadow: DynamoDBBackend, item: dict[str, Any], position: _Position) -> _Reason:
    """Apply one item to the shadow tables; its cancellation reason (``None`` codes when it passed)."""
    action, operation = next(iter(item.items()))
    name, hash_key, range_key = position
    conditions = {
        "condition_expression": operation.get("ConditionExpression"),
        "expression_attribute_names": operation.get("ExpressionAttributeNames"),
        "expression_attribute_values": operation.get("ExpressionAttributeValues"),
        "return_values_on_condition_check_failure": operation.get("ReturnValuesOnConditionCheckFailure"),
    }
    try:
        if action == "ConditionCheck":
            _check_condition(shadow.tables[name].get_item(hash_key, range_key), conditions)
        elif action == "Put":
            shadow.put_item(name, operation["Item"], **conditions)
        elif action == "Delete":
            shadow.delete_item(name, operation["Key"], **conditions)
        else:
            conditions["expression_attribute_names"] = conditions["expression_attribute_names"] or {}
            conditions["expression_attribute_values"] = conditions["expression_attribute_values"] or {}
            shadow.update_item(
                name, operation["Key"], update_expression=operation.get("UpdateExpression"), **conditions
            )
    except ConditionalCheckFailed as failed:
        return "ConditionalCheckFailed", failed.message, json.loads(failed.description).get("Item")
    except MockValidationException as invalid:  # a data-dependent failure: a type mismatch, an item too large
        return "ValidationError", invalid.exception_msg, None
    return None, None, None


def _check_condition(current: Item | None, conditions: dict[str, Any]) -> None:
    condition = get_filter_expression(
        conditions["condition_expression"],
        conditions["expression_attribute_names"],
        conditions["expression_attribute_values"],
    )
    if not condition.expr(current):
        all_old = conditions["return_values_on_condition_check_failure"] == "ALL_OLD" and current is not None
        raise ConditionalCheckFailed(item=current.to_json()["Attributes"] if all_old and current else None)


def _write_back(backend: DynamoDBBackend, shadow: DynamoDBBackend, position: _Position) -> None:
    """Write one item the shadow transaction produced to the real table (its stream records it)."""
    name, hash_key, range_key = position
    real, result = backend.tables[name], shadow.tables[name].get_item(hash_key, range_key)
    if result is None:
        real.delete_item(hash_key, range_key)
    else:
        real.put_item(result.to_json()["Attributes"], overwrite=True)
