"""AWS::SQS::Queue / QueuePolicy and AWS::SNS::Topic / Subscription / TopicPolicy."""

from __future__ import annotations

from typing import Any

from streamlab.emulator.cloudformation.providers.base import (
    Provider,
    Provisioned,
    ResourceContext,
    as_bool,
    as_json_text,
    attribute_texts,
    ignore_missing,
    required,
    tag_dict,
    tag_list,
)

#: Queue properties that are SetQueueAttributes attributes of the same name.
_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "RedrivePolicy",
    "RedriveAllowPolicy",
)


def _queue_attributes(properties: dict[str, Any]) -> dict[str, str]:
    return attribute_texts(properties, _QUEUE_ATTRIBUTES)


class QueueProvider(Provider):
    type_name = "AWS::SQS::Queue"
    attributes = frozenset({"Arn", "QueueName", "QueueUrl"})
    replace_on = frozenset({"QueueName", "FifoQueue"})
    name_property = "QueueName"

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        client = context.client("sqs")
        fifo = as_bool(properties.get("FifoQueue", False))
        name = properties.get("QueueName") or (context.physical_name(75 if fifo else 80) + (".fifo" if fifo else ""))
        attributes = _queue_attributes(properties)
        if fifo:
            attributes["FifoQueue"] = "true"
        request: dict[str, Any] = {"QueueName": name, "Attributes": attributes}
        if properties.get("Tags"):
            request["tags"] = tag_dict(properties["Tags"])
        url = client.create_queue(**request)["QueueUrl"]
        return self._provisioned(client, url)

    def update(
        self, context: ResourceContext, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        client = context.client("sqs")
        attributes = _queue_attributes(new)
        for key in _queue_attributes(old):
            if key not in attributes and key in ("RedrivePolicy", "RedriveAllowPolicy", "KmsMasterKeyId"):
                attributes[key] = ""
        if attributes:
            client.set_queue_attributes(QueueUrl=current.physical_id, Attributes=attributes)
        old_tags, new_tags = tag_dict(old.get("Tags")), tag_dict(new.get("Tags"))
        if set(old_tags) - set(new_tags):
            client.untag_queue(QueueUrl=current.physical_id, TagKeys=sorted(set(old_tags) - set(new_tags)))
        if new_tags and new_tags != old_tags:
            client.tag_queue(QueueUrl=current.physical_id, Tags=new_tags)
        return current

    def delete(self, context: ResourceContext, physical_id: str, properties: dict[str, Any]) -> None:
        client = context.client("sqs")
        ignore_missing(lambda: client.delete_queue(QueueUrl=physical_id), "AWS.SimpleQueueService.NonExistentQueue")

    @staticmethod
    def _provisioned(client: Any, url: str) -> Provisioned:
        arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return Provisioned(url, {"Arn": arn, "QueueName": arn.rsplit(":", 1)[1], "QueueUrl": url})


class QueuePolicyProvider(Provider):
    type_name = "AWS::SQS::QueuePolicy"
    attributes = frozenset({"Id"})

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        client = context.client("sqs")
        document = as_json_text(required(properties, "PolicyDocument"))
        for url in required(properties, "Queues"):
            client.set_queue_attributes(QueueUrl=url, Attributes={"Policy": document})
        physical_id = context.physical_name(128)
        return Provisioned(physical_id, {"Id": physical_id})

    def update(
        self, context: ResourceContext, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        self.delete(context, current.physical_id, {"Queues": [q for q in old["Queues"] if q not in new["Queues"]]})
        self.create(context, new)
        return current

    def delete(self, context: ResourceContext, physical_id: str, properties: dict[str, Any]) -> None:
        client = context.client("sqs")
        for url in properties.get("Queues") or []:
            ignore_missing(
                client.set_queue_attributes,
                "AWS.SimpleQueueService.NonExistentQueue",
                QueueUrl=url,
                Attributes={"Policy": ""},
            )


_TOPIC_ATTRIBUTES = ("DisplayName", "KmsMasterKeyId", "SignatureVersion", "TracingConfig", "ContentBasedDeduplication")


class TopicProvider(Provider):
    type_name = "AWS::SNS::Topic"
    attributes = frozenset({"TopicArn", "TopicName"})
    replace_on = frozenset({"TopicName", "FifoTopic"})
    name_property = "TopicName"

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        client = context.client("sns")
        fifo = as_bool(properties.get("FifoTopic", False))
        name = properties.get("TopicName") or (context.physical_name(251) + (".fifo" if fifo else ""))
        attributes = {key: str(properties[key]) for key in _TOPIC_ATTRIBUTES if key in properties}
        if fifo:
            attributes["FifoTopic"] = "true"
        request: dict[str, Any] = {"Name": name, "Attributes": attributes}
        if properties.get("Tags"):
            request["Tags"] = tag_list(properties["Tags"])
        arn = client.create_topic(**request)["TopicArn"]
        for subscription in properties.get("Subscription") or []:
            client.subscribe(TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"])
        return Provisioned(arn, {"TopicArn": arn, "TopicName": name})

    def update(
        self, context: ResourceContext, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        client = context.client("sns")
        for key in _TOPIC_ATTRIBUTES:
            if old.get(key) != new.get(key):
                client.set_topic_attributes(
                    TopicArn=current.physical_id, AttributeName=key, AttributeValue=str(new.get(key, ""))
                )
        if old.get("Tags") != new.get("Tags") and new.get("Tags"):
            client.tag_resource(ResourceArn=current.physical_id, Tags=tag_list(new["Tags"]))
        return current

    def delete(self, context: ResourceContext, physical_id: str, properties: dict[str, Any]) -> None:
        client = context.client("sns")
        ignore_missing(lambda: client.delete_topic(TopicArn=physical_id))


_SUBSCRIPTION_ATTRIBUTES = (
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "SubscriptionRoleArn",
)


def _subscription_attributes(properties: dict[str, Any]) -> dict[str, str]:
    return attribute_texts(properties, _SUBSCRIPTION_ATTRIBUTES)


class SubscriptionProvider(Provider):
    type_name = "AWS::SNS::Subscription"
    attributes = frozenset({"Arn"})
    replace_on = frozenset({"TopicArn", "Protocol", "Endpoint"})

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        client = context.client("sns")
        arn = client.subscribe(
            TopicArn=required(properties, "TopicArn"),
            Protocol=required(properties, "Protocol"),
            Endpoint=properties.get("Endpoint", ""),
            Attributes=_subscription_attributes(properties),
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return Provisioned(arn, {"Arn": arn})

    def update(
        self, context: ResourceContext, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        client = context.client("sns")
        for key, value in _subscription_attributes(new).items():
            if _subscription_attributes(old).get(key) != value:
                client.set_subscription_attributes(
                    SubscriptionArn=current.physical_id, AttributeName=key, AttributeValue=value
                )
        return current

    def delete(self, context: ResourceContext, physical_id: str, properties: dict[str, Any]) -> None:
        client = context.client("sns")
        ignore_missing(lambda: client.unsubscribe(SubscriptionArn=physical_id))


class TopicPolicyProvider(Provider):
    type_name = "AWS::SNS::TopicPolicy"
    attributes = frozenset({"Id"})

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        client = context.client("sns")
        document = as_json_text(required(properties, "PolicyDocument"))
        for arn in required(properties, "Topics"):
            client.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=document)
        physical_id = context.physical_name(128)
        return Provisioned(physical_id, {"Id": physical_id})

    def update(
        self, context: ResourceContext, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        self.create(context, new)
        return current

    def delete(self, context: ResourceContext, physical_id: str, properties: dict[str, Any]) -> None:
        """Topics keep their policy until they are deleted; an SNS policy cannot be unset."""


PROVIDERS = (QueueProvider(), QueuePolicyProvider(), TopicProvider(), SubscriptionProvider(), TopicPolicyProvider())
