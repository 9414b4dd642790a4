"""moto's DynamoDB on requests that are valid but unusual: AWS's answer instead of a crash.

Each was found by the endpoint's fuzz test (tests/integration/test_fuzz.py), which generates
requests from botocore's DynamoDB model and fails on any HTTP 500.
"""

from __future__ import annotations

import functools
from typing import Any

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
