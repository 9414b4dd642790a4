"""``streamlab conformance``: run the conformance suite and print a pass/fail matrix.

The suite ships inside the package (``streamlab/conformance/suite/``: public AWS API only, so it
runs unchanged on the embedded endpoint, LocalStack and AWS), so an installed streamlab runs it
from anywhere. This module runs it with ``pytest.main`` and a small reporting plugin, prints one
line per documented behaviour
(behaviour | result | seconds) and optionally writes the same as JSON:

    {"backend", "endpoint_url", "results": [{"test", "behaviour", "outcome", "duration"}],
     "passed", "failed", "skipped"}

With no endpoint URL and the embedded backend, the pytest plugin starts its own endpoint.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from streamlab.backends.base import BACKEND_NAMES as BACKENDS

#: The suite's directory, and the pytest configuration it runs with wherever it is installed.
SUITE = Path(__file__).resolve().parent / "suite"
SUITE_CONFIG = SUITE / "pytest.ini"
#: Exit code when every scenario was skipped (pytest's own code for "no tests ran").
NOTHING_CHECKED = 5
BEHAVIOUR_WIDTH = 100


@dataclass
class Result:
    test: str
    behaviour: str
    outcome: str  # passed | failed | skipped | error | xfailed | xpassed
    duration: float


def behaviour_of(item: Any) -> str:
    """The first paragraph of the test's docstring (the documented behaviour), plus its parameters."""
    doc = getattr(getattr(item, "obj", None), "__doc__", None) or item.name
    first = " ".join(doc.strip().split("\n\n")[0].split())
    callspec = getattr(item, "callspec", None)
    return f"[{callspec.id}] {first}" if callspec is not None else first


class ConformanceReporter:
    """pytest plugin: one :class:`Result` per test, in run order."""

    def __init__(self) -> None:
        self.behaviours: dict[str, str] = {}
        self.results: dict[str, Result] = {}
        self.skip_reasons: dict[str, str] = {}

    def pytest_collection_modifyitems(self, items: list[Any]) -> None:
        for item in items:
            self.behaviours[item.nodeid] = behaviour_of(item)

    def pytest_runtest_logreport(self, report: Any) -> None:
        result = self.results.setdefault(
            report.nodeid, Result(report.nodeid, self.behaviours.get(report.nodeid, report.nodeid), "passed", 0.0)
        )
        result.duration += report.duration
        if hasattr(report, "wasxfail"):
            result.outcome = "xfailed" if report.skipped else "xpassed"
        elif report.skipped:
            result.outcome = "skipped"
            longrepr = getattr(report, "longrepr", None)  # (path, line, "Skipped: <reason>") for a skip
            if isinstance(longrepr, tuple) and len(longrepr) == 3:
                self.skip_reasons[report.nodeid] = str(longrepr[2]).removeprefix("Skipped: ")
        elif report.failed:
            result.outcome = (
                "failed" if report.when == "call" else ("error" if result.outcome == "passed" else result.outcome)
            )


def format_matrix(results: list[Result], backend: str, endpoint_url: str | None) -> str:
    marks = {
        "passed": "PASS",
        "failed": "FAIL",
        "error": "ERROR",
        "skipped": "SKIP",
        "xfailed": "XFAIL",
        "xpassed": "XPASS",
    }
    lines = [
        f"DynamoDB Streams -> Lambda conformance on {backend}" + (f" ({endpoint_url})" if endpoint_url else ""),
        f"{'behaviour':<{BEHAVIOUR_WIDTH}} | {'result':<6} | seconds",
        f"{'-' * BEHAVIOUR_WIDTH}-+--------+--------",
    ]
    for result in results:
        text = (
            result.behaviour
            if len(result.behaviour) <= BEHAVIOUR_WIDTH
            else result.behaviour[: BEHAVIOUR_WIDTH - 1] + "…"
        )
        lines.append(
            f"{text:<{BEHAVIOUR_WIDTH}} | {marks.get(result.outcome, result.outcome):<6} | {result.duration:7.2f}"
        )
    counts = summary(results)
    lines.append(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
    return "\n".join(lines)


def summary(results: list[Result]) -> dict[str, int]:
    return {
        "passed": sum(r.outcome in ("passed", "xfailed") for r in results),
        "failed": sum(r.outcome in ("failed", "error", "xpassed") for r in results),
        "skipped": sum(r.outcome == "skipped" for r in results),
    }


@contextmanager
def _environment(**values: str | None) -> Iterator[None]:
    """Set (or, for None, remove) environment variables for the run, then restore them."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        _set_environment(values)
        yield
    finally:
        _set_environment(saved)


def _set_environment(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def run_conformance(
    endpoint_url: str | None,
    json_path: str | None,
    backend: str | None,
    *,
    extra_args: list[str] | None = None,
    out: TextIO | None = None,
) -> int:
    """Run the conformance suite against a backend; print the matrix; return pytest's exit code.

    ``backend`` defaults to ``STREAMLAB_BACKEND`` or ``embedded``. Without ``endpoint_url`` the
    pytest plugin starts the backend (the embedded endpoint in-process; the container backend and
    LocalStack through Testcontainers); with one, the suite uses that endpoint and ``backend``
    only sets the timing. ``aws`` uses boto3's own credentials and endpoints (no URL).
    """
    import pytest

    out = out or sys.stdout
    chosen = (backend or os.environ.get("STREAMLAB_BACKEND") or "embedded").lower()
    if chosen not in BACKENDS:
        print(
            f"streamlab conformance: unknown backend {chosen!r}; expected one of {', '.join(BACKENDS)}", file=sys.stderr
        )
        return 2
    if chosen == "aws" and endpoint_url:
        print("streamlab conformance: the aws backend uses AWS's own endpoints; drop --endpoint-url", file=sys.stderr)
        return 2
    reporter = ConformanceReporter()
    args = [
        str(SUITE),
        "-q",
        "-p",
        "no:cacheprovider",
        # The suite's own configuration, whatever the current directory's pytest settings are.
        "-c",
        str(SUITE_CONFIG),
        "--rootdir",
        str(SUITE),
        # streamlab (this module) is imported before pytest starts: nothing to rewrite in it anyway.
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
        *(extra_args or []),
    ]
    if endpoint_url:
        args += ["--streamlab-endpoint-url", endpoint_url]
    started = time.monotonic()
    # AWS_ENDPOINT_URL would aim the AWS backend's boto3 at something else; drop it there.
    with _environment(STREAMLAB_BACKEND=chosen, **({"AWS_ENDPOINT_URL": None} if chosen == "aws" else {})):
        exit_code = int(pytest.main(args, plugins=[reporter]))
    elapsed = time.monotonic() - started

    results = list(reporter.results.values())
    print(file=out)
    print(format_matrix(results, chosen, endpoint_url), file=out)
    print(f"({elapsed:.1f} s)", file=out)
    if results and all(r.outcome == "skipped" for r in results):
        # A matrix of nothing but SKIP checked nothing: say why, and do not exit 0.
        reason = next(iter(reporter.skip_reasons.values()), "every scenario was skipped")
        print(f"streamlab conformance: nothing was checked on {chosen}: {reason}", file=sys.stderr)
        exit_code = NOTHING_CHECKED
    if json_path:
        document: dict[str, Any] = {
            "backend": chosen,
            "endpoint_url": endpoint_url,
            "results": [{**asdict(r), "duration": round(r.duration, 3)} for r in results],
            **summary(results),
            "seconds": round(elapsed, 2),
            "exit_code": exit_code,
        }
        Path(json_path).write_text(json.dumps(document, indent=2) + "\n")
    return exit_code
