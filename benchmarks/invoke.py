"""Warm and cold Invoke latency: streamlab's Lambda service beside AWS's Runtime Interface
Emulator and python-lambda-local, on the same handler, in the same run.

    .venv/bin/python benchmarks/invoke.py --warm 1000 --cold 10 \
        --rie /tmp/streamlab-bench-venv/lib/python3.11/site-packages/samcli/local/rapid/aws-lambda-rie-x86_64 \
        --lambda-local-python /tmp/streamlab-bench-venv/bin/python

The comparison tools stay out of streamlab's dependencies: install them in a throwaway venv
(``python -m venv /tmp/streamlab-bench-venv && /tmp/streamlab-bench-venv/bin/pip install
--no-deps aws-sam-cli && /tmp/streamlab-bench-venv/bin/pip install python-lambda-local``);
``aws-lambda-rie`` ships inside the aws-sam-cli wheel (samcli/local/rapid/). Without the
options, the script looks for them there and skips what it cannot find.

What is measured (client-side wall time, the client in this process, every server in
another process so they do not share a GIL with the client):

- streamlab, warm: ``POST /2015-03-31/functions/<f>/invocations`` through the embedded
  endpoint's gateway on one keep-alive connection (a raw HTTP client, so the figure is the
  server's, not botocore's), and the same through boto3 for reference;
- streamlab, cold: the first invoke after ``UpdateFunctionConfiguration`` retired the
  environments, i.e. process start + runtime init + import + invoke;
- aws-lambda-rie: the same two on RIE's invoke endpoint, running the same awslambdaric on
  the same interpreter (RIE starts its runtime on the first invoke: that is its cold start);
- python-lambda-local: warm = ``lambda_local.main.call`` repeated in one process (it forks
  a process per call), cold = one ``python-lambda-local`` command.

Targets (from the issue): warm p50 <= 2 ms through the gateway, cold start <= 300 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import http.client
import io
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

HANDLER_SOURCE = "def handler(event, context):\n    return event\n"
PAYLOAD = b'{"hello": "world"}'
ROLE = "arn:aws:iam::123456789012:role/bench"
SIGNED = {
    "Content-Type": "application/json",
    "Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/lambda/aws4_request, "
    "SignedHeaders=host, Signature=0",
    "X-Amz-Date": "20240101T000000Z",
}


def summary(samples_s: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples_s)

    def pick(q: float) -> float:
        return round(ms[min(len(ms) - 1, int(q * len(ms)))], 3)

    return {
        "n": len(ms),
        "p50": pick(0.50),
        "p90": pick(0.90),
        "p99": pick(0.99),
        "max": round(ms[-1], 3),
        "mean": round(statistics.fmean(ms), 3),
    }


def timed(call: Callable[[], Any], count: int, warmup: int = 20) -> list[float]:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.005)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def post(connection: http.client.HTTPConnection, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    connection.request("POST", path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"{path} answered {response.status}: {data[:200]!r}")
    return data


def stop_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(5)


# -- streamlab ------------------------------------------------------------------------------
_ENDPOINT_SCRIPT = """
import sys, time
from streamlab.emulator.endpoint import EmbeddedEndpoint
endpoint = EmbeddedEndpoint(port=0).start()
print(endpoint.url, flush=True)
try:
    sys.stdin.read()
finally:
    endpoint.stop()
