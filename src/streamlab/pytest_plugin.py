"""pytest fixtures for suites that test DynamoDB Streams -> Lambda applications.

Loaded automatically (entry point ``pytest11``) wherever streamlab is installed. The
``streamlab_endpoint_url`` fixture starts one embedded endpoint per test session on a free
loopback port, or uses ``AWS_ENDPOINT_URL`` / ``--streamlab-endpoint-url`` when given, so
the same suite can run against LocalStack or another running endpoint.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

DEFAULT_REGION = "us-east-1"
DUMMY_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("streamlab")
    group.addoption(
        "--streamlab-endpoint-url",
        default=None,
        help="use this running AWS endpoint instead of starting an embedded one",
    )


@pytest.fixture(scope="session")
def streamlab_endpoint_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of the AWS endpoint under test; starts an embedded one unless told otherwise."""
    url = request.config.getoption("--streamlab-endpoint-url") or os.environ.get("AWS_ENDPOINT_URL")
    if url:
        yield url
        return
    from streamlab.emulator.endpoint import EmbeddedEndpoint

    endpoint = EmbeddedEndpoint(port=0).start()
    try:
        yield endpoint.url
    finally:
        endpoint.stop()


@pytest.fixture(scope="session")
def aws_region() -> str:
    return os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or DEFAULT_REGION


@pytest.fixture(scope="session")
def aws_client(streamlab_endpoint_url: str, aws_region: str) -> Callable[..., Any]:
    """``aws_client("dynamodb")``: a plain boto3 client aimed at the endpoint under test."""

    def make(service: str, region: str | None = None, **kwargs: Any) -> Any:
        options: dict[str, Any] = {"endpoint_url": streamlab_endpoint_url, "region_name": region or aws_region}
        options.update(DUMMY_CREDENTIALS)
        options.update(kwargs)
        return boto3.client(service, **options)

    return make


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """``unique_name("orders")`` -> ``orders-<8 hex>``, so tests sharing an endpoint never collide."""

    def make(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:8]}"

    return make
