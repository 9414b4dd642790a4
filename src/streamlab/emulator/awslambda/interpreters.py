"""Which Python interpreter runs the functions of each runtime.

A ``python3.12`` function should run on Python 3.12, not on whatever streamlab itself runs on.
For each runtime :class:`InterpreterDirectory` looks, in this order, for an interpreter of that
minor version:

1. the one the user named for the runtime (``--python python3.12=/path``, or
   ``STREAMLAB_LAMBDA_PYTHONS="python3.12=/path,..."``);
2. the endpoint's own interpreter, when its version is the runtime's;
3. ``python3.12`` on ``PATH`` (pyenv shims that are not active fail the probe and are skipped);
4. pyenv's installed versions (``$PYENV_ROOT/versions/3.12.*``);
5. uv's managed Pythons (``uv python find --managed-python``, never downloading).

Every candidate is run once (``-c "print version"``) so a stale shim or a broken path is never
believed, must satisfy the ``Requires-Python`` of the runtime's packages (awslambdaric,
boto3...), and gets the compiled ones built for it (see ``runtime_packages.py``). When none is
found the function still runs, on the endpoint's interpreter, and
:class:`RuntimeInterpreter` carries the plain sentence that says so: CreateFunction reports it
(``RuntimeVersionConfig.Error``) and every ``INIT_START`` line repeats it.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from streamlab.aws_rules import PYTHON_RUNTIMES, runtime_python_version
from streamlab.errors import StreamlabError

log = logging.getLogger(__name__)

#: Environment variable naming interpreters: ``python3.12=/opt/py312/bin/python3,python3.13=...``.
INTERPRETERS_ENV = "STREAMLAB_LAMBDA_PYTHONS"
#: Where interpreters are looked for beyond the named ones and the endpoint's own, in order.
SEARCH_SOURCES = ("PATH", "pyenv", "uv")
PROBE_TIMEOUT_S = 15.0
_PROBE = "import platform, sys; print(platform.python_version(), sys.implementation.name, sys.executable)"
_VERSION_DIR = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


class InterpreterConfigError(StreamlabError, ValueError):
    """A ``runtime=path`` setting that cannot be understood."""


def parse_named_interpreters(text: str | Sequence[str] | None) -> dict[str, str]:
    """``"python3.12=/p/python3.12,python3.13=/q"`` (or a list of ``runtime=path``) -> mapping."""
    if not text:
        return {}
    items = text.split(",") if isinstance(text, str) else list(text)
    named: dict[str, str] = {}
    for item in (i.strip() for i in items):
        if not item:
            continue
        runtime, sep, path = item.partition("=")
        runtime, path = runtime.strip(), path.strip()
        if not sep or not path:
            raise InterpreterConfigError(f"expected RUNTIME=PATH (e.g. python3.12=/usr/bin/python3.12), got {item!r}")
        if runtime not in PYTHON_RUNTIMES:
            raise InterpreterConfigError(
                f"unknown runtime {runtime!r} in {item!r}; expected one of {', '.join(PYTHON_RUNTIMES)}"
            )
        named[runtime] = path
    return named


@dataclass(frozen=True)
class Interpreter:
    """A Python interpreter that answered the probe."""

    path: str
    version: str  # "3.12.1"
    implementation: str = "cpython"
    source: str = "endpoint"  # named / endpoint / PATH / pyenv / uv

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


@dataclass(frozen=True)
class RuntimeInterpreter:
    """What the functions of one runtime run on, and, when it is not that runtime's Python, why."""

    runtime: str
    interpreter: Interpreter
    problem: str | None = None
    #: Compiled runtime packages built for this interpreter, before the runtime directory on sys.path.
    overlay: Path | None = None

    @property
    def matches(self) -> bool:
        return self.problem is None

    @property
    def runtime_version(self) -> str:
        """``python:3.12.1.streamlab``: INIT_START's Runtime Version, naming the interpreter that ran."""
        return f"python:{self.interpreter.version}.streamlab"

    def runtime_version_arn(self, region: str) -> str:
        return f"arn:aws:lambda:{region}::runtime:streamlab-python-{self.interpreter.version}"

    def describe(self) -> dict[str, object]:
        """For the endpoint's health answer: deploys build dependencies for this interpreter."""
        return {
            "python": self.interpreter.version,
            "interpreter": self.interpreter.path,
            "source": self.interpreter.source,
            "matches": self.matches,
            **({"problem": self.problem} if self.problem else {}),
        }


