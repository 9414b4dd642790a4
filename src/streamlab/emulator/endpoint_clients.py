"""boto3 clients the emulator aims at its own endpoint.

The emulator's parts call each other through the same public API a user would: the Lambda
service fetches code from S3 and may write logs, the mapping engine sends on-failure records
to SQS, SNS or S3. Each needs one client per (service, region) with dummy credentials, made
once: boto3 clients are thread-safe to use, but not to create.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

EndpointURL = str | Callable[[], str]

DUMMY_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


class EndpointClients:
    """``clients.get("sqs", "eu-west-1")``: a cached boto3 client on the endpoint.

    ``endpoint_url`` may be a callable, read when a client is first made, so the owner can
    be built before its server knows its port. ``factory`` is ``boto3.client`` by default.
    """

    def __init__(self, endpoint_url: EndpointURL, factory: Callable[..., Any] | None = None) -> None:
        self._endpoint_url = endpoint_url
        self._factory = factory
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def get(self, service: str, region: str) -> Any:
        key = (service, region)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                factory = self._factory
                if factory is None:
                    import boto3

                    factory = boto3.client
                url = self._endpoint_url() if callable(self._endpoint_url) else self._endpoint_url
                client = self._clients[key] = factory(
                    service, endpoint_url=url, region_name=region, **DUMMY_CREDENTIALS
                )
            return client
