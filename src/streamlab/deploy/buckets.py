"""S3 buckets (for on-failure destinations and audit trails), with optional versioning."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from streamlab.deploy.report import Change, DeployError
from streamlab.deploy.target import Target, error_code
from streamlab.stack import Bucket


def apply_bucket(target: Target, bucket: Bucket) -> Change:
    s3 = target.client("s3")
    try:
        s3.head_bucket(Bucket=bucket.physical_name)
        created = False
    except ClientError as exc:
        code = error_code(exc)
        if code in ("403", "AccessDenied", "Forbidden"):
            raise DeployError(
                f"bucket {bucket.name} [{bucket.physical_name}] belongs to another account "
                "(bucket names are global): set stack.name_prefix"
            ) from exc
        if code not in ("404", "NoSuchBucket", "NotFound"):
            raise
        params: dict[str, Any] = {"Bucket": bucket.physical_name}
        if target.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": target.region}
        s3.create_bucket(**params)
        created = True

    details: list[str] = []
    if bucket.versioning is not None:
        status = s3.get_bucket_versioning(Bucket=bucket.physical_name).get("Status")
        if bucket.versioning and status != "Enabled":
            s3.put_bucket_versioning(Bucket=bucket.physical_name, VersioningConfiguration={"Status": "Enabled"})
            details.append("versioning")
        elif not bucket.versioning and status == "Enabled":
            # S3 cannot return a bucket to "never versioned"; Suspended is the closest state.
            s3.put_bucket_versioning(Bucket=bucket.physical_name, VersioningConfiguration={"Status": "Suspended"})
            details.append("versioning")
    if created:
        return Change("bucket", bucket.name, "created", physical_name=bucket.physical_name)
    return Change("bucket", bucket.name, "updated" if details else "unchanged", tuple(details), bucket.physical_name)
