"""The CloudFormation service: stack and change set operations, each checked before anything is created.

A template goes through the same steps for CreateStack, UpdateStack, CreateChangeSet and
ValidateTemplate: read (TemplateBody, TemplateURL from the endpoint's S3, or the previous
template), lint (cfn-lint), parameters, the SAM transform, then the checks CloudFormation makes
itself (dependency cycles, unknown references and attributes, capabilities). Only then does a
worker thread create, update or delete resources (:mod:`.engine`).
"""

from __future__ import annotations

import functools
import json
import threading
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlparse

from botocore.exceptions import BotoCoreError, ClientError

from streamlab.aws_rules import STACK_NAME, TEMPLATE_BODY_MAX_BYTES, TEMPLATE_URL_MAX_BYTES
from streamlab.emulator.cloudformation import lint, parameters, template
from streamlab.emulator.cloudformation.engine import Deployer, active_resources, evaluator_for, pseudo_parameters
from streamlab.emulator.cloudformation.exceptions import (
    AlreadyExistsException,
    ChangeSetNotFoundException,
    InsufficientCapabilitiesException,
    InvalidChangeSetStatusException,
    TemplateError,
    ValidationError,
)
from streamlab.emulator.cloudformation.graph import creation_order
from streamlab.emulator.cloudformation.intrinsics import Evaluator
from streamlab.emulator.cloudformation.models import (
    UPDATABLE_STATES,
    ChangeSet,
    Deployment,
    Stack,
    StackStore,
    change_set_arn,
    now,
    parameter_list,
    stack_arn,
)
from streamlab.emulator.cloudformation.providers import REGISTRY
from streamlab.emulator.cloudformation.transform import SAM_TRANSFORM, ManagedPolicyMap, apply_sam
from streamlab.emulator.endpoint_clients import EndpointClients

IAM_TYPES = frozenset(
    {
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::User",
        "AWS::IAM::Group",
        "AWS::IAM::AccessKey",
        "AWS::IAM::InstanceProfile",
        "AWS::IAM::UserToGroupAddition",
    }
)
_NAMED_IAM = {"RoleName", "ManagedPolicyName", "UserName", "GroupName", "InstanceProfileName"}
NO_CHANGES = "The submitted information didn't contain changes. Submit different information to create a change set."


