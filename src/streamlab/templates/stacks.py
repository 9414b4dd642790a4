"""Deploy a packaged template through the CloudFormation API, as ``sam deploy`` does.

A change set (CREATE for a new stack, UPDATE for an existing one) is created, waited for and
executed; a change set without changes means the stack is already as the template says. A
stack left in ROLLBACK_COMPLETE by a failed first create cannot be updated, so it is deleted
first (what ``sam deploy`` asks the user to do by hand). Progress is reported as the stack's
events arrive; a failure carries the reasons CloudFormation gives for each failed resource.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from streamlab.errors import StreamlabError

#: What a SAM template needs acknowledged: IAM roles for its functions, the transform's macros.
CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND")
#: Polling the stack, as ``SAM_CLI_POLL_DELAY`` does; bounded by ``timeout``.
POLL_SECONDS = 0.5
DEFAULT_TIMEOUT = 900.0
_DONE = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


class StackDeployError(StreamlabError, RuntimeError):
    """A stack that did not reach CREATE_COMPLETE / UPDATE_COMPLETE, with CloudFormation's reasons."""


@dataclass(frozen=True)
class StackResult:
    """A deployed stack: its id, status, outputs and resources by logical id."""

    name: str
    stack_id: str
    status: str
    changed: bool
    outputs: Mapping[str, str] = field(default_factory=dict)
    #: logical id -> physical id
    resources: Mapping[str, str] = field(default_factory=dict)
    #: logical id -> resource type
    resource_types: Mapping[str, str] = field(default_factory=dict)


def parse_overrides(pairs: list[str] | None) -> dict[str, str]:
    """``["Key=Value", ...]`` (``--parameter-overrides``) as a dict; ValueError names a bad pair."""
    parameters: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"parameter override {pair!r} is not KEY=VALUE")
        parameters[key.strip()] = value
    return parameters


def stack_status(cloudformation: Any, name: str) -> str | None:
    from botocore.exceptions import ClientError

    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error.response.get("Error", {}).get("Message", "")):
            return None
        raise
    return str(stacks[0]["StackStatus"]) if stacks else None


