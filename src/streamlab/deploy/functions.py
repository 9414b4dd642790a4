"""Lambda functions: code (by CodeSha256), configuration and reserved concurrency.

Lambda applies changes asynchronously on AWS: a new function is ``Pending`` and an update is
``InProgress``, and the next update is refused until it settles. The boto3 waiters
``function_active_v2`` / ``function_updated_v2`` wait for that; they are only used when the
service reports those states, so an endpoint that applies changes at once (and may not report
them) never makes a deploy hang.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from streamlab.deploy.report import Action, Change, DeployError
from streamlab.deploy.target import Target, error_code
from streamlab.packaging import FunctionZip
from streamlab.stack import Function

#: CreateFunction takes a zip inline up to this size; above it AWS wants it from S3.
MAX_INLINE_ZIP = 50 * 1024 * 1024
#: A role created moments ago is not yet assumable by Lambda on AWS (IAM is eventually consistent).
ROLE_PROPAGATION_SECONDS = 90.0
_WAITER_CONFIG = {"Delay": 1, "MaxAttempts": 600}
_CONFIG_FIELDS = {
    "Runtime": "runtime",
    "Handler": "handler",
    "Role": "role",
    "Timeout": "timeout",
    "MemorySize": "memory_size",
    "Description": "description",
    "Environment": "environment",
}


def desired_configuration(function: Function, role_arn: str) -> dict[str, Any]:
    return {
        "Runtime": function.runtime,
        "Handler": function.handler,
        "Role": role_arn,
        "Timeout": function.timeout,
        "MemorySize": function.memory_size,
        "Description": function.description,
        "Environment": {"Variables": dict(function.environment)},
    }


def apply_function(target: Target, function: Function, code: FunctionZip, role_arn: str) -> tuple[Change, str]:
    """Create or update ``function``; returns the change and the function ARN."""
    client = target.client("lambda")
    if code.size > MAX_INLINE_ZIP:
        raise DeployError(
            f"function {function.name}: its zip is {code.size / 1e6:.1f} MB; "
            f"uploads through S3 (over {MAX_INLINE_ZIP // 2**20} MiB) are not supported yet"
        )
    desired = desired_configuration(function, role_arn)
    try:
        current = client.get_function(FunctionName=function.physical_name)
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        config = _create(client, function, code, desired)
        _settle(client, function.physical_name, config)
        if function.reserved_concurrency is not None:
            client.put_function_concurrency(
                FunctionName=function.physical_name, ReservedConcurrentExecutions=function.reserved_concurrency
            )
        return Change("function", function.name, "created", physical_name=function.physical_name), config["FunctionArn"]

    config = current["Configuration"]
    details: list[str] = []
    if config.get("CodeSha256") != code.code_sha256:
        _settle(client, function.physical_name, config, before_change=True)
        config = client.update_function_code(FunctionName=function.physical_name, ZipFile=code.read_bytes())
        _settle(client, function.physical_name, config)
        details.append("code")
    changed = {k: v for k, v in desired.items() if not _same(k, config, v)}
    if changed:
        _settle(client, function.physical_name, config, before_change=True)
        config = client.update_function_configuration(FunctionName=function.physical_name, **changed)
        _settle(client, function.physical_name, config)
        details += [_CONFIG_FIELDS[k] for k in changed]
    reserved = (current.get("Concurrency") or {}).get("ReservedConcurrentExecutions")
    if reserved != function.reserved_concurrency:
        if function.reserved_concurrency is None:
            client.delete_function_concurrency(FunctionName=function.physical_name)
        else:
            client.put_function_concurrency(
                FunctionName=function.physical_name, ReservedConcurrentExecutions=function.reserved_concurrency
            )
        details.append("reserved_concurrency")
    action: Action = "updated" if details else "unchanged"
    return Change("function", function.name, action, tuple(details), function.physical_name), config["FunctionArn"]


def _create(client: Any, function: Function, code: FunctionZip, desired: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + ROLE_PROPAGATION_SECONDS
    while True:
        try:
            created: dict[str, Any] = client.create_function(
                FunctionName=function.physical_name,
                PackageType="Zip",
                Architectures=["x86_64"],
                Code={"ZipFile": code.read_bytes()},
                Publish=False,
                **desired,
            )
            return created
        except ClientError as exc:
            message = str(exc.response.get("Error", {}).get("Message", ""))
            retry = error_code(exc) == "InvalidParameterValueException" and "cannot be assumed" in message
            if not retry or time.monotonic() > deadline:
                raise
            time.sleep(3)


def _settle(client: Any, name: str, config: dict[str, Any], before_change: bool = False) -> None:
    """Wait for a Pending function or an InProgress update, when the service reports one.

    After our own change a Failed state is an error; before one it is not (a new update is
    how a function whose last update failed gets fixed).
    """
    state = config.get("State")
    update = config.get("LastUpdateStatus")
    if state in (None, "Active", "Inactive") and update in (None, "Successful"):
        return
    if state == "Failed" or update == "Failed":
        if before_change:
            return
        reason = config.get("StateReason") or config.get("LastUpdateStatusReason") or "no reason given"
        raise DeployError(f"function {name} is in state Failed: {reason}")
    waiter = "function_active_v2" if state == "Pending" else "function_updated_v2"
    client.get_waiter(waiter).wait(FunctionName=name, WaiterConfig=_WAITER_CONFIG)


def _same(key: str, config: dict[str, Any], wanted: Any) -> bool:
    if key == "Environment":
        return bool(((config.get("Environment") or {}).get("Variables") or {}) == wanted["Variables"])
    if key == "Description":
        return bool((config.get("Description") or "") == wanted)
    return bool(config.get(key) == wanted)
