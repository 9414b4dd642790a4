"""Hot reload for ``streamlab up --watch``: a function's code swapped when its local files change.

LocalStack's hot reload (a function whose code is a mounted directory) is the anchor: edit a
handler, invoke again, the new code answers, no redeploy. Here each code directory a deployed
function's ``CodeUri`` names is polled (file names, sizes and modification times; no inotify
dependency, works on every file system); on a change the directory is rebuilt as the deploy
built it and swapped in with UpdateFunctionCode, the public API, so warm environments are
recycled as Lambda does on an update and the next invocation runs the new code.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamlab.packaging import Platform, build_directory_zip

if TYPE_CHECKING:
    from streamlab.templates.deployment import Deployment

POLL_SECONDS = 0.5
_SKIPPED_DIRS = {"__pycache__", ".streamlab", ".pytest_cache", ".mypy_cache", ".aws-sam", "node_modules"}

#: (relative path, size, mtime in ns) of every file in a directory
Snapshot = frozenset[tuple[str, int, int]]


def snapshot(root: Path) -> Snapshot:
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _SKIPPED_DIRS and not d.startswith(".")]
        for name in filenames:
            if name.startswith(".") or name.endswith((".pyc", ".pyo")):
                continue
            path = Path(dirpath) / name
            try:
                stat = path.stat()
            except OSError:  # removed between listing and stat: the next poll sees it gone
                continue
            entries.append((path.relative_to(root).as_posix(), stat.st_size, stat.st_mtime_ns))
    return frozenset(entries)


def changed_files(before: Snapshot, after: Snapshot) -> list[str]:
    return sorted({entry[0] for entry in before ^ after})


@dataclass(frozen=True)
class WatchedFunction:
    logical_id: str
    function_name: str
    platform: Platform


class HotReloader:
    """Polls code directories; ``check()`` once, ``run(stop)`` until ``stop`` is set."""

    def __init__(
        self,
        functions: dict[Path, list[WatchedFunction]],
        lambda_client: Any,
        cache_dir: Path,
        log: Callable[[str], None] = print,
        interval: float = POLL_SECONDS,
    ) -> None:
        self.functions = functions
        self.lambda_client = lambda_client
        self.cache_dir = cache_dir
        self.log = log
        self.interval = interval
        self._snapshots = {root: snapshot(root) for root in functions}

    @classmethod
    def for_deployment(
        cls, deployment: Deployment, lambda_client: Any, log: Callable[[str], None] = print
    ) -> HotReloader:
        functions: dict[Path, list[WatchedFunction]] = {}
        for code in deployment.packaged.code:
            if not code.resource_type.endswith("::Function") or not code.path.is_dir():
                continue
            physical = deployment.stack.resources.get(code.logical_id)
            if not physical:
                continue
            platform = deployment.packaged.platforms[code.logical_id]
            functions.setdefault(code.path, []).append(WatchedFunction(code.logical_id, physical, platform))
        return cls(functions, lambda_client, deployment.template_path.parent / ".streamlab", log)

    @property
    def watched(self) -> list[Path]:
        return sorted(self.functions)

    def check(self) -> list[str]:
        """Reload every function whose directory changed since the last check; their names."""
        reloaded = []
        for root, functions in self.functions.items():
            now = snapshot(root)
            files = changed_files(self._snapshots[root], now)
            if not files:
                continue
            self._snapshots[root] = now
            for function in functions:
                if self._reload(root, function, files):
                    reloaded.append(function.function_name)
        return reloaded

    def _reload(self, root: Path, function: WatchedFunction, files: list[str]) -> bool:
        shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
        try:
            built = build_directory_zip(root, function.platform, self.cache_dir)
            self.lambda_client.update_function_code(FunctionName=function.function_name, ZipFile=built.read_bytes())
            self.lambda_client.get_waiter("function_updated_v2").wait(
                FunctionName=function.function_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
        except Exception as error:  # a broken edit must not end `up`: say so, keep watching
            self.log(f"hot reload of {function.logical_id} failed: {type(error).__name__}: {error}")
            return False
        self.log(f"reloaded {function.logical_id} ({function.function_name}): {shown}")
        return True

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            self.check()
