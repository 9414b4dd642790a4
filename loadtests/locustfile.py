"""Locust load test: boto3 writers and the end-to-end stream latency, side by side.

    locust -f loadtests/locustfile.py --headless -u 20 -r 5 -t 60s --csv reports/locust --json

Targets ``--host`` if given, else ``AWS_ENDPOINT_URL``, else real AWS (the default credential
chain); the region is ``AWS_DEFAULT_REGION``, the profile's, ``AWS_REGION``, else us-east-1.
A local endpoint with no credentials configured gets dummy ones.

What Locust shows:

- request type ``DynamoDB``, names ``PutItem`` and ``UpdateItem``: each boto3 call, timed around
  the call; a ``ClientError`` (or a connection error) is a failure. boto3's retries are off, so
  a throttle shows up as a failure instead of as a slow request;
- request type ``Stream``, name ``write->handler``: one entry per record the probe handler
  (``handlers/probe.py``) reported, ``processed_at - written_at``: from just before the write
  was sent until the Lambda handler had the record. The probe's lines are read back from
  CloudWatch Logs (:func:`streamlab.measure.probe_logs.probe_lines`), so this works on every
  backend. On AWS the two stamps come from two clocks (this machine's and Lambda's).

Where the writes go (``--probe-target``):

- ``stack``: the demo stack's ``Orders`` table, if the ``probe`` function is mapped to its
  stream (names: ``--orders-table``, ``--probe-function``). The attribute names come from the
  probe's PROBE_* environment. Orders are written with status ``Draft`` and edited through
  ``Editing`` / ``OnHold``: no pipeline stage's filter matches those;
- ``own``: a table, probe function and mapping of this run's own, deployed through boto3
  (``streamlab.measure.probe_stack``) when the test starts and removed when it stops;
- ``auto`` (default): ``stack`` when it is deployed, else ``own``.

Only one collector reads the logs: on the local runner, or on the master when distributed
(``--processes`` / ``--master``). Setup happens there too, and the workers learn the target and
the run's key prefix from the master's spawn message (Locust forwards custom options). Each run
writes keys ``locust-<run tag>-...``, so only this run's records are reported.

gevent: ``locust`` monkey-patches the standard library (``gevent.monkey.patch_all``) before
this file is imported, so boto3/urllib3 use cooperative sockets; nothing here imports ssl or
boto3 before that. Importing this module outside the ``locust`` command (for example in a
unit test) imports ``locust`` first for the same reason.
"""

from __future__ import annotations

import logging
import os
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import gevent
import locust  # noqa: F401  first: gevent's monkey patching must precede boto3/urllib3/ssl
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from locust import User, between, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

from streamlab.aws_rules import resolve_region
from streamlab.measure.probe_logs import probe_lines

log = logging.getLogger("streamlab.locust")

#: The probe's defaults (handlers/probe.py) when its environment names no attributes.
DEFAULT_ATTRIBUTES = {"key": "pk", "version": "v", "written_at": "w"}
#: Statuses no demo pipeline filter matches (those react to Created/Validated/Paid/InventoryReserved).
LOAD_STATUSES = ("Draft", "Editing", "OnHold")

STREAM_REQUEST_TYPE = "Stream"
STREAM_NAME = "write->handler"
#: How far back each logs poll reaches before the newest line seen: covers lines of one batch
#: printed together and log events stamped a little after ``processed_at``.
OVERLAP_MS = 10_000
POLL_INTERVAL = 1.0
SHARED_OPTION = "streamlab_load"  # a parsed_options attribute: Locust forwards it to workers
#: Master -> workers when the test is stopping. A headless ``--run-time`` ends a distributed
#: run with the master's ``test_stop`` *before* the workers are told to quit; without this they
#: would go on writing while the collector drains, and their last records would never be read.
STOP_WRITES_MESSAGE = "streamlab_stop_writes"
_writing = {"stopped": False}


# --- command line --------------------------------------------------------------------------------


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    group = parser.add_argument_group("streamlab")
    group.add_argument(
        "--probe-target",
        choices=("auto", "stack", "own"),
        default="auto",
        env_var="STREAMLAB_PROBE_TARGET",
        help="stack: a table with the probe mapped to its stream (--orders-table, --probe-function: physical "
        "names, e.g. the demo stack's OrdersTable and ProbeFunction outputs); own: a probe table of this run's "
        "own; auto: stack if usable, else own",
    )
    group.add_argument("--orders-table", default="Orders", help="the table to write to (its physical name)")
    group.add_argument("--probe-function", default="probe", help="the stack's probe function mapped to that table")
    group.add_argument(
        "--stream-drain", type=float, default=5.0, help="seconds to keep reading probe lines after the users stop"
    )


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


