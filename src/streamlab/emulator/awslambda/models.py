"""The Lambda service's state: functions, their versions and aliases, and the store.

A function's configuration is an immutable :class:`FunctionConfig` snapshot. ``$LATEST`` is
replaced by a new snapshot with a higher ``generation`` on every update; PublishVersion copies
it into a numbered version that never changes again. Execution environments remember the
snapshot they were started for, which is how an update retires them (see ``pool.py``) without
any locking between the control plane and running invocations.
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
from streamlab.emulator.awslambda.interpreters import RuntimeInterpreter

LATEST = "$LATEST"


def function_arn(region: str, name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def aws_timestamp(epoch: float) -> str:
    """Lambda's LastModified format: ``2024-01-31T12:00:00.000+0000``."""
    moment = datetime.fromtimestamp(epoch, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def new_revision() -> str:
    return str(uuid.uuid4())


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
class AttachedLayer:
    """A layer version as a function references it (its content lives on after DeleteLayerVersion)."""

    arn: str
    code_size: int
    directory: Path


@dataclass(frozen=True)
class FunctionConfig:
    """One revision of a function: what environments of this snapshot run with."""

    name: str
    region: str
    runtime: str
    handler: str
    role: str
    code: FunctionCode
    generation: int
    interpreter: RuntimeInterpreter
    version: str = LATEST
    description: str = ""
    timeout: int = 3
    memory_size: int = 128
    environment: dict[str, str] = field(default_factory=dict)
    architectures: tuple[str, ...] = ("x86_64",)
    ephemeral_storage: int = 512
    tracing_mode: str = "PassThrough"
    log_format: str = "Text"
    log_group: str = ""
    layers: tuple[AttachedLayer, ...] = ()
    #: DeadLetterConfig.TargetArn: where an async event goes when its retries are exhausted.
    dead_letter_target: str | None = None
    #: Where the layers are extracted, in order: this environment's ``/opt`` (None: no layers).
    opt_directory: Path | None = None
    revision_id: str = field(default_factory=new_revision)
    last_modified: float = field(default_factory=time.time)
    #: For a published version: the $LATEST revision it was published as. PublishVersion makes no
    #: new version while $LATEST is still that revision (AWS: nothing changed since the last one).
    published_from: str | None = None

    @property
    def arn(self) -> str:
        """Unqualified for $LATEST, ``:N`` for a published version (as AWS reports FunctionArn)."""
        return function_arn(self.region, self.name, None if self.version == LATEST else self.version)

    @property
    def log_group_name(self) -> str:
        return self.log_group or f"/aws/lambda/{self.name}"

    def replace(self, **changes: Any) -> FunctionConfig:
        """A new revision: bumps generation, revision id and LastModified."""
        changes.setdefault("generation", self.generation + 1)
        changes.setdefault("revision_id", new_revision())
        changes.setdefault("last_modified", time.time())
        return dataclasses.replace(self, **changes)

    def published_as(self, version: str, description: str | None, latest_revision: str) -> FunctionConfig:
        """The immutable copy PublishVersion stores (same code, its own revision id)."""
        changes: dict[str, Any] = {"version": version, "revision_id": new_revision(), "published_from": latest_revision}
        if description is not None:
            changes["description"] = description
        return dataclasses.replace(self, **changes)


@dataclass
class Alias:
    name: str
    function_version: str
    description: str = ""
    #: AdditionalVersionWeights: version -> share of invocations (0..1).
    routing: dict[str, float] = field(default_factory=dict)
    revision_id: str = field(default_factory=new_revision)

    def to_api(self, region: str, function_name: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "AliasArn": function_arn(region, function_name, self.name),
            "Name": self.name,
            "FunctionVersion": self.function_version,
            "Description": self.description,
            "RevisionId": self.revision_id,
        }
        if self.routing:
            body["RoutingConfig"] = {"AdditionalVersionWeights": dict(self.routing)}
        return body


@dataclass
class ResourcePolicy:
    """The statements AddPermission added to one qualifier of a function."""

    statements: list[dict[str, Any]] = field(default_factory=list)
    revision_id: str = field(default_factory=new_revision)

    def document(self) -> dict[str, Any]:
        return {"Version": "2012-10-17", "Id": "default", "Statement": list(self.statements)}


@dataclass
class EventInvokeConfig:
    """Put/UpdateFunctionEventInvokeConfig: how asynchronous invocations are retried and routed."""

    function_arn: str
    maximum_retry_attempts: int | None = None
    maximum_event_age_in_seconds: int | None = None
    on_success: str | None = None
    on_failure: str | None = None
    last_modified: float = field(default_factory=time.time)

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "FunctionArn": self.function_arn,
            "LastModified": self.last_modified,
            "DestinationConfig": {
                "OnSuccess": {"Destination": self.on_success} if self.on_success else {},
                "OnFailure": {"Destination": self.on_failure} if self.on_failure else {},
            },
        }
        if self.maximum_retry_attempts is not None:
            body["MaximumRetryAttempts"] = self.maximum_retry_attempts
        if self.maximum_event_age_in_seconds is not None:
            body["MaximumEventAgeInSeconds"] = self.maximum_event_age_in_seconds
        return body


