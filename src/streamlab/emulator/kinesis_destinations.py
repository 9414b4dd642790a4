"""DynamoDB's Kinesis streaming destination: table changes written to a Kinesis data stream.

EnableKinesisStreamingDestination / DisableKinesisStreamingDestination /
DescribeKinesisStreamingDestination (moto answers them with InternalFailure) are answered here,
and every change of a table with an ACTIVE destination is put into that stream, fed from the same
place as the stream store (``StreamShard.add``, see :mod:`.moto_patches.streams`), whether or not
the table also has a DynamoDB stream.

The record is AWS's (kds.html; records seen from AWS in the field): JSON with awsRegion, eventID
(a UUID), eventName INSERT/MODIFY/REMOVE, userIdentity null, recordFormat "application/json",
tableName, dynamodb {ApproximateCreationDateTime (epoch milliseconds, or microseconds with the
destination's MICROSECOND precision), Keys, NewImage, OldImage, SizeBytes}, eventSource
"aws:dynamodb"; the Kinesis partition key is 32 upper-case hex digits (an MD5 of the item's key:
one item's changes go to one shard, in order). A write that changes nothing puts nothing, as with
DynamoDB Streams. UNVERIFIED: AWS's exact partition-key derivation is not documented.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streamlab.aws_rules import arn_resource_name
from streamlab.emulator.streams.records import same_item
from streamlab.errors import StreamlabError

#: ``put(stream_arn, partition_key, data)``: one record into a Kinesis stream.
PutRecord = Callable[[str, str, bytes], None]
#: ``stream_exists(stream_arn) -> bool``.
StreamExists = Callable[[str], bool]

PRECISIONS = ("MILLISECOND", "MICROSECOND")


class DestinationError(StreamlabError):
    """An AWS error for the Kinesis streaming destination API."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass
class Destination:
    stream_arn: str
    status: str = "ACTIVE"
    precision: str = "MILLISECOND"

    def to_api(self) -> dict[str, Any]:
        return {
            "StreamArn": self.stream_arn,
            "DestinationStatus": self.status,
            "ApproximateCreationDateTimePrecision": self.precision,
        }


def change_record(
    *,
    region: str,
    table_name: str,
    keys: dict[str, Any],
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    now: float,
    precision: str = "MILLISECOND",
) -> dict[str, Any]:
    """The JSON a table change becomes in the Kinesis stream (see the module docstring)."""
    event_name = "INSERT" if old is None else ("REMOVE" if new is None else "MODIFY")
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": int(now * (1_000_000 if precision == "MICROSECOND" else 1000)),
        "Keys": keys,
    }
    if new is not None:
        dynamodb["NewImage"] = new
    if old is not None:
        dynamodb["OldImage"] = old
    dynamodb["SizeBytes"] = len(json.dumps(keys, separators=(",", ":"))) + len(
        json.dumps(new or old or {}, separators=(",", ":"))
    )
    if precision == "MICROSECOND":
        dynamodb["ApproximateCreationDateTimePrecision"] = precision
    return {
        "awsRegion": region,
        "eventID": str(uuid.uuid4()),
        "eventName": event_name,
        "userIdentity": None,
        "recordFormat": "application/json",
        "tableName": table_name,
        "dynamodb": dynamodb,
        "eventSource": "aws:dynamodb",
    }


def partition_key(keys: dict[str, Any]) -> str:
    return hashlib.md5(json.dumps(keys, sort_keys=True).encode(), usedforsecurity=False).hexdigest().upper()


class KinesisDestinations:
    """Per table ARN, its Kinesis streaming destinations; puts each change into the active ones."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._by_table: dict[str, list[Destination]] = {}
        self._clock = clock
        self.put: PutRecord | None = None  # set by whoever owns the Kinesis backend

    def has_active(self, table_arn: str) -> bool:
        with self._lock:
            return any(d.status == "ACTIVE" for d in self._by_table.get(table_arn, []))

    def streams_fed_by(self, table_names: frozenset[str]) -> frozenset[str]:
        """The names of the Kinesis streams the tables of these names stream to (active ones): their
        mappings may read as soon as the tables are written."""
        with self._lock:
            return frozenset(
                arn_resource_name(d.stream_arn)
                for table_arn, destinations in self._by_table.items()
                if arn_resource_name(table_arn) in table_names
                for d in destinations
                if d.status == "ACTIVE"
            )

    def enable(self, table_arn: str, table_name: str, stream_arn: str, precision: str | None) -> dict[str, Any]:
        precision = precision or "MILLISECOND"
        if precision not in PRECISIONS:
            raise DestinationError("ValidationException", f"Invalid ApproximateCreationDateTimePrecision {precision}")
        with self._lock:
            destinations = self._by_table.setdefault(table_arn, [])
            for existing in destinations:
                if existing.stream_arn == stream_arn and existing.status == "ACTIVE":
                    raise DestinationError(
                        "ValidationException", "Table is already streaming to the given Kinesis data stream."
                    )
            destinations[:] = [d for d in destinations if d.stream_arn != stream_arn]
            destinations.append(Destination(stream_arn, "ACTIVE", precision))
        return {
            "TableName": table_name,
            "StreamArn": stream_arn,
            "DestinationStatus": "ENABLING",
            "EnableKinesisStreamingConfiguration": {"ApproximateCreationDateTimePrecision": precision},
        }

    def disable(self, table_arn: str, table_name: str, stream_arn: str) -> dict[str, Any]:
        with self._lock:
            for destination in self._by_table.get(table_arn, []):
                if destination.stream_arn == stream_arn and destination.status == "ACTIVE":
                    destination.status = "DISABLED"
                    return {"TableName": table_name, "StreamArn": stream_arn, "DestinationStatus": "DISABLING"}
        raise DestinationError("ValidationException", "Table is not streaming to the given Kinesis data stream.")

    def describe(self, table_arn: str, table_name: str) -> dict[str, Any]:
        with self._lock:
            destinations = [d.to_api() for d in self._by_table.get(table_arn, [])]
        return {"TableName": table_name, "KinesisDataStreamDestinations": destinations}

    def forget(self, table_arn: str) -> None:
        with self._lock:
            self._by_table.pop(table_arn, None)

    def record_change(
        self,
        table_arn: str,
        region: str,
        table_name: str,
        key_names: tuple[str, ...],
        old: dict[str, Any] | None,
        new: dict[str, Any] | None,
    ) -> int:
        """Put the change into every active destination; how many records were put."""
        with self._lock:
            active = [d for d in self._by_table.get(table_arn, []) if d.status == "ACTIVE"]
        if not active or self.put is None or same_item(old, new):
            return 0
        image = new if new is not None else old
        assert image is not None
        keys = {name: image[name] for name in key_names if name in image}
        now = self._clock()
        for destination in active:
            record = change_record(
                region=region,
                table_name=table_name,
                keys=keys,
                old=old,
                new=new,
                now=now,
                precision=destination.precision,
            )
            self.put(destination.stream_arn, partition_key(keys), json.dumps(record).encode())
        return len(active)


def moto_put_record(stream_arn: str, key: str, data: bytes) -> None:
    """Put into moto's Kinesis in-process (the table write already holds the DynamoDB lock)."""
    from moto.kinesis.models import kinesis_backends

    parts = stream_arn.split(":")
    backend = kinesis_backends[parts[4]][parts[3]]
    backend.put_record(
        stream_arn=stream_arn,
        stream_name=None,  # type: ignore[arg-type]
        partition_key=key,
        explicit_hash_key=None,  # type: ignore[arg-type]
        data=base64.b64encode(data).decode(),
    )


