"""The deployer: creates, updates and deletes a stack's resources in dependency order, and rolls back.

Each operation runs on its own worker thread and records events as CloudFormation does
(``CREATE_IN_PROGRESS``, ``Resource creation Initiated``, ``CREATE_COMPLETE``, …), so waiters and
clients that follow DescribeStackEvents see the same sequence they see on AWS. A resource that
fails rolls the stack back: what this operation created is deleted, what it updated is put back.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from streamlab.aws_rules import ACCOUNT_ID
from streamlab.emulator.cloudformation.exceptions import ResourceFailure, TemplateError
from streamlab.emulator.cloudformation.graph import creation_order
from streamlab.emulator.cloudformation.intrinsics import Evaluator
from streamlab.emulator.cloudformation.models import Deployment, Stack, StackResource, StackStore, now
from streamlab.emulator.cloudformation.providers import REGISTRY, Provider, Provisioned, ResourceContext
from streamlab.emulator.cloudformation.providers.base import ClientFactory
from streamlab.errors import StreamlabError

log = logging.getLogger(__name__)


def pseudo_parameters(stack: Stack, deployment: Deployment) -> dict[str, Any]:
    return {
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Region": stack.region,
        "AWS::StackName": stack.name,
        "AWS::StackId": stack.stack_id,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NotificationARNs": list(deployment.notification_arns),
    }


def evaluator_for(stack: Stack, deployment: Deployment, store: StackStore, *, static: bool = False) -> Evaluator:
    template = deployment.processed
    evaluator = Evaluator(
        parameters=deployment.values,
        pseudo=pseudo_parameters(stack, deployment),
        mappings=template.get("Mappings") or {},
        condition_definitions=template.get("Conditions") or {},
        exports={name: value for name, (value, _) in store.exports(stack.region).items()},
        static=static,
    )
    evaluator.resources = set(active_resources(deployment, evaluator))
    return evaluator


def active_resources(deployment: Deployment, evaluator: Evaluator) -> dict[str, dict[str, Any]]:
    """The template's resources whose Condition holds."""
    resources = deployment.processed.get("Resources") or {}
    return {
        name: resource
        for name, resource in resources.items()
        if "Condition" not in resource or evaluator.condition(str(resource["Condition"]))
    }


def failure_reason(error: BaseException) -> str:
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
        service = error.operation_name
        return (
            f'Resource handler returned message: "{info.get("Message") or info.get("Code")}" '
            f"(Operation: {service}, Status Code: {status}, Error Code: {info.get('Code')})"
        )
    if isinstance(error, ResourceFailure | TemplateError):
        return str(error)
    return f"Internal failure: {type(error).__name__}: {error}"


@dataclass
class _Journal:
    """What an update did, to undo it: resources created, and (old, new properties) of those updated."""

    created: list[StackResource] = field(default_factory=list)
    updated: list[tuple[StackResource, dict[str, Any]]] = field(default_factory=list)
    replaced: list[StackResource] = field(default_factory=list)


