"""The ``streamlab`` command line (interface fixed in DESIGN.md: extend, don't rename)."""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from streamlab.aws_rules import REGION_ORDER, STREAM_RETENTION_SECONDS, resolve_region
from streamlab.backends.base import BACKEND_NAMES
from streamlab.emulator.endpoint import DEFAULT_HOST, DEFAULT_PORT, ESM_CADENCE_ENV, ESM_CADENCES
from streamlab.emulator.http_server import DEFAULT_SERVER, SERVER_KINDS
from streamlab.emulator.streams.store import MAX_SHARDS
from streamlab.endpoints import EndpointError, add_target_arguments, target_endpoint

if TYPE_CHECKING:
    from streamlab.measure.delivery import DeliveryReport


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _region(args: argparse.Namespace) -> str:
    return resolve_region(args.region)


def _use_dummy_credentials_for_local_endpoint() -> None:
    """Local endpoints accept any credentials; don't make a newcomer configure some."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")


def _whole_number(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low} and {high}")
        return value

    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return value


def cmd_up(args: argparse.Namespace) -> int:
    from streamlab.emulator.endpoint import EmbeddedEndpoint
    from streamlab.emulator.http_server import PortInUseError, ServerSettings
    from streamlab.emulator.streams import StreamSettings

    if not _is_loopback(args.host):
        print(
            f"warning: binding {args.host}: the embedded endpoint has no authentication; "
            "anyone who can reach this address can use it",
            file=sys.stderr,
        )
    problem = _up_source_problem(args)
    if problem:
        print(f"streamlab up: {problem}", file=sys.stderr)
        return 2
    from streamlab.emulator.awslambda.interpreters import (
        INTERPRETERS_ENV,
        InterpreterConfigError,
        parse_named_interpreters,
    )

    try:
        pythons = parse_named_interpreters(args.python or os.environ.get(INTERPRETERS_ENV))
    except InterpreterConfigError as error:
        print(f"streamlab up: --python / ${INTERPRETERS_ENV}: {error}", file=sys.stderr)
        return 2
    try:
        settings = ServerSettings() if args.server_threads is None else ServerSettings(threads=args.server_threads)
        endpoint = EmbeddedEndpoint(
            host=args.host,
            port=args.port,
            server=args.server,
            esm_cadence=args.esm_cadence,
            lambda_pythons=pythons,
            server_settings=settings,
            log_events_per_group=args.log_events_per_group,
            stream_settings=StreamSettings(
                shards=args.stream_shards,
                rotation_seconds=args.shard_rotation,
                retention_seconds=args.stream_retention,
            ),
        )
    except PortInUseError as error:
        print(f"streamlab up: {error} (choose another with --port)", file=sys.stderr)
        return 1

    stop = threading.Event()

    def on_signal(*_: object) -> None:
        if not stop.is_set():
            stop.set()
            # However long stopping takes (thousands of environments, a wedged thread), exit in time.
            watchdog = threading.Timer(SHUTDOWN_SECONDS - 0.5, _exit_now, args=(1, "stopping took too long"))
            watchdog.daemon = True
            watchdog.start()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    _attach_console(endpoint, args)
    endpoint.start()
    try:
        url = endpoint.url
        # Which Python each runtime runs on is searched for once (seconds on a busy machine); it is
        # known before the Ready line, so the first health answer after it is as quick as the rest.
        endpoint.lambda_service.runtimes()
        stack_note = _up_deploy(args, endpoint, stop)
        print(f"Ready: {url} (embedded endpoint, {stack_note}; Ctrl-C to stop)", flush=True)
        while not stop.wait(0.5):
            pass
        print("Stopping", flush=True)
        code = 0
    except Exception as error:  # deploy failures end `up` with the reason, not a traceback
        print(f"streamlab up: {type(error).__name__}: {error}", file=sys.stderr)
        code = 1
    try:
        endpoint.stop()
    finally:
        _exit_now(code)
    return code  # not reached: _exit_now ends the process


def _attach_console(endpoint: Any, args: argparse.Namespace) -> None:
    """``up``'s one line per invocation or failure (see :mod:`streamlab.up_console`)."""
    import logging

    from streamlab.up_console import UpConsole, Verbosity

    verbosity = Verbosity.QUIET if args.quiet else Verbosity.VERBOSE if args.verbose else Verbosity.NORMAL
    endpoint.telemetry.add(UpConsole(verbosity))
    if verbosity != Verbosity.VERBOSE:
        # The console says what the engine's warnings say, with the function and the error.
        logging.getLogger("streamlab.emulator.esm").setLevel(logging.ERROR)


