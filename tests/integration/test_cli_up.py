"""`streamlab up`: Ready line, health, clean shutdown, clear errors."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from streamlab.cli import _is_loopback

REPO = Path(__file__).resolve().parents[2]


def start_up(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "streamlab.cli", "up", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def wait_for_ready(process: subprocess.Popen[str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Ready" in line:
            return line
    process.kill()
    raise AssertionError(f"no Ready line; stdout={''.join(lines)!r} stderr={process.stderr.read()!r}")


def endpoint_in(line: str) -> str:
    return next(word for word in line.split() if word.startswith("http://")).rstrip(",;)")


def test_up_serves_health_and_stops_cleanly_on_sigterm() -> None:
    process = start_up("--no-deploy", "--port", "0")
    ready = wait_for_ready(process)
    url = endpoint_in(ready)
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(f"{url}/_streamlab/health", timeout=5) as response:
        assert response.status == 200
        assert json.loads(response.read())["status"] == "ready"
    tree = psutil.Process(process.pid)
    family = [tree, *tree.children(recursive=True)]

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    _gone, alive = psutil.wait_procs(family, timeout=5)
    assert not alive, f"left behind: {alive}"
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/_streamlab/health", timeout=2)


def test_up_stops_on_sigint() -> None:
    process = start_up("--no-deploy", "--port", "0")
    wait_for_ready(process)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=15) == 0


def test_port_in_use_is_a_one_line_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        process = start_up("--no-deploy", "--port", str(port))
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert f"port {port}" in lines[0]
    assert "in use" in lines[0]


def test_missing_stack_file_is_a_clear_error(tmp_path: Path) -> None:
    process = start_up("--port", "0", "--stack", str(tmp_path / "nope.toml"))
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "no stack file" in stderr
    assert "nope.toml" in stderr


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
    ],
)
def test_only_loopback_counts_as_private(host: str, loopback: bool) -> None:
    assert _is_loopback(host) is loopback
