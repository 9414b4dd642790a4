"""Reject malformed JSON-protocol requests the way AWS does, before they reach moto.

moto trusts its input: a missing ``TableName`` or a number where a string belongs ends in
a ``KeyError`` and an HTTP 500. AWS validates every request against the service model
first, and a boto3 user sees ``SerializationException`` (body is not JSON, or a value has
the wrong type), ``ValidationException`` (a required member is missing),
``UnknownOperationException`` or ``MissingAuthenticationTokenException``. botocore ships
the same service models, so the checks here read them rather than restate them.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.exceptions import UnknownServiceError
from botocore.model import OperationNotFoundError, Shape

from streamlab.aws_rules import MAX_ATTRIBUTE_NESTING, NESTING_MESSAGE
from streamlab.errors import StreamlabError

#: X-Amz-Target prefixes of the JSON-protocol services the gateway serves, by service name.
TARGET_PREFIXES = {
    "DynamoDB_20120810": "dynamodb",
    "DynamoDBStreams_20120810": "dynamodbstreams",
    "Logs_20140328": "logs",
    "AmazonSQS": "sqs",
}

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "structure": (dict,),
    "map": (dict,),
    "list": (list,),
    "string": (str,),
    "blob": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "timestamp": (int, float, str),
}

_WIRE_NAMES = {
    "string": "STRING_VALUE",
    "boolean": "BOOLEAN_VALUE",
    "structure": "START_OBJECT",
    "map": "START_OBJECT",
    "list": "START_ARRAY",
}


@dataclass(frozen=True)
class RequestError(StreamlabError):
    """An AWS error the gateway answers with instead of calling the backend."""

    code: str
    message: str
    status: int = 400


@functools.cache
def _service_model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


def _wire_type(value: Any) -> str:
    if isinstance(value, bool):
        return "BOOLEAN_VALUE"
    if isinstance(value, (int, float)):
        return "NUMBER_VALUE"
    if isinstance(value, str):
        return "STRING_VALUE"
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, dict):
        return "START_OBJECT"
    return "VALUE_NULL"


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def attribute_depth(value: Any) -> int:
    """How deep a DynamoDB attribute value nests (``{"S": ..}`` is 1), counted without recursion."""
    deepest = 0
    pending = [(value, 1)]
    while pending:
        current, depth = pending.pop()
        deepest = max(deepest, depth)
        if not isinstance(current, dict):
            continue
        children = current.get("M")
        if isinstance(children, dict):
            pending.extend((child, depth + 1) for child in children.values())
        items = current.get("L")
        if isinstance(items, list):
            pending.extend((child, depth + 1) for child in items)
    return deepest


def _check_nesting(value: Any) -> None:
    if attribute_depth(value) > MAX_ATTRIBUTE_NESTING:
        raise RequestError("ValidationException", NESTING_MESSAGE)


#: Structures that must set exactly one member, and AWS's message when none / several are set.
_ONE_OF = {
    "AttributeValue": (
        "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
    ),
    "WriteRequest": (
        "Supplied WriteRequest is empty, must contain exactly one of PutRequest or DeleteRequest",
        "Supplied WriteRequest has more than one request set, must contain exactly one of PutRequest or DeleteRequest",
    ),
}


_NUMBER = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")


def _check_one_of(shape: Shape, value: Any) -> None:
    messages = _ONE_OF.get(shape.name)
    if messages is None or not isinstance(value, dict):
        return
    count = sum(1 for item in value.values() if item is not None)
    if count != 1:
        raise RequestError("ValidationException", messages[0] if count == 0 else messages[1])
    numbers = [value["N"]] if isinstance(value.get("N"), str) else value.get("NS") or []
    if shape.name == "AttributeValue" and any(isinstance(n, str) and not _NUMBER.match(n) for n in numbers):
        raise RequestError("ValidationException", "A value provided cannot be converted into a number")


def _check_type(shape: Shape, value: Any, path: str) -> None:
    if shape.type_name == "blob" and isinstance(value, str):
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise RequestError("SerializationException", "Base64 encoded value is not valid") from None
    expected = _JSON_TYPES.get(shape.type_name)
    if expected is not None and (not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected)):
        wanted = _WIRE_NAMES.get(shape.type_name, shape.type_name)
        raise RequestError(
            "SerializationException",
            f"{_wire_type(value)} cannot be converted to {wanted}"
            if shape.type_name != "structure"
            else f"Unexpected value type in payload at {path or 'the request body'}: expected an object",
        )


def _check_bounds(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    """The model's ``min`` / ``max``: a number's value, a string's, list's or map's length."""
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is None and high is None:
        return
    if shape.type_name in ("integer", "long") and not isinstance(value, bool):
        measure, what = value, "value"
    elif shape.type_name in ("string", "list", "map"):
        measure, what = len(value), "length"
    else:
        return
    where = f"Value '{value}' at '{path.rstrip('.')}' failed to satisfy constraint: Member must have {what}"
    if low is not None and measure < low:
        problems.append(f"{where} greater than or equal to {low}")
    elif high is not None and measure > high:
        problems.append(f"{where} less than or equal to {high}")


