"""Function zips: built deterministically, once per content hash.

Lambda decides whether code changed by the SHA-256 of the zip it stores (``CodeSha256``), so
the same sources must give the same bytes: entries are written in sorted order with a fixed
timestamp and fixed permissions. Building is also slow when pip runs, so both layers are
cached under ``.streamlab/``:

- ``build/<content hash>.zip``: the content hash covers the code files, the requirements and
  the target platform, so it is known before anything is built, and a hit skips pip entirely;
- ``deps/<hash of requirements + platform>/``: a ``pip install --target`` tree, reused by every
  function with the same requirements.

Dependencies are installed for where the code runs: with pip for this interpreter when the
functions run on it (the embedded endpoint in this process or on this machine), and with uv
for any other interpreter (Lambda's Linux for the function's runtime; an embedded endpoint in a
container). uv because pip evaluates environment markers such as ``python_full_version <
"3.11.3"`` on the interpreter pip runs on, whatever ``--python-version`` says; uv evaluates them
for the target (redis 8.1 needs async-timeout on Python 3.11.2 but not on 3.11.7).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import platform as _platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamlab.errors import StreamlabError

#: Bumped when the zip layout changes, so old cache entries are not reused.
FORMAT_VERSION = "streamlab-zip-1"
#: The earliest timestamp a zip entry can carry; any fixed value makes the bytes reproducible.
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache"}
_SKIP_SUFFIXES = (".pyc", ".pyo")
_DONE_MARKER = ".streamlab-complete"


class PackagingError(StreamlabError, RuntimeError):
    """A function's code could not be collected or its dependencies installed."""


@dataclass(frozen=True)
class Platform:
    """Where a zip's dependencies will run: this interpreter, or another one named by its Python
    version and uv ``--python-platform`` (e.g. ``x86_64-manylinux_2_28``)."""

    python_version: str
    python_platform: str | None = None

    @property
    def is_local(self) -> bool:
        return self.python_platform is None

    @property
    def key(self) -> str:
        """Stable text naming the platform; part of every cache key."""
        where = self.python_platform or f"local-{sysconfig.get_platform()}"
        return f"{where}-cp{self.python_version}"

    def installer_command(self, target: Path) -> list[str]:
        """The command that installs requirements (appended) into ``target`` for this platform."""
        if self.is_local:
            return [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--target",
                str(target),
                "--no-compile",
                "--disable-pip-version-check",
                "--no-input",
                "--quiet",
            ]
        return [
            _uv_binary(),
            "pip",
            "install",
            "--target",
            str(target),
            "--quiet",
            "--python",
            sys.executable,
            "--python-version",
            self.python_version,
            "--python-platform",
            str(self.python_platform),
            "--only-binary",
            ":all:",
        ]


def _uv_binary() -> str:
    try:
        from uv import find_uv_bin
    except ImportError:  # pragma: no cover - uv is a dependency of streamlab
        raise PackagingError("uv is needed to install dependencies for another interpreter (pip install uv)") from None
    return str(find_uv_bin())


def lambda_platform(python_version: str) -> Platform:
    """Lambda's x86_64 Linux. Python 3.12+ runs on Amazon Linux 2023 (glibc 2.34), so wheels
    tagged manylinux_2_28 are accepted there besides manylinux2014 (glibc 2.17); older runtimes
    run on Amazon Linux 2 (glibc 2.26)."""
    major, minor = (int(p) for p in python_version.split(".")[:2])
    return Platform(python_version, "x86_64-manylinux_2_28" if (major, minor) >= (3, 12) else "x86_64-manylinux_2_17")


def local_platform() -> Platform:
    """This interpreter: what an embedded endpoint on this machine runs functions on."""
    return Platform(_platform.python_version())


def runtime_description() -> dict[str, str | None]:
    """This interpreter as another machine's deploy must target it: Python version and uv platform.

    The embedded endpoint reports it in its health answer. ``platform`` is None where there is
    no manylinux equivalent (macOS, musl): dependencies can then only be built on this machine.
    """
    return {"python": _platform.python_version(), "platform": _python_platform()}


