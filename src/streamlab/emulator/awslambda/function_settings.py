"""What IaC tools attach to a function beside its code: resource policies, tags, asynchronous
invocation settings, provisioned concurrency and code signing.

Messages and codes follow LocalStack's AWS-validated snapshots of test_lambda_api
(TestLambdaPermissions, TestLambdaTag(s), TestLambdaEventInvokeConfig,
TestLambdaProvisionedConcurrency, TestCodeSigningConfig; validated 2025-11-25).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any, Protocol

from streamlab.emulator.awslambda.control_plane import (
    FunctionsControlPlane,
    Target,
    check_revision,
    merge_qualifier,
    parse_function_ref,
    validate_tags,
)
from streamlab.emulator.awslambda.event_source_mappings import EventSourceMapping
from streamlab.emulator.awslambda.exceptions import (
    InvalidParameterValueException,
    ProvisionedConcurrencyConfigNotFoundException,
    ResourceConflictException,
    ResourceNotFoundException,
    constraint_violation,
)
from streamlab.emulator.awslambda.models import (
    LATEST,
    EventInvokeConfig,
    Function,
    ProvisionedConcurrency,
    ResourcePolicy,
    function_arn,
    new_revision,
)
from streamlab.emulator.awslambda.policies import statement_from_request

_NO_SUCH_RESOURCE = "The resource you requested does not exist."
_EIC_FUNCTION_MISSING = "The function doesn't exist."
#: Where invocation records may go; S3 takes failures only (invocation-async-retain-records.html).
_DESTINATION_SERVICES = {
    "OnSuccess": ("sqs", "sns", "lambda", "events"),
    "OnFailure": ("sqs", "sns", "lambda", "events", "s3"),
}
_DESTINATION_ARN = re.compile(
    r"^$|kafka://([^.]([a-zA-Z0-9\-_.]{0,248}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:"
    r"((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*)$"
)


class TaggedMappings(Protocol):
    """The part of the event source mapping store that tagging needs."""

    def get(self, mapping_uuid: str) -> EventSourceMapping: ...
    def set_tags(self, mapping_uuid: str, tags: dict[str, str]) -> None: ...


_TAGGABLE = re.compile(
    r"^arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:"
    r"(?P<kind>function):(?P<name>[a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?$|"
    r"^arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:"
    r"(?P<esm>event-source-mapping):(?P<uuid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
)
_TAGGABLE_PATTERN = (
    "arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:"
    "(function:[a-zA-Z0-9-_]+(:(\\$LATEST|[a-zA-Z0-9-_]+))?|layer:([a-zA-Z0-9-_]+)|"
    "code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    "[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|capacity-provider:[a-zA-Z0-9-_]+)"
)


def _taggable(arn: str) -> tuple[str, str]:
    """("function", name) or ("event-source-mapping", uuid); ValidationException for anything else."""
    match = _TAGGABLE.match(arn or "")
    if match is None:
        raise constraint_violation(
            "resource", arn, f"Member must satisfy regular expression pattern: {_TAGGABLE_PATTERN}"
        )
    if match["kind"]:
        return "function", match["name"]
    return "event-source-mapping", match["uuid"]


class FunctionSettings:
    """AddPermission / GetPolicy / RemovePermission, tags, EventInvokeConfig, provisioned concurrency."""

    def __init__(self, functions: FunctionsControlPlane, mappings: TaggedMappings) -> None:
        self._functions = functions
        self._mappings = mappings
        self._lock = functions.store.lock

    # -- resource policies --------------------------------------------------------------
    def add_permission(
        self, region: str, reference: str, qualifier: str | None, request: dict[str, Any]
    ) -> dict[str, Any]:
        target = self._policy_target(region, reference, qualifier)
        statement = statement_from_request(request, target.arn)
        function, key = target.function, target.qualifier or ""
        with self._lock:
            policy = function.policies.get(key)
            check_revision(policy.revision_id if policy else "", request.get("RevisionId"), "GetPolicy")
            if policy is not None and any(s["Sid"] == statement["Sid"] for s in policy.statements):
                raise ResourceConflictException(
                    f"The statement id ({statement['Sid']}) provided already exists. Please provide a new statement "
                    "id, or remove the existing statement."
                )
            policy = policy or function.policies.setdefault(key, ResourcePolicy())
            policy.statements.append(statement)
            policy.revision_id = new_revision()
        return {"Statement": json.dumps(statement)}

    def remove_permission(
        self, region: str, reference: str, statement_id: str, qualifier: str | None, revision_id: str | None
    ) -> None:
        name, ref_qualifier, ref_region = parse_function_ref(reference)
        qualifier = merge_qualifier(ref_qualifier, qualifier)
        function = self._functions.store.get(ref_region or region, name)
        if function is None:
            raise ResourceNotFoundException(f"No policy found for: {function_arn(ref_region or region, name)}")
        target = self._policy_target(function.region, name, qualifier)
        with self._lock:
            policy = function.policies.get(target.qualifier or "")
            if policy is None:
                raise ResourceNotFoundException("No policy is associated with the given resource.")
            check_revision(policy.revision_id, revision_id, "GetPolicy")
            kept = [s for s in policy.statements if s["Sid"] != statement_id]
            if len(kept) == len(policy.statements):
                raise ResourceNotFoundException(f"Statement {statement_id} is not found in resource policy.")
            if kept:
                policy.statements = kept
                policy.revision_id = new_revision()
            else:
                del function.policies[target.qualifier or ""]

    def get_policy(self, region: str, reference: str, qualifier: str | None) -> dict[str, Any]:
        try:
            target = self._functions.target(region, reference, qualifier)
        except ResourceNotFoundException:
            raise ResourceNotFoundException(_NO_SUCH_RESOURCE) from None
        with self._lock:
            policy = target.function.policies.get(target.qualifier or "")
            if policy is None:
                raise ResourceNotFoundException(_NO_SUCH_RESOURCE)
            return {"Policy": json.dumps(policy.document()), "RevisionId": policy.revision_id}

    def _policy_target(self, region: str, reference: str, qualifier: str | None) -> Target:
        _, ref_qualifier, _ = parse_function_ref(reference)
        qualifier = merge_qualifier(ref_qualifier, qualifier)
        if qualifier == LATEST:
            raise InvalidParameterValueException("We currently do not support adding policies for $LATEST.")
        function = self._functions.function(region, reference)
        if qualifier is not None and qualifier not in function.versions and qualifier in function.aliases:
            return self._functions.target_of(function, qualifier)
        if qualifier is not None and not qualifier.isdigit() and qualifier not in function.aliases:
            raise ResourceNotFoundException(
                f"Cannot find alias arn: {function_arn(function.region, function.name, qualifier)}"
            )
        return self._functions.target_of(function, qualifier)

    # -- tags: functions here, event source mappings in their own store ----------------
    def tag_resource(self, region: str, arn: str, tags: Any) -> None:
        if not tags:
            raise InvalidParameterValueException("An error occurred and the request cannot be processed.")
        current = self.list_tags(region, arn)
        self._set_tags(arn, {**current, **validate_tags(tags, current)})

    def untag_resource(self, region: str, arn: str, keys: list[str]) -> None:
        current = self.list_tags(region, arn)
        self._set_tags(arn, {k: v for k, v in current.items() if k not in keys})

    def list_tags(self, region: str, arn: str) -> dict[str, str]:
        kind, key = _taggable(arn)
        if kind == "function":
            with self._lock:
                return dict(self._tagged_function(arn).tags)
        try:
            return self._mappings.get(key).tags
        except ResourceNotFoundException:
            raise ResourceNotFoundException(f"Event source mapping not found: {arn}") from None

    def _set_tags(self, arn: str, tags: dict[str, str]) -> None:
        kind, key = _taggable(arn)
        if kind == "function":
            with self._lock:
                function = self._tagged_function(arn)
                function.tags.clear()
                function.tags.update(tags)
        else:
            self._mappings.set_tags(key, tags)

    def _tagged_function(self, arn: str) -> Function:
        parts = arn.split(":")
        if len(parts) > 7:
            raise InvalidParameterValueException(
                "Tags on function aliases and versions are not supported. Please specify a function ARN."
            )
        function = self._functions.store.get(parts[3], parts[6])
        if function is None:
            raise ResourceNotFoundException(f"Function not found: {arn}")
        return function

    # -- EventInvokeConfig --------------------------------------------------------------
    def put_event_invoke_config(
        self, region: str, reference: str, qualifier: str | None, request: dict[str, Any], *, merge: bool = False
    ) -> dict[str, Any]:
        target = self._eic_target(region, reference, qualifier)
        function, key = target.function, target.qualifier or LATEST
        with self._lock:
            current = function.event_invoke_configs.get(key)
            if merge and current is None:
                raise ResourceNotFoundException(self._eic_missing(function, key))
            config = _event_invoke_config(
                function, function_arn(function.region, function.name, key), request, self._function_exists
            )
            if merge and current is not None:
                config = _merged(current, config, request)
            if config == current:
                return current.to_api()
            function.event_invoke_configs[key] = config
            return config.to_api()

    def get_event_invoke_config(self, region: str, reference: str, qualifier: str | None) -> dict[str, Any]:
        function, key = self._eic_lookup(region, reference, qualifier)
        with self._lock:
            config = function.event_invoke_configs.get(key) if function is not None else None
            if config is None:
                raise ResourceNotFoundException(self._eic_missing(function, key, region, reference))
            return config.to_api()

    def delete_event_invoke_config(self, region: str, reference: str, qualifier: str | None) -> None:
        function, key = self._eic_lookup(region, reference, qualifier)
        with self._lock:
            if function is None or function.event_invoke_configs.pop(key, None) is None:
                raise ResourceNotFoundException(self._eic_missing(function, key, region, reference))

    def list_event_invoke_configs(self, region: str, reference: str) -> list[dict[str, Any]]:
        try:
            function = self._functions.function(region, reference)
        except ResourceNotFoundException:
            raise ResourceNotFoundException(_EIC_FUNCTION_MISSING) from None
        with self._lock:
            return [config.to_api() for config in function.event_invoke_configs.values()]

    def event_invoke_config(self, target: Target) -> EventInvokeConfig | None:
        """The settings that apply to an asynchronous invocation of ``target``."""
        with self._lock:
            return target.function.event_invoke_configs.get(target.qualifier or LATEST)

    def _eic_target(self, region: str, reference: str, qualifier: str | None) -> Target:
        try:
            return self._functions.target(region, reference, qualifier)
        except ResourceNotFoundException:
            raise ResourceNotFoundException(_EIC_FUNCTION_MISSING) from None

    def _function_exists(self, region: str, name: str) -> bool:
        return self._functions.store.get(region, name) is not None

    def _eic_lookup(self, region: str, reference: str, qualifier: str | None) -> tuple[Function | None, str]:
        name, ref_qualifier, ref_region = parse_function_ref(reference)
        qualifier = merge_qualifier(ref_qualifier, qualifier) or LATEST
        return self._functions.store.get(ref_region or region, name), qualifier

    @staticmethod
    def _eic_missing(
        function: Function | None, key: str, region: str | None = None, reference: str | None = None
    ) -> str:
        if function is not None:
            arn = function_arn(function.region, function.name, key)
        else:
            name, _, ref_region = parse_function_ref(reference or "")
            arn = function_arn(ref_region or region or "", name, key)
        return f"The function {arn} doesn't have an EventInvokeConfig"

    # -- provisioned concurrency (accepted and reported, not simulated) -----------------
    def put_provisioned(self, region: str, reference: str, qualifier: str | None, value: Any) -> dict[str, Any]:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise constraint_violation(
                "provisionedConcurrentExecutions", value, "Member must have value greater than or equal to 1"
            )
        target = self._provisioned_target(
            region,
            reference,
            qualifier,
            "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
        )
        function, key = target.function, str(target.qualifier)
        unreserved = self._functions.environments.unreserved_limit()
        if value > unreserved:
            raise InvalidParameterValueException(
                f"Specified ConcurrentExecutions for function is greater than account's unreserved concurrency "
                f"[{unreserved}]."
            )
        with self._lock:
            if target.alias is not None and target.config.version in function.provisioned:
                raise ResourceConflictException(
                    "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version"
                )
            if target.alias is None and any(
                a.function_version == key for name, a in function.aliases.items() if name in function.provisioned
            ):
                raise ResourceConflictException("Version is pointed by a Provisioned Concurrency alias")
            config = ProvisionedConcurrency(value)
            function.provisioned[key] = config
            return config.to_api(just_put=True)

    def get_provisioned(self, region: str, reference: str, qualifier: str | None) -> dict[str, Any]:
        target = self._provisioned_target(
            region, reference, qualifier, "The function resource provided must be an alias or a published version."
        )
        with self._lock:
            config = target.function.provisioned.get(str(target.qualifier))
        if config is None:
            raise ProvisionedConcurrencyConfigNotFoundException(
                "No Provisioned Concurrency Config found for this function"
            )
        return config.to_api()

    def delete_provisioned(self, region: str, reference: str, qualifier: str | None) -> None:
        target = self._provisioned_target(
            region, reference, qualifier, "The function resource provided must be an alias or a published version."
        )
        with self._lock:
            target.function.provisioned.pop(str(target.qualifier), None)

    def list_provisioned(self, region: str, reference: str) -> list[dict[str, Any]]:
        function = self._functions.function(region, reference)
        with self._lock:
            return [
                config.to_api(function_arn(function.region, function.name, key))
                for key, config in sorted(function.provisioned.items())
            ]

    def _provisioned_target(self, region: str, reference: str, qualifier: str | None, latest_message: str) -> Target:
        name, ref_qualifier, ref_region = parse_function_ref(reference)
        qualifier = merge_qualifier(ref_qualifier, qualifier)
        if qualifier is None or qualifier == LATEST:
            raise InvalidParameterValueException(latest_message)
        function = self._functions.store.get(ref_region or region, name)
        is_version = qualifier.isdigit()
        if function is None or (not is_version and qualifier not in function.aliases):
            wording = "Function not found" if is_version else "Cannot find alias arn"
            raise ResourceNotFoundException(f"{wording}: {function_arn(ref_region or region, name, qualifier)}")
        return self._functions.target_of(function, qualifier)

    # -- code signing -------------------------------------------------------------------
    def get_code_signing_config(self, region: str, reference: str) -> dict[str, Any]:
        """No code signing configuration is ever attached here: an empty answer, as AWS gives one."""
        self._functions.function(region, reference)
        return {}


FunctionExists = Callable[[str, str], bool]


def _event_invoke_config(
    function: Function, arn: str, request: dict[str, Any], exists: FunctionExists
) -> EventInvokeConfig:
    retries = request.get("MaximumRetryAttempts")
    age = request.get("MaximumEventAgeInSeconds")
    destinations = request.get("DestinationConfig")
    if retries is None and age is None and destinations is None:
        raise InvalidParameterValueException("You must specify at least one of error handling or destination setting.")
    if retries is not None:
        _model_range("maximumRetryAttempts", retries, 0, 2)
    if age is not None:
        _model_range("maximumEventAgeInSeconds", age, 60, 21600)
    on_success, on_failure = _destinations(function, destinations or {}, exists)
    return EventInvokeConfig(arn, retries, age, on_success, on_failure, time.time())


def _merged(current: EventInvokeConfig, update: EventInvokeConfig, request: dict[str, Any]) -> EventInvokeConfig:
    """UpdateFunctionEventInvokeConfig changes only what the request names."""
    return EventInvokeConfig(
        current.function_arn,
        update.maximum_retry_attempts if "MaximumRetryAttempts" in request else current.maximum_retry_attempts,
        update.maximum_event_age_in_seconds
        if "MaximumEventAgeInSeconds" in request
        else current.maximum_event_age_in_seconds,
        update.on_success if "DestinationConfig" in request else current.on_success,
        update.on_failure if "DestinationConfig" in request else current.on_failure,
        update.last_modified,
    )


def _destinations(function: Function, config: dict[str, Any], exists: FunctionExists) -> tuple[str | None, str | None]:
    chosen: dict[str, str | None] = {}
    for side in ("OnSuccess", "OnFailure"):
        destination = (config.get(side) or {}).get("Destination")
        if destination and not _DESTINATION_ARN.match(destination):
            raise constraint_violation(
                f"destinationConfig.{side[0].lower()}{side[1:]}.destination",
                destination,
                f"Member must satisfy regular expression pattern: {_DESTINATION_ARN.pattern[1:-1]}",
            )
        chosen[side] = destination or None
    for side, destination in chosen.items():
        if destination is None:
            continue
        service = destination.split(":")[2] if destination.count(":") >= 2 else ""
        if service not in _DESTINATION_SERVICES[side]:
            shown = {k: f"{k}(destination={v})" if v else "null" for k, v in chosen.items()}
            raise InvalidParameterValueException(
                f"The provided destination config DestinationConfig(onSuccess={shown['OnSuccess']}, "
                f"onFailure={shown['OnFailure']}) is invalid."
            )
        if service == "lambda":
            _check_function_destination(function, destination, exists)
    return chosen["OnSuccess"], chosen["OnFailure"]


def _check_function_destination(function: Function, destination: str, exists: FunctionExists) -> None:
    parts = destination.split(":")
    region, name = (parts[3], parts[6]) if len(parts) >= 7 else ("", "")
    if (region, name) == (function.region, function.name):
        raise InvalidParameterValueException("You can't specify the function as a destination for itself.")
    if not exists(region, name):
        raise InvalidParameterValueException(f"The destination ARN {destination} is invalid.")


def _model_range(member: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        bound = (
            f"greater than or equal to {low}"
            if isinstance(value, int) and value < low
            else (f"less than or equal to {high}")
        )
        raise constraint_violation(member, value, f"Member must have value {bound}")
