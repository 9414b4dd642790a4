"""Memory of an endpoint under a steady stream of writes: with a stream retention, and without.

Starts an embedded endpoint in-process with ``--stream-retention SECONDS`` (default 60), creates a
NEW_AND_OLD_IMAGES table, and writes for ``--duration`` seconds at ``--rate`` writes a second
over ``--keys`` keys, each write a ~``--item-bytes`` item (so moto's table stays the same size and
every write adds one stream record of about twice that). Every ``--every`` seconds it prints the
process's RSS and how many records the stream store holds.

The baseline runs at the same time in a subprocess with AWS's 24-hour retention, which nothing
here outlives: every record stays, as every record stayed on moto's single shard. The figure that
matters is the RSS growth after the first minute, when the trimmed side has reached its steady
state; it is printed for both, and as a ratio. Writes are SigV4-signed PutItem requests on one
keep-alive connection (what boto3 sends, without its per-call cost). Figures only: nothing here
asserts on time or memory.

    .venv/bin/python benchmarks/stream_retention.py [--stream-retention 60] [--duration 240] [--rate 200]
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
import uuid

import boto3
import psutil

from streamlab.measure.writers import SignedHTTPWriter
from streamlab.streams import create_stream_table

MIB = 1024 * 1024
REGION = "us-east-1"
DAY = 24 * 60 * 60


def run(label: str, args: argparse.Namespace) -> list[tuple[float, float, int]]:
    """Write for ``args.duration`` seconds; print and return ``(seconds, RSS MiB, records held)`` samples."""
    from streamlab.emulator.endpoint import EmbeddedEndpoint
    from streamlab.emulator.streams import StreamSettings

    process = psutil.Process()
    samples: list[tuple[float, float, int]] = []
    settings = StreamSettings(retention_seconds=args.stream_retention)
    with EmbeddedEndpoint(port=0, stream_settings=settings) as endpoint:
        assert endpoint.streams is not None
        dynamodb = boto3.client(
            "dynamodb", endpoint_url=endpoint.url, region_name=REGION, aws_access_key_id="t", aws_secret_access_key="t"
        )
        table = f"retention-{uuid.uuid4().hex[:8]}"
        create_stream_table(dynamodb, table, "NEW_AND_OLD_IMAGES")
        writer = SignedHTTPWriter(endpoint.url, REGION)
        payload = "x" * args.item_bytes
        print(f"[{label}] {'seconds':>7} {'writes':>8} {'RSS MiB':>8} {'records held':>12}", flush=True)
        started = time.monotonic()
        next_sample, writes = 0.0, 0
        interval = 1.0 / args.rate
        while (elapsed := time.monotonic() - started) < args.duration:
            key = f"k{writes % args.keys}"
            writer.put_item(
                TableName=table, Item={"pk": {"S": key}, "n": {"N": str(writes)}, "payload": {"S": payload}}
            )
            writes += 1
            if elapsed >= next_sample:
                gc.collect()
                rss = process.memory_info().rss / MIB
                held = endpoint.streams.stats()["records"]
                samples.append((elapsed, rss, held))
                print(f"[{label}] {elapsed:>7.0f} {writes:>8} {rss:>8.1f} {held:>12}", flush=True)
                next_sample += args.every
            pause = started + writes * interval - time.monotonic()
            if pause > 0:
                time.sleep(pause)
    return samples


def growth_after(samples: list[tuple[float, float, int]], seconds: float) -> float:
    """RSS growth (MiB) from the first sample at or after ``seconds`` to the last one."""
    later = [rss for at, rss, _ in samples if at >= seconds]
    return later[-1] - later[0] if len(later) > 1 else float("nan")


def main() -> None:
    sys.setswitchinterval(0.0005)  # writer and endpoint share one interpreter (see stream_iterators.py)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stream-retention", type=float, default=60.0, help="seconds (default %(default)s)")
    parser.add_argument("--duration", type=float, default=240.0, help="seconds of writing (default %(default)s)")
    parser.add_argument("--rate", type=float, default=200.0, help="writes per second (default %(default)s)")
    parser.add_argument("--keys", type=int, default=1000, help="keys the writes cycle over (default %(default)s)")
    parser.add_argument("--item-bytes", type=int, default=1024, help="payload per item (default %(default)s)")
    parser.add_argument("--every", type=float, default=20.0, help="seconds between samples (default %(default)s)")
    parser.add_argument("--only", action="store_true", help="run one side, no baseline (the baseline uses this)")
    args = parser.parse_args()

    if args.only:
        samples = run(f"retention {args.stream_retention:g}s", args)
        print(json.dumps({"samples": samples}), flush=True)
        return

    print(
        f"{args.rate:g} writes/s of ~{args.item_bytes} B items over {args.keys} keys for {args.duration:g} s; "
        f"retention {args.stream_retention:g} s here, 24 h in a parallel baseline subprocess",
        flush=True,
    )
    options = ["--duration", str(args.duration), "--rate", str(args.rate), "--keys", str(args.keys)]
    options += ["--item-bytes", str(args.item_bytes), "--every", str(args.every)]
    baseline = subprocess.Popen(
        [sys.executable, __file__, "--only", "--stream-retention", str(DAY), *options],
        stdout=subprocess.PIPE,
        text=True,
    )
    trimmed = run(f"retention {args.stream_retention:g}s", args)
    output, _ = baseline.communicate()
    lines = output.strip().splitlines()
    print("\n".join(lines[:-1]), flush=True)
    if baseline.returncode:
        sys.exit(f"baseline failed with exit code {baseline.returncode}")
    kept = [(float(at), float(rss), int(held)) for at, rss, held in json.loads(lines[-1])["samples"]]
    after = max(60.0, args.stream_retention)
    ours, theirs = growth_after(trimmed, after), growth_after(kept, after)
    print(
        f"\nRSS growth after the first {after:g} s: {ours:+.1f} MiB with retention {args.stream_retention:g} s, "
        f"{theirs:+.1f} MiB with 24 h (ratio {ours / theirs:.2f}); records held at the end: "
        f"{trimmed[-1][2]:,} vs {kept[-1][2]:,}",
        flush=True,
    )


if __name__ == "__main__":
    main()