def deploy_stack(
    cloudformation: Any,
    name: str,
    template_body: str,
    parameters: Mapping[str, str] | None = None,
    log: Callable[[str], None] = print,
    timeout: float = DEFAULT_TIMEOUT,
    tags: Mapping[str, str] | None = None,
    template_url: str | None = None,
) -> StackResult:
    """Create or update stack ``name`` from ``template_body`` (or, when given, the same template
    uploaded to ``template_url``); return what it holds afterwards."""
    status = stack_status(cloudformation, name)
    if status in ("ROLLBACK_COMPLETE", "REVIEW_IN_PROGRESS"):
        log(f"stack {name} is {status}: deleting it before creating it again")
        delete_stack(cloudformation, name, log=log, timeout=timeout)
        status = None
    change_type = "CREATE" if status is None else "UPDATE"
    params: dict[str, Any] = {
        "StackName": name,
        **({"TemplateURL": template_url} if template_url else {"TemplateBody": template_body}),
        "ChangeSetName": f"streamlab-{uuid.uuid4().hex[:12]}",
        "ChangeSetType": change_type,
        "Capabilities": list(CAPABILITIES),
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()],
    }
    if tags:
        params["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    change_set = cloudformation.create_change_set(**params)
    if not _change_set_ready(cloudformation, change_set["Id"], timeout):
        cloudformation.delete_change_set(ChangeSetName=change_set["Id"])
        log(f"stack {name}: no changes")
        return describe(cloudformation, name, changed=False)
    since = time.time() - 1
    cloudformation.execute_change_set(ChangeSetName=change_set["Id"])
    log(f"stack {name}: {change_type.lower()} started")
    final = _wait(cloudformation, change_set["StackId"], since, log, timeout)
    if final not in _DONE:
        raise StackDeployError(f"stack {name} ended {final}: {failure_reasons(cloudformation, change_set['StackId'])}")
    return describe(cloudformation, name, changed=True)


def _change_set_ready(cloudformation: Any, change_set_id: str, timeout: float) -> bool:
    """True when the change set can be executed, False when it has nothing to change."""
    deadline = time.monotonic() + timeout
    while True:
        described = cloudformation.describe_change_set(ChangeSetName=change_set_id)
        status = described["Status"]
        if status == "CREATE_COMPLETE":
            return True
        if status == "FAILED":
            reason = str(described.get("StatusReason", ""))
            if any(text in reason for text in _NO_CHANGES):
                return False
            raise StackDeployError(f"change set failed: {reason}")
        if time.monotonic() > deadline:
            raise StackDeployError(f"change set still {status} after {timeout:.0f} s")
        time.sleep(POLL_SECONDS)


def _wait(cloudformation: Any, stack_id: str, since: float, log: Callable[[str], None], timeout: float) -> str:
    """Follow the stack's events until it is no longer in progress; its final status."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while True:
        for event in reversed(cloudformation.describe_stack_events(StackName=stack_id)["StackEvents"]):
            if event["EventId"] in seen or event["Timestamp"].timestamp() < since:
                continue
            seen.add(event["EventId"])
            reason = f" ({event['ResourceStatusReason']})" if event.get("ResourceStatusReason") else ""
            log(f"  {event['ResourceStatus']:<22} {event['ResourceType']:<34} {event['LogicalResourceId']}{reason}")
        status = str(cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"])
        if not status.endswith("_IN_PROGRESS"):
            return status
        if time.monotonic() > deadline:
            raise StackDeployError(f"stack {stack_id} still {status} after {timeout:.0f} s")
        time.sleep(POLL_SECONDS)


def failure_reasons(cloudformation: Any, stack_id: str) -> str:
    events = cloudformation.describe_stack_events(StackName=stack_id)["StackEvents"]
    reasons = [
        f"{event['LogicalResourceId']}: {event['ResourceStatusReason']}"
        for event in events
        if event["ResourceStatus"].endswith("_FAILED") and event.get("ResourceStatusReason")
    ]
    return "; ".join(reversed(reasons[:10])) or "no reason given"


def describe(cloudformation: Any, name: str, changed: bool) -> StackResult:
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    resources: dict[str, str] = {}
    types: dict[str, str] = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack["StackId"]):
        for summary in page["StackResourceSummaries"]:
            resources[summary["LogicalResourceId"]] = summary.get("PhysicalResourceId", "")
            types[summary["LogicalResourceId"]] = summary["ResourceType"]
    return StackResult(
        name=name,
        stack_id=stack["StackId"],
        status=stack["StackStatus"],
        changed=changed,
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        resources=resources,
        resource_types=types,
    )


def delete_stack(
    cloudformation: Any,
    name: str,
    log: Callable[[str], None] = print,
    timeout: float = DEFAULT_TIMEOUT,
    s3: Any = None,
) -> None:
    """Delete the stack and wait until it is gone (its mappings stopped, its roles removed).

    With ``s3``, the stack's buckets are emptied first: CloudFormation (like AWS) deletes no
    bucket that holds objects, and a test stack's bucket always does."""
    status = stack_status(cloudformation, name)
    if status is None:
        return
    stack_id = cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackId"]
    attempts = 2 if s3 is not None else 1  # a handler may write to a bucket while it is emptied: once more
    deadline = time.monotonic() + timeout
    for attempt in range(1, attempts + 1):
        if s3 is not None:
            for bucket in _stack_buckets(cloudformation, stack_id):
                empty_bucket(s3, bucket)
        cloudformation.delete_stack(StackName=stack_id)
        status = _wait_deleted(cloudformation, stack_id, deadline)
        if status == "DELETE_COMPLETE":
            log(f"stack {name} deleted")
            return
        if attempt == attempts:
            raise StackDeployError(f"stack {name} could not be deleted: {failure_reasons(cloudformation, stack_id)}")


def _wait_deleted(cloudformation: Any, stack_id: str, deadline: float) -> str:
    """DELETE_COMPLETE or DELETE_FAILED, whichever the stack reaches first."""
    while True:
        status = str(cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"])
        if status in ("DELETE_COMPLETE", "DELETE_FAILED"):
            return status
        if time.monotonic() > deadline:
            raise StackDeployError(f"stack {stack_id} still {status} when its deadline passed")
        time.sleep(POLL_SECONDS)


def _stack_buckets(cloudformation: Any, stack_id: str) -> list[str]:
    buckets = []
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_id):
        for summary in page["StackResourceSummaries"]:
            if summary["ResourceType"] == "AWS::S3::Bucket" and summary.get("PhysicalResourceId"):
                buckets.append(summary["PhysicalResourceId"])
    return buckets


def empty_bucket(s3: Any, bucket: str) -> None:
    """Delete every object (every version, when versioned) of ``bucket``; a missing bucket is empty."""
    from botocore.exceptions import ClientError

    try:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", [])]
            doomed += [{"Key": m["Key"], "VersionId": m["VersionId"]} for m in page.get("DeleteMarkers", [])]
            for start in range(0, len(doomed), 1000):  # DeleteObjects takes up to 1000 keys
                s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed[start : start + 1000], "Quiet": True})
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NoSuchBucket":
            raise
