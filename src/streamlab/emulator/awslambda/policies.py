"""Resource-based policies: the statement AddPermission builds from its request.

The shapes follow LocalStack's AWS-validated snapshots of ``TestLambdaPermissions``
(test_lambda_api.snapshot.json, validated 2025-11-25): a service principal becomes
``{"Service": ...}``, an account id ``{"AWS": "arn:aws:iam::<id>:root"}``, an ARN ``{"AWS": arn}``;
SourceArn is an ``ArnLike`` condition, SourceAccount, EventSourceToken, PrincipalOrgID and
FunctionUrlAuthType are ``StringEquals`` conditions. streamlab stores and reports the policies;
it does not enforce them (no IAM evaluation happens on the embedded endpoint).
"""

from __future__ import annotations

import re
from typing import Any

from streamlab.emulator.awslambda.exceptions import InvalidParameterValueException, constraint_violation

_STATEMENT_ID = re.compile(r"^[a-zA-Z0-9-_]{1,100}$")
_ACTION = re.compile(r"^(lambda:[*]|lambda:[a-zA-Z]+|[*])$")
_ACCOUNT = re.compile(r"^\d{12}$")
_SERVICE = re.compile(r"^[a-z0-9.-]+\.(amazonaws\.com|amazon\.com|amazonaws\.com\.cn)$")
_PRINCIPAL_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:(iam|sts)::\d{12}:.+$")

#: Request member -> (condition operator, condition key).
_CONDITIONS = (
    ("SourceAccount", "StringEquals", "AWS:SourceAccount"),
    ("EventSourceToken", "StringEquals", "lambda:EventSourceToken"),
    ("FunctionUrlAuthType", "StringEquals", "lambda:FunctionUrlAuthType"),
    ("PrincipalOrgID", "StringEquals", "aws:PrincipalOrgID"),
    ("SourceArn", "ArnLike", "AWS:SourceArn"),
)


def statement_from_request(request: dict[str, Any], resource_arn: str) -> dict[str, Any]:
    """The policy statement of an AddPermission request, validated."""
    sid = request.get("StatementId")
    if not isinstance(sid, str) or not _STATEMENT_ID.match(sid):
        raise constraint_violation(
            "statementId", sid, "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)"
        )
    action = request.get("Action")
    if not isinstance(action, str) or not _ACTION.match(action):
        raise constraint_violation(
            "action", action, "Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])"
        )
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": _principal(request.get("Principal")),
        "Action": action,
        "Resource": resource_arn,
    }
    condition: dict[str, dict[str, str]] = {}
    for member, operator, key in _CONDITIONS:
        value = request.get(member)
        if value:
            condition.setdefault(operator, {})[key] = str(value)
    if condition:
        statement["Condition"] = condition
    return statement


def _principal(principal: Any) -> Any:
    if principal == "*":
        return "*"
    if isinstance(principal, str):
        if _ACCOUNT.match(principal):
            return {"AWS": f"arn:aws:iam::{principal}:root"}
        if _SERVICE.match(principal):
            return {"Service": principal}
        if _PRINCIPAL_ARN.match(principal):
            return {"AWS": principal}
    raise InvalidParameterValueException(
        "The provided principal was invalid. Please check the principal and try again."
    )
