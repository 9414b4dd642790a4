"""FilterCriteria on DynamoDB stream records.

Every case writes items that must not match, then items that must, then a sentinel that matches
a second filter (filters are OR'ed). The sentinel comes last in the same shard, so once it is
delivered every earlier record was either delivered or dropped: no fixed wait is needed to show
that a non-matching record was never delivered, and the sentinel's delivery shows the stream moved
past the dropped records.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from streamlab.conformance.suite.harness import Scenario, sk_of

SENTINEL_FILTER = {"dynamodb": {"Keys": {"sk": {"S": ["zz-sentinel"]}}}}


@dataclass(frozen=True)
class Case:
    behaviour: str
    source: str
    pattern: dict[str, Any] | None  # None: computed in the test (needs the clock)
    writes: list[tuple[str, dict[str, Any]]]  # (sk, attributes) in order; same sk twice = MODIFY
    expected: set[tuple[str, str]]  # (sk, eventName) that must be delivered
    deletes: list[str] = field(default_factory=list)


FILTERING = "docs.aws.amazon.com/lambda/latest/dg/with-ddb-filtering.html"
SYNTAX = "docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html"

CASES = [
    Case(
        "exact match keeps the DynamoDB type descriptor ({'S': ['PAID']})",
        FILTERING,
        {"dynamodb": {"NewImage": {"status": {"S": ["PAID"]}}}},
        [("a", {"status": "PENDING"}), ("b", {"status": "PAID"}), ("c", {"status": "paid"})],
        {("b", "INSERT")},
    ),
    Case(
        "a pattern without the type descriptor matches nothing",
        FILTERING,
        {"dynamodb": {"NewImage": {"status": ["PAID"]}}},
        [("a", {"status": "PAID"})],
        set(),
    ),
    Case(
        "prefix",
        SYNTAX,
        {"dynamodb": {"NewImage": {"status": {"S": [{"prefix": "PA"}]}}}},
        [("a", {"status": "PENDING"}), ("b", {"status": "PAID"}), ("c", {"status": "PARTIAL"})],
        {("b", "INSERT"), ("c", "INSERT")},
    ),
    Case(
        "anything-but",
        SYNTAX,
        {"dynamodb": {"NewImage": {"status": {"S": [{"anything-but": ["PENDING", "CANCELLED"]}]}}}},
        [("a", {"status": "PENDING"}), ("b", {"status": "PAID"}), ("c", {"status": "CANCELLED"})],
        {("b", "INSERT")},
    ),
    Case(
        "exists on a leaf (type descriptor included)",
        SYNTAX,
        {"dynamodb": {"NewImage": {"flag": {"S": [{"exists": True}]}}}},
        [("a", {"status": "x"}), ("b", {"flag": "on"})],
        {("b", "INSERT")},
    ),
    Case(
        "$or between two patterns",
        SYNTAX,
        {
            "$or": [
                {"dynamodb": {"NewImage": {"status": {"S": ["PAID"]}}}},
                {"dynamodb": {"NewImage": {"status": {"S": ["REFUNDED"]}}}},
            ]
        },
        [("a", {"status": "PENDING"}), ("b", {"status": "PAID"}), ("c", {"status": "REFUNDED"})],
        {("b", "INSERT"), ("c", "INSERT")},
    ),
    Case(
        "numeric operators do not apply to N attributes (they are strings in the record)",
        FILTERING,
        {"dynamodb": {"NewImage": {"amount": {"N": [{"numeric": [">", 5]}]}}}},
        [("a", {"amount": 10}), ("b", {"amount": 1})],
        set(),
    ),
    Case(
        "eventName at the top level of the record",
        "LocalStack AWS snapshot test_dynamodb_event_filter[item_added] (newer docs name only the dynamodb key)",
        {"eventName": ["INSERT"]},
        [("a", {"v": 1}), ("a", {"v": 2})],
        {("a", "INSERT")},
        deletes=["a"],
    ),
    Case(
        "eventName REMOVE with Keys",
        FILTERING,
        {"eventName": ["REMOVE"], "dynamodb": {"Keys": {"sk": {"S": ["a"]}}}},
        [("a", {"v": 1}), ("b", {"v": 1})],
        {("a", "REMOVE")},
        deletes=["a", "b"],
    ),
]


CASE_IDS = [
    "exact-typed",
    "untyped-matches-nothing",
    "prefix",
    "anything-but",
    "exists",
    "$or",
    "numeric-on-N",
    "eventName-top-level",
    "eventName-REMOVE",
]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_filter_criteria(scenario: Scenario, case: Case) -> None:
    """FilterCriteria: only matching records are delivered; the others are dropped and checkpointed.

    Source: docs.aws.amazon.com/lambda/latest/dg/with-ddb-filtering.html and
    invocation-eventfiltering.html (pattern syntax; filters are OR'ed; records that match no
    filter are discarded, not delivered); each case's own source is in CASES.
    """
    run_filter_case(scenario, case.pattern, case.writes, case.deletes, case.expected)


def test_numeric_filter_on_approximate_creation_date_time(scenario: Scenario) -> None:
    """numeric ranges apply to dynamodb.ApproximateCreationDateTime (a number of epoch seconds).

    Source: docs.aws.amazon.com/lambda/latest/dg/with-ddb-filtering.html;
    esm-semantics.md ("ApproximateCreationDateTime is numeric").
    """
    now = int(time.time())
    pattern = {
        "dynamodb": {
            "ApproximateCreationDateTime": [{"numeric": [">", now - 3600, "<", now + 3600]}],
            "NewImage": {"status": {"S": ["PAID"]}},
        }
    }
    far_future = {"dynamodb": {"ApproximateCreationDateTime": [{"numeric": [">", now + 86_400]}]}}
    run_filter_case(
        scenario,
        pattern,
        [("a", {"status": "PENDING"}), ("b", {"status": "PAID"})],
        [],
        {("b", "INSERT")},
        extra_filters=[far_future],
    )


def run_filter_case(
    scenario: Scenario,
    pattern: dict[str, Any] | None,
    writes: list[tuple[str, dict[str, Any]]],
    deletes: list[str],
    expected: set[tuple[str, str]],
    extra_filters: list[dict[str, Any]] | None = None,
) -> None:
    table = scenario.table()
    filters = [pattern, SENTINEL_FILTER, *(extra_filters or [])]
    uuid = scenario.map(table, BatchSize=10, FilterCriteria={"Filters": [{"Pattern": json.dumps(f)} for f in filters]})
    for sk, attributes in writes:
        scenario.put(table, sk, **attributes)
    for sk in deletes:
        scenario.delete(table, sk)
    scenario.put(table, "zz-sentinel")
    scenario.wait_delivered(table, ["zz-sentinel"])
    delivered = {(sk_of(r), r["eventName"]) for r in scenario.delivered(table)}
    assert delivered - {("zz-sentinel", "INSERT")} == expected
    assert scenario.mapping(uuid)["FilterCriteria"] == {"Filters": [{"Pattern": json.dumps(f)} for f in filters]}