"""


def bench_streamlab(warm: int, cold: int, runtime: str) -> dict[str, Any]:
    import boto3

    server = subprocess.Popen(
        [sys.executable, "-c", _ENDPOINT_SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().decode().strip()
        host, port = url.removeprefix("http://").rsplit(":", 1)
        client = boto3.client(
            "lambda", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
        )
        package = io.BytesIO()
        with zipfile.ZipFile(package, "w") as archive:
            archive.writestr("app.py", HANDLER_SOURCE)
        client.create_function(
            FunctionName="bench",
            Runtime=runtime,
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": package.getvalue()},
        )
        client.get_waiter("function_active_v2").wait(FunctionName="bench")

        connection = http.client.HTTPConnection(host, int(port))
        path = "/2015-03-31/functions/bench/invocations"
        assert post(connection, path, PAYLOAD, SIGNED) == PAYLOAD
        raw = timed(lambda: post(connection, path, PAYLOAD, SIGNED), warm)
        via_boto3 = timed(
            lambda: client.invoke(FunctionName="bench", Payload=PAYLOAD)["Payload"].read(), max(100, warm // 4)
        )

        cold_samples = []
        for i in range(cold):
            client.update_function_configuration(FunctionName="bench", Description=f"cold {i}")
            client.get_waiter("function_updated_v2").wait(FunctionName="bench")
            started = time.perf_counter()
            post(connection, path, PAYLOAD, SIGNED)
            cold_samples.append(time.perf_counter() - started)
        return {
            "warm_gateway_raw_http": summary(raw),
            "warm_gateway_boto3": summary(via_boto3),
            "cold": summary(cold_samples),
        }
    finally:
        if server.stdin:
            server.stdin.close()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            stop_group(server)


# -- aws-lambda-rie -------------------------------------------------------------------------
def start_rie(rie: str, task_root: str, runtime: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        [
            rie,
            "--runtime-interface-emulator-address",
            f"127.0.0.1:{port}",
            "--runtime-api-address",
            f"127.0.0.1:{free_port()}",
            "--log-level",
            "error",
            # -S and PYTHONPATH as streamlab starts its environments, so both cold starts skip site.
            sys.executable,
            "-S",
            "-m",
            "awslambdaric",
            "app.handler",
        ],
        cwd=task_root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        # The same AWS_EXECUTION_ENV as streamlab's function: awslambdaric polls /next from a
        # helper thread on python3.12+, which costs the runtime a little per invoke.
        env={
            **os.environ,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_SESSION_TOKEN": "test",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
            "PYTHONPATH": f"{task_root}:{_site_packages()}",
        },
    )
    wait_for_port(port)
    return process, port


def _site_packages() -> str:
    import awslambdaric

    return str(Path(awslambdaric.__file__).parent.parent)


def bench_rie(rie: str, warm: int, cold: int, runtime: str) -> dict[str, Any]:
    path = "/2015-03-31/functions/function/invocations"
    headers = {"Content-Type": "application/json"}
    with tempfile.TemporaryDirectory(prefix="rie-bench-") as task_root:
        Path(task_root, "app.py").write_text(HANDLER_SOURCE)
        cold_samples = []
        for _ in range(cold):
            process, port = start_rie(rie, task_root, runtime)
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port)
                started = time.perf_counter()
                post(connection, path, PAYLOAD, headers)
                cold_samples.append(time.perf_counter() - started)
            finally:
                stop_group(process)
        process, port = start_rie(rie, task_root, runtime)
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port)
            assert json.loads(post(connection, path, PAYLOAD, headers)) == json.loads(PAYLOAD)
            warm_samples = timed(lambda: post(connection, path, PAYLOAD, headers), warm)
        finally:
            stop_group(process)
    return {"warm": summary(warm_samples), "cold": summary(cold_samples)}


# -- python-lambda-local --------------------------------------------------------------------
_LAMBDA_LOCAL_DRIVER = """
import json, logging, sys, time
logging.disable(logging.CRITICAL)
sys.path.insert(0, sys.argv[1])
from lambda_local.main import call
from lambda_local.context import Context
from app import handler
count = int(sys.argv[2])
event = {"hello": "world"}
for _ in range(10):
    call(handler, event, Context(3))
samples = []
for _ in range(count):
    started = time.perf_counter()
    result, error = call(handler, event, Context(3))
    samples.append(time.perf_counter() - started)
    assert result == event, result
