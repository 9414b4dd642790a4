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
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from moto.sns.models import Subscription

from streamlab.emulator.moto_patches.patching import Patcher

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
