"""Many keep-alive clients and idle sockets against `streamlab up`: does the endpoint share its capacity?

A load test (Locust with 50 users, say) holds one keep-alive connection per user and keeps
each busy. The endpoint is CPU-bound on 2 cores, so more clients cannot raise throughput;
what matters is that they share it instead of queueing behind a fixed pool, and that
connections which send nothing, or trickle their headers, hold nothing the others need.

For each server kind (``--servers``), one `streamlab up --no-deploy` in its own process, as
users run it, and these runs, each ``--seconds`` long:

- ``N clients`` for N in ``--clients`` (4, 50, 200): N keep-alive connections, each cycling
  PutItem, UpdateItem, Query, GetRecords (following its own shard iterator) on one table with
  a stream; total operations/s, p50/p99 over every operation, and the ratio to 4 clients;
- ``4 clients + 64 idle``: the 4-client run with ``--idle`` connections opened first that send
  nothing; the PutItem p99 is compared with the 4-client run's;
- ``4 clients + 64 trickling``: the same with connections that send one header byte a second.

The clients are one asyncio process (``--client-processes`` to spread them) speaking HTTP/1.1
directly: each request is what boto3 sends (JSON 1.0, ``X-Amz-Target``, a SigV4
``Authorization`` header computed once per operation: the endpoint does not verify
signatures), so the client's CPU does not take the endpoint's share of 2 cores. Figures
only; nothing here asserts.

    .venv/bin/python benchmarks/concurrency.py [--servers waitress,cheroot] [--clients 4,50,200]
        [--seconds 10] [--idle 64] [--json PATH]

Targets (issue 12): at 200 clients >= 0.9x the throughput at 4; with 64 idle connections the
PutItem p99 within 2x of the run without them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import boto3

from streamlab.measure.up_process import running_up

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": REGION}
OPERATIONS = ("PutItem", "UpdateItem", "Query", "GetRecords")
CONNECT_TIMEOUT = 30.0
CALL_TIMEOUT = 30.0  # a request unanswered this long counts as an error
#: Records per GetRecords: bounded, so one call costs the same whether 4 or 200 clients write.
GETRECORDS_LIMIT = 10


@dataclass
class Samples:
    """Latencies (ms) by operation, and failures, of one client process."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {name: [] for name in OPERATIONS})
    errors: int = 0
    error_examples: list[str] = field(default_factory=list)
    elapsed: float = 0.0  # seconds from the first request to the last answer

    def merge(self, other: Samples) -> None:
        for name, values in other.latencies.items():
            self.latencies[name].extend(values)
        self.errors += other.errors
        self.elapsed = max(self.elapsed, other.elapsed)
        self.error_examples.extend(other.error_examples[: max(0, 3 - len(self.error_examples))])


def _authorization(service: str) -> dict[str, str]:
    """The headers botocore signs a JSON-protocol request with (computed once: not verified)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="POST", url="http://127.0.0.1/", data=b"{}")
    SigV4Auth(Credentials("test", "test"), service, REGION).add_auth(request)
    return {"Authorization": request.headers["Authorization"], "X-Amz-Date": request.headers["X-Amz-Date"]}


class Connection:
    """One keep-alive HTTP/1.1 connection speaking the JSON protocol."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self._auth = {"dynamodb": _authorization("dynamodb"), "dynamodbstreams": _authorization("dynamodb")}

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), CONNECT_TIMEOUT
        )

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    async def call(self, target: str, payload: dict[str, Any]) -> dict[str, Any]:
        if self.reader is None or self.writer is None:
            raise ConnectionError("not connected")
        body = json.dumps(payload).encode()
        service = "dynamodbstreams" if target.startswith("DynamoDBStreams") else "dynamodb"
        auth = self._auth[service]
        head = (
            f"POST / HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/x-amz-json-1.0\r\n"
            f"X-Amz-Target: {target}\r\nX-Amz-Date: {auth['X-Amz-Date']}\r\n"
            f"Authorization: {auth['Authorization']}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the endpoint closed the connection")
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"", b"\n"):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        data = await self.reader.readexactly(length) if length else b"{}"
        status = int(status_line.split()[1])
        if status != 200:
            raise RuntimeError(f"{target.partition('.')[2]}: HTTP {status} {data[:160]!r}")
        result: dict[str, Any] = json.loads(data)
        return result


