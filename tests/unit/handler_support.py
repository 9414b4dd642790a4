"""Running the demo handlers in-process on captured stream events.

- :func:`event` loads a fixture captured from a real stream by ``tests/unit/events/capture.py``;
- the ``load_handler`` fixture imports a fresh copy of a ``handlers/`` module with the
  environment Lambda would give it (``AWS_ENDPOINT_URL`` aimed at the session's endpoint, so
  the handler's own boto3 clients, Powertools idempotency included, reach real APIs);
- :class:`FakeContext` is the part of Lambda's context object Powertools reads.
"""

from __future__ import annotations

import copy
import json
import sys
import uuid
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
HANDLERS = REPO / "handlers"
EVENTS = Path(__file__).resolve().parent / "events"
ACCOUNT = "123456789012"


@cache
def _read(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def event(name: str) -> dict[str, Any]:
    """A fresh copy of ``tests/unit/events/<name>.json``."""
    return copy.deepcopy(_read(name))


def sequence_numbers(evt: dict[str, Any]) -> list[str]:
    return [r["dynamodb"]["SequenceNumber"] for r in evt["Records"]]


@dataclass
class FakeContext:
    """What Powertools reads from Lambda's context object."""

    function_name: str = "unit-handler"
    memory_limit_in_mb: int = 128
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    region: str = "us-east-1"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def forget_handler_modules() -> None:
    for name in list(sys.modules):
        module = sys.modules[name]
        origin = getattr(module, "__file__", None) or ""
        if origin.startswith(str(HANDLERS)):
            del sys.modules[name]
