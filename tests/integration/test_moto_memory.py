"""moto frees what a request replaced: an overwritten item, a log event dropped by the cap.

moto tracks every model instance it ever made (``BaseModel.instances_tracked``), so before issue
12 an overwrite of the same key kept the old item, its attribute values and the parsed request
alive for ever (1.1 KB of RSS per write, benchmarks/soak.py). These write through boto3 and then
watch, with a weak reference, the object the write replaced.
"""

from __future__ import annotations

import gc
import weakref

import pytest
from moto.dynamodb.models import dynamodb_backends

from streamlab.aws_rules import ACCOUNT_ID


@pytest.fixture
def table(streamlab_client, streamlab_unique_name, streamlab_in_process) -> str:
    if not streamlab_in_process:
        pytest.skip("watches the endpoint's own moto objects: needs the in-process endpoint")
    name = streamlab_unique_name("memory")
    streamlab_client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def test_an_overwritten_item_is_freed(streamlab_client, streamlab_region, table) -> None:
    ddb = streamlab_client("dynamodb")
    ddb.put_item(TableName=table, Item={"pk": {"S": "k"}, "v": {"N": "1"}})
    moto_table = dynamodb_backends[ACCOUNT_ID][streamlab_region].tables[table]
    first = weakref.ref(next(iter(moto_table.items.values())))
    for version in range(2, 50):
        ddb.put_item(TableName=table, Item={"pk": {"S": "k"}, "v": {"N": str(version)}})
    gc.collect()
    assert first() is None
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "k"}})["Item"]["v"] == {"N": "49"}
