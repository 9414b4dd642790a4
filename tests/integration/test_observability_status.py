"""``/_streamlab/status``, ``/_streamlab/trace``, ``streamlab status`` and ``streamlab trace``
for a poison record: the record's journey from the stream to the on-failure queue."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from streamlab.cli import main
from streamlab.testing import eventually
from tests.integration.lambda_support import FunctionFactory
from tests.integration.observability_support import (
    POISON_AWARE,
    get_json,
    make_queue,
    stream_with_mapping,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def poisoned(
    streamlab_client: Callable[..., Any],
    make_function: FunctionFactory,
    streamlab_unique_name: Callable[[str], str],
    streamlab_in_process: bool,
) -> Any:
    """Three orders, one poison; a mapping that bisects, retries once and sends what fails to a queue."""
    if not streamlab_in_process:
        pytest.skip("the journal and /_streamlab/status are the embedded endpoint's")
    sqs = streamlab_client("sqs")
    dlq = make_queue(sqs, streamlab_unique_name("orders-dlq"))
    function = make_function(POISON_AWARE)
    table = streamlab_unique_name("orders")
    stream, uuid = stream_with_mapping(
        streamlab_client,
        table,
        function,
        BatchSize=10,
        MaximumBatchingWindowInSeconds=1,
        MaximumRetryAttempts=1,
        BisectBatchOnFunctionError=True,
        DestinationConfig={"OnFailure": {"Destination": dlq.arn}},
    )
    for key in ("order-1", "poison-7", "order-2"):
        stream.put(key)
    # The failure record's arrival means the engine gave up on the poison record.
    eventually(
        lambda: (
            int(
                sqs.get_queue_attributes(QueueUrl=dlq.url, AttributeNames=["ApproximateNumberOfMessages"])[
                    "Attributes"
                ]["ApproximateNumberOfMessages"]
            )
            >= 1
        ),
        timeout=60,
        interval=0.2,
        message="the on-failure record",
    )
    yield {"table": table, "function": function, "uuid": uuid, "dlq": dlq, "stream": stream}
    streamlab_client("lambda").delete_event_source_mapping(UUID=uuid)


def test_status_names_the_failing_mapping_its_dlq_and_the_function(
    poisoned: dict[str, Any], streamlab_endpoint_url: str
) -> None:
    def settled() -> dict[str, Any] | None:
        code, document = get_json(f"{streamlab_endpoint_url}/_streamlab/status")
        assert code == 200
        mapping = next(m for m in document["mappings"] if m["UUID"] == poisoned["uuid"])
        return document if mapping["recordsDiscarded"] >= 1 else None

    document = eventually(settled, timeout=20, message="the discard in the status")
    mapping = next(m for m in document["mappings"] if m["UUID"] == poisoned["uuid"])
    assert mapping["FunctionName"] == poisoned["function"]
    assert mapping["State"] == "Enabled"
    assert mapping["recordsRead"] == 3
    assert mapping["recordsDiscarded"] == 1
    assert mapping["failedBatches"] >= 2  # the whole batch, then the poison half and its retry
    assert "poison order poison-7" in (mapping["lastError"] or "")
    assert mapping["Dlq"]["queueArn"] == poisoned["dlq"].arn
    assert mapping["Dlq"]["messages"] == 1
    assert json.loads(mapping["Dlq"]["preview"][0]["body"])["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert mapping["iteratorAgeSeries"], "iterator age over time"

    def caught_up() -> bool:
        document = get_json(f"{streamlab_endpoint_url}/_streamlab/status")[1]
        return next(m for m in document["mappings"] if m["UUID"] == poisoned["uuid"])["iteratorAgeMs"] == 0

    eventually(caught_up, timeout=20, message="iterator age 0 once the shard is caught up")
    function = next(f for f in document["functions"] if f["FunctionName"] == poisoned["function"])
    assert function["errors"] >= 2
    assert function["invocations"] >= function["errors"] + 1
    assert function["durationP50Ms"] is not None
    assert function["durationP99Ms"] >= function["durationP50Ms"]
    assert function["WarmEnvironments"] >= 1
    stream = next(s for s in document["streams"] if s["TableName"] == poisoned["table"])
    assert stream["Records"] == 3
    assert stream["OpenShards"] >= 1
    assert any("poison order poison-7" in line["line"] for line in document["logs"])


def test_trace_follows_the_poison_record_to_the_on_failure_queue(
    poisoned: dict[str, Any], streamlab_endpoint_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, answer = get_json(f"{streamlab_endpoint_url}/_streamlab/trace?table={poisoned['table']}&key=poison-7")
    assert code == 200
    [journey] = answer["journeys"]
    assert journey["keys"] == {"pk": {"S": "poison-7"}}
    assert journey["eventName"] == "INSERT"
    steps = journey["steps"]
    assert steps[0]["step"] == "read"
    invoked = [s for s in steps if s["step"] == "invoked"]
    assert all(s["outcome"] == "function_error" and s["requestId"] for s in invoked)
    assert any(s["bisected"] for s in invoked), "the batch was split to find the poison record"
    assert invoked[-1]["batchSize"] == 1
    assert steps[-1] == {**steps[-1], "step": "discarded", "condition": "RetryAttemptsExhausted", "delivered": True}
    assert steps[-1]["destination"] == poisoned["dlq"].arn

    assert main(["trace", poisoned["table"], "poison-7", "--endpoint-url", streamlab_endpoint_url]) == 0
    printed = capsys.readouterr().out
    assert f"{poisoned['table']} poison-7: 1 stream record(s)" in printed
    assert "ValueError: poison order poison-7" in printed
    assert "[bisected]" in printed
    assert (
        f"gave up (RetryAttemptsExhausted) with a batch of 1: on-failure record sent to {poisoned['dlq'].arn}"
        in printed
    )

    assert main(["trace", poisoned["table"], "pk=order-2", "--endpoint-url", streamlab_endpoint_url]) == 0
    printed = capsys.readouterr().out
    assert "1 stream record(s)" in printed
    assert "processed" in printed
    assert "gave up" not in printed


def test_status_command_prints_mappings_functions_and_streams(
    poisoned: dict[str, Any], streamlab_endpoint_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--endpoint-url", streamlab_endpoint_url]) == 0
    printed = capsys.readouterr().out
    mapping_line = next(line for line in printed.splitlines() if poisoned["uuid"][:8] in line)
    assert poisoned["function"] in mapping_line
    assert poisoned["table"] in mapping_line
    assert "Enabled" in mapping_line
    streams = printed.split("Streams", 1)[1]
    assert poisoned["table"] in streams


def test_own_routes_answer_json_errors(streamlab_endpoint_url: str, streamlab_in_process: bool) -> None:
    if not streamlab_in_process:
        pytest.skip("streamlab's own routes")
    base = f"{streamlab_endpoint_url}/_streamlab"
    assert get_json(f"{base}/trace?table=t")[0] == 400
    code, answer = get_json(f"{base}/trace?table=t&key=k&region=../../etc")
    assert (code, answer["error"]) == (400, "ValidationException")
    assert get_json(f"{base}/trace?table=t&key=%7Bnot-json")[0] == 400
    assert get_json(f"{base}/status", method="POST")[0] == 405
    code, answer = get_json(f"{base}/no-such-route")
    assert (code, answer["error"]) == (404, "NotFound")


def test_status_reads_what_the_public_api_tells_on_any_endpoint(
    poisoned: dict[str, Any], streamlab_endpoint_url: str, streamlab_region: str
) -> None:
    """LocalStack and AWS have no /_streamlab/status: the command falls back to the public API."""
    from streamlab.status_cli import public_status, render

    document = public_status(streamlab_endpoint_url, streamlab_region)
    mapping = next(m for m in document["mappings"] if m["UUID"] == poisoned["uuid"])
    assert mapping["FunctionName"] == poisoned["function"]
    assert mapping["State"] == "Enabled"
    assert mapping["Dlq"] == {"queueArn": poisoned["dlq"].arn, "messages": 1}
    assert poisoned["function"] in [f["FunctionName"] for f in document["functions"]]
    assert "(public API)" in render(document)
