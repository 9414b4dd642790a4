"""ReportBatchItemFailures: the partial batch response."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from streamlab.conformance.suite.harness import Scenario, item, sk_of

GATHER: dict[str, Any] = {
    "BatchSize": 10,
    "MaximumBatchingWindowInSeconds": 1,
    "FunctionResponseTypes": ["ReportBatchItemFailures"],
}


@pytest.mark.parametrize(
    "reply",
    [{"batchItemFailures": []}, {"batchItemFailures": None}, {}, None],
    ids=["empty-list", "null-list", "empty-object", "null"],
)
def test_success_answers_are_not_retried(scenario: Scenario, reply: object) -> None:
    """Success: an empty or null batchItemFailures list, or an empty or null response.

    Source: docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html (complete
    success: an empty or null batchItemFailures list, an empty or null EventResponse).
    """
    table = scenario.table()
    scenario.map(table, "partial", **GATHER)
    scenario.put_many(table, [item("a"), item("b"), item("c", reply=json.dumps(reply))])
    scenario.put(table, "sentinel")
    calls = scenario.wait_delivered(table, ["a", "b", "c", "sentinel"])
    counts = Counter(sk for call in calls for sk in call.sks)
    assert all(count == 1 for count in counts.values()), f"nothing is retried after success: {counts}"


def test_retry_starts_at_the_lowest_failed_sequence_number(scenario: Scenario) -> None:
    """Several failures: the lowest reported sequence number is the checkpoint; Lambda retries from
    it, so the records after it are delivered again and the ones before it are not.

    Source: docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html (with
    several failures the lowest sequence number is the checkpoint, and the retry starts there).
    """
    table = scenario.table()
    scenario.map(table, "partial", **GATHER)
    scenario.put_many(
        table,
        [item("a"), item("b", directive="fail-item-once"), item("c"), item("d", directive="fail-item-once"), item("e")],
    )
    calls = scenario.wait_invocations(
        table, lambda cs: sum(sk == "e" for c in cs for sk in c.sks) >= 2, message="e delivered twice"
    )
    assert calls[0].sks == ["a", "b", "c", "d", "e"], f"the first batch holds every record: {[c.sks for c in calls]}"
    retried = [sk for call in calls[1:] for sk in call.sks]
    assert retried[:4] == ["b", "c", "d", "e"], f"retry from b, with everything after it: {[c.sks for c in calls]}"
    assert "a" not in retried, "a record before the checkpoint is not retried"


@pytest.mark.parametrize(
    "directive",
    ["bad-id-once", "empty-id-once", "null-id-once", "bad-key-once"],
    ids=["id-not-in-batch", "empty-id", "null-id", "wrong-key-name"],
)
def test_an_invalid_item_identifier_fails_the_whole_batch(scenario: Scenario, directive: str) -> None:
    """An itemIdentifier that is not in the batch, empty, null, or a wrongly named key: Lambda
    treats the whole batch as failed and retries all of it.

    Source: docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html (complete
    failure: an empty or null itemIdentifier, a bad key name, or a sequence number not in the batch).
    """
    table = scenario.table()
    scenario.map(table, "partial", **GATHER)
    scenario.put_many(table, [item("a"), item("b", directive=directive), item("c")])
    calls = scenario.wait_invocations(table, lambda cs: len(cs) >= 2, message="the batch is retried")
    assert calls[0].sks == ["a", "b", "c"], [c.sks for c in calls]
    assert [sk for c in calls[1:] for sk in c.sks][:3] == ["a", "b", "c"], (
        f"the whole batch again: {[c.sks for c in calls]}"
    )
    assert Counter(sk_of(r) for r in scenario.delivered(table))["a"] == 2
