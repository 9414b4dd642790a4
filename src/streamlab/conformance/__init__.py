"""The conformance suite and ``streamlab conformance``, its runner.

:func:`run_conformance` runs the scenarios in :data:`SUITE` (``streamlab/conformance/suite``,
shipped with the package) against a backend and prints a pass/fail matrix; the rest is what the
matrix and the JSON report are made of.
"""

from streamlab.conformance.runner import (
    NOTHING_CHECKED,
    SUITE,
    ConformanceReporter,
    Result,
    behaviour_of,
    format_matrix,
    run_conformance,
    summary,
)

__all__ = [
    "NOTHING_CHECKED",
    "SUITE",
    "ConformanceReporter",
    "Result",
    "behaviour_of",
    "format_matrix",
    "run_conformance",
    "summary",
]
