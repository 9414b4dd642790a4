"""The Lambda REST API (2015-03-31 and friends) as a WSGI application.

Routes each path to an operation, parses the REST-JSON request, and renders results and
errors the way AWS does, so boto3 parses them unchanged: JSON bodies, the status codes
from Lambda's service model, ``x-amzn-ErrorType`` plus ``{"Type", "message"}`` on errors.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from streamlab.emulator.awslambda.control_plane import parse_function_ref
from streamlab.emulator.awslambda.exceptions import (
    InvalidParameterValueException,
    InvalidRequestContentException,
    LambdaError,
    ServiceException,
    UnknownOperationException,
)
from streamlab.emulator.awslambda.models import DEFAULT_REGION, function_arn
from streamlab.emulator.routing import credential_scope

if TYPE_CHECKING:
    from streamlab.emulator.awslambda.service import LambdaService

log = logging.getLogger(__name__)

_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    404: "Not Found",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
}

INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")


@dataclass
class Request:
    method: str
    path: str
    region: str
    query: dict[str, list[str]]
    environ: dict[str, Any]
    body: bytes
    params: dict[str, str]

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.environ.get("HTTP_" + name.upper().replace("-", "_"), default)

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> dict[str, Any]:
        if not self.body:
            return {}
        try:
            data = json.loads(self.body)
        except (ValueError, RecursionError) as error:  # RecursionError: nested beyond the parser
            raise InvalidRequestContentException(f"Could not parse request body into json: {error}") from None
        if not isinstance(data, dict):
            raise InvalidRequestContentException("Could not parse request body into json: expected a JSON object")
        return data


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "application/json"


def json_response(status: int, body: Any, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    return Response(status, json.dumps(body).encode(), headers)


Operation = Callable[[Request], Response]


class LambdaApi:
    """The WSGI application; operations delegate to the service's components."""

    def __init__(self, service: LambdaService) -> None:
        self.service = service
        fn = r"(?P<name>[^/]+)"
        self._routes: list[tuple[str, re.Pattern[str], Operation]] = [
            ("POST", re.compile(rf"^/2015-03-31/functions/{fn}/invocations/?$"), self.invoke),
            ("GET", re.compile(r"^/2015-03-31/functions/?$"), self.list_functions),
            ("POST", re.compile(r"^/2015-03-31/functions/?$"), self.create_function),
            ("GET", re.compile(rf"^/2015-03-31/functions/{fn}/?$"), self.get_function),
            ("DELETE", re.compile(rf"^/2015-03-31/functions/{fn}/?$"), self.delete_function),
            ("GET", re.compile(rf"^/2015-03-31/functions/{fn}/configuration/?$"), self.get_function_configuration),
            ("PUT", re.compile(rf"^/2015-03-31/functions/{fn}/configuration/?$"), self.update_function_configuration),
            ("PUT", re.compile(rf"^/2015-03-31/functions/{fn}/code/?$"), self.update_function_code),
            ("GET", re.compile(rf"^/2015-03-31/functions/{fn}/code-download/?$"), self.download_code),
            ("PUT", re.compile(rf"^/2017-10-31/functions/{fn}/concurrency/?$"), self.put_function_concurrency),
            ("DELETE", re.compile(rf"^/2017-10-31/functions/{fn}/concurrency/?$"), self.delete_function_concurrency),
            ("GET", re.compile(rf"^/2019-09-30/functions/{fn}/concurrency/?$"), self.get_function_concurrency),
            ("POST", re.compile(r"^/2015-03-31/event-source-mappings/?$"), self.create_event_source_mapping),
            ("GET", re.compile(r"^/2015-03-31/event-source-mappings/?$"), self.list_event_source_mappings),
            (
                "GET",
                re.compile(r"^/2015-03-31/event-source-mappings/(?P<uuid>[^/]+)/?$"),
                self.get_event_source_mapping,
            ),
            (
                "PUT",
                re.compile(r"^/2015-03-31/event-source-mappings/(?P<uuid>[^/]+)/?$"),
                self.update_event_source_mapping,
            ),
            (
                "DELETE",
                re.compile(r"^/2015-03-31/event-source-mappings/(?P<uuid>[^/]+)/?$"),
                self.delete_event_source_mapping,
            ),
            ("GET", re.compile(r"^/2016-08-19/account-settings/?$"), self.get_account_settings),
            ("GET", re.compile(r"^/2017-03-31/tags/(?P<arn>.+)$"), self.list_tags),
        ]

    # -- WSGI ---------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request_id = str(uuid.uuid4())
        try:
            response = self._dispatch(environ)
        except LambdaError as error:
            response = json_response(error.status, error.body(), (("x-amzn-ErrorType", error.code),))
            if error.status == 429:
                response.headers += (("Retry-After", "1"),)
        except Exception as error:
            log.exception("Lambda API %s %s failed", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            failure = ServiceException(f"Internal error in streamlab's Lambda service: {error}")
            response = json_response(500, failure.body(), (("x-amzn-ErrorType", failure.code),))
        headers = [
            ("Content-Type", response.content_type),
            ("Content-Length", str(len(response.body))),
            ("x-amzn-RequestId", request_id),
            *response.headers,
        ]
        start_response(f"{response.status} {_STATUS_TEXT.get(response.status, '')}", headers)
        return [response.body]

    def _dispatch(self, environ: dict[str, Any]) -> Response:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        for route_method, pattern, operation in self._routes:
            if route_method != method:
                continue
            match = pattern.match(path)
            if match is not None:
                return operation(self._request(environ, method, path, match.groupdict()))
        raise UnknownOperationException(f"The Lambda API {method} {path} is not supported by streamlab")

    @staticmethod
    def _request(environ: dict[str, Any], method: str, path: str, params: dict[str, str]) -> Request:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        scope = credential_scope(environ)
        region = scope.region if scope is not None else DEFAULT_REGION
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        return Request(method, path, region, query, environ, body, params)

    # -- functions ----------------------------------------------------------------------
    def create_function(self, request: Request) -> Response:
        return json_response(201, self.service.control.create_function(request.region, request.json()))

    def get_function(self, request: Request) -> Response:
        function = self.service.control.resolve(request.region, request.params["name"], request.arg("Qualifier"))
        body: dict[str, Any] = {
            "Configuration": function.configuration(),
            "Code": {"RepositoryType": "S3", "Location": self._code_location(function.region, function.name)},
        }
        if function.tags:
            body["Tags"] = dict(function.tags)
        if function.reserved_concurrency is not None:
            body["Concurrency"] = {"ReservedConcurrentExecutions": function.reserved_concurrency}
        return json_response(200, body)

    def get_function_configuration(self, request: Request) -> Response:
        function = self.service.control.resolve(request.region, request.params["name"], request.arg("Qualifier"))
        return json_response(200, function.configuration())

    def list_functions(self, request: Request) -> Response:
        functions = self.service.control.store.in_region(request.region)
        start = _marker(request.arg("Marker"))
        size = _max_items(request.arg("MaxItems"), 50)
        page = functions[start : start + size]
        body: dict[str, Any] = {"Functions": [f.configuration() for f in page]}
        if start + size < len(functions):
            body["NextMarker"] = str(start + size)
        return json_response(200, body)

    def update_function_code(self, request: Request) -> Response:
        return json_response(
            200, self.service.control.update_code(request.region, request.params["name"], request.json())
        )

    def update_function_configuration(self, request: Request) -> Response:
        answer = self.service.control.update_configuration(request.region, request.params["name"], request.json())
        return json_response(200, answer)

    def delete_function(self, request: Request) -> Response:
        self.service.control.delete_function(request.region, request.params["name"], request.arg("Qualifier"))
        return Response(204)

    def download_code(self, request: Request) -> Response:
        region = request.arg("region") or request.region
        function = self.service.control.resolve(region, request.params["name"])
        return Response(200, function.config.code.zip_bytes, content_type="application/zip")

    def _code_location(self, region: str, name: str) -> str:
        return f"{self.service.endpoint_url()}/2015-03-31/functions/{name}/code-download?region={region}"

    # -- concurrency --------------------------------------------------------------------
    def put_function_concurrency(self, request: Request) -> Response:
        value = request.json().get("ReservedConcurrentExecutions")
        reserved = self.service.control.put_concurrency(request.region, request.params["name"], value)
        return json_response(200, {"ReservedConcurrentExecutions": reserved})

    def get_function_concurrency(self, request: Request) -> Response:
        function = self.service.control.resolve(request.region, request.params["name"])
        if function.reserved_concurrency is None:
            return json_response(200, {})
        return json_response(200, {"ReservedConcurrentExecutions": function.reserved_concurrency})

    def delete_function_concurrency(self, request: Request) -> Response:
        self.service.control.delete_concurrency(request.region, request.params["name"])
        return Response(204)

    def get_account_settings(self, request: Request) -> Response:
        functions = self.service.control.store.in_region(request.region)
        environments = self.service.environments
        return json_response(
            200,
            {
                "AccountLimit": {
                    "TotalCodeSize": 80_530_636_800,
                    "CodeSizeUnzipped": 262_144_000,
                    "CodeSizeZipped": 52_428_800,
                    "ConcurrentExecutions": environments.account_concurrency,
                    "UnreservedConcurrentExecutions": environments.unreserved_limit(),
                },
                "AccountUsage": {
                    "TotalCodeSize": sum(f.config.code.size for f in functions),
                    "FunctionCount": len(functions),
                },
            },
        )

    def list_tags(self, request: Request) -> Response:
        function = self.service.control.resolve(request.region, request.params["arn"])
        return json_response(200, {"Tags": dict(function.tags)})

    # -- invoke -------------------------------------------------------------------------
    def invoke(self, request: Request) -> Response:
        function = self.service.control.resolve(request.region, request.params["name"], request.arg("Qualifier"))
        invocation_type = request.header("X-Amz-Invocation-Type") or "RequestResponse"
        if invocation_type not in INVOCATION_TYPES:
            raise InvalidParameterValueException(
                f"Invalid InvocationType {invocation_type}; expected one of {', '.join(INVOCATION_TYPES)}."
            )
        payload = request.body
        if payload:
            try:
                json.loads(payload)
            except (ValueError, RecursionError) as error:
                raise InvalidRequestContentException(
                    f"Could not parse request body into json: Could not parse payload into json: {error}"
                ) from None
        if invocation_type == "DryRun":
            return Response(204)
        if invocation_type == "Event":
            self.service.submit_event(function, payload)
            return Response(202)
        client_context = _client_context(request.header("X-Amz-Client-Context"))
        result = self.service.invoker.invoke(
            function, payload, tail=request.header("X-Amz-Log-Type") == "Tail", client_context=client_context
        )
        headers: tuple[tuple[str, str], ...] = (("X-Amz-Executed-Version", result.executed_version),)
        if result.function_error:
            headers += (("X-Amz-Function-Error", result.function_error),)
        if result.log_tail is not None:
            headers += (("X-Amz-Log-Result", result.log_tail),)
        return Response(result.status_code, result.payload, headers)

    # -- event source mappings ----------------------------------------------------------
    def _function_arn(self, request: Request, reference: str) -> str:
        function = self.service.control.resolve(request.region, reference)
        _, qualifier, _ = parse_function_ref(reference)
        return function_arn(function.region, function.name, qualifier)

    def create_event_source_mapping(self, request: Request) -> Response:
        body = request.json()
        reference = body.get("FunctionName")
        if not reference:
            raise InvalidParameterValueException("FunctionName is required.")
        mapping = self.service.event_source_mappings.create(
            request.region, self._function_arn(request, reference), body
        )
        return json_response(202, mapping.to_api())

    def get_event_source_mapping(self, request: Request) -> Response:
        return json_response(200, self.service.event_source_mappings.get(request.params["uuid"]).to_api())

    def list_event_source_mappings(self, request: Request) -> Response:
        reference = request.arg("FunctionName")
        wanted_function = None
        if reference:
            name, qualifier, region = parse_function_ref(reference)
            wanted_function = function_arn(region or request.region, name, qualifier)
        mappings = self.service.event_source_mappings.list(request.arg("EventSourceArn"), wanted_function)
        mappings = [m for m in mappings if m.region == request.region]
        start = _marker(request.arg("Marker"))
        size = _max_items(request.arg("MaxItems"), 100)
        body: dict[str, Any] = {"EventSourceMappings": [m.to_api() for m in mappings[start : start + size]]}
        if start + size < len(mappings):
            body["NextMarker"] = str(start + size)
        return json_response(200, body)

    def update_event_source_mapping(self, request: Request) -> Response:
        body = request.json()
        function = self._function_arn(request, body["FunctionName"]) if body.get("FunctionName") else None
        mapping = self.service.event_source_mappings.update(request.params["uuid"], body, function)
        return json_response(202, mapping.to_api())

    def delete_event_source_mapping(self, request: Request) -> Response:
        return json_response(202, self.service.event_source_mappings.delete(request.params["uuid"]).to_api())


def _marker(marker: str | None) -> int:
    if not marker:
        return 0
    try:
        return max(0, int(marker))
    except ValueError:
        raise InvalidParameterValueException(f"Invalid Marker: {marker}") from None


def _max_items(value: str | None, default: int) -> int:
    if not value:
        return default
    try:
        return max(1, min(int(value), 10_000))
    except ValueError:
        raise InvalidParameterValueException(f"Invalid MaxItems: {value}") from None


def _client_context(header: str | None) -> str | None:
    if not header:
        return None
    try:
        decoded = base64.b64decode(header, validate=True).decode()
        json.loads(decoded)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidRequestContentException("Client context must be a valid Base64-encoded JSON object.") from None
    return decoded
