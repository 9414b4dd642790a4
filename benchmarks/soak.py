"""Memory and latency over a long run of `streamlab up`: does the endpoint's cost stay constant?

One `streamlab up --no-deploy` in its own process (as users run it); its RSS is read with psutil.
Writes are signed PutItem / TransactWriteItems requests on keep-alive connections
(:class:`streamlab.measure.writers.SignedHTTPWriter`'s way, without boto3's CPU), and:

1. ``overwrite, no stream``: the same 200 keys overwritten ``--writes`` times in a table without a
   stream; RSS per write after a warm-up of the same size (KB/write);
2. ``overwrite, stream + mapping``: the same in a table whose stream feeds the probe function
   through an event source mapping (stream records are kept 24 h, as AWS does: that growth is the
   stream store's, issue 14);
3. ``transactions``: TransactWriteItems (an Update and a Put, the demo's order_reserve shape) on an
   empty table and on one of ``--table-items`` 1 KiB items: p50/p99 latency and RSS per call, the
   ratio of the two p50s;
4. ``soak``: ``--soak-seconds`` at ``--soak-rate`` writes/s of overwrites (no stream), latency
   p50/p99 per minute and RSS at each minute's end.

Figures only; nothing here asserts. Targets (issue 12): at most 0.2 KB per overwrite without a
stream; TransactWriteItems p50 on a 10,000-item table within 2x of an empty table; latency flat.

    .venv/bin/python benchmarks/soak.py [--writes 20000] [--table-items 10000] [--transactions 300]
        [--soak-seconds 600] [--soak-rate 100] [--json PATH]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import boto3
import psutil
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from streamlab.measure.up_process import running_up

REGION = "us-east-1"
KEYS = 200
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": REGION}


class Signed:
    """JSON-protocol DynamoDB calls as boto3 sends them, on one keep-alive connection."""

    def __init__(self, url: str) -> None:
        parsed = urlsplit(url)
        self.url = url.rstrip("/") + "/"
        self.connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        self.signer = SigV4Auth(Credentials("test", "test"), "dynamodb", REGION)

    def call(self, operation: str, payload: dict[str, Any]) -> float:
        """Send one call; its latency in ms."""
        body = json.dumps(payload)
        request = AWSRequest(
            method="POST",
            url=self.url,
            data=body,
            headers={"X-Amz-Target": f"DynamoDB_20120810.{operation}", "Content-Type": "application/x-amz-json-1.0"},
        )
        self.signer.add_auth(request)
        began = time.perf_counter()
        self.connection.request("POST", "/", body=body, headers=dict(request.headers.items()))
        response = self.connection.getresponse()
        answer = response.read()
        elapsed = (time.perf_counter() - began) * 1000
        if response.status != 200:
            raise RuntimeError(f"{operation}: HTTP {response.status} {answer[:200]!r}")
        return elapsed


def rss_mb(pid: int) -> float:
    return float(psutil.Process(pid).memory_info().rss) / 2**20


def make_table(url: str, stream: bool) -> str:
    name = f"soak-{uuid.uuid4().hex[:8]}"
    options: dict[str, Any] = {}
    if stream:
        options["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    boto3.client("dynamodb", endpoint_url=url, **CREDENTIALS).create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        **options,
    )
    return name


def overwrite(table: str, n: int) -> tuple[str, dict[str, Any]]:
    return "PutItem", {
        "TableName": table,
        "Item": {"pk": {"S": f"k{n % KEYS}"}, "n": {"N": str(n)}, "w": {"S": "x" * 200}},
    }


def run_calls(url: str, make: Callable[[int], tuple[str, dict[str, Any]]], count: int, threads: int = 4) -> list[float]:
    """``count`` calls spread over ``threads`` keep-alive clients; every latency (ms)."""
    latencies: list[list[float]] = [[] for _ in range(threads)]

    def worker(index: int) -> None:
        client = Signed(url)
        for n in range(index, count, threads):
            latencies[index].append(client.call(*make(n)))

    workers = [threading.Thread(target=worker, args=(index,)) for index in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return [value for values in latencies for value in values]


def per_write_kb(pid: int, url: str, make: Callable[[int], tuple[str, dict[str, Any]]], writes: int) -> dict[str, Any]:
    run_calls(url, make, writes)  # warm-up: allocator arenas, caches, the keys themselves
    before = rss_mb(pid)
    began = time.perf_counter()
    latencies = run_calls(url, lambda n: make(n + writes), writes)
    elapsed = time.perf_counter() - began
    after = rss_mb(pid)
    return {
        "writes": writes,
        "rss_before_mb": round(before, 1),
        "rss_after_mb": round(after, 1),
        "kb_per_write": round((after - before) * 1024 / writes, 3),
        "writes_per_s": round(writes / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 2),
    }


def with_mapping(url: str) -> str:
    from streamlab.measure.probe_stack import deploy_probe

    stack = deploy_probe(url, REGION, prefix="soak", settle_seconds=30)
    return stack.table


def transaction(table: str) -> Callable[[int], tuple[str, dict[str, Any]]]:
    def make(n: int) -> tuple[str, dict[str, Any]]:
        return "TransactWriteItems", {
            "TransactItems": [
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "stock"}},
                        "UpdateExpression": "ADD #c :one",
                        "ExpressionAttributeNames": {"#c": "count"},
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {"Put": {"TableName": table, "Item": {"pk": {"S": f"order-{n % KEYS}"}, "n": {"N": str(n)}}}},
            ]
        }

    return make


def fill(url: str, table: str, items: int) -> None:
    payload = "x" * 1000
    run_calls(
        url,
        lambda n: (
            "BatchWriteItem",
            {
                "RequestItems": {
                    table: [
                        {"PutRequest": {"Item": {"pk": {"S": f"fill-{n}-{m}"}, "v": {"S": payload}}}} for m in range(25)
                    ]
                }
            },
        ),
        max(1, items // 25),
    )


def transactions(pid: int, url: str, table_items: int, count: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for label, size in (("empty", 0), (f"{table_items} items", table_items)):
        table = make_table(url, stream=True)
        if size:
            fill(url, table, size)
        run_calls(url, transaction(table), 20, threads=1)
        before = rss_mb(pid)
        latencies = sorted(run_calls(url, transaction(table), count, threads=1))
        after = rss_mb(pid)
        result[label] = {
            "p50_ms": round(statistics.median(latencies), 2),
            "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2),
            "kb_per_call": round((after - before) * 1024 / count, 2),
        }
    labels = list(result)
    result["p50_ratio"] = round(result[labels[1]]["p50_ms"] / result[labels[0]]["p50_ms"], 2)
    return result


def soak(pid: int, url: str, seconds: float, rate: float) -> list[dict[str, Any]]:
    """Paced overwrites (no stream); p50/p99 and RSS for each minute."""
    table = make_table(url, stream=False)
    client = Signed(url)
    minutes: list[dict[str, Any]] = []
    start = time.perf_counter()
    n = 0
    current: list[float] = []
    minute_end = start + 60
    while time.perf_counter() - start < seconds:
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        current.append(client.call(*overwrite(table, n)))
        n += 1
        if time.perf_counter() >= minute_end or time.perf_counter() - start >= seconds:
            ordered = sorted(current)
            minutes.append(
                {
                    "minute": len(minutes) + 1,
                    "writes": len(ordered),
                    "p50_ms": round(statistics.median(ordered), 2),
                    "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
                    "rss_mb": round(rss_mb(pid), 1),
                }
            )
            print(f"  minute {minutes[-1]['minute']:>2}: {json.dumps(minutes[-1])}", flush=True)
            current = []
            minute_end += 60
    return minutes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writes", type=int, default=20_000, help="overwrites per memory phase")
    parser.add_argument("--table-items", type=int, default=10_000, help="items in the big transactions table")
    parser.add_argument("--transactions", type=int, default=300, help="TransactWriteItems calls per table")
    parser.add_argument("--soak-seconds", type=float, default=600.0)
    parser.add_argument("--soak-rate", type=float, default=100.0)
    parser.add_argument(
        "--skip", default="", help="comma-separated phases to skip: overwrite,mapping,transactions,soak"
    )
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    skip = set(args.skip.split(","))
    result: dict[str, Any] = {}
    with running_up() as (process, url):
        if "overwrite" not in skip:
            table = make_table(url, stream=False)
            result["overwrite_no_stream"] = per_write_kb(process.pid, url, lambda n: overwrite(table, n), args.writes)
            print("overwrite, no stream:", json.dumps(result["overwrite_no_stream"]), flush=True)
        if "mapping" not in skip:
            table = with_mapping(url)
            result["overwrite_stream_mapping"] = per_write_kb(
                process.pid, url, lambda n: overwrite(table, n), args.writes
            )
            print("overwrite, stream + mapping:", json.dumps(result["overwrite_stream_mapping"]), flush=True)
        if "transactions" not in skip:
            result["transactions"] = transactions(process.pid, url, args.table_items, args.transactions)
            print("TransactWriteItems:", json.dumps(result["transactions"]), flush=True)
        if "soak" not in skip:
            print(f"soak: {args.soak_seconds:.0f} s at {args.soak_rate:.0f} writes/s", flush=True)
            result["soak"] = soak(process.pid, url, args.soak_seconds, args.soak_rate)
            p50s = [minute["p50_ms"] for minute in result["soak"]]
            print(f"  p50 first minute {p50s[0]} ms, last minute {p50s[-1]} ms (ratio {p50s[-1] / p50s[0]:.2f})")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
