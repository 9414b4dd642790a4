"""The container backends for real, through Testcontainers: LocalStack, and streamlab's own image.

Needs a Docker engine (marker ``docker``); each test skips with the reason when there is none,
or when its image is neither on the engine nor pullable (an engine with no registry, as here).
The first LocalStack run pulls localstack/localstack:4.14.0 (about 1 GB); the embedded image is
built locally (README, "Backends").
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import pytest

from streamlab.backends import Backend, BackendUnavailable, backend_from_name, docker_available
from streamlab.backends.container import BUILD_HINT, embedded_container_config
from streamlab.backends.localstack import localstack_config
from streamlab.streams import create_stream_table
from tests.integration.lambda_support import ROLE, zip_source

pytestmark = pytest.mark.docker

DOCKER_OK, DOCKER_REASON = docker_available()
needs_docker = pytest.mark.skipif(not DOCKER_OK, reason=f"needs Docker: {DOCKER_REASON}")


def require_image(image: str, pull: bool, hint: str = "") -> None:
    """Skip unless ``image`` is on the engine (pulling it first when ``pull``)."""
    import docker
    from docker.errors import DockerException, ImageNotFound

    client = docker.from_env()
    try:
        client.images.get(image)
        return
    except ImageNotFound:
        if not pull:
            pytest.skip(f"image {image} is not on this Docker engine{hint}")
    finally:
        client.close()
    client = docker.from_env(timeout=600)
    try:
        client.images.pull(image)
    except DockerException as exc:
        pytest.skip(f"image {image} is not on this Docker engine and could not be pulled: {str(exc)[:200]}")
    finally:
        client.close()


@contextmanager
def started(backend: Backend) -> Iterator[str]:
    """``with backend as url``, skipping (with the reason) when the backend cannot run here."""
    try:
        url = backend.start()
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield url
    finally:
        backend.stop()


def clients(url: str, region: str) -> tuple[object, object]:
    options = dict(endpoint_url=url, region_name=region, aws_access_key_id="test", aws_secret_access_key="test")
    return boto3.client("dynamodb", **options), boto3.client("lambda", **options)


@needs_docker
def test_localstack_backend_serves_dynamodb() -> None:
    require_image(localstack_config().image, pull=True)
    backend = backend_from_name("localstack")
    with started(backend) as url:
        assert url
        assert url.startswith("http://")
        assert backend.url == url
        ddb, _ = clients(url, backend.config.region)
        table = f"streamlab-{uuid.uuid4().hex[:8]}"
        create_stream_table(ddb, table, "NEW_IMAGE", wait=True)
        ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "n": {"N": "1"}})
        assert ddb.get_item(TableName=table, Key={"pk": {"S": "a"}}, ConsistentRead=True)["Item"]["n"] == {"N": "1"}
    assert backend.url is None
    assert backend.container is None


@needs_docker
def test_embedded_image_serves_dynamodb_and_runs_functions_inside_the_container() -> None:
    config = embedded_container_config()
    require_image(config.image, pull=config.image != "streamlab-embedded:local", hint=f" (build it: {BUILD_HINT})")
    backend = backend_from_name("container", config=config)
    with started(backend) as url:
        assert url
        assert url.startswith("http://127.0.0.1:")
        ddb, lam = clients(url, "us-east-1")
        table = f"streamlab-{uuid.uuid4().hex[:8]}"
        create_stream_table(ddb, table, "NEW_IMAGE", wait=True)
        ddb.put_item(TableName=table, Item={"pk": {"S": "a"}})
        assert ddb.get_item(TableName=table, Key={"pk": {"S": "a"}}, ConsistentRead=True)["Item"] == {"pk": {"S": "a"}}
        # The function runs in the endpoint's container: it reports that container's view of itself.
        source = """
            import os, sys
            def handler(event, context):
                return {"python": sys.version.split()[0], "in_container": os.path.exists("/.dockerenv"),
                        "echo": event}
        """
        name = f"fn-{uuid.uuid4().hex[:8]}"
        lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": zip_source(source)},
        )
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        answer = lam.invoke(FunctionName=name, Payload=json.dumps({"order": 7}).encode())
        assert answer["StatusCode"] == 200
        assert "FunctionError" not in answer
        body = json.loads(answer["Payload"].read())
        assert body["echo"] == {"order": 7}
        assert body["in_container"] is True
    assert backend.url is None
    assert backend.container is None


@needs_docker
def test_a_missing_local_image_is_reported_with_how_to_build_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlab.backends import container as container_backend

    absent = f"streamlab-embedded:absent-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(container_backend, "DEFAULT_IMAGE", absent)  # the tag only a local build makes
    backend = backend_from_name("container", config=embedded_container_config(image=absent))
    with pytest.raises(
        BackendUnavailable, match=f"image {absent} is not on this Docker engine \\(build it: docker build"
    ):
        backend.start()
    assert backend.container is None  # nothing was created