@functools.cache
def _python_platform() -> str | None:
    """uv's name for this machine's wheel platform (libc_ver reads the interpreter binary: once)."""
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(_platform.machine().lower(), _platform.machine().lower())
    libc, version = _platform.libc_ver()
    if sys.platform.startswith("linux") and libc == "glibc" and version.count(".") >= 1:
        major, minor = version.split(".")[:2]
        return f"{machine}-manylinux_{major}_{minor}"
    return None


def platform_for_runtime(runtime: dict[str, Any] | None, lambda_runtime: str | None = None) -> Platform:
    """The platform for functions that run on ``runtime`` (a :func:`runtime_description`, as an
    embedded endpoint's health answer reports it); this interpreter when it is the same one, or
    when ``runtime`` does not say.

    An endpoint that runs each Lambda runtime on its own interpreter lists them under
    ``runtimes``; ``lambda_runtime`` (``python3.12``) picks that runtime's Python version.
    """
    local = local_platform()
    if not runtime or not runtime.get("python"):
        return local
    python = str(runtime["python"])
    chosen = (runtime.get("runtimes") or {}).get(lambda_runtime) if lambda_runtime else None
    if isinstance(chosen, dict) and chosen.get("python"):
        python = str(chosen["python"])
    here = runtime_description()
    if not runtime.get("platform") or (python, runtime.get("platform")) == (here["python"], here["platform"]):
        return local
    return Platform(python, str(runtime["platform"]))


@dataclass(frozen=True)
class FunctionZip:
    """A built zip. ``code_sha256`` is base64 SHA-256 of the bytes, exactly as Lambda reports CodeSha256."""

    path: Path
    content_hash: str
    code_sha256: str
    size: int
    cached: bool

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()


def build_function_zip(
    handlers_dir: Path,
    modules: Sequence[str],
    requirements: Sequence[str],
    platform: Platform,
    cache_dir: Path,
) -> FunctionZip:
    """Zip ``modules`` (top-level modules or packages of ``handlers_dir``) plus pip ``requirements``.

    Returns the cached zip when one with the same content hash exists; otherwise installs the
    dependencies (cached too) and writes ``cache_dir/build/<content hash>.zip`` atomically.
    """
    code = dict(_collect_code(Path(handlers_dir), modules))
    return _build_zip(code, sorted({r.strip() for r in requirements if r.strip()}), platform, cache_dir)


def build_directory_zip(
    root: Path, platform: Platform, cache_dir: Path, install_requirements: bool = True, prefix: str = ""
) -> FunctionZip:
    """Zip a whole code directory as ``sam build`` does: every file of ``root`` plus, when it has a
    ``requirements.txt``, those requirements installed for ``platform`` (cached like any zip).
    ``prefix`` puts it all under a folder: ``python/`` for a Python layer."""
    root = Path(root)
    if not root.is_dir():
        raise PackagingError(f"{root} is not a directory")
    code = {prefix + name: path for name, path in _collect_tree(root)}
    requirements = read_requirements(root / "requirements.txt") if install_requirements else []
    return _build_zip(code, requirements, platform, cache_dir, prefix)


def _build_zip(
    code: dict[str, Path], requirements: Sequence[str], platform: Platform, cache_dir: Path, prefix: str = ""
) -> FunctionZip:
    """``code`` plus ``requirements`` installed for ``platform`` (under ``prefix`` too), written
    atomically to ``cache_dir/build/<content hash>.zip``, or the cached zip of that hash."""
    content_hash = _content_hash(code, requirements, platform)
    target = Path(cache_dir) / "build" / f"{content_hash}.zip"
    if target.is_file():
        return _describe(target, content_hash, cached=True)
    entries: dict[str, Path] = {}
    if requirements:
        deps = install_dependencies(requirements, platform, Path(cache_dir) / "deps")
        entries.update((prefix + name, path) for name, path in _collect_tree(deps, skip_top=("bin",)))
    entries.update(code)  # the code's own files win over a dependency's of the same name
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".zip.tmp")
    os.close(fd)
    try:
        write_deterministic_zip(Path(tmp), entries)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return _describe(target, content_hash, cached=False)


