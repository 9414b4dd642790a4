"""What an SQS poller pays per ReceiveMessage: the endpoint's public API vs moto's backend in-process.

The SQS event source mapping (``esm/sqs.py``) reads queues through the public SQS API with boto3,
while the DynamoDB reader reads the stream store in-process. This measures whether SQS would
gain the same way: per call, an empty ReceiveMessage (a poll that finds nothing) and a full
send -> receive -> delete cycle of 10 messages, each way, in one run; the figure is the ratio.

    .venv/bin/python benchmarks/sqs_receive.py [--calls 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence

import boto3
from botocore.config import Config

from streamlab.aws_rules import ACCOUNT_ID
from streamlab.emulator.endpoint import EmbeddedEndpoint

REGION = "us-east-1"


def timed(call: Callable[[], object], calls: int) -> float:
    """Median milliseconds per call."""
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args(argv)
    from moto.sqs.models import sqs_backends

    with EmbeddedEndpoint(port=0) as endpoint:
        sqs = boto3.client(
            "sqs",
            endpoint_url=endpoint.url,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}),
        )
        name = f"bench-{uuid.uuid4().hex[:8]}"
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        backend = sqs_backends[ACCOUNT_ID][REGION]
        sqs.receive_message(QueueUrl=url)  # connections and caches warm

        def api_empty() -> object:
            return sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
            )

        def backend_empty() -> object:
            return backend.receive_message(name, 10, 0, 30, ["All"])

        def api_cycle() -> object:
            sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x" * 200} for i in range(10)])
            messages = api_empty()["Messages"]  # type: ignore[index]
            return sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )

        def backend_cycle() -> object:
            sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x" * 200} for i in range(10)])
            for message in backend.receive_message(name, 10, 0, 30, ["All"]):
                backend.delete_message(name, message.receipt_handle)
            return None

        figures = {
            "empty ReceiveMessage": (timed(api_empty, args.calls), timed(backend_empty, args.calls)),
            "send 10 + receive + delete": (timed(api_cycle, args.calls // 3), timed(backend_cycle, args.calls // 3)),
        }
        sqs.delete_queue(QueueUrl=url)
    print(f"{'operation':<28} {'public API ms':>14} {'in-process ms':>14} {'ratio':>7}")
    for operation, (api, direct) in figures.items():
        print(f"{operation:<28} {api:>14.2f} {direct:>14.2f} {api / direct if direct else float('nan'):>6.1f}x")
    print("(the cycle's in-process column still sends through the API: only the poller's side changes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
