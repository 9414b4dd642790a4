"""The streamed table every measurement, benchmark and stream test needs, made through boto3.

One string hash key ``pk``, on-demand billing, a stream of the given view type: the smallest
table that produces stream records. Made through the public API, so it works on any backend.
"""

from __future__ import annotations

from typing import Any

KEY_ATTRIBUTE = "pk"


def create_stream_table(dynamodb: Any, name: str, view_type: str = "NEW_AND_OLD_IMAGES", *, wait: bool = False) -> str:
    """Create the table; return its ``LatestStreamArn``. ``wait`` for ACTIVE (AWS takes seconds)."""
    description = dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": KEY_ATTRIBUTE, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": KEY_ATTRIBUTE, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view_type},
    )["TableDescription"]
    if wait:
        dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    return str(description["LatestStreamArn"])


def first_shard_id(streams: Any, stream_arn: str) -> str:
    """The id of the stream's first shard (a new table's stream has one)."""
    return str(streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"])
