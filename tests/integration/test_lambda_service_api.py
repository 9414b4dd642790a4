"""The Python-level API the in-process event source mapping engine uses, account limits and
clean shutdown. These need the service object, so they start their own embedded endpoint."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import psutil
import pytest

from streamlab.emulator.awslambda.event_source_mappings import MappingChange
from streamlab.emulator.awslambda.exceptions import ResourceNotFoundException, TooManyRequestsException
from streamlab.emulator.endpoint import EmbeddedEndpoint
from streamlab.streams import create_stream_table
from streamlab.testing import eventually
from tests.integration.lambda_support import ECHO, ROLE, local_client, zip_source

SLEEPER = """
import time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    if event.get("fail"):
        raise RuntimeError("failed on purpose")
    return event
"""


@pytest.fixture(scope="module")
def endpoint() -> Iterator[EmbeddedEndpoint]:
    with EmbeddedEndpoint(port=0) as started:
        yield started


@pytest.fixture
def client(endpoint: EmbeddedEndpoint) -> Callable[[str], Any]:
    return lambda service: local_client(endpoint.url, service)


def create(client: Callable[[str], Any], name: str, source: str = ECHO, **kwargs: Any) -> str:
    client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_source(source)},
        **kwargs,
    )
    return name


def test_invoke_in_process(
    endpoint: EmbeddedEndpoint, client: Callable[[str], Any], streamlab_unique_name: Callable[[str], str]
) -> None:
    service = endpoint.lambda_service
    name = create(client, streamlab_unique_name("py"), SLEEPER)
    result = service.invoke(name, b'{"records": [1, 2]}')
    assert (result.status_code, result.function_error, json.loads(result.payload)) == (200, None, {"records": [1, 2]})
    assert result.cold_start
    assert result.duration_ms > 0
    assert result.executed_version == "$LATEST"
    by_arn = service.invoke(service.function_arn(name), b"{}", qualifier="$LATEST", log_type="Tail")
    assert not by_arn.cold_start
    assert by_arn.log_tail
    assert "REPORT RequestId: " + by_arn.request_id in base64.b64decode(by_arn.log_tail).decode()
    failed = service.invoke(name, b'{"fail": true}')
    assert failed.function_error == "Unhandled"
    assert failed.error_type == "RuntimeError"
    assert json.loads(failed.payload)["errorMessage"] == "failed on purpose"
    with pytest.raises(ResourceNotFoundException):
        service.invoke(name + "-missing", b"{}")
    with pytest.raises(ResourceNotFoundException):
        service.invoke(name, b"{}", qualifier="7")


def test_throttles_raise_for_the_engine(
    endpoint: EmbeddedEndpoint, client: Callable[[str], Any], streamlab_unique_name: Callable[[str], str]
) -> None:
    service = endpoint.lambda_service
    name = create(client, streamlab_unique_name("throttled"))
    client("lambda").put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(TooManyRequestsException) as excinfo:
        service.invoke(name, b"{}")
    assert excinfo.value.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_account_concurrency_limit_is_settable(
    endpoint: EmbeddedEndpoint, client: Callable[[str], Any], streamlab_unique_name: Callable[[str], str]
) -> None:
    service = endpoint.lambda_service
    name = create(client, streamlab_unique_name("account"), SLEEPER, Timeout=5)
    service.invoke(name, b"{}")
    previous = service.account_concurrency
    service.account_concurrency = 1
    try:
        worker = threading.Thread(target=service.invoke, args=(name, b'{"sleep": 1.5}'))
        worker.start()
        time.sleep(0.5)
        with pytest.raises(client("lambda").exceptions.TooManyRequestsException) as excinfo:
            client("lambda").invoke(FunctionName=name)
        assert excinfo.value.response["Reason"] == "ConcurrentInvocationLimitExceeded"
        worker.join()
        settings = client("lambda").get_account_settings()["AccountLimit"]
        assert settings["ConcurrentExecutions"] == 1
    finally:
        service.account_concurrency = previous


def test_mapping_store_notifies_subscribers_and_takes_engine_reports(
    endpoint: EmbeddedEndpoint, client: Callable[[str], Any], streamlab_unique_name: Callable[[str], str]
) -> None:
    service = endpoint.lambda_service
    name = create(client, streamlab_unique_name("esm"))
    changes: list[MappingChange] = []
    unsubscribe = service.event_source_mappings.subscribe(changes.append)
    try:
        lambda_client = client("lambda")
        source = create_stream_table(client("dynamodb"), streamlab_unique_name("esm-source"))
        uuid = lambda_client.create_event_source_mapping(
            EventSourceArn=source, FunctionName=name, StartingPosition="LATEST", BatchSize=7
        )["UUID"]
        eventually(lambda: lambda_client.get_event_source_mapping(UUID=uuid)["State"] == "Enabled")
        lambda_client.update_event_source_mapping(UUID=uuid, BatchSize=8)
        eventually(lambda: lambda_client.get_event_source_mapping(UUID=uuid)["State"] == "Enabled")
        service.event_source_mappings.set_last_processing_result(uuid, "OK")
        assert lambda_client.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == "OK"
        lambda_client.delete_event_source_mapping(UUID=uuid)
        assert [c.kind for c in changes] == ["created", "updated", "deleted"]
        assert [c.mapping.batch_size for c in changes] == [7, 8, 8]
        assert changes[0].mapping.function_arn == service.function_arn(name)
        assert changes[0].mapping.starting_position == "LATEST"
    finally:
        unsubscribe()


def test_stop_leaves_no_processes() -> None:
    endpoint = EmbeddedEndpoint(port=0).start()
    try:
        lambda_client = boto3.client(
            "lambda",
            endpoint_url=endpoint.url,
            region_name="us-east-1",
            aws_access_key_id="t",
            aws_secret_access_key="t",
        )
        lambda_client.create_function(
            FunctionName="stop-me",
            Runtime="python3.12",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": zip_source(SLEEPER)},
        )
        busy = [
            threading.Thread(target=lambda: endpoint.lambda_service.invoke("stop-me", b'{"sleep": 30}'))
            for _ in range(2)
        ]
        for thread in busy:
            thread.start()
        eventually(lambda: len(endpoint.lambda_service.environments.environments()) == 2)
        pids = [env.process.pid for env in endpoint.lambda_service.environments.environments() if env.process]
        assert len(pids) == 2
        assert all(psutil.pid_exists(pid) for pid in pids)
    finally:
        endpoint.stop()
    for thread in busy:
        thread.join(timeout=5)
        assert not thread.is_alive()  # the invocations ended (with Runtime.ExitError) instead of hanging
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