def describe_zip_file(path: Path) -> FunctionZip:
    """A zip the user built, as it is; its content hash is the SHA-256 of its bytes."""
    data = Path(path).read_bytes()
    return _describe(Path(path), hashlib.sha256(data).hexdigest(), cached=True)


def read_requirements(path: Path) -> list[str]:
    """The requirement lines of a ``requirements.txt`` (none when there is no such file).

    Options (``-r``, ``--index-url`` ...) are refused: they would make pip read other files or
    indexes than the ones the user's build names."""
    if not path.is_file():
        return []
    requirements = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            raise PackagingError(f"{path}:{number}: pip options are not supported here: {line!r}")
        requirements.append(line)
    return sorted(set(requirements))


def write_deterministic_zip(path: Path, entries: dict[str, Path]) -> None:
    """Write ``arcname -> file`` entries so equal inputs give byte-identical zips."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for arcname in sorted(entries):
            source = entries[arcname]
            info = zipfile.ZipInfo(arcname, date_time=FIXED_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so external_attr carries the mode bits Lambda reads
            mode = 0o755 if os.access(source, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            archive.writestr(info, source.read_bytes())


def install_dependencies(requirements: Sequence[str], platform: Platform, deps_dir: Path) -> Path:
    """``pip install --target`` once per (requirements, platform); returns the installed tree."""
    requirements = sorted({r.strip() for r in requirements if r.strip()})
    key = hashlib.sha256("\n".join([FORMAT_VERSION, platform.key, *requirements]).encode()).hexdigest()
    final = Path(deps_dir) / key
    if (final / _DONE_MARKER).is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f"{key[:12]}-"))
    command = [*platform.installer_command(tmp), *requirements]
    installer = "pip" if platform.is_local else "uv"
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
            raise PackagingError(f"{installer} could not install {', '.join(requirements)} for {platform.key}:\n{tail}")
        (tmp / _DONE_MARKER).write_text(" ".join(requirements) + "\n")
        if final.exists():  # another build finished first; theirs is as good as ours
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, final)
    finally:
        if tmp.exists() and tmp != final:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


# --- internals -------------------------------------------------------------------------------


def _collect_code(handlers_dir: Path, modules: Sequence[str]) -> Iterator[tuple[str, Path]]:
    for module in dict.fromkeys(modules):
        single = handlers_dir / f"{module}.py"
        package = handlers_dir / module
        if single.is_file():
            yield single.name, single
        elif package.is_dir():
            for arcname, path in _collect_tree(package):
                yield f"{module}/{arcname}", path
        else:
            raise PackagingError(f"no module {module}.py or package {module}/ in {handlers_dir}")


def _collect_tree(root: Path, skip_top: tuple[str, ...] = ()) -> Iterator[tuple[str, Path]]:
    """Files under ``root`` as (posix relative path, path), without caches, hidden files or ``skip_top`` dirs.

    pip's ``--target`` tree has a top-level ``bin/`` of console scripts whose shebangs point at
    this machine's interpreter; they are useless in Lambda, so dependency trees skip it.
    """
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in _SKIP_DIRS and not d.startswith(".") and not (rel_dir == Path(".") and d in skip_top)
        )
        for name in sorted(filenames):
            if name.startswith(".") or name.endswith(_SKIP_SUFFIXES):
                continue
            path = Path(dirpath) / name
            yield (rel_dir / name).as_posix(), path


def _content_hash(code: dict[str, Path], requirements: Sequence[str], platform: Platform) -> str:
    digest = hashlib.sha256()
    lines = [FORMAT_VERSION, f"platform {platform.key}"]
    lines += [f"requirement {r}" for r in requirements]
    for arcname in sorted(code):
        mode = "x" if os.access(code[arcname], os.X_OK) else "-"
        lines.append(f"file {arcname} {mode} {hashlib.sha256(code[arcname].read_bytes()).hexdigest()}")
    digest.update("\n".join(lines).encode())
    return digest.hexdigest()


def _describe(path: Path, content_hash: str, cached: bool) -> FunctionZip:
    data = path.read_bytes()
    return FunctionZip(
        path=path,
        content_hash=content_hash,
        code_sha256=base64.b64encode(hashlib.sha256(data).digest()).decode(),
        size=len(data),
        cached=cached,
    )
