"""Shared helpers for the Lambda tests (imported by the test_lambda_* modules; holds no tests).

Functions are built in-test from inline handler source, so each test shows the code it runs.
"""

from __future__ import annotations

import io
import textwrap
import time
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.config import Config

ROLE = "arn:aws:iam::123456789012:role/lambda-role"
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=30)

ECHO = """
def handler(event, context):
    return event
"""


def zip_source(files: dict[str, str] | str, filename: str = "app.py") -> bytes:
    """A deployment package from inline source: a string is ``app.py``; a dict maps paths to source."""
    if isinstance(files, str):
        files = {filename: files}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, source in files.items():
            archive.writestr(path, textwrap.dedent(source))
    return buffer.getvalue()


@pytest.fixture
def lambda_client(aws_client: Callable[..., Any]) -> Any:
    """A Lambda client that does not retry, so throttles and errors reach the test."""
    return aws_client("lambda", config=NO_RETRIES)


FunctionFactory = Callable[..., str]


@pytest.fixture
def make_function(lambda_client: Any, unique_name: Callable[[str], str]) -> Iterator[FunctionFactory]:
    """``make_function(source, **create_kwargs) -> name``: creates, waits for Active, deletes afterwards."""
    created: list[str] = []

    def make(source: str | dict[str, str] = ECHO, *, handler: str = "app.handler", runtime: str = "python3.12", wait: bool = True, **kwargs: Any) -> str:
        name = kwargs.pop("FunctionName", None) or unique_name("fn")
        lambda_client.create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=ROLE,
            Handler=handler,
            Code=kwargs.pop("Code", None) or {"ZipFile": zip_source(source)},
            **kwargs,
        )
        created.append(name)
        if wait:
            lambda_client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        return name

    yield make
    for name in created:
        try:
            lambda_client.delete_function(FunctionName=name)
        except lambda_client.exceptions.ResourceNotFoundException:
            pass


def eventually(check: Callable[[], Any], timeout: float = 5.0, interval: float = 0.05, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy (returned) or ``timeout`` passes (AssertionError)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what} not met within {timeout} s (last value: {last!r})")
