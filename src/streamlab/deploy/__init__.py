"""Apply a :class:`~streamlab.stack.Stack` to an AWS endpoint through boto3, idempotently.

Usage (what ``streamlab deploy`` does)::

    from streamlab.stack import load_stack
    from streamlab.deploy import deploy

    result = deploy(load_stack("setup/stack.toml"), endpoint_url="http://127.0.0.1:4566")
    # prints "created table Orders", ..., then "3 created, 0 updated, 2 unchanged" or "no changes"

Each resource is compared with what the endpoint reports and only what differs is changed,
so a second run reports ``no changes``. The same code targets the embedded endpoint,
LocalStack and AWS (``endpoint_url=None``); nothing here reaches into an emulator.

Order: function zips are built first (a pip failure leaves nothing half made), then tables,
buckets, queues (dead-letter queues first), topics and subscriptions, the execution role,
functions, and finally mappings, which need a table's stream ARN and a function. Resources
that are no longer declared are left alone: deploy never deletes data.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from streamlab.deploy.buckets import apply_bucket
from streamlab.deploy.functions import apply_function
from streamlab.deploy.mappings import apply_mapping
from streamlab.deploy.queues import apply_queue, queue_order, sns_send_policy
from streamlab.deploy.report import Change, DeployError, DeployResult
from streamlab.deploy.role import apply_role, execution_policy
from streamlab.deploy.tables import apply_table
from streamlab.deploy.target import Backend, Target, detect_backend
from streamlab.deploy.topics import apply_subscriptions, apply_topic, topic_arn
from streamlab.packaging import (
    FunctionZip,
    PackagingError,
    Platform,
    build_function_zip,
    lambda_platform,
    platform_for_runtime,
)
from streamlab.stack import EventSourceMapping, Function, Queue, Stack, Table, Topic

__all__ = [
    "Change",
    "DeployError",
    "DeployResult",
    "Target",
    "build_zips",
    "deploy",
    "detect_backend",
    "execution_policy",
    "function_platform",
]


def deploy(
    stack: Stack,
    endpoint_url: str | None = None,
    region: str | None = None,
    log: Callable[[str], None] = print,
    *,
    session: boto3.Session | None = None,
    backend: Backend | None = None,
    cache_dir: Path | None = None,
) -> DeployResult:
    """Create or update every resource of ``stack``; returns what happened to each.

    ``endpoint_url`` None means ``AWS_ENDPOINT_URL`` if set, else real AWS (default credential
    chain, and the execution role is created in the account); otherwise the endpoint
    gets the default credentials, or dummy ones when there are none. ``region`` defaults to
    :func:`streamlab.aws_rules.resolve_region`'s order. ``backend`` overrides detection
    (``embedded`` installs function dependencies for this machine, anything else for Lambda's
    manylinux x86_64); detected, an embedded endpoint's health answer names the interpreter its
    functions run on (another one when it runs in a container), and dependencies are built for
    it. ``log`` receives one line per resource and the summary.
    Raises :class:`DeployError` naming the resource that could not be applied.
    """
    target = Target.connect(endpoint_url, region, session, backend)
    log(f"deploying {stack.path.name} to {target.describe()}")
    try:
        zips = build_zips(stack, target.backend, cache_dir, log, target.runtime)
    except PackagingError as exc:
        raise DeployError(str(exc)) from exc
    result = DeployResult(backend=target.backend, endpoint_url=target.endpoint_url)
    _StackDeployment(stack, target, result, log).run(zips)
    log(result.summary)
    return result


def function_platform(function: Function, backend: Backend, runtime: dict[str, Any] | None = None) -> Platform:
    """Where a function's dependencies must run: the interpreter the embedded endpoint runs the
    function's runtime on (``runtime`` from its health answer; this one when not known), else
    Lambda's Linux for the function's runtime."""
    if backend == "embedded":
        return platform_for_runtime(runtime, function.runtime)
    return lambda_platform(function.python_version)


def build_zips(
    stack: Stack,
    backend: Backend,
    cache_dir: Path | None = None,
    log: Callable[[str], None] = print,
    runtime: dict[str, Any] | None = None,
) -> dict[str, FunctionZip]:
    """Build (or reuse) every function's zip; by logical function name."""
    cache = Path(cache_dir) if cache_dir is not None else stack.cache_dir
    zips: dict[str, FunctionZip] = {}
    for function in stack.functions.values():
        built = build_function_zip(
            stack.handlers_dir,
            function.modules,
            function.requirements,
            function_platform(function, backend, runtime),
            cache,
        )
        if not built.cached:
            log(f"built function {function.name}: {built.size} bytes, sha256 {built.code_sha256}")
        zips[function.name] = built
    return zips


