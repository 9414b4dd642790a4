"""streamlab bench's report on known inputs: the JSON document's fields, the text table, the HTML/SVG page."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from streamlab.measure.bench import BenchConfig, BenchResult, Progress, result_document
from streamlab.measure.bench_report import (
    DESIGN_FIELDS,
    cdf_svg,
    format_table,
    histogram_svg,
    nice_ticks,
    render_html,
    scatter_svg,
)
from streamlab.measure.delivery import analyze
from streamlab.measure.floor import FloorResult

T0 = 1_700_000_000.0


def known_result(lose: bool = False) -> BenchResult:
    """2 keys x 3 versions written 0.1 s apart, each acknowledged 5 ms after sending and delivered 10 ms after that."""
    writes = []
    for index, (key, version) in enumerate((k, v) for v in (1, 2, 3) for k in ("a", "b")):
        sent_at = T0 + index * 0.1
        writes.append((key, version, sent_at, sent_at + 0.005))
    deliveries = [(key, version, ack + 0.010) for key, version, _, ack in writes]
    if lose:
        deliveries = deliveries[:-1]
    deliveries.append(deliveries[0])  # one at-least-once redelivery
    config = BenchConfig(
        endpoint_url="http://127.0.0.1:1", writes=6, keys=2, rate=10.0, writers=1, label="test <endpoint> & co"
    )
    acked = [(k, v, ack) for k, v, _, ack in writes]
    return BenchResult(
        config=config,
        writes=writes,
        deliveries=deliveries,
        report=analyze(acked, deliveries),
        latency_from_send_ms=analyze([(k, v, s) for k, v, s, _ in writes], deliveries).latency_ms,
        floor=FloorResult(samples=3, latency_ms={"p50": 1.5, "p90": 2.0, "p99": 2.5, "max": 2.5}),
        started_at="2026-11-26T21:00:00+00:00",
        warnings=["clock <skew> warning"],
    )


def test_document_has_the_design_fields_and_is_json() -> None:
    document = result_document(known_result())
    assert set(DESIGN_FIELDS) <= set(document)
    assert set(document["latency_ms"]) == {"p50", "p90", "p99", "max"}
    assert {"p50", "p99"} <= set(document["floor_latency_ms"])
    assert document["writes"] == 6
    assert document["processed"] == 7
    assert document["lost"] == 0
    assert document["duplicates"] == 1
    assert document["order_violations"] == 0
    assert abs(document["latency_ms"]["p50"] - 10.0) < 1e-3
    assert abs(document["latency_from_send_ms"]["max"] - 15.0) < 1e-3
    assert document["floor_latency_ms"]["p50"] == 1.5
    # 6 delivered between the first send (T0) and the last delivery (T0 + 0.5 + 0.015)
    assert abs(document["throughput_wps"] - 6 / 0.515) < 0.01
    assert len(document["samples"]["ack_ms"]) == 6
    json.loads(json.dumps(document))


def test_latency_fields_keep_their_shape_without_samples() -> None:
    result = known_result()
    result.deliveries = []
    result.report = analyze([(k, v, a) for k, v, _, a in result.writes], [])
    result.floor = None
    document = result_document(result)
    assert document["lost"] == 6
    assert document["clean"] is False
    assert document["latency_ms"] == {"p50": None, "p90": None, "p99": None, "max": None}
    assert set(document["floor_latency_ms"]) >= {"p50", "p99"}
    assert "no samples" in render_html(document)
    assert "FAIL" in format_table(document)


def test_table_shows_the_figures() -> None:
    table = format_table(result_document(known_result()))
    assert "10.00" in table
    assert "15.00" in table
    assert "1.50" in table
    assert "duplicates 1" in table
    assert "PASS" in table


def test_html_is_self_contained_with_three_charts_and_escaped_text() -> None:
    page = render_html(result_document(known_result(lose=True)))
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 3
    assert "<rect" in page
    assert "<polyline" in page
    assert "<circle" in page
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "nothing may be loaded from elsewhere"
    assert "test &lt;endpoint&gt; &amp; co" in page
    assert "<endpoint>" not in page
    assert "clock &lt;skew&gt; warning" in page
    assert "FAIL" in page
    assert "b v3" in page
    assert "10.00" in page  # p50 latency in the table


def test_each_chart_is_well_formed_svg() -> None:
    values = [float(v) for v in range(-3, 40)]
    for svg in (
        histogram_svg(values),
        cdf_svg({"ack": values, "sent": [v + 4 for v in values]}),
        scatter_svg([v / 10 for v in range(43)], values),
    ):
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg")
    histogram = ET.fromstring(histogram_svg([1.0, 1.0, 2.0, 9.0], bins=4))
    bars = [element for element in histogram.iter() if element.tag.endswith("rect")]
    assert len(bars) == 2  # bins [1, 3) with 3 samples and [7, 9] with 1; empty bins draw nothing
    assert "3</title>" in histogram_svg([1.0, 1.0, 2.0, 9.0], bins=4)


def test_cdf_ends_at_one_and_scatter_thins_large_runs() -> None:
    svg = cdf_svg({"ack": [1.0, 2.0, 3.0]})
    points = re.search(r'points="([^"]+)"', svg).group(1).split()
    assert len(points) == 3
    many = scatter_svg([i / 1000 for i in range(50_000)], [1.0] * 50_000)
    assert many.count("<circle") <= 5000


def test_nice_ticks_cover_the_range() -> None:
    assert nice_ticks(0, 10) == [0, 2, 4, 6, 8, 10]
    ticks = nice_ticks(-3.2, 47.0)
    assert ticks[0] <= -3.2
    assert ticks[-1] >= 47.0
    assert nice_ticks(5, 5)  # a flat range still gets an axis


class _Tty:
    def __init__(self, tty: bool) -> None:
        self.tty, self.text = tty, ""

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


def test_progress_bar_only_on_a_terminal() -> None:
    quiet = _Tty(False)
    bar = Progress("writing", 10, stream=quiet)
    bar.update(5)
    bar.close()
    assert quiet.text == ""
    tty = _Tty(True)
    bar = Progress("writing", 10, stream=tty)
    bar.update(5)
    bar.close()
    assert "5/10" in tty.text
    assert "#" * 15 in tty.text


def test_the_summary_names_the_run_and_explains_a_negative_ack_latency() -> None:
    from streamlab.measure.bench_report import format_table

    doc = {
        "writes": 10, "processed": 10, "lost": 0, "duplicates": 0, "order_violations": 0, "throughput_wps": 5.0,
        "latency_ms": {"p50": -0.4, "p90": 1.0, "p99": 2.0, "max": 3.0},
        "run": {"streamlab_version": "0.1.0", "esm_cadence": "wake", "mapping": {"BatchSize": 100},
                "table": "Orders", "machine": "x86_64, 2 CPU(s)", "python": "3.11.7", "load_average": [1.5, 1.0, 0.5]},
    }  # fmt: skip
    text = format_table(doc)
    assert "ack -> handler is negative when the handler had the record before" in text
    assert "streamlab 0.1.0, cadence wake, mapping BatchSize 100" in text
    assert "load average 1.5 / 1.0 / 0.5" in text
