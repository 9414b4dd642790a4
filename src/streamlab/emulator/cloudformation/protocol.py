"""The AWS query protocol of CloudFormation, read from botocore's service model.

A request is a form (``Action=CreateStack&Parameters.member.1.ParameterKey=...``); an answer
is XML wrapped in ``<ActionResponse><ActionResult>``. botocore ships the shapes of both, so
parsing and rendering follow the model instead of restating every operation.
"""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

from streamlab.emulator.cloudformation.exceptions import CloudFormationError, ValidationError

XML_NAMESPACE = "http://cloudformation.amazonaws.com/doc/2010-05-15/"


@functools.cache
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("cloudformation")


def operation_model(action: str) -> OperationModel:
    model = service_model()
    if action not in model.operation_names:
        raise CloudFormationError("InvalidAction", f"The action {action} is not valid for this web service.")
    return model.operation_model(action)


def parse_request(operation: OperationModel, form: dict[str, str]) -> dict[str, Any]:
    """The operation's parameters as boto3 would have passed them, checked for required members."""
    tree: dict[str, Any] = {}
    for key, value in form.items():
        if key in ("Action", "Version"):
            continue
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValidationError(f"Invalid parameter {key}")
            node = child
        node[parts[-1]] = value
    shape = operation.input_shape
    if shape is None:
        return {}
    params = _convert(shape, tree, shape.name)
    for name in shape.required_members:
        if name not in params:
            raise ValidationError(
                f"1 validation error detected: Value null at '{name[:1].lower()}{name[1:]}' failed to satisfy "
                "constraint: Member must not be null"
            )
    return dict(params)


def _convert(shape: Shape, value: Any, where: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise ValidationError(f"Invalid value for {where}")
        out = {}
        for name, member in shape.members.items():
            wire = member.serialization.get("name", name)
            if wire in value:
                out[name] = _convert(member, value[wire], f"{where}.{name}")
        return out
    if kind == "list":
        if value == "":  # an empty list is sent as ``Name=``
            return []
        items = value.get("member", {}) if isinstance(value, dict) else {}
        return [_convert(shape.member, items[index], where) for index in sorted(items, key=_index)]
    if kind == "map":
        entries = value.get("entry", {}) if isinstance(value, dict) else {}
        return {
            _convert(shape.key, entry.get("key", ""), where): _convert(shape.value, entry.get("value", ""), where)
            for entry in (entries[index] for index in sorted(entries, key=_index))
        }
    if not isinstance(value, str):
        raise ValidationError(f"Invalid value for {where}")
    if kind == "boolean":
        return value.lower() == "true"
    if kind in ("integer", "long"):
        try:
            return int(value)
        except ValueError:
            raise ValidationError(f"Invalid value {value!r} for {where}: expected an integer") from None
    return value


def _index(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValidationError(f"Invalid list index {text!r}") from None


def render_response(operation: OperationModel, result: dict[str, Any]) -> bytes:
    """``<ActionResponse><ActionResult>…</ActionResult><ResponseMetadata>…`` for a result dict."""
    action = operation.name
    body = []
    shape = operation.output_shape
    if shape is not None:
        wrapper = shape.serialization.get("resultWrapper", f"{action}Result")
        body.append(f"<{wrapper}>{_render_members(shape, result)}</{wrapper}>")
    body.append(f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>")
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><{action}Response xmlns="{XML_NAMESPACE}">'
        f"{''.join(body)}</{action}Response>"
    ).encode()


def render_error(error: CloudFormationError) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><ErrorResponse xmlns="{XML_NAMESPACE}"><Error>'
        f"<Type>{'Sender' if error.status < 500 else 'Receiver'}</Type><Code>{escape(error.code)}</Code>"
        f"<Message>{escape(error.message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    ).encode()


def _render_members(shape: Shape, value: dict[str, Any]) -> str:
    parts = []
    for name, member in shape.members.items():
        if name in value and value[name] is not None:
            wire = member.serialization.get("name", name)
            parts.append(f"<{wire}>{_render(member, value[name])}</{wire}>")
    return "".join(parts)


def _render(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "structure":
        return _render_members(shape, value)
    if kind == "list":
        return "".join(f"<member>{_render(shape.member, item)}</member>" for item in value)
    if kind == "map":
        return "".join(
            f"<entry><key>{escape(str(key))}</key><value>{_render(shape.value, item)}</value></entry>"
            for key, item in value.items()
        )
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        return escape(_timestamp(value))
    return escape(str(value))


def _timestamp(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return str(value)
