"""A template's local code, built and uploaded to S3 the way ``sam build`` + ``sam package`` do it.

A SAM function's ``CodeUri: ../handlers`` (or ``Globals.Function.CodeUri``), a layer's
``ContentUri``, and a plain ``AWS::Lambda::Function``'s ``Code: src/`` name a directory (or a
``.zip``) relative to the template. Each directory is zipped with its ``requirements.txt``
installed for where the function runs (Lambda's Linux for the function's runtime on AWS and
LocalStack; the embedded endpoint's interpreter there), uploaded once per content hash, and the
template points at the object (``s3://bucket/key``, or ``S3Bucket``/``S3Key``), as
``sam package`` writes it. A layer is zipped as it is, unless its ``Metadata: BuildMethod`` is a
Python runtime: then, as ``sam build`` does, its files and its ``requirements.txt`` installed go
under ``python/`` (where Lambda's Python finds a layer's modules), for that runtime.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamlab.errors import StreamlabError
from streamlab.packaging import FunctionZip, Platform, build_directory_zip, describe_zip_file

#: The property naming each resource type's code, and whether the packaged form is an S3 URI.
CODE_PROPERTIES: dict[str, tuple[str, bool]] = {
    "AWS::Serverless::Function": ("CodeUri", True),
    "AWS::Serverless::LayerVersion": ("ContentUri", True),
    "AWS::Lambda::Function": ("Code", False),
    "AWS::Lambda::LayerVersion": ("Content", False),
}


class TemplateFileError(StreamlabError, ValueError):
    """A template that cannot be read, or local code it names that does not exist."""


@dataclass(frozen=True)
class LocalCode:
    """One resource whose code is a local path."""

    logical_id: str
    resource_type: str
    path: Path
    runtime: str | None
    build_method: str | None = None  # a layer's Metadata.BuildMethod: python3.12, makefile, ...


@dataclass(frozen=True)
class PackagedTemplate:
    template: dict[str, Any]
    code: tuple[LocalCode, ...]
    #: logical id -> the zip uploaded for it
    zips: dict[str, FunctionZip]
    #: logical id -> the platform its dependencies were installed for
    platforms: dict[str, Platform] = field(default_factory=dict)

    @property
    def body(self) -> str:
        return json.dumps(self.template, separators=(",", ":"))


def load_template(path: Path) -> dict[str, Any]:
    """The template at ``path`` as a dict (YAML with CloudFormation's tags, or JSON)."""
    from streamlab.emulator.cloudformation.exceptions import TemplateError
    from streamlab.emulator.cloudformation.template import load

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise TemplateFileError(f"cannot read template {path}: {error.strerror or error}") from None
    try:
        return load(text)
    except TemplateError as error:
        raise TemplateFileError(f"{path}: {error}") from None


def _is_local(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and not value.startswith("s3://")


def local_code(template: dict[str, Any], base_dir: Path) -> list[LocalCode]:
    """Every resource whose code is a local path, checked to exist (relative to ``base_dir``)."""
    function_globals = (template.get("Globals") or {}).get("Function") or {}
    found = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        kind = resource.get("Type")
        if kind not in CODE_PROPERTIES:
            continue
        properties = resource.get("Properties") or {}
        name, _ = CODE_PROPERTIES[kind]
        value = properties.get(name)
        if kind == "AWS::Serverless::Function":
            if "InlineCode" in properties or properties.get("PackageType") == "Image":
                continue
            value = value if value is not None else function_globals.get("CodeUri")
        if not _is_local(value):
            continue
        path = (Path(base_dir) / str(value)).resolve()
        if not (path.is_dir() or (path.is_file() and path.suffix == ".zip")):
            raise TemplateFileError(f"{logical_id}: {name} {value!r} is neither a directory nor a .zip ({path})")
        serverless_function = kind == "AWS::Serverless::Function"
        runtime = properties.get("Runtime", function_globals.get("Runtime") if serverless_function else None)
        build_method = None
        if kind.endswith("LayerVersion"):
            method = (resource.get("Metadata") or {}).get("BuildMethod")
            build_method = method if isinstance(method, str) else None
            runtime = build_method if build_method and build_method.startswith("python") else runtime
        if runtime is None and properties.get("CompatibleRuntimes"):
            runtime = properties["CompatibleRuntimes"][0]
        found.append(LocalCode(logical_id, kind, path, runtime if isinstance(runtime, str) else None, build_method))
    return found


class ArtifactBucket:
    """Uploads zips (and templates too big for a TemplateBody) to one S3 bucket, each once under
    its content hash."""

    def __init__(self, s3: Any, bucket: str, region: str = "us-east-1") -> None:
        self.s3 = s3
        self.bucket = bucket
        self.region = region

    def put(self, built: FunctionZip) -> str:
        key = f"streamlab/{built.content_hash}.zip"
        self._put_once(key, built.read_bytes)
        return key

    def put_template(self, body: str) -> str:
        """The template's TemplateURL, path-style as ``sam deploy`` writes it (``https://s3.REGION.
        amazonaws.com/BUCKET/KEY``); local endpoints read it from their own S3."""
        data = body.encode()
        key = f"streamlab/{hashlib.sha256(data).hexdigest()}.template"
        self._put_once(key, lambda: data)
        return f"https://s3.{self.region}.amazonaws.com/{self.bucket}/{key}"

    def _put_once(self, key: str, data: Callable[[], bytes]) -> None:
        from botocore.exceptions import ClientError

        try:
            self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=data())


def ensure_bucket(s3: Any, name: str, region: str) -> str:
    """Create the artifact bucket unless it exists (and is ours)."""
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=name)
        return name
    except ClientError:
        pass
    params: dict[str, Any] = {"Bucket": name}
    if region != "us-east-1":
        params["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**params)
    return name


def build_code(code: LocalCode, platform: Platform, cache_dir: Path) -> FunctionZip:
    """The zip for one resource's code: a ``.zip`` as it is, a directory built (a layer as its
    BuildMethod says: none, as it is; a Python runtime, under ``python/`` with its requirements)."""
    if code.path.is_file():
        return describe_zip_file(code.path)
    if not code.resource_type.endswith("LayerVersion"):
        return build_directory_zip(code.path, platform, cache_dir)
    if code.build_method is None:
        return build_directory_zip(code.path, platform, cache_dir, install_requirements=False)
    if code.build_method.startswith("python"):
        return build_directory_zip(code.path, platform, cache_dir, prefix="python/")
    raise TemplateFileError(
        f"{code.logical_id}: BuildMethod {code.build_method!r} is not one streamlab builds (a Python runtime, or "
        "none to zip the directory as it is): build the layer yourself and point its ContentUri at the .zip"
    )


def package_template(
    template: dict[str, Any],
    base_dir: Path,
    bucket: ArtifactBucket,
    platform_for: Callable[[str | None], Platform],
    cache_dir: Path,
    log: Callable[[str], None] = print,
) -> PackagedTemplate:
    """``template`` with every local code path replaced by the S3 object holding its zip."""
    packaged = copy.deepcopy(template)
    codes = local_code(packaged, base_dir)
    zips: dict[str, FunctionZip] = {}
    platforms: dict[str, Platform] = {}
    built_by_key: dict[tuple[Path, Platform], FunctionZip] = {}
    for code in codes:
        platform = platform_for(code.runtime)
        built = built_by_key.get((code.path, platform))
        if built is None:
            built = build_code(code, platform, cache_dir)
            built_by_key[(code.path, platform)] = built
            if not built.cached:
                log(f"built {code.path.name} for {platform.key}: {built.size} bytes")
        key = bucket.put(built)
        name, as_uri = CODE_PROPERTIES[code.resource_type]
        properties = packaged["Resources"][code.logical_id].setdefault("Properties", {})
        properties[name] = f"s3://{bucket.bucket}/{key}" if as_uri else {"S3Bucket": bucket.bucket, "S3Key": key}
        zips[code.logical_id] = built
        platforms[code.logical_id] = platform
    function_globals = (packaged.get("Globals") or {}).get("Function") or {}
    if _is_local(function_globals.get("CodeUri")):
        del function_globals["CodeUri"]  # every function that used it now names its own object
    return PackagedTemplate(packaged, tuple(codes), zips, platforms)
