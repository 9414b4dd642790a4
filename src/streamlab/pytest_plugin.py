"""pytest fixtures for suites that test DynamoDB Streams -> Lambda applications.

Loaded automatically (entry point ``pytest11``) wherever streamlab is installed.

Backend: ``--streamlab-backend`` or ``STREAMLAB_BACKEND`` = ``embedded`` (default) | ``container`` |
``localstack`` | ``aws``. ``streamlab_backend`` starts it once per session: the embedded endpoint
in this process on a free loopback port, the same endpoint from its image or LocalStack through
Testcontainers (skipped, with the reason, when no Docker engine answers or the image is
missing), or real AWS through the default credential chain (skipped when there are no
credentials). An explicit ``--streamlab-endpoint-url`` or ``AWS_ENDPOINT_URL`` wins over
starting anything, e.g. a LocalStack already running from ``docker compose up``.

Fixtures:

- ``streamlab_endpoint_url`` (session): the endpoint URL under test (None on AWS).
- ``streamlab_in_process`` (session): True when that endpoint is the embedded one in this process.
- ``aws_region``, ``aws_client("dynamodb")``: a boto3 client aimed at it (dummy credentials on
  an emulator, the default chain on AWS).
- ``unique_name("orders")`` -> ``orders-1a2b3c4d``.
- ``deployed_stack("setup/stack.toml")`` (session): deploys the stack once per session under a
  unique ``name_prefix`` and returns a :class:`DeployedStack` (``.tables["Orders"]`` is the
  physical table name, ``.name("Orders")`` too).
- ``stream_probe.wait_for(check, timeout=10)``: polls ``check`` until it returns something truthy;
  timeouts are given for the embedded backend and scaled for LocalStack and AWS.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from streamlab.backends.base import BACKEND_NAMES

DEFAULT_REGION = "us-east-1"
DUMMY_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
LOG = logging.getLogger("streamlab.pytest")

# How much slower an effect shows up than on the embedded endpoint: the container backend is the
# same engine in another process (a little slack); LocalStack polls streams and cold-starts
# function containers; AWS polls 4 times a second and its first invoke takes seconds.
TIMEOUT_SCALE = {"embedded": 1.0, "container": 1.5, "localstack": 6.0, "aws": 18.0}
POLL_INTERVAL = {"embedded": 0.05, "container": 0.05, "localstack": 0.5, "aws": 2.0}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("streamlab")
    group.addoption(
        "--streamlab-endpoint-url",
        default=None,
        help="use this running AWS endpoint instead of starting one (also: AWS_ENDPOINT_URL)",
    )
    group.addoption(
        "--streamlab-backend",
        default=None,
        choices=BACKEND_NAMES,
        help="backend the suite runs against (also: STREAMLAB_BACKEND; default embedded)",
    )


def _explicit_url(config: pytest.Config) -> str | None:
    return config.getoption("--streamlab-endpoint-url") or os.environ.get("AWS_ENDPOINT_URL") or None


def backend_name(config: pytest.Config) -> str:
    """``embedded`` | ``container`` | ``localstack`` | ``aws``: the option, else ``STREAMLAB_BACKEND``,
    else embedded. A function as well as a fixture, for collection hooks."""
    from streamlab.backends import backend_name_from_env

    option = config.getoption("--streamlab-backend", default=None)
    if option:
        return str(option)
    try:
        return backend_name_from_env()
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.fixture(scope="session")
def streamlab_backend_name(request: pytest.FixtureRequest) -> str:
    """The backend under test (:func:`backend_name`)."""
    return backend_name(request.config)


@pytest.fixture(scope="session")
def streamlab_backend(streamlab_backend_name: str) -> Iterator[Any]:
    """The started :class:`~streamlab.backends.Backend` (``.url`` is its endpoint, None on AWS).

    Skips every test that needs it when the backend cannot run here, saying why.
    """
    from streamlab.backends import BackendUnavailable, backend_from_name, docker_available

    if streamlab_backend_name in ("container", "localstack"):
        ok, reason = docker_available()
        if not ok:
            pytest.skip(f"STREAMLAB_BACKEND={streamlab_backend_name} needs Docker: {reason}")
    backend = backend_from_name(streamlab_backend_name)
    try:
        url = backend.start()
    except BackendUnavailable as exc:
        pytest.skip(f"STREAMLAB_BACKEND={streamlab_backend_name}: {exc}")
    backend.url = url
    try:
        yield backend
    finally:
        backend.stop()


@pytest.fixture(scope="session")
def streamlab_endpoint_url(request: pytest.FixtureRequest) -> str | None:
    """URL of the AWS endpoint under test: the explicit one, else the started backend's (None on AWS)."""
    explicit = _explicit_url(request.config)
    if explicit:
        return explicit
    return request.getfixturevalue("streamlab_backend").url


