"""streamlab as users install it: a wheel, in a virtualenv of its own, outside this checkout."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(REPO)],
        check=True,
        timeout=300,
    )
    [built] = out.glob("streamlab-*.whl")
    return built


def test_the_wheel_carries_the_conformance_suite_and_the_type_marker(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    names = set(archive.namelist())
    assert "streamlab/py.typed" in names
    for part in ("__init__.py", "conftest.py", "harness.py", "pytest.ini", "test_delivery.py"):
        assert f"streamlab/conformance/suite/{part}" in names
    # The probe handler and the Locust file travel with it, as files (not the repository's symlinks).
    probe = archive.read("streamlab/measure/assets/probe.py").decode()
    assert probe == (REPO / "handlers" / "probe.py").read_text()
    locustfile = archive.read("streamlab/measure/assets/locustfile.py").decode()
    assert locustfile == (REPO / "loadtests" / "locustfile.py").read_text()
    [metadata] = [name for name in names if name.endswith(".dist-info/METADATA")]
    requires = [
        line.split(":", 1)[1].strip()
        for line in archive.read(metadata).decode().splitlines()
        if line.startswith("Requires-Dist:")
    ]
    unconditional = {re.split(r"[=<>\[ ]", r)[0] for r in requires if ";" not in r}
    assert {"boto3", "moto", "pytest"} <= unconditional, "`streamlab conformance` needs pytest without an extra"


def test_an_installed_streamlab_runs_the_conformance_suite_outside_the_checkout(
    wheel: Path, tmp_path: Path, streamlab_endpoint_url: str
) -> None:
    """`pip install` then `streamlab conformance --endpoint-url URL` from an empty directory."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
        check=True,
        timeout=300,
    )
    # The dependencies come from this virtualenv (a .pth line adds its site-packages after the new one's),
    # so the test needs no index; streamlab itself is the wheel's copy.
    site = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], text=True
        ).strip()
    )
    (site / "zz_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    work = tmp_path / "elsewhere"
    work.mkdir()
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "STREAMLAB_"))}
    result = subprocess.run(
        [
            str(venv / "bin" / "streamlab"),
            "conformance",
            "--endpoint-url",
            streamlab_endpoint_url,
            "-k",
            "invalid_parameters",
        ],
        cwd=work,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "DynamoDB Streams -> Lambda conformance on embedded" in result.stdout
    assert "| PASS   |" in result.stdout
    assert "0 failed" in result.stdout
    located = subprocess.check_output(
        [str(python), "-c", "import streamlab.conformance as c; print(c.SUITE)"], cwd=work, text=True
    )
    assert located.strip().startswith(str(venv)), located
