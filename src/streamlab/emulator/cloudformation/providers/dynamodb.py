"""AWS::DynamoDB::Table and AWS::DynamoDB::GlobalTable (its replica in the stack's region)."""

from __future__ import annotations

from typing import Any

from streamlab.emulator.cloudformation.exceptions import ResourceFailure
from streamlab.emulator.cloudformation.providers.base import (
    Provider,
    Provisioned,
    ResourceContext,
    as_bool,
    as_int,
    ignore_missing,
    pick,
    required,
    tag_list,
)

_TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "BillingMode", "TableClass", "SSESpecification")


def _throughput(value: Any) -> dict[str, int]:
    return {
        "ReadCapacityUnits": as_int(value["ReadCapacityUnits"]),
        "WriteCapacityUnits": as_int(value["WriteCapacityUnits"]),
    }


def _index(index: dict[str, Any]) -> dict[str, Any]:
    answer = pick(index, "IndexName", "KeySchema", "Projection")
    if "ProvisionedThroughput" in index:
        answer["ProvisionedThroughput"] = _throughput(index["ProvisionedThroughput"])
    return answer


def _stream_specification(value: Any) -> dict[str, Any]:
    if value and value.get("StreamViewType"):
        return {"StreamEnabled": True, "StreamViewType": value["StreamViewType"]}
    return {"StreamEnabled": False}


def _sse(value: Any) -> dict[str, Any]:
    return {"Enabled": as_bool(value.get("SSEEnabled", False)), **pick(value, "SSEType", "KMSMasterKeyId")}


class TableProvider(Provider):
    type_name = "AWS::DynamoDB::Table"
    attributes = frozenset({"Arn", "StreamArn"})
    replace_on = frozenset({"TableName", "KeySchema", "LocalSecondaryIndexes"})
    name_property = "TableName"

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        client = context.client("dynamodb")
        name = properties.get("TableName") or context.physical_name(255)
        request: dict[str, Any] = {"TableName": name, **pick(properties, *_TABLE_KEYS)}
        request["KeySchema"] = required(properties, "KeySchema")
        request["AttributeDefinitions"] = required(properties, "AttributeDefinitions")
        if "SSESpecification" in properties:
            request["SSESpecification"] = _sse(properties["SSESpecification"])
        request.setdefault("BillingMode", "PROVISIONED")
        if "ProvisionedThroughput" in properties:
            request["ProvisionedThroughput"] = _throughput(properties["ProvisionedThroughput"])
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if properties.get(key):
                request[key] = [_index(index) for index in properties[key]]
        if properties.get("StreamSpecification"):
            request["StreamSpecification"] = _stream_specification(properties["StreamSpecification"])
        if properties.get("Tags"):
            request["Tags"] = tag_list(properties["Tags"])
        if "DeletionProtectionEnabled" in properties:
            request["DeletionProtectionEnabled"] = as_bool(properties["DeletionProtectionEnabled"])
        client.create_table(**request)
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        self._time_to_live(client, name, None, properties.get("TimeToLiveSpecification"))
        self._recovery(client, name, None, properties.get("PointInTimeRecoverySpecification"))
        self._kinesis(client, name, None, properties.get("KinesisStreamSpecification"))
        return self._provisioned(context, name)

    def update(
        self, context: ResourceContext, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        client = context.client("dynamodb")
        name = current.physical_id
        request: dict[str, Any] = {}
        if old.get("StreamSpecification") != new.get("StreamSpecification"):
            if old.get("StreamSpecification") and new.get("StreamSpecification"):
                # AWS cannot change a stream's view type in one step: disable, then enable.
                client.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
            request["StreamSpecification"] = _stream_specification(new.get("StreamSpecification"))
        if old.get("BillingMode") != new.get("BillingMode") and new.get("BillingMode"):
            request["BillingMode"] = new["BillingMode"]
        if old.get("ProvisionedThroughput") != new.get("ProvisionedThroughput") and new.get("ProvisionedThroughput"):
            request["ProvisionedThroughput"] = _throughput(new["ProvisionedThroughput"])
        if old.get("AttributeDefinitions") != new.get("AttributeDefinitions"):
            request["AttributeDefinitions"] = new["AttributeDefinitions"]
        if "DeletionProtectionEnabled" in new or "DeletionProtectionEnabled" in old:
            request["DeletionProtectionEnabled"] = as_bool(new.get("DeletionProtectionEnabled", False))
        if request:
            client.update_table(TableName=name, **request)
        self._indexes(client, name, old.get("GlobalSecondaryIndexes") or [], new.get("GlobalSecondaryIndexes") or [])
        self._time_to_live(client, name, old.get("TimeToLiveSpecification"), new.get("TimeToLiveSpecification"))
        self._recovery(
            client, name, old.get("PointInTimeRecoverySpecification"), new.get("PointInTimeRecoverySpecification")
        )
        self._kinesis(client, name, old.get("KinesisStreamSpecification"), new.get("KinesisStreamSpecification"))
        arn = client.describe_table(TableName=name)["Table"]["TableArn"]
        self._tags(client, arn, old.get("Tags") or [], new.get("Tags") or [])
        return self._provisioned(context, name)

    def delete(self, context: ResourceContext, physical_id: str, properties: dict[str, Any]) -> None:
        client = context.client("dynamodb")
        ignore_missing(lambda: client.delete_table(TableName=physical_id), "ResourceNotFoundException")

    @staticmethod
    def _provisioned(context: ResourceContext, name: str) -> Provisioned:
        client = context.client("dynamodb")
        table = client.describe_table(TableName=name)["Table"]
        attributes = {"Arn": table["TableArn"]}
        if table.get("LatestStreamArn") and (table.get("StreamSpecification") or {}).get("StreamEnabled"):
            attributes["StreamArn"] = table["LatestStreamArn"]
        return Provisioned(name, attributes)

    @staticmethod
    def _indexes(client: Any, name: str, old: list[dict[str, Any]], new: list[dict[str, Any]]) -> None:
        before = {index["IndexName"]: index for index in old}
        after = {index["IndexName"]: index for index in new}
        updates: list[dict[str, Any]] = [{"Delete": {"IndexName": key}} for key in before if key not in after]
        updates += [{"Create": _index(index)} for key, index in after.items() if key not in before]
        for update in updates:  # DynamoDB takes one index change per UpdateTable
            client.update_table(TableName=name, GlobalSecondaryIndexUpdates=[update])

    @staticmethod
    def _time_to_live(client: Any, name: str, old: Any, new: Any) -> None:
        if old == new:
            return
        specification = new or {"Enabled": False, "AttributeName": (old or {}).get("AttributeName", "ttl")}
        enabled = as_bool(specification.get("Enabled", False))
        if not enabled and not (old and as_bool(old.get("Enabled", False))):
            return
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": enabled, "AttributeName": specification["AttributeName"]},
        )

    @staticmethod
    def _recovery(client: Any, name: str, old: Any, new: Any) -> None:
        if old == new or not (new or old):
            return
        enabled = as_bool((new or {}).get("PointInTimeRecoveryEnabled", False))
        client.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": enabled}
        )

    @staticmethod
    def _kinesis(client: Any, name: str, old: Any, new: Any) -> None:
        """``KinesisStreamSpecification``: the table's Kinesis streaming destination."""
        before = (old or {}).get("StreamArn")
        after = (new or {}).get("StreamArn")
        if before == after:
            return
        if before:
            client.disable_kinesis_streaming_destination(TableName=name, StreamArn=before)
        if after:
            client.enable_kinesis_streaming_destination(TableName=name, StreamArn=after)

    @staticmethod
    def _tags(client: Any, arn: str, old: list[dict[str, Any]], new: list[dict[str, Any]]) -> None:
        removed = sorted({tag["Key"] for tag in old} - {tag["Key"] for tag in new})
        if removed:
            client.untag_resource(ResourceArn=arn, TagKeys=removed)
        if new and new != old:
            client.tag_resource(ResourceArn=arn, Tags=tag_list(new))


