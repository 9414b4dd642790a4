"""``streamlab bench``: end-to-end loss, duplicates, per-key order, latency and throughput of one endpoint.

K keys x N versions are written at a target rate by paced writer processes
(:mod:`streamlab.measure.writers`) into a throwaway table whose stream feeds the probe
handler through an event source mapping (:mod:`streamlab.measure.probe_stack`). The probe's
log lines are read back through CloudWatch Logs (:mod:`streamlab.measure.probe_logs`) and
compared with what was written (:func:`streamlab.measure.delivery.analyze`); the raw
PutItem -> GetRecords floor (:func:`streamlab.measure.floor.measure_floor`) is measured in
the same run so every figure has its reference beside it. Everything goes through boto3, so
the same command measures the embedded endpoint (in this process, or its image with
``--backend container``), LocalStack or AWS.

The exit code is the verdict CI needs: 0 when nothing was lost and no key's versions arrived
out of order, 1 otherwise (2 for bad arguments, or a backend that cannot start here).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from streamlab.aws_rules import DEFAULT_REGION, REGION_ORDER, resolve_region
from streamlab.backends import Backend, BackendUnavailable, backend_from_name
from streamlab.errors import WaitTimeout
from streamlab.measure.bench_report import format_table, render_html
from streamlab.measure.delivery import DeliveryReport, DeliveryTuple, analyze
from streamlab.measure.floor import FloorResult, measure_floor
from streamlab.measure.item_shape import ItemShape, TableShapeError
from streamlab.measure.probe_logs import collect_deliveries
from streamlab.measure.probe_stack import ProbeStack, attach_probe, client, deploy_probe, teardown_probe
from streamlab.measure.writers import (
    PacedWrite,
    WriterPlan,
    acknowledged,
    run_paced_writers,
    sent,
    split_keys,
    writer_pool,
    writers_for,
)

#: What ``--backend`` can start (AWS is ``--aws``: nothing to start).
STARTABLE_BACKENDS = ("embedded", "container", "localstack")
WARM_WRITES = 3
#: Samples kept in the JSON document (and drawn in the HTML); beyond it they are thinned evenly.
MAX_SAMPLES = 20000
AWS_CLOCK_WARNING = (
    "AWS run: latencies compare the handler's clock (in AWS) with this machine's (the writer's). "
    "Clock skew between the two adds to or subtracts from every latency; handler timestamps are "
    "only ever compared with the writer's, never with each other's across machines. Keep this "
    "machine's clock NTP-synchronised and read small latencies with that in mind."
)


#: The probe mapping's BatchSize (reported with every run).
PROBE_BATCH_SIZE = 100


@dataclass(frozen=True)
class BenchConfig:
    """What one run does. ``endpoint_url`` None means AWS itself (boto3's credential chain)."""

    endpoint_url: str | None
    region: str = DEFAULT_REGION
    writes: int = 1000
    keys: int = 10
    rate: float = 100.0
    writers: int | None = None  # None: one per 50 writes/s (writers_for)
    floor_writes: int = 100
    drain_timeout: float = 30.0
    role_arn: str | None = None
    writer_client: str = "http"  # "http" (signed requests, less client CPU) or "boto3"
    label: str = ""  # how the endpoint is named in reports
    table: str | None = None  # a user's own table to attach the probe to; None: a probe table of its own

    @property
    def versions(self) -> int:
        """Versions per key: ``writes / keys``, rounded up so at least ``writes`` are made."""
        return max(1, math.ceil(self.writes / self.keys))

    @property
    def writer_count(self) -> int:
        return max(1, min(self.keys, self.writers or writers_for(self.rate)))


@dataclass
class BenchResult:
    """Everything one run measured."""

    config: BenchConfig
    writes: list[PacedWrite]
    deliveries: list[DeliveryTuple]
    report: DeliveryReport  # latency from each write's acknowledgement
    latency_from_send_ms: dict[str, float] | None
    floor: FloorResult | None
    started_at: str
    warnings: list[str] = field(default_factory=list)

    def samples(self) -> list[tuple[float, float, float]]:
        """Per delivered write: (s since the first send, ack -> handler ms, sent -> handler ms)."""
        first: dict[tuple[str, int], float] = {}
        for key, version, processed_at in sorted(self.deliveries, key=lambda delivery: delivery[2]):
            first.setdefault((key, version), processed_at)
        start = min((written_at for _, _, written_at, _ in self.writes), default=0.0)
        return sorted(
            (written_at - start, (first[(key, version)] - ack) * 1000, (first[(key, version)] - written_at) * 1000)
            for key, version, written_at, ack in self.writes
            if (key, version) in first
        )

    def timing(self) -> dict[str, float]:
        """Achieved write rate, and delivered records per second from the first send to the last first delivery."""
        if not self.writes:
            return {"achieved_write_wps": 0.0, "throughput_wps": 0.0, "duration_s": 0.0}
        start = min(written_at for _, _, written_at, _ in self.writes)
        last_ack = max(ack for _, _, _, ack in self.writes)
        written = {(key, version) for key, version, _, _ in self.writes}
        delivered_at = [processed for key, version, processed in self.deliveries if (key, version) in written]
        end = max(delivered_at, default=last_ack)
        duration = max(end - start, 1e-9)
        return {
            "achieved_write_wps": len(self.writes) / max(last_ack - start, 1e-9),
            "throughput_wps": self.report.delivered / duration,
            "duration_s": duration,
        }


def result_document(result: BenchResult) -> dict[str, Any]:
    """The JSON document: DESIGN.md's fields first, then the details behind them."""
    report, config = result.report, result.config
    none = {q: None for q in ("p50", "p90", "p99", "max")}
    timing = result.timing()
    samples = result.samples()
    step = max(1, math.ceil(len(samples) / MAX_SAMPLES))
    kept = samples[::step]
    return {
        "writes": report.writes,
        "processed": report.processed,
        "lost": report.lost,
        "duplicates": report.duplicates,
        "order_violations": report.order_violations,
        "throughput_wps": round(timing["throughput_wps"], 2),
        "latency_ms": report.latency_ms or none,
        "floor_latency_ms": result.floor.latency_ms if result.floor else none,
        "clean": report.clean,
        "delivered": report.delivered,
        "unexpected": report.unexpected,
        "latency_from_send_ms": result.latency_from_send_ms or none,
        "floor_samples": result.floor.samples if result.floor else 0,
        "achieved_write_wps": round(timing["achieved_write_wps"], 2),
        "duration_s": round(timing["duration_s"], 3),
        "target_rate_wps": config.rate,
        "keys": config.keys,
        "versions_per_key": config.versions,
        "writers": config.writer_count,
        "writer_client": config.writer_client,
        "endpoint": config.label or config.endpoint_url or "aws",
        "region": config.region,
        "started_at": result.started_at,
        "run": run_context(config),
        "lost_items": [list(item) for item in report.lost_items[:20]],
        "violating_items": [list(item) for item in report.violating_items[:20]],
        "warnings": result.warnings,
        "samples": {
            "t_s": [round(t, 4) for t, _, _ in kept],
            "ack_ms": [round(a, 3) for _, a, _ in kept],
            "send_ms": [round(s, 3) for _, _, s in kept],
        },
    }


def run_context(config: BenchConfig) -> dict[str, Any]:
    """What a figure depends on beside the load: version, cadence, mapping settings, the machine."""
    import platform

    from streamlab import __version__
    from streamlab.emulator.endpoint import ESM_CADENCE_ENV

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "streamlab_version": __version__,
        "esm_cadence": os.environ.get(ESM_CADENCE_ENV, "wake") if config.endpoint_url else "aws",
        "mapping": {"BatchSize": PROBE_BATCH_SIZE, "StartingPosition": "LATEST", "MaximumBatchingWindowInSeconds": 0},
        "table": config.table or "(a probe table of its own)",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU(s), {platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load_average": [round(value, 2) for value in load] if load else None,
    }


# --- progress ---------------------------------------------------------------------------------


class Progress:
    """A one-line bar on stderr, redrawn in place; silent unless the stream is a terminal (clean CI logs)."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self.label, self.total = label, max(1, total)
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        filled = min(30, round(30 * done / self.total))
        self.stream.write(f"\r{self.label:<12} [{'#' * filled}{'.' * (30 - filled)}] {done}/{self.total}")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


# --- the run ------------------------------------------------------------------------------------


def _warm_up(stack: ProbeStack, shape: ItemShape, run: str, timeout: float) -> list[str]:
    """Cold start and the mapping's first polls happen here, outside the figures; the keys written."""
    ddb, logs = client("dynamodb", stack.endpoint_url, stack.region), client("logs", stack.endpoint_url, stack.region)
    since_ms = int(time.time() * 1000) - 60_000
    keys = set(shape.keys(f"{run}-warm", WARM_WRITES))
    for key in sorted(keys):
        ddb.put_item(TableName=stack.table, Item=shape.item(key, 1, time.time()))
    if len(collect_deliveries(logs, stack.function, since_ms, keys, expected=len(keys), timeout=timeout)) < len(keys):
        raise WaitTimeout(f"the probe mapping delivered no warm-up write within {timeout:g} s: is the mapping running?")
    return sorted(keys)


def _probe(config: BenchConfig) -> tuple[ProbeStack, ItemShape]:
    if config.table:
        return attach_probe(
            config.endpoint_url, config.region, config.table, role_arn=config.role_arn, batch_size=PROBE_BATCH_SIZE
        )
    stack = deploy_probe(
        config.endpoint_url,
        config.region,
        prefix="streamlab-bench",
        role_arn=config.role_arn,
        batch_size=PROBE_BATCH_SIZE,
    )
    return stack, ItemShape()


def _remove_items(stack: ProbeStack, shape: ItemShape, keys: Sequence[str]) -> None:
    """A user's table keeps none of the measurement's items (best effort, like the teardown)."""
    ddb = client("dynamodb", stack.endpoint_url, stack.region)
    for key in keys:
        with contextlib.suppress(Exception):
            ddb.delete_item(TableName=stack.table, Key=shape.key_of(key))


def _write(pool: Any, plans: Sequence[WriterPlan], total: int, duration: float, show: bool) -> list[PacedWrite]:
    """Run the writers; meanwhile draw progress from the schedule (the writers are other processes)."""
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["writes"] = run_paced_writers(pool, plans)
        except BaseException as error:
            outcome["error"] = error
        finally:
            done.set()

    threading.Thread(target=target, name="bench-writers", daemon=True).start()
    bar = Progress("writing", total, enabled=None if show else False)
    started = time.monotonic()
    while not done.wait(0.2):
        bar.update(min(total, int(total * (time.monotonic() - started) / max(duration, 1e-9))))
    bar.update(total)
    bar.close()
    if "error" in outcome:
        raise outcome["error"]
    return list(outcome["writes"])


def _collect(
    stack: ProbeStack, since_ms: int, writes: Sequence[PacedWrite], timeout: float, show: bool
) -> list[DeliveryTuple]:
    """Poll the probe's lines until every write has a delivery or ``timeout`` passes."""
    logs = client("logs", stack.endpoint_url, stack.region)
    wanted = {(key, version) for key, version, _, _ in writes}
    keys = {key for key, _ in wanted}
    bar = Progress("collecting", len(wanted), enabled=None if show else False)
    deadline = time.monotonic() + timeout
    while True:
        deliveries = collect_deliveries(logs, stack.function, since_ms, keys, expected=len(wanted), timeout=0)
        seen = {(key, version) for key, version, _ in deliveries} & wanted
        bar.update(len(seen))
        if len(seen) == len(wanted) or time.monotonic() > deadline:
            bar.close()
            return deliveries
        time.sleep(0.25)


def run_bench(
    config: BenchConfig, *, progress: bool = True, log: Callable[[str], None] = lambda line: None
) -> BenchResult:
    """Deploy the probe stack, warm it, write, collect, measure the floor, clean up."""
    started_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    run = f"bench-{uuid.uuid4().hex[:6]}"
    local = config.endpoint_url is not None
    log(
        f"deploying the probe stack (table, probe function, mapping) on {config.label or config.endpoint_url or 'AWS'} "
        "..."
    )
    stack, shape = _probe(config)
    keys = shape.keys(run, config.keys)
    written = list(keys)
    try:
        written += _warm_up(stack, shape, run, timeout=30.0 if local else 300.0)
        writer_client = config.writer_client if local else "boto3"
        url = config.endpoint_url or ""
        count = config.writer_count
        log(
            f"writing {config.keys * config.versions} items ({config.keys} keys x {config.versions} "
            f"versions) at {config.rate:g}/s with {count} writer(s) ..."
        )
        pool = writer_pool(count, url, config.region, stack.table)
        try:
            since_ms = int(time.time() * 1000) - 60_000  # generous: keys are unique to this run
            start_at = time.time() + 0.3
            plans = [
                WriterPlan(
                    url,
                    config.region,
                    stack.table,
                    share,
                    config.versions,
                    config.rate * len(share) / len(keys),
                    start_at,
                    writer_client,
                    shape,
                )
                for share in split_keys(keys, count)
            ]
            total = len(keys) * config.versions
            writes = _write(pool, plans, total, total / config.rate + 0.3, progress)
        finally:
            pool.shutdown()
        deliveries = _collect(stack, since_ms, writes, config.drain_timeout, progress)
        floor = None
        if config.floor_writes > 0:
            log(f"measuring the raw floor ({config.floor_writes} x PutItem then GetRecords) ...")
            floor = measure_floor(
                client("dynamodb", config.endpoint_url, config.region),
                client("dynamodbstreams", config.endpoint_url, config.region),
                writes=config.floor_writes,
            )
    finally:
        teardown_probe(stack)
        if not stack.owns_table:
            _remove_items(stack, shape, written)
    return BenchResult(
        config=config,
        writes=writes,
        deliveries=deliveries,
        report=analyze(acknowledged(writes), deliveries),
        latency_from_send_ms=analyze(sent(writes), deliveries).latency_ms,
        floor=floor,
        started_at=started_at,
        warnings=[] if local else [AWS_CLOCK_WARNING],
    )


# --- the command ----------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``streamlab bench``'s options (DESIGN.md's interface, extended)."""
    parser.add_argument(
        "--endpoint-url", help="endpoint to measure (default: AWS_ENDPOINT_URL, else --backend is started)"
    )
    parser.add_argument(
        "--backend",
        choices=STARTABLE_BACKENDS,
        default=None,
        help="backend to start and measure when no endpoint URL is given (default: embedded, in this process)",
    )
    parser.add_argument("--aws", action="store_true", help="measure real AWS (boto3's credentials; needs --role-arn)")
    parser.add_argument("--role-arn", help="execution role for the probe function on AWS (local endpoints accept any)")
    parser.add_argument("--region", help=f"region (default: {REGION_ORDER})")
    parser.add_argument(
        "--table",
        help="measure your own table: the probe is mapped to its stream (new images) and writes use its key "
        "schema; the table stays, the probe and the items written are removed (default: a probe table of its own)",
    )
    parser.add_argument(
        "--writes", type=int, default=1000, help="items to write, K keys x N versions (default %(default)s)"
    )
    parser.add_argument("--keys", type=int, default=10, help="keys the writes are spread over (default %(default)s)")
    parser.add_argument("--rate", type=float, default=100.0, help="target writes per second (default %(default)s)")
    parser.add_argument(
        "--writers", type=int, default=None, help="writer processes (default: one per 50 writes/s, at most 8)"
    )
    parser.add_argument(
        "--floor-writes",
        type=int,
        default=100,
        help="writes for the raw PutItem -> GetRecords floor; 0 skips it (default %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds to wait for deliveries after the last write (default 30; 120 on AWS)",
    )
    parser.add_argument(
        "--writer-client",
        choices=("http", "boto3"),
        default="http",
        help="writers send signed PutItem requests (default, less CPU) or use boto3",
    )
    parser.add_argument("--json", help="write the figures to this JSON file")
    parser.add_argument("--html", help="write a self-contained HTML report (inline SVG charts) to this file")


def _invalid(args: argparse.Namespace) -> str | None:
    if args.writes < 1 or args.keys < 1:
        return "--writes and --keys must be at least 1"
    if args.keys > args.writes:
        return "--keys must not exceed --writes"
    if not args.rate > 0:
        return "--rate must be positive"
    if args.writers is not None and args.writers < 1:
        return "--writers must be at least 1"
    if args.floor_writes < 0:
        return "--floor-writes must not be negative"
    if args.aws and args.endpoint_url:
        return "--aws measures AWS's own endpoints; drop --endpoint-url"
    if args.backend and (args.aws or args.endpoint_url):
        return "--backend starts an endpoint to measure; drop --endpoint-url / --aws, or --backend"
    if args.aws and not args.role_arn:
        return "--aws needs --role-arn (an execution role the probe function can use)"
    return None


def run(args: argparse.Namespace) -> int:
    """Run ``streamlab bench``; 0 when no loss and no order violations, 1 otherwise, 2 for bad arguments."""
    problem = _invalid(args)
    if problem:
        print(f"streamlab bench: {problem}", file=sys.stderr)
        return 2
    region = resolve_region(args.region)
    endpoint_url = None if args.aws else (args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL"))
    if args.writes % args.keys:
        print(
            f"streamlab bench: {args.writes} writes over {args.keys} keys: rounding up to {args.keys} "
            f"x {math.ceil(args.writes / args.keys)}",
            file=sys.stderr,
        )
    started: Backend | None = None
    if endpoint_url is None and not args.aws:
        started = backend_from_name(args.backend or "embedded")
        try:
            endpoint_url = started.start()
        except BackendUnavailable as error:
            print(f"streamlab bench: {error}", file=sys.stderr)
            return 2
    where = "in-process" if started is not None and started.name == "embedded" else "started by bench"
    label = f"{started.name} ({where}) {endpoint_url}" if started is not None else (endpoint_url or f"AWS {region}")
    if args.aws:
        print(f"warning: {AWS_CLOCK_WARNING}", file=sys.stderr)
    config = BenchConfig(
        endpoint_url=endpoint_url,
        region=region,
        writes=args.writes,
        keys=args.keys,
        rate=args.rate,
        writers=args.writers,
        floor_writes=args.floor_writes,
        drain_timeout=args.timeout if args.timeout is not None else (120.0 if args.aws else 30.0),
        role_arn=args.role_arn,
        writer_client=args.writer_client,
        label=label,
        table=args.table,
    )
    try:
        result = run_bench(config, log=lambda line: print(line, file=sys.stderr, flush=True))
    except (TimeoutError, TableShapeError) as error:
        print(f"streamlab bench: {error}", file=sys.stderr)
        return 1
    finally:
        if started is not None:
            started.stop()
    document = result_document(result)
    print(format_table(document), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    if args.html:
        Path(args.html).write_text(render_html(document), encoding="utf-8")
        print(f"wrote {args.html}")
    return 0 if result.report.clean else 1


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m streamlab.measure.bench`` (the same as ``streamlab bench``)."""
    parser = argparse.ArgumentParser(prog="streamlab bench", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
