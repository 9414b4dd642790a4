"""How a ``streamlab bench`` result is shown: a text table, and a self-contained HTML page.

Everything here works on the bench's JSON document (a plain dict), not on live objects, so
a saved ``--json`` file can be rendered again and the rendering is unit-tested on known
inputs. The HTML carries its charts as inline SVG with inline styles: no script, no external
CSS, font or CDN, so the file opens anywhere (CI artifacts, air-gapped machines) and shows
the same thing.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

#: The fields DESIGN.md promises in the JSON document (other tools rely on them).
DESIGN_FIELDS = (
    "writes",
    "processed",
    "lost",
    "duplicates",
    "order_violations",
    "throughput_wps",
    "latency_ms",
    "floor_latency_ms",
)
QUANTILES = ("p50", "p90", "p99", "max")
#: Circles beyond this are thinned evenly: a browser draws 5,000 fine, 500,000 slowly.
MAX_SCATTER_POINTS = 5000

WIDTH, HEIGHT = 640, 260
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 60, 20, 20, 40
ACK_COLOUR, SEND_COLOUR = "#1f77b4", "#ff7f0e"


def _ms(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_table(doc: dict[str, Any]) -> str:
    """The readable summary ``streamlab bench`` prints."""
    lines = [
        f"streamlab bench: {doc.get('endpoint', '?')}",
        f"  {doc['writes']} writes = {doc.get('keys', '?')} keys x {doc.get('versions_per_key', '?')} versions, "
        f"target {doc.get('target_rate_wps', 0):g}/s with {doc.get('writers', '?')} writer(s), "
        f"achieved {doc.get('achieved_write_wps', 0):.1f}/s",
        "",
        f"  {'latency (ms)':<34}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}",
    ]
    rows = (
        ("write ack -> handler", doc.get("latency_ms")),
        ("write sent -> handler", doc.get("latency_from_send_ms")),
        ("raw floor PutItem -> GetRecords", doc.get("floor_latency_ms")),
    )
    for label, latency in rows:
        latency = latency or {}
        lines.append(f"  {label:<34}" + "".join(f"{_ms(latency.get(q)):>9}" for q in QUANTILES))
    lines += [
        "",
        f"  processed {doc['processed']}  delivered {doc.get('delivered', '-')}  lost {doc['lost']}  "
        f"duplicates {doc['duplicates']}  order violations {doc['order_violations']}",
        f"  throughput {doc['throughput_wps']:.1f} delivered records/s over {doc.get('duration_s', 0):.2f} s",
    ]
    verdict = (
        "PASS: no loss, no order violations"
        if doc.get("clean", doc["lost"] == 0 and doc["order_violations"] == 0)
        else "FAIL: loss or order violations"
    )
    lines.append(f"  {verdict}")
    lines += _context_lines(doc)
    return "\n".join(lines)


def _context_lines(doc: dict[str, Any]) -> list[str]:
    """What the figures depend on, and why an ack -> handler latency can be negative."""
    run = doc.get("run")
    lines = []
    ack = (doc.get("latency_ms") or {}).get("p50")
    if isinstance(ack, float) and ack < 0:
        lines.append(
            "  note: ack -> handler is negative when the handler had the record before the writer read PutItem's "
            "answer (the embedded engine wakes on the write itself); sent -> handler is the latency then"
        )
    if isinstance(run, dict):
        mapping = ", ".join(f"{k} {v}" for k, v in (run.get("mapping") or {}).items())
        load = run.get("load_average")
        lines += [
            "",
            f"  streamlab {run.get('streamlab_version')}, cadence {run.get('esm_cadence')}, mapping {mapping}",
            f"  table {run.get('table')}; {run.get('machine')}, Python {run.get('python')}"
            + (f", load average {' / '.join(str(v) for v in load)}" if load else ""),
        ]
    return lines


# --- SVG ------------------------------------------------------------------------------------


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]: steps of 1, 2 or 5 times a power of ten."""
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0]
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(1, count)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks, value = [round(first, 10)], first
    while value < high - step * 1e-9:  # until a tick reaches ``high``: the axis covers every value
        value += step
        ticks.append(round(value, 10))
    return ticks


