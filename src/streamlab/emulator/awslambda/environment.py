"""One execution environment: an awslambdaric subprocess, its Runtime API server, its output.

Each environment is ``<interpreter> -S -m awslambdaric <handler>``, started in its own process
group with the function's code as its working directory. The interpreter is the one chosen for
the function's runtime (see ``interpreters.py``). ``-S`` keeps that interpreter's site-packages
out of the function's ``sys.path``: it sees the task root first, then its layers' ``python/``
directories, then a runtime directory holding only what AWS's Python runtime provides
(awslambdaric, boto3 and their dependencies, see ``runtime_packages.py``), as on AWS. Skipping
``site`` also makes cold starts faster.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from streamlab.emulator.awslambda.invocation import Invocation, LogLine, Outcome
from streamlab.emulator.awslambda.layers import layer_python_paths
from streamlab.emulator.awslambda.models import FunctionConfig
from streamlab.emulator.awslambda.runtime_api import MAX_RESPONSE_BYTES, RuntimeApiServer

log = logging.getLogger(__name__)

MEMORY_SAMPLE_INTERVAL_S = 0.25

_SIGNAL_TEXT: dict[int, str] = {
    signal.SIGKILL: "killed",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGTERM: "terminated",
    signal.SIGBUS: "bus error",
}


@dataclass
class EnvironmentSettings:
    """What every environment of the service shares."""

    endpoint_url: Callable[[], str]
    runtime_dir: Path


class ExecutionEnvironment:
    """One awslambdaric process, its Runtime API server and its captured output."""

    def __init__(
        self, config: FunctionConfig, settings: EnvironmentSettings, on_exit: Callable[[ExecutionEnvironment], None]
    ) -> None:
        self.id = uuid.uuid4().hex
        self.config = config
        self.settings = settings
        self._on_exit = on_exit
        today = datetime.now(UTC).strftime("%Y/%m/%d")
        self.log_stream_name = f"{today}/[{config.version}]{self.id}"
        self.server = RuntimeApiServer(self)
        # The hand-over: an invocation waiting for the runtime, or the runtime waiting (parked
        # ``deliver`` callback) for an invocation; never both.
        self._handoff_lock = threading.Lock()
        self._queued: Invocation | None = None
        self._parked: Callable[[Invocation], None] | None = None
        self.current: Invocation | None = None
        #: Invocations handed to this environment: its first one is the cold start.
        self.assigned = 0
        self.initialized = False
        self.init_duration_ms = 0.0
        self.alive = True
        self.exit_status: str | None = None
        #: Whether the invocation it runs counts against the unreserved pool (set by the manager).
        self.counted_unreserved = False
        self.process: subprocess.Popen[bytes] | None = None
        self._spawned_at = 0.0
        self.spawned_epoch_ms = 0
        self._out_fd = -1
        self._out_lock = threading.Lock()
        self._out_buffer = bytearray()
        self._out_lines: list[LogLine] = []
        self._out_eof = False
        self._peak_memory_mb = 0
        self._memory_sampled_at = -1e9
        self._reap_lock = threading.Lock()
        self._reaped = False
        self._exited = threading.Event()

    @property
    def generation(self) -> int:
        return self.config.generation

    @property
    def python(self) -> str:
        """The interpreter chosen for the function's runtime."""
        return self.config.interpreter.interpreter.path

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        self.server.start()
        read_fd, write_fd = os.pipe()
        try:
            self._spawned_at = time.perf_counter()
            self.spawned_epoch_ms = int(time.time() * 1000)
            self.process = subprocess.Popen(
                [self.python, "-S", "-m", "awslambdaric", self.config.handler],
                cwd=str(self.config.code.directory),
                env=self._environment_variables(),
                stdin=subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                start_new_session=True,
                close_fds=True,
            )
        except OSError:
            os.close(read_fd)
            self.server.stop()
            raise
        finally:
            os.close(write_fd)
        os.set_blocking(read_fd, False)
        self._out_fd = read_fd
        threading.Thread(target=self._pump_output, name=f"lambda-out-{self.id[:8]}", daemon=True).start()
        threading.Thread(target=self._watch_exit, name=f"lambda-exit-{self.id[:8]}", daemon=True).start()

    def _environment_variables(self) -> dict[str, str]:
        config = self.config
        task_root = str(config.code.directory)
        runtime_dir = str(self.settings.runtime_dir)
        python_path = [task_root]
        # AWS: /var/lang/bin (the runtime's python) first, /opt/bin last; here the interpreter's bin.
        path = [str(Path(self.python).parent), "/usr/local/bin", "/usr/bin", "/bin"]
        library_path: list[str] = []
        if config.opt_directory is not None:
            python_path += layer_python_paths(config.opt_directory, config.interpreter.interpreter.minor)
            path.append(str(config.opt_directory / "bin"))
            library_path.append(str(config.opt_directory / "lib"))
        if config.interpreter.overlay is not None:
            python_path.append(str(config.interpreter.overlay))
        python_path.append(runtime_dir)
        variables = {
            "PATH": os.pathsep.join(path),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "AWS_ENDPOINT_URL": self.settings.endpoint_url(),
        }
        if library_path:
            variables["LD_LIBRARY_PATH"] = os.pathsep.join(library_path)
        if config.log_format == "JSON":
            variables["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
        variables.update(config.environment)
        variables.update(
            {
                "_HANDLER": config.handler,
                "AWS_REGION": config.region,
                "AWS_DEFAULT_REGION": config.region,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.runtime}",
                "AWS_LAMBDA_FUNCTION_NAME": config.name,
                "AWS_LAMBDA_FUNCTION_VERSION": config.version,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_size),
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_LAMBDA_LOG_GROUP_NAME": config.log_group_name,
                "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream_name,
                "AWS_LAMBDA_RUNTIME_API": self.server.address,
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_SESSION_TOKEN": "test",
                "LAMBDA_TASK_ROOT": task_root,
                "LAMBDA_RUNTIME_DIR": runtime_dir,
                "PYTHONPATH": os.pathsep.join(python_path),
            }
        )
        return variables

    def kill(self) -> None:
        """SIGKILL the whole process group; the exit watcher does the bookkeeping."""
        self.alive = False
        with self._reap_lock:
            if self.process is not None and not self._reaped:
                _kill_group(self.process.pid)

    def wait(self, timeout: float) -> bool:
        """Wait until the exit watcher has reaped the process (only it reaps, see below)."""
        return self._exited.wait(timeout)

    def _watch_exit(self) -> None:
        assert self.process is not None
        pid = self.process.pid
        # Wait without reaping: while the leader is a zombie its group id cannot be
        # reused, so killing the group below can only hit the handler's own children.
        with contextlib.suppress(AttributeError, ChildProcessError, OSError):
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        with self._reap_lock:
            _kill_group(pid)
            code = self.process.wait()
            self._reaped = True
        self._exited.set()
        self.alive = False
        if code < 0:
            self.exit_status = f"signal: {_SIGNAL_TEXT.get(-code, str(-code))}"
        else:
            self.exit_status = f"exit status {code}"
        invocation = self.current
        if invocation is not None:
            message = f"RequestId: {invocation.request_id} Error: Runtime exited with error: {self.exit_status}"
            body = json.dumps({"errorType": "Runtime.ExitError", "errorMessage": message}).encode()
            invocation.finish(Outcome("exit", body, "Runtime.ExitError"))
        self.server.stop()
        self._on_exit(self)

    # -- handing over invocations -------------------------------------------------------
    def assign(self, invocation: Invocation) -> None:
        """Give the environment its next invocation (delivered now if the runtime waits)."""
        self.assigned += 1
        self.current = invocation
        if not self.alive:
            # Died between the pool handing it out and now: let the caller see the crash.
            status = self.exit_status or "signal: killed"
            message = f"RequestId: {invocation.request_id} Error: Runtime exited with error: {status}"
            invocation.finish(
                Outcome(
                    "exit",
                    json.dumps({"errorType": "Runtime.ExitError", "errorMessage": message}).encode(),
                    "Runtime.ExitError",
                )
            )
            return
        with self._handoff_lock:
            deliver, self._parked = self._parked, None
            if deliver is None:
                self._queued = invocation
                return
        self._deliver(invocation, deliver)

    def _deliver(self, invocation: Invocation, deliver: Callable[[Invocation], None]) -> None:
        if invocation.outcome is not None:  # ended (e.g. timed out) before the runtime asked
            return
        invocation.pre_lines = self.take_output()
        invocation.mark_delivered()
        # An OSError means the runtime is gone: the exit watcher reports Runtime.ExitError.
        with contextlib.suppress(OSError):
            deliver(invocation)

    # -- RuntimeApiHandler --------------------------------------------------------------
    def next_invocation(self, deliver: Callable[[Invocation], None]) -> None:
        if not self.initialized:
            self.init_duration_ms = (time.perf_counter() - self._spawned_at) * 1000
            self.initialized = True
        with self._handoff_lock:
            invocation, self._queued = self._queued, None
            if invocation is None:
                self._parked = deliver
                return
        self._deliver(invocation, deliver)

    def invocation_response(self, request_id: str, body: bytes) -> tuple[int, dict[str, str]]:
        invocation = self._invocation(request_id)
        if invocation is None:
            return 400, {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}
        if len(body) > MAX_RESPONSE_BYTES:
            error = {
                "errorMessage": f"Response payload size ({len(body)} bytes) exceeded maximum allowed "
                "payload size ({MAX_RESPONSE_BYTES} bytes).",
                "errorType": "Function.ResponseSizeTooLarge",
            }
            invocation.finish(Outcome("error", json.dumps(error).encode(), "Function.ResponseSizeTooLarge"))
            return 413, {"errorMessage": "Exceeded maximum allowed payload size", "errorType": "RequestEntityTooLarge"}
        invocation.finish(Outcome("response", body))
        return 202, {"status": "OK"}

    def invocation_error(self, request_id: str, body: bytes, error_type: str | None) -> tuple[int, dict[str, str]]:
        invocation = self._invocation(request_id)
        if invocation is None:
            return 400, {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}
        invocation.finish(Outcome("error", body, error_type or _error_type_of(body)))
        return 202, {"status": "OK"}

    def init_error(self, body: bytes, error_type: str | None) -> tuple[int, dict[str, str]]:
        self.init_duration_ms = (time.perf_counter() - self._spawned_at) * 1000
        self.alive = False
        invocation = self.current
        if invocation is not None:
            invocation.finish(Outcome("init_error", body, error_type or _error_type_of(body)))
        return 202, {"status": "OK"}

    def _invocation(self, request_id: str) -> Invocation | None:
        invocation = self.current
        if invocation is None or invocation.request_id != request_id:
            return None
        return invocation

    # -- output and memory --------------------------------------------------------------
    def take_output(self) -> list[LogLine]:
        """Every complete line the process wrote so far (drains the pipe first)."""
        with self._out_lock:
            self._read_available()
            lines, self._out_lines = self._out_lines, []
            if self._out_eof and self._out_buffer:
                lines.append((int(time.time() * 1000), _decode(bytes(self._out_buffer))))
                self._out_buffer.clear()
            return lines

    def _read_available(self) -> None:
        """Read what the pipe holds without blocking; caller holds ``_out_lock``."""
        if self._out_eof:
            return
        while True:
            try:
                chunk = os.read(self._out_fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                self._out_eof = True
                return
            self._out_buffer += chunk
            if b"\n" in chunk:
                now = int(time.time() * 1000)
                *complete, rest = bytes(self._out_buffer).split(b"\n")
                self._out_lines.extend((now, _decode(line)) for line in complete)
                self._out_buffer = bytearray(rest)

    def _pump_output(self) -> None:
        """Keep the pipe drained between invocations so a chatty process never blocks."""
        poller = select.poll()
        poller.register(self._out_fd, select.POLLIN | select.POLLHUP)
        while True:
            poller.poll()
            with self._out_lock:
                self._read_available()
                if self._out_eof:
                    break
            time.sleep(0.001)  # let an invoking thread that is about to drain win the lock
        os.close(self._out_fd)

    def max_memory_used_mb(self) -> int:
        """Peak RSS of the process (VmHWM on Linux, RSS through psutil elsewhere).

        Read at most every ``MEMORY_SAMPLE_INTERVAL_S``: the read costs ~80 µs, a tenth of a
        warm invoke, and the peak only grows, so a value a few hundred ms old is a fair floor.
        """
        process = self.process
        now = time.monotonic()
        if now - self._memory_sampled_at < MEMORY_SAMPLE_INTERVAL_S:
            return self._peak_memory_mb
        self._memory_sampled_at = now
        if process is not None and process.returncode is None:
            try:
                with open(f"/proc/{process.pid}/status", "rb") as status:
                    for line in status:
                        if line.startswith(b"VmHWM:"):
                            self._peak_memory_mb = max(self._peak_memory_mb, int(line.split()[1]) // 1024)
                            break
            except OSError:
                try:
                    import psutil

                    rss = psutil.Process(process.pid).memory_info().rss // (1024 * 1024)
                    self._peak_memory_mb = max(self._peak_memory_mb, rss)
                except Exception:
                    pass
        return self._peak_memory_mb


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _decode(line: bytes) -> str:
    # awslambdaric separates the lines of one error message with "\r" to keep it one event.
    return line.decode("utf-8", errors="replace").rstrip("\r").replace("\r", "\n")


def _error_type_of(body: bytes) -> str | None:
    try:
        error_type = json.loads(body).get("errorType")
    except (ValueError, AttributeError):
        return None
    return error_type if isinstance(error_type, str) else None
