"""``deploy_template``: package a template's local code and deploy it on any backend.

The target is an endpoint URL (embedded, LocalStack) or None for AWS. Where dependencies must
run follows from it: an embedded endpoint says in its health answer which interpreter runs each
Lambda runtime; everywhere else it is Lambda's Linux for the function's runtime. The zips go to
an artifact bucket (``streamlab-artifacts-<account>-<region>``, created when missing, or the one
named), as ``sam deploy --resolve-s3`` does.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamlab.aws_rules import TEMPLATE_BODY_MAX_BYTES, TEMPLATE_URL_MAX_BYTES
from streamlab.packaging import Platform, lambda_platform, local_platform, platform_for_runtime
from streamlab.templates.artifacts import (
    ArtifactBucket,
    PackagedTemplate,
    TemplateFileError,
    ensure_bucket,
    load_template,
    package_template,
)
from streamlab.templates.stacks import StackResult, deploy_stack

_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
LOCAL_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


@dataclass(frozen=True)
class Deployment:
    stack: StackResult
    packaged: PackagedTemplate
    template_path: Path


def clients(endpoint_url: str | None, region: str) -> Callable[[str], Any]:
    """boto3 clients for the target; a local endpoint gets dummy credentials when none are set."""
    import boto3

    session = boto3.Session(region_name=region)
    extra: dict[str, Any] = {}
    if endpoint_url is not None:
        extra["endpoint_url"] = endpoint_url
        if session.get_credentials() is None:
            extra.update(LOCAL_CREDENTIALS)

    def make(service: str) -> Any:
        return session.client(service, **extra)

    return make


def default_stack_name(template_path: Path) -> str:
    """``stack_name`` of a ``samconfig.toml`` beside the template (what ``sam deploy`` reads), else
    the template directory's name, made a valid stack name."""
    config = template_path.parent / "samconfig.toml"
    if config.is_file():
        try:
            data = tomllib.loads(config.read_text(encoding="utf-8"))
            name = data.get("default", {}).get("deploy", {}).get("parameters", {}).get("stack_name")
        except (tomllib.TOMLDecodeError, AttributeError):
            name = None
        if isinstance(name, str) and _STACK_NAME.match(name):
            return name
    cleaned = re.sub(r"[^A-Za-z0-9-]+", "-", template_path.resolve().parent.name).strip("-")
    return cleaned if _STACK_NAME.match(cleaned) else "streamlab-app"


def check_stack_name(name: str) -> str:
    if not _STACK_NAME.match(name):
        raise TemplateFileError(
            f"stack name {name!r}: letters, digits and hyphens, starting with a letter, at most 128 characters"
        )
    return name


def platform_chooser(backend: str, runtime: Mapping[str, Any] | None) -> Callable[[str | None], Platform]:
    """``runtime name -> Platform`` for the target."""

    def choose(lambda_runtime: str | None) -> Platform:
        if backend == "embedded":
            return platform_for_runtime(dict(runtime) if runtime else None, lambda_runtime)
        if lambda_runtime and lambda_runtime.startswith("python"):
            return lambda_platform(lambda_runtime.removeprefix("python"))
        return local_platform()  # not Python: a requirements.txt means nothing to it

    return choose


def deploy_template(
    template_path: Path,
    stack_name: str | None = None,
    parameters: Mapping[str, str] | None = None,
    endpoint_url: str | None = None,
    region: str = "us-east-1",
    log: Callable[[str], None] = print,
    bucket: str | None = None,
    cache_dir: Path | None = None,
) -> Deployment:
    """Package ``template_path``'s local code, upload it and create or update the stack."""
    from streamlab.target import probe_endpoint

    template_path = Path(template_path).resolve()
    name = check_stack_name(stack_name or default_stack_name(template_path))
    template = load_template(template_path)
    make = clients(endpoint_url, region)
    backend, runtime = probe_endpoint(endpoint_url)
    if bucket is None:
        account = make("sts").get_caller_identity()["Account"]
        bucket = f"streamlab-artifacts-{account}-{region}"
    s3 = make("s3")
    ensure_bucket(s3, bucket, region)
    artifacts = ArtifactBucket(s3, bucket, region)
    packaged = package_template(
        template,
        template_path.parent,
        artifacts,
        platform_chooser(backend, runtime),
        cache_dir or template_path.parent / ".streamlab",
        log,
    )
    body = packaged.body
    size = len(body.encode())
    template_url = None
    if size > TEMPLATE_URL_MAX_BYTES:
        raise TemplateFileError(
            f"{template_path}: {size} bytes packaged, over CloudFormation's "
            f"{TEMPLATE_URL_MAX_BYTES}-byte template limit"
        )
    if size > TEMPLATE_BODY_MAX_BYTES:  # as sam deploy does: the template goes by S3
        template_url = artifacts.put_template(body)
        log(
            f"{template_path.name} is {size} bytes packaged (TemplateBody takes {TEMPLATE_BODY_MAX_BYTES}): "
            f"uploaded to {template_url}"
        )
    log(f"deploying {template_path.name} as stack {name}" + (f" to {endpoint_url}" if endpoint_url else " to AWS"))
    result = deploy_stack(make("cloudformation"), name, body, parameters, log=log, template_url=template_url)
    return Deployment(result, packaged, template_path)
