"""Locust load test: boto3 writers and the end-to-end stream latency, side by side.

    locust -f loadtests/locustfile.py --headless -u 20 -r 5 -t 60s --csv reports/locust --json

Targets ``--host`` if given, else ``AWS_ENDPOINT_URL``, else real AWS (the default credential
chain); the region is ``AWS_DEFAULT_REGION``, the profile's, ``AWS_REGION``, else us-east-1.
A local endpoint with no credentials configured gets dummy ones.

What Locust shows:

- request type ``DynamoDB``, names ``PutItem`` and ``UpdateItem``: each boto3 call, timed around
  the call; a ``ClientError`` (or a connection error) is a failure. boto3's retries are off, so
  a throttle shows up as a failure instead of as a slow request. These are the run's requests:
  its RPS and response-time percentiles are theirs alone;
- the stream metric, ``write->handler``, beside them and not among them (a delivered record is
  not a request the test made: counted as one it doubled the RPS). Per record the probe handler
  (``handlers/probe.py``) reported, ``processed_at - written_at``: from just before the write was
  sent until the Lambda handler had it, with the records seen, redelivered, out of order for
  their key, and the acknowledged writes never seen (:mod:`streamlab.measure.stream_tally`).
  The web UI has a "Stream latency" tab (and its CSV download); a headless run logs one line at
  the end, ``--csv PREFIX`` also writes ``PREFIX_stream_latency.csv`` and ``--stream-json PATH``
  the same figures as JSON. The probe's lines are read back from CloudWatch Logs
  (:func:`streamlab.measure.probe_logs.probe_lines`), so this works on every backend. On AWS the
  two stamps come from two clocks (this machine's and Lambda's).

Where the writes go:

- ``--table NAME``: a table of yours, whatever its key schema (a string, number or binary
  partition key, a sort key or not): a probe function is mapped to its stream (it must carry new
  images) and the writes use its keys and two attributes of the probe's own
  (:mod:`streamlab.measure.item_shape`, as ``streamlab bench --table``). The table stays; the probe
  and the items the run wrote are removed when it ends (``--keep-items`` keeps the items);
- ``--probe-target stack``: the demo stack's Orders table, if its probe function is mapped to the
  table's stream: the stack ``--stack-name`` (default ``streamlab-shop``, what ``streamlab up``
  deploys) names both in its ``OrdersTable`` and ``ProbeFunction`` outputs, or ``--orders-table``
  and ``--probe-function`` name them. The attribute names come from the probe's PROBE_*
  environment. Orders are written with status ``Draft`` and edited through ``Editing`` /
  ``OnHold``: no pipeline stage's filter matches those (the shop's notifications and analytics,
  which react to every new order, do see them);
- ``--probe-target own``: a table, probe function and mapping of this run's own, deployed through
  boto3 (``streamlab.measure.probe_stack``) when the test starts and removed when it stops;
- ``--probe-target auto`` (default, without ``--table``): ``stack`` when it is deployed, else ``own``.

Only one collector reads the logs: on the local runner, or on the master when distributed
(``--processes`` / ``--master``). Setup happens there too, and the workers learn the target and
the run's key prefix from the master's spawn message (Locust forwards custom options). Each run
writes keys ``locust-<run tag>-...`` (six digits of the run for a number key), so only this
run's records are counted.

gevent: ``locust`` monkey-patches the standard library (``gevent.monkey.patch_all``) before
this file is imported, so boto3/urllib3 use cooperative sockets; nothing here imports ssl or
boto3 before that. Importing this module outside the ``locust`` command (for example in a
unit test) imports ``locust`` first for the same reason.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import gevent
import locust  # noqa: F401  first: gevent's monkey patching must precede boto3/urllib3/ssl
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from flask import Response, request
from locust import User, between, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import WORKER_REPORT_INTERVAL, MasterRunner, WorkerRunner

from streamlab.aws_rules import resolve_region
from streamlab.measure.item_shape import ItemShape, shape_of
from streamlab.measure.probe_logs import probe_lines
from streamlab.measure.stream_tally import StreamTally, summary_csv, summary_line

log = logging.getLogger("streamlab.locust")

#: The probe's defaults (handlers/probe.py) when its environment names no attributes.
DEFAULT_SHAPE = ItemShape()
#: Statuses no demo pipeline filter matches (those react to Created/Validated/Paid/InventoryReserved).
LOAD_STATUSES = ("Draft", "Editing", "OnHold")

STREAM_NAME = "write->handler"
STREAM_TAB = "stream-latency"
STREAM_CSV_ROUTE = "/stream-latency/csv"
WRITE_REQUEST_TYPE = "DynamoDB"
#: How far back each logs poll reaches before the newest line seen: covers lines of one batch
#: printed together and log events stamped a little after ``processed_at``.
OVERLAP_MS = 10_000
POLL_INTERVAL = 1.0
SHARED_OPTION = "streamlab_load"  # a parsed_options attribute: Locust forwards it to workers
#: Master -> workers when the test is stopping. A headless ``--run-time`` ends a distributed
#: run with the master's ``test_stop`` *before* the workers are told to quit; without this they
#: would go on writing while the collector drains, and their last records would never be read.
STOP_WRITES_MESSAGE = "streamlab_stop_writes"
#: How long a master's count of its workers' writes must hold before the drain may end.
REPORTS_SETTLE = WORKER_REPORT_INTERVAL + 0.5
BATCH_DELETE_LIMIT = 25  # BatchWriteItem's limit
_writing = {"stopped": False}


# --- command line --------------------------------------------------------------------------------


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    group = parser.add_argument_group("streamlab")
    group.add_argument(
        "--table",
        default="",
        env_var="STREAMLAB_LOAD_TABLE",
        help="a table of yours to load, any key schema, its stream with new images: a probe is mapped to the "
        "stream and removed at the end with the items written (the table stays)",
    )
    group.add_argument(
        "--keep-items", action="store_true", default=False, help="with --table: leave the items the run wrote"
    )
    group.add_argument(
        "--probe-target",
        choices=("auto", "stack", "own"),
        default="auto",
        env_var="STREAMLAB_PROBE_TARGET",
        help="without --table. stack: the demo stack's Orders table and probe (--stack-name, or --orders-table and "
        "--probe-function); own: a probe table of this run's own; auto: stack if deployed, else own",
    )
    group.add_argument(
        "--stack-name", default="streamlab-shop", help="the demo stack whose OrdersTable and ProbeFunction to use"
    )
    group.add_argument("--orders-table", default="", help="the table to write to (its physical name)")
    group.add_argument("--probe-function", default="", help="the probe function mapped to that table")
    group.add_argument(
        "--stream-drain",
        type=float,
        default=10.0,
        help="at most this many seconds of reading probe lines after the users stop (less once every write is seen)",
    )
    group.add_argument("--stream-json", default="", help="write the stream metric's figures to this JSON file")


def _option(environment: Environment, name: str, default: Any) -> Any:
    options = environment.parsed_options
    return getattr(options, name, default) if options is not None else default


# --- boto3 ---------------------------------------------------------------------------------------

_sessions: dict[tuple[str | None, str], boto3.Session] = {}


def endpoint_url(environment: Environment) -> str | None:
    """``--host`` (also the web UI's host field), else AWS_ENDPOINT_URL, else None (AWS)."""
    return (environment.host or os.environ.get("AWS_ENDPOINT_URL") or "").rstrip("/") or None


def region_name() -> str:
    return resolve_region()


def session_for(endpoint: str | None) -> boto3.Session:
    """One session per process; dummy credentials for an endpoint when none are configured."""
    region = region_name()
    session = _sessions.get((endpoint, region))
    if session is None:
        session = boto3.Session(region_name=region)
        if endpoint and session.get_credentials() is None:
            session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=region)
        _sessions[(endpoint, region)] = session
    return session


