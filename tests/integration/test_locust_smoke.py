"""Locust: loadtests/locustfile.py runs against an endpoint and reports the writes as requests and
the stream apart from them.

Short runs (a few users, 6-10 s) against a fresh `streamlab up --port 0 --no-deploy` (its own
process, so its own moto state): the locustfile deploys its own probe, or attaches one to a
table of the test's, writes, and reads the probe's lines back. Asserted: the writes are the
run's only requests (no stream row among them, the aggregate is their sum), every acknowledged
write was seen by the handler on this endpoint, a user's table keeps none of the run's items and
no probe, and the web UI shows the stream tab. Never how fast: timings on a shared CI machine
are not a test result.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
        terminate(process, timeout=15)


def terminate(process: subprocess.Popen[str], timeout: float) -> bool:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout``; whether it exited in time."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return False
    return True


def stats_rows(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    with path.open(newline="") as handle:
        return {(row["Type"], row["Name"]): row for row in csv.DictReader(handle)}


def locust(endpoint: str, cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_") and k != "AWS_ENDPOINT_URL"}
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", endpoint, "--stream-drain", "30"]
    result = subprocess.run([*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"locust exited {result.returncode}\nstderr:\n{result.stderr[-4000:]}"
    # gevent's patching came before boto3/urllib3/ssl: no "patching ssl after import" warnings.
    assert "MonkeyPatchWarning" not in result.stderr
    assert "RecursionError" not in result.stderr
    return result


def headless(users: int, seconds: int) -> list[str]:
    return ["--headless", "-u", str(users), "-r", str(users), "-t", f"{seconds}s"]


def assert_writes_are_the_only_requests(rows: dict[tuple[str, str], dict[str, str]]) -> int:
    """The request rows are the writes; the aggregate is their sum (stream records are not requests)."""
    writes = {key: row for key, row in rows.items() if key[0] == "DynamoDB"}
    assert set(rows) - set(writes) == {("", "Aggregated")}, sorted(rows)
    assert writes, f"no DynamoDB rows in {sorted(rows)}"
    total = sum(int(row["Request Count"]) for row in writes.values())
    assert int(rows[("", "Aggregated")]["Request Count"]) == total
    assert all(int(row["Failure Count"]) == 0 for row in writes.values()), writes
    return total


def assert_every_write_seen(stream: dict[str, Any], users: int) -> None:
    """No acknowledged write unseen, none out of order. A user stopped mid-call may have made a
    write it never heard answered: at most one such record per user."""
    assert stream["not_seen"] == 0, stream
    assert stream["out_of_order"] == 0, stream
    assert stream["writes_acknowledged"] <= stream["delivered"] <= stream["writes_acknowledged"] + users, stream


def test_locust_headless_reports_writes_and_stream_latency_apart(endpoint: str, tmp_path: Path) -> None:
    result = locust(endpoint, tmp_path, *headless(4, 10), "--csv", str(tmp_path / "run"), "--json",
                    "--stream-json", str(tmp_path / "stream.json"))  # fmt: skip
    written = assert_writes_are_the_only_requests(stats_rows(tmp_path / "run_stats.csv"))
    assert ("DynamoDB", "PutItem") in stats_rows(tmp_path / "run_stats.csv")

    # --json prints Locust's final request stats on stdout: the writes alone
    reported = {(entry["method"], entry["name"]) for entry in json.loads(result.stdout)}
    assert reported
    assert {method for method, _ in reported} == {"DynamoDB"}

    # the stream metric, beside them: every acknowledged write reached the handler
    stream = json.loads((tmp_path / "stream.json").read_text())
    assert stream["writes_acknowledged"] == written
    assert_every_write_seen(stream, users=4)
    assert stream["out_of_order"] == 0
    assert stream["latency_ms"]["p50"] is not None
    assert stream["latency_ms"]["min"] <= stream["latency_ms"]["p50"] <= stream["latency_ms"]["max"]
    with (tmp_path / "run_stream_latency.csv").open(newline="") as handle:
        (row,) = csv.DictReader(handle)
    assert (row["Name"], int(row["Delivered"]), row["Not Seen"]) == ("write->handler", stream["delivered"], "0")
    assert f"{stream['delivered']} records of {written} acknowledged writes (0 not seen)" in result.stderr


def test_distributed_runs_count_every_workers_writes(endpoint: str, tmp_path: Path) -> None:
    # The master reads the stream; its workers' writes reach it only in their periodic reports.
    locust(endpoint, tmp_path, *headless(4, 6), "--processes", "2", "--csv", str(tmp_path / "run"),
           "--stream-json", str(tmp_path / "stream.json"))  # fmt: skip
    written = assert_writes_are_the_only_requests(stats_rows(tmp_path / "run_stats.csv"))
    stream = json.loads((tmp_path / "stream.json").read_text())
    assert stream["writes_acknowledged"] == written
    assert_every_write_seen(stream, users=4)


def test_locust_loads_a_users_table_whatever_its_key_schema(endpoint: str, tmp_path: Path) -> None:
    import boto3

    options = {
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "t",
        "aws_secret_access_key": "t",
    }
    ddb, lam = boto3.client("dynamodb", **options), boto3.client("lambda", **options)
    ddb.create_table(
        TableName="tenants",
        AttributeDefinitions=[
            {"AttributeName": "tenant", "AttributeType": "N"},
            {"AttributeName": "at", "AttributeType": "B"},
        ],
        KeySchema=[{"AttributeName": "tenant", "KeyType": "HASH"}, {"AttributeName": "at", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )  # fmt: skip
    theirs = {"tenant": {"N": "7"}, "at": {"B": b"\x01"}, "name": {"S": "the team's own item"}}
    ddb.put_item(TableName="tenants", Item=theirs)

    result = locust(endpoint, tmp_path, *headless(3, 6), "--table", "tenants", "--stream-json",
                    str(tmp_path / "stream.json"), "StatusUpdater")  # fmt: skip
    stream = json.loads((tmp_path / "stream.json").read_text())
    assert stream["writes_acknowledged"] > 3  # each StatusUpdater creates 3 items, then updates them
    assert_every_write_seen(stream, users=3)
    assert "removed the run's" in result.stderr
    # The table stays with only its own item; the probe (function and mapping) is gone.
    assert ddb.scan(TableName="tenants")["Items"] == [theirs]
    assert not [f for f in lam.list_functions()["Functions"] if f["FunctionName"].startswith("streamlab-probe-fn-")]
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_the_web_ui_shows_the_stream_in_its_own_tab(endpoint: str, tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "locust.log"  # a file, not a pipe nobody reads while it runs
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_") and k != "AWS_ENDPOINT_URL"}
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    sink = log.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", endpoint, "--web-host", "127.0.0.1",
         "--web-port", str(port), "--autostart", "-u", "2", "-r", "2", "-t", "60s", "--autoquit", "0"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=sink, text=True,
    )  # fmt: skip
    try:
        deadline, answer, rows = time.monotonic() + 90, {}, []
        while time.monotonic() < deadline:
            try:
                answer = get_json(f"http://127.0.0.1:{port}/stats/requests")
            except OSError:
                answer = {}
            extended = {entry["key"]: entry["data"] for entry in answer.get("extended_stats", [])}
            rows = extended.get("stream-latency", [])
            if rows and rows[0]["delivered"] > 0:
                break
            time.sleep(1)
        assert rows, f"no stream tab data in {answer}"
        assert rows[0]["delivered"] > 0
        assert {entry["method"] for entry in answer["stats"] if entry["name"] != "Aggregated"} == {"DynamoDB"}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/stream-latency/csv", timeout=10) as response:
            header = response.read().decode().splitlines()[0]
        assert header.startswith("Name,Records,Delivered,Redelivered,Out Of Order,Writes Acknowledged,Not Seen")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            page = response.read().decode()
        assert "Stream latency" in page  # the tab's title, in the page's template arguments
    finally:
        exited = terminate(process, timeout=60)
        sink.close()
    assert exited, "locust did not exit within 60 s of SIGTERM"
    # SIGTERM mid-run: the users stop, the stream is drained, and only then is the probe removed.
    stderr = log.read_text()
    assert "acknowledged writes (0 not seen)" in stderr, stderr[-3000:]
    import boto3

    lam = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="t",
                       aws_secret_access_key="t")  # fmt: skip
    assert not [f for f in lam.list_functions()["Functions"] if f["FunctionName"].startswith("streamlab-locust-")]
