"""SNS notifications delivered to subscriptions, signed and addressed as AWS's are.

The reference is the on-failure notification of LocalStack's AWS-validated
``test_dynamodb_event_source_mapping_with_sns_on_failure_destination_config`` (2025-11-25):
``"SignatureVersion": "1"`` and an UnsubscribeURL ending in
``?Action=Unsubscribe&SubscriptionArn=<the subscription's ARN>``. The string a notification's
signature covers is AWS's (sns-verify-signature-of-message.html): Message, MessageId, Subject
(when there is one), Timestamp, TopicArn and Type, each as its name, a newline, its value, a
newline.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from moto.sns.models import Subscription
from moto.sqs.models import sqs_backends

from streamlab.aws_rules import DEAD_LETTER_TARGET_ARN, SNS_PRINCIPAL, is_region_name
from streamlab.emulator.awslambda.pushes import PUSH_ROUTER, Push, PushVerdict, json_payload
from streamlab.emulator.moto_patches.patching import Patcher

log = logging.getLogger(__name__)

_SIGNED_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")


def string_to_sign(notification: dict[str, Any]) -> bytes:
    """What a Notification's signature covers, in AWS's order (Subject only when present)."""
    return "".join(
        f"{name}\n{notification[name]}\n" for name in _SIGNED_FIELDS if notification.get(name) is not None
    ).encode("utf-8")


def sign_and_address_notifications_like_aws(patcher: Patcher) -> None:
    """Notifications say SignatureVersion "1" (SHA1, the topic default) and unsubscribe their own subscription.

    moto signs every notification with SignatureVersion "2" whatever the topic says, over a string
    that leaves the Subject out, and its UnsubscribeURL names a fixed subscription id in
    us-east-1. AWS signs with SHA1 (version 1) unless the topic's SignatureVersion attribute is
    "2" (then SHA256), and the UnsubscribeURL names the subscription the message was sent to, in
    the topic's region.
    """
    original = Subscription.get_post_data

    @functools.wraps(original)
    def get_post_data(self: Subscription, *args: Any, **kwargs: Any) -> dict[str, Any]:
        notification: dict[str, Any] = original(self, *args, **kwargs)
        version = str(getattr(self.topic, "SignatureVersion", "1") or "1")
        algorithm = hashes.SHA256() if version == "2" else hashes.SHA1()  # SNS signature version 1 is SHA1
        signature = self.private_key().sign(string_to_sign(notification), padding.PKCS1v15(), algorithm)
        region = self.topic.sns_backend.region_name
        notification.update(
            SignatureVersion="2" if version == "2" else "1",
            Signature=base64.b64encode(signature).decode("ascii"),
            UnsubscribeURL=f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={self.arn}",
        )
        return notification

    patcher.replace(Subscription, "get_post_data", get_post_data)


def push_lambda_subscriptions_to_streamlab(patcher: Patcher) -> None:
    """A ``lambda`` subscription invokes streamlab's Lambda service asynchronously with AWS's SNS event.

    moto hands the message to its own Lambda backend (which runs functions in Docker,
    synchronously, inside Publish) with an event of its own. AWS checks the function's resource
    policy (``sns.amazonaws.com`` allowed by AddPermission), then invokes it with InvocationType
    Event, so the async retries, destinations and DeadLetterConfig apply. The event is the one of
    LocalStack's AWS-validated TestSNSSubscriptionLambda tests (test_python_lambda_subscribe_sns_topic,
    2025-10-06; test_publish_lambda_verify_signature, 2025-11-25): ``Records`` of one
    ``{"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn", "Sns": {...}}``,
    ``Subject`` null when none was given, ``MessageAttributes`` as ``{name: {Type, Value}}``,
    ``SigningCertUrl`` / ``UnsubscribeUrl`` spelled so, and SignatureVersion "1" whatever the
    topic's setting. A filter policy is evaluated first (moto's matcher); raw delivery does not
    apply to Lambda.

    When the policy does not allow SNS (or the function is gone), AWS's delivery fails: SNS
    retries it for up to 23 days (its delivery policy for Lambda endpoints), then moves the
    message to the subscription's RedrivePolicy dead-letter queue, or drops it. Here the
    message goes to that queue at once (no 23-day wait), and is dropped with a warning otherwise.
    """
    original = Subscription.publish

    @functools.wraps(original)
    def publish(
        self: Subscription,
        message: str,
        message_id: str,
        subject: str | None = None,
        message_attributes: dict[str, Any] | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        message_structure: str | None = None,
    ) -> None:
        if self.protocol != "lambda":
            original(
                self, message, message_id, subject, message_attributes, group_id, deduplication_id, message_structure
            )
            return
        matcher = self._filter_policy_matcher
        if matcher is not None and not matcher.matches(message_attributes, message):
            return
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        event = lambda_event(self, message, message_id, subject, message_attributes or {})
        push = Push(self.endpoint, json_payload(event), SNS_PRINCIPAL, self.topic.arn, self.topic.account_id)
        if PUSH_ROUTER.deliver(push) is not PushVerdict.QUEUED:
            _park(self, message, message_id, subject, message_attributes)

    patcher.replace(Subscription, "publish", publish)


def lambda_event(
    subscription: Subscription, message: str, message_id: str, subject: str | None, attributes: dict[str, Any]
) -> dict[str, Any]:
    """The event a function subscribed to a topic receives (signed with SHA1, SignatureVersion "1")."""
    post = subscription.get_post_data(message, message_id, subject)
    if post.get("SignatureVersion") != "1":  # Lambda events are signed with SHA1 even on a version-2 topic
        signed = subscription.private_key().sign(string_to_sign(post), padding.PKCS1v15(), hashes.SHA1())
        post.update(SignatureVersion="1", Signature=base64.b64encode(signed).decode("ascii"))
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription.arn,
                "Sns": {
                    "Type": post["Type"],
                    "MessageId": post["MessageId"],
                    "TopicArn": post["TopicArn"],
                    "Subject": post.get("Subject"),
                    "Message": post["Message"],
                    "Timestamp": post["Timestamp"],
                    "SignatureVersion": post["SignatureVersion"],
                    "Signature": post["Signature"],
                    "SigningCertUrl": post["SigningCertURL"],
                    "UnsubscribeUrl": post["UnsubscribeURL"],
                    "MessageAttributes": {
                        name: {"Type": value["Type"], "Value": value["Value"]} for name, value in attributes.items()
                    },
                },
            }
        ]
    }


def _park(
    subscription: Subscription,
    message: str,
    message_id: str,
    subject: str | None,
    attributes: dict[str, Any] | None,
) -> None:
    """The notification to the subscription's RedrivePolicy queue (an SQS queue of moto's), if it has one."""
    policy = subscription.attributes.get("RedrivePolicy")
    try:
        target = json.loads(policy)["deadLetterTargetArn"] if policy else None
    except (ValueError, KeyError, TypeError):
        target = None
    if not isinstance(target, str) or not DEAD_LETTER_TARGET_ARN.match(target) or target.split(":")[2] != "sqs":
        log.warning("SNS message %s for %s dropped: no dead-letter queue", message_id, subscription.endpoint)
        return
    _, _, _, region, account, queue_name = target.split(":")
    if not is_region_name(region):  # moto's backends make one for any key
        log.warning("SNS message %s for %s dropped: %s names no region", message_id, subscription.endpoint, target)
        return
    notification = subscription.get_post_data(message, message_id, subject, message_attributes=attributes)
    try:
        sqs_backends[account][region].send_message(queue_name, json.dumps(notification))
    except Exception:  # a queue that does not exist: AWS drops the message too
        log.exception("SNS message %s for %s dropped: could not reach %s", message_id, subscription.endpoint, target)