def _check(shape: Shape, value: Any, path: str, missing: list[str], in_attribute: bool = False) -> None:
    """Walk ``value`` against ``shape``: type mismatches raise, other problems are collected."""
    if value is None:
        return
    if shape.name == "AttributeValue" and not in_attribute:
        _check_nesting(value)  # the outermost attribute value: the whole nest, before walking it
        in_attribute = True
    _check_type(shape, value, path)
    _check_one_of(shape, value)
    _check_bounds(shape, value, path, missing)
    if shape.type_name == "structure":
        for name in shape.required_members:
            if value.get(name) is None and not shape.members[name].serialization.get("location"):
                where = f"{path}{_lower_camel(name)}".rstrip(".")
                missing.append(f"Value null at '{where}' {_NOT_NULL}")
        for name, member_value in value.items():
            member = shape.members.get(name)
            # Members bound to the URI, query string or headers are not read from the body.
            if member is not None and not member.serialization.get("location"):
                _check(member, member_value, f"{path}{_lower_camel(name)}.", missing, in_attribute)
    elif shape.type_name in ("list", "map"):
        _check_items(shape, value, path, missing, in_attribute)


def _check_items(shape: Shape, value: Any, path: str, missing: list[str], in_attribute: bool) -> None:
    """A list's or map's items: none may be null, each must fit the member shape."""
    base = path.rstrip(".")
    if shape.type_name == "list":
        items = [(f"{base}.{index + 1}", item) for index, item in enumerate(value)]
        member = shape.member
    else:
        items = [(f"{base}.{key}", item) for key, item in value.items()]
        member = shape.value
    for where, item in items:
        if item is None:
            missing.append(f"Value null at '{where}{'.member' if shape.type_name == 'list' else ''}' {_NOT_NULL}")
        _check(member, item, f"{where}.", missing, in_attribute)


_NOT_NULL = "failed to satisfy constraint: Member must not be null"


def without_null_members(value: Any) -> Any:
    """``value`` without structure members set to JSON null (AWS reads them as absent, moto as None).

    Returns ``value`` itself when it has none, so a caller can tell whether to re-encode."""
    if isinstance(value, dict):
        cleaned = {key: without_null_members(item) for key, item in value.items() if item is not None}
        if len(cleaned) == len(value) and all(cleaned[key] is value[key] for key in cleaned):
            return value
        return cleaned
    if isinstance(value, list):
        items = [without_null_members(item) for item in value]
        return value if all(new is old for new, old in zip(items, value, strict=True)) else items
    return value


#: Signing names (the credential scope's service) that differ from botocore's service name.
_SERVICE_BY_SIGNING_NAME = {"monitoring": "cloudwatch", "states": "stepfunctions"}


