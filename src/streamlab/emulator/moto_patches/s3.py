"""moto's S3, where the buckets of SAM's and the CDK's own stacks need AWS's behaviour."""

from __future__ import annotations

import json
from typing import Any

from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.s3.models import FakeBucket

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
