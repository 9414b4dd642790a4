"""Layers: PublishLayerVersion and friends, and the ``/opt`` a function's layers make.

Lambda extracts a function's layers, in the order the function lists them, into ``/opt``
(a later layer's file wins over an earlier one's) and puts ``/opt/python`` and
``/opt/python/lib/pythonX.Y/site-packages`` on ``sys.path``, ``/opt/bin`` on ``PATH`` and
``/opt/lib`` on ``LD_LIBRARY_PATH`` (packaging-layers.html). streamlab runs environments as
plain processes, so each function revision gets its own directory that plays ``/opt``: the
same layout and the same path entries, at ``LAMBDA_OPT_DIR``-style private location rather than
the machine's ``/opt`` (code that opens ``/opt/...`` by absolute path sees the host's).

A layer version's content outlives DeleteLayerVersion for the functions that reference it,
as on AWS: its unpacked directory is kept until the service stops.
"""

from __future__ import annotations

import functools
import itertools
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamlab.aws_rules import ACCOUNT_ID
from streamlab.emulator.awslambda.code import unpack, zip_from_source
from streamlab.emulator.awslambda.exceptions import (
    InvalidParameterValueException,
    ResourceNotFoundException,
    ValidationException,
    constraint_violation,
)
from streamlab.emulator.awslambda.models import AttachedLayer, FunctionCode, aws_timestamp

MAX_LAYERS_PER_FUNCTION = 5
ARCHITECTURES = ("x86_64", "arm64")
#: The API model's LayerName: a name, or the layer's ARN (1-140 characters).
_LAYER_NAME = re.compile(r"^(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+|[a-zA-Z0-9-_]+)$")
_LAYER_VERSION_ARN = re.compile(
    r"^arn:(aws[a-zA-Z-]*)?:lambda:(?P<region>[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}):(?P<account>\d{12}):"
    r"layer:(?P<name>[a-zA-Z0-9-_]+):(?P<version>[0-9]+)$"
)
_LAYER_VERSION_ARN_PATTERN = (
    "(arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:layer:"
    "[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)"
)


