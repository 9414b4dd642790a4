"""The CloudFormation query API as a WSGI application: form in, XML out, errors as botocore reads them."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from streamlab.emulator.cloudformation import protocol
from streamlab.emulator.cloudformation.exceptions import CloudFormationError
from streamlab.emulator.cloudformation.service import CloudFormationService
from streamlab.emulator.routing import credential_scope

log = logging.getLogger(__name__)

_OPERATIONS = (
    "CreateStack",
    "UpdateStack",
    "DeleteStack",
    "DescribeStacks",
    "ListStacks",
    "DescribeStackEvents",
    "DescribeStackResource",
    "DescribeStackResources",
    "ListStackResources",
    "GetTemplate",
    "GetTemplateSummary",
    "ValidateTemplate",
    "ListExports",
    "ListImports",
    "UpdateTerminationProtection",
    "CreateChangeSet",
    "DescribeChangeSet",
    "ExecuteChangeSet",
    "DeleteChangeSet",
    "ListChangeSets",
)

_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")
MAX_REQUEST_BYTES = 2_000_000


class CloudFormationApi:
    def __init__(self, service: CloudFormationService) -> None:
        self._service = service
        self._handlers: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
            name: getattr(service, _SNAKE.sub("_", name).lower()) for name in _OPERATIONS
        }

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            status, body = 200, self._handle(environ)
        except CloudFormationError as error:
            status, body = error.status, protocol.render_error(error)
        except Exception as error:  # an answer, never a dropped connection
            log.exception("cloudformation request failed")
            failure = CloudFormationError("InternalFailure", f"{type(error).__name__}: {error}", status=500)
            status, body = 500, protocol.render_error(failure)
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}.get(status, "Error")
        start_response(f"{status} {reason}", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
        return [body]

    def _handle(self, environ: dict[str, Any]) -> bytes:
        form = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_REQUEST_BYTES:
            raise CloudFormationError("RequestEntityTooLarge", "Request is too large", status=400)
        if length > 0:
            text = environ["wsgi.input"].read(length).decode("utf-8", errors="replace")
            form.update(parse_qsl(text, keep_blank_values=True))
        action = form.get("Action", "")
        operation = protocol.operation_model(action)
        handler = self._handlers.get(action)
        if handler is None:
            raise CloudFormationError(
                "InvalidAction", f"The action {action} is not supported by streamlab's CloudFormation service"
            )
        params = protocol.parse_request(operation, form)
        scope = credential_scope(environ)
        region = scope.region if scope is not None else "us-east-1"
        return protocol.render_response(operation, handler(region, params))
