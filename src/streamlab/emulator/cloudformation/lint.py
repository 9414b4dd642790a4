"""Template errors found by AWS's linter, cfn-lint, before anything is created.

Only errors stop a deployment (warnings and notes are the template author's business), and
an unknown resource type gets CloudFormation's own wording.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from streamlab.emulator.cloudformation.exceptions import TemplateError

_LOCK = threading.Lock()

#: E3006: the resource type does not exist (answered as "Unrecognized resource types").
UNKNOWN_TYPE_RULE = "E3006"
#: Checked by the service itself, in CloudFormation's own wording (a dependency cycle).
OWN_RULES = frozenset({"E3004"})
#: How many findings one error message lists.
MAX_FINDINGS = 5


@dataclass(frozen=True)
class Finding:
    rule: str
    path: str
    message: str


def findings(template_text: str, region: str) -> list[Finding]:
    from cfnlint.api import ManualArgs, lint

    with _LOCK, _environment_kept("AWS_DEFAULT_REGION"):
        # cfn-lint sets AWS_DEFAULT_REGION for the whole process when it transforms a SAM template.
        matches = lint(template_text, config=ManualArgs(regions=[region]))
    return [
        Finding(match.rule.id, "/".join(str(part) for part in match.path), match.message)
        for match in matches
        if match.rule.severity == "error" and match.rule.id not in OWN_RULES
    ]


@contextmanager
def _environment_kept(name: str) -> Iterator[None]:
    before = os.environ.get(name)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def check(template_text: str, region: str) -> None:
    """Raise TemplateError naming what cfn-lint reports as errors."""
    found = findings(template_text, region)
    types = [f.message.split("'")[1] for f in found if f.rule == UNKNOWN_TYPE_RULE and "'" in f.message]
    if types:
        raise TemplateError(f"Template format error: Unrecognized resource types: [{', '.join(sorted(set(types)))}]")
    if found:
        shown = "; ".join(f"[cfn-lint {f.rule}] {f.path}: {f.message}" for f in found[:MAX_FINDINGS])
        more = f" (and {len(found) - MAX_FINDINGS} more)" if len(found) > MAX_FINDINGS else ""
        raise TemplateError(f"Template error: {shown}{more}")