class Deployer:
    def __init__(self, store: StackStore, clients: ClientFactory) -> None:
        self._store = store
        self._clients = clients

    # -- helpers ----------------------------------------------------------------------------
    def _context(self, stack: Stack, logical_id: str) -> ResourceContext:
        return ResourceContext(stack.region, ACCOUNT_ID, stack.name, stack.stack_id, logical_id, self._clients)

    @staticmethod
    def _provider(resource_type: str) -> Provider:
        provider = REGISTRY.get(resource_type)
        if provider is None:
            raise ResourceFailure(
                f"Resource type {resource_type} is not supported by streamlab's CloudFormation service "
                f"(supported: {', '.join(sorted(REGISTRY))})"
            )
        return provider

    def _evaluator(self, stack: Stack, deployment: Deployment, resources: dict[str, StackResource]) -> Evaluator:
        evaluator = evaluator_for(stack, deployment, self._store)
        evaluator.physical_ids = {name: r.physical_id for name, r in resources.items() if r.physical_id}

        def attribute(logical_id: str, name: str) -> Any:
            resource = resources.get(logical_id)
            if resource is None:
                raise TemplateError(f"Template error: resource {logical_id} is referenced before it exists")
            provider = REGISTRY.get(resource.resource_type)
            if provider is not None and name not in provider.attributes:
                raise KeyError(name)
            if name not in resource.attributes:
                raise TemplateError(f"Template error: attribute {name} of {logical_id} has no value")
            return resource.attributes[name]

        evaluator.attribute = attribute
        return evaluator

    @staticmethod
    def _unsupported(resources: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
        return [(name, r["Type"]) for name, r in resources.items() if r["Type"] not in REGISTRY]

    # -- create -----------------------------------------------------------------------------
    def create(self, stack: Stack, deployment: Deployment) -> None:
        try:
            self._create(stack, deployment)
        except Exception:  # the worker must leave the stack in a final state, whatever happened
            log.exception("stack %s: create failed", stack.name)
            if not stack.settled:
                stack.stack_event("ROLLBACK_FAILED", "Internal failure")

    def _create(self, stack: Stack, deployment: Deployment) -> None:
        resources: dict[str, StackResource] = {}
        stack.resources = resources
        failed: str | None = None
        reason = ""
        try:
            evaluator = self._evaluator(stack, deployment, resources)
            definitions = active_resources(deployment, evaluator)
            order = creation_order(definitions)
            unsupported = self._unsupported(definitions)
            if unsupported:
                # Fail before anything is created: a stack that cannot be built whole is not started.
                failed, resource_type = unsupported[0]
                reason = self._unsupported_reason(unsupported)
                stack.event(failed, resource_type, "CREATE_FAILED", reason=reason)
            else:
                for logical_id in order:
                    failed = logical_id
                    self._create_resource(stack, resources, logical_id, definitions[logical_id], evaluator)
                failed = None
                stack.outputs = self._outputs(stack, deployment, evaluator)
                stack.imports = set(evaluator.imported)
        except _ResourceError as error:
            reason = error.reason
        except (TemplateError, ResourceFailure) as error:
            reason = str(error)
            if failed is not None and failed in resources:
                self._mark(stack, resources[failed], "CREATE_FAILED", reason)
        if failed is None and not reason:
            stack.stack_event("CREATE_COMPLETE")
            return
        stack_reason = f"The following resource(s) failed to create: [{failed}]. " if failed else reason
        if deployment.disable_rollback:
            stack.stack_event("CREATE_FAILED", stack_reason)
            return
        stack.stack_event("ROLLBACK_IN_PROGRESS", stack_reason + "Rollback requested by user.")
        ok = self._delete_all(stack, list(reversed(list(resources.values()))), retain=False)
        stack.outputs = []
        stack.stack_event("ROLLBACK_COMPLETE" if ok else "ROLLBACK_FAILED")

    @staticmethod
    def _unsupported_reason(unsupported: list[tuple[str, str]]) -> str:
        names = ", ".join(f"{name} ({resource_type})" for name, resource_type in unsupported)
        return (
            f"Resource type {unsupported[0][1]} is not supported by streamlab's CloudFormation service; "
            f"unsupported resources: {names}. Supported types: {', '.join(sorted(REGISTRY))}"
        )

    def _create_resource(
        self,
        stack: Stack,
        resources: dict[str, StackResource],
        logical_id: str,
        definition: dict[str, Any],
        evaluator: Evaluator,
        *,
        replacing: bool = False,
    ) -> StackResource:
        resource = StackResource(
            logical_id, definition["Type"], deletion_policy=str(definition.get("DeletionPolicy", "Delete"))
        )
        resources[logical_id] = resource
        self._mark(stack, resource, "UPDATE_IN_PROGRESS" if replacing else "CREATE_IN_PROGRESS")
        try:
            properties = evaluator.resolve(definition.get("Properties") or {})
            resource.properties = properties
            provider = self._provider(resource.resource_type)
            self._mark(
                stack,
                resource,
                resource.status,
                "Resource creation Initiated"
                if not replacing
                else "Requested update requires the creation of a new physical resource; hence creating one.",
            )
            provisioned = provider.create(self._context(stack, logical_id), properties)
        except (ClientError, BotoCoreError, ResourceFailure, TemplateError) as error:
            reason = failure_reason(error)
            self._mark(stack, resource, "UPDATE_FAILED" if replacing else "CREATE_FAILED", reason)
            if not replacing:
                del resources[logical_id]
            raise _ResourceError(logical_id, reason) from error
        resource.physical_id = provisioned.physical_id
        resource.attributes = provisioned.attributes
        evaluator.physical_ids[logical_id] = provisioned.physical_id
        self._mark(stack, resource, "UPDATE_COMPLETE" if replacing else "CREATE_COMPLETE")
        return resource

    @staticmethod
    def _mark(stack: Stack, resource: StackResource, status: str, reason: str | None = None) -> None:
        resource.status = status
        resource.status_reason = reason
        resource.updated = now()
        stack.event(
            resource.logical_id,
            resource.resource_type,
            status,
            physical_id=resource.physical_id or "",
            reason=reason,
            properties=resource.properties or None,
        )

    def _outputs(self, stack: Stack, deployment: Deployment, evaluator: Evaluator) -> list[dict[str, Any]]:
        outputs = []
        exports = self._store.exports(stack.region)
        for key, output in (deployment.processed.get("Outputs") or {}).items():
            if "Condition" in output and not evaluator.condition(str(output["Condition"])):
                continue
            value = evaluator.resolve(output.get("Value"))
            entry: dict[str, Any] = {"OutputKey": key, "OutputValue": _output_text(value)}
            if output.get("Description"):
                entry["Description"] = output["Description"]
            export = output.get("Export")
            if export:
                name = str(evaluator.resolve(export.get("Name")))
                owner = exports.get(name)
                if owner is not None and owner[1] != stack.stack_id:
                    raise TemplateError(f"Export with name {name} is already exported by stack {owner[1]}")
                entry["ExportName"] = name
            outputs.append(entry)
        return outputs

    # -- update -----------------------------------------------------------------------------
    def update(self, stack: Stack, previous: Deployment, deployment: Deployment) -> None:
        try:
            self._update(stack, previous, deployment)
        except Exception:  # the worker must leave the stack in a final state, whatever happened
            log.exception("stack %s: update failed", stack.name)
            if not stack.settled:
                stack.stack_event("UPDATE_ROLLBACK_FAILED", "Internal failure")

    def _update(self, stack: Stack, previous: Deployment, deployment: Deployment) -> None:
        old_resources = dict(stack.resources)
        old_outputs = stack.outputs
        resources: dict[str, StackResource] = dict(old_resources)
        journal = _Journal()
        reason = ""
        try:
            evaluator = self._evaluator(stack, deployment, resources)
            definitions = active_resources(deployment, evaluator)
            unsupported = self._unsupported(definitions)
            if unsupported:
                name, resource_type = unsupported[0]
                reason = self._unsupported_reason(unsupported)
                stack.event(name, resource_type, "UPDATE_FAILED", reason=reason)
                raise _ResourceError(name, reason)
            for logical_id in creation_order(definitions):
                self._update_resource(stack, resources, logical_id, definitions[logical_id], evaluator, journal)
            outputs = self._outputs(stack, deployment, evaluator)
        except (_ResourceError, TemplateError, ResourceFailure) as error:
            failed = error.logical_id if isinstance(error, _ResourceError) else None
            reason = f"The following resource(s) failed to update: [{failed}]. " if failed else str(error)
            stack.stack_event("UPDATE_ROLLBACK_IN_PROGRESS", reason)
            ok = self._undo(stack, journal)
            stack.resources = old_resources
            stack.outputs = old_outputs
            stack.deployment = previous
            stack.stack_event("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
            ok = self._delete_all(stack, list(reversed(journal.created)), retain=False) and ok
            stack.stack_event("UPDATE_ROLLBACK_COMPLETE" if ok else "UPDATE_ROLLBACK_FAILED")
            return
        stack.resources = resources
        stack.outputs = outputs
        stack.imports = set(evaluator.imported)
        stack.stack_event("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
        order = self._deletion_order(previous, old_resources)
        removed = [old_resources[name] for name in order if name not in definitions]
        for resource in removed:
            resources.pop(resource.logical_id, None)
        self._delete_all(stack, list(reversed(journal.replaced)) + removed, retain=True)
        stack.stack_event("UPDATE_COMPLETE")

    def _update_resource(
        self,
        stack: Stack,
        resources: dict[str, StackResource],
        logical_id: str,
        definition: dict[str, Any],
        evaluator: Evaluator,
        journal: _Journal,
    ) -> None:
        current = resources.get(logical_id)
        if current is None:
            journal.created.append(self._create_resource(stack, resources, logical_id, definition, evaluator))
            return
        try:
            properties = evaluator.resolve(definition.get("Properties") or {})
        except TemplateError as error:
            self._mark(stack, current, "UPDATE_FAILED", str(error))
            raise _ResourceError(logical_id, str(error)) from error
        current.deletion_policy = str(definition.get("DeletionPolicy", "Delete"))
        if definition["Type"] == current.resource_type and properties == current.properties:
            return
        provider = self._provider(definition["Type"])
        if definition["Type"] != current.resource_type or provider.needs_replacement(current.properties, properties):
            name_property = provider.name_property
            if (
                name_property
                and properties.get(name_property)
                and properties.get(name_property) == (current.properties.get(name_property))
            ):
                reason = (
                    "CloudFormation cannot update a stack when a custom-named resource requires replacing. "
                    f"Rename {properties[name_property]} and update the stack again."
                )
                self._mark(stack, current, "UPDATE_FAILED", reason)
                raise _ResourceError(logical_id, reason)
            replacement = self._create_resource(stack, resources, logical_id, definition, evaluator, replacing=True)
            journal.created.append(replacement)
            journal.replaced.append(current)
            return
        old_properties = current.properties
        self._mark(stack, current, "UPDATE_IN_PROGRESS")
        try:
            provisioned = provider.update(
                self._context(stack, logical_id),
                Provisioned(str(current.physical_id), dict(current.attributes)),
                old_properties,
                properties,
            )
        except (ClientError, BotoCoreError, ResourceFailure, NotImplementedError) as error:
            reason = failure_reason(error) if not isinstance(error, NotImplementedError) else "update not supported"
            self._mark(stack, current, "UPDATE_FAILED", reason)
            raise _ResourceError(logical_id, reason) from error
        updated = copy.copy(current)
        updated.properties = properties
        updated.physical_id = provisioned.physical_id
        updated.attributes = provisioned.attributes
        resources[logical_id] = updated
        evaluator.physical_ids[logical_id] = provisioned.physical_id
        journal.updated.append((current, properties))
        self._mark(stack, updated, "UPDATE_COMPLETE")

    def _undo(self, stack: Stack, journal: _Journal) -> bool:
        """Put back what the update changed in place, newest first."""
        ok = True
        for old, new_properties in reversed(journal.updated):
            provider = REGISTRY[old.resource_type]
            self._mark(stack, old, "UPDATE_IN_PROGRESS")
            try:
                provider.update(
                    self._context(stack, old.logical_id),
                    Provisioned(str(old.physical_id), dict(old.attributes)),
                    new_properties,
                    old.properties,
                )
            except (ClientError, BotoCoreError, ResourceFailure) as error:
                self._mark(stack, old, "UPDATE_FAILED", failure_reason(error))
                ok = False
                continue
            self._mark(stack, old, "UPDATE_COMPLETE")
        return ok

    # -- delete -----------------------------------------------------------------------------
    def delete(self, stack: Stack) -> None:
        try:
            self._delete(stack)
        except Exception:  # the worker must leave the stack in a final state, whatever happened
            log.exception("stack %s: delete failed", stack.name)
            if not stack.settled:
                stack.stack_event("DELETE_FAILED", "Internal failure")

    def _delete(self, stack: Stack) -> None:
        for output in stack.outputs:
            name = output.get("ExportName")
            importers = (
                [other for other in self._store.importers(stack.region, name) if other != stack.name] if name else []
            )
            if importers:
                stack.stack_event("DELETE_FAILED", f"Export {name} cannot be deleted as it is in use by {importers[0]}")
                return
        order = self._deletion_order(stack.deployment, stack.resources) if stack.deployment else list(stack.resources)
        if self._delete_all(stack, [stack.resources[name] for name in order], retain=True):
            stack.resources = {}
            stack.deleted = now()
            stack.stack_event("DELETE_COMPLETE")
        else:
            failed = [r.logical_id for r in stack.resources.values() if r.status == "DELETE_FAILED"]
            stack.stack_event("DELETE_FAILED", f"The following resource(s) failed to delete: [{', '.join(failed)}]. ")

    def _deletion_order(self, deployment: Deployment | None, resources: dict[str, StackResource]) -> list[str]:
        """Dependents before what they depend on; resources the template no longer names last."""
        definitions = (deployment.processed.get("Resources") or {}) if deployment else {}
        known = {name: definitions[name] for name in resources if name in definitions}
        try:
            order = list(reversed(creation_order(known)))
        except TemplateError:
            order = list(known)
        return order + [name for name in reversed(list(resources)) if name not in known]

    def _delete_all(self, stack: Stack, doomed: list[StackResource], *, retain: bool) -> bool:
        ok = True
        for resource in doomed:
            if retain and resource.deletion_policy in ("Retain", "RetainExceptOnCreate"):
                self._mark(stack, resource, "DELETE_SKIPPED")
                continue
            if resource.physical_id is None:
                self._mark(stack, resource, "DELETE_COMPLETE")
                continue
            self._mark(stack, resource, "DELETE_IN_PROGRESS")
            try:
                provider = self._provider(resource.resource_type)
                provider.delete(self._context(stack, resource.logical_id), resource.physical_id, resource.properties)
            except (ClientError, BotoCoreError, ResourceFailure) as error:
                self._mark(stack, resource, "DELETE_FAILED", failure_reason(error))
                ok = False
                continue
            self._mark(stack, resource, "DELETE_COMPLETE")
        return ok


class _ResourceError(StreamlabError):
    """A resource failed; the operation rolls back with ``reason``."""

    def __init__(self, logical_id: str, reason: str) -> None:
        super().__init__(reason)
        self.logical_id = logical_id
        self.reason = reason


def _output_text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
