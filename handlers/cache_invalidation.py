"""Cache invalidation: a product changed or was removed -> its Redis keys are deleted.

Key layout of the product read cache (what the application's read path writes):

- ``product:<sku>``: the cached product;
- ``product:<sku>:keys``: a set naming every derived key cached for the product (price views,
  rendered fragments, ...), so invalidation deletes exactly those without a ``SCAN`` of the
  whole keyspace, which is O(keys in Redis) per product.

The mapping's filter delivers only MODIFY and REMOVE of Products (an INSERT has nothing
cached yet). The members and the index set are read and deleted in one MULTI/EXEC
transaction (``WATCH`` on the set), so a derived key added concurrently is either deleted too
or added after the invalidation, never orphaned.

Deleting a key is idempotent by nature, so no idempotency table is used: a redelivered record
deletes keys that are already gone (or a value cached since, which only costs a cache miss).
A Redis outage fails the record (ReportBatchItemFailures) and Lambda retries it.
"""

from __future__ import annotations

import os
from typing import Any

import redis
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from common.images import deserialize

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)

KEY_ATTRIBUTE = os.environ.get("PRODUCT_KEY_ATTRIBUTE", "sku")
KEY_PREFIX = os.environ.get("CACHE_KEY_PREFIX", "product")

_client: redis.Redis | None = None


def cache_keys(sku: str) -> tuple[str, str]:
    """``(product:<sku>, product:<sku>:keys)``: the product's own key and its derived-key index."""
    return f"{KEY_PREFIX}:{sku}", f"{KEY_PREFIX}:{sku}:keys"


def invalidate(client: redis.Redis, sku: str) -> int:
    """Delete the product's keys atomically; returns how many existed."""
    own, index = cache_keys(sku)
    with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(index)
                derived = [member.decode() if isinstance(member, bytes) else member for member in pipe.smembers(index)]
                pipe.multi()
                pipe.delete(own, index, *derived)
                (deleted,) = pipe.execute()
                return int(deleted)
            except redis.WatchError:
                continue  # the index changed under us: read it again


def record_handler(record: DynamoDBRecord) -> int:
    stream = record.dynamodb
    if stream is None:
        raise ValueError(f"record {record.event_id} has no dynamodb section")
    keys = deserialize(stream.get("Keys"))
    if KEY_ATTRIBUTE not in keys:
        raise ValueError(f"record {record.event_id} has no key attribute {KEY_ATTRIBUTE!r}: {sorted(keys)}")
    sku = str(keys[KEY_ATTRIBUTE])
    deleted = invalidate(redis_client(), sku)
    metrics.add_metric(name="CacheKeysDeleted", unit=MetricUnit.Count, value=deleted)
    logger.info(
        "product cache invalidated",
        extra={"sku": sku, "deleted": deleted, "eventName": record.event_name.name if record.event_name else None},
    )
    return deleted


def redis_client() -> redis.Redis:
    """One connection pool per warm environment, from ``REDIS_URL`` (``redis://host:6379/0``)."""
    global _client
    if _client is None:
        _client = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=2, socket_connect_timeout=2)
    return _client


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    if not event.get("Records"):
        return {"batchItemFailures": []}
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
