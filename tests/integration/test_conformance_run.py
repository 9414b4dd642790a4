"""``run_conformance`` end to end: a real run of two scenarios against its own embedded endpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_run_conformance_end_to_end(tmp_path: Path) -> None:
    """A real run of two scenarios on the embedded backend, in a child process (its own endpoint)."""
    out = tmp_path / "conformance.json"
    code = (
        "import sys; from streamlab.conformance import run_conformance; "
        f"sys.exit(run_conformance(None, {str(out)!r}, 'embedded', extra_args=['-k', 'trim_horizon "
        "or changes_nothing']))"
    )
    finished = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert "| PASS   |" in finished.stdout
    document = json.loads(out.read_text())
    assert document["backend"] == "embedded"
    assert document["endpoint_url"] is None
    assert document["passed"] >= 2
    assert document["failed"] == 0
    assert {"test", "behaviour", "outcome", "duration"} <= set(document["results"][0])


def test_a_run_that_checks_nothing_says_why_and_fails(tmp_path: Path) -> None:
    """The container backend with no Docker engine: every scenario skips, and the run is not a pass."""
    code = (
        "import sys; from streamlab.conformance import run_conformance; "
        "sys.exit(run_conformance(None, None, 'container', extra_args=['-k', 'trim_horizon']))"
    )
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}
    env.pop("AWS_ENDPOINT_URL", None)
    finished = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env
    )
    assert finished.returncode == 5, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert "| SKIP   |" in finished.stdout
    assert "| PASS   |" not in finished.stdout
    assert "nothing was checked on container: STREAMLAB_BACKEND=container needs Docker" in finished.stderr
