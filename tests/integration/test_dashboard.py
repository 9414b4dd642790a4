"""The dashboard at ``/_streamlab/`` in headless Chromium: a real page load that draws Plotly
charts from live data while writes happen.

Skips, saying so, when Debian's ``chromium`` is not installed (``.ci/run`` installs it).
``STREAMLAB_SCREENSHOT=PATH`` also saves a screenshot of the loaded page there (how
docs/dashboard.png is made).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from streamlab.testing import eventually
from tests.integration.lambda_support import FunctionFactory
from tests.integration.observability_support import POISON_AWARE, get_json, make_queue, stream_with_mapping

pytestmark = pytest.mark.slow

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)")
    return path


def load(url: str, profile: Path, *extra: str, budget_ms: int = 6000) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}", *extra, url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_dashboard_draws_live_charts_in_chromium(
    streamlab_client: Callable[..., Any],
    make_function: FunctionFactory,
    streamlab_unique_name: Callable[[str], str],
    streamlab_endpoint_url: str,
    streamlab_in_process: bool,
    tmp_path: Path,
) -> None:
    if not streamlab_in_process:
        pytest.skip("the dashboard is the embedded endpoint's")
    chromium()
    function = make_function(POISON_AWARE)
    table = streamlab_unique_name("dash")
    dlq = make_queue(streamlab_client("sqs"), streamlab_unique_name("dash-dlq"))
    stream, uuid = stream_with_mapping(
        streamlab_client,
        table,
        function,
        BatchSize=5,
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": dlq.arn}},
    )
    stream.put("order-0")
    stream.put("poison-0")

    def charted() -> bool:
        document = get_json(f"{streamlab_endpoint_url}/_streamlab/status")[1]
        mapping = next(m for m in document["mappings"] if m["UUID"] == uuid)
        return bool(mapping["iteratorAgeSeries"]) and (mapping["Dlq"] or {}).get("messages", 0) >= 1

    eventually(charted, timeout=60, message="iterator age samples and the poison record in the on-failure queue")
    stop = threading.Event()

    def keep_writing() -> None:  # writes go on while the page loads and refreshes
        for n in range(1, 60):
            if stop.wait(0.2):
                return
            stream.put(f"order-{n}")

    writer = threading.Thread(target=keep_writing, daemon=True)
    writer.start()
    try:
        page = load(f"{streamlab_endpoint_url}/_streamlab/", tmp_path / "profile", "--dump-dom")
        shot = os.environ.get("STREAMLAB_SCREENSHOT")
        if shot:
            load(
                f"{streamlab_endpoint_url}/_streamlab/?table={table}&key=poison-0",
                tmp_path / "profile-shot",
                f"--screenshot={Path(shot).resolve()}",
                "--window-size=1400,1250",
                budget_ms=8000,
            )
    finally:
        stop.set()
        writer.join(5)
        streamlab_client("lambda").delete_event_source_mapping(UUID=uuid)
    dom = page.stdout
    assert page.returncode == 0, page.stderr[-2000:]
    updates = int(re.search(r'<body[^>]*data-updates="(\d+)"', dom).group(1))  # type: ignore[union-attr]
    assert updates >= 2, "the page refreshed from /_streamlab/status while writes happened"
    for chart in ("chart-iterator-age", "chart-invocations"):
        tag = re.search(rf'<div id="{chart}"[^>]*>', dom)
        assert tag is not None
        assert "js-plotly-plot" in tag.group(0), f"Plotly drew {chart}"
        points = int(re.search(r'data-points="(\d+)"', tag.group(0)).group(1))  # type: ignore[union-attr]
        assert points > 0, f"{chart} plots live data"
    assert dom.count('class="js-line"') >= 2 or dom.count("scatterlayer") >= 2, "lines drawn in the charts' SVG"
    assert function in dom
    assert table in dom
    assert "poison order poison-0" in dom  # the last error, in the mappings table and the logs
    dlq_box = dom.split('id="dlq"', 1)[1].split("</section>", 1)[0]
    assert "1 message(s)" in dlq_box
    assert "RetryAttemptsExhausted" in dlq_box  # the on-failure record's body