async def _client(
    index: int, host: str, port: int, table: str, iterator: str, deadline: float, samples: Samples
) -> None:
    connection = Connection(host, port)
    await connection.open()
    key = f"c{index}"
    n = 0
    try:
        while time.monotonic() < deadline:
            n += 1
            requests = (
                ("DynamoDB_20120810.PutItem", {"TableName": table, "Item": _item(key, n)}),
                (
                    "DynamoDB_20120810.UpdateItem",
                    {
                        "TableName": table,
                        "Key": {"pk": {"S": key}, "sk": {"N": str(n % 20)}},
                        "UpdateExpression": "ADD hits :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    },
                ),
                (
                    "DynamoDB_20120810.Query",
                    {
                        "TableName": table,
                        "KeyConditionExpression": "pk = :k",
                        "ExpressionAttributeValues": {":k": {"S": key}},
                        "Limit": 10,
                    },
                ),
                ("DynamoDBStreams_20120810.GetRecords", {"ShardIterator": iterator, "Limit": GETRECORDS_LIMIT}),
            )
            for (target, payload), name in zip(requests, OPERATIONS, strict=True):
                if time.monotonic() >= deadline:
                    break
                began = time.perf_counter()
                try:
                    answer = await asyncio.wait_for(connection.call(target, payload), CALL_TIMEOUT)
                except (RuntimeError, ConnectionError, asyncio.IncompleteReadError, OSError, TimeoutError) as error:
                    samples.errors += 1
                    if len(samples.error_examples) < 3:
                        samples.error_examples.append(f"{type(error).__name__}: {error}")
                    connection.close()
                    await connection.open()
                    continue
                samples.latencies[name].append((time.perf_counter() - began) * 1000)
                if name == "GetRecords" and answer.get("NextShardIterator"):
                    iterator = answer["NextShardIterator"]
    finally:
        connection.close()


def _item(key: str, n: int) -> dict[str, Any]:
    return {"pk": {"S": key}, "sk": {"N": str(n % 20)}, "n": {"N": str(n)}, "payload": {"S": "x" * 200}}


async def _hold_idle(host: str, port: int, count: int, trickle: bool, stop: asyncio.Event) -> int:
    """Open ``count`` connections that send nothing (or a header byte a second); how many the server closed."""
    writers = []
    for _ in range(count):
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT)
        except (OSError, TimeoutError):
            continue
        writers.append(writer)
    request = b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810.PutItem\r\n"
    position = 0
    closed = 0
    while not stop.is_set():
        if trickle and position < len(request):
            for writer in writers:
                if not writer.is_closing():
                    try:
                        writer.write(request[position : position + 1])
                    except (ConnectionError, RuntimeError):
                        closed += 1
            position += 1
        with_timeout = asyncio.create_task(stop.wait())
        await asyncio.wait({with_timeout}, timeout=1.0)
    for writer in writers:
        writer.close()
    return closed


