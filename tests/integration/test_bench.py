"""``streamlab bench`` end to end on the session's endpoint: no loss, no disorder, its files written.

Small numbers (60 writes over 6 keys at 30/s) keep it to a few seconds; figures are
printed, never asserted (DESIGN.md: benchmarks measure, tests check behaviour).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from streamlab.measure.bench import add_arguments, run
from streamlab.measure.bench_report import DESIGN_FIELDS

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"


def bench_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.fixture(scope="module")
def bench_run(streamlab_endpoint_url: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path, Path]:
    out = tmp_path_factory.mktemp("bench")
    json_path, html_path = out / "bench.json", out / "bench.html"
    exit_code = run(
        bench_args(
            "--endpoint-url",
            streamlab_endpoint_url,
            "--writes",
            "60",
            "--keys",
            "6",
            "--rate",
            "30",
            "--writers",
            "2",
            "--floor-writes",
            "20",
            "--json",
            str(json_path),
            "--html",
            str(html_path),
        )
    )
    return exit_code, json_path, html_path


def test_bench_delivers_every_write_in_order(bench_run: tuple[int, Path, Path]) -> None:
    exit_code, json_path, _ = bench_run
    document = json.loads(json_path.read_text())
    assert set(DESIGN_FIELDS) <= set(document)
    assert document["writes"] == 60
    assert document["lost"] == 0, document["lost_items"]
    assert document["order_violations"] == 0, document["violating_items"]
    assert document["processed"] >= 60
    assert exit_code == 0
    assert {"p50", "p90", "p99", "max"} <= set(document["latency_ms"])
    assert all(isinstance(document["latency_ms"][q], float) for q in ("p50", "p90", "p99", "max"))
    assert {"p50", "p99"} <= set(document["floor_latency_ms"])
    assert document["floor_samples"] == 20
    assert document["throughput_wps"] > 0
    assert len(document["samples"]["ack_ms"]) == 60
    run = document["run"]
    assert {"streamlab_version", "esm_cadence", "mapping", "machine", "python", "load_average"} <= set(run)
    assert run["mapping"]["BatchSize"] == 100


def test_bench_writes_a_self_contained_html_report(bench_run: tuple[int, Path, Path]) -> None:
    _, _, html_path = bench_run
    page = html_path.read_text()
    assert page.count("<svg") == 3
    assert "<circle" in page
    assert "<polyline" in page
    assert "<script" not in page.lower()


def test_bench_cleans_up_its_probe_stack(bench_run: tuple[int, Path, Path], streamlab_client) -> None:
    tables = streamlab_client("dynamodb").list_tables()["TableNames"]
    functions = [f["FunctionName"] for f in streamlab_client("lambda").list_functions()["Functions"]]
    assert not [name for name in tables + functions if name.startswith("streamlab-bench")]


def test_bench_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(bench_args("--writes", "3", "--keys", "6")) == 2
    assert run(bench_args("--aws", "--endpoint-url", "http://127.0.0.1:1")) == 2
    assert run(bench_args("--aws")) == 2  # no role for the probe function
    assert "--role-arn" in capsys.readouterr().err
    assert run(bench_args("--backend", "container", "--endpoint-url", "http://127.0.0.1:1")) == 2
    assert "drop --endpoint-url" in capsys.readouterr().err


def test_bench_on_a_backend_that_cannot_start_says_why(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    assert run(bench_args("--backend", "container", "--writes", "10")) == 2
    assert "streamlab bench: the container backend needs Docker: " in capsys.readouterr().err


@pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"chromium is not installed at {CHROMIUM}: the HTML report is not rendered"
)
def test_html_report_renders_in_headless_chromium(bench_run: tuple[int, Path, Path], tmp_path: Path) -> None:
    _, _, html_path = bench_run
    png = tmp_path / "report.png"
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={png}",
            "--window-size=1000,2000",
            html_path.resolve().as_uri(),
        ],
        check=True,
        timeout=60,
        capture_output=True,
    )
    assert png.is_file()
    assert png.stat().st_size > 1000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)


@pytest.mark.parametrize(("key_type", "sort_key"), [("N", "sk"), ("S", None), ("B", "sk")])
def test_bench_measures_a_users_own_table_whatever_its_key_schema(
    streamlab_endpoint_url: str, streamlab_client, tmp_path: Path, key_type: str, sort_key: str | None
) -> None:
    import uuid

    ddb = streamlab_client("dynamodb")
    table = f"users-orders-{uuid.uuid4().hex[:6]}"
    definitions = [{"AttributeName": "tenant", "AttributeType": key_type}]
    schema = [{"AttributeName": "tenant", "KeyType": "HASH"}]
    if sort_key:
        definitions.append({"AttributeName": sort_key, "AttributeType": "S"})
        schema.append({"AttributeName": sort_key, "KeyType": "RANGE"})
    ddb.create_table(
        TableName=table,
        AttributeDefinitions=definitions,
        KeySchema=schema,
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    json_path = tmp_path / "bench.json"
    exit_code = run(
        bench_args("--endpoint-url", streamlab_endpoint_url, "--table", table, "--writes", "20", "--keys", "4",
                   "--rate", "40", "--floor-writes", "0", "--json", str(json_path))
    )  # fmt: skip
    document = json.loads(json_path.read_text())
    assert exit_code == 0
    assert document["writes"] == 20
    assert document["lost"] == 0, document["lost_items"]
    assert document["order_violations"] == 0
    # The user's table stays, without the measurement's items; the probe is gone.
    assert ddb.scan(TableName=table)["Items"] == []
    functions = [f["FunctionName"] for f in streamlab_client("lambda").list_functions()["Functions"]]
    assert not [name for name in functions if name.startswith("streamlab-probe-fn-")]
    ddb.delete_table(TableName=table)


def test_bench_refuses_a_table_without_a_stream(streamlab_endpoint_url: str, streamlab_client, capsys) -> None:
    import uuid

    table = f"no-stream-{uuid.uuid4().hex[:6]}"
    streamlab_client("dynamodb").create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert run(bench_args("--endpoint-url", streamlab_endpoint_url, "--table", table, "--floor-writes", "0")) == 1
    assert f"table {table} has no stream" in capsys.readouterr().err
