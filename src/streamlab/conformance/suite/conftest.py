"""pytest wiring of the conformance suite: markers, ordering, and the session's fixtures.

The scenarios' building blocks (the recorder function, each backend's timing, :class:`Scenario`)
live in :mod:`streamlab.conformance.suite.harness`.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from streamlab.conformance.suite.harness import (
    SLOW_ENV,
    TRUST_POLICY,
    Backend,
    ClientFactory,
    Functions,
    Recorder,
    Scenario,
    execution_policy,
    new_name,
    slow_enabled,
)
from streamlab.pytest_plugin import backend_name


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "conformance: a documented DynamoDB Streams -> Lambda behaviour, public API only"
    )
    config.addinivalue_line("markers", "slow_on_aws: needs minutes of real time on AWS (60 s record age minimum)")
    config.addinivalue_line(
        "markers",
        "early_start(arm): call arm(scenario) at session start; the test runs last and receives "
        "(scenario, state) as `armed`",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.conformance)
            if item.get_closest_marker("slow_on_aws") and backend_name(config) == "aws" and not slow_enabled():
                item.add_marker(pytest.mark.skip(reason=f"takes minutes on AWS; set {SLOW_ENV}=1 to run it"))
    # Tests that wait on the clock (a 60 s record age) are armed at session start and run last,
    # so their wait overlaps the rest of the suite instead of adding to it.
    items.sort(key=lambda item: item.get_closest_marker("early_start") is not None)


@pytest.fixture(scope="session")
def backend(streamlab_backend_name: str) -> Backend:
    return Backend.named(streamlab_backend_name)


@pytest.fixture(scope="session")
def conformance_endpoint(streamlab_endpoint_url: str | None) -> str | None:
    """The plugin's endpoint: an explicit URL, else the started backend's; None on AWS (boto3's own)."""
    return streamlab_endpoint_url


@pytest.fixture(scope="session")
def client(conformance_endpoint: str | None, streamlab_region: str, backend: Backend) -> ClientFactory:
    """``client("dynamodb", region=None, validate=True)``: a cached boto3 client for the backend under test.

    ``validate=False`` turns off boto3's own parameter checks, so the service answers instead.
    """
    cache: dict[tuple[str, str, bool], Any] = {}

    def make(service: str, region: str | None = None, validate: bool = True) -> Any:
        key = (service, region or streamlab_region, validate)
        if key not in cache:
            options: dict[str, Any] = {
                "region_name": key[1],
                "config": Config(retries={"mode": "standard", "max_attempts": 3}, parameter_validation=validate),
            }
            if conformance_endpoint is not None:
                options.update(
                    endpoint_url=conformance_endpoint, aws_access_key_id="test", aws_secret_access_key="test"
                )
            cache[key] = boto3.client(service, **options)
        return cache[key]

    return make


@pytest.fixture(scope="session")
def recorder(client: ClientFactory, streamlab_region: str) -> Iterator[Recorder]:
    s3 = client("s3")
    bucket = f"streamlab-conformance-{uuid.uuid4().hex[:16]}"
    options: dict[str, Any] = {}
    if streamlab_region != "us-east-1":
        options["CreateBucketConfiguration"] = {"LocationConstraint": streamlab_region}
    s3.create_bucket(Bucket=bucket, **options)
    yield Recorder(client, bucket, streamlab_region)
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            objects = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if objects:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})
        s3.delete_bucket(Bucket=bucket)
    except ClientError:
        pass


@pytest.fixture(scope="session")
def execution_role(client: ClientFactory, recorder: Recorder, backend: Backend) -> Iterator[str]:
    iam = client("iam")
    name = new_name("streamlab-conformance")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_POLICY))["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=name, PolicyName="conformance", PolicyDocument=json.dumps(execution_policy(recorder.bucket))
    )
    yield arn
    try:
        iam.delete_role_policy(RoleName=name, PolicyName="conformance")
        iam.delete_role(RoleName=name)
    except ClientError:
        pass


@pytest.fixture(scope="session")
def functions(client: ClientFactory, execution_role: str, recorder: Recorder, backend: Backend) -> Iterator[Functions]:
    made = Functions(client, execution_role, recorder, backend)
    yield made
    made.delete_all()


@pytest.fixture(scope="session", autouse=True)
def early_start(
    request: pytest.FixtureRequest,
    client: ClientFactory,
    backend: Backend,
    recorder: Recorder,
    functions: Functions,
    streamlab_region: str,
) -> Iterator[dict[str, tuple[Scenario, Any]]]:
    """Arms every selected ``early_start`` test at the start of the session (see the marker)."""
    armed: dict[str, tuple[Scenario, Any]] = {}
    scenarios: list[Scenario] = []
    try:
        for item in request.session.items:
            marker = item.get_closest_marker("early_start")
            if marker is None or item.get_closest_marker("skip") is not None:
                continue
            made = Scenario(client, backend, recorder, functions, streamlab_region)
            scenarios.append(made)
            try:
                armed[item.nodeid] = (made, marker.args[0](made))
            except Exception as error:  # fails that test only, not the whole session
                armed[item.nodeid] = (made, error)
        yield armed
    finally:
        for made in scenarios:
            made.close()


@pytest.fixture
def armed(request: pytest.FixtureRequest, early_start: dict[str, tuple[Scenario, Any]]) -> tuple[Scenario, Any]:
    """(scenario, state) that this test's ``early_start`` arm function returned at session start."""
    made, state = early_start[request.node.nodeid]
    if isinstance(state, Exception):
        raise AssertionError(f"arming at session start failed: {state!r}") from state
    return made, state


@pytest.fixture
def scenario(
    client: ClientFactory, backend: Backend, recorder: Recorder, functions: Functions, streamlab_region: str
) -> Iterator[Scenario]:
    made = Scenario(client, backend, recorder, functions, streamlab_region)
    try:
        yield made
    finally:
        made.close()
