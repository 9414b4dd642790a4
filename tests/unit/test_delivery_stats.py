"""Loss, duplicates, per-key order violations and latency on known inputs."""

from __future__ import annotations

import pytest

from streamlab.measure.delivery import analyze, order_violations


def test_clean_run() -> None:
    writes = [("a", 1, 10.000), ("a", 2, 10.010), ("b", 1, 10.020)]
    deliveries = [("a", 1, 10.002), ("a", 2, 10.015), ("b", 1, 10.030)]
    report = analyze(writes, deliveries)
    assert (report.writes, report.processed, report.delivered) == (3, 3, 3)
    assert (report.lost, report.duplicates, report.unexpected, report.order_violations) == (0, 0, 0, 0)
    assert report.clean
    assert report.latency_ms == pytest.approx({"p50": 5.0, "p90": 10.0, "p99": 10.0, "max": 10.0})


def test_loss_is_counted_and_listed() -> None:
    writes = [("a", 1, 1.0), ("a", 2, 1.1), ("b", 1, 1.2)]
    report = analyze(writes, [("a", 1, 1.5)])
    assert report.lost == 2
    assert report.lost_items == [("a", 2), ("b", 1)]
    assert report.delivered == 1
    assert not report.clean


def test_duplicates_count_every_delivery_after_the_first() -> None:
    writes = [("a", 1, 1.0), ("a", 2, 1.0)]
    deliveries = [("a", 1, 1.1), ("a", 2, 1.2), ("a", 1, 1.3), ("a", 2, 1.4), ("a", 2, 1.5)]
    report = analyze(writes, deliveries)
    assert report.duplicates == 3
    assert report.processed == 5
    # A retry re-delivering an older batch is at-least-once, not an order violation.
    assert report.order_violations == 0
    assert report.clean


def test_latency_uses_the_first_delivery() -> None:
    report = analyze([("a", 1, 1.0)], [("a", 1, 1.5), ("a", 1, 1.002)])
    assert report.latency_ms is not None
    assert report.latency_ms["max"] == pytest.approx(2.0)


def test_order_violation_on_first_delivery() -> None:
    writes = [("a", v, 1.0) for v in (1, 2, 3, 4)] + [("b", 1, 1.0)]
    deliveries = [("a", 1, 2.0), ("a", 3, 2.1), ("b", 1, 2.15), ("a", 2, 2.2), ("a", 4, 2.3)]
    report = analyze(writes, deliveries)
    assert report.order_violations == 1
    assert report.violating_items == [("a", 2)]
    assert report.lost == 0
    assert not report.clean


def test_deliveries_are_ordered_by_processed_at_stably() -> None:
    writes = [("a", 1, 1.0), ("a", 2, 1.0)]
    # Given out of time order: sorted by processed_at, so no violation.
    assert analyze(writes, [("a", 2, 3.0), ("a", 1, 2.0)]).order_violations == 0
    # Equal stamps (one invocation, coarse clock): the given order decides.
    assert analyze(writes, [("a", 2, 2.0), ("a", 1, 2.0)]).order_violations == 1
    assert analyze(writes, [("a", 1, 2.0), ("a", 2, 2.0)]).order_violations == 0


def test_unexpected_deliveries_are_counted_apart() -> None:
    report = analyze([("a", 1, 1.0)], [("a", 1, 1.1), ("zz", 9, 1.2)])
    assert report.unexpected == 1
    assert report.lost == 0
    assert report.delivered == 1


def test_no_deliveries_has_no_latency() -> None:
    report = analyze([("a", 1, 1.0)], [])
    assert report.latency_ms is None
    assert report.as_dict()["lost_items"] == [["a", 1]]


def test_negative_latency_is_kept() -> None:
    report = analyze([("a", 1, 1.0)], [("a", 1, 0.999)])
    assert report.latency_ms is not None
    assert report.latency_ms["p50"] == pytest.approx(-1.0)


@pytest.mark.parametrize(
    ("versions", "expected"),
    [([], []), ([1, 2, 3], []), ([2, 1], [1]), ([1, 3, 2, 4], [2]), ([5, 1, 2, 6, 3], [1, 2, 3]), ([1, 1], [])],
)
def test_order_violations(versions: list[int], expected: list[int]) -> None:
    assert order_violations(versions) == expected


def test_writer_schedule_and_key_split() -> None:
    from streamlab.measure.writers import schedule, split_keys

    assert schedule(["a", "b"], 2) == [("a", 1), ("b", 1), ("a", 2), ("b", 2)]
    assert split_keys(["k0", "k1", "k2", "k3", "k4"], 2) == [("k0", "k2", "k4"), ("k1", "k3")]
    assert split_keys(["k0"], 3) == [("k0",)]  # no writer without keys
