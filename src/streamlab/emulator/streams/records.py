"""One stream record, kept compact: the few numbers it needs plus its images as JSON bytes.

moto keeps a record as nested dicts of its own attribute objects, about 4.6 KB for a 1 KiB item.
Here a record is a slotted object holding its sequence number, creation time, event name and
size, and ``body``: the ``Keys`` / ``NewImage`` / ``OldImage`` members already encoded as the JSON
GetRecords sends. Serving it over HTTP splices those bytes into the answer; an in-process reader
decodes them once. ``eventID`` is derived from the stream and the sequence number instead of
stored (32 hex digits, as AWS's are).

SizeBytes follows DynamoDB's item size rules (CapacityUnitCalculations.html): each attribute
name's UTF-8 length plus its value's size. Checked against AWS's recordings in LocalStack's
``test_dynamodb.snapshot.json`` (validated 2025-10-08): ``{"Username": "Fred"}`` keys-only is 12,
an INSERT of a 3-attribute item 46, its MODIFY 80.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

_WITH_NEW = frozenset({"NEW_IMAGE", "NEW_AND_OLD_IMAGES"})
_WITH_OLD = frozenset({"OLD_IMAGE", "NEW_AND_OLD_IMAGES"})

Item = Mapping[str, Any]  # an attribute map in the wire format: {"pk": {"S": "a"}, "n": {"N": "1"}}


def _binary_length(value: Any) -> int:
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    try:
        return len(base64.b64decode(value, validate=True))
    except (ValueError, TypeError):
        return len(str(value).encode("utf-8"))


def _number_size(text: str) -> int:
    """1 byte per two significant digits, plus 1 (leading and trailing zeroes do not count)."""
    try:
        digits = Decimal(text).normalize().as_tuple().digits
    except (InvalidOperation, ValueError):
        return len(text)
    significant = len(digits) if any(digits) else 1
    return (significant + 1) // 2 + 1


def value_size(value: Mapping[str, Any]) -> int:
    """The size DynamoDB charges for one AttributeValue."""
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "N":
        return _number_size(inner)
    if kind == "B":
        return _binary_length(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in inner)
    if kind == "NS":
        return sum(_number_size(n) for n in inner)
    if kind == "BS":
        return sum(_binary_length(b) for b in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in inner)
    if kind == "M":
        return 3 + sum(1 + len(name.encode("utf-8")) + value_size(element) for name, element in inner.items())
    return len(json.dumps(inner).encode("utf-8"))


def item_size(item: Item) -> int:
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def _canonical(value: Any) -> Any:
    """An AttributeValue in a form where equal values compare equal (sets unordered, numbers by value)."""
    kind, inner = next(iter(value.items()))
    if kind == "N":
        return kind, _number(inner)
    if kind == "NS":
        return kind, frozenset(_number(n) for n in inner)
    if kind in ("SS", "BS"):
        return kind, frozenset(inner)
    if kind == "L":
        return kind, tuple(_canonical(element) for element in inner)
    if kind == "M":
        return kind, frozenset((name, _canonical(element)) for name, element in inner.items())
    return kind, inner


def _number(text: str) -> Any:
    try:
        return Decimal(text).normalize()
    except (InvalidOperation, ValueError):
        return text


def same_item(first: Item | None, second: Item | None) -> bool:
    """Whether two images hold the same item, as DynamoDB compares them (a write that changes nothing)."""
    if first is None or second is None:
        return first is second
    if first.keys() != second.keys():
        return False
    return all(_canonical(first[name]) == _canonical(second[name]) for name in first)


def _json_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):  # moto keeps some binaries raw; JSON carries base64
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default).encode("utf-8")


def event_id(stream_arn: str, sequence: int) -> str:
    """A stable 32-hex-digit id per record (AWS's eventIDs have this shape)."""
    return hashlib.md5(f"{stream_arn}|{sequence}".encode(), usedforsecurity=False).hexdigest()


class StreamRecord:
    """A record as the store keeps it; :meth:`to_dict` / :meth:`to_json` give GetRecords' shape."""

    __slots__ = ("body", "created_ms", "event_name", "sequence", "size_bytes")

    def __init__(self, sequence: int, created_ms: int, event_name: str, size_bytes: int, body: bytes) -> None:
        self.sequence = sequence
        self.created_ms = created_ms
        self.event_name = event_name
        self.size_bytes = size_bytes
        self.body = body

    @classmethod
    def build(
        cls,
        sequence: int,
        created_ms: int,
        view_type: str,
        keys: Item,
        old: Item | None,
        new: Item | None,
    ) -> StreamRecord:
        """The record of one item change (``old`` None: INSERT; ``new`` None: REMOVE)."""
        event_name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
        members: dict[str, Any] = {"Keys": keys}
        if new is not None and view_type in _WITH_NEW:
            members["NewImage"] = new
        if old is not None and view_type in _WITH_OLD:
            members["OldImage"] = old
        size = sum(item_size(part) for part in members.values())
        return cls(sequence, created_ms, event_name, max(size, 1), encode(members))

    def __repr__(self) -> str:
        return f"StreamRecord({self.sequence}, {self.event_name}, {self.size_bytes} bytes)"

    @property
    def approximate_creation_seconds(self) -> int:
        """AWS: "in UNIX epoch time format and rounded down to the closest second"."""
        return self.created_ms // 1000

    def to_dict(self, stream_arn: str, region: str, view_type: str) -> dict[str, Any]:
        """The record as boto3's GetRecords would give it, timestamps as epoch seconds."""
        dynamodb: dict[str, Any] = {"ApproximateCreationDateTime": self.approximate_creation_seconds}
        dynamodb.update(json.loads(self.body))
        dynamodb.update(SequenceNumber=str(self.sequence), SizeBytes=self.size_bytes, StreamViewType=view_type)
        return {
            "eventID": event_id(stream_arn, self.sequence),
            "eventName": self.event_name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": region,
            "dynamodb": dynamodb,
        }

    def to_json(self, stream_arn: str, region: str, view_type: str) -> bytes:
        """The same record as JSON bytes, with ``body`` spliced in instead of decoded and re-encoded."""
        return b"".join(
            (
                b'{"eventID":"',
                event_id(stream_arn, self.sequence).encode(),
                b'","eventName":"',
                self.event_name.encode(),
                b'","eventVersion":"1.1","eventSource":"aws:dynamodb","awsRegion":',
                encode(region),
                b',"dynamodb":{"ApproximateCreationDateTime":',
                str(self.approximate_creation_seconds).encode(),
                b",",
                self.body[1:-1],
                b',"SequenceNumber":"',
                str(self.sequence).encode(),
                b'","SizeBytes":',
                str(self.size_bytes).encode(),
                b',"StreamViewType":"',
                view_type.encode(),
                b'"}}',
            )
        )
