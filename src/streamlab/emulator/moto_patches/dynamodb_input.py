"""moto's DynamoDB on requests that are valid but unusual: AWS's answer instead of a crash.

Each was found by the endpoint's fuzz test (tests/integration/test_fuzz.py), which generates
requests from botocore's DynamoDB model and fails on any HTTP 500.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.exceptions import MockValidationException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import Item

from streamlab.emulator.moto_patches.patching import Patcher


def update_without_changes_writes_the_key(patcher: Patcher) -> None:
    """UpdateItem with neither UpdateExpression nor AttributeUpdates writes the item's key only.

    AWS creates the item (its key attributes) if it does not exist and leaves an existing one as it
    is; moto calls ``.items()`` on the missing AttributeUpdates and answers HTTP 500.
    """
    original = Item.update_with_attribute_updates

    @functools.wraps(original)
    def update_with_attribute_updates(self: Item, attribute_updates: dict[str, Any] | None) -> None:
        original(self, attribute_updates or {})

    patcher.replace(Item, "update_with_attribute_updates", update_with_attribute_updates)


def expression_syntax_errors_are_validation_errors(patcher: Patcher) -> None:
    """An expression that does not parse (``size(``) is a ValidationException.

    AWS answers 'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "size("'; moto's
    condition parser raises ValueError, an HTTP 500. The parser does not know which member the
    expression came from, so the message names the syntax error and moto's reason.
    """
    original = ConditionExpressionParser.parse

    @functools.wraps(original)
    def parse(self: ConditionExpressionParser) -> Any:
        try:
            return original(self)
        except ValueError as error:
            raise MockValidationException(f"Invalid expression: Syntax error; {error}") from None

    patcher.replace(ConditionExpressionParser, "parse", parse)


_START_KEY_INVALID = "The provided starting key is invalid: The provided key element does not match the schema"


def check_exclusive_start_keys(patcher: Patcher) -> None:
    """Query and Scan refuse an ExclusiveStartKey that lacks the table's key or types it wrongly.

    AWS: ValidationException "The provided starting key is invalid: The provided key element does
    not match the schema"; moto compares the key with the table's and fails with a TypeError.
    """
    for name in ("query", "scan"):
        patcher.replace(DynamoDBBackend, name, _checking_start_key(getattr(DynamoDBBackend, name)))


def _checking_start_key(original: Any) -> Any:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def checked(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        arguments = signature.bind(self, *args, **kwargs).arguments
        start_key = arguments.get("exclusive_start_key")
        if start_key:
            _check_start_key(self.get_table(arguments["table_name"]), start_key)
        return original(self, *args, **kwargs)

    return checked


def _check_start_key(table: Any, start_key: Any) -> None:
    if not isinstance(start_key, dict):
        raise MockValidationException(_START_KEY_INVALID)
    types = {definition["AttributeName"]: definition["AttributeType"] for definition in table.attr}
    required = [table.hash_key_attr, *([table.range_key_attr] if table.range_key_attr else [])]
    if any(name not in start_key for name in required):
        raise MockValidationException(_START_KEY_INVALID)
    for name, value in start_key.items():
        if name in types and (not isinstance(value, dict) or types[name] not in value):
            raise MockValidationException(_START_KEY_INVALID)