class CloudFormationService:
    """Answers the CloudFormation operations; see :mod:`.api` for the wire protocol."""

    def __init__(self, endpoint_url: Callable[[], str]) -> None:
        self._clients = EndpointClients(endpoint_url)
        self.store = StackStore()
        self._deployer = Deployer(self.store, self._clients.get)
        self._managed_policies = ManagedPolicyMap(lambda: self._clients.get("iam", "us-east-1"))

    # -- running operations -------------------------------------------------------------------
    @staticmethod
    def _run(name: str, work: Callable[[], None]) -> None:
        """Run a stack operation on its own thread: the API answers while it proceeds, as AWS's does."""
        threading.Thread(target=work, name=f"cloudformation-{name}", daemon=True).start()

    # -- templates --------------------------------------------------------------------------
    def _template_text(self, region: str, params: dict[str, Any], previous: Stack | None) -> str:
        if params.get("UsePreviousTemplate"):
            if previous is None or previous.deployment is None:
                raise ValidationError("UsePreviousTemplate can only be used with an existing stack")
            return previous.deployment.template_body
        body, url = params.get("TemplateBody"), params.get("TemplateURL")
        if body and url:
            raise ValidationError("Specify exactly one of TemplateBody and TemplateUrl.")
        if body:
            if len(body.encode()) > TEMPLATE_BODY_MAX_BYTES:
                raise ValidationError(
                    "1 validation error detected: Value at 'templateBody' failed to satisfy constraint: Member must "
                    f"have length less than or equal to {TEMPLATE_BODY_MAX_BYTES}"
                )
            return str(body)
        if url:
            return self._fetch_template(region, str(url))
        raise ValidationError("Either Template URL or Template Body must be specified.")

    def _fetch_template(self, region: str, url: str) -> str:
        """A TemplateURL, read through the endpoint's S3 API (never fetched from the network)."""
        parsed = urlparse(url)
        host = parsed.hostname or ""
        path = unquote(parsed.path).lstrip("/")
        if parsed.scheme not in ("http", "https") or not path:
            raise ValidationError("TemplateURL must be a supported URL.")
        if ".s3." in host or ".s3-" in host:
            bucket, key = host.split(".s3", 1)[0], path
        else:
            bucket, _, key = path.partition("/")
        if not bucket or not key:
            raise ValidationError("TemplateURL must be a supported URL.")
        try:
            answer = self._clients.get("s3", region).get_object(Bucket=bucket, Key=key)
        except ClientError as error:
            raise ValidationError(
                f"S3 error: {error.response.get('Error', {}).get('Message', 'Access Denied')}"
            ) from None
        except BotoCoreError:  # not a bucket name S3 accepts
            raise ValidationError("TemplateURL must be a supported URL.") from None
        body = answer["Body"].read(TEMPLATE_URL_MAX_BYTES + 1)
        if len(body) > TEMPLATE_URL_MAX_BYTES:
            raise ValidationError(f"Template may not exceed {TEMPLATE_URL_MAX_BYTES} bytes in size.")
        return str(body.decode("utf-8", errors="replace"))

    def _prepare(self, region: str, params: dict[str, Any], stack: Stack, previous: Stack | None) -> Deployment:
        """Everything that can be checked before anything is created."""
        body = self._template_text(region, params, previous)
        original = template.load(body)
        lint.check(body, region)
        declared = original.get("Parameters") or {}
        given: dict[str, str | None] = {}
        for item in params.get("Parameters") or []:
            key = item.get("ParameterKey")
            if key:
                given[key] = None if item.get("UsePreviousValue") else str(item.get("ParameterValue", ""))
        previous_values = previous.deployment.parameters if previous and previous.deployment else {}
        texts, values = parameters.resolve(
            declared, given, previous_values, lambda name: self._ssm_parameter(region, name)
        )
        deployment = Deployment(
            template_body=body,
            template=original,
            processed=original,
            parameters=texts,
            values=values,
            capabilities=list(params.get("Capabilities") or []),
            tags=list(params.get("Tags") or []),
            notification_arns=list(params.get("NotificationARNs") or []),
            role_arn=params.get("RoleARN"),
            disable_rollback=bool(params.get("DisableRollback") or params.get("OnFailure") == "DO_NOTHING"),
            description=original.get("Description"),
        )
        transforms = template.transforms(original)
        unsupported = [name for name in transforms if name != SAM_TRANSFORM]
        if unsupported:
            raise TemplateError(
                f"Transform {unsupported[0]} is not supported by streamlab's CloudFormation service "
                f"(supported: {SAM_TRANSFORM})"
            )
        if transforms:
            processed = apply_sam(original, texts, pseudo_parameters(stack, deployment), self._managed_policies)
            template.check_sections(processed)
            deployment.processed = processed
            deployment.description = processed.get("Description")
        self._check(stack, deployment)
        return deployment

    def _ssm_parameter(self, region: str, name: str) -> str:
        try:
            return str(self._clients.get("ssm", region).get_parameter(Name=name)["Parameter"]["Value"])
        except ClientError:
            raise ValidationError(
                f"Unable to fetch parameters [{name}] from parameter store for this account."
            ) from None

    def _check(self, stack: Stack, deployment: Deployment) -> None:
        evaluator = evaluator_for(stack, deployment, self.store, static=True)
        for name in deployment.processed.get("Conditions") or {}:
            evaluator.condition(name)
        resources = active_resources(deployment, evaluator)
        creation_order(deployment.processed["Resources"])
        _check_attributes(deployment.processed, resources)
        self._check_rules(deployment, evaluator)
        for definition in resources.values():
            evaluator.resolve(definition.get("Properties") or {})
        for output in (deployment.processed.get("Outputs") or {}).values():
            if "Condition" not in output or evaluator.condition(str(output["Condition"])):
                evaluator.resolve(output.get("Value"))

    @staticmethod
    def _check_rules(deployment: Deployment, evaluator: Evaluator) -> None:
        for name, rule in (deployment.processed.get("Rules") or {}).items():
            if "RuleCondition" in rule and not evaluator.resolve(rule["RuleCondition"]):
                continue
            for assertion in rule.get("Assertions") or []:
                try:
                    holds = evaluator.resolve(assertion.get("Assert"))
                except TemplateError:
                    continue  # a rule function this service does not evaluate
                if holds is False:
                    raise ValidationError(assertion.get("AssertDescription") or f"Template rule {name} failed")

    @staticmethod
    def _check_capabilities(deployment: Deployment, *, change_set: bool) -> None:
        needed = []
        resources = (deployment.processed.get("Resources") or {}).values()
        iam = [resource for resource in resources if resource.get("Type") in IAM_TYPES]
        if any(_NAMED_IAM & set(resource.get("Properties") or {}) for resource in iam):
            if "CAPABILITY_NAMED_IAM" not in deployment.capabilities:
                needed.append("CAPABILITY_NAMED_IAM")
        elif iam and not {"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"} & set(deployment.capabilities):
            needed.append("CAPABILITY_IAM")
        auto_expand = "CAPABILITY_AUTO_EXPAND" in deployment.capabilities
        if not change_set and template.transforms(deployment.template) and not auto_expand:
            needed.append("CAPABILITY_AUTO_EXPAND")
        if needed:
            raise InsufficientCapabilitiesException(f"Requires capabilities : [{', '.join(needed)}]")

    # -- stacks -------------------------------------------------------------------------------
    def _stack(self, region: str, name_or_id: str | None) -> Stack:
        stack = self.store.live(region, name_or_id or "")
        if stack is None:
            raise ValidationError(f"Stack with id {name_or_id} does not exist")
        return stack

    @staticmethod
    def _check_name(name: str) -> None:
        if not STACK_NAME.match(name or ""):
            raise ValidationError(
                f"1 validation error detected: Value '{name}' at 'stackName' failed to satisfy constraint: Member "
                "must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*"
            )

    def create_stack(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        name = params["StackName"]
        self._check_name(name)
        if self.store.live(region, name) is not None:
            raise AlreadyExistsException(f"Stack [{name}] already exists")
        stack = Stack(stack_arn(region, name), name, region, "CREATE_IN_PROGRESS")
        deployment = self._prepare(region, params, stack, None)
        self._check_capabilities(deployment, change_set=False)
        stack.deployment = deployment
        stack.termination_protection = bool(params.get("EnableTerminationProtection"))
        stack.stack_event("CREATE_IN_PROGRESS", "User Initiated")
        self.store.add(stack)
        self._run(name, lambda: self._deployer.create(stack, deployment))
        return {"StackId": stack.stack_id}

    def update_stack(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        stack = self._stack(region, params["StackName"])
        with stack.lock:
            self._check_updatable(stack)
            deployment = self._prepare(region, params, stack, stack)
            self._check_capabilities(deployment, change_set=False)
            previous = stack.deployment
            assert previous is not None
            if self._unchanged(stack, previous, deployment):
                raise ValidationError("No updates are to be performed.")
            self._start_update(stack, previous, deployment)
        return {"StackId": stack.stack_id}

    def _start_update(self, stack: Stack, previous: Deployment, deployment: Deployment) -> None:
        stack.deployment = deployment
        stack.last_updated = now()
        stack.stack_event("UPDATE_IN_PROGRESS", "User Initiated")
        self._run(stack.name, lambda: self._deployer.update(stack, previous, deployment))

    @staticmethod
    def _check_updatable(stack: Stack) -> None:
        if stack.status not in UPDATABLE_STATES:
            raise ValidationError(f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")

    def delete_stack(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        stack = self.store.live(region, params["StackName"])
        if stack is None or stack.status == "DELETE_COMPLETE":
            return {}  # deleting a stack that does not exist succeeds, as on AWS
        with stack.lock:
            if stack.termination_protection:
                raise ValidationError(f"Stack [{stack.name}] cannot be deleted while TerminationProtection is enabled")
            if stack.status == "DELETE_IN_PROGRESS":
                return {}
            if not stack.settled:
                raise ValidationError(f"Stack [{stack.name}] is in {stack.status} state and can not be deleted.")
            if stack.status == "REVIEW_IN_PROGRESS":
                stack.deleted = now()
                stack.stack_event("DELETE_COMPLETE")
                return {}
            stack.stack_event("DELETE_IN_PROGRESS", "User Initiated")
        self._run(stack.name, lambda: self._deployer.delete(stack))
        return {}

    def describe_stacks(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("StackName"):
            return {"Stacks": [self._stack(region, params["StackName"]).describe()]}
        stacks = [stack for stack in self.store.all(region) if stack.status != "DELETE_COMPLETE"]
        return {"Stacks": [stack.describe() for stack in sorted(stacks, key=lambda s: s.created, reverse=True)]}

    def list_stacks(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        wanted = set(params.get("StackStatusFilter") or [])
        stacks = [stack for stack in self.store.all(region) if not wanted or stack.status in wanted]
        return {"StackSummaries": [stack.summary() for stack in sorted(stacks, key=lambda s: s.created, reverse=True)]}

    def describe_stack_events(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        stack = self._stack(region, params["StackName"])
        return {"StackEvents": [event.describe() for event in reversed(list(stack.events))]}

    def _resource_detail(self, stack: Stack, logical_id: str) -> dict[str, Any]:
        resource = stack.resources[logical_id]
        detail = resource.summary()
        detail.update(StackName=stack.name, StackId=stack.stack_id)
        definition = ((stack.deployment.processed if stack.deployment else {}).get("Resources") or {}).get(logical_id)
        if definition and "Metadata" in definition:
            detail["Metadata"] = json.dumps(definition["Metadata"])
        return detail

    def describe_stack_resource(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        stack = self._stack(region, params["StackName"])
        logical_id = params["LogicalResourceId"]
        if logical_id not in stack.resources:
            raise ValidationError(f"Resource {logical_id} does not exist for stack {stack.name}")
        return {"StackResourceDetail": self._resource_detail(stack, logical_id)}

    def describe_stack_resources(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("StackName"):
            stacks = [self._stack(region, params["StackName"])]
        elif params.get("PhysicalResourceId"):
            stacks = [
                stack
                for stack in self.store.all(region)
                if any(r.physical_id == params["PhysicalResourceId"] for r in stack.resources.values())
            ]
            if not stacks:
                raise ValidationError(f"Stack for {params['PhysicalResourceId']} does not exist")
        else:
            raise ValidationError("Either StackName or PhysicalResourceId must be specified.")
        answer = []
        for stack in stacks:
            for logical_id, resource in list(stack.resources.items()):
                if params.get("LogicalResourceId") not in (None, logical_id):
                    continue
                if params.get("PhysicalResourceId") not in (None, resource.physical_id) and not params.get("StackName"):
                    continue
                detail = self._resource_detail(stack, logical_id)
                detail["Timestamp"] = detail.pop("LastUpdatedTimestamp")
                detail.pop("DriftInformation", None)
                answer.append(detail)
        return {"StackResources": answer}

    def list_stack_resources(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        stack = self._stack(region, params["StackName"])
        return {"StackResourceSummaries": [resource.summary() for resource in list(stack.resources.values())]}

    def get_template(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("ChangeSetName"):
            deployment = self._change_set(region, params).deployment
        else:
            stack = self._stack(region, params.get("StackName"))
            if stack.deployment is None:  # REVIEW_IN_PROGRESS: only change sets have templates yet
                return {"TemplateBody": "{}", "StagesAvailable": ["Original", "Processed"]}
            deployment = stack.deployment
        if params.get("TemplateStage") == "Processed":
            body = json.dumps(deployment.processed, indent=2, default=str)
        else:
            body = deployment.template_body
        stages = ["Original", "Processed"]
        return {"TemplateBody": body, "StagesAvailable": stages}

    def get_template_summary(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("StackName"):
            stack = self._stack(region, params["StackName"])
            if stack.deployment is None:
                raise ValidationError(f"Stack with id {params['StackName']} does not exist")
            original = stack.deployment.template
        else:
            original = template.load(self._template_text(region, params, None))
        resources = original.get("Resources") or {}
        answer: dict[str, Any] = {
            "Parameters": _parameter_summaries(original),
            "ResourceTypes": sorted({str(r.get("Type")) for r in resources.values()}),
            "Version": str(original.get("AWSTemplateFormatVersion", "2010-09-09")),
            "DeclaredTransforms": template.transforms(original),
            "ResourceIdentifierSummaries": [],
        }
        answer.update(_description_and_capabilities(original))
        if "Metadata" in original:
            answer["Metadata"] = json.dumps(original["Metadata"])
        return answer

    def validate_template(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        body = self._template_text(region, params, None)
        original = template.load(body)
        lint.check(body, region)
        probe = Stack(stack_arn(region, "validate"), "validate", region, "CREATE_IN_PROGRESS")
        if not template.transforms(original):
            declared = original.get("Parameters") or {}
            values = {name: _placeholder(declared[name]) for name in declared}
            deployment = Deployment(body, original, original, {k: str(v) for k, v in values.items()}, values=values)
            self._check(probe, deployment)
        answer: dict[str, Any] = {
            "Parameters": [
                {
                    key: value
                    for key, value in summary.items()
                    if key in ("ParameterKey", "DefaultValue", "NoEcho", "Description")
                }
                for summary in _parameter_summaries(original)
            ],
            "DeclaredTransforms": template.transforms(original),
        }
        answer.update(_description_and_capabilities(original))
        return answer

    def list_exports(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        exports = self.store.exports(region)
        return {
            "Exports": [
                {"ExportingStackId": stack_id, "Name": name, "Value": value}
                for name, (value, stack_id) in sorted(exports.items())
            ]
        }

    def list_imports(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        name = params["ExportName"]
        importers = self.store.importers(region, name)
        if not importers:
            raise ValidationError(f"Export '{name}' is not imported by any stack.")
        return {"Imports": importers}

    def update_termination_protection(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        stack = self._stack(region, params["StackName"])
        stack.termination_protection = bool(params["EnableTerminationProtection"])
        return {"StackId": stack.stack_id}

    # -- change sets --------------------------------------------------------------------------
    def create_change_set(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        name = params["StackName"]
        self._check_name(name)
        change_set_name = params["ChangeSetName"]
        kind = params.get("ChangeSetType") or "UPDATE"
        if kind not in ("CREATE", "UPDATE"):
            raise ValidationError(f"ChangeSetType {kind} is not supported by streamlab's CloudFormation service")
        existing = self.store.live(region, name)
        if kind == "CREATE":
            if existing is not None and existing.status != "REVIEW_IN_PROGRESS":
                raise AlreadyExistsException(
                    f"Stack [{name}] already exists and cannot be created again with the changeSet"
                )
            stack = existing or Stack(stack_arn(region, name), name, region, "REVIEW_IN_PROGRESS")
            previous = None
        else:
            if existing is None or existing.status == "REVIEW_IN_PROGRESS":
                raise ValidationError(f"Stack [{name}] does not exist")
            self._check_updatable(existing)
            stack, previous = existing, existing
        if any(cs.name == change_set_name for cs in stack.change_sets.values()):
            raise AlreadyExistsException(f"ChangeSet [{change_set_name}] already exists")
        deployment = self._prepare(region, params, stack, previous)
        self._check_capabilities(deployment, change_set=True)
        change_set = ChangeSet(
            change_set_arn(region, change_set_name),
            change_set_name,
            stack.stack_id,
            stack.name,
            kind,
            deployment,
            description=params.get("Description"),
        )
        if existing is None:
            stack.stack_event("REVIEW_IN_PROGRESS", "User Initiated")
            self.store.add(stack)
        stack.change_sets[change_set.arn] = change_set
        # A static comparison of two templates takes milliseconds: done before answering, so a
        # client's first DescribeChangeSet finds it complete instead of waiting out a poll delay.
        self._compute_change_set(stack, change_set)
        return {"Id": change_set.arn, "StackId": stack.stack_id}

    def _compute_change_set(self, stack: Stack, change_set: ChangeSet) -> None:
        change_set.status = "CREATE_IN_PROGRESS"
        try:
            if change_set.change_set_type == "CREATE":
                changes = self._changes(stack, None, change_set.deployment)
            else:
                assert stack.deployment is not None
                changes = self._changes(stack, stack.deployment, change_set.deployment)
                if not changes and self._unchanged(stack, stack.deployment, change_set.deployment):
                    change_set.status, change_set.status_reason = "FAILED", NO_CHANGES
                    return
        except (TemplateError, ValidationError) as error:
            change_set.status, change_set.status_reason = "FAILED", str(error)
            return
        change_set.changes = changes
        change_set.execution_status = "AVAILABLE"
        change_set.status = "CREATE_COMPLETE"

    def _static_resources(self, stack: Stack, deployment: Deployment) -> dict[str, Any]:
        evaluator = evaluator_for(stack, deployment, self.store, static=True)
        return {
            name: {
                "Type": resource["Type"],
                "Properties": evaluator.resolve(resource.get("Properties") or {}),
                "DeletionPolicy": resource.get("DeletionPolicy"),
            }
            for name, resource in active_resources(deployment, evaluator).items()
        }

    def _unchanged(self, stack: Stack, previous: Deployment, deployment: Deployment) -> bool:
        """No resource changes, the same outputs and the same parameter values: nothing to do."""
        if previous.parameters != deployment.parameters or previous.tags != deployment.tags:
            return False
        if self._changes(stack, previous, deployment):
            return False

        def outputs(d: Deployment) -> Any:
            return evaluator_for(stack, d, self.store, static=True).resolve(d.processed.get("Outputs") or {})

        return bool(outputs(previous) == outputs(deployment))

    def _changes(self, stack: Stack, previous: Deployment | None, deployment: Deployment) -> list[dict[str, Any]]:
        before = self._static_resources(stack, previous) if previous else {}
        after = self._static_resources(stack, deployment)
        changes = []
        for name, resource in after.items():
            old = before.get(name)
            if old is None:
                changes.append(_change("Add", name, resource["Type"]))
            elif old != resource:
                changes.append(_modify(name, old, resource, stack))
        for name, resource in before.items():
            if name not in after:
                changes.append(_change("Remove", name, resource["Type"], _physical_id(stack, name)))
        return changes

    def _change_set(self, region: str, params: dict[str, Any]) -> ChangeSet:
        name = params["ChangeSetName"]
        stacks = self.store.all(region)
        if not name.startswith("arn:"):
            stack_name = params.get("StackName")
            if not stack_name:
                raise ValidationError("StackName must be specified if ChangeSetName is not specified as an ARN.")
            found = self.store.live(region, stack_name)
            stacks = [found] if found else []
        for stack in stacks:
            for change_set in list(stack.change_sets.values()):
                if name in (change_set.arn, change_set.name):
                    return change_set
        raise ChangeSetNotFoundException(f"ChangeSet [{name}] does not exist")

    def describe_change_set(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        change_set = self._change_set(region, params)
        deployment = change_set.deployment
        answer = change_set.summary()
        answer.update(
            Changes=change_set.changes,
            Parameters=parameter_list(deployment),
            Capabilities=deployment.capabilities,
            Tags=deployment.tags,
            NotificationARNs=deployment.notification_arns,
        )
        return answer

    def execute_change_set(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        change_set = self._change_set(region, params)
        stack = self._stack(region, change_set.stack_id)
        with stack.lock:
            if change_set.status != "CREATE_COMPLETE" or change_set.execution_status != "AVAILABLE":
                raise InvalidChangeSetStatusException(
                    f"ChangeSet [{change_set.arn}] cannot be executed in its current status of [{change_set.status}]"
                )
            for other in list(stack.change_sets):
                if other != change_set.arn:
                    del stack.change_sets[other]
            change_set.execution_status = "EXECUTE_IN_PROGRESS"
            deployment = change_set.deployment
            if change_set.change_set_type == "CREATE":
                stack.deployment = deployment
                stack.status = "CREATE_IN_PROGRESS"
                stack.stack_event("CREATE_IN_PROGRESS", "User Initiated")
                work: Callable[[], None] = functools.partial(self._deployer.create, stack, deployment)
            else:
                self._check_updatable(stack)
                previous = stack.deployment
                assert previous is not None
                stack.deployment = deployment
                stack.last_updated = now()
                stack.stack_event("UPDATE_IN_PROGRESS", "User Initiated")
                work = functools.partial(self._deployer.update, stack, previous, deployment)

        def execute() -> None:
            work()
            change_set.execution_status = (
                "EXECUTE_COMPLETE" if stack.status in ("CREATE_COMPLETE", "UPDATE_COMPLETE") else "EXECUTE_FAILED"
            )

        self._run(stack.name, execute)
        return {}

    def delete_change_set(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        change_set = self._change_set(region, params)
        if change_set.execution_status == "EXECUTE_IN_PROGRESS":
            raise InvalidChangeSetStatusException(
                f"Cannot delete ChangeSet [{change_set.arn}] while it is in EXECUTE_IN_PROGRESS"
            )
        stack = self._stack(region, change_set.stack_id)
        stack.change_sets.pop(change_set.arn, None)
        return {}

    def list_change_sets(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        stack = self._stack(region, params["StackName"])
        return {"Summaries": [change_set.summary() for change_set in list(stack.change_sets.values())]}


def _physical_id(stack: Stack, logical_id: str) -> str | None:
    resource = stack.resources.get(logical_id)
    return resource.physical_id if resource else None


def _change(action: str, logical_id: str, resource_type: str, physical_id: str | None = None) -> dict[str, Any]:
    change: dict[str, Any] = {
        "Action": action,
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "Scope": [],
        "Details": [],
    }
    if physical_id:
        change["PhysicalResourceId"] = physical_id
    return {"Type": "Resource", "ResourceChange": change}


def _modify(logical_id: str, old: dict[str, Any], new: dict[str, Any], stack: Stack) -> dict[str, Any]:
    change = _change("Modify", logical_id, new["Type"], _physical_id(stack, logical_id))
    resource_change = change["ResourceChange"]
    provider = REGISTRY.get(new["Type"])
    names = sorted(set(old["Properties"]) | set(new["Properties"]))
    changed = [name for name in names if old["Properties"].get(name) != new["Properties"].get(name)]
    replaced = [name for name in changed if provider is None or not provider.updatable or name in provider.replace_on]
    if old["Type"] != new["Type"]:
        replacement = "True"
    elif not replaced:
        replacement = "False"
    elif any("{{" in json.dumps(new["Properties"].get(name), default=str) for name in replaced):
        replacement = "Conditional"
    else:
        replacement = "True"
    resource_change["Replacement"] = replacement
    resource_change["Scope"] = ["Properties"] if changed else []
    resource_change["Details"] = [
        {
            "Target": {
                "Attribute": "Properties",
                "Name": name,
                "RequiresRecreation": "Always" if name in replaced else "Never",
            },
            "Evaluation": "Static",
            "ChangeSource": "DirectModification",
        }
        for name in changed
    ]
    return change


def _check_attributes(processed: dict[str, Any], resources: dict[str, Any]) -> None:
    """Every Fn::GetAtt of a supported type names an attribute that type has."""

    def visit(value: Any) -> None:
        if isinstance(value, dict):
            if len(value) == 1 and "Fn::GetAtt" in value:
                argument = value["Fn::GetAtt"]
                parts = argument.split(".", 1) if isinstance(argument, str) else argument
                if isinstance(parts, list) and len(parts) == 2 and isinstance(parts[1], str):
                    _check_attribute(resources, str(parts[0]), parts[1])
            for item in value.values():
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)

    visit(processed.get("Resources"))
    visit(processed.get("Outputs"))


def _check_attribute(resources: dict[str, Any], logical_id: str, attribute: str) -> None:
    resource = resources.get(logical_id)
    if resource is None:
        return
    provider = REGISTRY.get(resource["Type"])
    if provider is not None and attribute not in provider.attributes:
        raise TemplateError(
            f"Template error: resource {logical_id} does not support attribute type {attribute} in Fn::GetAtt"
        )


def _parameter_summaries(original: dict[str, Any]) -> list[dict[str, Any]]:
    answer = []
    for name, declaration in (original.get("Parameters") or {}).items():
        summary: dict[str, Any] = {
            "ParameterKey": name,
            "ParameterType": declaration.get("Type"),
            "NoEcho": str(declaration.get("NoEcho", "false")).lower() == "true",
        }
        if "Default" in declaration:
            summary["DefaultValue"] = str(declaration["Default"])
        if "Description" in declaration:
            summary["Description"] = declaration["Description"]
        if "AllowedValues" in declaration:
            summary["ParameterConstraints"] = {"AllowedValues": [str(v) for v in declaration["AllowedValues"]]}
        answer.append(summary)
    return answer


def _description_and_capabilities(original: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = {}
    if original.get("Description"):
        answer["Description"] = original["Description"]
    resources = original.get("Resources") or {}
    iam = [name for name, r in resources.items() if r.get("Type") in IAM_TYPES]
    capabilities = []
    if iam:
        named = any(_NAMED_IAM & set(resources[name].get("Properties") or {}) for name in iam)
        capabilities.append("CAPABILITY_NAMED_IAM" if named else "CAPABILITY_IAM")
        types = ", ".join(sorted({resources[name]["Type"] for name in iam}))
        answer["CapabilitiesReason"] = f"The following resource(s) require capabilities: [{types}]"
    if template.transforms(original):
        capabilities.append("CAPABILITY_AUTO_EXPAND")
    answer["Capabilities"] = capabilities
    return answer


def _placeholder(declaration: dict[str, Any]) -> Any:
    """A value for a parameter ValidateTemplate has none for: its default, else a typed stand-in."""
    kind = str(declaration.get("Type", "String"))
    if "Default" in declaration:
        value = declaration["Default"]
    elif declaration.get("AllowedValues"):
        value = declaration["AllowedValues"][0]
    else:
        value = "0" if kind == "Number" else f"{{{{Parameter:{uuid.uuid4().hex[:6]}}}}}"
    if kind == "CommaDelimitedList" or kind.startswith("List<"):
        return str(value).split(",") if not isinstance(value, list) else value
    return str(value)