@pytest.fixture(scope="session")
def streamlab_in_process(request: pytest.FixtureRequest, streamlab_backend_name: str) -> bool:
    """True when the endpoint under test is the embedded one in this process, so a test may reach
    into it (moto's backend, the engine); such tests skip on every other backend."""
    return streamlab_backend_name == "embedded" and _explicit_url(request.config) is None


@pytest.fixture(scope="session")
def aws_region() -> str:
    return os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or DEFAULT_REGION


@pytest.fixture(scope="session")
def aws_client(streamlab_endpoint_url: str | None, aws_region: str) -> Callable[..., Any]:
    """``aws_client("dynamodb")``: a plain boto3 client aimed at the endpoint under test."""

    def make(service: str, region: str | None = None, **kwargs: Any) -> Any:
        options: dict[str, Any] = {"region_name": region or aws_region}
        if streamlab_endpoint_url is not None:  # an emulator: any credentials do
            options.update(endpoint_url=streamlab_endpoint_url, **DUMMY_CREDENTIALS)
        options.update(kwargs)
        return boto3.client(service, **options)

    return make


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """``unique_name("orders")`` -> ``orders-<8 hex>``, so tests sharing an endpoint never collide."""

    def make(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:8]}"

    return make


# --- deployed stacks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DeployedStack:
    """A stack deployed by ``deployed_stack``: logical name -> physical (AWS) name, per kind."""

    stack: Any  # streamlab.stack.Stack, loaded with the unique prefix
    result: Any  # streamlab.deploy.DeployResult
    endpoint_url: str | None
    prefix: str
    tables: Mapping[str, str] = field(default_factory=dict)
    functions: Mapping[str, str] = field(default_factory=dict)
    queues: Mapping[str, str] = field(default_factory=dict)
    topics: Mapping[str, str] = field(default_factory=dict)
    buckets: Mapping[str, str] = field(default_factory=dict)

    def name(self, logical: str) -> str:
        """The physical name of the resource called ``logical`` (any kind; KeyError when none is)."""
        for kind in (self.tables, self.functions, self.queues, self.topics, self.buckets):
            if logical in kind:
                return kind[logical]
        raise KeyError(f"no resource {logical!r} in {self.stack.path}")


def with_name_prefix(text: str, prefix: str) -> str:
    """Stack TOML ``text`` with ``prefix`` put in front of its ``[stack] name_prefix`` (added if absent)."""
    import tomllib

    settings = tomllib.loads(text).get("stack")
    if settings is None:
        return f'[stack]\nname_prefix = "{prefix}"\n\n' + text
    if "name_prefix" in settings:
        line = re.compile(r'^(\s*name_prefix\s*=\s*)(["\'])(.*?)\2', re.MULTILINE)
        return line.sub(lambda m: f'{m.group(1)}"{prefix}{m.group(3)}"', text, count=1)
    header = re.compile(r"^\s*\[stack\]\s*(#.*)?$", re.MULTILINE)
    return header.sub(lambda m: f'{m.group(0)}\nname_prefix = "{prefix}"', text, count=1)


def _deploy_backend(name: str, explicit: bool) -> Any:
    """What deploy is told; None lets it ask the endpoint (the container's interpreter, say)."""
    if explicit:
        return None
    return {"embedded": "embedded", "aws": "aws"}.get(name)