def _run_against_endpoint(
    command: str, run: Callable[[argparse.Namespace, str | None], int], args: argparse.Namespace
) -> int:
    """A read-only command against an endpoint: its errors as one line, Ctrl-C as a quiet exit."""
    try:
        return run(args, _target(args))
    except EndpointError as error:
        print(f"streamlab {command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    except OSError as error:
        print(f"streamlab {command}: {error}", file=sys.stderr)
        return 1


def cmd_status(args: argparse.Namespace) -> int:
    from streamlab import status_cli

    return _run_against_endpoint("status", status_cli.run, args)


def cmd_trace(args: argparse.Namespace) -> int:
    from streamlab import trace_cli

    return _run_against_endpoint("trace", trace_cli.run, args)


def _up_source_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with what ``up`` was told to deploy."""
    if args.no_deploy:
        return "--watch needs a template to deploy (drop --no-deploy)" if args.watch else None
    if args.template is None or not args.template.is_file():
        return f"no template at {args.template} (use --template PATH or --no-deploy)"
    return None


def _up_deploy(args: argparse.Namespace, endpoint: Any, stop: threading.Event) -> str:
    """Deploy what ``up`` was told to; the note its Ready line carries."""
    from streamlab import templates_cli

    if args.no_deploy:
        return "no stack deployed"
    _use_dummy_credentials_for_local_endpoint()
    deployment = templates_cli.deploy_into(endpoint, args, _region(args))
    if args.watch:
        templates_cli.start_watch(deployment, endpoint.url, _region(args), stop)
    return f"stack {deployment.stack.name} deployed from {args.template}"


#: ``streamlab up`` exits this soon after SIGINT / SIGTERM, whatever the endpoint holds.
SHUTDOWN_SECONDS = 5.0


def _exit_now(code: int, reason: str = "") -> None:
    """End the process without the interpreter's teardown: with gigabytes of moto state, freeing
    every object (and the garbage collector's passes over them) took minutes."""
    if reason:
        print(f"streamlab up: {reason}; exiting", file=sys.stderr)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _target(args: argparse.Namespace) -> str | None:
    """``--endpoint-url`` / AWS_ENDPOINT_URL / the local endpoint; None (AWS) only with ``--aws``."""
    endpoint_url = target_endpoint(args.endpoint_url, args.aws)
    if endpoint_url is None:
        # boto3 reads AWS_ENDPOINT_URL(_<SERVICE>) itself: with --aws it must not redirect anything.
        for name in [n for n in os.environ if n == "AWS_ENDPOINT_URL" or n.startswith("AWS_ENDPOINT_URL_")]:
            del os.environ[name]
    else:
        _use_dummy_credentials_for_local_endpoint()
    return endpoint_url


def cmd_deploy(args: argparse.Namespace) -> int:
    from streamlab import templates_cli

    try:
        endpoint_url = _target(args)
    except EndpointError as error:
        print(f"streamlab deploy: {error}", file=sys.stderr)
        return 2
    return templates_cli.cmd_deploy_template(args, endpoint_url, _region(args))


def cmd_demo(args: argparse.Namespace) -> int:
    """The quick start's main job: the embedded stack, deployed, and a measurement of it."""
    import boto3

    from streamlab.emulator.endpoint import EmbeddedEndpoint
    from streamlab.measure.floor import measure_floor

    _use_dummy_credentials_for_local_endpoint()
    region = _region(args)
    with EmbeddedEndpoint(port=0) as endpoint:
        print(f"embedded endpoint at {endpoint.url}", flush=True)
        from streamlab import templates_cli

        deployment = templates_cli.deploy_into(endpoint, args, region)
        args.probe_table = deployment.stack.resources["Orders"]
        args.probe_function = deployment.stack.resources["Probe"]
        clients = {
            name: boto3.client(name, endpoint_url=endpoint.url, region_name=region)
            for name in ("dynamodb", "dynamodbstreams", "logs")
        }
        print(
            f"\nwriting {args.writes} orders ({args.keys} keys) at {args.rate:g}/s; the probe handler "
            "reports each record...",
            flush=True,
        )
        handler = _measure_probe(clients, args)
        print(f"measuring the write -> stream floor ({args.writes} writes, PutItem then GetRecords)...", flush=True)
        floor = measure_floor(clients["dynamodb"], clients["dynamodbstreams"], writes=args.writes)

    print(f"\n{'measurement (ms)':<36}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}")
    for label, latency in (
        ("PutItem sent -> probe handler", handler.latency_ms),
        ("PutItem ack -> GetRecords floor", floor.latency_ms),
    ):
        if latency is None:
            print(f"{label:<36}{'-':>9}{'-':>9}{'-':>9}{'-':>9}")
            continue
        print(f"{label:<36}" + "".join(f"{latency[q]:>9.2f}" for q in ("p50", "p90", "p99", "max")))
    print(
        f"\nprobe: {handler.writes} writes, {handler.delivered} delivered, {handler.lost} lost, "
        f"{handler.duplicates} duplicates, {handler.order_violations} order violations"
    )
    return 0 if handler.clean else 1


def _measure_probe(clients: dict[str, Any], args: argparse.Namespace) -> DeliveryReport:
    """Write ``args.writes`` versions over ``args.keys`` orders to Orders, paced at ``args.rate``;
    read the probe's lines from CloudWatch Logs and compare.

    Latency runs from just before each PutItem is sent: the embedded engine is woken by the
    write itself, so a handler often runs before the writer has read the HTTP answer, and a
    latency from the acknowledgement would be negative.
    """
    import time
    import uuid

    from streamlab.measure.delivery import analyze
    from streamlab.measure.probe_logs import collect_deliveries

    run = uuid.uuid4().hex[:6]
    keys = [f"demo-{run}-{k}" for k in range(args.keys)]
    start_ms = int(time.time() * 1000) - 1000
    writes = []
    interval = 1.0 / args.rate
    next_at = time.perf_counter()
    for n in range(args.writes):
        key, version = keys[n % len(keys)], n // len(keys) + 1
        next_at += interval
        pause = next_at - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        sent = time.time()
        clients["dynamodb"].put_item(
            TableName=args.probe_table,
            Item={
                "order_id": {"S": key},
                "version": {"N": str(version)},
                "customer_id": {"S": "demo"},
                "total": {"N": "10"},
                "written_at": {"N": repr(sent)},
            },
        )
        writes.append((key, version, sent))
    deliveries = collect_deliveries(
        clients["logs"], args.probe_function, start_ms, set(keys), expected=len(writes), timeout=30
    )
    return analyze(writes, deliveries)


def cmd_logs(args: argparse.Namespace) -> int:
    from streamlab import logs_cli

    try:
        args.endpoint_url = _target(args)
        return logs_cli.run(args)
    except EndpointError as error:
        print(f"streamlab logs: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


def cmd_conformance(args: argparse.Namespace) -> int:
    from streamlab.conformance import run_conformance

    endpoint_url = args.endpoint_url or (os.environ.get("AWS_ENDPOINT_URL") if args.backend != "aws" else None)
    if endpoint_url:
        _use_dummy_credentials_for_local_endpoint()
    extra_args = ["-k", args.select] if args.select else None
    return run_conformance(endpoint_url, args.json, args.backend, extra_args=extra_args)


def cmd_streams(args: argparse.Namespace) -> int:
    from streamlab import streams_cli

    args.aws = getattr(args, "aws", False)  # split has no --aws: only a streamlab endpoint splits
    try:
        endpoint_url = _target(args)
    except EndpointError as error:
        print(f"streamlab streams: {error}", file=sys.stderr)
        return 2
    return streams_cli.run(args, endpoint_url)


def cmd_redrive(args: argparse.Namespace) -> int:
    from streamlab.redrive import RedriveError, redrive

    try:
        endpoint_url = _target(args)
        report = redrive(args.queue, endpoint_url, args.region, log=lambda line: print(line, flush=True))
    except (RedriveError, EndpointError) as error:
        print(f"streamlab redrive: {error}", file=sys.stderr)
        return 2
    return 0 if report.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamlab",
        description="A local AWS endpoint, stack deploy and measurements for DynamoDB Streams -> Lambda applications.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start the embedded AWS endpoint and deploy the stack")
    up.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default %(default)s)")
    up.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default %(default)s; 0 picks a free one)")
    from streamlab import templates_cli

    templates_cli.add_template_arguments(up, templates_cli.DEFAULT_TEMPLATE)
    templates_cli.add_watch_argument(up)
    up.add_argument("--no-deploy", action="store_true", help="start the endpoint without deploying a stack")
    up.add_argument("--region", help=f"region to deploy into (default: {REGION_ORDER})")
    up.add_argument(
        "--esm-cadence",
        choices=ESM_CADENCES,
        default=None,
        help="how mappings find new records: wake on each write (default) or poll 4 times a second like AWS "
        f"(default from ${ESM_CADENCE_ENV}, else wake)",
    )
    up.add_argument(
        "--stream-shards",
        type=_whole_number(1, MAX_SHARDS),
        default=1,
        metavar="N",
        help="shards each table's stream starts with (default %(default)s; a table's tag streamlab:stream-shards "
        "overrides it)",
    )
    up.add_argument(
        "--shard-rotation",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="close every open shard and open a child for it this often (default: never; AWS does it every few hours)",
    )
    up.add_argument(
        "--stream-retention",
        type=_seconds,
        default=STREAM_RETENTION_SECONDS,
        metavar="SECONDS",
        help="how long stream records are kept before they are trimmed (default %(default)s, AWS's 24 hours)",
    )
    up.add_argument(
        "--python",
        action="append",
        metavar="RUNTIME=PATH",
        help="the interpreter a Lambda runtime runs on, e.g. python3.12=/usr/bin/python3.12 (repeatable; default "
        "from $STREAMLAB_LAMBDA_PYTHONS, else found on PATH, in pyenv or among uv's Pythons)",
    )
    up.add_argument(
        "--log-events-per-group",
        type=int,
        default=None,
        metavar="N",
        help="CloudWatch Logs events a log group keeps, oldest dropped first (default 100000)",
    )
    chatter = up.add_mutually_exclusive_group()
    chatter.add_argument("--quiet", action="store_true", help="print failures only (not every invocation)")
    chatter.add_argument(
        "--verbose", action="store_true", help="also print what mappings read and filter, and whole error messages"
    )
    # For benchmarks/concurrency.py, which compares servers: not part of the interface.
    up.add_argument("--server", choices=SERVER_KINDS, default=DEFAULT_SERVER, help=argparse.SUPPRESS)
    up.add_argument("--server-threads", type=int, default=None, help=argparse.SUPPRESS)
    up.set_defaults(func=cmd_up)

    dep = sub.add_parser("deploy", help="apply the stack to an endpoint (the local one unless --aws)")
    add_target_arguments(dep)
    templates_cli.add_template_arguments(dep, templates_cli.DEFAULT_TEMPLATE)
    dep.add_argument("--region", help=f"region (default: {REGION_ORDER})")
    dep.set_defaults(func=cmd_deploy)

    from streamlab import logs_cli

    logs = sub.add_parser("logs", help="print a function's CloudWatch Logs (START/END/REPORT and its output)")
    logs_cli.add_arguments(logs)
    logs.set_defaults(func=cmd_logs)

    redrive = sub.add_parser(
        "redrive",
        help="redrive a failure queue: re-invoke functions with the stream records, events or invocation "
        "records it holds, or move a dead-letter queue back to its source",
    )
    redrive.add_argument("--queue", required=True, help="the on-failure queue: URL, ARN or name")
    add_target_arguments(redrive)
    redrive.add_argument("--region", help=f"region (default: {REGION_ORDER})")
    redrive.set_defaults(func=cmd_redrive)

    from streamlab import streams_cli

    streams = sub.add_parser("streams", help="a table's stream: split its shards (embedded), print its lineage")
    streams_cli.add_arguments(streams)
    streams.set_defaults(func=cmd_streams)

    from streamlab import status_cli, trace_cli

    status = sub.add_parser("status", help="mappings, functions and streams: state, errors, iterator age, DLQs")
    status_cli.add_arguments(status)
    status.set_defaults(func=cmd_status)

    trace = sub.add_parser("trace", help="an item's stream records and what each mapping did with them")
    trace_cli.add_arguments(trace)
    trace.set_defaults(func=cmd_trace)

    from streamlab.measure import bench

    bench_parser = sub.add_parser(
        "bench", help="end-to-end latency, loss, per-key order and throughput, beside the raw floor"
    )
    bench.add_arguments(bench_parser)
    bench_parser.set_defaults(func=bench.run)

    conformance = sub.add_parser("conformance", help="run the event source mapping conformance suite; print a matrix")
    conformance.add_argument(
        "--endpoint-url", help="endpoint to test (default: AWS_ENDPOINT_URL, else the backend is started)"
    )
    conformance.add_argument("--json", help="also write the results here")
    conformance.add_argument(
        "--backend",
        choices=BACKEND_NAMES,
        default=None,
        help="backend to start, or what --endpoint-url is, for its timing (default: $STREAMLAB_BACKEND, else embedded)",
    )
    conformance.add_argument(
        "-k", dest="select", metavar="EXPRESSION", help="only the scenarios whose names match (pytest's -k)"
    )
    conformance.set_defaults(func=cmd_conformance)

    demo = sub.add_parser("demo", help="start the embedded stack, deploy it, measure it, stop")
    templates_cli.add_template_arguments(demo, templates_cli.DEFAULT_TEMPLATE)
    demo.add_argument("--writes", type=int, default=300, help="writes to measure (default %(default)s)")
    demo.add_argument("--keys", type=int, default=10, help="orders the writes are spread over (default %(default)s)")
    demo.add_argument("--rate", type=float, default=50.0, help="writes per second (default %(default)s)")
    demo.add_argument("--region", help=f"region (default: {REGION_ORDER})")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ClientError as error:  # an AWS error: its code and message are what the user needs
        details = error.response.get("Error", {})
        print(f"streamlab {args.command}: {details.get('Code')}: {details.get('Message')}", file=sys.stderr)
    except BotoCoreError as error:  # no endpoint, no credentials, ...
        print(f"streamlab {args.command}: {error}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
