"""What a resource provider is: create, update in place, delete, through the endpoint's own APIs.

Each provider handles one resource type with boto3 clients aimed at the endpoint (never a
service's internals), so a stack's Lambda functions land in streamlab's Lambda service and its
tables in the same DynamoDB the tests write to.
"""

from __future__ import annotations

import json
import random
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from streamlab.emulator.cloudformation.exceptions import ResourceFailure

#: Makes a boto3 client on the endpoint: (service, region) -> client.
ClientFactory = Callable[[str, str], Any]

_SUFFIX_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class ResourceContext:
    """Where a resource is provisioned and how it is named when its template gives no name."""

    region: str
    account: str
    stack_name: str
    stack_id: str
    logical_id: str
    clients: ClientFactory

    def client(self, service: str) -> Any:
        return self.clients(service, self.region)

    def physical_name(self, max_length: int = 64, lowercase: bool = False) -> str:
        """``<stack>-<LogicalId>-<RANDOM>`` cut to ``max_length``, as CloudFormation names resources."""
        suffix = "".join(random.choices(_SUFFIX_ALPHABET, k=12))
        head = f"{self.stack_name}-{self.logical_id}"
        head = head[: max(1, max_length - len(suffix) - 1)]
        name = f"{head}-{suffix}"
        return name.lower() if lowercase else name


@dataclass
class Provisioned:
    """What a create or update produced: the Ref value and the Fn::GetAtt attributes."""

    physical_id: str
    attributes: dict[str, Any]


class Provider:
    """Base class: subclasses set ``type_name`` and implement ``create`` and ``delete``.

    ``replace_on`` names the properties whose change needs a new resource (CloudFormation's
    "Update requires: Replacement"); ``name_property`` is the property that names the resource,
    so a replacement of a custom-named resource can be refused as CloudFormation refuses it.
    A provider without ``update`` replaces on every change.
    """

    type_name: ClassVar[str]
    attributes: ClassVar[frozenset[str]] = frozenset()
    replace_on: ClassVar[frozenset[str]] = frozenset()
    name_property: ClassVar[str | None] = None
    updatable: ClassVar[bool] = True

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        raise NotImplementedError

    def update(
        self, context: ResourceContext, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        raise NotImplementedError

    def delete(self, context: ResourceContext, physical_id: str, properties: dict[str, Any]) -> None:
        raise NotImplementedError

    def needs_replacement(self, old: dict[str, Any], new: dict[str, Any]) -> bool:
        if not self.updatable:
            return True
        return any(old.get(name) != new.get(name) for name in self.replace_on)


# -- property helpers ------------------------------------------------------------------------
def required(properties: dict[str, Any], name: str) -> Any:
    if properties.get(name) in (None, ""):
        raise ResourceFailure(f"Property validation failure: [The property {{/{name}}} is required]")
    return properties[name]


def as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ResourceFailure(f"Property validation failure: [Value {value!r} is not an integer]") from None


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).lower() == "true"


def as_json_text(value: Any) -> str:
    """A policy document or pattern: CloudFormation accepts an object or its JSON text."""
    return value if isinstance(value, str) else json.dumps(value)


def attribute_texts(properties: dict[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    """The named properties as a service's string attributes (SQS, SNS): JSON for documents."""
    texts = {}
    for name in names:
        if name in properties:
            value = properties[name]
            if isinstance(value, bool):
                texts[name] = "true" if value else "false"
            else:
                texts[name] = json.dumps(value) if isinstance(value, dict | list) else str(value)
    return texts


def tag_list(value: Any) -> list[dict[str, str]]:
    return [{"Key": str(tag["Key"]), "Value": str(tag["Value"])} for tag in value or []]


def tag_dict(value: Any) -> dict[str, str]:
    if isinstance(value, dict):  # SAM and a few types give tags as a map
        return {str(key): str(item) for key, item in value.items()}
    return {tag["Key"]: tag["Value"] for tag in tag_list(value)}


def pick(properties: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: properties[name] for name in names if name in properties}


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def ignore_missing(call: Callable[..., Any], *codes: str, **arguments: Any) -> None:
    """Run a delete, ``call(**arguments)``; a resource that is already gone is deleted."""
    try:
        call(**arguments)
    except ClientError as error:
        code = error_code(error)
        if code in codes or "NotFound" in code or "NoSuch" in code:
            return
        raise


def wait_until(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise ResourceFailure(f"Timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def shaped(client: Any, operation: str, properties: dict[str, Any], *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """``properties`` as the request of ``operation``: members it does not take are left out, and
    template text such as ``"10"`` or ``"true"`` becomes the number or boolean the model wants."""
    shape = client.meta.service_model.operation_model(operation).input_shape
    return {
        name: _coerce(shape.members[name], value)
        for name, value in properties.items()
        if name in shape.members and name not in skip
    }


def _coerce(shape: Any, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {key: _coerce(shape.members[key], item) for key, item in value.items() if key in shape.members}
    if kind == "list" and isinstance(value, list):
        return [_coerce(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: _coerce(shape.value, item) for key, item in value.items()}
    if kind in ("integer", "long") and not isinstance(value, bool):
        return as_int(value)
    if kind in ("float", "double") and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise ResourceFailure(f"Property validation failure: [Value {value!r} is not a number]") from None
    if kind == "boolean":
        return as_bool(value)
    if kind == "string" and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if kind == "timestamp" and isinstance(value, str) and value.replace(".", "", 1).isdigit():
        return float(value)
    return value
