"""The gateway: one WSGI application in front of every service of the embedded endpoint.

Requests signed for ``lambda`` go to streamlab's Lambda service; everything else goes to
moto's dispatcher, which picks the moto backend from the same SigV4 scope. The gateway
also tells listeners (the event source mapping engine) when a DynamoDB write went
through, so stream records can be delivered without waiting for the next poll.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from streamlab import __version__
from streamlab.emulator.routing import dynamodb_operation, is_lambda_request

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
WriteListener = Callable[[str], None]

HEALTH_PATH = "/_streamlab/health"

#: The moto services the gateway is known to serve; moto answers many more.
MOTO_SERVICES = ("dynamodb", "dynamodbstreams", "sqs", "sns", "s3", "logs", "iam", "sts")

#: DynamoDB operations that can put a record on a table's stream.
DYNAMODB_WRITES = frozenset(
    {
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "ExecuteStatement",
        "BatchExecuteStatement",
        "ExecuteTransaction",
    }
)


class _CachedDispatcher(DomainDispatcherApplication):
    """moto's dispatcher, minus a directory scan on every request.

    ``get_backend_for_host`` lists moto's package directory for each call (tens of
    ``stat`` calls per request, a third of a PutItem's server time); its answer depends on
    the host name alone, so it is remembered.
    """

    def __init__(self) -> None:
        super().__init__(create_backend_app)
        self._backend_for_host: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        try:
            return self._backend_for_host[host]
        except KeyError:
            backend = self._backend_for_host[host] = super().get_backend_for_host(host)
            return backend


class Gateway:
    """Routes each request to the Lambda service or to moto, and serves the health check."""

    def __init__(self, lambda_app: WSGIApp) -> None:
        self._lambda_app = lambda_app
        self._moto_app = _CachedDispatcher()
        # moto's DynamoDB keeps tables and stream shards in plain dicts and lists: one
        # lock keeps sequence numbers in write order and GetRecords off half-made writes.
        self._dynamodb_lock = threading.Lock()
        self._write_listeners: list[WriteListener] = []
        self.ready = threading.Event()

    def add_write_listener(self, listener: WriteListener) -> None:
        """Call ``listener(operation)`` after every successful DynamoDB write."""
        self._write_listeners.append(listener)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH:
            return self._health(start_response)
        if is_lambda_request(environ):
            return self._lambda_app(environ, start_response)
        operation = dynamodb_operation(environ)
        if operation is None and not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDBStreams_"):
            return self._moto_app(environ, start_response)
        return self._call_dynamodb(operation, environ, start_response)

    def _call_dynamodb(
        self, operation: str | None, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        status_holder: list[str] = []

        def recording_start_response(status: str, headers: list[Any], exc_info: Any = None) -> Any:
            status_holder.append(status)
            return start_response(status, headers, exc_info)

        with self._dynamodb_lock:
            body = self._moto_app(environ, recording_start_response)
            try:
                payload = b"".join(body)
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
        if operation in DYNAMODB_WRITES and status_holder and status_holder[0].startswith("200"):
            for listener in self._write_listeners:
                listener(operation)
        return [payload]

    def _health(self, start_response: Callable[..., Any]) -> Iterable[bytes]:
        ready = self.ready.is_set()
        body = json.dumps(
            {
                "status": "ready" if ready else "starting",
                "version": __version__,
                "services": {name: "available" for name in ("lambda", *MOTO_SERVICES)},
            }
        ).encode()
        start_response(
            "200 OK" if ready else "503 Service Unavailable",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]
