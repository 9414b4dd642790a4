"""Function operations of the control plane: validation, code handling, state changes.

States follow what AWS reports and boto3's waiters poll: CreateFunction answers
``State: Pending`` and an update answers ``LastUpdateStatus: InProgress``; the code is
unpacked before the answer is sent, so every later read sees ``Active`` /
``Successful`` and ``function_active_v2`` / ``function_updated_v2`` return on their
first poll.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import logging
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from streamlab.aws_rules import is_region_name
from streamlab.emulator.awslambda.code import MAX_DIRECT_UPLOAD_BYTES, fetch_from_s3, unpack
from streamlab.emulator.awslambda.environments import RESERVED_VARIABLES, EnvironmentManager
from streamlab.emulator.awslambda.exceptions import (
    InvalidParameterValueException,
    PreconditionFailedException,
    RequestTooLargeException,
    ResourceConflictException,
    ResourceNotFoundException,
    ValidationException,
)
from streamlab.emulator.awslambda.models import (
    LATEST,
    SUPPORTED_RUNTIMES,
    Function,
    FunctionCode,
    FunctionConfig,
    FunctionStore,
    function_arn,
)

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_FUNCTION_REF = re.compile(
    r"^(arn:(aws[a-zA-Z-]*)?:lambda:)?((?P<region>[a-z]{2}(-gov)?-[a-z]+-\d{1}):)?((?P<account>\d{12}):)?(function:)?"
    r"(?P<name>[a-zA-Z0-9_.-]+)(:(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?$"
)
_ROLE = re.compile(r"^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$")
_HANDLER = re.compile(r"^[^\s]+$")
_ENV_KEY = re.compile(r"^[a-zA-Z]([a-zA-Z0-9_])+$")
MAX_ENVIRONMENT_BYTES = 4096


def parse_function_ref(reference: str) -> tuple[str, str | None, str | None]:
    """``name``, ``name:qualifier``, partial or full ARN -> (name, qualifier, region)."""
    match = _FUNCTION_REF.match(reference or "")
    if match is None:
        raise ValidationException(
            f"1 validation error detected: Value '{reference}' at 'functionName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: "
            "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?"
            "(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
        )
    return match["name"], match["qualifier"], match["region"]


def _range(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameterValueException(f"{name} must be an integer.")
    if value < low:
        raise ValidationException(
            f"1 validation error detected: Value '{value}' at '{name[0].lower() + name[1:]}' failed "
            "to satisfy constraint: "
            f"Member must have value greater than or equal to {low}"
        )
    if value > high:
        raise ValidationException(
            f"1 validation error detected: Value '{value}' at '{name[0].lower() + name[1:]}' failed "
            "to satisfy constraint: "
            f"Member must have value less than or equal to {high}"
        )
    return value


def _validate_runtime(runtime: Any) -> str:
    if runtime not in SUPPORTED_RUNTIMES:
        raise InvalidParameterValueException(
            f"The runtime parameter of {runtime} is not supported by streamlab's Lambda service. "
            f"Supported runtimes: {', '.join(SUPPORTED_RUNTIMES)}."
        )
    return runtime


def _validate_handler(handler: Any) -> str:
    if not isinstance(handler, str) or not handler:
        raise InvalidParameterValueException(
            "The Handler parameter is required for a function with package type Zip (e.g. app.handler)."
        )
    if len(handler) > 128 or not _HANDLER.match(handler):
        raise InvalidParameterValueException(
            f"Invalid Handler {handler!r}: it must be 1 to 128 characters without whitespace, such as module.function."
        )
    return handler


def _validate_role(role: Any) -> str:
    if not isinstance(role, str) or not _ROLE.match(role):
        raise ValidationException(
            f"1 validation error detected: Value '{role}' at 'role' failed to satisfy constraint: "
            "Member must satisfy regular "
            "expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+"
        )
    return role


def _validate_environment(environment: Any) -> dict[str, str]:
    if environment is None:
        return {}
    variables = (environment or {}).get("Variables") or {}
    if not isinstance(variables, dict):
        raise InvalidParameterValueException("Environment.Variables must be a map of strings.")
    reserved = sorted(key for key in variables if key in RESERVED_VARIABLES)
    if reserved:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided "
            "contains reserved keys that are currently not supported for modification. Reserved "
            f"keys used in this request: {', '.join(reserved)}"
        )
    for key, value in variables.items():
        if not _ENV_KEY.match(key):
            raise ValidationException(
                f"1 validation error detected: Value '{key}' at 'environment.variables' failed to satisfy constraint: "
                "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: "
                "[a-zA-Z]([a-zA-Z0-9_])+]"
            )
        if not isinstance(value, str):
            raise InvalidParameterValueException(f"Environment variable {key} must be a string.")
    measured = json.dumps(variables, separators=(",", ":"))
    if len(measured.encode()) > MAX_ENVIRONMENT_BYTES:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided "
            f"exceeded the 4KB limit. String measured: {measured}"
        )
    return dict(variables)


class FunctionsControlPlane:
    """CreateFunction, GetFunction, Update*, DeleteFunction and concurrency, for all regions."""

    def __init__(
        self,
        store: FunctionStore,
        environments: EnvironmentManager,
        code_root: Path,
        s3_client: Callable[[str], Any],
    ) -> None:
        self.store = store
        self.environments = environments
        self.code_root = code_root
        self._s3_client = s3_client
        self._code_counter = itertools.count(1)

    # -- lookups ------------------------------------------------------------------------
    def resolve(self, region: str, reference: str, qualifier: str | None = None) -> Function:
        """The function a name/ARN refers to; ResourceNotFoundException like AWS otherwise."""
        name, ref_qualifier, ref_region = parse_function_ref(reference)
        region = ref_region or region
        qualifier = qualifier or ref_qualifier
        function = self.store.get(region, name)
        if function is None or (qualifier not in (None, LATEST)):
            raise ResourceNotFoundException(f"Function not found: {function_arn(region, name, qualifier)}")
        return function

    # -- create / update / delete -------------------------------------------------------
    def create_function(self, region: str, request: dict[str, Any]) -> dict[str, Any]:
        name = request.get("FunctionName")
        if not isinstance(name, str) or not name:
            raise InvalidParameterValueException("FunctionName is required.")
        name, _, ref_region = parse_function_ref(name)
        region = ref_region or region
        if not _NAME.match(name):
            raise ValidationException(
                f"1 validation error detected: Value '{name}' at 'functionName' failed to satisfy constraint: "
                "Member must have length less than or equal to 64"
            )
        if request.get("PackageType", "Zip") != "Zip":
            raise InvalidParameterValueException("Only PackageType Zip is supported by streamlab's Lambda service.")
        runtime = _validate_runtime(request.get("Runtime"))
        handler = _validate_handler(request.get("Handler"))
        role = _validate_role(request.get("Role"))
        timeout = _range("Timeout", request.get("Timeout", 3), 1, 900)
        memory = _range("MemorySize", request.get("MemorySize", 128), 128, 10240)
        storage = _range("EphemeralStorage", (request.get("EphemeralStorage") or {}).get("Size", 512), 512, 10240)
        environment = _validate_environment(request.get("Environment"))
        architectures = tuple(request.get("Architectures") or ("x86_64",))
        if len(architectures) != 1 or architectures[0] not in ("x86_64", "arm64"):
            raise InvalidParameterValueException(
                f"Unsupported Architectures {list(architectures)}; use ['x86_64'] or ['arm64']."
            )
        if request.get("Layers"):
            log.warning("function %s: Layers %s are recorded but not mounted", name, request["Layers"])
        with self.store.lock:
            if self.store.get(region, name) is not None:
                raise ResourceConflictException(f"Function already exist: {name}")
        code = self._code_from(region, name, request.get("Code") or {})
        logging_config = request.get("LoggingConfig") or {}
        config = FunctionConfig(
            name=name,
            region=region,
            runtime=runtime,
            handler=handler,
            role=role,
            code=code,
            generation=1,
            description=str(request.get("Description", "")),
            timeout=timeout,
            memory_size=memory,
            environment=environment,
            architectures=architectures,
            ephemeral_storage=storage,
            tracing_mode=(request.get("TracingConfig") or {}).get("Mode", "PassThrough"),
            log_format=logging_config.get("LogFormat", "Text"),
            log_group=logging_config.get("LogGroup", ""),
        )
        function = Function(config=config, tags=dict(request.get("Tags") or {}))
        with self.store.lock:
            if self.store.get(region, name) is not None:
                shutil.rmtree(code.directory, ignore_errors=True)
                raise ResourceConflictException(f"Function already exist: {name}")
            self.store.put(function)
            answer = function.configuration()
            function.state = "Active"
            function.last_update_status = "Successful"
        return answer

    def update_code(self, region: str, reference: str, request: dict[str, Any]) -> dict[str, Any]:
        function = self.resolve(region, reference)
        self._check_revision(function, request.get("RevisionId"))
        if request.get("ImageUri"):
            raise InvalidParameterValueException("Only PackageType Zip is supported by streamlab's Lambda service.")
        code = self._code_from(function.region, function.name, request)
        if request.get("DryRun"):
            shutil.rmtree(code.directory, ignore_errors=True)
            preview = Function(
                config=function.config.replace(code=code),
                tags=function.tags,
                state="Active",
                last_update_status="Successful",
            )
            return preview.configuration()
        return self._apply(function, function.config.replace(code=code))

    def update_configuration(self, region: str, reference: str, request: dict[str, Any]) -> dict[str, Any]:
        function = self.resolve(region, reference)
        self._check_revision(function, request.get("RevisionId"))
        changes: dict[str, Any] = {}
        if "Runtime" in request:
            changes["runtime"] = _validate_runtime(request["Runtime"])
        if "Handler" in request:
            changes["handler"] = _validate_handler(request["Handler"])
        if "Role" in request:
            changes["role"] = _validate_role(request["Role"])
        if "Timeout" in request:
            changes["timeout"] = _range("Timeout", request["Timeout"], 1, 900)
        if "MemorySize" in request:
            changes["memory_size"] = _range("MemorySize", request["MemorySize"], 128, 10240)
        if "Description" in request:
            changes["description"] = str(request["Description"])
        if "Environment" in request:
            changes["environment"] = _validate_environment(request["Environment"])
        if "EphemeralStorage" in request:
            changes["ephemeral_storage"] = _range(
                "EphemeralStorage", (request["EphemeralStorage"] or {}).get("Size", 512), 512, 10240
            )
        if "TracingConfig" in request:
            changes["tracing_mode"] = (request["TracingConfig"] or {}).get("Mode", "PassThrough")
        if "LoggingConfig" in request:
            logging_config = request["LoggingConfig"] or {}
            changes["log_format"] = logging_config.get("LogFormat", function.config.log_format)
            changes["log_group"] = logging_config.get("LogGroup", function.config.log_group)
        return self._apply(function, function.config.replace(**changes))

    def _apply(self, function: Function, config: FunctionConfig) -> dict[str, Any]:
        """Install a new revision, retire older environments, answer InProgress."""
        with self.store.lock:
            function.config = config
            function.last_update_status = "InProgress"
            answer = function.configuration()
            function.last_update_status = "Successful"
        self.environments.retire((function.region, function.name), config.generation)
        return answer

    def delete_function(self, region: str, reference: str, qualifier: str | None = None) -> None:
        function = self.resolve(region, reference, qualifier)
        with self.store.lock:
            self.store.remove(function.region, function.name)
        self.environments.discard_function((function.region, function.name))
        shutil.rmtree(self._function_dir(function.region, function.name), ignore_errors=True)

    # -- concurrency --------------------------------------------------------------------
    def put_concurrency(self, region: str, reference: str, value: Any) -> int:
        function = self.resolve(region, reference)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidParameterValueException("ReservedConcurrentExecutions must be a non-negative integer.")
        key = (function.region, function.name)
        unreserved_after = (
            self.environments.account_concurrency - self.environments.reserved_total(excluding=key) - value
        )
        if unreserved_after < 0:
            raise InvalidParameterValueException(
                "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
                "below its minimum value of [0]."
            )
        function.reserved_concurrency = value
        self.environments.set_reserved(key, value)
        return value

    def delete_concurrency(self, region: str, reference: str) -> None:
        function = self.resolve(region, reference)
        function.reserved_concurrency = None
        self.environments.set_reserved((function.region, function.name), None)

    # -- code ---------------------------------------------------------------------------
    def _code_from(self, region: str, name: str, source: dict[str, Any]) -> FunctionCode:
        zip_b64 = source.get("ZipFile")
        if zip_b64:
            try:
                zip_bytes = base64.b64decode(zip_b64, validate=True)
            except (binascii.Error, ValueError):
                raise InvalidParameterValueException(
                    "Could not unzip uploaded file. Please check your file, then try to upload again."
                ) from None
            if len(zip_bytes) > MAX_DIRECT_UPLOAD_BYTES:
                raise RequestTooLargeException(
                    "Request must be smaller than 70167211 bytes for the CreateFunction operation"
                )
        elif source.get("S3Bucket") and source.get("S3Key"):
            zip_bytes = fetch_from_s3(
                self._s3_client, region, source["S3Bucket"], source["S3Key"], source.get("S3ObjectVersion")
            )
        elif source.get("ImageUri"):
            raise InvalidParameterValueException("Only PackageType Zip is supported by streamlab's Lambda service.")
        else:
            raise InvalidParameterValueException(
                "Please provide a source for function code: ZipFile, or S3Bucket and S3Key."
            )
        directory = self._function_dir(region, name) / f"v{next(self._code_counter)}"
        return unpack(zip_bytes, directory)

    def _function_dir(self, region: str, name: str) -> Path:
        """``code/<region>/<name>``, refusing any region or name that would leave ``code/``.

        The gateway already refuses bad regions and names are checked on create; this is the
        last check before a request's values become a path that is written or removed.
        """
        directory = self.code_root / region / name
        inside = directory.resolve().parent.parent == self.code_root.resolve()
        if not (is_region_name(region) and _NAME.match(name) and inside):
            raise InvalidParameterValueException(f"Invalid function location: {region}/{name}")
        return directory

    @staticmethod
    def _check_revision(function: Function, revision_id: str | None) -> None:
        if revision_id and revision_id != function.config.revision_id:
            raise PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. "
                "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
            )
