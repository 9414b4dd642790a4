"""`streamlab up` in its own process, as users run it: what the benchmarks measure against."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence


@contextlib.contextmanager
def running_up(extra_args: Sequence[str] = ()) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start ``streamlab up --no-deploy --port 0 [extra_args]``; yield (process, endpoint URL); stop it."""
    command = [sys.executable, "-m", "streamlab.cli", "up", "--no-deploy", "--port", "0", *extra_args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = process.stdout.readline() if process.stdout is not None else ""
        if "Ready" not in line:
            raise RuntimeError(f"{' '.join(command[2:])} did not start: {line!r}")
        yield process, next(word for word in line.split() if word.startswith("http://"))
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
