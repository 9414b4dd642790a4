"""AWS::S3::Bucket and AWS::S3::BucketPolicy."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from streamlab.emulator.cloudformation.exceptions import ResourceFailure
from streamlab.emulator.cloudformation.providers.base import (
    Provider,
    Provisioned,
    ResourceContext,
    as_int,
    as_json_text,
    error_code,
    ignore_missing,
    required,
    tag_list,
)


def _configure(client: Any, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
    """Apply the bucket's sub-configurations that changed (each is one S3 call)."""
    if old.get("VersioningConfiguration") != new.get("VersioningConfiguration") and new.get("VersioningConfiguration"):
        client.put_bucket_versioning(
            Bucket=name, VersioningConfiguration={"Status": new["VersioningConfiguration"]["Status"]}
        )
    if old.get("BucketEncryption") != new.get("BucketEncryption") and new.get("BucketEncryption"):
        rules = [_encryption_rule(rule) for rule in new["BucketEncryption"]["ServerSideEncryptionConfiguration"]]
        client.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    block = new.get("PublicAccessBlockConfiguration")
    if old.get("PublicAccessBlockConfiguration") != block and block:
        client.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={key: str(value).lower() == "true" for key, value in block.items()},
        )
    if old.get("LifecycleConfiguration") != new.get("LifecycleConfiguration"):
        if new.get("LifecycleConfiguration"):
            rules = [_lifecycle_rule(rule) for rule in new["LifecycleConfiguration"]["Rules"]]
            client.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
        else:
            client.delete_bucket_lifecycle(Bucket=name)
    if old.get("NotificationConfiguration") != new.get("NotificationConfiguration"):
        client.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration=_notifications(new.get("NotificationConfiguration") or {})
        )
    if old.get("Tags") != new.get("Tags"):
        if new.get("Tags"):
            client.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_list(new["Tags"])})
        else:
            client.delete_bucket_tagging(Bucket=name)


#: CloudFormation's notification lists -> (S3's list, S3's target key, CloudFormation's target key).
_NOTIFICATIONS = {
    "LambdaConfigurations": ("LambdaFunctionConfigurations", "LambdaFunctionArn", "Function"),
    "QueueConfigurations": ("QueueConfigurations", "QueueArn", "Queue"),
    "TopicConfigurations": ("TopicConfigurations", "TopicArn", "Topic"),
}


def _notifications(configuration: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's NotificationConfiguration in S3's shape (one Event each, S3Key filter rules)."""
    answer: dict[str, Any] = {}
    for key, (s3_key, target_key, cfn_target) in _NOTIFICATIONS.items():
        for item in configuration.get(key) or []:
            entry: dict[str, Any] = {target_key: item[cfn_target], "Events": [item["Event"]]}
            rules = ((item.get("Filter") or {}).get("S3Key") or {}).get("Rules")
            if rules:
                entry["Filter"] = {"Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in rules]}}
            answer.setdefault(s3_key, []).append(entry)
    return answer


def _encryption_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's ``ServerSideEncryptionByDefault`` is S3's ``ApplyServerSideEncryptionByDefault``."""
    answer: dict[str, Any] = {}
    if "ServerSideEncryptionByDefault" in rule:
        answer["ApplyServerSideEncryptionByDefault"] = rule["ServerSideEncryptionByDefault"]
    if "BucketKeyEnabled" in rule:
        answer["BucketKeyEnabled"] = str(rule["BucketKeyEnabled"]).lower() == "true"
    return answer


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's rule shape (Status, ExpirationInDays, NoncurrentVersionExpiration, …) as S3's."""
    answer: dict[str, Any] = {"Status": rule.get("Status", "Enabled"), "Filter": {"Prefix": rule.get("Prefix", "")}}
    if rule.get("Id"):
        answer["ID"] = rule["Id"]
    if "ExpirationInDays" in rule:
        answer["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    noncurrent = rule.get("NoncurrentVersionExpiration")
    if noncurrent or "NoncurrentVersionExpirationInDays" in rule:
        days = (noncurrent or {}).get("NoncurrentDays", rule.get("NoncurrentVersionExpirationInDays"))
        answer["NoncurrentVersionExpiration"] = {"NoncurrentDays": as_int(days)}
    if "AbortIncompleteMultipartUpload" in rule:
        days = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
        answer["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(days)}
    return answer


class BucketProvider(Provider):
    type_name = "AWS::S3::Bucket"
    attributes = frozenset({"Arn", "DomainName", "RegionalDomainName", "DualStackDomainName", "WebsiteURL"})
    replace_on = frozenset({"BucketName"})
    name_property = "BucketName"

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        client = context.client("s3")
        name = properties.get("BucketName") or context.physical_name(63, lowercase=True)
        request: dict[str, Any] = {"Bucket": name}
        if context.region != "us-east-1":
            request["CreateBucketConfiguration"] = {"LocationConstraint": context.region}
        try:
            client.create_bucket(**request)
        except ClientError as error:
            if error_code(error) in ("BucketAlreadyExists", "BucketAlreadyOwnedByYou"):
                raise ResourceFailure(f"{name} already exists") from None
            raise
        try:
            _configure(client, name, {}, properties)
        except Exception:
            ignore_missing(lambda: client.delete_bucket(Bucket=name))
            raise
        return Provisioned(name, self._attributes(context, name))

    def update(
        self, context: ResourceContext, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        _configure(context.client("s3"), current.physical_id, old, new)
        return current

    def delete(self, context: ResourceContext, physical_id: str, properties: dict[str, Any]) -> None:
        client = context.client("s3")
        try:
            client.delete_bucket(Bucket=physical_id)
        except ClientError as error:
            if error_code(error) == "NoSuchBucket":
                return
            if error_code(error) == "BucketNotEmpty":
                raise ResourceFailure(
                    "The bucket you tried to delete is not empty (Service: S3, Status Code: 409)"
                ) from None
            raise

    @staticmethod
    def _attributes(context: ResourceContext, name: str) -> dict[str, Any]:
        return {
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{context.region}.amazonaws.com",
            "DualStackDomainName": f"{name}.s3.dualstack.{context.region}.amazonaws.com",
            "WebsiteURL": f"http://{name}.s3-website-{context.region}.amazonaws.com",
        }


class BucketPolicyProvider(Provider):
    type_name = "AWS::S3::BucketPolicy"
    replace_on = frozenset({"Bucket"})

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        bucket = required(properties, "Bucket")
        context.client("s3").put_bucket_policy(
            Bucket=bucket, Policy=as_json_text(required(properties, "PolicyDocument"))
        )
        return Provisioned(bucket, {})

    def update(
        self, context: ResourceContext, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        self.create(context, new)
        return current

    def delete(self, context: ResourceContext, physical_id: str, properties: dict[str, Any]) -> None:
        client = context.client("s3")
        ignore_missing(lambda: client.delete_bucket_policy(Bucket=physical_id))


PROVIDERS = (BucketProvider(), BucketPolicyProvider())
