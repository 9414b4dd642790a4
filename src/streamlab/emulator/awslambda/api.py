"""The Lambda REST API (2015-03-31 and friends) as a WSGI application.

Routes each path to an operation, parses the REST-JSON request, and renders results and
errors the way AWS does, so boto3 parses them unchanged: JSON bodies, the status codes
from Lambda's service model, ``x-amzn-ErrorType`` plus ``{"Type", "message"}`` on errors.

The REST layer knows the service only through the narrow protocols below (what each
operation needs: functions, their settings, layers, mappings, invocations), the way the
Runtime API server knows an environment only as a ``RuntimeApiHandler``.
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
from typing import Any, Protocol
from urllib.parse import parse_qs

from streamlab.aws_rules import DEFAULT_REGION
from streamlab.emulator.awslambda.control_plane import Target, parse_function_ref
from streamlab.emulator.awslambda.event_source_mappings import EventSourceMapping
from streamlab.emulator.awslambda.exceptions import (
    InvalidParameterValueException,
    InvalidRequestContentException,
    LambdaError,
    ServiceException,
    UnknownOperationException,
    constraint_violation,
)
from streamlab.emulator.awslambda.invoke import InvokeResult
from streamlab.emulator.awslambda.layers import LayerVersion, check_compatible_architecture, check_compatible_runtime
from streamlab.emulator.awslambda.models import function_arn
from streamlab.emulator.routing import credential_scope

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


# --- what the REST layer needs from the service --------------------------------------------
class FunctionOperations(Protocol):
    def target(self, region: str, reference: str, qualifier: str | None = None) -> Target: ...
    def invocation_target(self, region: str, reference: str, qualifier: str | None = None) -> Target: ...
    def describe(self, target: Target) -> dict[str, Any]: ...
    def list_functions(self, region: str, all_versions: bool) -> list[dict[str, Any]]: ...
    def create_function(self, region: str, request: dict[str, Any]) -> dict[str, Any]: ...
    def update_code(self, region: str, reference: str, request: dict[str, Any]) -> dict[str, Any]: ...
    def update_configuration(self, region: str, reference: str, request: dict[str, Any]) -> dict[str, Any]: ...
    def delete_function(self, region: str, reference: str, qualifier: str | None = None) -> None: ...
    def publish_version(self, region: str, reference: str, request: dict[str, Any]) -> dict[str, Any]: ...
    def list_versions(self, region: str, reference: str) -> list[dict[str, Any]]: ...
    def create_alias(self, region: str, reference: str, request: dict[str, Any]) -> dict[str, Any]: ...
    def get_alias(self, region: str, reference: str, name: str) -> dict[str, Any]: ...
    def update_alias(self, region: str, reference: str, name: str, request: dict[str, Any]) -> dict[str, Any]: ...
    def delete_alias(self, region: str, reference: str, name: str) -> None: ...
    def list_aliases(self, region: str, reference: str, function_version: str | None) -> list[dict[str, Any]]: ...
    def put_concurrency(self, region: str, reference: str, value: Any) -> int: ...
    def delete_concurrency(self, region: str, reference: str) -> None: ...
    def account_settings(self, region: str) -> dict[str, Any]: ...


class SettingsOperations(Protocol):
    def add_permission(
        self, region: str, reference: str, qualifier: str | None, request: dict[str, Any]
    ) -> dict[str, Any]: ...
    def remove_permission(
        self, region: str, reference: str, statement_id: str, qualifier: str | None, revision_id: str | None
    ) -> None: ...
    def get_policy(self, region: str, reference: str, qualifier: str | None) -> dict[str, Any]: ...
    def tag_resource(self, region: str, arn: str, tags: Any) -> None: ...
    def untag_resource(self, region: str, arn: str, keys: list[str]) -> None: ...
    def list_tags(self, region: str, arn: str) -> dict[str, str]: ...
    def put_event_invoke_config(
        self, region: str, reference: str, qualifier: str | None, request: dict[str, Any], *, merge: bool = False
    ) -> dict[str, Any]: ...
    def get_event_invoke_config(self, region: str, reference: str, qualifier: str | None) -> dict[str, Any]: ...
    def delete_event_invoke_config(self, region: str, reference: str, qualifier: str | None) -> None: ...
    def list_event_invoke_configs(self, region: str, reference: str) -> list[dict[str, Any]]: ...
    def put_provisioned(self, region: str, reference: str, qualifier: str | None, value: Any) -> dict[str, Any]: ...
    def get_provisioned(self, region: str, reference: str, qualifier: str | None) -> dict[str, Any]: ...
    def delete_provisioned(self, region: str, reference: str, qualifier: str | None) -> None: ...
    def list_provisioned(self, region: str, reference: str) -> list[dict[str, Any]]: ...
    def get_code_signing_config(self, region: str, reference: str) -> dict[str, Any]: ...


class LayerOperations(Protocol):
    def publish(self, region: str, name: str, request: dict[str, Any]) -> LayerVersion: ...
    def get(self, region: str, name: str, version: int) -> LayerVersion: ...
    def get_by_arn(self, arn: str) -> LayerVersion: ...
    def versions(self, region: str, name: str) -> list[LayerVersion]: ...
    def latest_by_layer(self, region: str) -> list[tuple[str, list[LayerVersion]]]: ...
    def delete(self, region: str, name: str, version: int) -> None: ...


class MappingOperations(Protocol):
    def create(self, region: str, function: str | Callable[[], str], request: dict[str, Any]) -> EventSourceMapping: ...
    def get(self, mapping_uuid: str) -> EventSourceMapping: ...
    def list(
        self, event_source_arn: str | None = None, function_arn: str | None = None
    ) -> list[EventSourceMapping]: ...
    def update(
        self, mapping_uuid: str, request: dict[str, Any], function_arn: str | None = None
    ) -> EventSourceMapping: ...
    def delete(self, mapping_uuid: str) -> EventSourceMapping: ...


class InvocationOperations(Protocol):
    def invoke_target(
        self, target: Target, payload: bytes, *, tail: bool = False, client_context: str | None = None
    ) -> InvokeResult: ...
    def submit_event(self, target: Target, payload: bytes) -> None: ...


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

    def args(self, name: str) -> list[str]:
        return list(self.query.get(name, []))

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

    @property
    def name(self) -> str:
        return self.params["name"]


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "application/json"


def json_response(status: int, body: Any, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    return Response(status, json.dumps(body).encode(), headers)


Operation = Callable[[Request], Response]
_FN = r"(?P<name>[^/]+)"
_LAYER = r"(?P<layer>[^/]+)"


class LambdaApi:
    """The WSGI application; operations delegate to the components behind the protocols."""

    def __init__(
        self,
        functions: FunctionOperations,
        settings: SettingsOperations,
        layers: LayerOperations,
        mappings: MappingOperations,
        invocations: InvocationOperations,
        endpoint_url: Callable[[], str],
    ) -> None:
        self.functions = functions
        self.settings = settings
        self.layers = layers
        self.mappings = mappings
        self.invocations = invocations
        self.endpoint_url = endpoint_url
        self._routes = [(method, re.compile(f"^{path}/?$"), op) for method, path, op in self._route_table()]

    def _route_table(self) -> list[tuple[str, str, Operation]]:
        fn = f"/2015-03-31/functions/{_FN}"
        eic = f"/2019-09-25/functions/{_FN}/event-invoke-config"
        layer_version = f"/2018-10-31/layers/{_LAYER}/versions/(?P<version>-?[0-9]+)"
        mapping = "/2015-03-31/event-source-mappings/(?P<uuid>[^/]+)"
        return [
            ("POST", f"{fn}/invocations", self.invoke),
            ("GET", "/2015-03-31/functions", self.list_functions),
            ("POST", "/2015-03-31/functions", self.create_function),
            ("GET", fn, self.get_function),
            ("DELETE", fn, self.delete_function),
            ("GET", f"{fn}/configuration", self.get_function_configuration),
            ("PUT", f"{fn}/configuration", self.update_function_configuration),
            ("PUT", f"{fn}/code", self.update_function_code),
            ("GET", f"{fn}/code-download", self.download_code),
            ("POST", f"{fn}/versions", self.publish_version),
            ("GET", f"{fn}/versions", self.list_versions),
            ("POST", f"{fn}/aliases", self.create_alias),
            ("GET", f"{fn}/aliases", self.list_aliases),
            ("GET", f"{fn}/aliases/(?P<alias>[^/]+)", self.get_alias),
            ("PUT", f"{fn}/aliases/(?P<alias>[^/]+)", self.update_alias),
            ("DELETE", f"{fn}/aliases/(?P<alias>[^/]+)", self.delete_alias),
            ("POST", f"{fn}/policy", self.add_permission),
            ("GET", f"{fn}/policy", self.get_policy),
            ("DELETE", f"{fn}/policy/(?P<sid>[^/]+)", self.remove_permission),
            ("PUT", f"/2017-10-31/functions/{_FN}/concurrency", self.put_function_concurrency),
            ("DELETE", f"/2017-10-31/functions/{_FN}/concurrency", self.delete_function_concurrency),
            ("GET", f"/2019-09-30/functions/{_FN}/concurrency", self.get_function_concurrency),
            ("PUT", f"/2019-09-30/functions/{_FN}/provisioned-concurrency", self.put_provisioned),
            ("GET", f"/2019-09-30/functions/{_FN}/provisioned-concurrency", self.get_provisioned),
            ("DELETE", f"/2019-09-30/functions/{_FN}/provisioned-concurrency", self.delete_provisioned),
            ("PUT", eic, self.put_event_invoke_config),
            ("POST", eic, self.update_event_invoke_config),
            ("GET", eic, self.get_event_invoke_config),
            ("DELETE", eic, self.delete_event_invoke_config),
            ("GET", f"{eic}/list", self.list_event_invoke_configs),
            ("GET", f"/2020-06-30/functions/{_FN}/code-signing-config", self.get_code_signing_config),
            ("POST", f"/2018-10-31/layers/{_LAYER}/versions", self.publish_layer_version),
            ("GET", f"/2018-10-31/layers/{_LAYER}/versions", self.list_layer_versions),
            ("GET", layer_version, self.get_layer_version),
            ("DELETE", layer_version, self.delete_layer_version),
            ("GET", f"{layer_version}/content-download", self.download_layer),
            ("GET", "/2018-10-31/layers", self.list_layers),
            ("POST", "/2015-03-31/event-source-mappings", self.create_event_source_mapping),
            ("GET", "/2015-03-31/event-source-mappings", self.list_event_source_mappings),
            ("GET", mapping, self.get_event_source_mapping),
            ("PUT", mapping, self.update_event_source_mapping),
            ("DELETE", mapping, self.delete_event_source_mapping),
            ("GET", "/2016-08-19/account-settings", self.get_account_settings),
            ("GET", "/2017-03-31/tags/(?P<arn>.+)", self.list_tags),
            ("POST", "/2017-03-31/tags/(?P<arn>.+)", self.tag_resource),
            ("DELETE", "/2017-03-31/tags/(?P<arn>.+)", self.untag_resource),
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
        return json_response(201, self.functions.create_function(request.region, request.json()))

    def get_function(self, request: Request) -> Response:
        target = self.functions.target(request.region, request.name, request.arg("Qualifier"))
        function = target.function
        body: dict[str, Any] = {
            "Configuration": self.functions.describe(target),
            "Code": {"RepositoryType": "S3", "Location": self._code_location(target)},
        }
        if function.tags:
            body["Tags"] = dict(function.tags)
        if function.reserved_concurrency is not None:
            body["Concurrency"] = {"ReservedConcurrentExecutions": function.reserved_concurrency}
        return json_response(200, body)

    def get_function_configuration(self, request: Request) -> Response:
        target = self.functions.target(request.region, request.name, request.arg("Qualifier"))
        return json_response(200, self.functions.describe(target))

    def list_functions(self, request: Request) -> Response:
        version = request.arg("FunctionVersion")
        if version not in (None, "ALL"):
            raise constraint_violation("functionVersion", version, "Member must satisfy enum value set: [ALL]")
        functions = self.functions.list_functions(request.region, all_versions=version == "ALL")
        return _page(request, functions, "Functions", 50)

    def update_function_code(self, request: Request) -> Response:
        return json_response(200, self.functions.update_code(request.region, request.name, request.json()))

    def update_function_configuration(self, request: Request) -> Response:
        return json_response(200, self.functions.update_configuration(request.region, request.name, request.json()))

    def delete_function(self, request: Request) -> Response:
        self.functions.delete_function(request.region, request.name, request.arg("Qualifier"))
        return Response(204)

    def download_code(self, request: Request) -> Response:
        region = request.arg("region") or request.region
        target = self.functions.target(region, request.name, request.arg("version"))
        return Response(200, target.config.code.zip_bytes, content_type="application/zip")

    def _code_location(self, target: Target) -> str:
        config = target.config
        query = f"region={config.region}&version={config.version.replace('$', '%24')}"
        return f"{self.endpoint_url()}/2015-03-31/functions/{config.name}/code-download?{query}"

    # -- versions and aliases -----------------------------------------------------------
    def publish_version(self, request: Request) -> Response:
        return json_response(201, self.functions.publish_version(request.region, request.name, request.json()))

    def list_versions(self, request: Request) -> Response:
        return _page(request, self.functions.list_versions(request.region, request.name), "Versions", 50)

    def create_alias(self, request: Request) -> Response:
        return json_response(201, self.functions.create_alias(request.region, request.name, request.json()))

    def get_alias(self, request: Request) -> Response:
        return json_response(200, self.functions.get_alias(request.region, request.name, request.params["alias"]))

    def update_alias(self, request: Request) -> Response:
        alias = self.functions.update_alias(request.region, request.name, request.params["alias"], request.json())
        return json_response(200, alias)

    def delete_alias(self, request: Request) -> Response:
        self.functions.delete_alias(request.region, request.name, request.params["alias"])
        return Response(204)

    def list_aliases(self, request: Request) -> Response:
        aliases = self.functions.list_aliases(request.region, request.name, request.arg("FunctionVersion"))
        return _page(request, aliases, "Aliases", 50)

    # -- permissions --------------------------------------------------------------------
    def add_permission(self, request: Request) -> Response:
        answer = self.settings.add_permission(request.region, request.name, request.arg("Qualifier"), request.json())
        return json_response(201, answer)

    def get_policy(self, request: Request) -> Response:
        return json_response(200, self.settings.get_policy(request.region, request.name, request.arg("Qualifier")))

    def remove_permission(self, request: Request) -> Response:
        self.settings.remove_permission(
            request.region, request.name, request.params["sid"], request.arg("Qualifier"), request.arg("RevisionId")
        )
        return Response(204)

    # -- concurrency --------------------------------------------------------------------
    def put_function_concurrency(self, request: Request) -> Response:
        value = request.json().get("ReservedConcurrentExecutions")
        reserved = self.functions.put_concurrency(request.region, request.name, value)
        return json_response(200, {"ReservedConcurrentExecutions": reserved})

    def get_function_concurrency(self, request: Request) -> Response:
        function = self.functions.target(request.region, request.name).function
        if function.reserved_concurrency is None:
            return json_response(200, {})
        return json_response(200, {"ReservedConcurrentExecutions": function.reserved_concurrency})

    def delete_function_concurrency(self, request: Request) -> Response:
        self.functions.delete_concurrency(request.region, request.name)
        return Response(204)

    def put_provisioned(self, request: Request) -> Response:
        value = request.json().get("ProvisionedConcurrentExecutions")
        answer = self.settings.put_provisioned(request.region, request.name, request.arg("Qualifier"), value)
        return json_response(202, answer)

    def get_provisioned(self, request: Request) -> Response:
        if request.arg("List") == "ALL":
            configs = self.settings.list_provisioned(request.region, request.name)
            return _page(request, configs, "ProvisionedConcurrencyConfigs", 50)
        return json_response(200, self.settings.get_provisioned(request.region, request.name, request.arg("Qualifier")))

    def delete_provisioned(self, request: Request) -> Response:
        self.settings.delete_provisioned(request.region, request.name, request.arg("Qualifier"))
        return Response(204)

    def get_account_settings(self, request: Request) -> Response:
        return json_response(200, self.functions.account_settings(request.region))

    # -- asynchronous invocation settings, code signing ---------------------------------
    def put_event_invoke_config(self, request: Request) -> Response:
        answer = self.settings.put_event_invoke_config(
            request.region, request.name, request.arg("Qualifier"), request.json()
        )
        return json_response(200, answer)

    def update_event_invoke_config(self, request: Request) -> Response:
        answer = self.settings.put_event_invoke_config(
            request.region, request.name, request.arg("Qualifier"), request.json(), merge=True
        )
        return json_response(200, answer)

    def get_event_invoke_config(self, request: Request) -> Response:
        answer = self.settings.get_event_invoke_config(request.region, request.name, request.arg("Qualifier"))
        return json_response(200, answer)

    def delete_event_invoke_config(self, request: Request) -> Response:
        self.settings.delete_event_invoke_config(request.region, request.name, request.arg("Qualifier"))
        return Response(204)

    def list_event_invoke_configs(self, request: Request) -> Response:
        configs = self.settings.list_event_invoke_configs(request.region, request.name)
        return _page(request, configs, "FunctionEventInvokeConfigs", 50)

    def get_code_signing_config(self, request: Request) -> Response:
        return json_response(200, self.settings.get_code_signing_config(request.region, request.name))

    # -- tags ---------------------------------------------------------------------------
    def list_tags(self, request: Request) -> Response:
        return json_response(200, {"Tags": self.settings.list_tags(request.region, request.params["arn"])})

    def tag_resource(self, request: Request) -> Response:
        self.settings.tag_resource(request.region, request.params["arn"], request.json().get("Tags"))
        return Response(204)

    def untag_resource(self, request: Request) -> Response:
        keys = request.args("tagKeys")
        if not keys:
            raise constraint_violation("tagKeys", None, "Member must not be null")
        self.settings.untag_resource(request.region, request.params["arn"], keys)
        return Response(204)

    # -- layers -------------------------------------------------------------------------
    def publish_layer_version(self, request: Request) -> Response:
        layer = self.layers.publish(request.region, request.params["layer"], request.json())
        return json_response(201, layer.to_api(self._layer_location(layer)))

    def get_layer_version(self, request: Request) -> Response:
        layer = self.layers.get(request.region, request.params["layer"], int(request.params["version"]))
        return json_response(200, layer.to_api(self._layer_location(layer)))

    def delete_layer_version(self, request: Request) -> Response:
        self.layers.delete(request.region, request.params["layer"], int(request.params["version"]))
        return Response(204)

    def list_layer_versions(self, request: Request) -> Response:
        runtime, architecture = _layer_filters(request)
        versions = self.layers.versions(request.region, request.params["layer"])
        items = [v.list_item() for v in versions if v.matches(runtime, architecture)]
        return _page(request, items, "LayerVersions", 50)

    def list_layers(self, request: Request) -> Response:
        if request.arg("find") == "LayerVersion":
            layer = self.layers.get_by_arn(request.arg("Arn") or "")
            return json_response(200, layer.to_api(self._layer_location(layer)))
        runtime, architecture = _layer_filters(request)
        items = []
        for name, versions in self.layers.latest_by_layer(request.region):
            matching = [v for v in versions if v.matches(runtime, architecture)]
            if matching:
                items.append(
                    {
                        "LayerName": name,
                        "LayerArn": matching[0].arn.rsplit(":", 1)[0],
                        "LatestMatchingVersion": matching[0].list_item(),
                    }
                )
        return _page(request, items, "Layers", 50)

    def download_layer(self, request: Request) -> Response:
        region = request.arg("region") or request.region
        layer = self.layers.get(region, request.params["layer"], int(request.params["version"]))
        return Response(200, layer.code.zip_bytes, content_type="application/zip")

    def _layer_location(self, layer: LayerVersion) -> str:
        path = f"/2018-10-31/layers/{layer.name}/versions/{layer.version}/content-download"
        return f"{self.endpoint_url()}{path}?region={layer.region}"

    # -- invoke -------------------------------------------------------------------------
    def invoke(self, request: Request) -> Response:
        target = self.functions.invocation_target(request.region, request.name, request.arg("Qualifier"))
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
            self.invocations.submit_event(target, payload)
            return Response(202)
        client_context = _client_context(request.header("X-Amz-Client-Context"))
        result = self.invocations.invoke_target(
            target, payload, tail=request.header("X-Amz-Log-Type") == "Tail", client_context=client_context
        )
        headers: tuple[tuple[str, str], ...] = (("X-Amz-Executed-Version", result.executed_version),)
        if result.function_error:
            headers += (("X-Amz-Function-Error", result.function_error),)
        if result.log_tail is not None:
            headers += (("X-Amz-Log-Result", result.log_tail),)
        return Response(result.status_code, result.payload, headers)

    # -- event source mappings ----------------------------------------------------------
    def _mapping_function_arn(self, request: Request, reference: str) -> str:
        """The ARN a mapping stores: qualified when the request names a version or an alias."""
        target = self.functions.target(request.region, reference)
        return function_arn(target.function.region, target.function.name, target.qualifier)

    def create_event_source_mapping(self, request: Request) -> Response:
        body = request.json()
        reference = body.get("FunctionName")
        if not reference:
            raise InvalidParameterValueException("FunctionName is required.")
        # The function is resolved inside create, after the checks AWS makes first.
        mapping = self.mappings.create(request.region, lambda: self._mapping_function_arn(request, reference), body)
        return json_response(202, mapping.to_api())

    def get_event_source_mapping(self, request: Request) -> Response:
        return json_response(200, self.mappings.get(request.params["uuid"]).to_api())

    def list_event_source_mappings(self, request: Request) -> Response:
        reference = request.arg("FunctionName")
        wanted_function = None
        if reference:
            name, qualifier, region = parse_function_ref(reference)
            wanted_function = function_arn(region or request.region, name, qualifier)
        mappings = self.mappings.list(request.arg("EventSourceArn"), wanted_function)
        items = [m.to_api() for m in mappings if m.region == request.region]
        return _page(request, items, "EventSourceMappings", 100)

    def update_event_source_mapping(self, request: Request) -> Response:
        body = request.json()
        function = self._mapping_function_arn(request, body["FunctionName"]) if body.get("FunctionName") else None
        mapping = self.mappings.update(request.params["uuid"], body, function)
        return json_response(202, mapping.to_api())

    def delete_event_source_mapping(self, request: Request) -> Response:
        return json_response(202, self.mappings.delete(request.params["uuid"]).to_api())


def _page(request: Request, items: list[Any], key: str, default_size: int) -> Response:
    start = _marker(request.arg("Marker"))
    size = _max_items(request.arg("MaxItems"), default_size)
    body: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        body["NextMarker"] = str(start + size)
    return json_response(200, body)


def _layer_filters(request: Request) -> tuple[str | None, str | None]:
    return (
        check_compatible_runtime(request.arg("CompatibleRuntime")),
        check_compatible_architecture(request.arg("CompatibleArchitecture")),
    )


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
