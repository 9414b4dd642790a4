"""What a measurement writes to a table: its keys in the table's own key schema, plus the probe's
version and written-at attributes.

The bench's own probe table has ``pk`` (S); a user's table (``streamlab bench --table``) has
whatever key schema the team chose: a string, number or binary partition key, maybe a sort key.
Each write's partition key value is the measurement's key (numbers for an N key, the key's
UTF-8 bytes for a B key), the sort key a constant of its type, so one key's versions are one
item and the probe (``PROBE_KEY_ATTRIBUTE``) reports the key as it was written (a B key's
bytes as text). ``streamlab bench --table`` and the Locust file's ``--table`` both write so.
"""

from __future__ import annotations

import secrets
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from streamlab.errors import StreamlabError

#: The probe's attributes on a user's table: names no application is likely to use.
VERSION_ATTRIBUTE = "streamlab_probe_version"
WRITTEN_AT_ATTRIBUTE = "streamlab_probe_written_at"
SORT_KEY_VALUES: dict[str, str | bytes] = {"S": "streamlab-probe", "N": "0", "B": b"streamlab-probe"}


class TableShapeError(StreamlabError, ValueError):
    """A table the probe cannot measure (no stream, or no stream with the new image)."""


@dataclass(frozen=True)
class ItemShape:
    key_attribute: str = "pk"
    key_type: str = "S"
    sort_attribute: str | None = None
    sort_type: str = "S"
    version_attribute: str = "v"
    written_at_attribute: str = "w"

    def keys(self, run: str, count: int) -> list[str]:
        """``count`` keys of this run, as the probe will report them."""
        if self.key_type == "N":  # a number unique to the run, then the key's index
            base = zlib.crc32(run.encode()) * 10_000
            return [str(base + index) for index in range(count)]
        return [f"{run}-k{index:04d}" for index in range(count)]

    def run_prefix(self, run: str) -> str:
        """What every key of the run ``run`` starts with, in the key's type: six digits (never
        starting with 0, which DynamoDB would drop) for a number key, ``locust-<run>-`` otherwise."""
        if self.key_type == "N":
            return str(100_000 + zlib.crc32(run.encode()) % 900_000)
        return f"locust-{run}-"

    def unique_key(self, prefix: str) -> str:
        """A new key of the run with ``prefix`` (see :meth:`run_prefix`): as many keys as writers make."""
        if self.key_type == "N":  # 6 + 12 digits: well inside DynamoDB's 38 digits of precision
            return f"{prefix}{secrets.randbelow(10**12):012d}"
        return f"{prefix}{secrets.token_hex(6)}"

    def item(self, key: str, version: int, written_at: float) -> dict[str, Any]:
        """The item as boto3 takes it: a B key's value is bytes (boto3 base64-encodes them on the wire)."""
        value: str | bytes = key.encode() if self.key_type == "B" else key
        item: dict[str, Any] = {
            self.key_attribute: {self.key_type: value},
            self.version_attribute: {"N": str(version)},
            self.written_at_attribute: {"N": repr(written_at)},
        }
        if self.sort_attribute:
            item[self.sort_attribute] = {self.sort_type: SORT_KEY_VALUES[self.sort_type]}
        return item

    def key_of(self, key: str) -> dict[str, Any]:
        """The item's primary key, for deleting it afterwards."""
        item = self.item(key, 0, 0.0)
        names = [self.key_attribute] + ([self.sort_attribute] if self.sort_attribute else [])
        return {name: item[name] for name in names}

    def probe_environment(self) -> dict[str, str]:
        return {
            "PROBE_KEY_ATTRIBUTE": self.key_attribute,
            "PROBE_VERSION_ATTRIBUTE": self.version_attribute,
            "PROBE_WRITTEN_AT_ATTRIBUTE": self.written_at_attribute,
        }


def shape_of(description: dict[str, Any]) -> tuple[ItemShape, str]:
    """The shape for a DescribeTable ``Table``, and its stream's ARN."""
    stream = description.get("StreamSpecification") or {}
    if not stream.get("StreamEnabled") or not description.get("LatestStreamArn"):
        raise TableShapeError(f"table {description.get('TableName')} has no stream: enable one (NEW_IMAGE)")
    if stream.get("StreamViewType") not in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
        raise TableShapeError(
            f"table {description.get('TableName')}'s stream is {stream.get('StreamViewType')}: the probe reads the "
            "new image (NEW_IMAGE or NEW_AND_OLD_IMAGES)"
        )
    types = {a["AttributeName"]: a["AttributeType"] for a in description.get("AttributeDefinitions", [])}
    schema: Sequence[dict[str, str]] = description["KeySchema"]
    hash_key = next(k["AttributeName"] for k in schema if k["KeyType"] == "HASH")
    sort_key = next((k["AttributeName"] for k in schema if k["KeyType"] == "RANGE"), None)
    shape = ItemShape(
        key_attribute=hash_key,
        key_type=types[hash_key],
        sort_attribute=sort_key,
        sort_type=types[sort_key] if sort_key else "S",
        version_attribute=VERSION_ATTRIBUTE,
        written_at_attribute=WRITTEN_AT_ATTRIBUTE,
    )
    return shape, str(description["LatestStreamArn"])
