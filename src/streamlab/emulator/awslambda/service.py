"""The Lambda service of the embedded endpoint.

:class:`LambdaService` is what the gateway routes ``lambda`` requests to (a WSGI app),
what :class:`~streamlab.emulator.endpoint.EmbeddedEndpoint` starts and stops, and the
in-process entry point of the event source mapping engine:

- :meth:`LambdaService.invoke` runs a function synchronously without HTTP and returns an
  :class:`~streamlab.emulator.awslambda.invoke.InvokeResult`;
- :attr:`LambdaService.event_source_mappings` is the mapping store (CRUD, subscribe to
  changes, report state).
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from streamlab.aws_rules import DEFAULT_REGION
from streamlab.emulator.awslambda.api import LambdaApi
from streamlab.emulator.awslambda.async_invoke import AsyncInvoker, AsyncTarget, EndpointDestinations
from streamlab.emulator.awslambda.control_plane import FunctionsControlPlane, Target, parse_function_ref
from streamlab.emulator.awslambda.environment import EnvironmentSettings
from streamlab.emulator.awslambda.event_source_mappings import EventSourceMappingStore, SourceCheck
from streamlab.emulator.awslambda.exceptions import InvalidParameterValueException, ResourceNotFoundException
from streamlab.emulator.awslambda.function_settings import FunctionSettings
from streamlab.emulator.awslambda.interpreters import InterpreterDirectory, InterpreterSearch, installed_uv
from streamlab.emulator.awslambda.invoke import Invoker, InvokeResult, check_payload_size
from streamlab.emulator.awslambda.layers import LayerStore
from streamlab.emulator.awslambda.logs import Boto3LogsWriter, LogShipper, LogsWriter, MotoLogsWriter
from streamlab.emulator.awslambda.models import Function, FunctionStore, function_arn
from streamlab.emulator.awslambda.pool import EnvironmentPool
from streamlab.emulator.awslambda.pushes import PUSH_ROUTER
from streamlab.emulator.awslambda.runtime_packages import (
    EXTRA_RUNTIME_PACKAGES,
    RUNTIME_PACKAGES,
    RuntimeOverlays,
    RuntimeRequirements,
    build_runtime_dir,
    compiled_distributions,
)
from streamlab.emulator.endpoint_clients import EndpointClients
from streamlab.emulator.telemetry import NULL_SINK, TelemetrySink
from streamlab.emulator.workdirs import make_owned

log = logging.getLogger(__name__)

#: Environment variable that sets the account concurrency limit (default 10).
ACCOUNT_CONCURRENCY_ENV = "STREAMLAB_LAMBDA_CONCURRENCY"
DEFAULT_ACCOUNT_CONCURRENCY = 10
WORK_DIR_PREFIX = "streamlab-lambda-"


class LambdaService:
    """Control plane, Invoke, execution environments, logs and event source mapping records.

    ``interpreters`` says where each runtime's Python is looked for (see ``interpreters.py``);
    by default every source is searched and nothing is named.
    """

    def __init__(
        self,
        endpoint_url: Callable[[], str],
        account_concurrency: int | None = None,
        max_idle_environments: int = 24,
        runtime_packages: tuple[str, ...] = RUNTIME_PACKAGES + EXTRA_RUNTIME_PACKAGES,
        async_retry_delays: tuple[float, ...] = (60.0, 120.0),
        interpreters: InterpreterSearch | None = None,
        runtime_cache: Path | None = None,
        source_checks: dict[str, SourceCheck] | None = None,
        telemetry: TelemetrySink = NULL_SINK,
    ) -> None:
        """``source_checks``: per event source kind, how CreateEventSourceMapping tells it exists;
        ``telemetry`` receives AsyncDeliveryFailed when an async event or record cannot be sent."""
        self.endpoint_url = endpoint_url
        if account_concurrency is None:
            account_concurrency = int(os.environ.get(ACCOUNT_CONCURRENCY_ENV, DEFAULT_ACCOUNT_CONCURRENCY))
        # Owned (pid recorded), so the next endpoint removes it if this one is killed.
        self._work_dir = make_owned(WORK_DIR_PREFIX)
        runtime_dir = build_runtime_dir(self._work_dir / "runtime", runtime_packages)
        endpoint = InterpreterDirectory(InterpreterSearch()).endpoint
        overlays = RuntimeOverlays(
            runtime_cache or default_runtime_cache(),
            compiled_distributions(runtime_packages),
            endpoint.minor,
            installed_uv(),
        )
        self.interpreters = InterpreterDirectory(
            interpreters or InterpreterSearch(),
            endpoint=endpoint,
            requires_python=RuntimeRequirements(runtime_packages).problem,
            prepare=lambda interpreter: overlays.overlay_for(interpreter.path, interpreter.minor),
        )
        self.store = FunctionStore()
        self.environments = EnvironmentPool(
            EnvironmentSettings(endpoint_url=endpoint_url, runtime_dir=runtime_dir),
            account_concurrency=account_concurrency,
            max_idle_environments=max_idle_environments,
        )
        self.logs = LogShipper(_default_logs_writer(endpoint_url))
        self.invoker = Invoker(self.environments, self.logs)
        self.async_invoker = AsyncInvoker(
            self.invoker,
            EndpointDestinations(endpoint_url, lambda arn, payload: self.invoke_async(arn, payload)),
            retry_delays=async_retry_delays,
            telemetry=telemetry,
        )
        self.event_source_mappings = EventSourceMappingStore(source_checks=source_checks)
        self._clients = EndpointClients(endpoint_url)
        self.layers = LayerStore(self._work_dir / "layers", self._s3_client)
        self.control = FunctionsControlPlane(
            self.store, self.environments, self.layers, self.interpreters, self._work_dir / "code", self._s3_client
        )
        self.settings = FunctionSettings(self.control, self.event_source_mappings)
        self._api = LambdaApi(
            functions=self.control,
            settings=self.settings,
            layers=self.layers,
            mappings=self.event_source_mappings,
            invocations=self,
            endpoint_url=endpoint_url,
        )
        self._stopped = False
        atexit.register(self.stop)

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        """Start the log shipper and take SNS/S3 pushes (the endpoint calls this once its HTTP server runs)."""
        self.logs.start()
        PUSH_ROUTER.join(self)

    def stop(self) -> None:
        """Kill every execution environment, flush logs, remove unpacked code."""
        if self._stopped:
            return
        self._stopped = True
        PUSH_ROUTER.leave(self)
        self.async_invoker.stop()
        self.event_source_mappings.close()
        self.environments.stop()
        self.logs.stop()
        shutil.rmtree(self._work_dir, ignore_errors=True)
        atexit.unregister(self.stop)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return self._api(environ, start_response)

    # -- settings -----------------------------------------------------------------------
    @property
    def account_concurrency(self) -> int:
        return self.environments.account_concurrency

    @account_concurrency.setter
    def account_concurrency(self, value: int) -> None:
        self.environments.account_concurrency = value

    def runtimes(self) -> dict[str, dict[str, object]]:
        """What each runtime's functions run on (the endpoint's health answer reports it)."""
        return self.interpreters.describe()

    # -- InvocationOperations (the REST layer) ------------------------------------------
    def invoke_target(
        self, target: Target, payload: bytes, *, tail: bool = False, client_context: str | None = None
    ) -> InvokeResult:
        return self.invoker.invoke(
            target.config, payload, invoked_arn=target.arn, tail=tail, client_context=client_context
        )

    def submit_event(self, target: Target, payload: bytes) -> None:
        check_payload_size(payload, asynchronous=True)
        function = target.function
        region, name, qualifier = function.region, function.name, target.qualifier

        def lookup() -> AsyncTarget | None:
            current = self.store.get(region, name)
            if current is None:
                return None
            try:
                resolved = self.control.invocation_target(region, name, qualifier)
            except ResourceNotFoundException:
                return None
            settings = self.settings.event_invoke_config(resolved)
            dead_letter = resolved.config.dead_letter_target
            if settings is None:
                return AsyncTarget(resolved.config, resolved.arn, dead_letter_arn=dead_letter)
            return AsyncTarget(
                resolved.config,
                resolved.arn,
                settings.maximum_retry_attempts,
                settings.maximum_event_age_in_seconds,
                settings.on_success,
                settings.on_failure,
                dead_letter,
            )

        self.async_invoker.submit(lookup, payload)

    def submit_push(self, function: Function, qualifier: str | None, payload: bytes) -> None:
        """An event SNS or S3 pushes (the router checked the policy): an Event invocation."""
        self.submit_event(self.control.invocation_target(function.region, function.name, qualifier), payload)

    # -- Python-level API (the event source mapping engine) -----------------------------
    def invoke(
        self,
        function_name: str,
        payload: bytes,
        qualifier: str | None = None,
        *,
        region: str | None = None,
        log_type: str | None = None,
        client_context: str | None = None,
    ) -> InvokeResult:
        """Invoke synchronously (RequestResponse), in-process, without HTTP.

        ``function_name`` is a name, partial or full ARN, qualified or not. Raises
        ResourceNotFoundException, TooManyRequestsException (throttled: the caller retries),
        RequestTooLargeException. A failing function is not an exception: see
        ``InvokeResult.function_error``.
        """
        target = self._target(function_name, qualifier, region)
        return self.invoke_target(target, payload, tail=log_type == "Tail", client_context=client_context)

    def invoke_async(self, function_name: str, payload: bytes, *, region: str | None = None) -> None:
        """Queue an ``Event`` invocation (retried like Lambda's asynchronous invocations)."""
        self.submit_event(self._target(function_name, None, region), payload)

    def function(self, function_name: str, qualifier: str | None = None, *, region: str | None = None) -> Function:
        """The stored function a name/ARN refers to (ResourceNotFoundException otherwise)."""
        return self._target(function_name, qualifier, region).function

    def function_arn(self, function_name: str, *, region: str | None = None) -> str:
        function = self.function(function_name, region=region)
        return function_arn(function.region, function.name)

    def flush_logs(self, timeout: float = 2.0) -> bool:
        """Wait until every log line produced so far is in CloudWatch Logs."""
        return self.logs.flush(timeout)

    def _target(self, function_name: str, qualifier: str | None, region: str | None) -> Target:
        name, _, ref_region = parse_function_ref(function_name)
        region = ref_region or region or self._region_of(name)
        return self.control.invocation_target(region, function_name, qualifier)

    def _s3_client(self, region: str) -> Any:
        """A boto3 S3 client on the endpoint itself, to fetch code from S3Bucket/S3Key."""
        return self._clients.get("s3", region)

    def _region_of(self, name: str) -> str:
        regions = self.store.regions_of(name)
        if len(regions) == 1:
            return regions[0]
        if not regions:
            raise ResourceNotFoundException(f"Function not found: {function_arn(DEFAULT_REGION, name)}")
        if DEFAULT_REGION in regions:
            return DEFAULT_REGION
        raise InvalidParameterValueException(
            f"Function {name} exists in several regions ({', '.join(regions)}); pass region="
        )


def default_runtime_cache() -> Path:
    """Where awslambdaric built for other interpreters is kept between runs (``$XDG_CACHE_HOME/streamlab``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "streamlab" / "runtimes"


def _default_logs_writer(endpoint_url: Callable[[], str]) -> LogsWriter:
    """moto's logs backend in-process when moto is here (the embedded endpoint), else boto3."""
    try:
        return MotoLogsWriter()
    except ImportError:
        return Boto3LogsWriter(endpoint_url)


__all__ = ["InvokeResult", "LambdaService"]
