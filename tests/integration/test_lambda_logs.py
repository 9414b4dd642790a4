"""Function logs: CloudWatch Logs through filter_log_events, LogType=Tail, ``streamlab logs``."""

from __future__ import annotations

import base64
import io
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from streamlab.logs_cli import print_logs
from streamlab.testing import eventually

CHATTY = """
import logging
print("module loaded")
logger = logging.getLogger()
logger.setLevel(logging.INFO)

def handler(event, context):
    print("handling", event.get("n"))
    logger.info("logged %s", event.get("n"))
    if event.get("big"):
        print("x" * 10_000)
    if event.get("sleep"):
        import time
        time.sleep(event["sleep"])
    return "ok"
"""

REPORT = re.compile(
    r"^REPORT RequestId: (?P<id>[0-9a-f-]{36})\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
    r"Memory Size: 128 MB\tMax Memory Used: \d+ MB\t(?P<init>Init Duration: \d+\.\d\d ms\t)?(?P<status>Status: \w+\t)?$"
)


def messages(logs: Any, group: str) -> list[str]:
    try:
        events = logs.filter_log_events(logGroupName=group)["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [event["message"] for event in events]


def test_invocation_lines_and_output_reach_cloudwatch(
    lambda_client: Any, streamlab_client: Callable[..., Any], make_function: Callable[..., str]
) -> None:
    logs = streamlab_client("logs")
    name = make_function(CHATTY)
    first = lambda_client.invoke(FunctionName=name, Payload=b'{"n": 1}')["ResponseMetadata"]["RequestId"]
    lambda_client.invoke(FunctionName=name, Payload=b'{"n": 2}')
    group = f"/aws/lambda/{name}"
    lines = eventually(
        lambda: (m := messages(logs, group)) and sum(x.startswith("REPORT") for x in m) == 2 and m, timeout=5
    )

    starts = [line for line in lines if line.startswith("START RequestId: ")]
    ends = [line for line in lines if line.startswith("END RequestId: ")]
    reports = [REPORT.match(line) for line in lines if line.startswith("REPORT")]
    assert len(starts) == len(ends) == 2
    assert all(line.endswith("Version: $LATEST") for line in starts)
    assert all(reports)
    assert reports[0]["init"]
    assert not reports[1]["init"]
    assert any(line.startswith("INIT_START") for line in lines)
    assert "module loaded" in lines
    assert "handling 1" in lines
    assert "handling 2" in lines
    assert any(line.startswith("[INFO]") and line.endswith("logged 1") for line in lines)
    assert lines.index("handling 1") > lines.index(starts[0])
    assert first  # the HTTP request id differs from the invocation's; the log is keyed by the latter

    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert len(streams) == 1
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", streams[0]["logStreamName"])


def test_log_type_tail_returns_the_last_4_kb(lambda_client: Any, make_function: Callable[..., str]) -> None:
    name = make_function(CHATTY)
    small = lambda_client.invoke(FunctionName=name, Payload=b'{"n": 3}', LogType="Tail")
    tail = base64.b64decode(small["LogResult"]).decode()
    assert "START RequestId:" in tail
    assert "handling 3" in tail
    assert "END RequestId:" in tail
    assert REPORT.match(tail.splitlines()[-1])

    big = lambda_client.invoke(FunctionName=name, Payload=b'{"n": 4, "big": true}', LogType="Tail")
    raw = base64.b64decode(big["LogResult"])
    assert len(raw) == 4096
    assert raw.decode().splitlines()[-1].startswith("REPORT RequestId:")
    assert "LogResult" not in lambda_client.invoke(FunctionName=name, Payload=b"{}")


def test_timeout_is_logged(
    lambda_client: Any, streamlab_client: Callable[..., Any], make_function: Callable[..., str]
) -> None:
    name = make_function(CHATTY, Timeout=1)
    response = lambda_client.invoke(FunctionName=name, Payload=b'{"n": 5, "sleep": 3}', LogType="Tail")
    tail = base64.b64decode(response["LogResult"]).decode().splitlines()
    assert any(line.endswith("Task timed out after 1.00 seconds") for line in tail)
    report = REPORT.match(tail[-1])
    assert report
    assert report["status"] == "Status: timeout\t"
    logs = streamlab_client("logs")
    eventually(lambda: any("Task timed out" in m for m in messages(logs, f"/aws/lambda/{name}")), timeout=5)


def test_streamlab_logs_prints_and_follows(
    lambda_client: Any, make_function: Callable[..., str], streamlab_endpoint_url: str, streamlab_region: str
) -> None:
    name = make_function(CHATTY)
    lambda_client.invoke(FunctionName=name, Payload=b'{"n": 6}')
    out = io.StringIO()
    eventually(
        lambda: print_logs(name, streamlab_endpoint_url, region=streamlab_region, out=io.StringIO()) >= 4, timeout=5
    )
    print_logs(name, streamlab_endpoint_url, region=streamlab_region, out=out)
    assert "handling 6" in out.getvalue()
    assert re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z START RequestId: ", out.getvalue(), re.MULTILINE)

    followed = io.StringIO()
    stop = threading.Event()
    follower = threading.Thread(
        target=print_logs,
        args=(name, streamlab_endpoint_url),
        kwargs={"follow": True, "region": streamlab_region, "out": followed, "poll_interval": 0.1, "stop": stop},
    )
    follower.start()
    try:
        time.sleep(0.2)
        lambda_client.invoke(FunctionName=name, Payload=b'{"n": 7}')
        eventually(lambda: "handling 7" in followed.getvalue(), timeout=5)
    finally:
        stop.set()
        follower.join(timeout=5)
    assert followed.getvalue().count("handling 6") == 1  # nothing printed twice


def test_logs_of_a_function_that_never_ran_print_nothing(streamlab_endpoint_url: str, streamlab_region: str) -> None:
    out = io.StringIO()
    assert print_logs("streamlab-never-ran", streamlab_endpoint_url, region=streamlab_region, out=out) == 0
    assert out.getvalue() == ""


def test_logs_command_line(
    lambda_client: Any,
    make_function: Callable[..., str],
    streamlab_endpoint_url: str,
    streamlab_region: str,
    capsys: Any,
) -> None:
    from streamlab.logs_cli import main

    name = make_function(CHATTY)
    lambda_client.invoke(FunctionName=name, Payload=b'{"n": 8}')
    eventually(
        lambda: print_logs(name, streamlab_endpoint_url, region=streamlab_region, out=io.StringIO()) >= 4, timeout=5
    )
    assert main([name, "--endpoint-url", streamlab_endpoint_url, "--region", streamlab_region, "--since", "5"]) == 0
    assert "handling 8" in capsys.readouterr().out
