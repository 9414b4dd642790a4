"""Memory of a long-running DynamoDB Streams poller: streamlab's compat patches vs plain moto.

Starts an embedded endpoint in-process, creates a streamed table, writes some items, then polls
GetRecords 100,000 times (each call with the previous NextShardIterator, like a Lambda poller)
and prints, every 10,000 polls, the process's RSS and the number of shard iterators moto's
backends hold.

The polls are SigV4-signed GetRecords requests on one keep-alive connection, built with
botocore's signer: the same requests boto3 sends, without boto3's per-call overhead, which here
costs more than the endpoint's own work (measured: 5.2 ms per boto3 call vs 2.2 ms under load)
and would stretch the run past ten minutes. ``--client boto3`` polls through a boto3 client.

The baseline (plain moto, ``STREAMLAB_MOTO_COMPAT=0``) runs at the same time in a subprocess.
By default it sets the table up through its own endpoint the same way, but then calls moto's
``DynamoDBStreamsBackend.get_records`` directly: that is the call each GetRecords request ends
in, and where plain moto keeps every iterator, so the memory it retains is the same while the
run takes seconds instead of minutes (``--baseline-over-http`` polls it through HTTP too).
Figures only: nothing here asserts on time or memory.

    .venv/bin/python benchmarks/stream_iterators.py [--polls 100000] [--every 10000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import psutil
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from streamlab.emulator.endpoint import MOTO_COMPAT_ENV
from streamlab.streams import create_stream_table, first_shard_id

MIB = 1024 * 1024
REGION = "us-east-1"

#: One GetRecords: iterator in, (number of records, NextShardIterator) out.
Poll = Callable[[str], tuple[int, str]]


def stored_iterators() -> int:
    """Shard iterators held by moto's DynamoDB Streams backends, in every account and region."""
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    return sum(len(backend.shard_iterators) for _, _, backend in dynamodbstreams_backends.iter_backends())


def client(service: str, url: str) -> Any:
    return boto3.client(
        service, endpoint_url=url, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test"
    )


def create_streamed_table(dynamodb: Any, streams: Any, items: int) -> str:
    """A NEW_AND_OLD_IMAGES table with ``items`` items written; returns a TRIM_HORIZON iterator."""
    name = f"bench-{uuid.uuid4().hex[:8]}"
    arn = create_stream_table(dynamodb, name, "NEW_AND_OLD_IMAGES")
    for i in range(items):
        dynamodb.put_item(TableName=name, Item={"pk": {"S": f"item-{i}"}, "n": {"N": str(i)}})
    shard_id = first_shard_id(streams, arn)
    return streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]


def http_poller(streams: Any) -> Poll:
    def poll(iterator: str) -> tuple[int, str]:
        response = streams.get_records(ShardIterator=iterator)
        return len(response["Records"]), response["NextShardIterator"]

    return poll


def signed_http_poller(host: str, port: int) -> Poll:
    """GetRecords as boto3 sends it (JSON 1.0, SigV4 for ``dynamodb``), on one keep-alive connection."""
    connection = http.client.HTTPConnection(host, port)
    signer = SigV4Auth(Credentials("test", "test"), "dynamodb", REGION)
    url = f"http://{host}:{port}/"

    def poll(iterator: str) -> tuple[int, str]:
        body = json.dumps({"ShardIterator": iterator})
        request = AWSRequest(
            method="POST",
            url=url,
            data=body,
            headers={
                "X-Amz-Target": "DynamoDBStreams_20120810.GetRecords",
                "Content-Type": "application/x-amz-json-1.0",
            },
        )
        signer.add_auth(request)
        connection.request("POST", "/", body=body, headers=dict(request.headers))
        response = connection.getresponse()
        payload = json.loads(response.read())
        if response.status != 200:
            raise RuntimeError(f"GetRecords failed: HTTP {response.status} {payload}")
        return len(payload["Records"]), payload["NextShardIterator"]

    return poll


