"""TumblingWindowInSeconds: state carried between invocations of a window, and its final invocation."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from streamlab.conformance.suite.harness import Invocation, Scenario

WINDOW = 3


def window_start(call: Invocation) -> str:
    return str(call.event["window"]["start"])


def seconds(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_state_is_carried_and_the_window_ends_with_a_final_invocation(scenario: Scenario) -> None:
    """Tumbling windows: each invocation receives the state the previous one of its window returned;
    when the window ends Lambda invokes once more with isFinalInvokeForWindow true and the
    aggregated state. The event carries window {start, end}, state, shardId, eventSourceARN,
    isFinalInvokeForWindow and isWindowTerminatedEarly.

    Source: docs.aws.amazon.com/lambda/latest/dg/with-ddb.html ("Tumbling windows"; services-ddb-windows.html).
    """
    table = scenario.table()
    scenario.map(table, "window", BatchSize=1, TumblingWindowInSeconds=WINDOW)
    for sk in ("a", "b", "c"):
        scenario.put(table, sk)
    calls = scenario.wait_invocations(
        table,
        lambda cs: (
            {sk for c in cs for sk in c.sks} >= {"a", "b", "c"}
            and {window_start(c) for c in cs if c.event.get("isFinalInvokeForWindow")}
            >= {window_start(c) for c in cs if c.sks}
        ),
        timeout=scenario.backend.delivery + 2 * WINDOW,
        message="every window with records closed by a final invocation",
    )
    for call in calls:
        event = call.event
        assert {
            "window",
            "state",
            "shardId",
            "eventSourceARN",
            "isFinalInvokeForWindow",
            "isWindowTerminatedEarly",
        } <= set(event)
        assert event["eventSourceARN"] == table.stream_arn
        assert seconds(event["window"]["end"]) - seconds(event["window"]["start"]) == WINDOW
        assert event["isWindowTerminatedEarly"] is False
    by_window: dict[str, list[Invocation]] = defaultdict(list)
    for call in calls:
        by_window[window_start(call)].append(call)
    for start, window_calls in by_window.items():
        regular = [c for c in window_calls if not c.event["isFinalInvokeForWindow"]]
        final = [c for c in window_calls if c.event["isFinalInvokeForWindow"]]
        seen: list[str] = []
        for call in regular:
            assert (call.event["state"] or {}).get("items", []) == seen, (
                f"window {start}: state carried from the previous invocation"
            )
            seen += call.sks
        assert len(final) == 1, f"window {start}: one final invocation"
        assert final[0].event["state"]["items"] == seen, f"window {start}: final state aggregates the window"
    assert sorted(sk for c in calls for sk in c.sks) == ["a", "b", "c"]


def test_an_answer_without_state_counts_as_a_failure(scenario: Scenario) -> None:
    """With a tumbling window the function must return {"state": ...}; an answer without it counts as
    a failed invocation, so the batch is retried with the state it had before.

    Source: docs.aws.amazon.com/lambda/latest/dg/services-ddb-windows.html (the function returns
    a TimeWindowEventResponse with state); esm-semantics.md ("no state -> the invocation counts as failed").
    """
    table = scenario.table()
    scenario.map(table, "window", BatchSize=1, TumblingWindowInSeconds=60)
    scenario.put(table, "a")
    scenario.put(table, "b", directive="no-state-once")
    calls = scenario.wait_invocations(table, lambda cs: sum(c.sks == ["b"] for c in cs) >= 2, message="b retried")
    b_calls = [c for c in calls if c.sks == ["b"]]
    [a_call] = [c for c in calls if c.sks == ["a"]]
    same_window = window_start(a_call) == window_start(b_calls[0])  # false only across a minute boundary
    expected = {"count": 1, "items": ["a"]} if same_window else {}
    assert b_calls[0].event["state"] == b_calls[1].event["state"] == expected, "the failed answer's state is not kept"


def test_state_above_one_megabyte_ends_the_window_early(scenario: Scenario) -> None:
    """The window state is limited to 1 MB per shard; a larger state ends the window early, and the
    invocation that closes it says so with isWindowTerminatedEarly true. Which invocation carries
    the flag, and the state after it, are UNVERIFIED and not checked.

    Source: docs.aws.amazon.com/lambda/latest/dg/services-ddb-windows.html (state up to 1 MB per
    shard; above it Lambda terminates the window early; isWindowTerminatedEarly: the next invocation
    continues the same window with a fresh state).
    """
    table = scenario.table()
    scenario.map(table, "window", BatchSize=1, TumblingWindowInSeconds=60)
    scenario.put(table, "a", directive="big-state")
    scenario.wait_invocations(
        table, lambda cs: any(c.event.get("isWindowTerminatedEarly") for c in cs), message="a window terminated early"
    )
