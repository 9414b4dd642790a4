"""SNS topics and their SQS subscriptions (raw delivery, optional filter policy).

CreateTopic is idempotent and so cannot tell "created" from "already there"; the topic's
attributes are read first. Subscriptions are found by (topic, queue ARN) and reported as their
own resources, ``topic->queue``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from streamlab.deploy.report import Change
from streamlab.deploy.target import Target, error_code
from streamlab.stack import Subscription, Topic


def topic_arn(target: Target, topic: Topic) -> str:
    return target.arn("sns", topic.physical_name)


def apply_topic(target: Target, topic: Topic) -> tuple[Change, str]:
    """Create ``topic`` if missing; returns the change and its ARN."""
    sns = target.client("sns")
    arn = topic_arn(target, topic)
    try:
        sns.get_topic_attributes(TopicArn=arn)
    except ClientError as exc:
        if error_code(exc) not in ("NotFound", "NotFoundException"):
            raise
        arn = sns.create_topic(Name=topic.physical_name)["TopicArn"]
        return Change("topic", topic.name, "created", physical_name=topic.physical_name), arn
    return Change("topic", topic.name, "unchanged", physical_name=topic.physical_name), arn


def desired_subscription_attributes(subscription: Subscription) -> dict[str, str]:
    attributes = {"RawMessageDelivery": "true" if subscription.raw_message_delivery else "false"}
    if subscription.filter_policy is not None:
        attributes["FilterPolicy"] = json.dumps(subscription.filter_policy, sort_keys=True)
        attributes["FilterPolicyScope"] = subscription.filter_policy_scope or "MessageAttributes"
    return attributes


def apply_subscriptions(target: Target, topic: Topic, arn: str, queue_arns: Mapping[str, str]) -> list[Change]:
    """Subscribe each declared queue to the topic, or bring an existing subscription's attributes in line."""
    sns = target.client("sns")
    existing: dict[str, str] = {}
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=arn):
        for sub in page.get("Subscriptions", []):
            if sub.get("Protocol") == "sqs" and sub.get("SubscriptionArn", "").startswith("arn:"):
                existing[sub["Endpoint"]] = sub["SubscriptionArn"]
    changes: list[Change] = []
    for subscription in topic.subscriptions:
        name = f"{topic.name}->{subscription.queue}"
        endpoint = queue_arns[subscription.queue]
        desired = desired_subscription_attributes(subscription)
        if endpoint not in existing:
            sns.subscribe(
                TopicArn=arn, Protocol="sqs", Endpoint=endpoint, Attributes=desired, ReturnSubscriptionArn=True
            )
            changes.append(Change("subscription", name, "created"))
            continue
        current = sns.get_subscription_attributes(SubscriptionArn=existing[endpoint]).get("Attributes", {})
        updated: list[str] = []
        for key, value in _with_removals(desired, current).items():
            if not _same(key, current.get(key), value):
                sns.set_subscription_attributes(
                    SubscriptionArn=existing[endpoint], AttributeName=key, AttributeValue=value
                )
                updated.append(_snake(key))
        changes.append(Change("subscription", name, "updated" if updated else "unchanged", tuple(updated)))
    return changes


def _with_removals(desired: dict[str, str], current: dict[str, Any]) -> dict[str, str]:
    """A filter policy that is no longer declared is removed (SNS takes ``{}`` for "none")."""
    if "FilterPolicy" not in desired and current.get("FilterPolicy") not in (None, "", "{}"):
        return {**desired, "FilterPolicy": "{}"}
    return desired


def _same(key: str, actual: Any, wanted: str) -> bool:
    if key == "FilterPolicy":
        try:
            return bool(json.loads(actual or "{}") == json.loads(wanted))
        except (TypeError, ValueError):
            return False
    if key == "RawMessageDelivery":
        return str(actual or "false").lower() == wanted
    if key == "FilterPolicyScope":
        return bool((actual or "MessageAttributes") == wanted)
    return bool(actual == wanted)


def _snake(key: str) -> str:
    return {
        "RawMessageDelivery": "raw_message_delivery",
        "FilterPolicy": "filter_policy",
        "FilterPolicyScope": "filter_policy_scope",
    }.get(key, key)
