"""AWS::CDK::Metadata and AWS::CloudFormation::WaitConditionHandle: records with nothing to provision."""

from __future__ import annotations

from typing import Any

from streamlab.emulator.cloudformation.providers.base import Provider, Provisioned, ResourceContext


class RecordOnlyProvider(Provider):
    """CloudFormation keeps these as resources of the stack; nothing exists outside it."""

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        return Provisioned(context.physical_name(128), {})

    def update(
        self, context: ResourceContext, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        return current

    def delete(self, context: ResourceContext, physical_id: str, properties: dict[str, Any]) -> None:
        """Nothing outside the stack to remove."""


class CdkMetadataProvider(RecordOnlyProvider):
    type_name = "AWS::CDK::Metadata"


class WaitConditionHandleProvider(RecordOnlyProvider):
    type_name = "AWS::CloudFormation::WaitConditionHandle"


PROVIDERS = (CdkMetadataProvider(), WaitConditionHandleProvider())
