"""The few ARN fields the engine reads (region, account, resource), and the endpoint URL."""

from __future__ import annotations

from collections.abc import Callable

from streamlab.aws_rules import ACCOUNT_ID, DEFAULT_REGION

#: An endpoint URL, or a callable giving it once known (the embedded endpoint learns its port at start).
EndpointURL = str | Callable[[], str] | None


def resolve_endpoint(endpoint_url: EndpointURL) -> str | None:
    return endpoint_url() if callable(endpoint_url) else endpoint_url


def arn_part(arn: str, index: int, default: str = "") -> str:
    parts = arn.split(":", 5)
    return parts[index] if len(parts) > index and parts[index] else default


def arn_service(arn: str) -> str:
    return arn_part(arn, 2)


def arn_region(arn: str, default: str = DEFAULT_REGION) -> str:
    return arn_part(arn, 3, default)


def arn_account(arn: str, default: str = ACCOUNT_ID) -> str:
    return arn_part(arn, 4, default)


def arn_resource(arn: str) -> str:
    """What follows the account: a queue or topic name, a bucket name (``arn:aws:s3:::bucket``)."""
    return arn_part(arn, 5)