@pytest.fixture(scope="session")
def deployed_stack(request: pytest.FixtureRequest, streamlab_endpoint_url: str | None, aws_region: str,
                   streamlab_backend_name: str) -> Callable[..., DeployedStack]:
    """``deployed_stack("setup/stack.toml")``: deploy once per session (cached by path) and return the names.

    Every resource gets a unique prefix (``sl<6 hex>-`` in front of the stack's own ``name_prefix``),
    so concurrent runs against one account or one LocalStack never collide. Paths are relative
    to the pytest root directory. Deployed resources are left in place (deploy never deletes).
    """
    from streamlab.deploy import deploy
    from streamlab.stack import parse_stack

    cache: dict[Path, DeployedStack] = {}
    explicit = _explicit_url(request.config) is not None

    def make(path: str | os.PathLike[str], prefix: str | None = None) -> DeployedStack:
        stack_path = Path(path)
        if not stack_path.is_absolute():
            stack_path = Path(request.config.rootpath) / stack_path
        stack_path = stack_path.resolve()
        if stack_path in cache:
            return cache[stack_path]
        unique = prefix if prefix is not None else f"sl{uuid.uuid4().hex[:6]}-"
        stack = parse_stack(with_name_prefix(stack_path.read_text(encoding="utf-8"), unique), stack_path)
        if not stack.name_prefix.startswith(unique):
            raise pytest.UsageError(f"{stack_path}: could not put name_prefix {unique!r} in front of its own")
        result = deploy(stack, endpoint_url=streamlab_endpoint_url, region=aws_region, log=LOG.info,
                        backend=_deploy_backend(streamlab_backend_name, explicit))
        deployed = DeployedStack(
            stack=stack, result=result, endpoint_url=streamlab_endpoint_url, prefix=stack.name_prefix,
            tables={n: t.physical_name for n, t in stack.tables.items()},
            functions={n: f.physical_name for n, f in stack.functions.items()},
            queues={n: q.physical_name for n, q in stack.queues.items()},
            topics={n: t.physical_name for n, t in stack.topics.items()},
            buckets={n: b.physical_name for n, b in stack.buckets.items()},
        )
        cache[stack_path] = deployed
        return deployed

    return make


# --- waiting for a handler's effect --------------------------------------------------------------


@dataclass(frozen=True)
class StreamProbe:
    """Waits for what a stream handler does, with timeouts scaled to the backend.

    ``wait_for(check, timeout=10)`` calls ``check()`` until it returns something truthy and
    returns that; an ``AssertionError`` or boto3 ``ClientError`` from ``check`` counts as "not
    yet". ``timeout`` is what the embedded endpoint needs; it is multiplied by ``scale`` (6 on
    LocalStack, 18 on AWS). On timeout the test fails with the last value or exception seen.
    """

    backend: str
    scale: float
    interval: float

    def timeout_for(self, timeout: float) -> float:
        return timeout * self.scale

    def wait_for(self, check: Callable[[], Any], timeout: float = 10.0, message: str = "",
                 interval: float | None = None) -> Any:
        from botocore.exceptions import ClientError

        limit = self.timeout_for(timeout)
        deadline = time.monotonic() + limit
        last: Any = None
        while True:
            try:
                value = check()
                if value:
                    return value
                last = value
            except (AssertionError, ClientError) as exc:
                last = exc
            if time.monotonic() >= deadline:
                what = message or getattr(check, "__name__", repr(check))
                pytest.fail(f"{what}: not within {limit:.1f} s on {self.backend}; last: {last!r}"[:2000])
            time.sleep(interval if interval is not None else self.interval)


@pytest.fixture(scope="session")
def stream_probe(streamlab_backend_name: str) -> StreamProbe:
    """``stream_probe.wait_for(lambda: table.get_item(...).get("Item"), timeout=5)``."""
    return StreamProbe(streamlab_backend_name, TIMEOUT_SCALE[streamlab_backend_name],
                       POLL_INTERVAL[streamlab_backend_name])
