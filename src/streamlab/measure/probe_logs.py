"""Read the probe handler's lines back from CloudWatch Logs.

The probe (``handlers/probe.py``) prints one ``{"probe": 1, ...}`` JSON line per record it
processed. Reading them with ``FilterLogEvents`` works the same on the embedded endpoint,
LocalStack and AWS, which is why measurements collect deliveries this way and not from the
emulator's insides.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from streamlab.measure.delivery import DeliveryTuple

PROBE_MARKER = '{"probe"'


def probe_lines(logs: Any, function_name: str, start_ms: int) -> Iterator[dict[str, Any]]:
    """Every probe line the function logged since ``start_ms`` (epoch ms), oldest first."""
    options: dict[str, Any] = {"logGroupName": f"/aws/lambda/{function_name}", "startTime": start_ms}
    try:
        while True:
            page = logs.filter_log_events(**options)
            for event in page.get("events", []):
                for line in event["message"].splitlines():
                    if line.startswith(PROBE_MARKER):
                        yield json.loads(line)
            if not page.get("nextToken"):
                return
            options["nextToken"] = page["nextToken"]
    except logs.exceptions.ResourceNotFoundException:
        return  # no invocation has logged anything yet


def collect_deliveries(
    logs: Any, function_name: str, start_ms: int, keys: set[str], expected: int, timeout: float
) -> list[DeliveryTuple]:
    """Poll the logs until ``expected`` deliveries of ``keys`` are there, or ``timeout`` passes.

    Returns ``(key, version, processed_at)`` in log order; fewer than ``expected`` means loss
    (or a slow backend): the caller's analysis says which records are missing.
    """
    deadline = time.monotonic() + timeout
    while True:
        deliveries = [
            (line["key"], int(line["version"]), float(line["processed_at"]))
            for line in probe_lines(logs, function_name, start_ms)
            if line.get("key") in keys and line.get("version") is not None
        ]
        if len(deliveries) >= expected or time.monotonic() > deadline:
            return deliveries
        time.sleep(0.2)