def layer_arn(region: str, name: str, version: int | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:layer:{name}"
    return f"{arn}:{version}" if version is not None else arn


@dataclass(frozen=True)
class LayerVersion:
    region: str
    name: str
    version: int
    code: FunctionCode
    description: str = ""
    license_info: str | None = None
    compatible_runtimes: tuple[str, ...] = ()
    compatible_architectures: tuple[str, ...] = ()
    created: float = field(default_factory=time.time)

    @property
    def arn(self) -> str:
        return layer_arn(self.region, self.name, self.version)

    def list_item(self) -> dict[str, Any]:
        """LayerVersionsListItem (ListLayerVersions, ListLayers' LatestMatchingVersion)."""
        body: dict[str, Any] = {
            "LayerVersionArn": self.arn,
            "Version": self.version,
            "Description": self.description,
            "CreatedDate": aws_timestamp(self.created),
        }
        if self.compatible_runtimes:
            body["CompatibleRuntimes"] = list(self.compatible_runtimes)
        if self.license_info is not None:
            body["LicenseInfo"] = self.license_info
        if self.compatible_architectures:
            body["CompatibleArchitectures"] = list(self.compatible_architectures)
        return body

    def to_api(self, location: str) -> dict[str, Any]:
        """GetLayerVersion / PublishLayerVersion."""
        return {
            **self.list_item(),
            "LayerArn": layer_arn(self.region, self.name),
            "Content": {"Location": location, "CodeSha256": self.code.sha256, "CodeSize": self.code.size},
        }

    def matches(self, runtime: str | None, architecture: str | None) -> bool:
        return (runtime is None or runtime in self.compatible_runtimes) and (
            architecture is None or architecture in self.compatible_architectures
        )


class LayerStore:
    """Layer versions by (region, name); version numbers keep counting after deletions."""

    def __init__(self, content_root: Path, s3_client: Callable[[str], Any]) -> None:
        self._root = content_root
        self._s3_client = s3_client
        self._lock = threading.Lock()
        self._layers: dict[tuple[str, str], dict[int, LayerVersion]] = {}
        self._next: dict[tuple[str, str], int] = {}
        self._unpacked = itertools.count(1)

    # -- PublishLayerVersion / Get / List / Delete ------------------------------------------
    def publish(self, region: str, name: str, request: dict[str, Any]) -> LayerVersion:
        """PublishLayerVersion: Content from a ZipFile or S3; runtimes and architectures checked first."""
        region, name = layer_ref(region, name)
        runtimes = tuple(request.get("CompatibleRuntimes") or ())
        architectures = tuple(request.get("CompatibleArchitectures") or ())
        _check_compatibilities(runtimes, architectures)
        zip_bytes = zip_from_source(request.get("Content") or {}, region, self._s3_client, "PublishLayerVersion")
        directory = self._root / region / name / f"u{next(self._unpacked)}"
        code = unpack(zip_bytes, directory)
        with self._lock:
            key = (region, name)
            version = self._next.get(key, 1)
            self._next[key] = version + 1
            layer = LayerVersion(
                region=region,
                name=name,
                version=version,
                code=code,
                description=str(request.get("Description", "")),
                license_info=request.get("LicenseInfo"),
                compatible_runtimes=runtimes,
                compatible_architectures=architectures,
            )
            self._layers.setdefault(key, {})[version] = layer
        return layer

    def get(self, region: str, name: str, version: int) -> LayerVersion:
        check_version_number(version)
        key = layer_ref(region, name)
        with self._lock:
            layer = self._layers.get(key, {}).get(version)
        if layer is None:
            raise ResourceNotFoundException("The resource you requested does not exist.")
        return layer

    def get_by_arn(self, arn: str) -> LayerVersion:
        match = _LAYER_VERSION_ARN.match(arn or "")
        if match is None:
            raise constraint_violation(
                "arn", arn, f"Member must satisfy regular expression pattern: {_LAYER_VERSION_ARN_PATTERN}"
            )
        return self.get(match["region"], match["name"], int(match["version"]))

    def versions(self, region: str, name: str) -> list[LayerVersion]:
        """Newest first, as ListLayerVersions answers."""
        key = layer_ref(region, name)
        with self._lock:
            return sorted(self._layers.get(key, {}).values(), key=lambda v: -v.version)

    def latest_by_layer(self, region: str) -> list[tuple[str, list[LayerVersion]]]:
        """(name, versions newest first) for each layer of the region with any version left."""
        with self._lock:
            names = sorted(name for (r, name), versions in self._layers.items() if r == region and versions)
        return [(name, self.versions(region, name)) for name in names]

    def delete(self, region: str, name: str, version: int) -> None:
        """Idempotent, like AWS; the content stays for functions that still reference it."""
        check_version_number(version)
        key = layer_ref(region, name)
        with self._lock:
            self._layers.get(key, {}).pop(version, None)

    # -- functions ---------------------------------------------------------------------------
    def attach(self, region: str, arns: Any) -> tuple[AttachedLayer, ...]:
        """Validate a function's ``Layers`` and resolve them, in order."""
        if arns is None:
            return ()
        if not isinstance(arns, list) or not all(isinstance(arn, str) for arn in arns):
            raise InvalidParameterValueException("Layers must be a list of layer version ARNs.")
        if len(arns) > MAX_LAYERS_PER_FUNCTION:
            raise InvalidParameterValueException(f"Cannot reference more than {MAX_LAYERS_PER_FUNCTION} layers.")
        parsed = []
        for arn in arns:
            match = _LAYER_VERSION_ARN.match(arn)
            if match is None:
                raise constraint_violation(
                    "layers",
                    f"[{', '.join(arns)}]",
                    "Member must satisfy constraint: [Member must have length less than or equal to 2048, Member "
                    "must have length greater than or equal to 1, Member must satisfy regular expression pattern: "
                    f"{_LAYER_VERSION_ARN_PATTERN}, Member must not be null]",
                )
            parsed.append((arn, match))
        seen: dict[str, str] = {}
        for arn, match in parsed:
            if match["name"] in seen:
                raise InvalidParameterValueException(
                    "Two different versions of the same layer are not allowed to be referenced in the same "
                    f"function. {seen[match['name']]} and {arn} are versions of the same layer."
                )
            seen[match["name"]] = arn
        if any(match["region"] != region for _, match in parsed):
            raise InvalidParameterValueException(
                f"Layers are not in the same region as the function. Layers are expected to be in region {region}."
            )
        attached = []
        for arn, match in parsed:
            with self._lock:
                layer = self._layers.get((region, match["name"]), {}).get(int(match["version"]))
            if layer is None:
                raise InvalidParameterValueException(f"Layer version {arn} does not exist.")
            attached.append(AttachedLayer(arn=arn, code_size=layer.code.size, directory=layer.code.directory))
        return tuple(attached)


def build_opt_directory(layers: tuple[AttachedLayer, ...], target: Path) -> Path | None:
    """Extracted layers merged in order into ``target`` (later layers overwrite earlier files)."""
    if not layers:
        return None
    target.mkdir(parents=True)
    for layer in layers:
        shutil.copytree(layer.directory, target, symlinks=True, dirs_exist_ok=True)
    return target


def layer_python_paths(opt: Path, python_minor: str) -> list[str]:
    """The ``sys.path`` entries Lambda's Python runtimes add for ``/opt`` (packaging-layers.html)."""
    return [str(opt / "python" / "lib" / f"python{python_minor}" / "site-packages"), str(opt / "python")]


def check_layer_name(name: Any) -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= 140 or not _LAYER_NAME.match(name):
        raise constraint_violation(
            "layerName",
            name,
            "Member must satisfy regular expression pattern: "
            "(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+",
        )
    return name


def layer_ref(region: str, name: Any) -> tuple[str, str]:
    """(region, layer name) of a LayerName, which AWS takes as a name or as the layer's ARN."""
    check_layer_name(name)
    if name.startswith("arn:"):
        parts = name.split(":")
        return parts[3], parts[6]
    return region, name


def check_version_number(version: int) -> None:
    if version < 1:
        raise InvalidParameterValueException("Layer Version Cannot be less than 1")


@functools.cache
def _runtime_enum() -> tuple[str, ...]:
    """Every runtime name Lambda's API model knows (botocore's ``Runtime`` enum)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("lambda")
    return tuple(model.shape_for("Runtime").enum)


def check_compatible_runtime(runtime: str | None) -> str | None:
    if runtime is not None and runtime not in _runtime_enum():
        raise constraint_violation(
            "compatibleRuntime", runtime, f"Member must satisfy enum value set: [{', '.join(_runtime_enum())}]"
        )
    return runtime


def check_compatible_architecture(architecture: str | None) -> str | None:
    if architecture is not None and architecture not in ARCHITECTURES:
        raise constraint_violation(
            "compatibleArchitecture", architecture, f"Member must satisfy enum value set: [{', '.join(ARCHITECTURES)}]"
        )
    return architecture


def _check_compatibilities(runtimes: tuple[str, ...], architectures: tuple[str, ...]) -> None:
    errors = []
    if any(runtime not in _runtime_enum() for runtime in runtimes):
        errors.append(
            f"Value '[{', '.join(runtimes)}]' at 'compatibleRuntimes' failed to satisfy constraint: Member must "
            f"satisfy enum value set: [{', '.join(_runtime_enum())}]"
        )
    if any(architecture not in ARCHITECTURES for architecture in architectures):
        errors.append(
            f"Value '[{', '.join(architectures)}]' at 'compatibleArchitectures' failed to satisfy constraint: "
            "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], "
            "Member must not be null]"
        )
    if errors:
        count = f"{len(errors)} validation error{'s' if len(errors) > 1 else ''} detected"
        raise ValidationException(f"{count}: {'; '.join(errors)}")