# --- the target: which table, which probe, which attribute names ----------------------------------


def find_stack_target(environment: Environment) -> dict[str, Any] | None:
    """The demo stack's table and probe, if the probe is mapped to the table's stream; else None."""
    table_name = _option(environment, "orders_table", "Orders")
    function_name = _option(environment, "probe_function", "probe")
    ddb, lam = client(environment, "dynamodb"), client(environment, "lambda")
    try:
        table = ddb.describe_table(TableName=table_name)["Table"]
        config = lam.get_function_configuration(FunctionName=function_name)
        mappings = lam.list_event_source_mappings(FunctionName=function_name)["EventSourceMappings"]
    except ClientError as error:
        log.info("no stack probe (%s: %s)", error.response["Error"]["Code"], error.response["Error"].get("Message"))
        return None
    variables = (config.get("Environment") or {}).get("Variables") or {}
    attributes = {
        "key": variables.get("PROBE_KEY_ATTRIBUTE", DEFAULT_ATTRIBUTES["key"]),
        "version": variables.get("PROBE_VERSION_ATTRIBUTE", DEFAULT_ATTRIBUTES["version"]),
        "written_at": variables.get("PROBE_WRITTEN_AT_ATTRIBUTE", DEFAULT_ATTRIBUTES["written_at"]),
    }
    hash_keys = [k["AttributeName"] for k in table["KeySchema"] if k["KeyType"] == "HASH"]
    stream = table.get("StreamSpecification") or {}
    stream_arn = table.get("LatestStreamArn")
    problems = []
    if len(table["KeySchema"]) != 1 or hash_keys != [attributes["key"]]:
        problems.append(f"its key is not just {attributes['key']!r}")
    if not stream.get("StreamEnabled") or stream.get("StreamViewType") not in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
        problems.append("its stream has no new images")
    if not any(
        m.get("EventSourceArn") == stream_arn and m.get("State") in ("Enabled", "Enabling", "Creating", "Updating")
        for m in mappings
    ):
        problems.append(f"{function_name} is not mapped to its stream")
    if problems:
        log.info("not using table %s: %s", table_name, "; ".join(problems))
        return None
    return {"table": table_name, "function": function_name, "attributes": attributes}


def deploy_own_target(environment: Environment) -> dict[str, Any]:
    """A table, probe function and mapping of this run's own (streamlab.measure.probe_stack, boto3 only),
    removed when the test stops."""
    from streamlab.measure.probe_stack import deploy_probe, teardown_probe

    probe = deploy_probe(endpoint_url(environment), region_name(), prefix="streamlab-locust")
    environment.events.quitting.add_listener(lambda **_: teardown_probe(probe))
    return {"table": probe.table, "function": probe.function, "attributes": dict(DEFAULT_ATTRIBUTES)}


_targets: dict[tuple[str | None, str, str], dict[str, Any]] = {}


def resolve_target(environment: Environment) -> dict[str, Any]:
    """What ``--probe-target`` names, set up if needed; cached per endpoint."""
    mode = _option(environment, "probe_target", "auto")
    key = (endpoint_url(environment), region_name(), mode)
    if key not in _targets:
        target = find_stack_target(environment) if mode in ("auto", "stack") else None
        if target is None and mode == "stack":
            raise RuntimeError(f"--probe-target stack: no usable stack probe at {key[0] or 'AWS'} (see the log above)")
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


class StreamLatencyCollector:
    """Reads the probe's lines of this run's keys and reports each one as a ``Stream`` request."""

    def __init__(self, environment: Environment, function_name: str, key_prefix: str, start_ms: int) -> None:
        self.environment = environment
        self.function_name = function_name
        self.key_prefix = key_prefix
        self.since_ms = start_ms
        self.reported = 0
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
        """Report the lines not reported yet; returns how many."""
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
            self.environment.events.request.fire(
                request_type=STREAM_REQUEST_TYPE,
                name=STREAM_NAME,
                response_time=max(0.0, (float(processed_at) - float(written_at)) * 1000),
                response_length=0,
                exception=None,
                context={"key": key, "version": line.get("version"), "attempt": line.get("attempt")},
            )
        # Next time, read from a little before the newest line; forget what is below that window.
        self.since_ms = max(self.since_ms, newest_ms - OVERLAP_MS)
        self._floor_ms = self.since_ms - OVERLAP_MS
        self._seen = {k: v for k, v in self._seen.items() if v >= self._floor_ms}
        self.reported += new
        return new

    def stop(self, drain: float) -> None:
        """Stop polling; then read until ``drain`` seconds pass or a second goes by with nothing new."""
        if self._greenlet is not None:
            self._greenlet.kill(block=True)
            self._greenlet = None
        deadline = time.monotonic() + drain
        quiet = 0
        while time.monotonic() < deadline and quiet < 2:
            quiet = 0 if self.poll_safely() else quiet + 1
            gevent.sleep(0.5)
        log.info("stream latency: %d probe lines reported", self.reported)


