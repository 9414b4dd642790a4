"""The Lambda service's state: functions, their configuration snapshots, and the stores.

A function's configuration is an immutable :class:`FunctionConfig` snapshot; every
update replaces it with a new one carrying a higher ``generation``. Execution
environments remember the generation they were started for, which is how a code or
configuration update retires them (see ``environments.py``) without any locking between
the control plane and running invocations.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streamlab.aws_rules import ACCOUNT_ID

LATEST = "$LATEST"


def function_arn(region: str, name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def aws_timestamp(epoch: float) -> str:
    """Lambda's LastModified format: ``2024-01-31T12:00:00.000+0000``."""
    moment = datetime.fromtimestamp(epoch, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


@dataclass(frozen=True)
class FunctionCode:
    """A deployment package: the zip as uploaded and where it is unpacked."""

    zip_bytes: bytes
    sha256: str  # base64 of the SHA-256 digest, as CodeSha256 reports it
    directory: Path

    @property
    def size(self) -> int:
        return len(self.zip_bytes)

    @staticmethod
    def digest(zip_bytes: bytes) -> str:
        return base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()


@dataclass(frozen=True)
class FunctionConfig:
    """One revision of a function: what environments of this generation run with."""

    name: str
    region: str
    runtime: str
    handler: str
    role: str
    code: FunctionCode
    generation: int
    description: str = ""
    timeout: int = 3
    memory_size: int = 128
    environment: dict[str, str] = field(default_factory=dict)
    architectures: tuple[str, ...] = ("x86_64",)
    ephemeral_storage: int = 512
    tracing_mode: str = "PassThrough"
    log_format: str = "Text"
    log_group: str = ""
    revision_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    last_modified: float = field(default_factory=time.time)

    @property
    def arn(self) -> str:
        return function_arn(self.region, self.name)

    @property
    def log_group_name(self) -> str:
        return self.log_group or f"/aws/lambda/{self.name}"

    def replace(self, **changes: Any) -> FunctionConfig:
        """A new revision: bumps generation, revision id and LastModified."""
        changes.setdefault("generation", self.generation + 1)
        changes.setdefault("revision_id", str(uuid.uuid4()))
        changes.setdefault("last_modified", time.time())
        return dataclasses.replace(self, **changes)


@dataclass
class Function:
    """A function ($LATEST only): its current config plus control-plane state."""

    config: FunctionConfig
    tags: dict[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None
    state: str = "Pending"
    last_update_status: str | None = None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def region(self) -> str:
        return self.config.region

    @property
    def arn(self) -> str:
        return self.config.arn

    def configuration(self) -> dict[str, Any]:
        """The FunctionConfiguration shape of GetFunctionConfiguration / CreateFunction."""
        config = self.config
        body: dict[str, Any] = {
            "FunctionName": config.name,
            "FunctionArn": config.arn,
            "Runtime": config.runtime,
            "Role": config.role,
            "Handler": config.handler,
            "CodeSize": config.code.size,
            "Description": config.description,
            "Timeout": config.timeout,
            "MemorySize": config.memory_size,
            "LastModified": aws_timestamp(config.last_modified),
            "CodeSha256": config.code.sha256,
            "Version": LATEST,
            "TracingConfig": {"Mode": config.tracing_mode},
            "RevisionId": config.revision_id,
            "State": self.state,
            "PackageType": "Zip",
            "Architectures": list(config.architectures),
            "EphemeralStorage": {"Size": config.ephemeral_storage},
            "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
            "RuntimeVersionConfig": {
                "RuntimeVersionArn": f"arn:aws:lambda:{config.region}::runtime:streamlab-{config.runtime}"
            },
            "LoggingConfig": {"LogFormat": config.log_format, "LogGroup": config.log_group_name},
        }
        if config.environment:
            body["Environment"] = {"Variables": dict(config.environment)}
        if self.state == "Pending":
            body["StateReason"] = "The function is being created."
            body["StateReasonCode"] = "Creating"
        if self.last_update_status is not None:
            body["LastUpdateStatus"] = self.last_update_status
            if self.last_update_status == "InProgress":
                body["LastUpdateStatusReason"] = "The function is being created."
                body["LastUpdateStatusReasonCode"] = "Creating"
        return body


class FunctionStore:
    """Functions by (region, name). One lock: control-plane calls are rare and short."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._functions: dict[tuple[str, str], Function] = {}

    def get(self, region: str, name: str) -> Function | None:
        return self._functions.get((region, name))

    def put(self, function: Function) -> None:
        with self.lock:
            self._functions[(function.region, function.name)] = function

    def remove(self, region: str, name: str) -> Function | None:
        with self.lock:
            return self._functions.pop((region, name), None)

    def in_region(self, region: str) -> list[Function]:
        with self.lock:
            return sorted((f for (r, _), f in self._functions.items() if r == region), key=lambda f: f.name)

    def all(self) -> list[Function]:
        with self.lock:
            return list(self._functions.values())

    def regions_of(self, name: str) -> list[str]:
        with self.lock:
            return [region for (region, n) in self._functions if n == name]
