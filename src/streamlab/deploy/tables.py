"""DynamoDB tables: keys, billing, stream, global secondary indexes and TTL.

DynamoDB accepts one structural change per UpdateTable call and refuses the next until the
table (and its indexes) are ACTIVE again, so every change here is applied on its own and
followed by :func:`wait_active`. Keys cannot change at all: a key mismatch is a
:class:`DeployError` that tells the user to delete or rename the table.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from streamlab.deploy.report import Action, Change, DeployError
from streamlab.deploy.target import Target, error_code
from streamlab.stack import GlobalIndex, KeyAttribute, Table

WAIT_SECONDS = 1800.0


def apply_table(target: Target, table: Table) -> tuple[Change, dict[str, Any]]:
    """Create or update ``table``; returns the change and the final DescribeTable ``Table``."""
    client = target.client("dynamodb")
    try:
        current = client.describe_table(TableName=table.physical_name)["Table"]
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        client.create_table(**_create_params(table))
        wait_active(client, table.physical_name)
        if table.ttl_attribute:
            client.update_time_to_live(
                TableName=table.physical_name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
            )
        described = client.describe_table(TableName=table.physical_name)["Table"]
        return Change("table", table.name, "created", physical_name=table.physical_name), described

    _check_keys(table, current)
    details: list[str] = []
    if _update_billing(client, table, current):
        details.append("billing")
    if _update_stream(client, table, current):
        details.append("stream")
    details += _update_indexes(client, table, current)
    if _update_ttl(client, table):
        details.append("ttl")
    described = client.describe_table(TableName=table.physical_name)["Table"] if details else current
    action: Action = "updated" if details else "unchanged"
    return Change("table", table.name, action, tuple(details), table.physical_name), described


def wait_active(client: Any, name: str, timeout: float = WAIT_SECONDS) -> dict[str, Any]:
    """Poll until the table and all its indexes are ACTIVE (AWS refuses the next update before)."""
    deadline = time.monotonic() + timeout
    delay = 0.2
    while True:
        described = client.describe_table(TableName=name)["Table"]
        busy = described.get("TableStatus", "ACTIVE") != "ACTIVE" or any(
            i.get("IndexStatus", "ACTIVE") != "ACTIVE" for i in described.get("GlobalSecondaryIndexes", [])
        )
        if not busy:
            return dict(described)
        if time.monotonic() > deadline:
            raise DeployError(f"table {name} did not become ACTIVE within {timeout:.0f} s")
        time.sleep(delay)
        delay = min(delay * 2, 5.0)


# --- building requests -----------------------------------------------------------------------


def _key_schema(pk: KeyAttribute, sk: KeyAttribute | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": pk.name, "KeyType": "HASH"}]
    if sk is not None:
        schema.append({"AttributeName": sk.name, "KeyType": "RANGE"})
    return schema


def _attribute_definitions(table: Table, indexes: tuple[GlobalIndex, ...] | None = None) -> list[dict[str, str]]:
    keys = [table.partition_key, table.sort_key]
    for index in table.indexes if indexes is None else indexes:
        keys += [index.partition_key, index.sort_key]
    seen: dict[str, str] = {}
    for key in keys:
        if key is not None:
            seen.setdefault(key.name, key.type)
    return [{"AttributeName": n, "AttributeType": t} for n, t in seen.items()]


def _projection(index: GlobalIndex) -> dict[str, Any]:
    projection: dict[str, Any] = {"ProjectionType": index.projection}
    if index.projection == "INCLUDE":
        projection["NonKeyAttributes"] = list(index.non_key_attributes)
    return projection


def _index_throughput(table: Table, index: GlobalIndex) -> dict[str, int]:
    return {
        "ReadCapacityUnits": index.read_capacity or table.read_capacity or 1,
        "WriteCapacityUnits": index.write_capacity or table.write_capacity or 1,
    }


def _index_spec(table: Table, index: GlobalIndex) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "IndexName": index.name,
        "KeySchema": _key_schema(index.partition_key, index.sort_key),
        "Projection": _projection(index),
    }
    if table.billing_mode == "PROVISIONED":
        spec["ProvisionedThroughput"] = _index_throughput(table, index)
    return spec


def _create_params(table: Table) -> dict[str, Any]:
    params: dict[str, Any] = {
        "TableName": table.physical_name,
        "KeySchema": _key_schema(table.partition_key, table.sort_key),
        "AttributeDefinitions": _attribute_definitions(table),
        "BillingMode": table.billing_mode,
    }
    if table.billing_mode == "PROVISIONED":
        params["ProvisionedThroughput"] = {
            "ReadCapacityUnits": table.read_capacity,
            "WriteCapacityUnits": table.write_capacity,
        }
    if table.stream_view_type:
        params["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": table.stream_view_type}
    if table.indexes:
        params["GlobalSecondaryIndexes"] = [_index_spec(table, i) for i in table.indexes]
    return params


# --- comparing and updating ------------------------------------------------------------------


def _check_keys(table: Table, current: dict[str, Any]) -> None:
    desired = _key_schema(table.partition_key, table.sort_key)
    types = {a["AttributeName"]: a["AttributeType"] for a in current.get("AttributeDefinitions", [])}
    actual = current.get("KeySchema", [])
    wanted_types = {k.name: k.type for k in (table.partition_key, table.sort_key) if k}
    if actual != desired or any(types.get(n) != t for n, t in wanted_types.items()):
        shown = ", ".join(f"{k['AttributeName']}:{types.get(k['AttributeName'], '?')} {k['KeyType']}" for k in actual)
        raise DeployError(
            f"table {table.name} [{table.physical_name}] exists with keys ({shown}), which differ from stack.toml; "
            "DynamoDB cannot change a table's keys: delete the table or give it another name"
        )


def _update_billing(client: Any, table: Table, current: dict[str, Any]) -> bool:
    mode = current.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    throughput = current.get("ProvisionedThroughput", {})
    if table.billing_mode == "PAY_PER_REQUEST":
        if mode == "PAY_PER_REQUEST":
            return False
        client.update_table(TableName=table.physical_name, BillingMode="PAY_PER_REQUEST")
    else:
        wanted = {"ReadCapacityUnits": table.read_capacity, "WriteCapacityUnits": table.write_capacity}
        if mode == "PROVISIONED" and all(throughput.get(k) == v for k, v in wanted.items()):
            return False
        params: dict[str, Any] = {
            "TableName": table.physical_name,
            "BillingMode": "PROVISIONED",
            "ProvisionedThroughput": wanted,
        }
        existing = {i["IndexName"] for i in current.get("GlobalSecondaryIndexes", [])}
        updates = [
            {"Update": {"IndexName": i.name, "ProvisionedThroughput": _index_throughput(table, i)}}
            for i in table.indexes
            if i.name in existing
        ]
        if mode != "PROVISIONED" and updates:
            params["GlobalSecondaryIndexUpdates"] = updates
        client.update_table(**params)
    wait_active(client, table.physical_name)
    return True


def _update_stream(client: Any, table: Table, current: dict[str, Any]) -> bool:
    spec = current.get("StreamSpecification") or {}
    actual = spec.get("StreamViewType") if spec.get("StreamEnabled") else None
    if actual == table.stream_view_type:
        return False
    # A view type cannot be changed in place: the stream is disabled, then a new one enabled
    # (which gets a new ARN; mappings follow it, see mappings.py).
    if actual is not None:
        client.update_table(TableName=table.physical_name, StreamSpecification={"StreamEnabled": False})
        wait_active(client, table.physical_name)
    if table.stream_view_type is not None:
        client.update_table(
            TableName=table.physical_name,
            StreamSpecification={"StreamEnabled": True, "StreamViewType": table.stream_view_type},
        )
        wait_active(client, table.physical_name)
    return True


def _index_matches(table: Table, index: GlobalIndex, actual: dict[str, Any]) -> bool:
    projection = actual.get("Projection", {})
    return (
        actual.get("KeySchema") == _key_schema(index.partition_key, index.sort_key)
        and projection.get("ProjectionType", "ALL") == index.projection
        and sorted(projection.get("NonKeyAttributes", [])) == sorted(index.non_key_attributes)
    )


def _update_indexes(client: Any, table: Table, current: dict[str, Any]) -> list[str]:
    actual = {i["IndexName"]: i for i in current.get("GlobalSecondaryIndexes", [])}
    desired = {i.name: i for i in table.indexes}
    details: list[str] = []

    def update(change: dict[str, Any], indexes: tuple[GlobalIndex, ...]) -> None:
        params: dict[str, Any] = {"TableName": table.physical_name, "GlobalSecondaryIndexUpdates": [change]}
        if "Create" in change:  # only a new index needs its key attributes defined
            params["AttributeDefinitions"] = _attribute_definitions(table, indexes)
        client.update_table(**params)
        wait_active(client, table.physical_name)

    for name, index in actual.items():
        if name not in desired or not _index_matches(table, desired[name], index):
            update({"Delete": {"IndexName": name}}, ())
            if name not in desired:
                details.append(f"index {name} deleted")
    for name, index in desired.items():
        if name not in actual or not _index_matches(table, index, actual[name]):
            update({"Create": _index_spec(table, index)}, (index,))
            details.append(f"index {name} {'replaced' if name in actual else 'created'}")
        elif table.billing_mode == "PROVISIONED":
            wanted = _index_throughput(table, index)
            have = actual[name].get("ProvisionedThroughput", {})
            if any(have.get(k) != v for k, v in wanted.items()):
                update({"Update": {"IndexName": name, "ProvisionedThroughput": wanted}}, (index,))
                details.append(f"index {name} throughput")
    return details


def _update_ttl(client: Any, table: Table) -> bool:
    description = client.describe_time_to_live(TableName=table.physical_name).get("TimeToLiveDescription", {})
    enabled = description.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
    actual = description.get("AttributeName") if enabled else None
    if actual == table.ttl_attribute:
        return False
    if actual is not None:
        client.update_time_to_live(
            TableName=table.physical_name, TimeToLiveSpecification={"Enabled": False, "AttributeName": actual}
        )
    if table.ttl_attribute is not None:
        client.update_time_to_live(
            TableName=table.physical_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
        )
    return True