print(json.dumps(samples))
"""


def bench_lambda_local(python: str, warm: int, cold: int) -> dict[str, Any]:
    command = str(Path(python).with_name("python-lambda-local"))
    with tempfile.TemporaryDirectory(prefix="lambda-local-bench-") as task_root:
        Path(task_root, "app.py").write_text(HANDLER_SOURCE)
        Path(task_root, "event.json").write_bytes(PAYLOAD)
        driver = subprocess.run(
            [python, "-c", _LAMBDA_LOCAL_DRIVER, task_root, str(warm)], capture_output=True, check=True, timeout=600
        )
        warm_samples = json.loads(driver.stdout.decode().strip().splitlines()[-1])
        cold_samples = []
        for _ in range(cold):
            started = time.perf_counter()
            subprocess.run(
                [command, "-f", "handler", "-t", "3", "app.py", "event.json"],
                cwd=task_root,
                capture_output=True,
                check=True,
            )
            cold_samples.append(time.perf_counter() - started)
    return {"warm": summary(warm_samples), "cold": summary(cold_samples)}


def default_rie() -> str | None:
    found = glob.glob("/tmp/streamlab-bench-venv/lib/python3*/site-packages/samcli/local/rapid/aws-lambda-rie-x86_64")
    return found[0] if found else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--warm", type=int, default=1000, help="warm invocations per tool (default 1000)")
    parser.add_argument("--cold", type=int, default=10, help="cold starts per tool (default 10)")
    parser.add_argument("--rie", default=default_rie(), help="path to the aws-lambda-rie binary")
    parser.add_argument(
        "--lambda-local-python",
        default="/tmp/streamlab-bench-venv/bin/python",
        help="python of a venv with python-lambda-local",
    )
    parser.add_argument(
        "--runtime",
        action="append",
        help="the function's runtime (default python3.12); repeat it to compare runtimes, each on the "
        "interpreter the endpoint finds for it, as ratios to the first",
    )
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)

    runtimes = args.runtime or ["python3.12"]
    load_before = os.getloadavg()[0]
    results: dict[str, Any] = {"streamlab": bench_streamlab(args.warm, args.cold, runtimes[0])}
    for other in runtimes[1:]:
        results[f"streamlab {other}"] = bench_streamlab(args.warm, args.cold, other)
    if args.rie and Path(args.rie).exists():
        results["aws-lambda-rie"] = bench_rie(args.rie, args.warm, args.cold, runtimes[0])
    else:
        print("aws-lambda-rie not found: skipped (see --rie)", file=sys.stderr)
    if (
        Path(args.lambda_local_python).exists()
        and Path(args.lambda_local_python).with_name("python-lambda-local").exists()
    ):
        results["python-lambda-local"] = bench_lambda_local(args.lambda_local_python, args.warm, args.cold)
    else:
        print("python-lambda-local not found: skipped (see --lambda-local-python)", file=sys.stderr)

    print(
        f"{os.cpu_count()} CPUs, load average {load_before:.2f} before and {os.getloadavg()[0]:.2f} "
        f"after the run; runtime {runtimes[0]}"
    )
    print(f"{'tool / measure':44} {'n':>5} {'p50 ms':>9} {'p90 ms':>9} {'p99 ms':>9} {'max ms':>9}")
    for tool, measures in results.items():
        for measure, figures in measures.items():
            print(
                f"{tool + ' / ' + measure:44} {figures['n']:>5} {figures['p50']:>9.3f} {figures['p90']:>9.3f} "
                f"{figures['p99']:>9.3f} {figures['max']:>9.3f}"
            )
    streamlab = results["streamlab"]
    for other in runtimes[1:]:
        figures = results[f"streamlab {other}"]
        warm_ratio = figures["warm_gateway_raw_http"]["p50"] / streamlab["warm_gateway_raw_http"]["p50"]
        cold_ratio = figures["cold"]["p50"] / streamlab["cold"]["p50"]
        print(f"{other} / {runtimes[0]}: warm p50 x{warm_ratio:.2f}, cold p50 x{cold_ratio:.2f}")
    warm_ok = streamlab["warm_gateway_raw_http"]["p50"] <= 2.0
    cold_ok = streamlab["cold"]["p50"] <= 300.0
    warm, cold = streamlab["warm_gateway_raw_http"], streamlab["cold"]
    print(f"targets: warm p50 <= 2 ms through the gateway: {'met' if warm_ok else 'MISSED'} ({warm['p50']} ms);")
    print(
        f"         cold start <= 300 ms: {'met' if cold_ok else 'MISSED'} (p50 {cold['p50']} ms, max {cold['max']} ms)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