def moto_stream_exists(stream_arn: str) -> bool:
    from moto.kinesis.models import kinesis_backends

    parts = stream_arn.split(":")
    if len(parts) < 6 or parts[2] != "kinesis":
        return False
    try:
        kinesis_backends[parts[4]][parts[3]].describe_stream(stream_arn=stream_arn, stream_name=None)
    except Exception:
        return False
    return True


#: The DynamoDB operations :class:`KinesisDestinationsApi` answers.
OPERATIONS = frozenset(
    {"EnableKinesisStreamingDestination", "DisableKinesisStreamingDestination", "DescribeKinesisStreamingDestination"}
)


class KinesisDestinationsApi:
    """The three DynamoDB operations over moto's tables and Kinesis streams (called under the DynamoDB lock)."""

    def __init__(
        self,
        destinations: KinesisDestinations,
        account: str,
        stream_exists: StreamExists = moto_stream_exists,
    ) -> None:
        self._destinations = destinations
        self._account = account
        self._stream_exists = stream_exists

    def streams_fed_by(self, table_names: frozenset[str]) -> frozenset[str]:
        return self._destinations.streams_fed_by(table_names)

    def handle(self, operation: str, body: bytes, region: str) -> tuple[int, bytes]:
        try:
            request = json.loads(body or b"{}")
            if not isinstance(request, dict):
                raise DestinationError("SerializationException", "Request body is not a JSON object")
            answer = self._answer(operation, request, region)
        except DestinationError as error:
            payload = {"__type": f"com.amazonaws.dynamodb.v20120810#{error.code}", "message": error.message}
            return error.status, json.dumps(payload).encode()
        except ValueError:
            payload = {"__type": "com.amazon.coral.service#SerializationException", "message": "Invalid JSON"}
            return 400, json.dumps(payload).encode()
        return 200, json.dumps(answer).encode()

    def _table(self, region: str, name: Any) -> Any:
        from moto.dynamodb.models import dynamodb_backends

        if not isinstance(name, str) or not name:
            raise DestinationError("ValidationException", "TableName is required")
        name = name.rsplit("/", 1)[-1] if name.startswith("arn:") else name
        table = dynamodb_backends[self._account][region].tables.get(name)
        if table is None:
            raise DestinationError(
                "ResourceNotFoundException", f"Requested resource not found: Table: {name} not found"
            )
        return table

    def _answer(self, operation: str, request: dict[str, Any], region: str) -> dict[str, Any]:
        table = self._table(region, request.get("TableName"))
        if operation == "DescribeKinesisStreamingDestination":
            return self._destinations.describe(table.table_arn, table.name)
        stream_arn = request.get("StreamArn")
        if not isinstance(stream_arn, str) or not self._stream_exists(stream_arn):
            raise DestinationError("ResourceNotFoundException", f"Requested resource not found: Stream: {stream_arn}")
        if operation == "DisableKinesisStreamingDestination":
            return self._destinations.disable(table.table_arn, table.name, stream_arn)
        configuration = request.get("EnableKinesisStreamingConfiguration") or {}
        answer = self._destinations.enable(
            table.table_arn, table.name, stream_arn, configuration.get("ApproximateCreationDateTimePrecision")
        )
        attach_changes(table)
        return answer


def attach_changes(table: Any) -> None:
    """Make sure moto tells ``StreamShard.add`` about the table's writes, stream or not."""
    from moto.dynamodb.models.table import StreamShard

    if table.stream_shard is None:
        table.stream_shard = StreamShard(table.account_id, table)
