"""AWS::Lambda::* resources, provisioned through the Lambda API of the endpoint (streamlab's own service).

Function, EventSourceMapping; and Permission, Version, Alias, LayerVersion, EventInvokeConfig,
which call the Lambda operations IaC tools use (AddPermission, PublishVersion, CreateAlias,
PublishLayerVersion, PutFunctionEventInvokeConfig) as boto3 documents them.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

from botocore.exceptions import ClientError

from streamlab.emulator.cloudformation.exceptions import ResourceFailure
from streamlab.emulator.cloudformation.providers.base import (
    Provider,
    Provisioned,
    ResourceContext,
    error_code,
    ignore_missing,
    required,
    shaped,
    tag_dict,
    wait_until,
)

_CONFIGURATION = (
    "Runtime",
    "Handler",
    "Role",
    "Timeout",
    "MemorySize",
    "Description",
    "Environment",
    "Layers",
    "EphemeralStorage",
    "TracingConfig",
    "LoggingConfig",
    "DeadLetterConfig",
    "KmsKeyArn",
    "VpcConfig",
    "FileSystemConfigs",
    "ImageConfig",
    "SnapStart",
    "RuntimeManagementConfig",
)


def inline_zip(source: str, runtime: str) -> bytes:
    """``Code.ZipFile``: the source as ``index.py`` (or ``index.js``), as CloudFormation packages it."""
    name = "index.js" if runtime.startswith("nodejs") else "index.py"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        archive.writestr(info, source)
    return buffer.getvalue()


def _code(properties: dict[str, Any]) -> dict[str, Any]:
    code = required(properties, "Code")
    if "ZipFile" in code:
        return {"ZipFile": inline_zip(str(code["ZipFile"]), str(properties.get("Runtime", "")))}
    if "ImageUri" in code:
        raise ResourceFailure("Code.ImageUri (container images) is not supported by streamlab's Lambda service")
    if "S3Bucket" in code and "S3Key" in code:
        return {key: code[key] for key in ("S3Bucket", "S3Key", "S3ObjectVersion") if key in code}
    raise ResourceFailure("Properties validation failed: Code needs ZipFile, or S3Bucket and S3Key")


def _settled(client: Any, name: str) -> bool:
    configuration = client.get_function_configuration(FunctionName=name)
    if configuration.get("State") == "Failed" or configuration.get("LastUpdateStatus") == "Failed":
        raise ResourceFailure(
            configuration.get("StateReason") or configuration.get("LastUpdateStatusReason") or "function failed"
        )
    return configuration.get("State") == "Active" and configuration.get("LastUpdateStatus") in (None, "Successful")


class FunctionProvider(Provider):
    type_name = "AWS::Lambda::Function"
    attributes = frozenset({"Arn", "SnapStartResponse.ApplyOn", "SnapStartResponse.OptimizationStatus"})
    replace_on = frozenset({"FunctionName", "PackageType"})
    name_property = "FunctionName"

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        client = context.client("lambda")
        name = properties.get("FunctionName") or context.physical_name(64)
        required(properties, "Role")
        request = shaped(client, "CreateFunction", properties, skip=("Code", "Tags", "FunctionName"))
        request.update(FunctionName=name, Code=_code(properties))
        if properties.get("Tags"):
            request["Tags"] = tag_dict(properties["Tags"])
        answer = client.create_function(**request)
        try:
            wait_until(lambda: _settled(client, name), f"function {name} to become Active")
            self._concurrency(client, name, None, properties.get("ReservedConcurrentExecutions"))
        except Exception:
            ignore_missing(lambda: client.delete_function(FunctionName=name))
            raise
        return Provisioned(name, {"Arn": answer["FunctionArn"]})

    def update(
        self, context: ResourceContext, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        client = context.client("lambda")
        name = current.physical_id
        if old.get("Code") != new.get("Code") or old.get("Runtime") != new.get("Runtime"):
            client.update_function_code(FunctionName=name, **_code(new))
            wait_until(lambda: _settled(client, name), f"function {name} to update its code")
        configuration = {key: new[key] for key in _CONFIGURATION if key in new and new[key] != old.get(key)}
        for key in _CONFIGURATION:
            if key in old and key not in new:
                configuration[key] = _cleared(key)
        if configuration:
            client.update_function_configuration(
                FunctionName=name, **shaped(client, "UpdateFunctionConfiguration", configuration)
            )
            wait_until(lambda: _settled(client, name), f"function {name} to update its configuration")
        self._concurrency(
            client, name, old.get("ReservedConcurrentExecutions"), new.get("ReservedConcurrentExecutions")
        )
        if old.get("Tags") != new.get("Tags"):
            self._tags(client, current.attributes["Arn"], tag_dict(old.get("Tags")), tag_dict(new.get("Tags")))
        return Provisioned(name, current.attributes)

    def delete(self, context: ResourceContext, physical_id: str, properties: dict[str, Any]) -> None:
        client = context.client("lambda")
        ignore_missing(lambda: client.delete_function(FunctionName=physical_id))

    @staticmethod
    def _concurrency(client: Any, name: str, old: Any, new: Any) -> None:
        if old == new:
            return
        if new is None:
            client.delete_function_concurrency(FunctionName=name)
        else:
            client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=int(new))

    @staticmethod
    def _tags(client: Any, arn: str, old: dict[str, str], new: dict[str, str]) -> None:
        removed = sorted(set(old) - set(new))
        if removed:
            client.untag_resource(Resource=arn, TagKeys=removed)
        if new:
            client.tag_resource(Resource=arn, Tags=new)


def _cleared(key: str) -> Any:
    """The value that removes a configuration property a template no longer sets."""
    defaults: dict[str, Any] = {
        "Environment": {"Variables": {}},
        "Layers": [],
        "Timeout": 3,
        "MemorySize": 128,
        "Description": "",
        "EphemeralStorage": {"Size": 512},
        "TracingConfig": {"Mode": "PassThrough"},
        "DeadLetterConfig": {"TargetArn": ""},  # {} would keep the old target (AWS)
        "KmsKeyArn": "",
        "VpcConfig": {"SubnetIds": [], "SecurityGroupIds": []},
    }
    return defaults.get(key, {})


# Properties of an event source mapping that CloudFormation cannot change in place.
_MAPPING_REPLACE = frozenset(
    {
        "EventSourceArn",
        "StartingPosition",
        "StartingPositionTimestamp",
        "SelfManagedEventSource",
        "Topics",
        "Queues",
        "AmazonManagedKafkaEventSourceConfig",
        "SelfManagedKafkaEventSourceConfig",
    }
)
_MAPPING_SETTLED = frozenset({"Enabled", "Disabled"})


class EventSourceMappingProvider(Provider):
    type_name = "AWS::Lambda::EventSourceMapping"
    attributes = frozenset({"Id", "EventSourceMappingArn"})
    replace_on = _MAPPING_REPLACE

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        client = context.client("lambda")
        required(properties, "FunctionName")
        request = shaped(client, "CreateEventSourceMapping", properties, skip=("Tags",))
        if properties.get("Tags"):
            request["Tags"] = tag_dict(properties["Tags"])
        answer = client.create_event_source_mapping(**request)
        mapping_id = answer["UUID"]
        self._wait(client, mapping_id)
        return Provisioned(mapping_id, self._attributes(context, answer))

    def update(
        self, context: ResourceContext, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        client = context.client("lambda")
        changed = {key: value for key, value in new.items() if old.get(key) != value and key != "Tags"}
        for key in old:
            if key not in new and key in ("FilterCriteria", "DestinationConfig", "FunctionResponseTypes"):
                changed[key] = (
                    {"Filters": []} if key == "FilterCriteria" else ({} if key != "FunctionResponseTypes" else [])
                )
        if changed:
            answer = client.update_event_source_mapping(
                UUID=current.physical_id, **shaped(client, "UpdateEventSourceMapping", changed)
            )
            self._wait(client, current.physical_id)
            return Provisioned(current.physical_id, self._attributes(context, answer))
        return current

    def delete(self, context: ResourceContext, physical_id: str, properties: dict[str, Any]) -> None:
        client = context.client("lambda")
        ignore_missing(lambda: client.delete_event_source_mapping(UUID=physical_id))

    @staticmethod
    def _wait(client: Any, mapping_id: str) -> None:
        wait_until(
            lambda: client.get_event_source_mapping(UUID=mapping_id)["State"] in _MAPPING_SETTLED,
            f"event source mapping {mapping_id}",
        )

    @staticmethod
    def _attributes(context: ResourceContext, answer: dict[str, Any]) -> dict[str, Any]:
        arn = answer.get("EventSourceMappingArn") or (
            f"arn:aws:lambda:{context.region}:{context.account}:event-source-mapping:{answer['UUID']}"
        )
        return {"Id": answer["UUID"], "EventSourceMappingArn": arn}


class PermissionProvider(Provider):
    type_name = "AWS::Lambda::Permission"
    updatable = False

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        client = context.client("lambda")
        statement_id = context.physical_name(100)
        request = shaped(client, "AddPermission", properties)
        client.add_permission(StatementId=statement_id, **request)
        return Provisioned(statement_id, {})

    def delete(self, context: ResourceContext, physical_id: str, properties: dict[str, Any]) -> None:
        client = context.client("lambda")
        ignore_missing(
            lambda: client.remove_permission(FunctionName=properties["FunctionName"], StatementId=physical_id)
        )


class VersionProvider(Provider):
    type_name = "AWS::Lambda::Version"
    attributes = frozenset({"Version", "FunctionArn"})
    updatable = False

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        client = context.client("lambda")
        required(properties, "FunctionName")
        answer = client.publish_version(**shaped(client, "PublishVersion", properties))
        return Provisioned(answer["FunctionArn"], {"Version": answer["Version"], "FunctionArn": answer["FunctionArn"]})

    def delete(self, context: ResourceContext, physical_id: str, properties: dict[str, Any]) -> None:
        client = context.client("lambda")
        function_arn, _, version = physical_id.rpartition(":")
        try:
            client.delete_function(FunctionName=function_arn, Qualifier=version)
        except ClientError as error:
            # A version an alias still points to cannot go; CloudFormation deletes aliases first.
            if error_code(error) != "ResourceNotFoundException":
                raise


class AliasProvider(Provider):
    type_name = "AWS::Lambda::Alias"
    attributes = frozenset({"AliasArn"})
    replace_on = frozenset({"FunctionName", "Name"})

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        client = context.client("lambda")
        answer = client.create_alias(**shaped(client, "CreateAlias", properties))
        return Provisioned(answer["AliasArn"], {"AliasArn": answer["AliasArn"]})

    def update(
        self, context: ResourceContext, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        client = context.client("lambda")
        request = shaped(client, "UpdateAlias", new)
        if "RoutingConfig" in old and "RoutingConfig" not in new:
            request["RoutingConfig"] = {"AdditionalVersionWeights": {}}
        answer = client.update_alias(**request)
        return Provisioned(answer["AliasArn"], {"AliasArn": answer["AliasArn"]})

    def delete(self, context: ResourceContext, physical_id: str, properties: dict[str, Any]) -> None:
        client = context.client("lambda")
        ignore_missing(lambda: client.delete_alias(FunctionName=properties["FunctionName"], Name=properties["Name"]))


class LayerVersionProvider(Provider):
    type_name = "AWS::Lambda::LayerVersion"
    attributes = frozenset({"LayerVersionArn"})
    updatable = False

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        client = context.client("lambda")
        request = shaped(client, "PublishLayerVersion", properties)
        request.setdefault("LayerName", context.physical_name(64))
        answer = client.publish_layer_version(**request)
        return Provisioned(answer["LayerVersionArn"], {"LayerVersionArn": answer["LayerVersionArn"]})

    def delete(self, context: ResourceContext, physical_id: str, properties: dict[str, Any]) -> None:
        client = context.client("lambda")
        # arn:aws:lambda:<region>:<account>:layer:<name>:<version>
        layer_arn, _, version = physical_id.rpartition(":")
        name = layer_arn.rpartition(":")[2]
        ignore_missing(client.delete_layer_version, LayerName=name, VersionNumber=int(version))


class EventInvokeConfigProvider(Provider):
    type_name = "AWS::Lambda::EventInvokeConfig"
    replace_on = frozenset({"FunctionName", "Qualifier"})

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        client = context.client("lambda")
        required(properties, "Qualifier")
        client.put_function_event_invoke_config(**shaped(client, "PutFunctionEventInvokeConfig", properties))
        return Provisioned(f"{properties['FunctionName']}:{properties['Qualifier']}", {})

    def update(
        self, context: ResourceContext, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        client = context.client("lambda")
        client.put_function_event_invoke_config(**shaped(client, "PutFunctionEventInvokeConfig", new))
        return current

    def delete(self, context: ResourceContext, physical_id: str, properties: dict[str, Any]) -> None:
        client = context.client("lambda")
        ignore_missing(
            lambda: client.delete_function_event_invoke_config(
                FunctionName=properties["FunctionName"], Qualifier=properties["Qualifier"]
            )
        )


PROVIDERS = (
    FunctionProvider(),
    EventSourceMappingProvider(),
    PermissionProvider(),
    VersionProvider(),
    AliasProvider(),
    LayerVersionProvider(),
    EventInvokeConfigProvider(),
)