def service_for_target(target: str, signing_name: str | None = None) -> str | None:
    """The JSON-protocol service an ``X-Amz-Target`` is for, or None when nothing tells.

    A prefix streamlab knows names its service; otherwise the service the request is signed
    for must have that prefix, or the target is an UnknownOperationException (as AWS answers).
    """
    prefix, _, _ = target.partition(".")
    known = TARGET_PREFIXES.get(prefix)
    if known is not None or signing_name is None:
        return known
    service = _SERVICE_BY_SIGNING_NAME.get(signing_name, signing_name)
    try:
        model = _service_model(service)
    except UnknownServiceError:
        return None
    if model.metadata.get("targetPrefix") != prefix:
        raise RequestError("UnknownOperationException", f"Unknown operation {target}")
    return str(model.service_name)


def validate_json_request(service: str, target: str, body: bytes, signed: bool) -> Any:
    """Raise :class:`RequestError` for a request AWS would refuse; otherwise return its parsed body
    (None when the service's model is unknown here)."""
    if not signed:
        raise RequestError("MissingAuthenticationTokenException", "Request is missing Authentication Token")
    try:
        model = _service_model(service)
    except UnknownServiceError:
        return None
    _, _, operation_name = target.partition(".")
    try:
        operation = model.operation_model(operation_name)
    except OperationNotFoundError:
        raise RequestError("UnknownOperationException", f"Unknown operation {operation_name}") from None
    try:
        payload = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise RequestError("SerializationException", "Request body is not valid JSON") from None
    except RecursionError:  # nested deeper than Python's parser goes: far beyond any AWS limit
        if service == "dynamodb":
            raise RequestError("ValidationException", NESTING_MESSAGE) from None
        raise RequestError("SerializationException", "Request body is nested too deeply") from None
    if operation.input_shape is None:
        return payload
    if not isinstance(payload, dict):
        raise RequestError("SerializationException", f"{_wire_type(payload)} cannot be converted to START_OBJECT")
    missing: list[str] = []
    _check(operation.input_shape, payload, "", missing)
    if missing:
        details = "; ".join(missing)
        count = len(missing)
        raise RequestError(
            "ValidationException", f"{count} validation error{'s' if count > 1 else ''} detected: {details}"
        )
    return payload


@functools.cache
def _rest_routes(service: str) -> tuple[tuple[str, re.Pattern[str], str], ...]:
    """``(method, path pattern, operation)`` for each operation of a REST service's model."""
    model = _service_model(service)
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = http.get("requestUri", "/").split("?", 1)[0]
        parts = re.split(r"\{([^}]+)\}", uri)  # literal, label, literal, label, ...
        pattern = "".join(
            re.escape(part) if index % 2 == 0 else (".+" if part.endswith("+") else "[^/]+")
            for index, part in enumerate(parts)
        )
        routes.append((http.get("method", "GET"), re.compile(f"^{pattern}/?$"), name))
    # The most specific (longest literal) templates first: /functions/{F}/code before /functions/{F}.
    return tuple(sorted(routes, key=lambda route: -len(route[1].pattern)))


def validate_rest_json_body(service: str, method: str, path: str, body: bytes) -> None:
    """Refuse a REST-JSON body whose members have the wrong JSON types, as AWS does before the
    operation runs (Lambda: InvalidRequestContentException). Anything else is the service's to judge."""
    if not body:
        return
    operation = next((op for verb, route, op in _rest_routes(service) if verb == method and route.match(path)), None)
    if operation is None:
        return
    shape = _service_model(service).operation_model(operation).input_shape
    if shape is None or shape.serialization.get("payload"):
        return  # the body is a blob (Invoke's payload), not JSON members
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return  # the service reports unparseable JSON itself
    if not isinstance(payload, dict):
        return
    try:
        _check(shape, payload, "", [])
    except RequestError as error:
        raise RequestError(
            "InvalidRequestContentException", f"Could not parse request body into json: {error.message}"
        ) from None


def json_error_body(service: str, error: RequestError) -> bytes:
    """The error body a JSON-protocol AWS service returns (botocore reads ``__type``)."""
    if service in ("dynamodb", "dynamodbstreams"):
        error_type = f"com.amazonaws.dynamodb.v20120810#{error.code}"
    elif service == "logs":
        error_type = error.code
    else:
        error_type = f"com.amazonaws.{service}#{error.code}"
    return json.dumps({"__type": error_type, "message": error.message}).encode()
