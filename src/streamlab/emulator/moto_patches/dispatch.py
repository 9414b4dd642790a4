"""How the gateway hands requests to moto: its server-mode dispatcher, and a faster route for DynamoDB.

``CachedDispatcher`` is moto's Werkzeug dispatcher minus a directory scan on every request.
``dispatch`` hands DynamoDB and DynamoDB Streams requests to moto's handlers without Flask:

moto's own in-process mock (``mock_aws``) turns a botocore request into a moto ``Request``
and calls the service's ``dispatch`` directly. Server mode instead builds a Flask app and a
Werkzeug request per call, which profiling (``benchmarks/gateway.py``) showed costs about as
much as the DynamoDB operation itself. The gateway's hottest path, every PutItem and every
GetRecords, therefore takes the mock's route: same handlers, same answers, less overhead.
"""

from __future__ import annotations

from typing import Any

from moto.core.request import Request
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.exceptions import HTTPException

_HANDLERS = {"dynamodb": DynamoHandler.dispatch, "dynamodbstreams": DynamoDBStreamsHandler.dispatch}
_HOSTS = {"dynamodb": "dynamodb.{region}.amazonaws.com", "dynamodbstreams": "streams.dynamodb.{region}.amazonaws.com"}


def request_headers(environ: dict[str, Any]) -> dict[str, str]:
    """The HTTP headers of a WSGI request, with their usual spelling."""
    headers = {key[5:].replace("_", "-").title(): value for key, value in environ.items() if key.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    if environ.get("CONTENT_LENGTH"):
        headers["Content-Length"] = environ["CONTENT_LENGTH"]
    return headers


def dispatch(service: str, region: str, environ: dict[str, Any], body: bytes) -> tuple[int, dict[str, Any], bytes]:
    """Answer one request as moto's in-process mock would: ``(status, headers, body)``."""
    url = f"https://{_HOSTS[service].format(region=region)}/"
    request = Request.from_primitives("POST", url, request_headers(environ), body)
    try:
        status, headers, payload = _HANDLERS[service](request, request.raw_url, request.headers)
    except HTTPException as error:  # moto's AWS errors travel as exceptions
        status, headers, payload = error.code, dict(error.get_headers()), error.get_body()
    if isinstance(payload, str):
        payload = payload.encode()
    return int(status), dict(headers), payload


class CachedDispatcher(DomainDispatcherApplication):
    """moto's dispatcher, minus a directory scan on every request.

    ``get_backend_for_host`` lists moto's package directory for each call (tens of ``stat``
    calls per request, a third of a PutItem's server time); its answer depends on the host name
    alone, so it is remembered.
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
