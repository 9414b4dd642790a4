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
- ``streamlab_region``, ``streamlab_client("dynamodb")``: a boto3 client aimed at it (dummy credentials on
  an emulator, the default chain on AWS).
- ``streamlab_unique_name("orders")`` -> ``orders-1a2b3c4d``.
- ``streamlab_deployed_stack("template.yaml", parameters={...})`` (session): deploys a SAM /
  CloudFormation template once per session as a uniquely named stack (its local code packaged as
  ``sam package`` does), returns a :class:`DeployedTemplate` (``.physical_id("Orders")``,
  ``.outputs``, ``.wait_for(check)``) and deletes the stack at the end of the session.
- ``streamlab_stream_probe.wait_for(check, timeout=10)``: polls ``check`` until it returns something truthy;
  timeouts are given for the embedded backend and scaled for LocalStack and AWS.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from streamlab.aws_rules import resolve_region
from streamlab.backends.base import BACKEND_NAMES
from streamlab.testing import DeployedTemplate, StreamProbe

DUMMY_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
LOG = logging.getLogger("streamlab.pytest")


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
    url: str | None = request.getfixturevalue("streamlab_backend").url
    return url


@pytest.fixture(scope="session")
def streamlab_in_process(request: pytest.FixtureRequest, streamlab_backend_name: str) -> bool:
    """True when the endpoint under test is the embedded one in this process, so a test may reach
    into it (moto's backend, the engine); such tests skip on every other backend."""
    return streamlab_backend_name == "embedded" and _explicit_url(request.config) is None


@pytest.fixture(scope="session")
def streamlab_region() -> str:
    return resolve_region()


@pytest.fixture(scope="session")
def streamlab_client(streamlab_endpoint_url: str | None, streamlab_region: str) -> Callable[..., Any]:
    """``streamlab_client("dynamodb")``: a plain boto3 client aimed at the endpoint under test."""

    def make(service: str, region: str | None = None, **kwargs: Any) -> Any:
        options: dict[str, Any] = {"region_name": region or streamlab_region}
        if streamlab_endpoint_url is not None:  # an emulator: any credentials do
            options.update(endpoint_url=streamlab_endpoint_url, **DUMMY_CREDENTIALS)
        options.update(kwargs)
        return boto3.client(service, **options)

    return make


@pytest.fixture
def streamlab_unique_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """``streamlab_unique_name("orders")`` -> ``orders-<8 hex>``, so tests sharing an endpoint never collide."""

    def make(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:8]}"

    return make


# --- deployed stacks ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def streamlab_deployed_stack(
    request: pytest.FixtureRequest,
    streamlab_endpoint_url: str | None,
    streamlab_region: str,
    streamlab_backend_name: str,
) -> Iterator[Callable[..., DeployedTemplate]]:
    """``streamlab_deployed_stack("template.yaml", parameters={"Greeting": "hi"})``: deploy once per
    session (cached by path and parameters) and return a :class:`DeployedTemplate`.

    Each deploy is its own stack, ``sl<8 hex>-<template directory>``, so concurrent runs against
    one account or one LocalStack never collide; each stack's functions get their own execution
    roles from the template. Every stack is deleted when the session ends (mappings stopped,
    roles removed), deleted ones first-created last. Paths are relative to the pytest root
    directory.
    """
    from streamlab.templates.deployment import clients, default_stack_name, deploy_template
    from streamlab.templates.stacks import delete_stack

    cache: dict[tuple[Path, tuple[tuple[str, str], ...]], DeployedTemplate] = {}
    created: list[str] = []
    probe = StreamProbe.for_backend(streamlab_backend_name)

    def make(path: str | os.PathLike[str], parameters: dict[str, str] | None = None, prefix: str | None = None) -> Any:
        template_path = Path(path)
        if not template_path.is_absolute():
            template_path = Path(request.config.rootpath) / template_path
        template_path = template_path.resolve()
        key = (template_path, tuple(sorted((parameters or {}).items())))
        if key in cache:
            return cache[key]
        stack_name = f"sl{uuid.uuid4().hex[:8]}-{default_stack_name(template_path)}"[:128]
        created.append(stack_name)
        deployment = deploy_template(
            template_path,
            stack_name=stack_name,
            parameters={k: str(v) for k, v in (parameters or {}).items()},
            endpoint_url=streamlab_endpoint_url,
            region=streamlab_region,
            log=LOG.info,
            cache_dir=Path(request.config.rootpath) / ".streamlab",
        )
        stack = deployment.stack
        deployed = DeployedTemplate(
            stack_name=stack.name,
            stack_id=stack.stack_id,
            endpoint_url=streamlab_endpoint_url,
            region=streamlab_region,
            outputs=dict(stack.outputs),
            resources=dict(stack.resources),
            resource_types=dict(stack.resource_types),
            probe=probe,
        )
        cache[key] = deployed
        return deployed

    yield make

    if created:
        make_client = clients(streamlab_endpoint_url, streamlab_region)
        cloudformation, s3 = make_client("cloudformation"), make_client("s3")
        for stack_name in reversed(created):
            try:
                delete_stack(cloudformation, stack_name, log=LOG.info, s3=s3)
            except Exception as error:  # one stack's failure must not keep the others
                LOG.warning("could not delete stack %s: %s", stack_name, error)


# --- waiting for a handler's effect --------------------------------------------------------------


@pytest.fixture(scope="session")
def streamlab_stream_probe(streamlab_backend_name: str) -> StreamProbe:
    """``streamlab_stream_probe.wait_for(lambda: table.get_item(...).get("Item"), timeout=5)``."""
    return StreamProbe.for_backend(streamlab_backend_name)