class GlobalTableProvider(Provider):
    """The replica in the stack's region, as a table; other regions' replicas are not simulated."""

    type_name = "AWS::DynamoDB::GlobalTable"
    attributes = frozenset({"Arn", "StreamArn", "TableId"})
    replace_on = frozenset({"TableName", "KeySchema", "LocalSecondaryIndexes"})
    name_property = "TableName"
    _table = TableProvider()

    def _as_table(self, context: ResourceContext, properties: dict[str, Any]) -> dict[str, Any]:
        replicas = properties.get("Replicas") or []
        replica = next((item for item in replicas if item.get("Region") == context.region), None)
        if replica is None:
            raise ResourceFailure(f"Replicas must include the stack's region {context.region}")
        table = pick(properties, "TableName", "AttributeDefinitions", "KeySchema", "LocalSecondaryIndexes")
        table["BillingMode"] = properties.get("BillingMode", "PROVISIONED")
        if properties.get("GlobalSecondaryIndexes"):
            table["GlobalSecondaryIndexes"] = [
                pick(index, "IndexName", "KeySchema", "Projection") for index in properties["GlobalSecondaryIndexes"]
            ]
        if properties.get("StreamSpecification"):
            table["StreamSpecification"] = properties["StreamSpecification"]
        if properties.get("TimeToLiveSpecification"):
            table["TimeToLiveSpecification"] = properties["TimeToLiveSpecification"]
        if table["BillingMode"] == "PROVISIONED":
            write = (properties.get("WriteProvisionedThroughputSettings") or {}).get("WriteCapacityAutoScalingSettings")
            capacity = as_int((write or {}).get("MinCapacity", 5))
            read = (replica.get("ReadProvisionedThroughputSettings") or {}).get("ReadCapacityUnits", capacity)
            table["ProvisionedThroughput"] = {"ReadCapacityUnits": read, "WriteCapacityUnits": capacity}
        for key in ("Tags", "PointInTimeRecoverySpecification", "DeletionProtectionEnabled"):
            if key in replica:
                table[key] = replica[key]
        if "SSESpecification" in properties:
            table["SSESpecification"] = properties["SSESpecification"]
        return table

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        provisioned = self._table.create(context, self._as_table(context, properties))
        return self._with_id(context, provisioned)

    def update(
        self, context: ResourceContext, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        provisioned = self._table.update(context, current, self._as_table(context, old), self._as_table(context, new))
        return self._with_id(context, provisioned)

    def delete(self, context: ResourceContext, physical_id: str, properties: dict[str, Any]) -> None:
        self._table.delete(context, physical_id, properties)

    @staticmethod
    def _with_id(context: ResourceContext, provisioned: Provisioned) -> Provisioned:
        table = context.client("dynamodb").describe_table(TableName=provisioned.physical_id)["Table"]
        provisioned.attributes["TableId"] = table.get("TableId", "")
        return provisioned


PROVIDERS = (TableProvider(), GlobalTableProvider())
