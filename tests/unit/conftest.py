"""Fixtures of the unit tests: handler modules loaded as Lambda would load them."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.unit.handler_support import HANDLERS, forget_handler_modules


@pytest.fixture
def load_handler(
    monkeypatch: pytest.MonkeyPatch, streamlab_endpoint_url: str, streamlab_region: str
) -> Iterator[Callable[..., ModuleType]]:
    """``load_handler("notifications", NOTIFICATIONS_TOPIC=...)`` -> a freshly imported module."""

    def load(module: str, **environment: str) -> ModuleType:
        base = {
            "AWS_ENDPOINT_URL": streamlab_endpoint_url,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": streamlab_region,
            "AWS_DEFAULT_REGION": streamlab_region,
            "AWS_LAMBDA_FUNCTION_NAME": f"unit-{module}-{uuid.uuid4().hex[:6]}",
            "POWERTOOLS_SERVICE_NAME": module,
            "POWERTOOLS_METRICS_NAMESPACE": "streamlab-unit",
        }
        for name, value in {**base, **environment}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        monkeypatch.syspath_prepend(str(HANDLERS))
        forget_handler_modules()
        return importlib.import_module(module)

    yield load
    forget_handler_modules()


@pytest.fixture
def idempotency_table(streamlab_client: Callable[..., Any], streamlab_unique_name: Callable[[str], str]) -> str:
    """A Powertools idempotency table (key ``id``), as the stack declares it."""
    name = streamlab_unique_name("idempotency")
    client = streamlab_client("dynamodb")
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    return name
