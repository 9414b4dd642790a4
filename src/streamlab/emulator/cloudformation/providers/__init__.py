"""One provider per resource type; :data:`REGISTRY` maps each supported type to its provider."""

from __future__ import annotations

from streamlab.emulator.cloudformation.providers import (
    awslambda,
    cdk,
    dynamodb,
    ecr,
    iam,
    kinesis,
    messaging,
    observability,
    s3,
    ssm,
)
from streamlab.emulator.cloudformation.providers.base import Provider, Provisioned, ResourceContext

REGISTRY: dict[str, Provider] = {
    provider.type_name: provider
    for module in (dynamodb, awslambda, kinesis, iam, messaging, s3, observability, ssm, ecr, cdk)
    for provider in module.PROVIDERS
}

__all__ = ["REGISTRY", "Provider", "Provisioned", "ResourceContext"]
