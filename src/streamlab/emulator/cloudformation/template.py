"""Reading a template: JSON or YAML with CloudFormation's short-form tags (``!Ref``, ``!Sub``, …).

The YAML loader is PyYAML's safe loader with two changes CloudFormation makes too: every
short-form tag becomes its long form (``!GetAtt A.B`` is ``{"Fn::GetAtt": ["A", "B"]}``), and
dates stay text (``AWSTemplateFormatVersion: 2010-09-09`` is a string).
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from streamlab.emulator.cloudformation.exceptions import TemplateError

SECTIONS = frozenset(
    {
        "AWSTemplateFormatVersion",
        "Description",
        "Metadata",
        "Parameters",
        "Rules",
        "Mappings",
        "Conditions",
        "Transform",
        "Resources",
        "Outputs",
        "Hooks",
    }
)

#: Short-form tags whose long form is ``Fn::<name>``; ``!Ref`` and ``!Condition`` keep their names.
_FUNCTION_TAGS = (
    "And",
    "Base64",
    "Cidr",
    "Contains",
    "Equals",
    "FindInMap",
    "GetAZs",
    "GetAtt",
    "If",
    "ImportValue",
    "Join",
    "Length",
    "Not",
    "Or",
    "Select",
    "Split",
    "Sub",
    "ToJsonString",
    "Transform",
    "EachMemberEquals",
    "EachMemberIn",
    "RefAll",
    "ValueOf",
    "ValueOfAll",
)


# SafeLoader with CloudFormation's tags; timestamps are left as strings.
_TemplateLoader: Any = type("_TemplateLoader", (yaml.SafeLoader,), {})

_TemplateLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct(loader: yaml.Loader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


def _function_tag(name: str) -> Any:
    key = f"Fn::{name}"

    def construct(loader: yaml.Loader, node: yaml.Node) -> Any:
        value = _construct(loader, node)
        if name == "GetAtt" and isinstance(value, str):
            resource, _, attribute = value.partition(".")
            value = [resource, attribute]
        return {key: value}

    return construct


for _name in _FUNCTION_TAGS:
    _TemplateLoader.add_constructor(f"!{_name}", _function_tag(_name))
_TemplateLoader.add_constructor("!Ref", lambda loader, node: {"Ref": _construct(loader, node)})
_TemplateLoader.add_constructor("!Condition", lambda loader, node: {"Condition": _construct(loader, node)})


def load(text: str) -> dict[str, Any]:
    """The template as a dict; TemplateError with AWS's wording when it is not well formed."""
    stripped = text.lstrip()
    if not stripped:
        raise TemplateError("Template format error: template body is empty")
    if stripped.startswith("{"):
        try:
            template = json.loads(text)
        except ValueError as error:
            raise TemplateError(f"Template format error: JSON not well-formed. ({error})") from None
    else:
        try:
            template = yaml.load(text, Loader=_TemplateLoader)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
            raise TemplateError(f"Template format error: YAML not well-formed.{where}") from None
        except yaml.YAMLError:
            raise TemplateError("Template format error: YAML not well-formed.") from None
    if not isinstance(template, dict):
        raise TemplateError("Template format error: unsupported structure.")
    check_sections(template)
    return template


def check_sections(template: dict[str, Any]) -> None:
    # ``Globals`` is the SAM transform's section; the transform removes it.
    allowed = SECTIONS | {"Globals"} if transforms(template) else SECTIONS
    unknown = sorted(str(key) for key in template if key not in allowed)
    if unknown:
        raise TemplateError(f"Template format error: Invalid template property or properties [{', '.join(unknown)}]")
    resources = template.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise TemplateError("Template format error: At least one Resources member must be defined.")
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise TemplateError(
                f"Template format error: [/Resources/{logical_id}] Every Resources object must contain a Type member."
            )


def transforms(template: dict[str, Any]) -> list[str]:
    value = template.get("Transform")
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(item) for item in value]
