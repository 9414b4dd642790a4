"""The latency and ordering probe: one JSON log line per record, and never a failure.

Each line is ``{"probe": 1, "key", "version", "written_at", "processed_at", "attempt", ...}``:

- ``key``, ``version``, ``written_at``: from the item's NewImage (attribute names from
  ``PROBE_KEY_ATTRIBUTE`` / ``PROBE_VERSION_ATTRIBUTE`` / ``PROBE_WRITTEN_AT_ATTRIBUTE``;
  the defaults ``pk`` / ``v`` / ``w`` are what :mod:`streamlab.measure.writers` writes). A
  writer stamps ``written_at = time.time()`` just before PutItem, so ``processed_at -
  written_at`` is the end-to-end latency on one machine's clock;
- ``processed_at``: ``time.time()`` when the handler reached the record;
- ``attempt``: how many times *this execution environment* has seen this eventID (1 on first
  delivery). Lambda does not put an invoke count in a stream event, so redeliveries are counted
  in a module-level dict that lives as long as the warm environment. A redelivery that lands in
  another (or a fresh) environment reports 1 again: the count is a lower bound, which is why the
  measurement also finds duplicates by (key, version) across all lines.

The lines go out with one ``print`` per batch, not Powertools Logger: the probe measures the
pipeline, so it must add as little of its own time as possible, and the analysis parses lines
starting with ``{"probe"`` from the log stream. ``eventID``, ``eventName`` and
``SequenceNumber`` are included so a line can be matched to a stream record.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections import OrderedDict
from typing import Any

KEY_ATTRIBUTE = os.environ.get("PROBE_KEY_ATTRIBUTE", "pk")
VERSION_ATTRIBUTE = os.environ.get("PROBE_VERSION_ATTRIBUTE", "v")
WRITTEN_AT_ATTRIBUTE = os.environ.get("PROBE_WRITTEN_AT_ATTRIBUTE", "w")
#: Enough to recognise a redelivery in any realistic retry window, bounded so a long-lived
#: environment does not grow without limit.
MAX_REMEMBERED = 100_000

_attempts: OrderedDict[str, int] = OrderedDict()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    lines = [json.dumps(probe_line(record), separators=(",", ":")) for record in event.get("Records") or []]
    if lines:
        print("\n".join(lines), flush=True)
    return {"batchItemFailures": []}


def probe_line(record: dict[str, Any]) -> dict[str, Any]:
    """What the probe reports for one record: a DynamoDB stream record, an SQS message or a Kinesis record.

    SQS bodies and Kinesis data carry the same three values as plain JSON members
    (``{"pk": ..., "v": ..., "w": ...}``): :mod:`streamlab.measure.source_probe` writes them.
    """
    processed_at = time.time()
    if "dynamodb" not in record and ("body" in record or "kinesis" in record):
        return _message_line(record, processed_at)
    dynamodb = record.get("dynamodb") or {}
    image = dynamodb.get("NewImage") or dynamodb.get("Keys") or {}
    event_id = str(record.get("eventID"))
    return {
        "probe": 1,
        "key": _key(image.get(KEY_ATTRIBUTE)),
        "version": _number(image.get(VERSION_ATTRIBUTE), int),
        "written_at": _number(image.get(WRITTEN_AT_ATTRIBUTE), float),
        "processed_at": processed_at,
        "attempt": _count_attempt(event_id),
        "eventID": event_id,
        "eventName": record.get("eventName"),
        "SequenceNumber": dynamodb.get("SequenceNumber"),
    }


def _message_line(record: dict[str, Any], processed_at: float) -> dict[str, Any]:
    if "kinesis" in record:
        raw = base64.b64decode(record["kinesis"].get("data") or b"")
        event_id = str(record.get("eventID"))
    else:
        raw = str(record.get("body") or "").encode()
        event_id = str(record.get("messageId"))
    try:
        payload = json.loads(raw)
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    return {
        "probe": 1,
        "key": payload.get(KEY_ATTRIBUTE),
        "version": _number({"N": payload.get(VERSION_ATTRIBUTE)}, int),
        "written_at": _number({"N": payload.get(WRITTEN_AT_ATTRIBUTE)}, float),
        "processed_at": processed_at,
        "attempt": _count_attempt(event_id),
        "eventID": event_id,
        "eventSource": record.get("eventSource"),
    }


def _count_attempt(event_id: str) -> int:
    attempt = _attempts.pop(event_id, 0) + 1
    _attempts[event_id] = attempt
    while len(_attempts) > MAX_REMEMBERED:
        _attempts.popitem(last=False)
    return attempt


def _scalar(attribute: dict[str, Any] | None) -> Any:
    """``{"S": "k1"}`` -> ``"k1"``; None when the item has no such attribute."""
    if not attribute:
        return None
    return next(iter(attribute.values()))


def _key(attribute: dict[str, Any] | None) -> Any:
    """The key as the writer wrote it: a binary key's bytes as text when they are UTF-8 (the stream
    record carries them base64-encoded), so a run's key prefix matches whatever the key's type."""
    if attribute and "B" in attribute:
        try:
            return base64.b64decode(attribute["B"], validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return attribute["B"]
    return _scalar(attribute)


def _number(attribute: dict[str, Any] | None, kind: type) -> Any:
    value = _scalar(attribute)
    if value is None:
        return None
    try:
        return kind(float(value)) if kind is int else kind(value)
    except (TypeError, ValueError):
        return None