_collector: dict[str, StreamLatencyCollector] = {}


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
        return
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
    run = {**target, "key_prefix": f"locust-{uuid.uuid4().hex[:8]}-"}
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


@events.test_stopping.add_listener
def _on_test_stopping(environment: Environment, **_kwargs: Any) -> None:
    if isinstance(environment.runner, MasterRunner):
        environment.runner.send_message(STOP_WRITES_MESSAGE)


@events.test_stop.add_listener
def _on_test_stop(environment: Environment, **_kwargs: Any) -> None:
    collector = _collector.pop("current", None)
    if collector is not None:
        collector.stop(_option(environment, "stream_drain", 5.0))


# --- users ---------------------------------------------------------------------------------------


class OrdersUser(User):
    """Writes orders through boto3 and reports each call as a ``DynamoDB`` request."""

    abstract = True
    host = os.environ.get("AWS_ENDPOINT_URL")
    wait_time = between(0.05, 0.25)
    #: How many of its orders a user remembers for updates.
    max_orders = 50

    def on_start(self) -> None:
        run = shared(self.environment)
        if run is None:
            raise StopUser()  # setup failed; the run is ending
        self.table: str = run["table"]
        self.attributes: dict[str, str] = run["attributes"]
        self.key_prefix: str = run["key_prefix"]
        self.dynamodb = client(self.environment, "dynamodb")
        self.orders: dict[str, int] = {}  # order id -> its latest version

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
            request_type="DynamoDB",
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=length,
            exception=exception,
            context={"table": self.table},
        )
        return response if exception is None else None

    def create_order(self) -> None:
        order_id = f"{self.key_prefix}{uuid.uuid4().hex[:12]}"
        a = self.attributes
        item = {
            a["key"]: {"S": order_id},
            a["version"]: {"N": "1"},
            "status": {"S": LOAD_STATUSES[0]},
            "customer_id": {"S": "locust"},
            "created_at": {"S": datetime.now(UTC).isoformat()},
            "total": {"N": "10"},
            "currency": {"S": "USD"},
        }
        item[a["written_at"]] = {"N": repr(time.time())}  # just before sending: see handlers/probe.py
        if self.call("PutItem", self.dynamodb.put_item, TableName=self.table, Item=item) is not None:
            self.orders[order_id] = 1
            while len(self.orders) > self.max_orders:
                self.orders.pop(next(iter(self.orders)))

    def update_status(self) -> None:
        if not self.orders:
            self.create_order()
            return
        order_id = random.choice(list(self.orders))
        version = self.orders[order_id]
        a = self.attributes
        response = self.call(
            "UpdateItem",
            self.dynamodb.update_item,
            TableName=self.table,
            Key={a["key"]: {"S": order_id}},
            UpdateExpression="SET #v = :v, #w = :w, #s = :s",
            ConditionExpression="#v = :prev",
            ExpressionAttributeNames={"#v": a["version"], "#w": a["written_at"], "#s": "status"},
            ExpressionAttributeValues={
                ":v": {"N": str(version + 1)},
                ":prev": {"N": str(version)},
                ":s": {"S": LOAD_STATUSES[1 + version % (len(LOAD_STATUSES) - 1)]},
                ":w": {"N": repr(time.time())},
            },
        )
        if response is not None:
            self.orders[order_id] = version + 1


class OrderCreator(OrdersUser):
    """PutItem of new orders (version 1)."""

    @task
    def put_new_order(self) -> None:
        self.create_order()


class StatusUpdater(OrdersUser):
    """Creates a few orders, then bumps their version and status with conditional UpdateItems."""

    def on_start(self) -> None:
        super().on_start()
        for _ in range(3):
            self.create_order()

    @task
    def update_order_status(self) -> None:
        self.update_status()


class MixedUser(OrdersUser):
    """One new order for every three status updates of its own orders."""

    @task(1)
    def put_new_order(self) -> None:
        self.create_order()

    @task(3)
    def update_order_status(self) -> None:
        self.update_status()
