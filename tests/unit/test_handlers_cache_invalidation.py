"""handlers/cache_invalidation.py on captured Products changes, against a real redis-server."""

from __future__ import annotations

import pytest

from tests.unit.handler_support import FakeContext, event, sequence_numbers

redis = pytest.importorskip("redis")


@pytest.fixture
def cache(redis_url: str):
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


def seed(cache, sku: str) -> None:
    """What the read path caches: the product, two derived views, and the index naming them."""
    cache.set(f"product:{sku}", b'{"sku": "..."}')
    cache.set(f"product:{sku}:price", b"12.50")
    cache.set(f"product:{sku}:html", b"<div/>")
    cache.sadd(f"product:{sku}:keys", f"product:{sku}:price", f"product:{sku}:html")


def test_modify_and_remove_delete_every_key_of_the_product(load_handler, cache, redis_url) -> None:
    for sku in ("sku-red-mug", "sku-old-bowl", "sku-untouched"):
        seed(cache, sku)
    handler = load_handler("cache_invalidation", REDIS_URL=redis_url)
    changes = event("products_changes")
    # The mapping's filter delivers MODIFY and REMOVE only.
    delivered = {"Records": [r for r in changes["Records"] if r["eventName"] in ("MODIFY", "REMOVE")]}
    assert handler.handler(delivered, FakeContext()) == {"batchItemFailures": []}

    assert sorted(k.decode() for k in cache.keys("*")) == [
        "product:sku-untouched",
        "product:sku-untouched:html",
        "product:sku-untouched:keys",
        "product:sku-untouched:price",
    ]


def test_redelivery_is_harmless(load_handler, cache, redis_url) -> None:
    seed(cache, "sku-red-mug")
    handler = load_handler("cache_invalidation", REDIS_URL=redis_url)
    changes = event("products_changes")
    assert handler.handler(changes, FakeContext()) == {"batchItemFailures": []}
    assert handler.handler(changes, FakeContext()) == {"batchItemFailures": []}
    assert cache.keys("product:sku-red-mug*") == []


def test_a_record_without_the_key_fails_alone(load_handler, cache, redis_url) -> None:
    seed(cache, "sku-old-bowl")
    handler = load_handler("cache_invalidation", REDIS_URL=redis_url)
    changes = event("products_changes")
    seqs = sequence_numbers(changes)
    changes["Records"][1]["dynamodb"]["Keys"] = {"id": {"S": "wrong-table"}}
    assert handler.handler(changes, FakeContext()) == {"batchItemFailures": [{"itemIdentifier": seqs[1]}]}
    assert cache.keys("product:sku-old-bowl*") == []


def test_redis_unreachable_fails_the_batch(load_handler) -> None:
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    handler = load_handler("cache_invalidation", REDIS_URL="redis://127.0.0.1:9/0")  # discard port: refused
    with pytest.raises(BatchProcessingError):
        handler.handler(event("products_changes"), FakeContext())
