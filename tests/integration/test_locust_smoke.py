"""Locust smoke: loadtests/locustfile.py runs headless against an endpoint and reports both metrics.

A ~10 s run with 4 users against a fresh `streamlab up --port 0 --no-deploy` (its own process,
so its own moto state): the locustfile deploys its own probe (table, function, mapping through boto3),
writes, and reads the probe's lines back. Asserted: PutItem was reported with no failures and
the end-to-end ``Stream`` / ``write->handler`` request type was reported at all. Never how fast:
timings on a shared CI machine are not a test result.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_cli_up import endpoint_in, start_up, wait_for_ready

REPO = Path(__file__).resolve().parents[2]
LOCUSTFILE = REPO / "loadtests" / "locustfile.py"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("locust") is None,
        reason="locust is not installed (pip install -e '.[load]'): the load-test smoke needs it",
    ),
]


@pytest.fixture
def endpoint() -> Iterator[str]:
    process = start_up("--no-deploy", "--port", "0")
    try:
        yield endpoint_in(wait_for_ready(process))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def stats_rows(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    with path.open(newline="") as handle:
        return {(row["Type"], row["Name"]): row for row in csv.DictReader(handle)}


def test_locust_headless_reports_writes_and_stream_latency(endpoint: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_") and k != "AWS_ENDPOINT_URL"}
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "-u",
            "4",
            "-r",
            "4",
            "-t",
            "10s",
            "--csv",
            str(tmp_path / "run"),
            "--json",
            "--host",
            endpoint,
            "--stream-drain",
            "5",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, f"locust exited {result.returncode}\nstderr:\n{result.stderr[-4000:]}"
    # gevent's patching came before boto3/urllib3/ssl: no "patching ssl after import" warnings.
    assert "MonkeyPatchWarning" not in result.stderr
    assert "RecursionError" not in result.stderr

    rows = stats_rows(tmp_path / "run_stats.csv")
    put = rows.get(("DynamoDB", "PutItem"))
    assert put is not None, f"no PutItem row in {sorted(rows)}"
    assert int(put["Request Count"]) > 0
    assert int(put["Failure Count"]) == 0, (tmp_path / "run_failures.csv").read_text()
    stream = rows.get(("Stream", "write->handler"))
    assert stream is not None, f"no end-to-end row in {sorted(rows)}\nstderr:\n{result.stderr[-4000:]}"
    assert int(stream["Request Count"]) > 0

    # --json prints the same final stats on stdout
    reported = {(entry["method"], entry["name"]): entry for entry in json.loads(result.stdout)}
    assert reported[("Stream", "write->handler")]["num_requests"] > 0
    assert reported[("DynamoDB", "PutItem")]["num_requests"] > 0
    assert reported[("DynamoDB", "PutItem")]["num_failures"] == 0
