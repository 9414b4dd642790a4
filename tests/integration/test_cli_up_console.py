"""``streamlab up`` says what is happening: a line per invocation or failure, naming the function,
the mapping and the error, even while a mapping retries a syntax error forever."""

from __future__ import annotations

import queue
import signal
import subprocess
import threading
import time

import pytest

from streamlab.streams import create_stream_table
from tests.integration.lambda_support import ROLE, zip_source
from tests.integration.test_cli_up import clients, endpoint_in, start_up, wait_for_ready

pytestmark = pytest.mark.slow

SYNTAX_ERROR = "def handler(event, context)\n    return event\n"
ECHO = "def handler(event, context):\n    return event\n"


def lines_of(process: subprocess.Popen[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return lines


def wait_for_line(lines: queue.Queue[str], *words: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.05, deadline - time.monotonic()))
        except queue.Empty:
            break
        seen.append(line)
        if all(word in line for word in words):
            return line
    raise AssertionError(f"no line with {words}; up printed {seen[-20:]}")


def test_up_prints_each_invocation_and_a_mapping_retrying_a_syntax_error() -> None:
    process = start_up("--no-deploy", "--port", "0")
    try:
        url = endpoint_in(wait_for_ready(process))
        lines = lines_of(process)
        lam, dynamodb = clients(url, "us-east-1", "lambda", "dynamodb")
        for name, source in (("echo-fn", ECHO), ("broken-fn", SYNTAX_ERROR)):
            lam.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=ROLE,
                Handler="app.handler",
                Code={"ZipFile": zip_source(source)},
            )
            lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        lam.invoke(FunctionName="echo-fn", Payload=b"{}")
        ok = wait_for_line(lines, "echo-fn", "RequestResponse")
        assert "OK (cold start)" in ok
        stream_arn = create_stream_table(dynamodb, "Orders", "NEW_IMAGE")
        mapping = lam.create_event_source_mapping(
            FunctionName="broken-fn", EventSourceArn=stream_arn, StartingPosition="TRIM_HORIZON", BatchSize=1
        )
        dynamodb.put_item(TableName="Orders", Item={"pk": {"S": "o-1"}})
        first = wait_for_line(lines, "broken-fn <- Orders", "attempt 1")
        assert f"[{mapping['UUID'][:8]}]" in first
        assert "batch 1" in first
        assert "ERROR Runtime.UserCodeSyntaxError:" in first
        assert "Syntax error in module 'app'" in first
        # retried forever (MaximumRetryAttempts -1): it keeps saying so
        again = wait_for_line(lines, "broken-fn <- Orders", "attempt 3")
        assert "Runtime.UserCodeSyntaxError" in again
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
