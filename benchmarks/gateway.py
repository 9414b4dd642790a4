"""Gateway overhead: PutItem throughput and GetRecords latency through the embedded endpoint.

Every figure is measured in the same run against moto called in-process (``mock_aws``:
botocore serialises and parses exactly as over HTTP, only the socket is skipped), so the
ratios hold on a noisy machine. It also compares the WSGI servers the endpoint can run on
(waitress, cheroot) with moto's own Werkzeug server, which is how the default was chosen.

    python benchmarks/gateway.py [--seconds 3] [--json PATH]

Targets: through the gateway >= 0.6x of in-process PutItem throughput (issue 2); through
`streamlab up` with one client thread >= 0.8x (issue 12). The gateway
is measured twice: in the benchmark's own process (as the pytest fixture runs it, client and
server sharing one interpreter lock) and as `streamlab up` in its own process (as users run it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config

from streamlab.streams import create_stream_table, first_shard_id

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": REGION}


# botocore 1.44 sends streams calls to <account>.streams-ddb.<region>.amazonaws.com, a host
# moto 5.2.5's in-process mock does not recognise; the classic endpoint is the same API.
CLASSIC_ENDPOINTS = Config(account_id_endpoint_mode="disabled")


def client(service: str, endpoint_url: str | None) -> Any:
    return boto3.client(service, endpoint_url=endpoint_url, config=CLASSIC_ENDPOINTS, **CREDENTIALS)


def create_table(endpoint_url: str | None) -> str:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    ddb = client("dynamodb", endpoint_url)
    create_stream_table(ddb, name, "NEW_AND_OLD_IMAGES")
    return name


def put_throughput(endpoint_url: str | None, threads: int, seconds: float) -> float:
    """PutItem calls per second, summed over ``threads`` clients writing for ``seconds``."""
    table = create_table(endpoint_url)
    clients = [client("dynamodb", endpoint_url) for _ in range(threads)]
    counts = [0] * threads
    deadline = time.perf_counter() + seconds
    start_barrier = threading.Barrier(threads + 1)

    def writer(index: int) -> None:
        ddb = clients[index]
        start_barrier.wait()
        n = 0
        while time.perf_counter() < deadline:
            ddb.put_item(TableName=table, Item={"pk": {"S": f"{index}-{n}"}, "v": {"N": str(n)}})
            n += 1
        counts[index] = n

    workers = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    began = time.perf_counter()
    start_barrier.wait()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.perf_counter() - began)


def getrecords_latency(endpoint_url: str | None, polls: int) -> dict[str, float]:
    """Latency of GetRecords, each poll after one PutItem, following NextShardIterator."""
    table = create_table(endpoint_url)
    ddb = client("dynamodb", endpoint_url)
    streams = client("dynamodbstreams", endpoint_url)
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = first_shard_id(streams, arn)
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]
    samples = []
    received = 0
    for n in range(polls):
        ddb.put_item(TableName=table, Item={"pk": {"S": f"k{n}"}})
        began = time.perf_counter()
        response = streams.get_records(ShardIterator=iterator, Limit=1000)
        samples.append((time.perf_counter() - began) * 1000)
        received += len(response["Records"])
        iterator = response["NextShardIterator"]
    if received != polls:
        raise RuntimeError(f"GetRecords returned {received} records for {polls} writes")
    samples.sort()
    return {"p50": statistics.median(samples), "p99": samples[int(len(samples) * 0.99) - 1]}


def measure(label: str, endpoint_url: str | None, seconds: float, polls: int) -> dict[str, Any]:
    put_throughput(endpoint_url, 1, min(seconds, 1.0))  # warm imports, connections, caches
    row = {
        "backend": label,
        "put_ops_1_thread": put_throughput(endpoint_url, 1, seconds),
        "put_ops_4_threads": put_throughput(endpoint_url, 4, seconds),
        "getrecords_ms": getrecords_latency(endpoint_url, polls),
    }
    print(
        f"{label:<30} PutItem {row['put_ops_1_thread']:7.0f} ops/s (1 thread) "
        f"{row['put_ops_4_threads']:7.0f} ops/s (4 threads)   "
        f"GetRecords p50 {row['getrecords_ms']['p50']:.2f} ms p99 {row['getrecords_ms']['p99']:.2f} ms",
        flush=True,
    )
    return row


def in_process(seconds: float, polls: int) -> dict[str, Any]:
    from moto import mock_aws

    with mock_aws():
        return measure("moto in-process", None, seconds, polls)


def in_process_patched(seconds: float, polls: int) -> dict[str, Any]:
    """moto in-process with streamlab's moto patches (the endpoint's): what HTTP alone adds."""
    from moto import mock_aws

    from streamlab.emulator import moto_patches

    with mock_aws():
        moto_patches.acquire()
        try:
            return measure("moto in-process, patched", None, seconds, polls)
        finally:
            moto_patches.release()


def through(server_kind: str, seconds: float, polls: int) -> dict[str, Any]:
    from streamlab.emulator.endpoint import EmbeddedEndpoint

    with EmbeddedEndpoint(port=0, server=server_kind) as endpoint:
        return measure(f"gateway on {server_kind}", endpoint.url, seconds, polls)


def through_subprocess(server_kind: str, seconds: float, polls: int) -> dict[str, Any]:
    """The endpoint as users run it (`streamlab up`): its own process, so client and server
    don't share one interpreter lock."""
    from streamlab.measure.up_process import running_up

    with running_up(["--server", server_kind]) as (_, url):
        return measure(f"up ({server_kind}), own process", url, seconds, polls)


def through_werkzeug(seconds: float, polls: int) -> dict[str, Any]:
    """moto's own server (Werkzeug's development server): the design's starting point."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        return measure("moto server (werkzeug)", f"http://{host}:{port}", seconds, polls)
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each throughput run")
    parser.add_argument("--polls", type=int, default=500, help="GetRecords samples per backend")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)

    runs: list[Callable[[], dict[str, Any]]] = [
        lambda: in_process(args.seconds, args.polls),
        lambda: in_process_patched(args.seconds, args.polls),
        lambda: through("asyncio", args.seconds, args.polls),
        lambda: through("waitress", args.seconds, args.polls),
        lambda: through("cheroot", args.seconds, args.polls),
        lambda: through_subprocess("asyncio", args.seconds, args.polls),
        lambda: through_subprocess("waitress", args.seconds, args.polls),
        lambda: through_subprocess("cheroot", args.seconds, args.polls),
        lambda: through_werkzeug(args.seconds, args.polls),
    ]
    rows = [run() for run in runs]
    baseline = rows[0]
    print("\nratio to moto in-process (PutItem ops/s; targets >= 0.60, `up` with 1 thread >= 0.80):")
    for row in rows[1:]:
        row["ratio_1_thread"] = row["put_ops_1_thread"] / baseline["put_ops_1_thread"]
        row["ratio_4_threads"] = row["put_ops_4_threads"] / baseline["put_ops_4_threads"]
        print(f"  {row['backend']:<30} 1 thread {row['ratio_1_thread']:.2f}x   4 threads {row['ratio_4_threads']:.2f}x")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"runs": rows}, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
