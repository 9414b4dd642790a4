"""Temporary directories an endpoint owns, and the cleanup of those whose endpoint died.

An endpoint removes its directories when it stops; one that was killed (``kill -9``, a crashed
CI job) cannot. Each directory therefore records its owner (pid and process start time, so a
reused pid is not mistaken for the owner), and creating a new one removes every directory of the
same prefix whose owner is gone.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

OWNER_FILE = ".streamlab-owner"


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), or "" where /proc has none."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return ""
    return fields[19] if len(fields) > 19 else ""


def _owner_alive(directory: Path) -> bool:
    try:
        pid_text, _, started = (directory / OWNER_FILE).read_text().strip().partition(" ")
        pid = int(pid_text)
    except (OSError, ValueError):
        return True  # no owner recorded (being created, or not ours to judge): leave it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return not started or _start_time(pid) in ("", started)


def remove_stale(prefix: str, parent: Path | None = None) -> list[Path]:
    """Remove the ``prefix*`` directories in ``parent`` (the temp dir) whose owner is dead."""
    root = parent or Path(tempfile.gettempdir())
    removed = []
    for directory in root.glob(f"{prefix}*"):
        if directory.is_dir() and not directory.is_symlink() and not _owner_alive(directory):
            shutil.rmtree(directory, ignore_errors=True)
            removed.append(directory)
    if removed:
        log.info("removed %d temporary directories left by endpoints that died", len(removed))
    return removed


def make_owned(prefix: str, parent: Path | None = None) -> Path:
    """A new temporary directory owned by this process; stale ones of the same prefix go first."""
    remove_stale(prefix, parent)
    directory = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    (directory / OWNER_FILE).write_text(f"{os.getpid()} {_start_time(os.getpid())}\n")
    return directory
