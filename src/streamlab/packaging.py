"""Function zips: built deterministically, once per content hash.

Lambda decides whether code changed by the SHA-256 of the zip it stores (``CodeSha256``), so
the same sources must give the same bytes: entries are written in sorted order with a fixed
timestamp and fixed permissions. Building is also slow when pip runs, so both layers are
cached under ``.streamlab/``:

- ``build/<content hash>.zip``: the content hash covers the code files, the requirements and
  the target platform, so it is known before anything is built, and a hit skips pip entirely;
- ``deps/<hash of requirements + platform>/``: a ``pip install --target`` tree, reused by every
  function with the same requirements.

Dependencies are installed for where the code runs: the local interpreter for the embedded
backend (its functions run on this machine), Lambda's manylinux x86_64 wheels for the
function's Python version for every other target.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

#: Bumped when the zip layout changes, so old cache entries are not reused.
FORMAT_VERSION = "streamlab-zip-1"
#: The earliest timestamp a zip entry can carry; any fixed value makes the bytes reproducible.
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache"}
_SKIP_SUFFIXES = (".pyc", ".pyo")
_DONE_MARKER = ".streamlab-complete"


class PackagingError(RuntimeError):
    """A function's code could not be collected or its dependencies installed."""


@dataclass(frozen=True)
class Platform:
    """Where a zip's dependencies will run: the local interpreter, or Lambda's Linux for a Python version."""

    python_version: str
    pip_platforms: tuple[str, ...] = ()

    @property
    def is_local(self) -> bool:
        return not self.pip_platforms

    @property
    def key(self) -> str:
        """Stable text naming the platform; part of every cache key."""
        where = "+".join(self.pip_platforms) if self.pip_platforms else f"local-{sysconfig.get_platform()}"
        return f"{where}-cp{self.python_version}"

    def pip_args(self) -> list[str]:
        if self.is_local:
            return []
        args: list[str] = []
        for tag in self.pip_platforms:
            args += ["--platform", tag]
        return args + ["--only-binary=:all:", "--python-version", self.python_version, "--implementation", "cp"]


def lambda_platform(python_version: str) -> Platform:
    """Lambda's x86_64 Linux. Python 3.12+ runs on Amazon Linux 2023 (glibc 2.34), so wheels
    tagged manylinux_2_28 are accepted there besides manylinux2014 (glibc 2.17)."""
    major, minor = (int(p) for p in python_version.split(".")[:2])
    tags = ["manylinux2014_x86_64"]
    if (major, minor) >= (3, 12):
        tags.append("manylinux_2_28_x86_64")
    return Platform(python_version, tuple(tags))


def local_platform() -> Platform:
    """This interpreter: what the embedded backend's execution environments run on."""
    return Platform(f"{sys.version_info.major}.{sys.version_info.minor}")


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
    requirements = sorted({r.strip() for r in requirements if r.strip()})
    content_hash = _content_hash(code, requirements, platform)
    target = Path(cache_dir) / "build" / f"{content_hash}.zip"
    if target.is_file():
        return _describe(target, content_hash, cached=True)

    entries: dict[str, Path] = {}
    if requirements:
        deps = install_dependencies(requirements, platform, Path(cache_dir) / "deps")
        entries.update(_collect_tree(deps, skip_top=("bin",)))
    entries.update(code)  # the function's own files win over a dependency's of the same name
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
    command = [
        sys.executable, "-m", "pip", "install", "--target", str(tmp), "--no-compile",
        "--disable-pip-version-check", "--no-input", "--quiet", *platform.pip_args(), *requirements,
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
            raise PackagingError(f"pip could not install {', '.join(requirements)} for {platform.key}:\n{tail}")
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
            d for d in dirnames
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
