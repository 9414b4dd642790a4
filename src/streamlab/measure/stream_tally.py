"""The Locust run's stream metric, kept apart from its requests.

Each probe line is a record the handler got, not a request the load test made: counted among
Locust's requests it would double the request rate and mix write->handler latencies into the
request percentiles. :class:`StreamTally` counts them on its own: records, first deliveries,
redeliveries, per-key order, the writes never seen, and write->handler latency percentiles.

Bounded for long runs: latencies are kept as counts of rounded values (as Locust keeps response
times: 1 ms below 100 ms, 10 ms below 1 s, 100 ms above), and the (key, version) pairs and
per-key versions remembered for redeliveries and order are the newest :data:`REMEMBERED`.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Any

REMEMBERED = 200_000
PERCENTILES = (0.5, 0.9, 0.95, 0.99)


def rounded_ms(value: float) -> int:
    """The bucket of a latency: exact ms below 100, then 2 significant digits (as Locust rounds)."""
    if value < 100:
        return round(value)
    if value < 1000:
        return round(value / 10) * 10
    return round(value / 100) * 100


@dataclass
class StreamTally:
    """Write->handler latency of the records a probe reported, and what they say about the writes."""

    records: int = 0  # probe lines counted, redeliveries included
    delivered: int = 0  # distinct (key, version) pairs
    redelivered: int = 0  # lines of a pair already seen
    out_of_order: int = 0  # first deliveries of a version after a higher one of its key
    _buckets: Counter[int] = field(default_factory=Counter)
    _total_ms: float = 0.0
    _min_ms: float | None = None
    _max_ms: float | None = None
    _seen: OrderedDict[tuple[str, int], None] = field(default_factory=OrderedDict)
    _highest: OrderedDict[str, int] = field(default_factory=OrderedDict)

    def add(self, key: str, version: int | None, latency_ms: float) -> None:
        """One probe line. Latency counts on a pair's first delivery only (a retry is not slower writes)."""
        self.records += 1
        pair = (key, version if version is not None else -1)
        if pair in self._seen:
            self.redelivered += 1
            return
        _remember(self._seen, pair, None)
        self.delivered += 1
        if version is not None:
            highest = self._highest.get(key)
            if highest is not None and version < highest:
                self.out_of_order += 1
            else:
                _remember(self._highest, key, version)
        self._buckets[rounded_ms(latency_ms)] += 1
        self._total_ms += latency_ms
        self._min_ms = latency_ms if self._min_ms is None else min(self._min_ms, latency_ms)
        self._max_ms = latency_ms if self._max_ms is None else max(self._max_ms, latency_ms)

    def percentile(self, fraction: float) -> float | None:
        """Nearest rank over the rounded latencies; None before the first record."""
        if not self.delivered:
            return None
        rank = max(1, math.ceil(fraction * self.delivered))
        running = 0
        for value in sorted(self._buckets):
            running += self._buckets[value]
            if running >= rank:
                return float(value)
        return float(max(self._buckets))

    def summary(self, writes_acknowledged: int | None = None) -> dict[str, Any]:
        """The figures every output shows. ``writes_acknowledged``: the run's successful writes,
        so the writes the probe never reported (lost, or still in flight at the end) are counted."""
        document: dict[str, Any] = {
            "name": "write->handler",
            "records": self.records,
            "delivered": self.delivered,
            "redelivered": self.redelivered,
            "out_of_order": self.out_of_order,
            "latency_ms": {
                "min": self._min_ms,
                "avg": self._total_ms / self.delivered if self.delivered else None,
                **{f"p{round(p * 100)}": self.percentile(p) for p in PERCENTILES},
                "max": self._max_ms,
            },
        }
        if writes_acknowledged is not None:
            document["writes_acknowledged"] = writes_acknowledged
            document["not_seen"] = max(0, writes_acknowledged - self.delivered)
        return document


def _remember(memory: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    memory[key] = value
    memory.move_to_end(key)
    while len(memory) > REMEMBERED:
        memory.popitem(last=False)


CSV_COLUMNS = (
    "Name",
    "Records",
    "Delivered",
    "Redelivered",
    "Out Of Order",
    "Writes Acknowledged",
    "Not Seen",
    "Min",
    "Average",
    "50%",
    "90%",
    "95%",
    "99%",
    "Max",
)


def summary_csv(summary: dict[str, Any]) -> str:
    """One header and one row; latencies in ms, blank where there is no record yet."""
    latency = summary["latency_ms"]
    row = [
        summary["name"],
        summary["records"],
        summary["delivered"],
        summary["redelivered"],
        summary["out_of_order"],
        summary.get("writes_acknowledged", ""),
        summary.get("not_seen", ""),
        *(_ms(latency[name]) for name in ("min", "avg", "p50", "p90", "p95", "p99", "max")),
    ]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerow(row)
    return text.getvalue()


def summary_line(summary: dict[str, Any]) -> str:
    """The headless run's closing line, beside Locust's request table."""
    latency = summary["latency_ms"]
    seen = f"{summary['delivered']} records"
    if "writes_acknowledged" in summary:
        seen += f" of {summary['writes_acknowledged']} acknowledged writes ({summary['not_seen']} not seen)"
    figures = ", ".join(f"{name} {_ms(latency[name]) or '-'} ms" for name in ("p50", "p90", "p99", "max"))
    return (
        f"stream latency write->handler (records, not requests): {seen}, {summary['redelivered']} redelivered, "
        f"{summary['out_of_order']} out of order; {figures}"
    )


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}".removesuffix(".0")