def client(environment: Environment, service: str) -> Any:
    endpoint = endpoint_url(environment)
    # No retries: a load test reports what the service answered, throttles included.
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30, max_pool_connections=4)
    return session_for(endpoint).client(service, endpoint_url=endpoint, config=config)


# --- the target: which table, which probe, which item shape ---------------------------------------


def _target(table: str, function: str, shape: ItemShape, *, orders: bool, remove_items: bool) -> dict[str, Any]:
    """What the workers are told (Locust forwards it in its spawn message: plain values only)."""
    return {
        "table": table,
        "function": function,
        "shape": dataclasses.asdict(shape),
        "orders": orders,  # the demo stack's Orders: order attributes, statuses no stage reacts to
        "remove_items": remove_items,
    }


def stack_names(environment: Environment) -> tuple[str, str] | None:
    """The Orders table and probe function: as named, else the demo stack's outputs."""
    table_name = _option(environment, "orders_table", "")
    function_name = _option(environment, "probe_function", "")
    if table_name and function_name:
        return table_name, function_name
    stack = _option(environment, "stack_name", "streamlab-shop")
    try:
        described = client(environment, "cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as error:
        log.info("no stack %s (%s)", stack, error.response["Error"].get("Message"))
        return None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    table_name, function_name = table_name or outputs.get("OrdersTable"), function_name or outputs.get("ProbeFunction")
    if not (table_name and function_name):
        log.info("stack %s has no OrdersTable and ProbeFunction outputs", stack)
        return None
    return table_name, function_name


def find_stack_target(environment: Environment) -> dict[str, Any] | None:
    """The demo stack's table and probe, if the probe is mapped to the table's stream; else None."""
    names = stack_names(environment)
    if names is None:
        return None
    table_name, function_name = names
    ddb, lam = client(environment, "dynamodb"), client(environment, "lambda")
    try:
        table = ddb.describe_table(TableName=table_name)["Table"]
        config = lam.get_function_configuration(FunctionName=function_name)
        mappings = lam.list_event_source_mappings(FunctionName=function_name)["EventSourceMappings"]
    except ClientError as error:
        log.info("no stack probe (%s: %s)", error.response["Error"]["Code"], error.response["Error"].get("Message"))
        return None
    variables = (config.get("Environment") or {}).get("Variables") or {}
    problems = []
    try:
        table_shape, stream_arn = shape_of(table)
    except ValueError as error:
        problems.append(str(error))
    else:
        shape = dataclasses.replace(
            table_shape,
            version_attribute=variables.get("PROBE_VERSION_ATTRIBUTE", DEFAULT_SHAPE.version_attribute),
            written_at_attribute=variables.get("PROBE_WRITTEN_AT_ATTRIBUTE", DEFAULT_SHAPE.written_at_attribute),
        )
        probe_key = variables.get("PROBE_KEY_ATTRIBUTE", DEFAULT_SHAPE.key_attribute)
        if probe_key != shape.key_attribute:
            problems.append(f"the probe reports {probe_key!r}, the table's partition key is {shape.key_attribute!r}")
        if not any(
            m.get("EventSourceArn") == stream_arn and m.get("State") in ("Enabled", "Enabling", "Creating", "Updating")
            for m in mappings
        ):
            problems.append(f"{function_name} is not mapped to its stream")
    if problems:
        log.info("not using table %s: %s", table_name, "; ".join(problems))
        return None
    return _target(table_name, function_name, shape, orders=True, remove_items=False)


def deploy_own_target(environment: Environment) -> dict[str, Any]:
    """A table, probe function and mapping of this run's own (streamlab.measure.probe_stack, boto3 only),
    removed when the test stops."""
    from streamlab.measure.probe_stack import deploy_probe, teardown_probe

    probe = deploy_probe(endpoint_url(environment), region_name(), prefix="streamlab-locust")
    _teardowns.append(lambda: teardown_probe(probe))
    return _target(probe.table, probe.function, DEFAULT_SHAPE, orders=False, remove_items=False)


def attach_to_table(environment: Environment, table: str) -> dict[str, Any]:
    """A probe mapped to a user's own table (streamlab.measure.probe_stack.attach_probe), removed when
    the test stops; the table stays."""
    from streamlab.measure.probe_stack import attach_probe, teardown_probe

    probe, shape = attach_probe(endpoint_url(environment), region_name(), table)
    _teardowns.append(lambda: teardown_probe(probe))
    keep = bool(_option(environment, "keep_items", False))
    return _target(probe.table, probe.function, shape, orders=False, remove_items=not keep)


_targets: dict[tuple[str | None, str, str], dict[str, Any]] = {}
#: What the run deployed, removed when Locust quits (after the stream is drained: see _on_quitting).
_teardowns: list[Callable[[], None]] = []


def resolve_target(environment: Environment) -> dict[str, Any]:
    """What ``--table`` or ``--probe-target`` names, set up if needed; cached per endpoint."""
    table = _option(environment, "table", "")
    mode = "table" if table else _option(environment, "probe_target", "auto")
    key = (endpoint_url(environment), region_name(), f"{mode}:{table}")
    if key not in _targets:
        if mode == "table":
            _targets[key] = attach_to_table(environment, table)
        else:
            target = find_stack_target(environment) if mode in ("auto", "stack") else None
            if target is None and mode == "stack":
                where = key[0] or "AWS"
                raise RuntimeError(f"--probe-target stack: no usable stack probe at {where} (see the log above)")
            _targets[key] = target or deploy_own_target(environment)
        log.info(
            "writing to table %s, end-to-end latency from %s's log", _targets[key]["table"], _targets[key]["function"]
        )
    return _targets[key]


def shared(environment: Environment) -> dict[str, Any] | None:
    """The run's target and key prefix, as the master (or local runner) decided them."""
    if environment.parsed_options is not None:
        return getattr(environment.parsed_options, SHARED_OPTION, None)
    return _local_shared.get("run")


_local_shared: dict[str, dict[str, Any]] = {}


# --- the stream latency collector --------------------------------------------------------------


def writes_acknowledged(environment: Environment) -> int:
    """The run's successful writes (a master's stats hold its workers' reports)."""
    stats = environment.runner.stats if environment.runner is not None else environment.stats
    return sum(
        entry.num_requests - entry.num_failures
        for (name, method), entry in stats.entries.items()
        if method == WRITE_REQUEST_TYPE and name in ("PutItem", "UpdateItem")
    )


class StreamLatencyCollector:
    """Reads the probe's lines of this run's keys into a :class:`StreamTally` (not Locust's requests)."""

    def __init__(self, environment: Environment, function_name: str, key_prefix: str, start_ms: int) -> None:
        self.environment = environment
        self.function_name = function_name
        self.key_prefix = key_prefix
        self.since_ms = start_ms
        self.tally = StreamTally()
        self._acknowledged = (-1, time.monotonic())  # writes acknowledged, and since when
        self._floor_ms = start_ms - OVERLAP_MS
        self._seen: dict[tuple[Any, ...], float] = {}
        self._logs = client(environment, "logs")
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        self._greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        while True:
            self.poll_safely()
            gevent.sleep(POLL_INTERVAL)

    def poll_safely(self) -> int:
        try:
            return self.poll()
        except (ClientError, BotoCoreError) as error:
            log.warning("reading %s's probe lines failed: %s", self.function_name, error)
            return 0

    def poll(self) -> int:
        """Count the lines not counted yet; returns how many."""
        new = 0
        newest_ms = self.since_ms
        for line in probe_lines(self._logs, self.function_name, self.since_ms):
            key, written_at, processed_at = line.get("key"), line.get("written_at"), line.get("processed_at")
            if (
                not (isinstance(key, str) and key.startswith(self.key_prefix))
                or written_at is None
                or processed_at is None
            ):
                continue
            processed_ms = float(processed_at) * 1000
            ident = (line.get("eventID"), line.get("attempt"), processed_at)
            if processed_ms < self._floor_ms or ident in self._seen:
                continue
            self._seen[ident] = processed_ms
            newest_ms = max(newest_ms, int(processed_ms))
            new += 1
            version = line.get("version")
            latency_ms = (float(processed_at) - float(written_at)) * 1000
            self.tally.add(key, version if isinstance(version, int) else None, latency_ms)
        # Next time, read from a little before the newest line; forget what is below that window.
        self.since_ms = max(self.since_ms, newest_ms - OVERLAP_MS)
        self._floor_ms = self.since_ms - OVERLAP_MS
        self._seen = {k: v for k, v in self._seen.items() if v >= self._floor_ms}
        return new

    def summary(self) -> dict[str, Any]:
        return self.tally.summary(writes_acknowledged(self.environment))

    def stop(self, drain: float) -> None:
        """Stop polling; then read until every acknowledged write was seen or ``drain`` seconds pass."""
        if self._greenlet is not None:
            self._greenlet.kill(block=True)
            self._greenlet = None
        deadline = time.monotonic() + drain
        while time.monotonic() < deadline:
            self.poll_safely()
            if self.settled():
                break
            gevent.sleep(0.5)

    def settled(self) -> bool:
        """Every acknowledged write seen. A master learns its workers' writes from their stats
        reports, one every WORKER_REPORT_INTERVAL: the count must also have held for one interval.
        (More records than acknowledged writes is no sign of a late report: a user stopped mid-call
        made a write whose answer it never read.)"""
        summary = self.summary()
        now = time.monotonic()
        if summary["writes_acknowledged"] != self._acknowledged[0]:
            self._acknowledged = (summary["writes_acknowledged"], now)
        if isinstance(self.environment.runner, MasterRunner) and now - self._acknowledged[1] < REPORTS_SETTLE:
            return False
        return bool(summary["not_seen"] == 0)


_collector: dict[str, StreamLatencyCollector] = {}
#: The last finished run's figures: what the web UI shows once the test has stopped.
_finished: dict[str, dict[str, Any]] = {}


def stream_summary() -> dict[str, Any] | None:
    """The running collector's figures, else the last finished run's."""
    current = _collector.get("current")
    return current.summary() if current is not None else _finished.get("summary")


def write_stream_reports(environment: Environment, summary: dict[str, Any]) -> None:
    """The headless outputs: a log line always, the CSV beside Locust's (--csv), JSON (--stream-json)."""
    log.info("%s", summary_line(summary))
    prefix = _option(environment, "csv_prefix", None)
    if prefix:
        Path(f"{prefix}_stream_latency.csv").write_text(summary_csv(summary))
    json_path = _option(environment, "stream_json", "")
    if json_path:
        Path(json_path).write_text(json.dumps(summary, indent=2) + "\n")


# --- the web UI: a "Stream latency" tab beside the requests ----------------------------------------


def _extend_web_ui(environment: Environment) -> None:
    web_ui = environment.web_ui
    if web_ui is None:
        return
    columns = [
        ("name", "Name"),
        ("records", "# records"),
        ("delivered", "# delivered"),
        ("redelivered", "# redelivered"),
        ("out_of_order", "# out of order"),
        ("not_seen", "# writes not seen yet"),
        ("p50", "50%ile (ms)"),
        ("p95", "95%ile (ms)"),
        ("p99", "99%ile (ms)"),
        ("max", "Max (ms)"),
    ]
    web_ui.template_args["extended_tabs"] = [{"title": "Stream latency", "key": STREAM_TAB}]
    web_ui.template_args["extended_tables"] = [
        {"key": STREAM_TAB, "structure": [{"key": key, "title": title} for key, title in columns]}
    ]
    web_ui.template_args["extended_csv_files"] = [
        {"href": STREAM_CSV_ROUTE, "title": "Download stream latency (write->handler) CSV"}
    ]

    @web_ui.app.after_request
    def _with_stream_stats(response: Response) -> Response:
        if request.path != "/stats/requests" or not response.is_json:
            return response
        summary = stream_summary()
        rows = []
        if summary is not None:
            latency = summary["latency_ms"]
            shown = {name: None if value is None else round(value, 1) for name, value in latency.items()}
            rows.append({**{k: v for k, v in summary.items() if k != "latency_ms"}, **shown})
        response.set_data(json.dumps({**response.get_json(), "extended_stats": [{"key": STREAM_TAB, "data": rows}]}))
        return response

    @web_ui.app.route(STREAM_CSV_ROUTE)
    def _stream_csv() -> Response:
        summary = stream_summary() or StreamTally().summary()
        return Response(
            summary_csv(summary),
            mimetype="text/csv",
            headers={"Content-Disposition": "attachment; filename=stream_latency.csv"},
        )


# --- lifecycle -----------------------------------------------------------------------------------


def _is_worker(environment: Environment) -> bool:
    return isinstance(environment.runner, WorkerRunner)


def _fail_setup(environment: Environment, error: Exception) -> None:
    log.error("streamlab load test setup failed: %s: %s", type(error).__name__, error)
    environment.process_exit_code = 1
    if environment.runner is not None:
        gevent.spawn(environment.runner.quit)


@events.init.add_listener
def _on_init(environment: Environment, **_kwargs: Any) -> None:
    if _is_worker(environment):
        environment.runner.register_message(STOP_WRITES_MESSAGE, lambda **_: _writing.update(stopped=True))
        environment.events.quitting.add_listener(lambda **_: remove_written_items(environment))
        return
    environment.events.quitting.add_listener(_on_quitting)
    _extend_web_ui(environment)
    # Headless: set up before the clock of -t/--run-time starts, so the run time is load.
    options = environment.parsed_options
    if options is not None and options.headless:
        try:
            resolve_target(environment)
        except Exception as error:
            _fail_setup(environment, error)


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_kwargs: Any) -> None:
    _writing["stopped"] = False
    if _is_worker(environment):
        return  # the master's spawn message carries the target and the run tag
    try:
        target = resolve_target(environment)
    except Exception as error:
        _fail_setup(environment, error)
        return
    shape = ItemShape(**target["shape"])
    run = {**target, "key_prefix": shape.run_prefix(uuid.uuid4().hex[:8])}
    if environment.parsed_options is not None:
        setattr(environment.parsed_options, SHARED_OPTION, run)
    else:
        _local_shared["run"] = run
    old = _collector.pop("current", None)
    if old is not None:
        old.stop(0)
    collector = StreamLatencyCollector(
        environment, target["function"], run["key_prefix"], int(time.time() * 1000) - 1000
    )
    collector.start()
    _collector["current"] = collector


