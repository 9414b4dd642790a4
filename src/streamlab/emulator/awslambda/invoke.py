"""The invocation lifecycle: get an environment, hand over the event, wait for the
outcome within the function's timeout, write the log lines, give the environment back.

:class:`Invoker` is what both the REST ``Invoke`` operation and the in-process event
source mapping engine call; :class:`AsyncInvoker` runs ``InvocationType=Event`` invokes
in the background with Lambda's retry rules.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from streamlab.emulator.awslambda.environments import EnvironmentManager, ExecutionEnvironment
from streamlab.emulator.awslambda.exceptions import LambdaError, RequestTooLargeException, TooManyRequestsException
from streamlab.emulator.awslambda.invocation import Invocation, LogLine, Outcome
from streamlab.emulator.awslambda.logs import LogShipper
from streamlab.emulator.awslambda.models import LATEST, Function, FunctionConfig

log = logging.getLogger(__name__)

MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD = 1024 * 1024
#: Lambda gives a runtime 10 s to initialise before the first event (on-demand functions).
INIT_TIMEOUT_S = 10.0
LOG_TAIL_BYTES = 4096


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

    def __init__(self, environments: EnvironmentManager, logs: LogShipper) -> None:
        self._environments = environments
        self._logs = logs

    def invoke(
        self, function: Function, payload: bytes, *, tail: bool = False, client_context: str | None = None
    ) -> InvokeResult:
        check_payload_size(payload)
        config = function.config
        env = self._environments.acquire(config)
        invocation = Invocation(
            payload=payload or b"{}", function_arn=config.arn, timeout_s=config.timeout, client_context=client_context
        )
        cold = not env.initialized
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
        return InvokeResult(
            status_code=200,
            payload=outcome.payload,
            function_error=outcome.function_error,
            log_tail=_tail(lines) if tail else None,
            duration_ms=duration_ms,
            request_id=invocation.request_id,
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
        lines.append(
            (
                env.spawned_epoch_ms or started,
                f"INIT_START Runtime Version: {config.runtime.replace('python', 'python:')}.streamlab\tRuntime "
                f"Version ARN: arn:aws:lambda:{config.region}::runtime:streamlab-{config.runtime}",
            )
        )
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
    lines.append((started, f"START RequestId: {request_id} Version: {LATEST}"))
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


FunctionLookup = Callable[[], Function | None]


class AsyncInvoker:
    """``InvocationType=Event``: queued, run in the background, retried like Lambda does.

    Throttles are retried with a short backoff (AWS keeps retrying for up to 6 hours);
    function errors are retried ``max_retries`` times after ``retry_delays`` (AWS: two
    retries, about 1 and 2 minutes apart).
    """

    def __init__(
        self,
        invoker: Invoker,
        workers: int = 8,
        max_retries: int = 2,
        retry_delays: tuple[float, ...] = (60.0, 120.0),
        max_event_age_s: float = 6 * 3600,
    ) -> None:
        self._invoker = invoker
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lambda-async")
        self.max_retries = max_retries
        self.retry_delays = retry_delays
        self.max_event_age_s = max_event_age_s
        self._timers: set[threading.Timer] = set()
        self._lock = threading.Lock()
        self._stopped = False

    def submit(self, lookup: FunctionLookup, payload: bytes) -> None:
        check_payload_size(payload, asynchronous=True)
        self._schedule(0.0, lookup, payload, attempt=0, queued_at=time.monotonic())

    def _schedule(self, delay: float, lookup: FunctionLookup, payload: bytes, attempt: int, queued_at: float) -> None:
        with self._lock:
            if self._stopped:
                return
            if delay <= 0:
                self._pool.submit(self._run, lookup, payload, attempt, queued_at)
                return
            timer = threading.Timer(delay, self._schedule, args=(0.0, lookup, payload, attempt, queued_at))
            timer.daemon = True
            self._timers = {t for t in self._timers if t.is_alive()}
            self._timers.add(timer)
            timer.start()

    def _run(self, lookup: FunctionLookup, payload: bytes, attempt: int, queued_at: float) -> None:
        function = lookup()
        if function is None:
            return  # deleted meanwhile: AWS drops the event too
        throttle_backoff = 0.05
        while True:
            if time.monotonic() - queued_at > self.max_event_age_s:
                log.warning(
                    "dropping an Event invocation of %s: older than %.0f s", function.name, self.max_event_age_s
                )
                return
            try:
                result = self._invoker.invoke(function, payload)
                break
            except TooManyRequestsException:
                with self._lock:
                    if self._stopped:
                        return
                time.sleep(throttle_backoff)
                throttle_backoff = min(1.0, throttle_backoff * 2)
                function = lookup() or function
            except LambdaError as error:
                log.warning("Event invocation of %s failed: %s", function.name, error.message)
                return
        if result.function_error and attempt < self.max_retries:
            delay = self.retry_delays[min(attempt, len(self.retry_delays) - 1)]
            self._schedule(delay, lookup, payload, attempt + 1, queued_at)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)
