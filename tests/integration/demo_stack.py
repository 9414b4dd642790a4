"""The demo stack (setup/stack.toml), deployed once per test module that uses it (fixture ``demo``).

Deployed to the session's endpoint under a unique ``name_prefix`` (so it never collides with
another test's resources), with two test-only changes made on the loaded model, not in the file:
the analytics window is 2 s instead of 60 s, and the cache function's ``REDIS_URL`` points at
the session's redis-server. Function zips come from the project's cache (``.streamlab/``), so
pip runs once per machine, not once per run.
"""

from __future__ import annotations

import dataclasses
import functools
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3

from streamlab.stack import Stack, parse_stack
from streamlab.testing import eventually

REPO = Path(__file__).resolve().parents[2]
WINDOW_SECONDS = 2


@dataclass
class DemoStack:
    stack: Stack
    endpoint_url: str
    region: str
    redis_url: str

    def name(self, logical: str) -> str:
        return self.stack.name_prefix + logical

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def table(self, logical: str) -> Any:
        return boto3.resource(
            "dynamodb",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        ).Table(self.name(logical))

    def queue_url(self, logical: str) -> str:
        return str(self.client("sqs").get_queue_url(QueueName=self.name(logical))["QueueUrl"])

    def new_order(self, currency: str = "USD", items: list[tuple[str, int, str]] | None = None) -> dict[str, Any]:
        """An order as a client writes it: status Created, version 1, total = sum of the items."""
        lines = [
            {"sku": sku, "qty": qty, "price": Decimal(price)}
            for sku, qty, price in (items or [("sku-red-mug", 2, "12.50"), ("sku-blue-plate", 1, "7.25")])
        ]
        return {
            "order_id": f"o-{uuid.uuid4().hex[:10]}",
            "customer_id": "c-42",
            "status": "Created",
            "version": 1,
            "currency": currency,
            "items": lines,
            "total": sum((line["qty"] * line["price"] for line in lines), Decimal(0)),
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "written_at": Decimal(repr(time.time())),
        }


#: The demo stack's effects take a chain of invocations: a longer default than single-step tests.
wait_for = functools.partial(eventually, timeout=30.0, interval=0.1)


def demo_stack_model(prefix: str, redis: str) -> Stack:
    text = f'[stack]\nname_prefix = "{prefix}"\n' + (REPO / "setup" / "stack.toml").read_text()
    stack = parse_stack(text, REPO / "setup" / "stack.toml")
    functions = dict(stack.functions)
    cache = functions["cache_invalidation"]
    functions["cache_invalidation"] = dataclasses.replace(cache, environment={**cache.environment, "REDIS_URL": redis})
    mappings = tuple(
        dataclasses.replace(m, tumbling_window_in_seconds=WINDOW_SECONDS) if m.tumbling_window_in_seconds else m
        for m in stack.mappings
    )
    return dataclasses.replace(stack, functions=functions, mappings=mappings)