@events.reset_stats.add_listener
def _on_reset_stats(**_kwargs: Any) -> None:
    current = _collector.get("current")
    if current is not None:
        current.tally = StreamTally()


@events.test_stopping.add_listener
def _on_test_stopping(environment: Environment, **_kwargs: Any) -> None:
    if isinstance(environment.runner, MasterRunner):
        environment.runner.send_message(STOP_WRITES_MESSAGE)


@events.test_stop.add_listener
def _on_test_stop(environment: Environment, **_kwargs: Any) -> None:
    finish_run(environment)


def finish_run(environment: Environment) -> None:
    """Drain the stream and report it, once per run."""
    collector = _collector.pop("current", None)
    if collector is not None:
        collector.stop(_option(environment, "stream_drain", 10.0))
        _finished["summary"] = collector.summary()
        write_stream_reports(environment, _finished["summary"])


def _on_quitting(environment: Environment, **_kwargs: Any) -> None:
    """SIGTERM and the web UI's quit fire ``quitting`` before the runner stops: stop the users and
    drain the stream first, then remove the items written and what the run deployed."""
    if _collector.get("current") is not None and environment.runner is not None:
        environment.runner.stop()
    finish_run(environment)
    remove_written_items(environment)
    while _teardowns:
        _teardowns.pop()()