class _Plot:
    """One chart's coordinate system: data ranges mapped onto the SVG's inner box."""

    def __init__(self, x_range: tuple[float, float], y_range: tuple[float, float]) -> None:
        self.x_ticks = nice_ticks(*x_range)
        self.y_ticks = nice_ticks(*y_range)
        self.x0, self.x1 = min(self.x_ticks[0], x_range[0]), max(self.x_ticks[-1], x_range[1])
        self.y0, self.y1 = min(self.y_ticks[0], y_range[0]), max(self.y_ticks[-1], y_range[1])
        if self.x1 <= self.x0:
            self.x1 = self.x0 + 1
        if self.y1 <= self.y0:
            self.y1 = self.y0 + 1

    def x(self, value: float) -> float:
        return MARGIN_LEFT + (value - self.x0) / (self.x1 - self.x0) * (WIDTH - MARGIN_LEFT - MARGIN_RIGHT)

    def y(self, value: float) -> float:
        return HEIGHT - MARGIN_BOTTOM - (value - self.y0) / (self.y1 - self.y0) * (HEIGHT - MARGIN_TOP - MARGIN_BOTTOM)

    def axes(self, x_label: str, y_label: str) -> list[str]:
        parts = [
            f'<line x1="{MARGIN_LEFT}" y1="{HEIGHT - MARGIN_BOTTOM}" x2="{WIDTH - MARGIN_RIGHT}" '
            f'y2="{HEIGHT - MARGIN_BOTTOM}" stroke="#333"/>',
            f'<line x1="{MARGIN_LEFT}" y1="{MARGIN_TOP}" x2="{MARGIN_LEFT}" y2="{HEIGHT - MARGIN_BOTTOM}" '
            'stroke="#333"/>',
        ]
        for tick in self.x_ticks:
            x = self.x(tick)
            parts.append(
                f'<line x1="{x:.1f}" y1="{HEIGHT - MARGIN_BOTTOM}" x2="{x:.1f}" y2="{HEIGHT - MARGIN_BOTTOM + 4}" '
                'stroke="#333"/>'
            )
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - MARGIN_BOTTOM + 16}" text-anchor="middle">{_tick(tick)}</text>'
            )
        for tick in self.y_ticks:
            y = self.y(tick)
            parts.append(
                f'<line x1="{MARGIN_LEFT}" y1="{y:.1f}" x2="{WIDTH - MARGIN_RIGHT}" y2="{y:.1f}" stroke="#eee"/>'
            )
            parts.append(f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_tick(tick)}</text>')
        parts.append(
            f'<text x="{(MARGIN_LEFT + WIDTH - MARGIN_RIGHT) / 2:.0f}" y="{HEIGHT - 6}" text-anchor="middle">'
            f"{html.escape(x_label)}</text>"
        )
        parts.append(
            f'<text x="14" y="{(MARGIN_TOP + HEIGHT - MARGIN_BOTTOM) / 2:.0f}" text-anchor="middle" '
            f'transform="rotate(-90 14 {(MARGIN_TOP + HEIGHT - MARGIN_BOTTOM) / 2:.0f})">{html.escape(y_label)}</text>'
        )
        return parts


def _tick(value: float) -> str:
    return f"{value:g}"


def _svg(title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'font-family="sans-serif" font-size="11" role="img" aria-label="{html.escape(title)}">'
        f"<title>{html.escape(title)}</title>" + "".join(body) + "</svg>"
    )


def _empty(title: str) -> str:
    return _svg(title, [f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no samples</text>'])


def histogram_svg(values: Sequence[float], bins: int = 30, title: str = "latency histogram") -> str:
    """Counts of ``values`` (ms) in equal-width bins, as bars."""
    if not values:
        return _empty(title)
    low, high = min(values), max(values)
    width = (high - low) / bins if high > low else 1.0
    counts = [0] * bins
    for value in values:
        counts[min(bins - 1, int((value - low) / width))] += 1
    plot = _Plot((low, low + width * bins), (0, max(counts)))
    body = plot.axes("latency write ack -> handler (ms)", "writes")
    for index, count in enumerate(counts):
        if not count:
            continue
        x0, x1 = plot.x(low + index * width), plot.x(low + (index + 1) * width)
        y = plot.y(count)
        body.append(
            f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0 - 1, 1):.1f}" height="{plot.y(0) - y:.1f}" '
            f'fill="{ACK_COLOUR}">'
            f"<title>{low + index * width:.2f}-{low + (index + 1) * width:.2f} ms: {count}</title></rect>"
        )
    return _svg(title, body)


def cdf_svg(series: dict[str, Sequence[float]], title: str = "latency CDF") -> str:
    """The empirical CDF of each named series (ms), one polyline each, with a legend."""
    filled = {name: sorted(values) for name, values in series.items() if values}
    if not filled:
        return _empty(title)
    low = min(values[0] for values in filled.values())
    high = max(values[-1] for values in filled.values())
    plot = _Plot((low, high), (0, 1))
    body = plot.axes("latency (ms)", "fraction of writes")
    colours = (ACK_COLOUR, SEND_COLOUR, "#2ca02c", "#d62728")
    for index, (name, values) in enumerate(filled.items()):
        colour = colours[index % len(colours)]
        step = max(1, len(values) // 2000)  # a polyline of <= ~2,000 points
        points = [(values[i], (i + 1) / len(values)) for i in range(0, len(values), step)]
        if points[-1][1] != 1.0:
            points.append((values[-1], 1.0))
        body.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
            + " ".join(f"{plot.x(x):.1f},{plot.y(y):.1f}" for x, y in points)
            + '"/>'
        )
        legend_y = MARGIN_TOP + 14 * index + 10
        body.append(
            f'<rect x="{WIDTH - MARGIN_RIGHT - 170}" y="{legend_y - 8}" width="10" height="10" fill="{colour}"/>'
        )
        body.append(f'<text x="{WIDTH - MARGIN_RIGHT - 155}" y="{legend_y + 1}">{html.escape(name)}</text>')
    return _svg(title, body)


