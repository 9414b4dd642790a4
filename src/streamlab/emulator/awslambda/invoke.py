"""The invocation lifecycle: get an environment, hand over the event, wait for the
outcome within the function's timeout, write the log lines, give the environment back.

:class:`Invoker` is what the REST ``Invoke`` operation, the in-process event source mapping
engine and the asynchronous invoker (``async_invoke.py``) call.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from streamlab.emulator.awslambda.environment import ExecutionEnvironment
from streamlab.emulator.awslambda.exceptions import RequestTooLargeException, TooManyRequestsException
from streamlab.emulator.awslambda.invocation import Invocation, LogLine, Outcome
from streamlab.emulator.awslambda.logs import LogShipper
from streamlab.emulator.awslambda.models import LATEST, FunctionConfig
from streamlab.emulator.awslambda.pool import EnvironmentPool
from streamlab.emulator.telemetry import NULL_SINK, FunctionInvoked, InvokeOutcome, TelemetrySink

log = logging.getLogger(__name__)

MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD = 1024 * 1024
#: Lambda gives a runtime 10 s to initialise before the first event (on-demand functions).
INIT_TIMEOUT_S = 10.0
LOG_TAIL_BYTES = 4096
#: Log lines of an invocation that its FunctionInvoked event carries (the dashboard's recent lines).
TELEMETRY_LOG_LINES = 20


@dataclass(frozen=True)
class InvokeResult:
    """What a synchronous invocation returned, in the terms of the Invoke API."""

    status_code: int
    payload: bytes
    function_error: str | None
    log_tail: str | None  # base64 of the last 4 KB of the invocation's log, when asked for
    duration_ms: float
    request_id: str
    executed_version: str = LATEST
    error_type: str | None = None
    cold_start: bool = False


def check_payload_size(payload: bytes, asynchronous: bool = False) -> None:
    """RequestTooLargeException, worded as AWS words it, above 6 MB (sync) or 1 MB (Event)."""
    limit = MAX_ASYNC_PAYLOAD if asynchronous else MAX_SYNC_PAYLOAD
    if len(payload) > limit:
        raise RequestTooLargeException(f"Request must be smaller than {limit} bytes for the InvokeFunction operation")


class Invoker:
    """Runs one synchronous invocation end to end."""

    def __init__(self, environments: EnvironmentPool, logs: LogShipper, telemetry: TelemetrySink = NULL_SINK) -> None:
        self._environments = environments
        self._logs = logs
        #: Every invocation, whoever asked for it, is reported here once (FunctionInvoked).
        self.telemetry = telemetry

    def invoke(
        self,
        config: FunctionConfig,
        payload: bytes,
        *,
        invoked_arn: str | None = None,
        tail: bool = False,
        client_context: str | None = None,
        invocation_type: str = "RequestResponse",
    ) -> InvokeResult:
        """Run ``config`` (a $LATEST or published snapshot); ``invoked_arn`` is the ARN as the
        caller named it (an alias ARN, say), which the handler sees as invoked_function_arn.
        ``invocation_type`` says who asked (RequestResponse, Event, or a mapping's source), for telemetry."""
        check_payload_size(payload)
        qualifier = _qualifier_of(invoked_arn, config)
        try:
            env = self._environments.acquire(config)
        except TooManyRequestsException as error:
            self.telemetry.emit(
                FunctionInvoked(
                    function_name=config.name,
                    qualifier=qualifier,
                    invocation_type=invocation_type,
                    outcome=InvokeOutcome.THROTTLED,
                    duration_ms=0.0,
                    error_type="TooManyRequestsException",
                    error_message=error.message,
                    region=config.region,
                    executed_version=config.version,
                )
            )
            raise
        invocation = Invocation(
            payload=payload or b"{}",
            function_arn=invoked_arn or config.arn,
            timeout_s=config.timeout,
            client_context=client_context,
        )
        # Not ``env.initialized``: a fresh runtime may reach /next before this line runs.
        cold = env.assigned == 0
        # Counted with this one running, as AWS's ConcurrentExecutions is.
        concurrent = self._environments.busy()
        reusable = False
        try:
            env.assign(invocation)
            outcome = self._await(env, invocation, config)
            reusable = outcome.kind in ("response", "error") and env.alive
            body_lines = env.take_output()
            memory_mb = env.max_memory_used_mb()
        finally:
            self._environments.release(env, reusable)
        lines = _compose_log(config, env, invocation, outcome, body_lines, memory_mb, cold)
        self._logs.submit(config.region, config.log_group_name, env.log_stream_name, lines)
        duration_ms = _duration_ms(invocation, config)
        self.telemetry.emit(
            FunctionInvoked(
                function_name=config.name,
                qualifier=qualifier,
                invocation_type=invocation_type,
                outcome=_outcome_of(outcome),
                duration_ms=duration_ms,
                request_id=invocation.request_id,
                cold_start=cold,
                concurrent_executions=concurrent,
                error_type=outcome.error_type if outcome.function_error else None,
                error_message=_error_message(outcome) if outcome.function_error else None,
                region=config.region,
                executed_version=config.version,
                log_lines=tuple(message for _, message in lines[-TELEMETRY_LOG_LINES:]),
            )
        )
        return InvokeResult(
            status_code=200,
            payload=outcome.payload,
            function_error=outcome.function_error,
            log_tail=_tail(lines) if tail else None,
            duration_ms=duration_ms,
            request_id=invocation.request_id,
            executed_version=config.version,
            error_type=outcome.error_type,
            cold_start=cold,
        )

    def _await(self, env: ExecutionEnvironment, invocation: Invocation, config: FunctionConfig) -> Outcome:
        """Wait for the outcome; the timeout counts from when the runtime received the event."""
        if env.initialized:
            # Warm: the runtime already waits on /next, so delivery is immediate and one wait
            # is enough; a late delivery only extends it.
            if not invocation.done.wait(config.timeout):
                remaining = (
                    config.timeout - (time.perf_counter() - invocation.delivered_at) if invocation.delivered_at else 0
                )
                if remaining <= 0 or not invocation.done.wait(remaining):
                    self._time_out(env, invocation, config.timeout)
        else:
            if not invocation.delivered.wait(INIT_TIMEOUT_S):
                self._time_out(env, invocation, INIT_TIMEOUT_S)
            if invocation.outcome is None:
                remaining = config.timeout - (time.perf_counter() - invocation.delivered_at)
                if not invocation.done.wait(max(0.0, remaining)):
                    self._time_out(env, invocation, config.timeout)
        assert invocation.outcome is not None
        return invocation.outcome

    @staticmethod
    def _time_out(env: ExecutionEnvironment, invocation: Invocation, seconds: float) -> None:
        message = f"RequestId: {invocation.request_id} Error: Task timed out after {seconds:.2f} seconds"
        if invocation.finish(Outcome("timeout", _error_body("Sandbox.Timedout", message), "Sandbox.Timedout")):
            env.kill()


def _qualifier_of(invoked_arn: str | None, config: FunctionConfig) -> str:
    """The qualifier as the caller named it: an alias name, a version, or $LATEST."""
    parts = (invoked_arn or "").split(":")
    return parts[7] if len(parts) > 7 and parts[7] else config.version


def _outcome_of(outcome: Outcome) -> InvokeOutcome:
    if outcome.kind == "timeout":
        return InvokeOutcome.TIMEOUT
    return InvokeOutcome.FUNCTION_ERROR if outcome.function_error else InvokeOutcome.SUCCESS


def _error_message(outcome: Outcome) -> str | None:
    try:
        body = json.loads(outcome.payload)
    except ValueError:
        return None
    message = body.get("errorMessage") if isinstance(body, dict) else None
    return str(message) if message is not None else None


def _error_body(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def _duration_ms(invocation: Invocation, config: FunctionConfig) -> float:
    if not invocation.delivered_at:
        return 0.0
    if invocation.outcome is not None and invocation.outcome.kind == "timeout":
        return config.timeout * 1000.0
    return max(0.0, (invocation.finished_at - invocation.delivered_at) * 1000)


def _compose_log(
    config: FunctionConfig,
    env: ExecutionEnvironment,
    invocation: Invocation,
    outcome: Outcome,
    body_lines: list[LogLine],
    memory_mb: int,
    cold: bool,
) -> list[LogLine]:
    """The invocation's CloudWatch events in AWS's order and wording."""
    now = int(time.time() * 1000)
    request_id = invocation.request_id
    duration = _duration_ms(invocation, config)
    started = invocation.delivered_epoch_ms or now
    lines: list[LogLine] = []
    if cold:
        lines.append((env.spawned_epoch_ms or started, init_start_line(config)))
    lines.extend(invocation.pre_lines)
    status = ""
    if outcome.kind == "init_error":
        lines.extend(body_lines)
        body_lines = []
        lines.append(
            (
                now,
                f"INIT_REPORT Init Duration: {env.init_duration_ms:.2f} ms\tPhase: init\tStatus: "
                f"error\tError Type: {outcome.error_type}",
            )
        )
        status = f"Status: error\tError Type: {outcome.error_type}\t"
    lines.append((started, f"START RequestId: {request_id} Version: {config.version}"))
    lines.extend(body_lines)
    if outcome.kind == "timeout":
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        seconds = float(json.loads(outcome.payload)["errorMessage"].rsplit("after ", 1)[1].split()[0])
        lines.append((now, f"{stamp} {request_id} Task timed out after {seconds:.2f} seconds"))
        status = "Status: timeout\t"
    elif outcome.kind == "exit":
        message = json.loads(outcome.payload)["errorMessage"]
        lines.append((now, f"{message}\nRuntime.ExitError"))
        status = "Status: error\tError Type: Runtime.ExitError\t"
    lines.append((now, f"END RequestId: {request_id}"))
    report = (
        f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\tBilled Duration: {max(1, math.ceil(duration))} "
        "ms\t"
        f"Memory Size: {config.memory_size} MB\tMax Memory Used: {memory_mb} MB\t"
    )
    if cold and outcome.kind != "init_error":
        report += f"Init Duration: {env.init_duration_ms:.2f} ms\t"
    lines.append((now, report + status))
    return _in_order(lines)


def init_start_line(config: FunctionConfig) -> str:
    """INIT_START as AWS writes it, naming the interpreter that really runs the function, and
    saying so when it is not the runtime's Python (see ``interpreters.py``)."""
    interpreter = config.interpreter
    line = (
        f"INIT_START Runtime Version: {interpreter.runtime_version}\t"
        f"Runtime Version ARN: {interpreter.runtime_version_arn(config.region)}"
    )
    if interpreter.problem:
        line += f"\tWarning: {interpreter.problem}"
    return line


def _in_order(lines: list[LogLine]) -> list[LogLine]:
    """Make timestamps non-decreasing in the composed order, so readers that sort by time
    (FilterLogEvents) see START before the output it precedes, even for lines stamped late."""
    ordered: list[LogLine] = []
    latest = 0
    for stamp, message in lines:
        latest = max(latest, stamp)
        ordered.append((latest, message))
    return ordered


def _tail(lines: list[LogLine]) -> str:
    text = "".join(message + "\n" for _, message in lines).encode()
    return base64.b64encode(text[-LOG_TAIL_BYTES:]).decode()