# --- users ---------------------------------------------------------------------------------------

#: This process's items on a user's table (--table), removed when it quits unless --keep-items.
_written_keys: dict[str, None] = {}


def remove_written_items(environment: Environment) -> None:
    """Best effort, 25 keys per BatchWriteItem: a user's table keeps none of the run's items."""
    run = shared(environment)
    if run is None or not run.get("remove_items") or not _written_keys:
        return
    shape = ItemShape(**run["shape"])
    ddb = client(environment, "dynamodb")
    keys = list(_written_keys)
    _written_keys.clear()
    for start in range(0, len(keys), BATCH_DELETE_LIMIT):
        requests = [{"DeleteRequest": {"Key": shape.key_of(key)}} for key in keys[start : start + BATCH_DELETE_LIMIT]]
        try:
            unprocessed = ddb.batch_write_item(RequestItems={run["table"]: requests}).get("UnprocessedItems")
            if unprocessed:
                ddb.batch_write_item(RequestItems=unprocessed)
        except (ClientError, BotoCoreError) as error:
            log.warning("removing the run's items from %s failed: %s", run["table"], error)
            return
    log.info("removed the run's items from %s (%d keys)", run["table"], len(keys))


class OrdersUser(User):
    """Writes items through boto3 and reports each call as a ``DynamoDB`` request."""

    abstract = True
    host = os.environ.get("AWS_ENDPOINT_URL")
    wait_time = between(0.05, 0.25)
    #: How many of its items a user remembers for updates.
    max_orders = 50

    def on_start(self) -> None:
        run = shared(self.environment)
        if run is None:
            raise StopUser()  # setup failed; the run is ending
        self.table: str = run["table"]
        self.shape = ItemShape(**run["shape"])
        self.orders_table: bool = run["orders"]
        self.remove_items: bool = run["remove_items"]
        self.key_prefix: str = run["key_prefix"]
        self.dynamodb = client(self.environment, "dynamodb")
        self.orders: dict[str, int] = {}  # key -> its latest version

    def call(self, name: str, operation: Callable[..., Any], **kwargs: Any) -> Any:
        if _writing["stopped"]:
            raise StopUser()  # the master is stopping the test (see STOP_WRITES_MESSAGE)
        started = time.perf_counter()
        response, exception, length = None, None, 0
        try:
            response = operation(**kwargs)
            headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            length = int(headers.get("content-length") or 0)
        except (ClientError, BotoCoreError) as error:
            exception = error
        self.environment.events.request.fire(
            request_type=WRITE_REQUEST_TYPE,
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=length,
            exception=exception,
            context={"table": self.table},
        )
        return response if exception is None else None

    def create_order(self) -> None:
        key = self.shape.unique_key(self.key_prefix)
        item = self.shape.item(key, 1, 0.0)
        if self.orders_table:
            item |= {
                "status": {"S": LOAD_STATUSES[0]},
                "customer_id": {"S": "locust"},
                "created_at": {"S": datetime.now(UTC).isoformat()},
                "total": {"N": "10"},
                "currency": {"S": "USD"},
            }
        if self.remove_items:  # before the call: a call cut off at the stop may still have written it
            _written_keys[key] = None
        item[self.shape.written_at_attribute] = {"N": repr(time.time())}  # just before sending: see handlers/probe.py
        if self.call("PutItem", self.dynamodb.put_item, TableName=self.table, Item=item) is not None:
            self.orders[key] = 1
            while len(self.orders) > self.max_orders:
                self.orders.pop(next(iter(self.orders)))

    def update_status(self) -> None:
        if not self.orders:
            self.create_order()
            return
        key = random.choice(list(self.orders))
        version = self.orders[key]
        names = {"#v": self.shape.version_attribute, "#w": self.shape.written_at_attribute}
        values = {":v": {"N": str(version + 1)}, ":prev": {"N": str(version)}}
        update = "SET #v = :v, #w = :w"
        if self.orders_table:
            names["#s"] = "status"
            values[":s"] = {"S": LOAD_STATUSES[1 + version % (len(LOAD_STATUSES) - 1)]}
            update += ", #s = :s"
        values[":w"] = {"N": repr(time.time())}
        response = self.call(
            "UpdateItem",
            self.dynamodb.update_item,
            TableName=self.table,
            Key=self.shape.key_of(key),
            UpdateExpression=update,
            ConditionExpression="#v = :prev",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
        if response is not None:
            self.orders[key] = version + 1


class OrderCreator(OrdersUser):
    """PutItem of new items (version 1)."""

    @task
    def put_new_order(self) -> None:
        self.create_order()


class StatusUpdater(OrdersUser):
    """Creates a few items, then bumps their version (and an order's status) with conditional UpdateItems."""

    def on_start(self) -> None:
        super().on_start()
        for _ in range(3):
            self.create_order()

    @task
    def update_order_status(self) -> None:
        self.update_status()


class MixedUser(OrdersUser):
    """One new item for every three updates of its own items."""

    @task(1)
    def put_new_order(self) -> None:
        self.create_order()

    @task(3)
    def update_order_status(self) -> None:
        self.update_status()