def scatter_svg(times: Sequence[float], values: Sequence[float], title: str = "latency over time") -> str:
    """One circle per write: when it was sent (s into the run) against its latency (ms)."""
    if not times:
        return _empty(title)
    step = max(1, math.ceil(len(times) / MAX_SCATTER_POINTS))
    points = list(zip(times, values, strict=True))[::step]
    plot = _Plot((0, max(times)), (min(0.0, min(values)), max(values)))
    body = plot.axes("time into the run (s)", "latency write ack -> handler (ms)")
    body += [
        f'<circle cx="{plot.x(t):.1f}" cy="{plot.y(v):.1f}" r="2" fill="{ACK_COLOUR}" fill-opacity="0.6"/>'
        for t, v in points
    ]
    return _svg(title, body)


# --- HTML -----------------------------------------------------------------------------------

_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
svg { width: 100%; height: auto; }  /* the charts scale to the page's width (their viewBox keeps the drawing) */
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.8em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.fail { color: #b00; font-weight: bold; } .pass { color: #070; font-weight: bold; }
.warning { background: #fff4d6; border: 1px solid #e0b84c; padding: 0.5em 1em; }
figure { margin: 1em 0; } figcaption { font-weight: bold; margin-bottom: 0.3em; }
"""


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return html.escape("-" if value is None else str(value))


def render_html(doc: dict[str, Any]) -> str:
    """The whole report: verdict, warnings, summary tables and the three charts."""
    samples = doc.get("samples") or {}
    ack, send, times = samples.get("ack_ms") or [], samples.get("send_ms") or [], samples.get("t_s") or []
    clean = doc.get("clean", doc["lost"] == 0 and doc["order_violations"] == 0)
    verdict = (
        '<p class="pass">PASS: no loss, no order violations</p>'
        if clean
        else '<p class="fail">FAIL: loss or order violations</p>'
    )
    warnings = "".join(f'<p class="warning">{html.escape(text)}</p>' for text in doc.get("warnings") or [])
    counts = [
        ("endpoint", doc.get("endpoint")),
        ("writes", doc["writes"]),
        ("keys x versions", f"{doc.get('keys', '-')} x {doc.get('versions_per_key', '-')}"),
        ("writers", doc.get("writers")),
        ("target rate (writes/s)", doc.get("target_rate_wps")),
        ("achieved write rate (writes/s)", doc.get("achieved_write_wps")),
        ("processed", doc["processed"]),
        ("delivered", doc.get("delivered")),
        ("lost", doc["lost"]),
        ("duplicates", doc["duplicates"]),
        ("order violations", doc["order_violations"]),
        ("throughput (delivered/s)", doc["throughput_wps"]),
        ("duration (s)", doc.get("duration_s")),
    ]
    count_rows = "".join(f"<tr><td>{html.escape(name)}</td><td>{_cell(value)}</td></tr>" for name, value in counts)
    latency_rows = ""
    for label, key in (
        ("write ack -> handler", "latency_ms"),
        ("write sent -> handler", "latency_from_send_ms"),
        ("raw floor PutItem -> GetRecords", "floor_latency_ms"),
    ):
        latency = doc.get(key) or {}
        latency_rows += (
            f"<tr><td>{html.escape(label)}</td>"
            + "".join(f"<td>{_cell(latency.get(q))}</td>" for q in QUANTILES)
            + "</tr>"
        )
    problems = ""
    for name, key in (("lost", "lost_items"), ("out of order", "violating_items")):
        items = doc.get(key) or []
        if items:
            listed = ", ".join(f"{item[0]} v{item[1]}" for item in items)
            problems += f"<p><b>{html.escape(name)}</b> (first {len(items)}): {html.escape(listed)}</p>"
    charts = [
        ("Latency histogram (write ack -> handler)", histogram_svg(ack)),
        ("Latency CDF", cdf_svg({"write ack -> handler": ack, "write sent -> handler": send})),
        ("Latency over time (write ack -> handler)", scatter_svg(times, ack)),
    ]
    figures = "".join(
        f"<figure><figcaption>{html.escape(caption)}</figcaption>{svg}</figure>" for caption, svg in charts
    )
    title = f"streamlab bench - {doc.get('endpoint', '')}"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>streamlab bench</h1><p>{html.escape(str(doc.get('started_at', '')))}</p>{verdict}{warnings}"
        f"<h2>Summary</h2><table>{count_rows}</table>"
        "<h2>Latency (ms)</h2><table><tr><th>measurement</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>"
        f"{latency_rows}</table>{_context_html(doc)}{problems}<h2>Charts</h2>{figures}</body></html>\n"
    )


def _context_html(doc: dict[str, Any]) -> str:
    """The run's context (version, cadence, mapping, machine, load) and the negative-latency note."""
    lines = _context_lines(doc)
    if not lines:
        return ""
    items = "".join(f"<li>{html.escape(line.strip())}</li>" for line in lines if line.strip())
    return f"<h2>Run</h2><ul>{items}</ul>"
