"""Fixtures of the integration tests: Lambda clients and functions, the demo stack."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from streamlab.deploy import deploy
from tests.integration.demo_stack import DemoStack, demo_stack_model
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


@pytest.fixture(scope="module")
def demo(streamlab_endpoint_url: str, streamlab_region: str, redis_url: str) -> Iterator[DemoStack]:
    stack = demo_stack_model(f"d{uuid.uuid4().hex[:6]}-", redis_url)
    lines: list[str] = []
    deploy(stack, endpoint_url=streamlab_endpoint_url, region=streamlab_region, log=lines.append)
    demo = DemoStack(stack, streamlab_endpoint_url, streamlab_region, redis_url)
    products = demo.table("Products")
    for sku, stock in (("sku-red-mug", 1000), ("sku-blue-plate", 1000)):
        products.put_item(
            Item={
                "sku": sku,
                "name": sku.replace("sku-", "").replace("-", " "),
                "price": Decimal("12.50"),
                "stock": stock,
            }
        )
    yield demo
    # Leave nothing running for the tests that follow: no pollers, no execution environments.
    lam = demo.client("lambda")
    for function in stack.functions.values():
        for mapping in lam.list_event_source_mappings(FunctionName=function.physical_name)["EventSourceMappings"]:
            lam.delete_event_source_mapping(UUID=mapping["UUID"])
        lam.delete_function(FunctionName=function.physical_name)
