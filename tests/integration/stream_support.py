"""A streamed table and the clients to write to it and read it, for the stream tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from streamlab.streams import create_stream_table, first_shard_id

Record = dict[str, Any]


@dataclass
class Stream:
    """A table with a stream, and the clients to write to it and read its first shard."""

    dynamodb: Any
    streams: Any
    table: str
    arn: str
    shard_id: str

    def iterator(self, kind: str = "TRIM_HORIZON", **kwargs: Any) -> str:
        response = self.streams.get_shard_iterator(
            StreamArn=self.arn, ShardId=self.shard_id, ShardIteratorType=kind, **kwargs
        )
        return str(response["ShardIterator"])

    def read_all(self, iterator: str | None = None) -> list[Record]:
        """Every record from the iterator (default TRIM_HORIZON) up to the end of the shard."""
        iterator = iterator or self.iterator()
        records: list[Record] = []
        while iterator:
            response = self.streams.get_records(ShardIterator=iterator)
            records.extend(response["Records"])
            iterator = response.get("NextShardIterator")
            if not response["Records"]:
                return records
        return records

    def put(self, pk: str, **attrs: Any) -> None:
        self.dynamodb.put_item(TableName=self.table, Item={"pk": {"S": pk}, **attrs})

    def set_v(self, pk: str, number: str) -> None:
        """UpdateItem ``SET v = number`` on the item with key ``pk``."""
        self.dynamodb.update_item(
            TableName=self.table,
            Key={"pk": {"S": pk}},
            UpdateExpression="SET v = :v",
            ExpressionAttributeValues={":v": {"N": number}},
        )


def make_stream(
    streamlab_client: Callable[..., Any], name: str, region: str | None = None, view: str = "NEW_AND_OLD_IMAGES"
) -> Stream:
    dynamodb = streamlab_client("dynamodb", region=region)
    streams = streamlab_client("dynamodbstreams", region=region)
    arn = create_stream_table(dynamodb, name, view)
    return Stream(dynamodb, streams, name, arn, first_shard_id(streams, arn))


def error_code(call: Callable[[], Any]) -> str:
    """The AWS error code of a call that must fail with HTTP 400."""
    with pytest.raises(ClientError) as caught:
        call()
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(caught.value.response["Error"]["Code"])
