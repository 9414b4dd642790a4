"""End to end: write -> handler latency at 100 writes/s, the highest clean sustained rate, the floor.

One run, three measurements, on one endpoint (in-process by default, or ``--endpoint-url``):

1. latency: paced writers put K keys x N versions at 100 writes/s into a table whose stream
   feeds a probe function (event source mapping, BatchSize 100); the probe logs one JSON line
   per record (key, version, written_at from the item, processed_at = time.time()). Latency
   is from the writer's PutItem acknowledgement to processed_at (one machine, one clock). The
   engine wakes on the write before the HTTP answer reaches the writer, so a delivery can
   beat the acknowledgement: such latencies are negative and kept. The latency from when
   the PutItem was *sent* is printed beside it (it includes the write's own round trip).
2. ramp: the same at 100, 200, 400, 800 writes/s (more writer processes as it rises); a rate
   is *sustained* when the writers achieved it (>= 95%), every write was delivered, and no
   key's versions arrived out of order on first delivery. The ramp stops at the first rate
   that is not.
3. floor: PutItem then GetRecords in a tight loop (:func:`streamlab.measure.floor.measure_floor`),
   through boto3: the fastest a client of the public API sees a write on the stream. The
   embedded endpoint's own engine reads the stream in-process (no HTTP, no boto3), so its
   write -> handler latency can come in *below* this floor; another backend's cannot.

Deliveries are read back through CloudWatch Logs (FilterLogEvents), the public surface the
later measurement work relies on; loss, duplicates, order and latency come from
:mod:`streamlab.measure.delivery`. Writers are separate processes (:mod:`streamlab.measure.writers`),
one per 50 writes/s (up to 8), each writing its own keys so a key's versions go out in order;
by default they send signed PutItem requests without boto3 (``--writer-client boto3`` to use
it): boto3's CPU per call would otherwise take a 2-core machine's CPU from the endpoint.

4. triggers (``--trigger dynamodb,sqs,kinesis``): the latency phase again, at the same rate and
   length, through an SQS queue and a Kinesis stream (:mod:`streamlab.measure.source_probe`: the
   same probe function, records carrying key/version/written_at as JSON), each printed beside the
   DynamoDB stream path of the same run with its p50/p99 ratio to it. SQS standard queues promise
   no order, so their order violations are informational.

Targets on the 2-core machines: p50 <= 10 ms and p99 <= 50 ms at 100 writes/s; >= 200 writes/s
sustained with zero loss and zero order violations. Figures only: nothing here asserts.

    .venv/bin/python benchmarks/e2e.py [--endpoint-url URL] [--json PATH]
        [--latency-seconds 10] [--ramp 100,200,400,800] [--step-seconds 5] [--floor-writes 200]
        [--writer-client http|boto3] [--trigger dynamodb,sqs,kinesis]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from streamlab.measure.delivery import DeliveryReport, DeliveryTuple, analyze
from streamlab.measure.floor import measure_floor
from streamlab.measure.probe_logs import probe_lines
from streamlab.measure.probe_stack import ProbeStack, deploy_probe, teardown_probe
from streamlab.measure.probe_stack import client as probe_client
from streamlab.measure.source_probe import deploy_source_probe, parse_triggers, teardown_source_probe
from streamlab.measure.source_probe import write_paced as write_source_paced
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

REGION = "us-east-1"
TARGETS = {"p50_ms": 10.0, "p99_ms": 50.0, "sustained_wps": 200.0}
SUSTAINED_FRACTION = 0.95  # of the target rate the writers must achieve
DRAIN_SECONDS = 15.0  # after the last write, how long deliveries may take before the rest counts as lost


def client(service: str, url: str) -> Any:
    return probe_client(service, url, REGION)


@dataclass
class Probe:
    """The deployed probe stack (:mod:`streamlab.measure.probe_stack`), and how to read what it logged."""

    stack: ProbeStack
    flush: Callable[[], Any] | None  # in-process: the Lambda service's flush_logs

    @property
    def url(self) -> str:
        return str(self.stack.endpoint_url)

    @property
    def table(self) -> str:
        return self.stack.table

    def deliveries(self, prefix: str, since_ms: int) -> list[DeliveryTuple]:
        """Every probe line for keys starting with ``prefix``, logged at or after ``since_ms``."""
        if self.flush is not None:
            self.flush()
        return [
            (line["key"], int(line["version"]), float(line["processed_at"]))
            for line in probe_lines(client("logs", self.url), self.stack.function, since_ms)
            if str(line.get("key")).startswith(prefix) and line.get("version") is not None
        ]


def deploy(url: str, flush: Callable[[], Any] | None) -> Probe:
    return Probe(deploy_probe(url, REGION, prefix="e2e"), flush)


def teardown(probe: Probe) -> None:
    teardown_probe(probe.stack)


@dataclass
class Phase:
    name: str
    target_wps: float
    writers: int
    achieved_wps: float
    report: DeliveryReport
    drain_s: float  # from the last write's acknowledgement to the last delivery
    latency_from_send_ms: dict[str, float] | None  # from when each PutItem was sent

    @property
    def sustained(self) -> bool:
        return self.report.clean and self.achieved_wps >= SUSTAINED_FRACTION * self.target_wps

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "target_wps": self.target_wps,
            "writers": self.writers,
            "achieved_wps": round(self.achieved_wps, 1),
            "sustained": self.sustained,
            "drain_s": round(self.drain_s, 3),
            **self.report.as_dict(),
            "latency_from_send_ms": self.latency_from_send_ms,
        }


def run_phase(
    probe: Probe,
    pool: Executor,
    name: str,
    rate: float,
    seconds: float,
    writers: int,
    client: str,
    keys_per_writer: int = 10,
) -> Phase:
    """Write ``rate * seconds`` items with ``writers`` processes, then wait for their deliveries."""
    total = max(1, round(rate * seconds))
    keys = [f"{name}-k{index:03d}" for index in range(keys_per_writer * writers)]
    versions = max(1, math.ceil(total / len(keys)))
    since_ms = int(time.time() * 1000) - 1000
    start_at = time.time() + 0.3
    plans = [
        WriterPlan(probe.url, REGION, probe.table, share, versions, rate * len(share) / len(keys), start_at, client)
        for share in split_keys(keys, writers)
    ]
    writes: list[PacedWrite] = run_paced_writers(pool, plans)
    last_ack = max(ack for _, _, _, ack in writes)
    achieved = len(writes) / max(last_ack - start_at, 1e-9)
    wanted = {(key, version) for key, version, _, _ in writes}
    deadline = time.monotonic() + DRAIN_SECONDS
    while True:
        deliveries = probe.deliveries(f"{name}-", since_ms)
        if wanted <= {(key, version) for key, version, _ in deliveries} or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    report = analyze(acknowledged(writes), deliveries)
    from_send = analyze(sent(writes), deliveries).latency_ms
    drain = max((processed for _, _, processed in deliveries), default=last_ack) - last_ack
    return Phase(name, rate, writers, achieved, report, max(drain, 0.0), from_send)


@dataclass
class TriggerPhase:
    trigger: str
    achieved_wps: float
    report: DeliveryReport

    def as_dict(self, baseline: DeliveryReport) -> dict[str, Any]:
        lat, base = self.report.latency_ms or {}, baseline.latency_ms or {}

        def ratio(name: str) -> float | None:
            return round(lat[name] / base[name], 2) if lat.get(name) is not None and base.get(name) else None

        return {
            "trigger": self.trigger,
            "achieved_wps": round(self.achieved_wps, 1),
            **self.report.as_dict(),
            "p50_ratio_to_dynamodb": ratio("p50"),
            "p99_ratio_to_dynamodb": ratio("p99"),
        }


def run_trigger_phase(
    url: str, flush: Callable[[], Any] | None, trigger: str, rate: float, seconds: float
) -> TriggerPhase:
    """The latency phase through an SQS queue or a Kinesis stream (after a short warm-up)."""
    probe = deploy_source_probe(trigger, url, REGION)
    logs = client("logs", url)

    def deliveries(prefix: str, since_ms: int) -> list[DeliveryTuple]:
        if flush is not None:
            flush()
        return [
            (line["key"], int(line["version"]), float(line["processed_at"]))
            for line in probe_lines(logs, probe.function, since_ms)
            if str(line.get("key")).startswith(prefix) and line.get("version") is not None
        ]

    def phase(name: str, phase_rate: float, phase_seconds: float, key_count: int) -> TriggerPhase:
        since_ms = int(time.time() * 1000) - 1000
        keys = [f"{trigger}-{name}-k{index:03d}" for index in range(key_count)]
        versions = max(1, math.ceil(phase_rate * phase_seconds / len(keys)))
        writes = write_source_paced(probe, keys, versions, phase_rate)
        achieved = len(writes) / max(writes[-1][3] - writes[0][2], 1e-9)
        wanted = {(key, version) for key, version, _, _ in writes}
        deadline = time.monotonic() + DRAIN_SECONDS
        while True:
            seen = deliveries(f"{trigger}-{name}-", since_ms)
            if wanted <= {(key, version) for key, version, _ in seen} or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        return TriggerPhase(trigger, achieved, analyze(acknowledged(writes), seen))

    try:
        warm_up = phase("warm", 20, 1, 5)
        if warm_up.report.lost:
            raise RuntimeError(f"{trigger} warm-up lost {warm_up.report.lost} writes: is the mapping running?")
        return phase("lat", rate, seconds, 10)
    finally:
        teardown_source_probe(probe)


def raw_put_rate(url: str, pool: Executor, writers: int, seconds: float) -> float:
    """PutItem/s the same writer processes reach unpaced, into a plain table (no stream, no mapping)."""
    import uuid

    table = f"e2e-raw-{uuid.uuid4().hex[:8]}"
    ddb = client("dynamodb", url)
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        keys = [f"raw-k{index:03d}" for index in range(10 * writers)]
        # An unreachable pace (10,000 writes/s each) means no writer ever sleeps; a bounded count.
        versions = max(1, math.ceil(400 * seconds / len(keys)))
        start_at = time.time() + 0.3
        plans = [
            WriterPlan(url, REGION, table, share, versions, 10_000.0, start_at, "http")
            for share in split_keys(keys, writers)
        ]
        writes = run_paced_writers(pool, plans)
        return len(writes) / max(max(ack for *_, ack in writes) - start_at, 1e-9)
    finally:
        ddb.delete_table(TableName=table)


def warm(probe: Probe, pool: Executor, client: str) -> None:
    """Cold start, connections and first polls happen here, outside the figures."""
    phase = run_phase(probe, pool, "warm", rate=20, seconds=1, writers=1, client=client, keys_per_writer=5)
    if phase.report.lost:
        raise RuntimeError(f"warm-up lost {phase.report.lost} writes: is the mapping running?")


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_report(result: dict[str, Any]) -> None:
    latency = result["latency_phase"]
    lat = latency["latency_ms"] or {}
    floor = result["floor_latency_ms"]
    print()
    print(
        f"end to end at {latency['target_wps']:.0f} writes/s ({latency['writes']} writes, {latency['writers']} "
        "writers):"
    )
    print(
        f"  latency write ack -> handler  p50 {fmt(lat.get('p50'))} ms  p90 {fmt(lat.get('p90'))} "
        f"ms  p99 {fmt(lat.get('p99'))} ms  max {fmt(lat.get('max'))} ms"
    )
    sent_lat = latency["latency_from_send_ms"] or {}
    print(
        f"  latency write sent -> handler  p50 {fmt(sent_lat.get('p50'))} ms  p90 {fmt(sent_lat.get('p90'))} "
        f"ms  p99 {fmt(sent_lat.get('p99'))} ms  max {fmt(sent_lat.get('max'))} ms"
    )
    print(
        f"  raw floor PutItem -> GetRecords  p50 {fmt(floor['p50'])} ms  p90 {fmt(floor['p90'])} "
        f"ms  p99 {fmt(floor['p99'])} ms  max {fmt(floor['max'])} ms  ({result['floor_samples']} "
        "samples)"
    )
    print(
        f"  lost {latency['lost']}  duplicates {latency['duplicates']}  order violations {latency['order_violations']}"
    )
    print()
    header = (
        f"{'target w/s':>10} {'writers':>7} {'achieved':>9} {'writes':>7} {'lost':>5} {'dup':>4} {'order':>5} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>8} {'drain s':>7}  sustained"
    )
    print("rate ramp:")
    print(header)
    for step in result["ramp"]:
        lat = step["latency_ms"] or {}
        print(
            f"{step['target_wps']:>10.0f} {step['writers']:>7} {step['achieved_wps']:>9.1f} {step['writes']:>7} "
            f"{step['lost']:>5} {step['duplicates']:>4} "
            f"{step['order_violations']:>5} {fmt(lat.get('p50')):>7} {fmt(lat.get('p99')):>7} {fmt(lat.get('max')):>8} "
            f"{step['drain_s']:>7.2f}  {'yes' if step['sustained'] else 'NO'}"
        )
    print()
    met = result["targets_met"]
    print(
        f"highest sustained rate: {result['sustained_wps']:.0f} writes/s (target >= {TARGETS['sustained_wps']:.0f}: "
        f"{'met' if met['sustained_wps'] else 'MISSED'}); raw PutItem rate of the same writers "
        f"{result['raw_put_wps']:.0f}/s: ratio {result['sustained_to_raw']} (issue 12's target >= 0.9)"
    )
    print(
        f"p50 target <= {TARGETS['p50_ms']:.0f} ms: {'met' if met['p50_ms'] else 'MISSED'};  p99 "
        f"target <= {TARGETS['p99_ms']:.0f} ms: {'met' if met['p99_ms'] else 'MISSED'}"
    )
    if result.get("triggers"):
        print()
        print(
            f"write -> handler by trigger, {latency['target_wps']:.0f} writes/s (ratios to this run's DynamoDB path):"
        )
        base = latency["latency_ms"] or {}
        print(
            f"  {'dynamodb':<9} p50 {fmt(base.get('p50')):>7} ms  p99 {fmt(base.get('p99')):>7} ms  "
            f"lost {latency['lost']}  dup {latency['duplicates']}  order {latency['order_violations']}  (baseline)"
        )
        for row in result["triggers"]:
            lat = row["latency_ms"] or {}
            note = "  (standard queue: no order promised)" if row["trigger"] == "sqs" else ""
            print(
                f"  {row['trigger']:<9} p50 {fmt(lat.get('p50')):>7} ms  p99 {fmt(lat.get('p99')):>7} ms  "
                f"lost {row['lost']}  dup {row['duplicates']}  order {row['order_violations']}  "
                f"p50 x{fmt(row['p50_ratio_to_dynamodb'], 2)}  p99 x{fmt(row['p99_ratio_to_dynamodb'], 2)}{note}"
            )
    print(f"run took {result['run_seconds']:.1f} s; load average before/after: {result['load_average']}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--endpoint-url", default=None, help="measure this running endpoint instead of an in-process one"
    )
    parser.add_argument("--latency-rate", type=float, default=100.0)
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--ramp", default="100,200,300,400,500,600,800", help="comma-separated writes/s")
    parser.add_argument("--step-seconds", type=float, default=5.0)
    parser.add_argument("--floor-writes", type=int, default=200)
    parser.add_argument(
        "--writer-client",
        choices=("http", "boto3"),
        default="http",
        help="writers send signed PutItem requests themselves (default: less client CPU on a small machine) "
        "or use boto3",
    )
    parser.add_argument(
        "--trigger",
        default="dynamodb",
        help="comma-separated triggers to measure the latency phase through: dynamodb (always, the baseline), "
        "sqs, kinesis",
    )
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    triggers = [t for t in parse_triggers(args.trigger) if t != "dynamodb"]
    started = time.monotonic()
    load_before = os.getloadavg()

    endpoint = None
    if args.endpoint_url:
        url, flush = args.endpoint_url, None
    else:
        from streamlab.emulator.endpoint import EmbeddedEndpoint

        endpoint = EmbeddedEndpoint(port=0).start()
        url, flush = endpoint.url, endpoint.lambda_service.flush_logs
    ramp_rates = [float(rate) for rate in args.ramp.split(",") if rate.strip()]
    probe = deploy(url, flush)
    pool = writer_pool(max(writers_for(rate) for rate in [args.latency_rate, *ramp_rates]), url, REGION, probe.table)
    try:
        warm(probe, pool, args.writer_client)
        print(f"latency phase: {args.latency_rate:.0f} writes/s for {args.latency_seconds:.0f} s ...", flush=True)
        latency = run_phase(
            probe,
            pool,
            "lat",
            args.latency_rate,
            args.latency_seconds,
            writers_for(args.latency_rate),
            args.writer_client,
        )
        by_trigger: list[TriggerPhase] = []
        for trigger in triggers:
            print(f"latency phase through {trigger}: {args.latency_rate:.0f} writes/s ...", flush=True)
            by_trigger.append(run_trigger_phase(url, flush, trigger, args.latency_rate, args.latency_seconds))
        ramp: list[Phase] = []
        for index, rate in enumerate(ramp_rates):
            print(f"ramp: {rate:.0f} writes/s for {args.step_seconds:.0f} s ...", flush=True)
            step = run_phase(probe, pool, f"r{index}", rate, args.step_seconds, writers_for(rate), args.writer_client)
            ramp.append(step)
            if not step.sustained:
                break
        print("raw PutItem rate: the same writers, unpaced, into a table without a stream ...", flush=True)
        raw_wps = raw_put_rate(url, pool, writers_for(max(ramp_rates or [args.latency_rate])), args.step_seconds)
        print(f"  {raw_wps:.0f} PutItem/s", flush=True)
        print(f"floor: {args.floor_writes} PutItem -> GetRecords ...", flush=True)
        floor = measure_floor(client("dynamodb", url), client("dynamodbstreams", url), writes=args.floor_writes)
    finally:
        pool.shutdown()
        teardown(probe)
        if endpoint is not None:
            endpoint.stop()

    sustained = max((step.target_wps for step in ramp if step.sustained), default=0.0)
    lat = latency.report.latency_ms or {}
    result: dict[str, Any] = {
        "endpoint": args.endpoint_url or "embedded (in-process)",
        "writer_client": args.writer_client,
        "writes": latency.report.writes,
        "processed": latency.report.processed,
        "lost": latency.report.lost,
        "duplicates": latency.report.duplicates,
        "order_violations": latency.report.order_violations,
        "throughput_wps": round(latency.achieved_wps, 1),
        "latency_ms": latency.report.latency_ms,
        "floor_latency_ms": floor.latency_ms,
        "floor_samples": floor.samples,
        "sustained_wps": sustained,
        "raw_put_wps": round(raw_wps, 1),
        "sustained_to_raw": round(sustained / raw_wps, 2) if raw_wps else None,
        "latency_phase": latency.as_dict(),
        "ramp": [step.as_dict() for step in ramp],
        "triggers": [phase.as_dict(latency.report) for phase in by_trigger],
        "targets": TARGETS,
        "targets_met": {
            "p50_ms": bool(lat) and lat["p50"] <= TARGETS["p50_ms"],
            "p99_ms": bool(lat) and lat["p99"] <= TARGETS["p99_ms"],
            "sustained_wps": sustained >= TARGETS["sustained_wps"],
        },
        "cpus": os.cpu_count(),
        "load_average": {"before": [round(v, 2) for v in load_before], "after": [round(v, 2) for v in os.getloadavg()]},
        "run_seconds": round(time.monotonic() - started, 1),
    }
    print_report(result)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
