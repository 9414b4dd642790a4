"""Template parameters: the values a deployment gives, checked against their declarations."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from streamlab.emulator.cloudformation.exceptions import TemplateError, ValidationError

#: Looks a parameter up in SSM for ``AWS::SSM::Parameter::Value<…>`` types.
SsmLookup = Callable[[str], str]

_SSM_TYPE = re.compile(r"^AWS::SSM::Parameter::Value<(.+)>$")


def resolve(
    declared: dict[str, Any],
    given: dict[str, str | None],
    previous: dict[str, str],
    ssm: SsmLookup,
) -> tuple[dict[str, str], dict[str, Any]]:
    """(the value of each parameter as text, as the template sees it).

    ``given`` maps a name to its value, or to None for UsePreviousValue. A list type becomes a
    list for the template; an SSM parameter type becomes the SSM parameter's value.
    """
    unknown = sorted(name for name in given if name not in declared)
    if unknown:
        raise ValidationError(f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    texts: dict[str, str] = {}
    missing = []
    for name, declaration in declared.items():
        if not isinstance(declaration, dict) or "Type" not in declaration:
            raise TemplateError(f"Template format error: Every Parameters object must contain a Type member. ({name})")
        if name in given:
            value = given[name]
            if value is None:
                if name not in previous:
                    raise ValidationError(
                        f"Invalid input for parameter key {name}. Cannot specify usePreviousValue "
                        "as true for a parameter key not in the previous template"
                    )
                value = previous[name]
        elif "Default" in declaration:
            value = _text(declaration["Default"])
        else:
            missing.append(name)
            continue
        _check(name, declaration, value)
        texts[name] = value
    if missing:
        raise ValidationError(f"Parameters: [{', '.join(missing)}] must have values")
    values = {name: _template_value(declared[name]["Type"], text, ssm) for name, text in texts.items()}
    return texts, values


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check(name: str, declaration: dict[str, Any], value: str) -> None:
    kind = declaration["Type"]
    allowed = declaration.get("AllowedValues")
    is_list = kind.startswith("List<") or kind == "CommaDelimitedList"
    permitted = [_text(item) for item in allowed] if allowed is not None else None
    if permitted is not None and any(item not in permitted for item in (value.split(",") if is_list else [value])):
        raise ValidationError(
            declaration.get("ConstraintDescription") or f"Parameter '{name}' must be one of AllowedValues"
        )
    pattern = declaration.get("AllowedPattern")
    if pattern is not None and not re.fullmatch(str(pattern), value):
        raise ValidationError(
            declaration.get("ConstraintDescription") or f"Parameter '{name}' must match pattern {pattern}"
        )
    if "MinLength" in declaration and len(value) < int(declaration["MinLength"]):
        raise ValidationError(f"Parameter '{name}' must contain at least {declaration['MinLength']} characters")
    if "MaxLength" in declaration and len(value) > int(declaration["MaxLength"]):
        raise ValidationError(f"Parameter '{name}' must contain at most {declaration['MaxLength']} characters")
    if kind in ("Number", "List<Number>"):
        for item in value.split(",") if kind == "List<Number>" else [value]:
            try:
                number = float(item)
            except ValueError:
                raise ValidationError(f"Parameter '{name}' must be a number") from None
            if "MinValue" in declaration and number < float(declaration["MinValue"]):
                raise ValidationError(f"Parameter '{name}' must be a number not less than {declaration['MinValue']}")
            if "MaxValue" in declaration and number > float(declaration["MaxValue"]):
                raise ValidationError(f"Parameter '{name}' must be a number not greater than {declaration['MaxValue']}")


def _template_value(kind: str, text: str, ssm: SsmLookup) -> Any:
    match = _SSM_TYPE.match(kind)
    if match is not None:
        value = ssm(text)
        return (
            value.split(",") if match.group(1).startswith("List<") or match.group(1) == "CommaDelimitedList" else value
        )
    if kind == "CommaDelimitedList" or kind.startswith("List<"):
        return [item.strip() for item in text.split(",")] if text else []
    return text
