"""The verdict on a function's answer, and retry / bisect / record-age decisions."""

from __future__ import annotations

import json
import threading

import pytest

from streamlab.emulator.esm.invoker import (
    RECORD_AGE_EXCEEDED,
    RETRY_ATTEMPTS_EXHAUSTED,
    BatchDelivery,
    InvokeResult,
    RetryPolicy,
    Verdict,
    judge,
    parse_batch_item_failures,
)
from streamlab.emulator.esm.records import StreamRecord


def make_records(count, start=100, arrival=1_000):
    return [
        StreamRecord(
            event={"eventID": str(i), "dynamodb": {"SequenceNumber": str(start + i)}},
            shard_id="shard-1",
            sequence_number=str(start + i),
            arrival=arrival,
            partition_key=f"k{i}",
            size=50,
        )
        for i in range(count)
    ]


def seqs(records):
    return [r.sequence_number for r in records]


def answer(body, **kwargs):
    return InvokeResult(200, json.dumps(body).encode(), **kwargs)


# -- partial batch response parsing ----------------------------------------------------------
SEQUENCES = ["100", "101", "102"]


@pytest.mark.parametrize(
    "response",
    [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}, "ok", ["x"]],
    ids=["null", "empty_dict", "empty_list", "null_list", "string", "list"],
)
def test_success_responses(response):
    parsed = parse_batch_item_failures(response, SEQUENCES)
    assert parsed.valid
    assert parsed.failed_from is None


@pytest.mark.parametrize(
    "response",
    [
        {"batchItemFailures": [{"itemIdentifier": "999"}]},  # not in the batch
        {"batchItemFailures": [{"itemIdentifier": 123}]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"foo": "101"}]},  # wrongly named key
        {"batchItemFailures": [{"foo": None}]},
        {"batchItemFailures": ["101"]},
        {"batchItemFailures": "101"},
    ],
)
def test_invalid_responses_fail_the_whole_batch(response):
    assert not parse_batch_item_failures(response, SEQUENCES).valid


def test_lowest_failed_sequence_number_wins():
    response = {"batchItemFailures": [{"itemIdentifier": "102"}, {"itemIdentifier": "101"}]}
    assert parse_batch_item_failures(response, SEQUENCES).failed_from == 1


# -- judge -------------------------------------------------------------------------------------
def test_function_error_fails_the_batch():
    records = make_records(3)
    verdict = judge(InvokeResult(200, b'{"errorMessage":"boom"}', "Unhandled"), records)
    assert verdict.outcome == "failure"
    assert verdict.function_error == "Unhandled"
    assert judge(InvokeResult(500, b""), records).outcome == "failure"


def test_partial_failures_ignored_unless_enabled():
    records = make_records(3)
    body = {"batchItemFailures": [{"itemIdentifier": "101"}]}
    assert judge(answer(body), records).outcome == "success"
    verdict = judge(answer(body), records, report_batch_item_failures=True)
    assert verdict.outcome == "partial"
    assert verdict.failed_from == 1


def test_invalid_partial_response_is_failure_without_function_error():
    verdict = judge(
        answer({"batchItemFailures": [{"itemIdentifier": ""}]}), make_records(3), report_batch_item_failures=True
    )
    assert verdict.outcome == "failure"
    assert verdict.function_error is None
    assert verdict.status_code == 200


def test_window_answer_needs_state():
    records = make_records(1)
    assert judge(answer({"state": {"n": 1}}), records, requires_state=True).outcome == "success"
    assert judge(answer({"batchItemFailures": []}), records, requires_state=True).outcome == "failure"
    assert judge(InvokeResult(200, b""), records, requires_state=True).outcome == "failure"


# -- delivery ----------------------------------------------------------------------------------
class Script:
    """A fake ``call``: decides each invocation's verdict from the batch it receives."""

    def __init__(self, decide):
        self.decide = decide
        self.calls: list[list[str]] = []
        self.attempts: list[int] = []
        self.done: list[str] = []
        self.discarded: list[tuple[list[str], str, int]] = []

    def call(self, records, attempt):
        self.calls.append(seqs(records))
        self.attempts.append(attempt)
        return self.decide(records)

    def on_done(self, records, verdict):
        self.done.extend(seqs(records))

    def on_discard(self, records, condition, count, verdict):
        self.discarded.append((seqs(records), condition, count))


def deliver(script, records, clock=lambda: 1_000.0, stop=None, **policy):
    policy.setdefault("backoff_seconds", 0.0)
    delivery = BatchDelivery(
        RetryPolicy(**policy), script.call, script.on_done, script.on_discard, stop or threading.Event(), clock=clock
    )
    return delivery.deliver(records)


OK = Verdict("success", 200)
FAIL = Verdict("failure", 200, "Unhandled")


def test_success_first_time():
    script = Script(lambda records: OK)
    assert deliver(script, make_records(3))
    assert script.calls == [["100", "101", "102"]]
    assert script.done == ["100", "101", "102"]