@dataclass(frozen=True)
class InterpreterSearch:
    """Where to look. ``named`` maps a runtime to a path (tried first); ``sources`` are tried in
    order: ``endpoint`` (streamlab's own interpreter) and any of SEARCH_SOURCES."""

    named: Mapping[str, str] = field(default_factory=dict)
    sources: tuple[str, ...] = ("endpoint", *SEARCH_SOURCES)
    path: str | None = None  # the PATH searched; None: this process's
    pyenv_root: Path | None = None  # None: $PYENV_ROOT, else ~/.pyenv
    uv_binary: str | None = None  # None: the uv installed with streamlab, if any


Probe = Callable[[str], Interpreter | None]
#: Readies an interpreter to run the runtime's packages: an overlay directory (or None), or raises.
Prepare = Callable[[Interpreter], Path | None]


def probe(path: str) -> Interpreter | None:
    """Run ``path`` once; its version, or None when it does not run as a Python."""
    try:
        done = subprocess.run(
            [path, "-S", "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    parts = done.stdout.strip().split(" ", 2)
    if done.returncode != 0 or len(parts) != 3:
        return None
    version, implementation, executable = parts
    return Interpreter(path=executable or path, version=version, implementation=implementation)


class InterpreterDirectory:
    """Finds (once per runtime, then remembers) the interpreter each runtime's functions run on."""

    def __init__(
        self,
        search: InterpreterSearch,
        endpoint: Interpreter | None = None,
        requires_python: Callable[[str], str | None] | None = None,
        prepare: Prepare | None = None,
        probe: Probe = probe,
    ) -> None:
        self.search = search
        self.endpoint = endpoint or Interpreter(sys.executable, _this_version(), sys.implementation.name, "endpoint")
        #: version -> why the runtime's packages cannot run on it (None: they can).
        self._requires_python = requires_python or (lambda version: None)
        self._prepare = prepare or (lambda interpreter: None)
        self._probe = probe
        self._lock = threading.Lock()
        self._resolving = threading.Lock()  # readying (may install for minutes): CreateFunction's
        self._previewing = threading.Lock()  # searching only: the health answer's
        self._found: dict[str, RuntimeInterpreter] = {}
        self._previewed: dict[str, RuntimeInterpreter] = {}

    def for_runtime(self, runtime: str) -> RuntimeInterpreter:
        """The interpreter, readied (compiled runtime packages built for it); searched once."""
        with self._lock:
            known = self._found.get(runtime)
        if known is not None:
            return known
        with self._resolving:  # one search (and one install) at a time
            with self._lock:
                known = self._found.get(runtime)
            if known is not None:
                return known
            resolved = self._resolve(runtime, ready=True)
            with self._lock:
                self._found[runtime] = resolved
        if resolved.problem:
            log.warning("%s functions: %s", runtime, resolved.problem)
        return resolved

    def describe(self, runtimes: Sequence[str] = PYTHON_RUNTIMES) -> dict[str, dict[str, object]]:
        """What each runtime runs on, for the health answer: a search without installing anything
        (a runtime CreateFunction already readied reports what it really got)."""
        answer = {}
        for runtime in runtimes:
            known = self._known(runtime)
            if known is None:
                # One search at a time: a health answer during the endpoint's start-up search
                # waits for it rather than running every candidate Python a second time.
                with self._previewing:
                    known = self._known(runtime)
                    if known is None:
                        known = self._resolve(runtime, ready=False)
                        with self._lock:
                            self._previewed[runtime] = known
            answer[runtime] = known.describe()
        return answer

    def _known(self, runtime: str) -> RuntimeInterpreter | None:
        with self._lock:
            return self._found.get(runtime) or self._previewed.get(runtime)

    # -- search -----------------------------------------------------------------------------
    def _resolve(self, runtime: str, ready: bool) -> RuntimeInterpreter:
        wanted = runtime_python_version(runtime)
        rejected: list[str] = []
        for source, candidate in self._all_candidates(runtime, wanted):
            interpreter = self.endpoint if source == "endpoint" else self._probe(candidate)
            reason = self._unsuitable(interpreter, wanted)
            if interpreter is not None and reason is None:
                interpreter = _with_source(interpreter, source)
                try:
                    overlay = self._prepare(interpreter) if ready else None
                except RuntimeError as error:
                    reason = str(error)
                else:
                    return RuntimeInterpreter(runtime, interpreter, overlay=overlay)
            shown = f"the interpreter named for {runtime} ({candidate})" if source == "named" else candidate
            rejected.append(f"{shown}: {reason}")
        searched = ", ".join(s for s in self.search.sources if s != "endpoint") or "nothing (search disabled)"
        problem = (
            f"no Python {wanted} interpreter found for {runtime} (searched {searched}"
            + (f"; {'; '.join(rejected)}" if rejected else "")
            + f"); its functions run on Python {self.endpoint.version} ({self.endpoint.path}) instead. "
            f"Install Python {wanted} (e.g. pyenv install {wanted}) or name one: "
            f"{INTERPRETERS_ENV}={runtime}=/path/to/python{wanted}"
        )
        return RuntimeInterpreter(runtime, self.endpoint, problem)

    def _unsuitable(self, interpreter: Interpreter | None, wanted: str) -> str | None:
        if interpreter is None:
            return "does not run"
        if interpreter.minor != wanted:
            return f"is Python {interpreter.version}, not {wanted}"
        return self._requires_python(interpreter.version)

    def _all_candidates(self, runtime: str, wanted: str) -> Iterator[tuple[str, str]]:
        """(source, path) in search order, each source asked only when the ones before it gave
        nothing suitable: ``uv python find`` is a subprocess, not worth running once one is found."""
        named = self.search.named.get(runtime)
        if named is not None:
            yield "named", named
        for source in self.search.sources:
            for candidate in self._candidates(source, wanted):
                yield source, candidate

    def _candidates(self, source: str, wanted: str) -> list[str]:
        if source == "endpoint":
            return [self.endpoint.path] if self.endpoint.minor == wanted else []
        if source == "PATH":
            return _path_candidates(self.search.path, f"python{wanted}")
        if source == "pyenv":
            return _pyenv_candidates(self.search.pyenv_root, wanted)
        if source == "uv":
            return _uv_candidates(self.search.uv_binary, wanted)
        raise InterpreterConfigError(f"unknown interpreter source {source!r}; expected endpoint or {SEARCH_SOURCES}")


def _this_version() -> str:
    return ".".join(str(part) for part in sys.version_info[:3])


def _with_source(interpreter: Interpreter, source: str) -> Interpreter:
    return Interpreter(interpreter.path, interpreter.version, interpreter.implementation, source)


def _path_candidates(path: str | None, name: str) -> list[str]:
    """Every ``name`` on ``path``, in order (``which -a``): a stale shim first must not hide a real one."""
    directories = (path if path is not None else os.environ.get("PATH", "")).split(os.pathsep)
    found = (shutil.which(name, path=directory) for directory in directories if directory)
    return list(dict.fromkeys(candidate for candidate in found if candidate))


def _pyenv_candidates(root: Path | None, wanted: str) -> list[str]:
    """Newest patch release first: ``versions/3.12.4/bin/python3.12`` before ``3.12.1``."""
    root = root or Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    versions = root / "versions"
    if not versions.is_dir():
        return []
    matches: list[tuple[int, Path]] = []
    for entry in versions.iterdir():
        parsed = _VERSION_DIR.match(entry.name)
        if parsed and f"{parsed[1]}.{parsed[2]}" == wanted:
            binary = entry / "bin" / f"python{wanted}"
            if binary.exists():
                matches.append((int(parsed[3]), binary))
    return [str(binary) for _, binary in sorted(matches, reverse=True)]


def _uv_candidates(uv_binary: str | None, wanted: str) -> list[str]:
    binary = uv_binary or installed_uv()
    if binary is None:
        return []
    command = [binary, "python", "find", "--managed-python", "--no-python-downloads", "--offline"]
    command += ["--no-project", "--no-config", wanted]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.SubprocessError):
        return []
    found = done.stdout.strip()
    return [found] if done.returncode == 0 and found else []


def installed_uv() -> str | None:
    try:
        from uv import find_uv_bin
    except ImportError:
        return shutil.which("uv")
    try:
        return str(find_uv_bin())
    except FileNotFoundError:
        return shutil.which("uv")
