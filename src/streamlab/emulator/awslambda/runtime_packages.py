"""The runtime directory: what AWS's Python runtime puts on ``sys.path`` after the task root.

On AWS that is ``/var/runtime``: the runtime interface client (awslambdaric) and the SDK
(boto3 and its dependencies). Here it is a directory of symlinks to those packages as
installed beside streamlab, so a function sees them and nothing else of this environment.

The same directory serves every interpreter whose version satisfies the packages'
``Requires-Python``, except for the distributions with compiled parts (awslambdaric's
``runtime_client``, which it cannot run without, and simplejson's speedups): those are built
for streamlab's own interpreter only. For an interpreter of another minor version
:class:`RuntimeOverlays` installs the same versions of those distributions for it, once, with
uv (wheels from PyPI or uv's cache) into a cache directory that goes before the runtime
directory on ``sys.path``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import shutil
import subprocess
import sysconfig
import tempfile
import threading
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from streamlab.errors import StreamlabError

log = logging.getLogger(__name__)

#: What AWS's Python runtime puts after the task root: the runtime interface client and the SDK.
RUNTIME_PACKAGES = (
    "awslambdaric",
    "runtime_client",
    "simplejson",
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "dateutil",
    "urllib3",
    "six",
)
#: Added by default beside them, as the Powertools layer most teams attach (see service docs).
EXTRA_RUNTIME_PACKAGES = ("aws_lambda_powertools", "typing_extensions")


def build_runtime_dir(target: Path, packages: tuple[str, ...]) -> Path:
    """A directory of symlinks to the runtime's packages, so nothing else leaks in."""
    target.mkdir(parents=True, exist_ok=True)
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            log.warning("runtime package %s is not installed; functions will not see it", name)
            continue
        origin = Path(spec.origin)
        source = origin.parent if spec.submodule_search_locations else origin
        link = target / source.name
        if not link.exists():
            link.symlink_to(source)
    return target


class RuntimeRequirements:
    """The ``Requires-Python`` of the runtime's packages, to tell which interpreters can run them."""

    def __init__(self, packages: tuple[str, ...]) -> None:
        owners = importlib.metadata.packages_distributions()
        self._specifiers: dict[str, SpecifierSet] = {}
        for module in packages:
            for distribution in owners.get(module, []):
                if distribution in self._specifiers:
                    continue
                try:
                    text = (importlib.metadata.metadata(distribution).get_all("Requires-Python") or [""])[0]
                    self._specifiers[distribution] = SpecifierSet(text)
                except (importlib.metadata.PackageNotFoundError, InvalidSpecifier):
                    continue

    def problem(self, python_version: str) -> str | None:
        """Why the packages cannot run on ``python_version``; None when they can."""
        refused = [
            f"{name} needs Python {spec}"
            for name, spec in sorted(self._specifiers.items())
            if not spec.contains(python_version, prereleases=True)
        ]
        if not refused:
            return None
        return f"cannot run the runtime's packages ({'; '.join(refused)})"


def compiled_distributions(packages: tuple[str, ...]) -> list[str]:
    """``name==version`` of each distribution behind ``packages`` that ships extension modules."""
    owners = importlib.metadata.packages_distributions()
    found: dict[str, str] = {}
    for module in packages:
        for distribution in owners.get(module, []):
            files = importlib.metadata.files(distribution) or []
            if any(str(f).endswith((".so", ".pyd")) for f in files):
                found[distribution] = importlib.metadata.version(distribution)
    return [f"{name}=={version}" for name, version in sorted(found.items())]


class OverlayError(StreamlabError, RuntimeError):
    """The compiled runtime packages could not be installed for an interpreter."""


_DONE = ".streamlab-complete"
INSTALL_TIMEOUT_S = 300.0


class RuntimeOverlays:
    """Per-interpreter installs of the compiled runtime distributions, cached across runs."""

    def __init__(self, cache_root: Path, requirements: list[str], endpoint_minor: str, uv_binary: str | None) -> None:
        self.cache_root = cache_root
        self.requirements = requirements
        self.endpoint_minor = endpoint_minor
        self._uv = uv_binary
        self._lock = threading.Lock()

    def overlay_for(self, interpreter_path: str, minor: str) -> Path | None:
        """The overlay directory for this interpreter; None when its own compiled parts fit."""
        if minor == self.endpoint_minor or not self.requirements:
            return None
        key = hashlib.sha256("\n".join([minor, sysconfig.get_platform(), *self.requirements]).encode()).hexdigest()
        final = self.cache_root / f"cp{minor.replace('.', '')}-{key[:16]}"
        with self._lock:
            if (final / _DONE).is_file():
                return final
            self._install(interpreter_path, final)
        return final

    def _install(self, interpreter_path: str, final: Path) -> None:
        if self._uv is None:
            raise OverlayError(f"uv is not installed, so {', '.join(self.requirements)} cannot be built for it")
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f"{final.name}-"))
        command = [self._uv, "pip", "install", "--quiet", "--no-deps", "--only-binary", ":all:"]
        command += ["--target", str(tmp), "--python", interpreter_path, *self.requirements]
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT_S,
                check=False,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "UV_NO_PROGRESS": "1"},
            )
            if done.returncode != 0:
                tail = " ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
                raise OverlayError(f"uv could not install {', '.join(self.requirements)} for it ({tail})")
            (tmp / _DONE).write_text(" ".join(self.requirements) + "\n")
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        except (OSError, subprocess.SubprocessError) as error:
            raise OverlayError(f"installing {', '.join(self.requirements)} for it failed: {error}") from None
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
