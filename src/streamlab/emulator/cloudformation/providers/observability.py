"""AWS::Logs::LogGroup, AWS::CloudWatch::Alarm and AWS::Events::Rule."""

from __future__ import annotations

from typing import Any

from streamlab.emulator.cloudformation.providers.base import (
    Provider,
    Provisioned,
    ResourceContext,
    as_int,
    as_json_text,
    ignore_missing,
    shaped,
    tag_dict,
)


class LogGroupProvider(Provider):
    type_name = "AWS::Logs::LogGroup"
    attributes = frozenset({"Arn"})
    replace_on = frozenset({"LogGroupName", "LogGroupClass"})
    name_property = "LogGroupName"

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        client = context.client("logs")
        name = properties.get("LogGroupName") or context.physical_name(512)
        request: dict[str, Any] = {"logGroupName": name}
        if properties.get("Tags"):
            request["tags"] = tag_dict(properties["Tags"])
        if properties.get("KmsKeyId"):
            request["kmsKeyId"] = properties["KmsKeyId"]
        client.create_log_group(**request)
        self._retention(client, name, properties.get("RetentionInDays"))
        return Provisioned(name, {"Arn": f"arn:aws:logs:{context.region}:{context.account}:log-group:{name}:*"})

    def update(
        self, context: ResourceContext, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        client = context.client("logs")
        if old.get("RetentionInDays") != new.get("RetentionInDays"):
            self._retention(client, current.physical_id, new.get("RetentionInDays"))
        return current

    def delete(self, context: ResourceContext, physical_id: str, properties: dict[str, Any]) -> None:
        client = context.client("logs")
        ignore_missing(lambda: client.delete_log_group(logGroupName=physical_id))

    @staticmethod
    def _retention(client: Any, name: str, days: Any) -> None:
        if days is None:
            client.delete_retention_policy(logGroupName=name)
        else:
            client.put_retention_policy(logGroupName=name, retentionInDays=as_int(days))


class AlarmProvider(Provider):
    type_name = "AWS::CloudWatch::Alarm"
    attributes = frozenset({"Arn"})
    replace_on = frozenset({"AlarmName"})
    name_property = "AlarmName"

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        name = properties.get("AlarmName") or context.physical_name(255)
        self._put(context, name, properties)
        return Provisioned(name, {"Arn": f"arn:aws:cloudwatch:{context.region}:{context.account}:alarm:{name}"})

    def update(
        self, context: ResourceContext, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        self._put(context, current.physical_id, new)
        return current

    def delete(self, context: ResourceContext, physical_id: str, properties: dict[str, Any]) -> None:
        client = context.client("cloudwatch")
        ignore_missing(lambda: client.delete_alarms(AlarmNames=[physical_id]))

    @staticmethod
    def _put(context: ResourceContext, name: str, properties: dict[str, Any]) -> None:
        client = context.client("cloudwatch")
        request = shaped(client, "PutMetricAlarm", properties, skip=("AlarmName",))
        client.put_metric_alarm(AlarmName=name, **request)


class RuleProvider(Provider):
    type_name = "AWS::Events::Rule"
    attributes = frozenset({"Arn"})
    replace_on = frozenset({"Name", "EventBusName"})
    name_property = "Name"

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        name = properties.get("Name") or context.physical_name(64)
        arn = self._put(context, name, properties, {})
        return Provisioned(name, {"Arn": arn})

    def update(
        self, context: ResourceContext, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        self._put(context, current.physical_id, new, old)
        return current

    def delete(self, context: ResourceContext, physical_id: str, properties: dict[str, Any]) -> None:
        client = context.client("events")
        bus = properties.get("EventBusName", "default")

        def remove() -> None:
            targets = [target["Id"] for target in properties.get("Targets") or []]
            if targets:
                client.remove_targets(Rule=physical_id, EventBusName=bus, Ids=targets)
            client.delete_rule(Name=physical_id, EventBusName=bus)

        ignore_missing(remove)

    @staticmethod
    def _put(context: ResourceContext, name: str, new: dict[str, Any], old: dict[str, Any]) -> str:
        client = context.client("events")
        request = shaped(client, "PutRule", new, skip=("Name", "Tags", "EventPattern"))
        if "EventPattern" in new:
            request["EventPattern"] = as_json_text(new["EventPattern"])
        arn = client.put_rule(Name=name, **request)["RuleArn"]
        bus = new.get("EventBusName", "default")
        gone = {target["Id"] for target in old.get("Targets") or []} - {t["Id"] for t in new.get("Targets") or []}
        if gone:
            client.remove_targets(Rule=name, EventBusName=bus, Ids=sorted(gone))
        if new.get("Targets"):
            targets = shaped(client, "PutTargets", {"Targets": new["Targets"]})["Targets"]
            client.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        return str(arn)


PROVIDERS = (LogGroupProvider(), AlarmProvider(), RuleProvider())
