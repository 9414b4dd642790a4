"""Stacks, their resources, events and change sets, as DescribeStacks & co. show them."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from streamlab.aws_rules import ACCOUNT_ID

#: Stack states from which no operation is running.
SETTLED_STATES = frozenset(
    {
        "CREATE_COMPLETE",
        "CREATE_FAILED",
        "ROLLBACK_COMPLETE",
        "ROLLBACK_FAILED",
        "DELETE_COMPLETE",
        "DELETE_FAILED",
        "UPDATE_COMPLETE",
        "UPDATE_FAILED",
        "UPDATE_ROLLBACK_COMPLETE",
        "UPDATE_ROLLBACK_FAILED",
        "REVIEW_IN_PROGRESS",
        "IMPORT_COMPLETE",
        "IMPORT_ROLLBACK_COMPLETE",
    }
)

#: States from which UpdateStack / an UPDATE change set may start.
UPDATABLE_STATES = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"})


def now() -> datetime:
    return datetime.now(UTC)


def stack_arn(region: str, name: str) -> str:
    return f"arn:aws:cloudformation:{region}:{ACCOUNT_ID}:stack/{name}/{uuid.uuid4()}"


def change_set_arn(region: str, name: str) -> str:
    return f"arn:aws:cloudformation:{region}:{ACCOUNT_ID}:changeSet/{name}/{uuid.uuid4()}"


@dataclass
class StackResource:
    logical_id: str
    resource_type: str
    status: str = "CREATE_IN_PROGRESS"
    status_reason: str | None = None
    physical_id: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    deletion_policy: str = "Delete"
    updated: datetime = field(default_factory=now)

    def summary(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "LogicalResourceId": self.logical_id,
            "ResourceType": self.resource_type,
            "LastUpdatedTimestamp": self.updated,
            "ResourceStatus": self.status,
            "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
        }
        if self.physical_id is not None:
            answer["PhysicalResourceId"] = self.physical_id
        if self.status_reason:
            answer["ResourceStatusReason"] = self.status_reason
        return answer


@dataclass
class StackEvent:
    stack_id: str
    stack_name: str
    logical_id: str
    resource_type: str
    status: str
    physical_id: str | None = None
    reason: str | None = None
    properties: dict[str, Any] | None = None
    timestamp: datetime = field(default_factory=now)
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def describe(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "StackId": self.stack_id,
            "EventId": self.event_id,
            "StackName": self.stack_name,
            "LogicalResourceId": self.logical_id,
            "ResourceType": self.resource_type,
            "Timestamp": self.timestamp,
            "ResourceStatus": self.status,
        }
        if self.physical_id is not None:
            answer["PhysicalResourceId"] = self.physical_id
        if self.reason:
            answer["ResourceStatusReason"] = self.reason
        if self.properties is not None:
            answer["ResourceProperties"] = json.dumps(self.properties, default=str)
        return answer


@dataclass
class Deployment:
    """What a stack is asked to become: the template, its parameters and settings."""

    template_body: str
    template: dict[str, Any]
    processed: dict[str, Any]
    parameters: dict[str, str]
    #: The parameters as the template sees them: lists for list types, SSM values for SSM types.
    values: dict[str, Any] = field(default_factory=dict)
    capabilities: list[str] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)
    notification_arns: list[str] = field(default_factory=list)
    role_arn: str | None = None
    disable_rollback: bool = False
    description: str | None = None


@dataclass
class ChangeSet:
    arn: str
    name: str
    stack_id: str
    stack_name: str
    change_set_type: str
    deployment: Deployment
    changes: list[dict[str, Any]] = field(default_factory=list)
    status: str = "CREATE_PENDING"
    status_reason: str | None = None
    execution_status: str = "UNAVAILABLE"
    description: str | None = None
    created: datetime = field(default_factory=now)

    def summary(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "StackId": self.stack_id,
            "StackName": self.stack_name,
            "ChangeSetId": self.arn,
            "ChangeSetName": self.name,
            "ExecutionStatus": self.execution_status,
            "Status": self.status,
            "CreationTime": self.created,
            "IncludeNestedStacks": False,
        }
        if self.status_reason:
            answer["StatusReason"] = self.status_reason
        if self.description:
            answer["Description"] = self.description
        return answer


@dataclass
class Stack:
    stack_id: str
    name: str
    region: str
    status: str
    deployment: Deployment | None = None
    status_reason: str | None = None
    resources: dict[str, StackResource] = field(default_factory=dict)
    events: list[StackEvent] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    created: datetime = field(default_factory=now)
    last_updated: datetime | None = None
    deleted: datetime | None = None
    termination_protection: bool = False
    change_sets: dict[str, ChangeSet] = field(default_factory=dict)
    #: Export names this stack's template imports (Fn::ImportValue), so ListImports can answer.
    imports: set[str] = field(default_factory=set)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @property
    def settled(self) -> bool:
        return self.status in SETTLED_STATES

    def event(self, logical_id: str, resource_type: str, status: str, **details: Any) -> None:
        self.events.append(StackEvent(self.stack_id, self.name, logical_id, resource_type, status, **details))

    def stack_event(self, status: str, reason: str | None = None) -> None:
        self.status = status
        self.status_reason = reason
        self.event(self.name, "AWS::CloudFormation::Stack", status, physical_id=self.stack_id, reason=reason)

    def describe(self) -> dict[str, Any]:
        deployment = self.deployment
        answer: dict[str, Any] = {
            "StackId": self.stack_id,
            "StackName": self.name,
            "CreationTime": self.created,
            "StackStatus": self.status,
            "DisableRollback": bool(deployment and deployment.disable_rollback),
            "NotificationARNs": list(deployment.notification_arns) if deployment else [],
            "Capabilities": list(deployment.capabilities) if deployment else [],
            "Outputs": self.outputs,
            "Tags": list(deployment.tags) if deployment else [],
            "EnableTerminationProtection": self.termination_protection,
            "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
        }
        if deployment is not None:
            answer["Parameters"] = parameter_list(deployment)
            if deployment.description:
                answer["Description"] = deployment.description
            if deployment.role_arn:
                answer["RoleARN"] = deployment.role_arn
        if self.status_reason:
            answer["StackStatusReason"] = self.status_reason
        if self.last_updated is not None:
            answer["LastUpdatedTime"] = self.last_updated
        if self.deleted is not None:
            answer["DeletionTime"] = self.deleted
        return answer

    def summary(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "StackId": self.stack_id,
            "StackName": self.name,
            "CreationTime": self.created,
            "StackStatus": self.status,
            "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
        }
        if self.deployment and self.deployment.description:
            answer["TemplateDescription"] = self.deployment.description
        for key, value in (
            ("StackStatusReason", self.status_reason),
            ("LastUpdatedTime", self.last_updated),
            ("DeletionTime", self.deleted),
        ):
            if value is not None:
                answer[key] = value
        return answer


def parameter_list(deployment: Deployment) -> list[dict[str, Any]]:
    declared = deployment.processed.get("Parameters") or {}
    answer = []
    for name, value in deployment.parameters.items():
        no_echo = str((declared.get(name) or {}).get("NoEcho", "false")).lower() == "true"
        answer.append({"ParameterKey": name, "ParameterValue": "****" if no_echo else value})
    return answer


class StackStore:
    """Every stack of every region; deleted stacks stay listed (ListStacks shows them, like AWS)."""

    def __init__(self) -> None:
        self._stacks: dict[str, Stack] = {}
        self.lock = threading.RLock()

    def add(self, stack: Stack) -> None:
        with self.lock:
            self._stacks[stack.stack_id] = stack

    def all(self, region: str) -> list[Stack]:
        with self.lock:
            return [stack for stack in self._stacks.values() if stack.region == region]

    def live(self, region: str, name_or_id: str) -> Stack | None:
        """The stack a name or ARN refers to; a deleted stack only by its ARN."""
        with self.lock:
            stack = self._stacks.get(name_or_id)
            if stack is not None and stack.region == region:
                return stack
            for stack in self._stacks.values():
                if stack.region == region and stack.name == name_or_id and stack.status != "DELETE_COMPLETE":
                    return stack
        return None

    def exports(self, region: str) -> dict[str, tuple[str, str]]:
        """Export name -> (value, exporting stack id), for stacks that are not deleted."""
        found: dict[str, tuple[str, str]] = {}
        with self.lock:
            for stack in self._stacks.values():
                if stack.region != region or stack.status == "DELETE_COMPLETE":
                    continue
                for output in stack.outputs:
                    if output.get("ExportName"):
                        found[output["ExportName"]] = (output["OutputValue"], stack.stack_id)
        return found

    def importers(self, region: str, export_name: str) -> list[str]:
        with self.lock:
            return sorted(
                stack.name
                for stack in self._stacks.values()
                if stack.region == region and stack.status != "DELETE_COMPLETE" and export_name in stack.imports
            )
