"""Unit tests of the Lambda service's parts that need no subprocess: the mapping store,
function references, and the Runtime API server's protocol."""

from __future__ import annotations

import http.client
import json
import threading
from typing import Any

import pytest

from streamlab.emulator.awslambda.control_plane import parse_function_ref
from streamlab.emulator.awslambda.event_source_mappings import EventSourceMappingStore, MappingChange
from streamlab.emulator.awslambda.exceptions import (
    InvalidParameterValueException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from streamlab.emulator.awslambda.invocation import Invocation
from streamlab.emulator.awslambda.runtime_api import RuntimeApiServer

STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024-01-01T00:00:00.000"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:f"


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("f", ("f", None, None)),
        ("f:$LATEST", ("f", "$LATEST", None)),
        ("123456789012:function:f", ("f", None, None)),
        ("arn:aws:lambda:eu-west-1:123456789012:function:f", ("f", None, "eu-west-1")),
        ("arn:aws:lambda:eu-west-1:123456789012:function:f:prod", ("f", "prod", "eu-west-1")),
    ],
)
def test_function_references(reference: str, expected: tuple[Any, ...]) -> None:
    assert parse_function_ref(reference) == expected


def test_store_defaults_notifies_and_settles() -> None:
    store = EventSourceMappingStore(settle_delay=0)
    changes: list[MappingChange] = []
    store.subscribe(changes.append)
    created = store.create("us-east-1", FUNCTION, {"EventSourceArn": STREAM, "StartingPosition": "TRIM_HORIZON"})
    assert created.state == "Creating"
    assert created.batch_size == 100
    assert store.get(created.uuid).state == "Enabled"
    store.update(created.uuid, {"Enabled": False, "BatchSize": 5})
    assert store.get(created.uuid).state == "Disabled"
    assert store.get(created.uuid).batch_size == 5
    store.delete(created.uuid)
    with pytest.raises(ResourceNotFoundException):
        store.get(created.uuid)
    assert [(c.kind, c.mapping.batch_size) for c in changes] == [("created", 100), ("updated", 5), ("deleted", 5)]
    changes[0].mapping.batch_size = 999  # subscribers get copies, never the stored record
    assert store.list() == []


def test_a_mapping_that_has_not_settled_cannot_be_updated() -> None:
    store = EventSourceMappingStore(settle_delay=60)  # stays Creating for the whole test
    try:
        created = store.create("us-east-1", FUNCTION, {"EventSourceArn": STREAM, "StartingPosition": "LATEST"})
        with pytest.raises(ResourceInUseException):
            store.update(created.uuid, {"BatchSize": 3})
        assert store.get(created.uuid).state == "Creating"
        store.delete(created.uuid)
        assert store.get(created.uuid).state == "Deleting"
    finally:
        store.close()


def test_sqs_sources_take_no_stream_parameters() -> None:
    store = EventSourceMappingStore(settle_delay=0)
    queue = "arn:aws:sqs:us-east-1:123456789012:q"
    created = store.create("us-east-1", FUNCTION, {"EventSourceArn": queue})
    assert created.batch_size == 10
    assert "StartingPosition" not in created.to_api()
    with pytest.raises(InvalidParameterValueException):
        store.create("us-east-1", FUNCTION + "2", {"EventSourceArn": queue, "StartingPosition": "LATEST"})
    with pytest.raises(InvalidParameterValueException):
        store.create("us-east-1", FUNCTION + "3", {"EventSourceArn": queue, "BatchSize": 11})


class FakeEnvironment:
    """Answers the Runtime API like an execution environment with one queued invocation."""

    def __init__(self) -> None:
        self.invocation = Invocation(
            payload=b'{"k": 1}', function_arn=FUNCTION, timeout_s=3, client_context='{"custom": {}}'
        )
        self.given = threading.Event()
        self.posts: list[tuple[str, Any, Any]] = []

    def next_invocation(self, deliver: Any) -> None:
        if self.given.is_set():
            return  # parked: nothing more to give
        self.given.set()
        self.invocation.mark_delivered()
        deliver(self.invocation)

    def invocation_response(self, request_id: str, body: bytes) -> tuple[int, dict[str, str]]:
        self.posts.append(("response", request_id, body))
        return 202, {"status": "OK"}

    def invocation_error(self, request_id: str, body: bytes, error_type: str | None) -> tuple[int, dict[str, str]]:
        self.posts.append(("error", request_id, error_type))
        return 202, {"status": "OK"}

    def init_error(self, body: bytes, error_type: str | None) -> tuple[int, dict[str, str]]:
        self.posts.append(("init", json.loads(body), error_type))
        return 202, {"status": "OK"}


def answer(connection: http.client.HTTPConnection) -> int:
    response = connection.getresponse()
    response.read()
    return response.status


def test_runtime_api_protocol() -> None:
    environment = FakeEnvironment()
    server = RuntimeApiServer(environment)
    server.start()
    try:
        connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
        connection.request("GET", "/2018-06-01/runtime/invocation/next")
        response = connection.getresponse()
        assert response.status == 200
        assert response.read() == b'{"k": 1}'
        request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
        assert request_id == environment.invocation.request_id
        assert int(response.getheader("Lambda-Runtime-Deadline-Ms")) == environment.invocation.deadline_ms
        assert response.getheader("Lambda-Runtime-Invoked-Function-Arn") == FUNCTION
        assert response.getheader("Lambda-Runtime-Trace-Id").startswith("Root=1-")
        assert response.getheader("Lambda-Runtime-Client-Context") == '{"custom": {}}'
        # the same keep-alive connection carries the result, chunked or not
        connection.request("POST", f"/2018-06-01/runtime/invocation/{request_id}/response", body=b'"done"')
        assert connection.getresponse().read() == b'{"status": "OK"}'
        connection.request(
            "POST",
            f"/2018-06-01/runtime/invocation/{request_id}/error",
            body=iter([b'{"errorType": "E"}']),
            headers={"Lambda-Runtime-Function-Error-Type": "Unhandled"},
            encode_chunked=True,
        )
        assert answer(connection) == 202
        connection.request(
            "POST",
            "/2018-06-01/runtime/init/error",
            body=b'{"errorType": "Runtime.ImportModuleError"}',
            headers={"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"},
        )
        assert answer(connection) == 202
        connection.request("GET", "/nope")
        assert answer(connection) == 404
        assert environment.posts == [
            ("response", request_id, b'"done"'),
            ("error", request_id, "Unhandled"),
            ("init", {"errorType": "Runtime.ImportModuleError"}, "Runtime.ImportModuleError"),
        ]
    finally:
        server.stop()
