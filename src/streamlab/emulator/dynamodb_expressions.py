"""DynamoDB expressions must define every placeholder they use and use every one they define.

AWS checks this before it reads a table: ``ValidationException`` "Invalid ConditionExpression: An
expression attribute value used in expression is not defined; attribute value: :v" (and the same
for ``#names``, "used in the document path"), and "Value provided in ExpressionAttributeValues
unused in expressions: keys: {:x}". moto looks the placeholder up and fails with a KeyError (an
HTTP 500), so the gateway checks first. Each request, or each item of a transaction, is one scope:
its expressions share its ExpressionAttributeNames / ExpressionAttributeValues.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from streamlab.emulator.request_validation import RequestError

#: The expression members of a request (or transaction item), in the order AWS reports them.
EXPRESSIONS = (
    "KeyConditionExpression",
    "UpdateExpression",
    "ConditionExpression",
    "FilterExpression",
    "ProjectionExpression",
)
_PLACEHOLDER = re.compile(r"(?<![\w#:])([:#][A-Za-z0-9_]+)")


#: How many values each legacy ComparisonOperator takes (Condition.AttributeValueList); None: one or more.
_OPERATOR_ARITY: dict[str, int | None] = {
    **dict.fromkeys(("EQ", "NE", "LE", "LT", "GE", "GT", "CONTAINS", "NOT_CONTAINS", "BEGINS_WITH"), 1),
    "BETWEEN": 2,
    "IN": None,
    "NULL": 0,
    "NOT_NULL": 0,
}
_LEGACY_CONDITIONS = ("KeyConditions", "QueryFilter", "ScanFilter", "Expected")


def check_placeholders(operation: str, payload: dict[str, Any]) -> None:
    """Raise the ValidationException AWS gives for an empty expression, an undefined or unused
    placeholder, or a legacy condition with the wrong number of values for its operator."""
    for scope in _scopes(operation, payload):
        _check_scope(scope)
        _check_legacy_conditions(scope)


def _check_legacy_conditions(scope: dict[str, Any]) -> None:
    for member in _LEGACY_CONDITIONS:
        conditions = scope.get(member)
        if not isinstance(conditions, dict):
            continue
        for condition in conditions.values():
            operator = condition.get("ComparisonOperator") if isinstance(condition, dict) else None
            if operator not in _OPERATOR_ARITY:
                continue
            values = condition.get("AttributeValueList")
            given = len(values) if isinstance(values, list) else (1 if "Value" in condition else 0)
            wanted = _OPERATOR_ARITY[operator]
            if (wanted is None and given < 1) or (wanted is not None and given != wanted):
                raise RequestError(
                    "ValidationException",
                    "One or more parameter values were invalid: Invalid number of argument(s) for the "
                    f"{operator} ComparisonOperator",
                )


def _scopes(operation: str, payload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if operation in ("TransactWriteItems", "TransactGetItems"):
        for item in payload.get("TransactItems") or []:
            if isinstance(item, dict):
                yield from (action for action in item.values() if isinstance(action, dict))
    elif operation == "BatchGetItem":
        requests = payload.get("RequestItems")
        if isinstance(requests, dict):
            yield from (request for request in requests.values() if isinstance(request, dict))
    else:
        yield payload


def _check_scope(scope: dict[str, Any]) -> None:
    names = scope.get("ExpressionAttributeNames")
    values = scope.get("ExpressionAttributeValues")
    names = names if isinstance(names, dict) else {}
    values = values if isinstance(values, dict) else {}
    used: set[str] = set()
    for member in EXPRESSIONS:
        expression = scope.get(member)
        if not isinstance(expression, str):
            continue
        if not expression.strip():
            raise RequestError("ValidationException", f"Invalid {member}: The expression can not be empty;")
        for placeholder in _PLACEHOLDER.findall(expression):
            used.add(placeholder)
            if placeholder.startswith(":") and placeholder not in values:
                raise RequestError(
                    "ValidationException",
                    f"Invalid {member}: An expression attribute value used in expression is not defined; "
                    f"attribute value: {placeholder}",
                )
            if placeholder.startswith("#") and placeholder not in names:
                raise RequestError(
                    "ValidationException",
                    f"Invalid {member}: An expression attribute name used in the document path is not defined; "
                    f"attribute name: {placeholder}",
                )
    for label, provided in (("ExpressionAttributeNames", names), ("ExpressionAttributeValues", values)):
        unused = sorted(set(provided) - used)
        if unused and any(isinstance(scope.get(member), str) for member in EXPRESSIONS):
            raise RequestError(
                "ValidationException", f"Value provided in {label} unused in expressions: keys: {{{', '.join(unused)}}}"
            )
