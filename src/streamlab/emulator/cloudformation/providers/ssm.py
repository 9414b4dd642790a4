"""AWS::SSM::Parameter (the CDK bootstrap stack keeps its version in one)."""

from __future__ import annotations

from typing import Any

from streamlab.emulator.cloudformation.providers.base import (
    Provider,
    Provisioned,
    ResourceContext,
    ignore_missing,
    required,
    tag_dict,
)


class ParameterProvider(Provider):
    type_name = "AWS::SSM::Parameter"
    attributes = frozenset({"Type", "Value"})
    replace_on = frozenset({"Name"})
    name_property = "Name"

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        name = properties.get("Name") or context.physical_name(128)
        self._put(context, name, properties, overwrite=False)
        tags = tag_dict(properties.get("Tags"))
        if tags:
            context.client("ssm").add_tags_to_resource(
                ResourceType="Parameter", ResourceId=name, Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
            )
        return Provisioned(name, {"Type": properties["Type"], "Value": str(properties["Value"])})

    def update(
        self, context: ResourceContext, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        self._put(context, current.physical_id, new, overwrite=True)
        return Provisioned(current.physical_id, {"Type": new["Type"], "Value": str(new["Value"])})

    def delete(self, context: ResourceContext, physical_id: str, properties: dict[str, Any]) -> None:
        client = context.client("ssm")
        ignore_missing(lambda: client.delete_parameter(Name=physical_id), "ParameterNotFound")

    @staticmethod
    def _put(context: ResourceContext, name: str, properties: dict[str, Any], *, overwrite: bool) -> None:
        request: dict[str, Any] = {
            "Name": name,
            "Type": required(properties, "Type"),
            "Value": str(required(properties, "Value")),
            "Overwrite": overwrite,
        }
        for key in ("Description", "AllowedPattern", "Tier", "DataType"):
            if properties.get(key):
                request[key] = properties[key]
        context.client("ssm").put_parameter(**request)


PROVIDERS = (ParameterProvider(),)