def backend_poller() -> Poll:
    """GetRecords minus HTTP: the moto backend call the request handler makes."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    backend = dynamodbstreams_backends[DEFAULT_ACCOUNT_ID][REGION]

    def poll(iterator: str) -> tuple[int, str]:
        response = backend.get_records(iterator, 1000)
        return len(response["Records"]), response["NextShardIterator"]

    return poll


def run(label: str, polls: int, every: int, items: int, how: str) -> None:
    """Poll ``polls`` times (``how``: http, boto3 or backend) and print figures every ``every`` polls."""
    from streamlab.emulator.endpoint import EmbeddedEndpoint

    process = psutil.Process()
    with EmbeddedEndpoint(port=0) as endpoint:
        streams = client("dynamodbstreams", endpoint.url)
        iterator = create_streamed_table(client("dynamodb", endpoint.url), streams, items)
        pollers: dict[str, Callable[[], Poll]] = {
            "http": lambda: signed_http_poller(endpoint.host, endpoint.port),
            "boto3": lambda: http_poller(streams),
            "backend": backend_poller,
        }
        poll = pollers[how]()
        how = {
            "http": "signed HTTP -> endpoint",
            "boto3": "boto3 -> endpoint",
            "backend": "moto backend called directly",
        }[how]
        start_rss = process.memory_info().rss
        print(f"[{label}] polling via {how}; RSS before polling {start_rss / MIB:.1f} MiB", flush=True)
        print(
            f"[{label}] {'polls':>7} {'RSS MiB':>8} {'growth MiB':>10} {'stored iterators':>16} "
            f"{'polls/s':>8} {'records':>7}",
            flush=True,
        )
        records, started = 0, time.perf_counter()
        for done in range(1, polls + 1):
            count, iterator = poll(iterator)
            records += count
            if done % every == 0:
                rss = process.memory_info().rss
                rate = done / (time.perf_counter() - started)
                print(
                    f"[{label}] {done:>7} {rss / MIB:>8.1f} {(rss - start_rss) / MIB:>10.1f} "
                    f"{stored_iterators():>16} {rate:>8.0f} {records:>7}",
                    flush=True,
                )


def main() -> None:
    # The client and the endpoint share one interpreter: with the default 5 ms GIL switch
    # interval every request/response handoff can wait that long, which triples the run time.
    sys.setswitchinterval(0.0005)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--polls", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=100, help="items written before polling")
    parser.add_argument("--client", choices=("http", "boto3"), default="http", help="how the polls reach the endpoint")
    parser.add_argument(
        "--baseline-over-http", action="store_true", help="poll the baseline through the endpoint too (slow)"
    )
    parser.add_argument(
        "--only", choices=("patched", "plain"), help="run one side only (the baseline subprocess uses this)"
    )
    parser.add_argument("--direct", action="store_true", help="with --only: call the backend instead of the endpoint")
    args = parser.parse_args()

    if args.only:
        label = "plain moto" if args.only == "plain" else "streamlab"
        run(label, args.polls, args.every, args.items, how="backend" if args.direct else args.client)
        return

    print(
        f"{args.polls:,} GetRecords polls, figures every {args.every:,}; plain-moto baseline in a parallel subprocess",
        flush=True,
    )
    sizes = [
        "--polls",
        str(args.polls),
        "--every",
        str(args.every),
        "--items",
        str(args.items),
        "--client",
        args.client,
    ]
    baseline_args = ["--only", "plain", *sizes]
    if not args.baseline_over_http:
        baseline_args.append("--direct")
    baseline = subprocess.Popen(
        [sys.executable, __file__, *baseline_args],
        env={**os.environ, MOTO_COMPAT_ENV: "0"},
        stdout=subprocess.PIPE,
        text=True,
    )
    started = time.perf_counter()
    run("streamlab", args.polls, args.every, args.items, how=args.client)
    output, _ = baseline.communicate()
    print(output, end="", flush=True)
    print(f"finished in {time.perf_counter() - started:.0f} s", flush=True)
    if baseline.returncode:
        sys.exit(f"baseline failed with exit code {baseline.returncode}")


if __name__ == "__main__":
    main()
