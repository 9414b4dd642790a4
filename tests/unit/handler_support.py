"""Running the demo handlers in-process on captured stream events.

- :func:`event` loads a fixture captured from a real stream by ``tests/unit/events/capture.py``;
- the ``load_handler`` fixture imports a fresh copy of a ``handlers/`` module with the
  environment Lambda would give it (``AWS_ENDPOINT_URL`` aimed at the session's endpoint, so
  the handler's own boto3 clients, Powertools idempotency included, reach real APIs);
- :class:`FakeContext` is the part of Lambda's context object Powertools reads.
"""

from __future__ import annotations

import copy
import importlib
import json
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

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


def _forget_handler_modules() -> None:
    for name in list(sys.modules):
        module = sys.modules[name]
        origin = getattr(module, "__file__", None) or ""
        if origin.startswith(str(HANDLERS)):
            del sys.modules[name]


@pytest.fixture
def load_handler(monkeypatch: pytest.MonkeyPatch, streamlab_endpoint_url: str,
                 aws_region: str) -> Iterator[Callable[..., ModuleType]]:
    """``load_handler("notifications", NOTIFICATIONS_TOPIC=...)`` -> a freshly imported module."""

    def load(module: str, **environment: str) -> ModuleType:
        base = {
            "AWS_ENDPOINT_URL": streamlab_endpoint_url,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": aws_region,
            "AWS_DEFAULT_REGION": aws_region,
            "AWS_LAMBDA_FUNCTION_NAME": f"unit-{module}-{uuid.uuid4().hex[:6]}",
            "POWERTOOLS_SERVICE_NAME": module,
            "POWERTOOLS_METRICS_NAMESPACE": "streamlab-unit",
        }
        for name, value in {**base, **environment}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        monkeypatch.syspath_prepend(str(HANDLERS))
        _forget_handler_modules()
        return importlib.import_module(module)

    yield load
    _forget_handler_modules()


@pytest.fixture
def idempotency_table(aws_client: Callable[..., Any], unique_name: Callable[[str], str]) -> str:
    """A Powertools idempotency table (key ``id``), as the stack declares it."""
    name = unique_name("idempotency")
    client = aws_client("dynamodb")
    client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    return name
