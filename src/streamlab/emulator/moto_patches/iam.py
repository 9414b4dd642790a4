"""moto's IAM, where stacks from SAM and the CDK need AWS's behaviour."""

from __future__ import annotations

import moto.iam.models

from streamlab.emulator.moto_patches.patching import Patcher


def create_aws_managed_policies(patcher: Patcher) -> None:
    """Every account has AWS's managed policies.

    moto creates them only when its ``iam.load_aws_managed_policies`` option is on (off by
    default), so attaching ``arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole``, as
    every SAM and CDK function role does, fails with NoSuchEntity. On AWS they exist in every
    account, and the SAM transform lists them (ListPolicies, Scope AWS) to resolve policies by name.
    """
    patcher.replace(moto.iam.models, "load_iam_aws_managed_policies", lambda: True)
