"""AWS::IAM::Role, AWS::IAM::Policy and AWS::IAM::ManagedPolicy."""

from __future__ import annotations

from typing import Any

from streamlab.emulator.cloudformation.providers.base import (
    Provider,
    Provisioned,
    ResourceContext,
    as_int,
    as_json_text,
    ignore_missing,
    required,
    tag_list,
)


def policy_text(document: Any) -> str:
    """An IAM policy document as text. IAM reads one without ``Version`` as 2008-10-17 (SAM's policy
    templates have none); moto refuses it, so it is given the current version, which means the same
    for documents without policy variables."""
    if isinstance(document, dict) and "Version" not in document:
        document = {"Version": "2012-10-17", **document}
    return as_json_text(document)


def _inline_policies(value: Any) -> dict[str, str]:
    return {policy["PolicyName"]: policy_text(policy["PolicyDocument"]) for policy in value or []}


class RoleProvider(Provider):
    type_name = "AWS::IAM::Role"
    attributes = frozenset({"Arn", "RoleId"})
    replace_on = frozenset({"RoleName", "Path"})
    name_property = "RoleName"

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        client = context.client("iam")
        name = properties.get("RoleName") or context.physical_name(64)
        request: dict[str, Any] = {
            "RoleName": name,
            "AssumeRolePolicyDocument": policy_text(required(properties, "AssumeRolePolicyDocument")),
            "Path": properties.get("Path", "/"),
        }
        if properties.get("Description"):
            request["Description"] = properties["Description"]
        if properties.get("MaxSessionDuration"):
            request["MaxSessionDuration"] = as_int(properties["MaxSessionDuration"])
        if properties.get("PermissionsBoundary"):
            request["PermissionsBoundary"] = properties["PermissionsBoundary"]
        if properties.get("Tags"):
            request["Tags"] = tag_list(properties["Tags"])
        role = client.create_role(**request)["Role"]
        self._attach(client, name, [], properties.get("ManagedPolicyArns") or [])
        self._policies(client, name, {}, _inline_policies(properties.get("Policies")))
        return Provisioned(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})

    def update(
        self, context: ResourceContext, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        client = context.client("iam")
        name = current.physical_id
        if old.get("AssumeRolePolicyDocument") != new.get("AssumeRolePolicyDocument"):
            client.update_assume_role_policy(
                RoleName=name, PolicyDocument=policy_text(required(new, "AssumeRolePolicyDocument"))
            )
        if old.get("Description") != new.get("Description") or old.get("MaxSessionDuration") != new.get(
            "MaxSessionDuration"
        ):
            client.update_role(
                RoleName=name,
                Description=new.get("Description", ""),
                MaxSessionDuration=as_int(new.get("MaxSessionDuration", 3600)),
            )
        self._attach(client, name, old.get("ManagedPolicyArns") or [], new.get("ManagedPolicyArns") or [])
        self._policies(client, name, _inline_policies(old.get("Policies")), _inline_policies(new.get("Policies")))
        removed = sorted({tag["Key"] for tag in old.get("Tags") or []} - {tag["Key"] for tag in new.get("Tags") or []})
        if removed:
            client.untag_role(RoleName=name, TagKeys=removed)
        if new.get("Tags") and new.get("Tags") != old.get("Tags"):
            client.tag_role(RoleName=name, Tags=tag_list(new["Tags"]))
        return current

    def delete(self, context: ResourceContext, physical_id: str, properties: dict[str, Any]) -> None:
        client = context.client("iam")

        def remove() -> None:
            for policy in client.list_attached_role_policies(RoleName=physical_id)["AttachedPolicies"]:
                client.detach_role_policy(RoleName=physical_id, PolicyArn=policy["PolicyArn"])
            for policy_name in client.list_role_policies(RoleName=physical_id)["PolicyNames"]:
                client.delete_role_policy(RoleName=physical_id, PolicyName=policy_name)
            client.delete_role(RoleName=physical_id)

        ignore_missing(remove, "NoSuchEntity")

    @staticmethod
    def _attach(client: Any, name: str, old: list[str], new: list[str]) -> None:
        for arn in old:
            if arn not in new:
                ignore_missing(client.detach_role_policy, "NoSuchEntity", RoleName=name, PolicyArn=arn)
        for arn in new:
            if arn not in old:
                client.attach_role_policy(RoleName=name, PolicyArn=arn)

    @staticmethod
    def _policies(client: Any, name: str, old: dict[str, str], new: dict[str, str]) -> None:
        for policy_name in old:
            if policy_name not in new:
                ignore_missing(client.delete_role_policy, RoleName=name, PolicyName=policy_name)
        for policy_name, document in new.items():
            if old.get(policy_name) != document:
                client.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=document)


