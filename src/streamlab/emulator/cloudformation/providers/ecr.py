"""AWS::ECR::Repository (the CDK bootstrap stack's container asset repository)."""

from __future__ import annotations

from typing import Any

from streamlab.emulator.cloudformation.providers.base import (
    Provider,
    Provisioned,
    ResourceContext,
    as_bool,
    as_json_text,
    ignore_missing,
    shaped,
    tag_list,
)


class RepositoryProvider(Provider):
    type_name = "AWS::ECR::Repository"
    attributes = frozenset({"Arn", "RepositoryUri"})
    replace_on = frozenset({"RepositoryName", "EncryptionConfiguration"})
    name_property = "RepositoryName"

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        client = context.client("ecr")
        name = properties.get("RepositoryName") or context.physical_name(256, lowercase=True)
        request = shaped(
            client,
            "CreateRepository",
            properties,
            skip=("RepositoryName", "Tags", "LifecyclePolicy", "RepositoryPolicyText", "EmptyOnDelete"),
        )
        if properties.get("Tags"):
            request["tags"] = tag_list(properties["Tags"])
        repository = client.create_repository(repositoryName=name, **request)["repository"]
        self._policies(client, name, {}, properties)
        return Provisioned(name, {"Arn": repository["repositoryArn"], "RepositoryUri": repository["repositoryUri"]})

    def update(
        self, context: ResourceContext, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        client = context.client("ecr")
        name = current.physical_id
        if old.get("ImageTagMutability") != new.get("ImageTagMutability"):
            client.put_image_tag_mutability(
                repositoryName=name, imageTagMutability=new.get("ImageTagMutability", "MUTABLE")
            )
        if old.get("ImageScanningConfiguration") != new.get("ImageScanningConfiguration"):
            scan = as_bool((new.get("ImageScanningConfiguration") or {}).get("ScanOnPush", False))
            client.put_image_scanning_configuration(
                repositoryName=name, imageScanningConfiguration={"scanOnPush": scan}
            )
        self._policies(client, name, old, new)
        return current

    def delete(self, context: ResourceContext, physical_id: str, properties: dict[str, Any]) -> None:
        client = context.client("ecr")
        force = as_bool(properties.get("EmptyOnDelete", False))
        ignore_missing(lambda: client.delete_repository(repositoryName=physical_id, force=force))

    @staticmethod
    def _policies(client: Any, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        if old.get("LifecyclePolicy") != new.get("LifecyclePolicy") and new.get("LifecyclePolicy"):
            text = new["LifecyclePolicy"].get("LifecyclePolicyText")
            if text:
                client.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=as_json_text(text))
        if old.get("RepositoryPolicyText") != new.get("RepositoryPolicyText") and new.get("RepositoryPolicyText"):
            client.set_repository_policy(repositoryName=name, policyText=as_json_text(new["RepositoryPolicyText"]))


PROVIDERS = (RepositoryProvider(),)
