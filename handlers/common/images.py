"""DynamoDB stream images -> plain JSON, without losing what DynamoDB stored.

Powertools' ``DynamoDBRecord.dynamodb.new_image`` deserializes with boto3's ``TypeDeserializer``:
numbers become :class:`~decimal.Decimal` (DynamoDB keeps up to 38 digits), binaries
:class:`~boto3.dynamodb.types.Binary`, sets Python sets. ``json`` accepts none of them, and
``float(Decimal)`` silently rounds money. :func:`plain` converts them losslessly:

- a whole number becomes an ``int``; a fraction a ``float`` only when it round-trips exactly,
  otherwise its decimal string (so ``"0.1000000000000000055511151231257827"`` stays exact);
- binaries become base64 text (as the stream event carries them);
- sets become sorted lists (JSON has no sets; sorting keeps the output deterministic).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import Binary, TypeDeserializer

_deserializer = TypeDeserializer()


def number(value: Decimal) -> int | float | str:
    """A DynamoDB number as the most natural exact JSON value."""
    if value == value.to_integral_value():
        return int(value)
    as_float = float(value)
    if Decimal(repr(as_float)) == value:
        return as_float
    return str(value)


def plain(value: Any) -> Any:
    """A deserialized DynamoDB value (Decimal, Binary, set, nested map/list) as JSON-ready data."""
    if isinstance(value, Decimal):
        return number(value)
    if isinstance(value, Binary):
        return base64.b64encode(value.value).decode("ascii")
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((plain(item) for item in value), key=lambda item: (str(type(item)), item))
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def deserialize(image: Mapping[str, Any] | None) -> dict[str, Any]:
    """A raw stream image (``{"price": {"N": "9.5"}}``) as Python values (``{"price": Decimal("9.5")}``).

    Binary values arrive base64-encoded in the Lambda event; the deserializer expects bytes.
    """
    result: dict[str, Any] = {}
    for name, attribute in (image or {}).items():
        result[name] = _deserializer.deserialize(_binary_as_bytes(attribute))
    return result


def changed_attributes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Names of attributes added, removed or given another value, sorted.

    Compares the typed images, so ``{"N": "1"}`` and ``{"N": "1.0"}`` differ only if DynamoDB
    stored them differently (it normalises numbers, so it does not).
    """
    names = set(old) | set(new)
    return sorted(name for name in names if old.get(name) != new.get(name))


def _binary_as_bytes(attribute: Any) -> Any:
    if not isinstance(attribute, Mapping):
        return attribute
    converted: dict[str, Any] = {}
    for kind, inner in attribute.items():
        if kind == "B" and isinstance(inner, str):
            converted[kind] = base64.b64decode(inner)
        elif kind == "BS":
            converted[kind] = [base64.b64decode(item) if isinstance(item, str) else item for item in inner]
        elif kind == "M":
            converted[kind] = {k: _binary_as_bytes(v) for k, v in inner.items()}
        elif kind == "L":
            converted[kind] = [_binary_as_bytes(v) for v in inner]
        else:
            converted[kind] = inner
    return converted