_PRINCIPALS = (("Roles", "role", "RoleName"), ("Users", "user", "UserName"), ("Groups", "group", "GroupName"))


class PolicyProvider(Provider):
    """An inline policy put on each role, user and group it names."""

    type_name = "AWS::IAM::Policy"
    attributes = frozenset({"Id"})

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        self._put(context, properties, {})
        physical_id = context.physical_name(128)
        return Provisioned(physical_id, {"Id": physical_id})

    def update(
        self, context: ResourceContext, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        self._put(context, new, old)
        return current

    def delete(self, context: ResourceContext, physical_id: str, properties: dict[str, Any]) -> None:
        self._remove(context, properties, {})

    def _put(self, context: ResourceContext, new: dict[str, Any], old: dict[str, Any]) -> None:
        client = context.client("iam")
        if old:
            self._remove(context, old, new)
        name = required(new, "PolicyName")
        document = policy_text(required(new, "PolicyDocument"))
        for key, kind, argument in _PRINCIPALS:
            for principal in new.get(key) or []:
                getattr(client, f"put_{kind}_policy")(**{argument: principal}, PolicyName=name, PolicyDocument=document)

    @staticmethod
    def _remove(context: ResourceContext, old: dict[str, Any], keep: dict[str, Any]) -> None:
        client = context.client("iam")
        for key, kind, argument in _PRINCIPALS:
            kept = set(keep.get(key) or []) if keep.get("PolicyName") == old.get("PolicyName") else set()
            for principal in old.get(key) or []:
                if principal not in kept:
                    delete = getattr(client, f"delete_{kind}_policy")
                    ignore_missing(delete, "NoSuchEntity", **{argument: principal}, PolicyName=old["PolicyName"])


class ManagedPolicyProvider(Provider):
    type_name = "AWS::IAM::ManagedPolicy"
    attributes = frozenset({"PolicyArn", "PolicyId", "DefaultVersionId"})
    replace_on = frozenset({"ManagedPolicyName", "Path"})
    name_property = "ManagedPolicyName"

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        client = context.client("iam")
        request: dict[str, Any] = {
            "PolicyName": properties.get("ManagedPolicyName") or context.physical_name(128),
            "PolicyDocument": policy_text(required(properties, "PolicyDocument")),
            "Path": properties.get("Path", "/"),
        }
        if properties.get("Description"):
            request["Description"] = properties["Description"]
        policy = client.create_policy(**request)["Policy"]
        self._attach(client, policy["Arn"], {}, properties)
        return Provisioned(
            policy["Arn"],
            {
                "PolicyArn": policy["Arn"],
                "PolicyId": policy["PolicyId"],
                "DefaultVersionId": policy["DefaultVersionId"],
            },
        )

    def update(
        self, context: ResourceContext, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        client = context.client("iam")
        arn = current.physical_id
        if old.get("PolicyDocument") != new.get("PolicyDocument"):
            for version in client.list_policy_versions(PolicyArn=arn)["Versions"]:
                if not version["IsDefaultVersion"]:
                    client.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
            version = client.create_policy_version(
                PolicyArn=arn, PolicyDocument=policy_text(new["PolicyDocument"]), SetAsDefault=True
            )["PolicyVersion"]
            current.attributes["DefaultVersionId"] = version["VersionId"]
        self._attach(client, arn, old, new)
        return current

    def delete(self, context: ResourceContext, physical_id: str, properties: dict[str, Any]) -> None:
        client = context.client("iam")

        def remove() -> None:
            self._attach(client, physical_id, properties, {})
            for version in client.list_policy_versions(PolicyArn=physical_id)["Versions"]:
                if not version["IsDefaultVersion"]:
                    client.delete_policy_version(PolicyArn=physical_id, VersionId=version["VersionId"])
            client.delete_policy(PolicyArn=physical_id)

        ignore_missing(remove, "NoSuchEntity")

    @staticmethod
    def _attach(client: Any, arn: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        for key, kind, argument in _PRINCIPALS:
            before, after = set(old.get(key) or []), set(new.get(key) or [])
            for principal in before - after:
                detach = getattr(client, f"detach_{kind}_policy")
                ignore_missing(detach, "NoSuchEntity", **{argument: principal}, PolicyArn=arn)
            for principal in after - before:
                getattr(client, f"attach_{kind}_policy")(**{argument: principal}, PolicyArn=arn)


PROVIDERS = (RoleProvider(), PolicyProvider(), ManagedPolicyProvider())
