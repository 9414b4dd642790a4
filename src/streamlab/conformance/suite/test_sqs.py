"""SQS -> Lambda: what a queue's event source mapping delivers and how it retries (public API only).

Recordings: LocalStack's AWS-validated ``tests/aws/services/lambda_/event_source_mapping/
test_lambda_integration_sqs.snapshot.json`` (repository localstack/localstack), each scenario naming
its test and the date ``.validation.json`` gives; AWS docs with-sqs.html and services-sqs-errorhandling.html.
"""

from __future__ import annotations

import json

from streamlab.conformance.suite.harness import Invocation, Scenario
from streamlab.testing import eventually

RECORD_KEYS = [
    "messageId",
    "receiptHandle",
    "body",
    "attributes",
    "messageAttributes",
    "md5OfBody",
    "eventSource",
    "eventSourceARN",
    "awsRegion",
]


def test_a_queue_mapping_answers_without_stream_members(scenario: Scenario) -> None:
    """CreateEventSourceMapping on a queue: BatchSize 10, MaximumBatchingWindowInSeconds 0,
    StateTransitionReason USER_INITIATED, no StartingPosition and no stream-only members.

    Recorded: test_lambda_integration_sqs.snapshot.json, test_failing_lambda_retries_after_visibility_timeout,
    "event_source_mapping" (validated 2023-02-27).
    """
    queue = scenario.source_queue()
    created = scenario.mapping(scenario.map_source(queue, wait=True))
    assert created["BatchSize"] == 10
    assert created["MaximumBatchingWindowInSeconds"] == 0
    assert created["StateTransitionReason"] == "USER_INITIATED"
    assert created["FunctionResponseTypes"] == []
    for member in (
        "StartingPosition",
        "ParallelizationFactor",
        "BisectBatchOnFunctionError",
        "TumblingWindowInSeconds",
    ):
        assert member not in created


def test_a_message_arrives_in_the_recorded_shape_and_is_deleted(scenario: Scenario) -> None:
    """A standard queue's record: messageId, receiptHandle, body, attributes {ApproximateReceiveCount,
    SentTimestamp, SenderId, ApproximateFirstReceiveTimestamp}, messageAttributes, md5OfBody,
    eventSource aws:sqs, eventSourceARN, awsRegion; the message is deleted once the function succeeded.

    Recorded: test_lambda_integration_sqs.snapshot.json, test_failing_lambda_retries_after_visibility_timeout,
    "second_attempt" (validated 2023-02-27).
    """
    queue = scenario.source_queue()
    scenario.map_source(queue)
    message_id = scenario.send(queue, {"order": 1})
    [invocation] = scenario.wait_invocations(queue, lambda calls: len(calls) >= 1, message="message delivered")
    [record] = invocation.records
    assert list(record) == RECORD_KEYS
    assert record["messageId"] == message_id
    assert json.loads(record["body"]) == {"order": 1}
    assert list(record["attributes"]) == [
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    ]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue.arn
    assert record["awsRegion"] == scenario.region
    eventually(lambda: scenario.queue_depth(queue) == 0, scenario.backend.delivery, scenario.backend.poll)


def test_a_failing_message_returns_after_the_visibility_timeout_then_goes_to_the_dlq(scenario: Scenario) -> None:
    """A function error leaves the message in the queue; it is received again after the visibility
    timeout (ApproximateReceiveCount 2) and moved to the dead-letter queue after maxReceiveCount.

    Recorded: test_lambda_integration_sqs.snapshot.json, test_redrive_policy_with_failing_lambda,
    "first_attempt" / "second_attempt" / "dlq_response" (validated 2023-02-27).
    """
    dlq_url, dlq_arn = scenario.queue()
    queue = scenario.source_queue(
        VisibilityTimeout="5", RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    )
    scenario.map_source(queue)
    message_id = scenario.send(queue, {"directive": "raise"})
    parked = scenario.messages(dlq_url, 1)
    assert parked == [{"directive": "raise"}]
    counts = sorted(record["attributes"]["ApproximateReceiveCount"] for record in scenario.delivered(queue))
    assert counts[:2] == ["1", "2"]
    assert all(record["messageId"] == message_id for record in scenario.delivered(queue))


def test_a_partial_batch_response_returns_only_the_named_messages(scenario: Scenario) -> None:
    """ReportBatchItemFailures on a queue: itemIdentifier is the messageId; the named messages come
    back, the others are deleted.

    Recorded: test_lambda_integration_sqs.snapshot.json, test_report_batch_item_failures,
    "first_invocation" / "second_invocation" (validated 2023-11-10).
    """
    queue = scenario.source_queue(VisibilityTimeout="5")
    ok = scenario.send(queue, {"n": 1})
    failing = scenario.send(queue, {"n": 2, "directive": "fail-item-once"})
    scenario.map_source(queue, "partial", FunctionResponseTypes=["ReportBatchItemFailures"])

    def retried(calls: list[Invocation]) -> bool:
        return sum(1 for c in calls for r in c.records if r["messageId"] == failing) >= 2

    scenario.wait_invocations(queue, retried, scenario.backend.retries, "the failed message came back")
    eventually(lambda: scenario.queue_depth(queue) == 0, scenario.backend.retries, scenario.backend.poll)
    assert sum(1 for r in scenario.delivered(queue) if r["messageId"] == ok) == 1


def test_a_fifo_queue_keeps_each_message_group_in_order(scenario: Scenario) -> None:
    """A FIFO queue's messages reach the function in order within their message group; its records
    carry MessageGroupId, SequenceNumber and MessageDeduplicationId.

    Recorded: test_lambda_integration_sqs.snapshot.json, test_report_batch_item_failures (a FIFO
    queue, validated 2023-11-10); with-sqs.html (ordered processing per message group).
    """
    queue = scenario.source_queue(fifo=True)
    scenario.map_source(queue, BatchSize=2)
    for n in range(9):
        scenario.send(queue, {"n": n}, MessageGroupId=f"g{n % 3}")
    scenario.wait_invocations(queue, lambda calls: sum(len(c.records) for c in calls) >= 9, message="9 delivered")
    records = scenario.delivered(queue)
    assert {"MessageGroupId", "SequenceNumber", "MessageDeduplicationId"} <= set(records[0]["attributes"])
    for group in ("g0", "g1", "g2"):
        numbers = [json.loads(r["body"])["n"] for r in records if r["attributes"]["MessageGroupId"] == group]
        assert numbers == sorted(numbers)


def test_a_filter_on_the_json_body_drops_and_deletes_the_rest(scenario: Scenario) -> None:
    """FilterCriteria on a queue match the JSON body under ``body``; messages no filter matches are
    deleted, never delivered.

    Recorded: test_lambda_integration_sqs.snapshot.json, TestSQSEventSourceMapping::test_sqs_event_filter
    (validated 2023-02-27); invocation-eventfiltering.html.
    """
    queue = scenario.source_queue()
    pattern = {"body": {"kind": ["keep"]}}
    scenario.map_source(queue, FilterCriteria={"Filters": [{"Pattern": json.dumps(pattern)}]})
    scenario.send(queue, {"kind": "drop"})
    scenario.send(queue, {"kind": "keep"})
    scenario.wait_invocations(queue, lambda calls: len(calls) >= 1, message="the matching message delivered")
    eventually(lambda: scenario.queue_depth(queue) == 0, scenario.backend.delivery, scenario.backend.poll)
    assert [json.loads(r["body"]) for r in scenario.delivered(queue)] == [{"kind": "keep"}]