def test_retries_then_discard_counts_invocations():
    script = Script(lambda records: FAIL)
    assert deliver(script, make_records(2), maximum_retry_attempts=2)
    assert len(script.calls) == 3  # 1 + 2 retries
    assert script.attempts == [1, 2, 3]
    assert script.discarded == [(["100", "101"], RETRY_ATTEMPTS_EXHAUSTED, 3)]
    assert script.done == []


def test_zero_retries_discards_after_one_invocation():
    script = Script(lambda records: FAIL)
    deliver(script, make_records(1), maximum_retry_attempts=0)
    assert script.discarded == [(["100"], RETRY_ATTEMPTS_EXHAUSTED, 1)]


def test_infinite_retries_until_success():
    outcomes = iter([FAIL] * 5 + [OK])
    script = Script(lambda records: next(outcomes))
    deliver(script, make_records(2), maximum_retry_attempts=-1)
    assert len(script.calls) == 6
    assert script.done == ["100", "101"]
    assert not script.discarded


def test_bisect_isolates_the_poison_record_without_using_retries():
    poison = "105"
    script = Script(lambda records: FAIL if poison in seqs(records) else OK)
    deliver(script, make_records(8), maximum_retry_attempts=1, bisect_batch_on_function_error=True)
    assert script.discarded == [([poison], RETRY_ATTEMPTS_EXHAUSTED, 2)]
    assert sorted(script.done) == [s for s in seqs(make_records(8)) if s != poison]
    # order kept: everything before the poison record is done before it is discarded
    assert script.done == ["100", "101", "102", "103", "104", "106", "107"]
    assert script.calls[:3] == [seqs(make_records(8)), ["100", "101", "102", "103"], ["104", "105", "106", "107"]]


def test_partial_failure_checkpoints_prefix_and_retries_from_lowest_failure():
    def decide(records):
        if "102" in seqs(records):
            return Verdict("partial", 200, failed_from=seqs(records).index("102"))
        return OK

    script = Script(decide)
    deliver(script, make_records(4), maximum_retry_attempts=3)
    assert script.done == ["100", "101"]
    assert script.calls == [["100", "101", "102", "103"]] + [["102", "103"]] * 3
    assert script.discarded == [(["102", "103"], RETRY_ATTEMPTS_EXHAUSTED, 4)]  # AWS snapshot: 3 retries -> 4


def test_partial_failure_with_bisect_splits_at_the_sequence_number():
    calls = iter(
        [
            Verdict("partial", 200, failed_from=2),  # 100,101 ok; split at 102
            Verdict("partial", 200, failed_from=0),  # 102 fails again (no progress: a retry)
            OK,
        ]
    )
    script = Script(lambda records: next(calls))
    deliver(script, make_records(4), maximum_retry_attempts=5, bisect_batch_on_function_error=True)
    assert script.calls == [["100", "101", "102", "103"], ["102", "103"], ["102", "103"]]
    assert script.done == ["100", "101", "102", "103"]


def test_expired_records_are_discarded_before_invoking():
    now = 10_000.0
    old = make_records(2, start=100, arrival=int(now - 120))
    fresh = make_records(2, start=200, arrival=int(now - 5))
    script = Script(lambda records: OK)
    deliver(script, old + fresh, clock=lambda: now, maximum_record_age_in_seconds=60)
    assert script.discarded == [(["100", "101"], RECORD_AGE_EXCEEDED, 0)]
    assert script.calls == [["200", "201"]]


def test_records_expiring_during_retries_go_to_the_destination():
    clock = {"now": 1_000.0}

    def decide(records):
        clock["now"] += 40  # each attempt takes 40 s of record age
        return FAIL

    script = Script(decide)
    deliver(script, make_records(1, arrival=1_000), clock=lambda: clock["now"], maximum_record_age_in_seconds=60)
    assert script.discarded == [(["100"], RECORD_AGE_EXCEEDED, 2)]


def test_uninvokable_function_is_retried_without_using_the_quota():
    outcomes = iter([Verdict("failure", invoked=False)] * 4 + [OK])
    script = Script(lambda records: next(outcomes))
    deliver(script, make_records(1), maximum_retry_attempts=0)
    assert script.done == ["100"]
    assert not script.discarded


def test_stop_leaves_the_batch_unprocessed():
    stop = threading.Event()

    def decide(records):
        stop.set()
        return FAIL

    script = Script(decide)
    assert not deliver(script, make_records(2), stop=stop)
    assert script.done == []
    assert script.discarded == []


def test_backoff_doubles_up_to_the_cap():
    policy = RetryPolicy(backoff_seconds=0.1, backoff_max_seconds=0.5)
    assert [policy.backoff(n) for n in (1, 2, 3, 4)] == [0.1, 0.2, 0.4, 0.5]
