"""Loss, duplicates, per-key order and latency of a stream's deliveries to its handler.

The writer knows what it wrote: ``(key, version, write_ack)`` per item write, versions of a
key increasing in write order. The handler reports what it processed: ``(key, version,
processed_at)`` per record, in the order it saw them. Comparing the two answers the
questions every streamlab report asks (DESIGN.md, "measurements"): was anything lost,
delivered twice, or delivered out of order for its item, and how long did a write take to
reach the handler. Both sides stamp with ``time.time()`` on the same machine, so latency is
a plain difference.

Kept free of I/O so the benchmark, ``streamlab bench`` and the Locust metric share one
definition, unit-tested on known inputs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from streamlab.measure.stats import summarize

#: ``(key, version, write_ack)``: the write of ``version`` of ``key`` was acknowledged at ``write_ack`` (epoch s).
WriteTuple = tuple[str, int, float]
#: ``(key, version, processed_at)``: the handler processed that version at ``processed_at`` (epoch s).
DeliveryTuple = tuple[str, int, float]


@dataclass(frozen=True)
class DeliveryReport:
    """What a run's deliveries say about its writes. Latencies are in milliseconds."""

    writes: int
    processed: int  # deliveries observed, duplicates included
    delivered: int  # distinct written (key, version) pairs delivered at least once
    lost: int  # written, never delivered
    duplicates: int  # deliveries beyond the first of a (key, version)
    unexpected: int  # delivered but never written by this run
    order_violations: int  # first deliveries of a version after a later version of its key
    latency_ms: dict[str, float] | None  # write_ack -> first processed_at; None without samples
    lost_items: list[tuple[str, int]] = field(default_factory=list)
    violating_items: list[tuple[str, int]] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """No loss and no order violation: the bar a sustained rate must meet."""
        return self.lost == 0 and self.order_violations == 0

    def as_dict(self, max_items: int = 20) -> dict[str, Any]:
        return {
            "writes": self.writes,
            "processed": self.processed,
            "delivered": self.delivered,
            "lost": self.lost,
            "duplicates": self.duplicates,
            "unexpected": self.unexpected,
            "order_violations": self.order_violations,
            "latency_ms": self.latency_ms,
            "lost_items": [list(item) for item in self.lost_items[:max_items]],
            "violating_items": [list(item) for item in self.violating_items[:max_items]],
        }


def order_violations(versions_in_delivery_order: Iterable[int]) -> list[int]:
    """Versions of one key first seen after a higher version of that key was seen.

    ``[1, 3, 2, 4]`` -> ``[2]``: 2 arrived after 3. Only the *first* delivery of each version
    counts (a retry re-delivering an old batch is at-least-once, not disorder), so pass
    first deliveries, or let :func:`analyze` pick them.
    """
    violations: list[int] = []
    highest: int | None = None
    for version in versions_in_delivery_order:
        if highest is not None and version < highest:
            violations.append(version)
        else:
            highest = version
    return violations


def analyze(writes: Iterable[WriteTuple], deliveries: Iterable[DeliveryTuple]) -> DeliveryReport:
    """Compare what was written with what the handler processed.

    ``deliveries`` are taken in the order given, re-sorted stably by ``processed_at``, so
    records of one invocation keep their relative order when their stamps tie. Latency is
    measured to each pair's first delivery only. A negative latency (the handler stamped
    before the writer saw its acknowledgement) is kept as measured: it says the delivery
    raced the HTTP response, and clipping it would bias the percentiles.
    """
    acked: dict[tuple[str, int], float] = {}
    for key, version, write_ack in writes:
        acked[(key, version)] = write_ack
    ordered = sorted(deliveries, key=lambda delivery: delivery[2])
    first: dict[tuple[str, int], float] = {}
    per_key: dict[str, list[int]] = {}
    duplicates = unexpected = 0
    for key, version, processed_at in ordered:
        pair = (key, version)
        if pair in first:
            duplicates += 1
            continue
        first[pair] = processed_at
        if pair not in acked:
            unexpected += 1
            continue
        per_key.setdefault(key, []).append(version)
    violating = [(key, version) for key, versions in per_key.items() for version in order_violations(versions)]
    lost_items = sorted(pair for pair in acked if pair not in first)
    latencies = [(first[pair] - write_ack) * 1000.0 for pair, write_ack in acked.items() if pair in first]
    return DeliveryReport(
        writes=len(acked),
        processed=len(ordered),
        delivered=len(acked) - len(lost_items),
        lost=len(lost_items),
        duplicates=duplicates,
        unexpected=unexpected,
        order_violations=len(violating),
        latency_ms=summarize(latencies) if latencies else None,
        lost_items=lost_items,
        violating_items=sorted(violating),
    )
