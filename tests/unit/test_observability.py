"""Units of the observability consumers: metric aggregation, alarm decisions and their wording,
the journal's bound and key matching, percentiles, and up's console lines."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest

from streamlab.aws_rules import AlarmState, ComparisonOperator, TreatMissingData
from streamlab.emulator.observability.alarm_rules import AlarmRule, Point, decide
from streamlab.emulator.observability.board import StatusBoard, percentile
from streamlab.emulator.observability.journeys import JourneyJournal, key_matches, parse_key
from streamlab.emulator.observability.metrics import LambdaMetrics, function_dimensions
from streamlab.emulator.telemetry import (
    BatchInvoked,
    FunctionInvoked,
    InvokeOutcome,
    IteratorAgeSampled,
    RecordsDiscarded,
    RecordsRead,
)
from streamlab.up_console import UpConsole, Verbosity

FN_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:orders"
STREAM = "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-12-02T00:00:00.000"


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, list[dict[str, Any]]]] = []

    def put(self, region: str, namespace: str, metric_data: list[dict[str, Any]]) -> None:
        self.calls.append((region, namespace, metric_data))


def invoked(outcome: InvokeOutcome = InvokeOutcome.SUCCESS, duration: float = 10.0, **kw: Any) -> FunctionInvoked:
    return FunctionInvoked("orders", "$LATEST", "RequestResponse", outcome, duration, region="eu-west-1", **kw)


def test_invocations_of_one_second_become_one_statistic_set_per_dimension_set() -> None:
    writer = Recorder()
    metrics = LambdaMetrics(writer, clock=lambda: 1_800_000_000.4)
    for duration in (5.0, 15.0):
        metrics.emit(invoked(duration=duration, concurrent_executions=2))
    metrics.emit(invoked(InvokeOutcome.FUNCTION_ERROR, 40.0, concurrent_executions=1))
    metrics.emit(invoked(InvokeOutcome.THROTTLED, 0.0))
    assert metrics.flush() > 0
    [(region, namespace, data)] = writer.calls
    assert (region, namespace) == ("eu-west-1", "AWS/Lambda")
    by = {(d["MetricName"], tuple((x["Name"], x["Value"]) for x in d["Dimensions"])): d for d in data}
    invocations = by[("Invocations", (("FunctionName", "orders"),))]["StatisticValues"]
    assert invocations == {"SampleCount": 3.0, "Sum": 3.0, "Minimum": 1.0, "Maximum": 1.0}
    errors = by[("Errors", (("FunctionName", "orders"), ("Resource", "orders")))]["StatisticValues"]
    assert (errors["Sum"], errors["SampleCount"]) == (1.0, 3.0)
    duration = by[("Duration", ())]["StatisticValues"]
    assert (duration["Minimum"], duration["Maximum"], duration["Sum"]) == (5.0, 40.0, 60.0)
    assert by[("Throttles", (("FunctionName", "orders"),))]["StatisticValues"]["Sum"] == 1.0
    assert by[("ConcurrentExecutions", (("FunctionName", "orders"),))]["StatisticValues"]["Maximum"] == 2.0
    assert by[("Invocations", ())]["Timestamp"] == dt.datetime.fromtimestamp(1_800_000_000, dt.UTC)
    assert metrics.flush() == 0  # written once


def test_alias_invocations_carry_executed_version() -> None:
    assert function_dimensions("f", "live", "3")[-1] == (
        ("FunctionName", "f"),
        ("Resource", "f:live"),
        ("ExecutedVersion", "3"),
    )
    assert len(function_dimensions("f", "3", "3")) == 3  # a version: no ExecutedVersion set


def test_iterator_age_and_failed_destinations_by_function() -> None:
    writer = Recorder()
    metrics = LambdaMetrics(writer, clock=lambda: 100.0)
    metrics.emit(IteratorAgeSampled("u1", FN_ARN, STREAM, 900.0))
    metrics.emit(IteratorAgeSampled("u1", FN_ARN, STREAM, 2500.0))
    metrics.emit(RecordsDiscarded("u1", FN_ARN, STREAM, "s", ["1"], "RetryAttemptsExhausted", "arn:aws:sqs:x", False))
    metrics.flush()
    data = writer.calls[0][2]
    ages = [d for d in data if d["MetricName"] == "IteratorAge"]
    assert {tuple(x["Value"] for x in d["Dimensions"]) for d in ages} == {("orders",), ("orders", "orders")}
    assert all(d["StatisticValues"]["Maximum"] == 2500.0 for d in ages)
    assert any(d["MetricName"] == "DestinationDeliveryFailures" for d in data)
    assert not any(d["MetricName"] == "PolledEventCount" for d in data)  # MetricsConfig not asked for


def test_event_count_metrics_by_mapping_uuid_when_metrics_config_asks() -> None:
    writer = Recorder()
    metrics = LambdaMetrics(writer, event_count_enabled=lambda uuid: uuid == "u1", clock=lambda: 100.0)
    metrics.emit(RecordsRead("u1", STREAM, "s", ["1", "2"]))
    metrics.emit(RecordsRead("u2", STREAM, "s", ["3"]))
    metrics.flush()
    [polled] = [d for d in writer.calls[0][2] if d["MetricName"] == "PolledEventCount"]
    assert polled["Dimensions"] == [{"Name": "EventSourceMappingUUID", "Value": "u1"}]
    assert polled["StatisticValues"]["Sum"] == 2.0


START = dt.datetime(2023, 10, 26, 16, 42, tzinfo=dt.UTC)
GREATER = AlarmRule(ComparisonOperator.GREATER, 2.0, 1)


def test_one_breaching_datapoint_is_worded_as_aws_words_it() -> None:
    decision = decide(GREATER, [Point(START, 21.5, 2)], AlarmState.INSUFFICIENT_DATA)
    assert decision is not None
    assert decision.state == AlarmState.ALARM
    # LocalStack's test_cloudwatch snapshot (test_put_metric_alarm), recorded against AWS 2023-10-26.
    assert (
        decision.reason
        == "Threshold Crossed: 1 datapoint [21.5 (26/10/23 16:42:00)] was greater than the threshold (2.0)."
    )


def test_missing_data_as_the_alarm_treats_it() -> None:
    empty = [Point(START, None), Point(START + dt.timedelta(seconds=10), None)]
    breaching = AlarmRule(ComparisonOperator.GREATER, 2.0, 2, treat_missing=TreatMissingData.BREACHING)
    decision = decide(breaching, empty, AlarmState.INSUFFICIENT_DATA)
    assert decision is not None
    assert decision.state == AlarmState.ALARM
    # test_breaching_alarm_actions, recorded 2023-09-12.
    assert decision.reason == (
        "Threshold Crossed: no datapoints were received for 2 periods and "
        "2 missing datapoints were treated as [Breaching]."
    )
    not_breaching = AlarmRule(ComparisonOperator.GREATER, 2.0, 1, treat_missing=TreatMissingData.NOT_BREACHING)
    ok = decide(not_breaching, empty[:1], AlarmState.ALARM)
    assert ok is not None
    assert ok.reason == (
        "Threshold Crossed: no datapoints were received for 1 period and "
        "1 missing datapoint was treated as [NonBreaching]."
    )
    missing = decide(GREATER, empty[:1], AlarmState.OK)
    assert missing is not None
    assert missing.state == AlarmState.INSUFFICIENT_DATA
    ignore = AlarmRule(ComparisonOperator.GREATER, 2.0, 1, treat_missing=TreatMissingData.IGNORE)
    assert decide(ignore, empty[:1], AlarmState.ALARM) is None  # stays as it is


def test_m_out_of_n_needs_datapoints_to_alarm_breaches() -> None:
    rule = AlarmRule(ComparisonOperator.GREATER_OR_EQUAL, 5.0, 3, datapoints_to_alarm=2)
    points = [Point(START + dt.timedelta(minutes=i), v) for i, v in enumerate((1.0, 5.0, 2.0))]
    quiet = decide(rule, points, AlarmState.OK)
    assert quiet is not None
    assert quiet.state == AlarmState.OK
    points[2] = Point(points[2].start, 7.0)
    loud = decide(rule, points, AlarmState.OK)
    assert loud is not None
    assert loud.state == AlarmState.ALARM
    assert loud.reason.startswith("Threshold Crossed: 2 out of the last 3 datapoints [7.0 (26/10/23 16:44:00), 5.0")
    assert loud.reason.endswith("(minimum 2 datapoints for OK -> ALARM transition).")


def test_the_journal_keeps_its_bound_and_finds_an_item_by_key() -> None:
    journal = JourneyJournal(max_records=3)
    keys = ['{"pk":{"S":"a"}}', '{"pk":{"S":"b"}}', '{"pk":{"S":"a"}}', '{"pk":{"S":"c"}}']
    journal.emit(RecordsRead("u1", STREAM, "s", ["1", "2", "3", "4"], keys=keys, event_names=["INSERT"] * 4))
    assert len(journal) == 3  # the oldest record went first
    journal.emit(BatchInvoked("u1", FN_ARN, STREAM, "s", ["3", "4"], 1, InvokeOutcome.FUNCTION_ERROR, 3.0, "r1"))
    journal.emit(BatchInvoked("u1", FN_ARN, STREAM, "s", ["3"], 2, InvokeOutcome.FUNCTION_ERROR, 3.0, "r2"))
    [journey] = journal.trace("Orders", "a")  # its first record (1) was dropped by the bound
    assert journey["sequenceNumber"] == "3"
    steps = journey["steps"]
    assert [s["step"] for s in steps] == ["read", "invoked", "invoked"]
    assert (steps[1]["bisected"], steps[2]["bisected"]) == (False, True)
    assert [j["sequenceNumber"] for j in journal.trace("Orders", "pk=b")] == ["2"]
    assert journal.trace("Other", "a") == []


def test_kinesis_partition_keys_are_text_in_the_journal_not_item_keys() -> None:
    # A partition key such as "123 abc" reads as a JSON fragment; it broke /_streamlab/status once.
    kinesis = "arn:aws:kinesis:eu-west-1:123456789012:stream/clicks"
    journal = JourneyJournal()
    journal.emit(RecordsRead("u1", kinesis, "shardId-0", ["1", "2"], keys=["123 abc", "[1]"]))
    journal.emit(RecordsRead("u2", STREAM, "s", ["3"], keys=['{"pk":{"S":"a"}}']))
    recent = journal.recent(10)
    assert [(j["keys"], j["partitionKey"]) for j in recent] == [
        ({"pk": {"S": "a"}}, None),
        (None, "[1]"),
        (None, "123 abc"),
    ]
    assert not key_matches("123 abc", parse_key("123"))


@pytest.mark.parametrize(
    ("query", "matches"),
    [
        ("a", True),
        ("pk=a", True),
        ('{"pk": {"S": "a"}}', True),
        ('{"pk": "a"}', True),
        ("pk=b", False),
        ("sk=a", False),
    ],
)
def test_key_forms(query: str, matches: bool) -> None:
    assert key_matches('{"pk":{"S":"a"}}', parse_key(query)) is matches


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile([], 50)) == (50.0, 99.0, None)
    assert percentile([1.0, 2.0, 3.0, 4.0], 75) == 3.0


def test_the_board_counts_and_bounds_series() -> None:
    board = StatusBoard(clock=lambda: 10.0)
    board.emit(invoked(log_lines=("START", "oops", "END")))
    board.emit(invoked(InvokeOutcome.TIMEOUT, 3000.0, error_type="Sandbox.Timedout", error_message="Task timed out"))
    figures = board.function("eu-west-1", "orders")
    assert (figures["invocations"], figures["errors"], figures["lastError"]) == (
        2,
        1,
        "Sandbox.Timedout Task timed out",
    )
    assert figures["invocationsPerSecond"] == [[10.0, 2.0]]
    assert [line["line"] for line in board.logs()] == ["START", "oops", "END"]


def lines(verbosity: Verbosity, *events: Any) -> list[str]:
    out = io.StringIO()
    console = UpConsole(verbosity, out)
    for event in events:
        console.emit(event)
    return [line.split(" ", 1)[1] for line in out.getvalue().splitlines()]  # without the time


SYNTAX = BatchInvoked(
    "1a2b3c4d-0000",
    FN_ARN,
    STREAM,
    "s",
    ["1", "2"],
    3,
    InvokeOutcome.FUNCTION_ERROR,
    1.5,
    "r",
    error_type="Runtime.UserCodeSyntaxError",
    error_message="Syntax error in module 'app': invalid syntax (app.py, line 2)\n  more",
)


def test_up_names_the_function_the_mapping_and_the_error() -> None:
    assert lines(Verbosity.NORMAL, SYNTAX) == [
        "orders <- Orders [1a2b3c4d] batch 2 attempt 3 1.5 ms ERROR Runtime.UserCodeSyntaxError: "
        "Syntax error in module 'app': invalid syntax (app.py, line 2)"
    ]
    discarded = RecordsDiscarded("1a2b3c4d-0000", FN_ARN, STREAM, "s", ["1"], "RetryAttemptsExhausted", None, False)
    assert lines(Verbosity.QUIET, discarded) == [
        "orders <- Orders [1a2b3c4d] gave up on 1 record(s) (RetryAttemptsExhausted): LOST (no on-failure destination)"
    ]


def test_quiet_prints_failures_only_and_verbose_prints_reads() -> None:
    ok = invoked(cold_start=True)
    assert lines(Verbosity.NORMAL, ok) == ["orders RequestResponse 10.0 ms OK (cold start)"]
    assert lines(Verbosity.QUIET, ok) == []
    mapping_invocation = FunctionInvoked("orders", "$LATEST", "EventSourceMapping", InvokeOutcome.SUCCESS, 1.0)
    assert lines(Verbosity.NORMAL, mapping_invocation) == []  # its batch line says it
    read = RecordsRead("1a2b3c4d-0000", STREAM, "shardId-1", ["1"])
    assert lines(Verbosity.NORMAL, read) == []
    assert lines(Verbosity.VERBOSE, read) == ["Orders [1a2b3c4d] read 1 record(s) of shardId-1"]
    assert lines(Verbosity.VERBOSE, SYNTAX)[-1].strip() == "more"  # the whole message, every line


def test_a_partial_batch_response_marks_the_records_it_names() -> None:
    journal = JourneyJournal()
    keys = ['{"pk":{"S":"a"}}', '{"pk":{"S":"b"}}']
    journal.emit(RecordsRead("u1", STREAM, "s", ["1", "2"], keys=keys))
    journal.emit(
        BatchInvoked(
            "u1", FN_ARN, STREAM, "s", ["1", "2"], 1, InvokeOutcome.PARTIAL, 2.0, "r1", failed_record_ids=["2"]
        )
    )
    [a] = journal.trace("Orders", "a")
    [b] = journal.trace("Orders", "b")
    assert (a["steps"][-1]["reportedFailed"], b["steps"][-1]["reportedFailed"]) == (False, True)
    assert b["steps"][-1]["outcome"] == "partial"