class _StackDeployment:
    """One deploy run: resources in dependency order, each change logged as it happens."""

    def __init__(self, stack: Stack, target: Target, result: DeployResult, log: Callable[[str], None]) -> None:
        self.stack, self.target, self.result, self.log = stack, target, result, log
        self.tables: dict[str, dict[str, Any]] = {}
        self.queue_arns: dict[str, str] = {}
        self.topic_arns: dict[str, str] = {}
        self.role_arn = ""

    def run(self, zips: dict[str, FunctionZip]) -> None:
        stack = self.stack
        for table in stack.tables.values():
            self._step(f"table {table.name}", self._table, table)
        for bucket in stack.buckets.values():
            self._step(f"bucket {bucket.name}", lambda b: self._record(apply_bucket(self.target, b)), bucket)
        self.topic_arns = {name: topic_arn(self.target, topic) for name, topic in stack.topics.items()}
        senders: dict[str, list[str]] = {}
        for name, topic in stack.topics.items():
            for subscription in topic.subscriptions:
                senders.setdefault(subscription.queue, []).append(self.topic_arns[name])
        for queue in queue_order(stack):
            self._step(f"queue {queue.name}", self._queue, queue, senders.get(queue.name))
        for topic in stack.topics.values():
            self._step(f"topic {topic.name}", self._topic, topic)
        if stack.functions:
            self._step(f"role {stack.role_name}", self._role)
            for function in stack.functions.values():
                self._step(f"function {function.name}", self._function, function, zips[function.name])
        for mapping in stack.mappings:
            self._step(f"mapping {mapping.label}", self._mapping, mapping)
        self.log(self.result.summary)

    def _record(self, change: Change) -> None:
        self.result.changes.append(change)
        self.log(change.line())

    def _step(self, what: str, action: Callable[..., None], *arguments: Any) -> None:
        try:
            action(*arguments)
        except DeployError:
            raise
        except (ClientError, BotoCoreError) as exc:
            raise DeployError(f"{what}: {exc}") from exc

    def _table(self, table: Table) -> None:
        change, described = apply_table(self.target, table)
        self.tables[table.name] = described
        self._record(change)

    def _queue(self, queue: Queue, senders: list[str] | None) -> None:
        policy = sns_send_policy(self.target.arn("sqs", queue.physical_name), senders) if senders else None
        change, _url, arn = apply_queue(self.target, queue, self.queue_arns, policy)
        self.queue_arns[queue.name] = arn
        self._record(change)

    def _topic(self, topic: Topic) -> None:
        change, arn = apply_topic(self.target, topic)
        self.topic_arns[topic.name] = arn
        self._record(change)
        for sub_change in apply_subscriptions(self.target, topic, arn, self.queue_arns):
            self._record(sub_change)

    def _role(self) -> None:
        change, self.role_arn = apply_role(self.target, self.stack)
        self._record(change)

    def _function(self, function: Function, package: FunctionZip) -> None:
        change, _arn = apply_function(self.target, function, package, self.role_arn)
        self._record(change)

    def _destination(self, mapping: EventSourceMapping) -> str | None:
        if mapping.on_failure is None:
            return None
        kind, name = mapping.on_failure.kind, mapping.on_failure.name
        if kind == "queue":
            return self.queue_arns[name]
        if kind == "topic":
            return self.topic_arns[name]
        return f"arn:{self.target.partition}:s3:::{self.stack.buckets[name].physical_name}"

    def _mapping(self, mapping: EventSourceMapping) -> None:
        table = self.tables[mapping.source]
        stream_arn = table.get("LatestStreamArn")
        if not stream_arn:
            raise DeployError(f"mapping {mapping.label}: table {mapping.source} reports no LatestStreamArn")
        function = self.stack.functions[mapping.function]
        change = apply_mapping(
            self.target,
            mapping,
            function.physical_name,
            stream_arn,
            table["TableArn"],
            self._destination(mapping),
            self.log,
        )
        self._record(change)
