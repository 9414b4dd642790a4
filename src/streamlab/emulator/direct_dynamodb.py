"""DynamoDB and DynamoDB Streams requests handed to moto's handlers without Flask.

moto's own in-process mock (``mock_aws``) turns a botocore request into a moto ``Request``
and calls the service's ``dispatch`` directly. Server mode instead builds a Flask app and a
Werkzeug request per call, which profiling (``benchmarks/gateway.py``) showed costs about as
much as the DynamoDB operation itself. The gateway's hottest path, every PutItem and every
GetRecords, therefore takes the mock's route: same handlers, same answers, less overhead.
"""

from __future__ import annotations

from typing import Any

from moto.core.exceptions import HTTPException
from moto.core.request import Request
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

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
