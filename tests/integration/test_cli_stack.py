"""`streamlab up` with the stack, `streamlab deploy` against it, `streamlab demo`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import boto3
import psutil

from tests.integration.test_cli_up import REPO, endpoint_in, start_up, wait_for_ready


def run_cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamlab.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def test_up_deploys_the_stack_and_leaves_no_process_behind() -> None:
    process = start_up("--port", "0")
    try:
        url = endpoint_in(wait_for_ready(process, timeout=180))
        clients = {
            "endpoint_url": url,
            "region_name": "us-east-1",
            "aws_access_key_id": "test",
            "aws_secret_access_key": "test",
        }
        tables = boto3.client("dynamodb", **clients).list_tables()["TableNames"]
        assert "Orders" in tables

        again = run_cli("deploy", "--endpoint-url", url)
        assert again.returncode == 0, again.stderr
        assert again.stdout.strip().splitlines()[-1] == "no changes"

        # An invocation starts an execution environment: a child process `up` must stop.
        response = boto3.client("lambda", **clients).invoke(FunctionName="probe", Payload=json.dumps({"Records": []}))
        assert "FunctionError" not in response
        family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
        assert len(family) > 1, "the invocation should have started an execution environment"
    finally:
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=30)
    assert returncode == 0
    _, alive = psutil.wait_procs(family, timeout=10)
    assert not alive, f"left behind: {alive}"


def test_deploy_reports_stack_errors_before_creating_anything(tmp_path) -> None:
    stack = tmp_path / "stack.toml"
    stack.write_text('[tables.Broken]\npartition_key = { name = "pk", type = "S" }\nstream_veiw_type = "NEW_IMAGE"\n')
    result = run_cli("deploy", "--endpoint-url", "http://127.0.0.1:9", "--stack", str(stack))
    assert result.returncode == 2
    assert "stream_veiw_type" in result.stderr
    assert "expected one of" in result.stderr


def test_demo_deploys_and_measures() -> None:
    result = run_cli("demo", "--writes", "20", "--keys", "4", "--rate", "40")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "created table Orders" in result.stdout
    for label in ("PutItem sent -> probe handler", "PutItem ack -> GetRecords floor"):
        line = next(line for line in result.stdout.splitlines() if line.startswith(label))
        p50, p90, p99, worst = (float(value) for value in line.split()[-4:])
        assert 0 < p50 <= p90 <= p99 <= worst, line
    assert "probe: 20 writes, 20 delivered, 0 lost, 0 duplicates, 0 order violations" in result.stdout
