"""streamlab.conformance: finding the suite, the reporter's outcomes, the matrix and the JSON."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from streamlab.conformance import ConformanceReporter, Result, format_matrix, summary
from streamlab.conformance import runner as conformance

REPO = Path(__file__).resolve().parents[2]


def test_the_suite_ships_inside_the_package() -> None:
    assert conformance.SUITE == REPO / "src" / "streamlab" / "conformance" / "suite"
    assert (conformance.SUITE / "conftest.py").is_file()
    assert (conformance.SUITE / "pytest.ini").is_file()
    assert len(list(conformance.SUITE.glob("test_*.py"))) >= 8


def test_the_suite_runs_with_its_own_configuration_wherever_it_is_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A user's project may have pytest settings of its own; the suite must not pick them up."""
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --an-option-no-plugin-knows\n")
    monkeypatch.chdir(tmp_path)
    exit_code = conformance.run_conformance(None, None, "embedded", extra_args=["-k", "no_scenario_has_this_name"])
    assert exit_code == conformance.NOTHING_CHECKED, capsys.readouterr()


def test_aws_backend_refuses_an_endpoint_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert conformance.run_conformance("http://127.0.0.1:4566", None, "aws") == 2
    assert "drop --endpoint-url" in capsys.readouterr().err


def report(nodeid: str, when: str, outcome: str, duration: float = 1.0, **extra: object) -> SimpleNamespace:
    return SimpleNamespace(
        nodeid=nodeid,
        when=when,
        duration=duration,
        passed=outcome == "passed",
        failed=outcome == "failed",
        skipped=outcome == "skipped",
        **extra,
    )


def test_reporter_outcomes_and_durations() -> None:
    reporter = ConformanceReporter()
    reporter.behaviours = {"a": "A", "b": "B", "c": "C", "d": "D", "e": "E"}
    for when in ("setup", "call", "teardown"):
        reporter.pytest_runtest_logreport(report("a", when, "passed"))
    reporter.pytest_runtest_logreport(report("b", "setup", "passed"))
    reporter.pytest_runtest_logreport(report("b", "call", "failed"))
    reporter.pytest_runtest_logreport(report("c", "setup", "skipped", longrepr=("x.py", 3, "Skipped: needs Docker")))
    reporter.pytest_runtest_logreport(report("d", "setup", "failed"))
    reporter.pytest_runtest_logreport(report("e", "call", "skipped", wasxfail="engine bug"))
    outcomes = {r.test: (r.outcome, r.duration) for r in reporter.results.values()}
    assert outcomes == {
        "a": ("passed", 3.0),
        "b": ("failed", 2.0),
        "c": ("skipped", 1.0),
        "d": ("error", 1.0),
        "e": ("xfailed", 1.0),
    }
    assert summary(list(reporter.results.values())) == {"passed": 2, "failed": 2, "skipped": 1}
    assert reporter.skip_reasons == {"c": "needs Docker"}


def test_matrix_has_one_line_per_behaviour() -> None:
    results = [Result("t1", "Ordering per item", "passed", 1.234), Result("t2", "x" * 300, "failed", 0.5)]
    matrix = format_matrix(results, "embedded", None).splitlines()
    assert matrix[0] == "DynamoDB Streams -> Lambda conformance on embedded"
    assert "Ordering per item" in matrix[3]
    assert "| PASS   |    1.23" in matrix[3]
    assert "| FAIL   |" in matrix[4]
    assert len(matrix[4]) == len(matrix[3])
    assert matrix[-1] == "1 passed, 1 failed, 0 skipped"


def test_run_environment_is_restored_afterwards(monkeypatch: pytest.MonkeyPatch) -> None:
    """run_conformance runs pytest in this process: its variables must not outlive the run."""
    monkeypatch.setenv("STREAMLAB_TEST_SET", "before")
    monkeypatch.setenv("STREAMLAB_TEST_REMOVED", "before")
    monkeypatch.delenv("STREAMLAB_TEST_ADDED", raising=False)
    with conformance._environment(
        STREAMLAB_TEST_SET="during", STREAMLAB_TEST_REMOVED=None, STREAMLAB_TEST_ADDED="during"
    ):
        assert os.environ["STREAMLAB_TEST_SET"] == "during"
        assert "STREAMLAB_TEST_REMOVED" not in os.environ
        assert os.environ["STREAMLAB_TEST_ADDED"] == "during"
    assert os.environ["STREAMLAB_TEST_SET"] == "before"
    assert os.environ["STREAMLAB_TEST_REMOVED"] == "before"
    assert "STREAMLAB_TEST_ADDED" not in os.environ
