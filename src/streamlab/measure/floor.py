"""The raw floor: how soon a write can be seen on the stream at all.

PutItem, then GetRecords in a tight loop until the record appears, measured from the
write's acknowledgement, through the public API. It is what any poller that reads a stream
over the API pays at best, so every end-to-end figure is reported beside it. (The embedded
endpoint's own engine reads moto in-process and is woken by the write itself, so its
deliveries can beat this floor.)
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from streamlab.errors import WaitTimeout
from streamlab.measure.stats import summarize
from streamlab.streams import create_stream_table

POLL_GIVE_UP_SECONDS = 10.0


@dataclass(frozen=True)
class FloorResult:
    samples: int
    latency_ms: dict[str, float]


def _create_probe_table(ddb: Any) -> str:
    name = f"streamlab-floor-{uuid.uuid4().hex[:8]}"
    create_stream_table(ddb, name, "KEYS_ONLY", wait=True)
    return name


def measure_floor(ddb: Any, streams: Any, writes: int = 200) -> FloorResult:
    """Write ``writes`` items one at a time; time each until GetRecords returns it.

    ``ddb`` and ``streams`` are boto3 clients for the same endpoint (any backend). The
    probe table is deleted afterwards.
    """
    table = _create_probe_table(ddb)
    try:
        arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][-1]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]
        latencies = []
        for n in range(writes):
            key = f"floor-{n}"
            ddb.put_item(TableName=table, Item={"pk": {"S": key}})
            acknowledged = time.perf_counter()
            give_up = acknowledged + POLL_GIVE_UP_SECONDS
            while True:
                response = streams.get_records(ShardIterator=iterator, Limit=1000)
                iterator = response["NextShardIterator"]
                if any(r["dynamodb"]["Keys"]["pk"]["S"] == key for r in response["Records"]):
                    latencies.append((time.perf_counter() - acknowledged) * 1000)
                    break
                if time.perf_counter() > give_up:
                    raise WaitTimeout(f"write {key} did not reach the stream within {POLL_GIVE_UP_SECONDS} s")
        return FloorResult(samples=len(latencies), latency_ms=summarize(latencies))
    finally:
        ddb.delete_table(TableName=table)
