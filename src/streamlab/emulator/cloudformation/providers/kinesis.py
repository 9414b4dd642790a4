"""AWS::Kinesis::Stream (SAM's Kinesis events read one)."""

from __future__ import annotations

from typing import Any

from streamlab.emulator.cloudformation.providers.base import (
    Provider,
    Provisioned,
    ResourceContext,
    as_int,
    ignore_missing,
    tag_dict,
    wait_until,
)


class StreamProvider(Provider):
    type_name = "AWS::Kinesis::Stream"
    attributes = frozenset({"Arn"})
    replace_on = frozenset({"Name"})
    name_property = "Name"

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        client = context.client("kinesis")
        name = properties.get("Name") or context.physical_name(128)
        mode = (properties.get("StreamModeDetails") or {}).get("StreamMode", "PROVISIONED")
        request: dict[str, Any] = {"StreamName": name, "StreamModeDetails": {"StreamMode": mode}}
        if mode == "PROVISIONED":
            request["ShardCount"] = as_int(properties.get("ShardCount", 1))
        client.create_stream(**request)
        self._wait(client, name)
        if properties.get("RetentionPeriodHours"):
            hours = as_int(properties["RetentionPeriodHours"])
            if hours > 24:
                client.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=hours)
        tags = tag_dict(properties.get("Tags"))
        if tags:
            client.add_tags_to_stream(StreamName=name, Tags=tags)
        arn = client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
        return Provisioned(name, {"Arn": arn})

    def update(
        self, context: ResourceContext, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        client = context.client("kinesis")
        if old.get("ShardCount") != new.get("ShardCount") and new.get("ShardCount"):
            client.update_shard_count(
                StreamName=current.physical_id,
                TargetShardCount=as_int(new["ShardCount"]),
                ScalingType="UNIFORM_SCALING",
            )
            self._wait(client, current.physical_id)
        return current

    def delete(self, context: ResourceContext, physical_id: str, properties: dict[str, Any]) -> None:
        client = context.client("kinesis")
        ignore_missing(client.delete_stream, StreamName=physical_id, EnforceConsumerDeletion=True)

    @staticmethod
    def _wait(client: Any, name: str) -> None:
        wait_until(
            lambda: (
                client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE"
            ),
            f"stream {name}",
        )


PROVIDERS = (StreamProvider(),)