async def _load(
    url: str, table: str, iterators: Sequence[str], first_index: int, seconds: float, idle: int, trickle: bool
) -> Samples:
    parsed = urlsplit(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    samples = Samples()
    stop = asyncio.Event()
    holder = asyncio.create_task(_hold_idle(host, port, idle, trickle, stop)) if idle else None
    if holder is not None:
        await asyncio.sleep(1.0)  # the idle connections are open before the first request
    began = time.monotonic()
    deadline = began + seconds
    clients = [
        _client(first_index + offset, host, port, table, iterator, deadline, samples)
        for offset, iterator in enumerate(iterators)
    ]
    results = await asyncio.gather(*clients, return_exceptions=True)
    samples.elapsed = time.monotonic() - began
    for result in results:
        if isinstance(result, BaseException):
            samples.errors += 1
            if len(samples.error_examples) < 3:
                samples.error_examples.append(f"{type(result).__name__}: {result}")
    stop.set()
    if holder is not None:
        await holder
    return samples


def run_client_process(
    url: str, table: str, iterators: list[str], first_index: int, seconds: float, idle: int, trickle: bool
) -> Samples:
    return asyncio.run(_load(url, table, iterators, first_index, seconds, idle, trickle))


def percentile(values: Sequence[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def up_arguments(server: str) -> list[str]:
    """``waitress`` or ``cheroot:64`` (a kind and, optionally, its worker threads) as `up` options."""
    kind, _, threads = server.partition(":")
    return ["--server", kind, *(["--server-threads", threads] if threads else [])]


def make_table(url: str) -> tuple[str, str]:
    ddb = boto3.client("dynamodb", endpoint_url=url, **CREDENTIALS)
    name = f"concurrency-{uuid.uuid4().hex[:8]}"
    description = ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    return name, description["LatestStreamArn"]


def iterators_for(url: str, stream_arn: str, count: int) -> list[str]:
    streams = boto3.client("dynamodbstreams", endpoint_url=url, **CREDENTIALS)
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    return [
        streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]
        for _ in range(count)
    ]


def run(
    pool: ProcessPoolExecutor,
    url: str,
    stream: tuple[str, str],
    clients: int,
    seconds: float,
    processes: int,
    idle: int = 0,
    trickle: bool = False,
) -> dict[str, Any]:
    table, arn = stream
    iterators = iterators_for(url, arn, clients)
    shares = [iterators[index::processes] for index in range(processes) if iterators[index::processes]]
    offsets = [sum(len(share) for share in shares[:position]) for position in range(len(shares))]
    futures = [
        pool.submit(
            run_client_process,
            url,
            table,
            share,
            offset,
            seconds,
            idle if position == 0 else 0,
            trickle,
        )
        for position, (share, offset) in enumerate(zip(shares, offsets, strict=True))
    ]
    samples = Samples()
    for future in futures:
        samples.merge(future.result())
    every = [value for values in samples.latencies.values() for value in values]
    puts = samples.latencies["PutItem"]
    return {
        "clients": clients,
        "idle": idle,
        "trickle": trickle,
        "ops": len(every),
        "seconds": round(samples.elapsed, 2),
        "ops_per_s": len(every) / samples.elapsed if samples.elapsed else 0.0,
        "p50_ms": percentile(every, 0.50),
        "p99_ms": percentile(every, 0.99),
        "put_p50_ms": percentile(puts, 0.50),
        "put_p99_ms": percentile(puts, 0.99),
        "put_max_ms": max(puts) if puts else None,
        "errors": samples.errors,
        "error_examples": samples.error_examples,
    }


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:8.1f}"


def measure_server(kind: str, client_counts: Sequence[int], seconds: float, idle: int, processes: int) -> list[dict]:
    rows: list[dict[str, Any]] = []
    with running_up(up_arguments(kind)) as (_, url), ProcessPoolExecutor(max_workers=processes) as pool:
        stream = make_table(url)
        run(pool, url, stream, 4, min(seconds, 2.0), processes)  # warm-up: imports, caches, first writes
        plan: list[tuple[str, int, int, bool]] = [(f"{n} clients", n, 0, False) for n in client_counts]
        if idle:
            plan += [(f"4 clients + {idle} idle", 4, idle, False), (f"4 clients + {idle} trickling", 4, idle, True)]
        # Again at the end: the machine's load and the endpoint's growing state drift over a run,
        # so each ratio is taken against the mean of the 4-client runs that bracket it.
        plan.append(("4 clients, again", 4, 0, False))
        for label, clients, idle_count, trickle in plan:
            figures = run(pool, url, stream, clients, seconds, processes, idle_count, trickle)
            row = {"server": kind, "run": label, **figures}
            rows.append(row)
            print(
                f"{kind:<10} {label:<26} {row['ops_per_s']:8.0f} ops/s  p50 {fmt(row['p50_ms'])} ms  "
                f"p99 {fmt(row['p99_ms'])} ms   PutItem p99 {fmt(row['put_p99_ms'])} ms  "
                f"max {fmt(row['put_max_ms'])} ms  errors {row['errors']}",
                flush=True,
            )
            for example in row["error_examples"]:
                print(f"{'':<12}e.g. {example[:150]}", flush=True)
    return rows


def summarize(rows: list[dict[str, Any]]) -> None:
    print("\nratios (throughput and PutItem p99 against the 4-client runs before and after):")
    for kind in dict.fromkeys(row["server"] for row in rows):
        mine = [row for row in rows if row["server"] == kind]
        bases = [row for row in mine if row["run"] in ("4 clients", "4 clients, again")]
        if not bases:
            continue
        base_ops = statistics.mean(row["ops_per_s"] for row in bases)
        base_p99 = statistics.mean(row["put_p99_ms"] for row in bases if row["put_p99_ms"] is not None)
        count = len(bases)
        print(f"  {kind:<10} 4-client baseline: {base_ops:.0f} ops/s, PutItem p99 {base_p99:.1f} ms (mean of {count})")
        for row in mine:
            if row in bases:
                continue
            row["throughput_ratio"] = row["ops_per_s"] / base_ops if base_ops else None
            if row["put_p99_ms"] is not None and base_p99:
                row["put_p99_ratio"] = row["put_p99_ms"] / base_p99
            print(
                f"  {kind:<10} {row['run']:<26} throughput {row.get('throughput_ratio') or 0:5.2f}x   "
                f"PutItem p99 {row.get('put_p99_ratio') or float('nan'):6.2f}x"
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--servers", default="waitress,cheroot", help="server kinds to compare (streamlab up --server), KIND[:THREADS]"
    )
    parser.add_argument("--clients", default="4,50,200", help="keep-alive client counts")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each run")
    parser.add_argument("--idle", type=int, default=64, help="idle / trickling connections (0 to skip those runs)")
    parser.add_argument("--client-processes", type=int, default=1, help="processes the clients are spread over")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    counts = [int(value) for value in args.clients.split(",") if value]
    rows: list[dict[str, Any]] = []
    for kind in [value for value in args.servers.split(",") if value]:
        rows += measure_server(kind, counts, args.seconds, args.idle, args.client_processes)
    summarize(rows)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"runs": rows}, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
