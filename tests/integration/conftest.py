"""Fixtures of the integration tests: Lambda clients and functions."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.integration.lambda_support import ECHO, NO_RETRIES, ROLE, FunctionFactory, zip_source


@pytest.fixture
def lambda_client(streamlab_client: Callable[..., Any]) -> Any:
    """A Lambda client that does not retry, so throttles and errors reach the test."""
    return streamlab_client("lambda", config=NO_RETRIES)


@pytest.fixture
def make_function(lambda_client: Any, streamlab_unique_name: Callable[[str], str]) -> Iterator[FunctionFactory]:
    """``make_function(source, **create_kwargs) -> name``: creates, waits for Active, deletes afterwards."""
    created: list[str] = []

    def make(
        source: str | dict[str, str] = ECHO,
        *,
        handler: str = "app.handler",
        runtime: str = "python3.12",
        wait: bool = True,
        **kwargs: Any,
    ) -> str:
        name = kwargs.pop("FunctionName", None) or streamlab_unique_name("fn")
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
            lambda_client.get_waiter("function_active_v2").wait(
                FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
            )
        return name

    yield make
    for name in created:
        with contextlib.suppress(lambda_client.exceptions.ResourceNotFoundException):
            lambda_client.delete_function(FunctionName=name)
