"""DynamoDB and DynamoDB Streams answers serialised without moto's attribute picker.

moto 5.2 serialises every response by walking the operation's output shape and asking an
``AttributePicker`` for each member, which tries several alias spellings per member on the way.
For DynamoDB that walk covers every attribute of every item (``AttributeValue`` is a recursive
structure), and profiling the endpoint under load (``py-spy record --gil`` on `streamlab up`,
benchmarks/concurrency.py's mix of PutItem / UpdateItem / Query / GetRecords) put 60% of its CPU
there. DynamoDB's results are already plain dictionaries keyed by the model's member names, so the
walk here reads each member by its name and delegates every scalar to moto's own serializer
methods: the same output, without the picker. A result that is not plain dictionaries keyed by
member names (a model object, an alias spelling) goes through moto's walk unchanged.
"""

from __future__ import annotations

import functools
from enum import Enum
from typing import Any

from botocore.model import Shape
from moto.core.serialize import BaseJSONSerializer

from streamlab.emulator.moto_patches.patching import Patcher
from streamlab.errors import StreamlabError

#: Services whose results are plain dictionaries (moto's DynamoResult): the fast walk applies.
SERVICES = frozenset({"dynamodb", "dynamodbstreams"})


class _Fallback(StreamlabError):
    """The result is not plain dictionaries keyed by member names: let moto's walk do it."""


def serialize_dynamodb_results_by_member_name(patcher: Patcher) -> None:
    """DynamoDB / Streams results are serialised by member name, not through moto's attribute picker."""
    original = BaseJSONSerializer._serialize_result

    @functools.wraps(original)
    def _serialize_result(self: BaseJSONSerializer, resp: Any, result: Any) -> Any:
        shape = self.operation_model.output_shape
        if shape is None or self.operation_model.service_model.service_name not in SERVICES:
            return original(self, resp, result)
        try:
            serialized = _walk(self, result, shape)
        except _Fallback:
            return original(self, resp, result)
        return self._serialized_result_to_response(resp, result, shape, serialized)

    patcher.replace(BaseJSONSerializer, "_serialize_result", _serialize_result)


def _walk(serializer: BaseJSONSerializer, value: Any, shape: Shape) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if getattr(shape, "is_document_type", False):
            return value
        if not isinstance(value, dict):
            raise _Fallback
        members = shape.members
        if not members.keys() >= value.keys():
            raise _Fallback
        return {
            members[name].serialization.get("name", name): _walk(serializer, value[name], members[name])
            for name in members
            if value.get(name) is not None
        }
    if kind == "list":
        if not isinstance(value, list):
            raise _Fallback
        member = shape.member
        return [_walk(serializer, item, member) if item is not None else None for item in value]
    if kind == "map":
        if not isinstance(value, dict):
            raise _Fallback
        # moto leaves out a map entry whose structure value is None, and keeps other Nones.
        structures = shape.value.type_name == "structure"
        return {
            key: _walk(serializer, item, shape.value) if item is not None else None
            for key, item in value.items()
            if item is not None or not structures
        }
    if kind == "string":
        if isinstance(value, Enum):
            value = value.value
        return str(value) if value not in (None, {}, []) else value
    if kind == "boolean" and isinstance(value, bool):
        return value
    # Numbers, blobs, timestamps: moto's own conversion for the type.
    wrapper: dict[str, Any] = {}
    getattr(serializer, f"_serialize_type_{kind}", serializer._default_serialize)(wrapper, value, shape, "v")
    return next(iter(wrapper.values()), None)
