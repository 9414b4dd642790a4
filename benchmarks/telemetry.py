"""What observing costs: the telemetry of one mapping batch through every consumer the endpoint
attaches (CloudWatch metric aggregation, the status board, the record journal, up's console),
beside the same events through a FanOut with no consumer, in the same run.

    .venv/bin/python benchmarks/telemetry.py --batches 20000 --batch-size 10

Each batch emits what the DynamoDB pipeline and the Lambda service emit for it: RecordsRead,
IteratorAgeSampled, FunctionInvoked and BatchInvoked (every tenth batch fails and is retried
once). The metric writer only counts what a flush would write (no HTTP), so the figure is the
consumers' own cost; benchmarks/invoke.py measures what an invocation itself costs.
"""

from __future__ import annotations

import argparse
import io
import time
from typing import Any

from streamlab.emulator.observability.board import StatusBoard
from streamlab.emulator.observability.journeys import JourneyJournal
from streamlab.emulator.observability.metrics import LambdaMetrics
from streamlab.emulator.telemetry import (
    BatchInvoked,
    FanOut,
    FunctionInvoked,
    InvokeOutcome,
    IteratorAgeSampled,
    RecordsRead,
    TelemetryEvent,
)
from streamlab.up_console import UpConsole, Verbosity

FN = "arn:aws:lambda:us-east-1:123456789012:function:orders"
STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/Orders/stream/2026-12-02T00:00:00.000"


class CountingWriter:
    def __init__(self) -> None:
        self.datums = 0

    def put(self, region: str, namespace: str, metric_data: list[dict[str, Any]]) -> None:
        self.datums += len(metric_data)


def batch_events(n: int, size: int) -> list[TelemetryEvent]:
    ids = [str(n * size + i) for i in range(size)]
    keys = [f'{{"pk":{{"S":"k{i % 50}"}}}}' for i in range(size)]
    events: list[TelemetryEvent] = [
        RecordsRead("uuid-1", STREAM, "shard-1", ids, keys=keys, event_names=["INSERT"] * size),
        IteratorAgeSampled("uuid-1", FN, STREAM, 12.0),
    ]
    attempts = [InvokeOutcome.FUNCTION_ERROR, InvokeOutcome.SUCCESS] if n % 10 == 0 else [InvokeOutcome.SUCCESS]
    for attempt, outcome in enumerate(attempts, 1):
        events.append(
            FunctionInvoked("orders", "$LATEST", "dynamodb", outcome, 3.0, f"r{n}-{attempt}", region="us-east-1")
        )
        events.append(BatchInvoked("uuid-1", FN, STREAM, "shard-1", ids, attempt, outcome, 3.5, f"r{n}-{attempt}"))
    return events


def run(sink: FanOut, batches: list[list[TelemetryEvent]], metrics: LambdaMetrics | None) -> float:
    started = time.perf_counter()
    for index, events in enumerate(batches):
        for event in events:
            sink.emit(event)
        if metrics is not None and index % 1000 == 999:  # the endpoint flushes once a second
            metrics.flush()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=10)
    args = parser.parse_args()
    batches = [batch_events(n, args.batch_size) for n in range(args.batches)]
    baseline = run(FanOut(), batches, None)
    writer = CountingWriter()
    metrics = LambdaMetrics(writer)
    observed = FanOut([metrics, StatusBoard(), JourneyJournal(), UpConsole(Verbosity.NORMAL, io.StringIO())])
    full = run(observed, batches, metrics)
    metrics.flush()
    per_batch_us = (full - baseline) / args.batches * 1e6
    print(f"batches: {args.batches} of {args.batch_size} records")
    print(f"no consumer:      {baseline:.3f} s ({baseline / args.batches * 1e6:.1f} us per batch)")
    print(f"every consumer:   {full:.3f} s ({full / args.batches * 1e6:.1f} us per batch)")
    print(f"ratio: {full / baseline:.1f}x the bare FanOut; the consumers add {per_batch_us:.1f} us per batch")
    print(f"statistic sets a flush wrote: {writer.datums}")


if __name__ == "__main__":
    main()