@dataclass
class ProvisionedConcurrency:
    """Accepted and reported READY; streamlab does not pre-warm environments for it."""

    requested: int
    last_modified: float = field(default_factory=time.time)

    def to_api(self, function_arn: str | None = None, *, just_put: bool = False) -> dict[str, Any]:
        """PutProvisionedConcurrencyConfig answers IN_PROGRESS with nothing allocated yet (as AWS
        does); every later read reports READY."""
        ready = 0 if just_put else self.requested
        body: dict[str, Any] = {
            "RequestedProvisionedConcurrentExecutions": self.requested,
            "AvailableProvisionedConcurrentExecutions": ready,
            "AllocatedProvisionedConcurrentExecutions": ready,
            "Status": "IN_PROGRESS" if just_put else "READY",
            "LastModified": aws_timestamp(self.last_modified),
        }
        if function_arn is not None:
            body["FunctionArn"] = function_arn
        return body


@dataclass
class Function:
    """A function: $LATEST, its published versions and aliases, and control-plane state."""

    config: FunctionConfig
    tags: dict[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None
    state: str = "Pending"
    last_update_status: str | None = None
    versions: dict[str, FunctionConfig] = field(default_factory=dict)
    #: Version numbers are never reused, even after DeleteFunction with a Qualifier.
    next_version: int = 1
    aliases: dict[str, Alias] = field(default_factory=dict)
    #: Resource policies by qualifier ("" for the unqualified function).
    policies: dict[str, ResourcePolicy] = field(default_factory=dict)
    #: EventInvokeConfig by qualifier ($LATEST, a version or an alias).
    event_invoke_configs: dict[str, EventInvokeConfig] = field(default_factory=dict)
    #: Provisioned concurrency by qualifier (a version or an alias).
    provisioned: dict[str, ProvisionedConcurrency] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def region(self) -> str:
        return self.config.region

    @property
    def arn(self) -> str:
        return self.config.arn

    def latest_published(self) -> FunctionConfig | None:
        if not self.versions:
            return None
        return self.versions[max(self.versions, key=int)]

    def configuration(
        self, config: FunctionConfig | None = None, *, arn: str | None = None, listing: bool = False
    ) -> dict[str, Any]:
        """The FunctionConfiguration shape of ``config`` ($LATEST by default).

        ``arn`` overrides FunctionArn (an alias ARN for GetFunction with an alias); ``listing``
        leaves out what ListFunctions and ListVersionsByFunction do not report (states, runtime
        version).
        """
        config = config or self.config
        body: dict[str, Any] = {
            "FunctionName": config.name,
            "FunctionArn": arn or config.arn,
            "Runtime": config.runtime,
            "Role": config.role,
            "Handler": config.handler,
            "CodeSize": config.code.size,
            "Description": config.description,
            "Timeout": config.timeout,
            "MemorySize": config.memory_size,
            "LastModified": aws_timestamp(config.last_modified),
            "CodeSha256": config.code.sha256,
            "Version": config.version,
            "TracingConfig": {"Mode": config.tracing_mode},
            "RevisionId": config.revision_id,
            "PackageType": "Zip",
            "Architectures": list(config.architectures),
            "EphemeralStorage": {"Size": config.ephemeral_storage},
            "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
            "LoggingConfig": {"LogFormat": config.log_format, "LogGroup": config.log_group_name},
        }
        if config.environment:
            body["Environment"] = {"Variables": dict(config.environment)}
        if config.dead_letter_target:
            body["DeadLetterConfig"] = {"TargetArn": config.dead_letter_target}
        if config.layers:
            body["Layers"] = [{"Arn": layer.arn, "CodeSize": layer.code_size} for layer in config.layers]
        if listing:
            return body
        body["RuntimeVersionConfig"] = _runtime_version_config(config)
        if config.version != LATEST:
            body.update(State="Active", LastUpdateStatus="Successful")
            return body
        body["State"] = self.state
        if self.state == "Pending":
            body["StateReason"] = "The function is being created."
            body["StateReasonCode"] = "Creating"
        if self.last_update_status is not None:
            body["LastUpdateStatus"] = self.last_update_status
            if self.last_update_status == "InProgress":
                body["LastUpdateStatusReason"] = "The function is being created."
                body["LastUpdateStatusReasonCode"] = "Creating"
        return body


def _runtime_version_config(config: FunctionConfig) -> dict[str, Any]:
    """RuntimeVersionArn names the interpreter that runs the function; Error says when it is not
    the runtime's Python (botocore's RuntimeVersionError: ErrorCode, Message)."""
    interpreter = config.interpreter
    answer: dict[str, Any] = {"RuntimeVersionArn": interpreter.runtime_version_arn(config.region)}
    if interpreter.problem:
        answer["Error"] = {"ErrorCode": "InterpreterNotFound", "Message": interpreter.problem}
    return answer


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
