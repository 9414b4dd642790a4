"""moto's S3, where the buckets of SAM's and the CDK's own stacks, and event notifications, need AWS's behaviour."""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import json
import time
import uuid
from typing import Any
from urllib.parse import quote_plus

from moto.core.utils import iso_8601_datetime_with_milliseconds
from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.s3 import notifications
from moto.s3.exceptions import S3ClientError
from moto.s3.models import FakeBucket
from moto.s3.responses import S3Response

from streamlab.aws_rules import S3_PRINCIPAL
from streamlab.emulator.awslambda.pushes import PUSH_ROUTER, Push, json_payload
from streamlab.emulator.moto_patches.patching import Patcher


def skip_bucket_policy_statements_with_conditions(patcher: Patcher) -> None:
    """A bucket policy statement with a Condition applies only when its condition holds.

    moto 5.2.5 evaluates bucket policies without their conditions, so the statement SAM's managed
    bucket and the CDK's bootstrap bucket both carry (Deny ``s3:*`` when ``aws:SecureTransport``
    is false) refuses every upload. AWS applies it only to plain-HTTP requests, and real clients
    talk HTTPS to AWS; the embedded endpoint stands in for that, so statements whose condition
    moto cannot evaluate are left out of its decision (GetBucketPolicy still returns them all).
    """

    def get_permission(self: FakeBucket, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        document = json.loads(self.policy)
        statements = document.get("Statement") or []
        if isinstance(statements, dict):
            statements = [statements]
        document["Statement"] = [statement for statement in statements if "Condition" not in statement]
        return IAMPolicy(json.dumps(document)).is_action_permitted(action, resource)

    patcher.replace(FakeBucket, "get_permission", get_permission)


def push_notifications_to_streamlab_lambda(patcher: Patcher) -> None:
    """S3 event notifications to functions invoke streamlab's Lambda service asynchronously, in AWS's shape.

    moto calls its own Lambda backend synchronously (Docker) inside PutObject and swallows every
    error, and builds records without userIdentity, requestParameters, responseElements,
    ownerIdentity, sequencer or versionId. AWS checks the function's policy (``s3.amazonaws.com``
    allowed, SourceArn the bucket) and invokes with InvocationType Event; the record is the one of
    LocalStack's AWS-validated TestS3NotificationsToLambda::test_create_object_put_via_dynamodb
    (2025-01-21): eventVersion "2.1", eventSource aws:s3, eventName without the ``s3:`` prefix,
    the key URL-encoded (``+`` for a space), eTag without quotes, ``versionId`` only in a
    versioned bucket, and no size/eTag for removals. Queue and topic notifications get the same
    record. S3 sends no s3:TestEvent to a function (that recording's table holds the one Put).
    """
    patcher.replace(notifications, "_get_s3_event", s3_event)
    patcher.replace(notifications, "_invoke_awslambda", _invoke_streamlab_lambda)


_sequencer = itertools.count(time.time_ns())


def s3_event(event_name: str, bucket: FakeBucket, key: Any, notification_id: str) -> dict[str, Any]:
    """``{"Records": [one record]}`` for ``event_name`` (``s3:ObjectCreated:Put``, ...) on ``key``."""
    name = event_name.removeprefix("s3:")
    owner = _principal(bucket.account_id)
    obj: dict[str, Any] = {"key": quote_plus(key.name, safe="/")}  # AWS keeps the slashes; moto encodes them
    if not name.startswith("ObjectRemoved"):
        obj.update(size=key.size, eTag=key.etag.replace('"', ""))
    if getattr(bucket, "is_versioned", False) and getattr(key, "version_id", None):
        obj["versionId"] = key.version_id
    obj["sequencer"] = f"{next(_sequencer):018X}"
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": bucket.region_name,
                "eventTime": iso_8601_datetime_with_milliseconds(),
                "eventName": name,
                "userIdentity": {"principalId": f"AWS:{owner}"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {
                    "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
                    "x-amz-id-2": base64.b64encode(uuid.uuid4().bytes * 2).decode("ascii"),
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": notification_id,
                    "bucket": {"name": bucket.name, "ownerIdentity": {"principalId": owner}, "arn": bucket.arn},
                    "object": obj,
                },
            }
        ]
    }


def _principal(account_id: str) -> str:
    """A stable principal id per account (AWS's are opaque upper-case ids)."""
    return "A" + hashlib.sha1(account_id.encode(), usedforsecurity=False).hexdigest()[:13].upper()


def _invoke_streamlab_lambda(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
    bucket_arn = event_body["Records"][0]["s3"]["bucket"]["arn"]
    PUSH_ROUTER.deliver(Push(fn_arn, json_payload(event_body), S3_PRINCIPAL, bucket_arn, account_id))


class UnableToValidateDestinations(S3ClientError):
    def __init__(self, function_arn: str) -> None:
        super().__init__("InvalidArgument", "Unable to validate the following destination configurations")
        self.function_arn = function_arn


def check_lambda_notification_destinations(patcher: Patcher) -> None:
    """PutBucketNotificationConfiguration checks that S3 may invoke each function it names.

    moto stores any function ARN. AWS answers InvalidArgument "Unable to validate the following
    destination configurations" ("Not authorized to invoke function [ARN]") when the function
    does not exist or its policy does not allow ``s3.amazonaws.com`` for the bucket, unless the
    request says SkipDestinationValidation (TestS3NotificationsToLambda::test_invalid_lambda_arn,
    validated 2025-01-21).
    """
    original = S3Response._notification_config_from_body

    @functools.wraps(original)
    def _notification_config_from_body(self: S3Response) -> dict[str, Any]:
        config: dict[str, Any] = original(self)
        if str(self.headers.get("x-amz-skip-destination-validation", "")).lower() == "true":
            return config
        bucket_arn = f"arn:aws:s3:::{self.bucket_name}"
        account = getattr(self, "current_account", None)
        for entry in config.get("CloudFunctionConfiguration") or []:
            function_arn = entry.get("CloudFunction", "")
            if not PUSH_ROUTER.permitted(Push(function_arn, b"", S3_PRINCIPAL, bucket_arn, account)):
                raise UnableToValidateDestinations(function_arn)
        return config

    patcher.replace(S3Response, "_notification_config_from_body", _notification_config_from_body)
