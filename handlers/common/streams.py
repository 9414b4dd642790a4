"""Facts about a stream record that the Lambda event does not spell out."""

from __future__ import annotations

import re

_TABLE_IN_ARN = re.compile(r":table/(?P<table>[^/]+)/stream/")


def table_name(event_source_arn: str | None) -> str:
    """``arn:aws:dynamodb:us-east-1:123:table/Orders/stream/2026-...`` -> ``Orders``."""
    match = _TABLE_IN_ARN.search(event_source_arn or "")
    if match is None:
        raise ValueError(f"not a DynamoDB stream ARN: {event_source_arn!r}")
    return match.group("table")


def arn_for(resource_arn_or_name: str, service: str, invoked_function_arn: str) -> str:
    """An ARN from configuration that may give only a name (``order-notifications``).

    A stack can name its resources but only knows their ARNs after deploying; the function's own
    ARN carries the partition, region and account every resource of the stack shares.
    """
    if resource_arn_or_name.startswith("arn:"):
        return resource_arn_or_name
    _, partition, _, region, account = invoked_function_arn.split(":")[:5]
    return f"arn:{partition}:{service}:{region}:{account}:{resource_arn_or_name}"
