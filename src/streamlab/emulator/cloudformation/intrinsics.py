"""Intrinsic functions, condition functions and pseudo parameters.

:class:`Evaluator` resolves a template value against a stack's parameters, conditions,
mappings, exports and the resources created so far. With ``static=True`` (change set
previews) a reference to a resource becomes a marker text such as ``{{GetAtt:Table.Arn}}``, so
two versions of a template can be compared before anything exists.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from streamlab.emulator.cloudformation.exceptions import TemplateError

NO_VALUE = "AWS::NoValue"


class _NoValue:
    """``Ref: AWS::NoValue``: the property or list item is removed."""

    def __repr__(self) -> str:
        return NO_VALUE


REMOVED = _NoValue()

_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")

#: Looks up (logical id, attribute) -> value; raises KeyError when it is not known yet.
AttributeLookup = Callable[[str, str], Any]


@dataclass
class Evaluator:
    parameters: dict[str, Any]
    pseudo: dict[str, Any]
    mappings: dict[str, Any] = field(default_factory=dict)
    condition_definitions: dict[str, Any] = field(default_factory=dict)
    resources: set[str] = field(default_factory=set)
    physical_ids: dict[str, str] = field(default_factory=dict)
    attribute: AttributeLookup | None = None
    exports: dict[str, str] = field(default_factory=dict)
    static: bool = False
    imported: set[str] = field(default_factory=set)
    _conditions: dict[str, bool] = field(default_factory=dict)
    _evaluating: set[str] = field(default_factory=set)

    # -- conditions -----------------------------------------------------------------------
    def condition(self, name: str) -> bool:
        if name in self._conditions:
            return self._conditions[name]
        if name not in self.condition_definitions:
            raise TemplateError(
                f"Template format error: Unresolved dependencies [{name}]. Cannot reference resources "
                "in the Conditions block of the template"
            )
        if name in self._evaluating:
            raise TemplateError(f"Template error: circular condition dependency on {name}")
        self._evaluating.add(name)
        try:
            value = self.resolve(self.condition_definitions[name])
        finally:
            self._evaluating.discard(name)
        if not isinstance(value, bool):
            raise TemplateError(f"Template error: condition {name} does not evaluate to a boolean")
        self._conditions[name] = value
        return value

    # -- values ---------------------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, argument),) = value.items()
                function = _FUNCTIONS.get(key)
                if function is not None:
                    return function(self, argument)
            resolved = {key: self.resolve(item) for key, item in value.items()}
            return {key: item for key, item in resolved.items() if item is not REMOVED}
        if isinstance(value, list):
            return [item for item in (self.resolve(item) for item in value) if item is not REMOVED]
        return value

    def ref(self, name: Any) -> Any:
        if not isinstance(name, str):
            raise TemplateError("Template error: every Ref object must have a single String value.")
        if name == NO_VALUE:
            return REMOVED
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            if self.static:
                return f"{{{{Ref:{name}}}}}"
            if name not in self.physical_ids:
                raise TemplateError(f"Template error: resource {name} is referenced before it exists")
            return self.physical_ids[name]
        raise TemplateError(
            f"Template format error: Unresolved resource dependencies [{name}] in the Resources block of the template"
        )

    def get_att(self, argument: Any) -> Any:
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        if not (isinstance(argument, list) and len(argument) == 2):
            raise TemplateError("Template error: every Fn::GetAtt object requires two non-empty parameters.")
        logical_id, attribute = argument[0], self.resolve(argument[1])
        if logical_id not in self.resources:
            raise TemplateError(
                f"Template format error: Unresolved resource dependencies [{logical_id}] in the Resources block of "
                "the template"
            )
        if self.static or self.attribute is None:
            return f"{{{{GetAtt:{logical_id}.{attribute}}}}}"
        try:
            return self.attribute(logical_id, str(attribute))
        except KeyError:
            raise TemplateError(
                f"Template error: resource {logical_id} does not support attribute type {attribute} in Fn::GetAtt"
            ) from None

    def sub(self, argument: Any) -> str:
        if isinstance(argument, str):
            text, variables = argument, {}
        elif isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], dict):
            text, variables = argument[0], {key: self.resolve(value) for key, value in argument[1].items()}
        else:
            raise TemplateError("Template error: Fn::Sub expects a string or a [string, map] pair")
        if not isinstance(text, str):
            raise TemplateError("Template error: the first argument of Fn::Sub must be a string")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                value = variables[name]
            elif "." in name and name.split(".", 1)[0] in self.resources:
                value = self.get_att(name.split(".", 1))
            else:
                value = self.ref(name)
            return _text(value)

        return _SUB_VARIABLE.sub(replace, text)

    def find_in_map(self, argument: Any) -> Any:
        if not (isinstance(argument, list) and len(argument) in (3, 4)):
            raise TemplateError("Template error: Fn::FindInMap requires three parameters")
        map_name, top, second = (self.resolve(item) for item in argument[:3])
        try:
            return self.mappings[map_name][top][second]
        except (KeyError, TypeError):
            if len(argument) == 4 and isinstance(argument[3], dict) and "DefaultValue" in argument[3]:
                return self.resolve(argument[3]["DefaultValue"])
            raise TemplateError(f"Template error: Unable to get mapping for {map_name}::{top}::{second}") from None

    def import_value(self, argument: Any) -> Any:
        name = self.resolve(argument)
        if self.static:
            return f"{{{{ImportValue:{name}}}}}"
        if name not in self.exports:
            raise TemplateError(f"No export named {name} found.")
        self.imported.add(str(name))
        return self.exports[name]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(item) for item in value)
    return str(value)


def _join(evaluator: Evaluator, argument: Any) -> str:
    if not (isinstance(argument, list) and len(argument) == 2):
        raise TemplateError("Template error: Fn::Join requires a delimiter and a list of values")
    delimiter, values = argument[0], evaluator.resolve(argument[1])
    if isinstance(values, str) and evaluator.static:
        return values
    if not isinstance(values, list):
        raise TemplateError("Template error: the second argument of Fn::Join must be a list")
    return str(delimiter).join(_text(value) for value in values)


def _select(evaluator: Evaluator, argument: Any) -> Any:
    if not (isinstance(argument, list) and len(argument) == 2):
        raise TemplateError("Template error: Fn::Select requires an index and a list")
    index, values = evaluator.resolve(argument[0]), evaluator.resolve(argument[1])
    if isinstance(values, str) and evaluator.static:
        return f"{{{{Select:{index}:{values}}}}}"
    try:
        return values[int(index)]
    except (ValueError, IndexError, TypeError):
        raise TemplateError(f"Template error: Fn::Select cannot select index {index} of {values!r}") from None


def _split(evaluator: Evaluator, argument: Any) -> list[str]:
    if not (isinstance(argument, list) and len(argument) == 2):
        raise TemplateError("Template error: Fn::Split requires a delimiter and a string")
    delimiter, text = evaluator.resolve(argument[0]), evaluator.resolve(argument[1])
    return _text(text).split(str(delimiter))


def _if(evaluator: Evaluator, argument: Any) -> Any:
    if not (isinstance(argument, list) and len(argument) == 3 and isinstance(argument[0], str)):
        raise TemplateError("Template error: Fn::If requires a condition name and two values")
    branch = argument[1] if evaluator.condition(argument[0]) else argument[2]
    return evaluator.resolve(branch)


def _equals(evaluator: Evaluator, argument: Any) -> bool:
    if not (isinstance(argument, list) and len(argument) == 2):
        raise TemplateError("Template error: Fn::Equals requires two values")
    left, right = (evaluator.resolve(item) for item in argument)
    return _text(left) == _text(right) if not isinstance(left, list | dict) else left == right


def _booleans(evaluator: Evaluator, argument: Any, name: str) -> Iterator[bool]:
    if not isinstance(argument, list) or not argument:
        raise TemplateError(f"Template error: Fn::{name} requires a list of conditions")
    for item in argument:
        value = evaluator.resolve(item)
        if not isinstance(value, bool):
            raise TemplateError(f"Template error: every argument of Fn::{name} must be a condition")
        yield value


def _not(evaluator: Evaluator, argument: Any) -> bool:
    values = list(_booleans(evaluator, argument, "Not"))
    if len(values) != 1:
        raise TemplateError("Template error: Fn::Not requires exactly one condition")
    return not values[0]


def _base64(evaluator: Evaluator, argument: Any) -> str:
    return base64.b64encode(_text(evaluator.resolve(argument)).encode()).decode()


def _get_azs(evaluator: Evaluator, argument: Any) -> list[str]:
    region = evaluator.resolve(argument) or evaluator.pseudo["AWS::Region"]
    return [f"{region}{zone}" for zone in "abc"]


def _contains(evaluator: Evaluator, argument: Any) -> bool:
    values, value = (evaluator.resolve(item) for item in argument)
    return _text(value) in [_text(item) for item in values]


def _length(evaluator: Evaluator, argument: Any) -> int:
    value = evaluator.resolve(argument)
    if not isinstance(value, list):
        raise TemplateError("Template error: Fn::Length requires a list")
    return len(value)


_FUNCTIONS: dict[str, Callable[[Evaluator, Any], Any]] = {
    "Ref": lambda evaluator, argument: evaluator.ref(argument),
    "Fn::GetAtt": lambda evaluator, argument: evaluator.get_att(argument),
    "Fn::Sub": lambda evaluator, argument: evaluator.sub(argument),
    "Fn::Join": _join,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::If": _if,
    "Fn::Equals": _equals,
    "Fn::And": lambda evaluator, argument: all(list(_booleans(evaluator, argument, "And"))),
    "Fn::Or": lambda evaluator, argument: any(list(_booleans(evaluator, argument, "Or"))),
    "Fn::Not": _not,
    "Fn::FindInMap": lambda evaluator, argument: evaluator.find_in_map(argument),
    "Fn::GetAZs": _get_azs,
    "Fn::Base64": _base64,
    "Fn::ImportValue": lambda evaluator, argument: evaluator.import_value(argument),
    "Fn::Contains": _contains,
    "Fn::Length": _length,
    "Fn::ToJsonString": lambda evaluator, argument: json.dumps(evaluator.resolve(argument), separators=(",", ":")),
    "Condition": lambda evaluator, argument: evaluator.condition(argument),
}


def references(value: Any, resources: set[str]) -> set[str]:
    """The resources a template value refers to (Ref, Fn::GetAtt, Fn::Sub), for the dependency graph."""
    found: set[str] = set()
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref" and isinstance(argument, str) and argument in resources:
                found.add(argument)
            elif key == "Fn::GetAtt":
                name = argument.split(".", 1)[0] if isinstance(argument, str) else (argument or [None])[0]
                if name in resources:
                    found.add(name)
            elif key == "Fn::Sub":
                text = argument if isinstance(argument, str) else (argument or [""])[0]
                variables = argument[1] if isinstance(argument, list) and len(argument) > 1 else {}
                for match in _SUB_VARIABLE.finditer(text if isinstance(text, str) else ""):
                    name = match.group(1).strip().split(".", 1)[0]
                    if name in resources and name not in (variables or {}):
                        found.add(name)
        for item in value.values():
            found |= references(item, resources)
    elif isinstance(value, list):
        for item in value:
            found |= references(item, resources)
    return found
