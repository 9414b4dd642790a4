"""The pool of execution environments, with Lambda's concurrency rules.

A function with reserved concurrency N runs at most N invocations at once, across all its
versions; all other functions share what is left of the account limit. Environments are reused
warm by the same function version ($LATEST, or a published version, each with its own
environments as on AWS), and retired (killed once idle) when $LATEST's code or configuration
changes.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from streamlab.emulator.awslambda.environment import EnvironmentSettings, ExecutionEnvironment
from streamlab.emulator.awslambda.exceptions import ServiceException, TooManyRequestsException
from streamlab.emulator.awslambda.models import LATEST, FunctionConfig

FunctionKey = tuple[str, str]  # (region, name): what concurrency is counted by
VersionKey = tuple[str, str, str]  # (region, name, version): what warm environments are reused by


def _function_key(env: ExecutionEnvironment) -> FunctionKey:
    return env.config.region, env.config.name


def _version_key(config: FunctionConfig) -> VersionKey:
    return config.region, config.name, config.version


class EnvironmentPool:
    """Hands out environments under Lambda's concurrency rules and retires stale ones."""

    def __init__(
        self, settings: EnvironmentSettings, account_concurrency: int = 10, max_idle_environments: int = 24
    ) -> None:
        self.settings = settings
        self.account_concurrency = account_concurrency
        self.max_idle_environments = max_idle_environments
        self._lock = threading.Lock()
        self._idle: dict[VersionKey, list[ExecutionEnvironment]] = {}
        self._idle_lru: OrderedDict[ExecutionEnvironment, None] = OrderedDict()
        self._busy: dict[FunctionKey, int] = {}
        self._unreserved_busy = 0
        self._reserved: dict[FunctionKey, int] = {}
        self._min_generation: dict[FunctionKey, int] = {}
        self._all: set[ExecutionEnvironment] = set()
        self._stopped = False

    # -- concurrency settings -----------------------------------------------------------
    def reserved_total(self, excluding: FunctionKey | None = None) -> int:
        with self._lock:
            return sum(v for k, v in self._reserved.items() if k != excluding)

    def set_reserved(self, key: FunctionKey, value: int | None) -> None:
        with self._lock:
            if value is None:
                self._reserved.pop(key, None)
            else:
                self._reserved[key] = value

    def unreserved_limit(self) -> int:
        return max(0, self.account_concurrency - sum(self._reserved.values()))

    # -- what is running (metrics, status) ------------------------------------------------
    def busy(self, key: FunctionKey | None = None) -> int:
        """Environments running an invocation now: of one function, or of the account."""
        with self._lock:
            return self._busy.get(key, 0) if key is not None else sum(self._busy.values())

    def idle_count(self, key: FunctionKey) -> int:
        """Warm environments of a function (all its versions) waiting for an invocation."""
        with self._lock:
            return sum(len(envs) for version, envs in self._idle.items() if version[:2] == key)

    # -- acquire / release --------------------------------------------------------------
    def acquire(self, config: FunctionConfig) -> ExecutionEnvironment:
        """A warm environment of this snapshot, or a new one; TooManyRequests when at the limit."""
        key = (config.region, config.name)
        stale: list[ExecutionEnvironment] = []
        env: ExecutionEnvironment | None = None
        with self._lock:
            if self._stopped:
                raise ServiceException("The Lambda service is shutting down.")
            reserved = self._reserved.get(key)
            busy = self._busy.get(key, 0)
            if reserved is not None:
                if busy >= reserved:
                    raise TooManyRequestsException(
                        "Rate Exceeded.", "ReservedFunctionConcurrentInvocationLimitExceeded"
                    )
            elif self._unreserved_busy >= self.unreserved_limit():
                raise TooManyRequestsException("Rate Exceeded.", "ConcurrentInvocationLimitExceeded")
            counted_unreserved = reserved is None
            self._busy[key] = busy + 1
            if counted_unreserved:
                self._unreserved_busy += 1
            idle = self._idle.get(_version_key(config))
            while idle:
                candidate = idle.pop()
                self._idle_lru.pop(candidate, None)
                if candidate.alive and candidate.generation == config.generation:
                    env = candidate
                    break
                stale.append(candidate)
        for old in stale:
            old.kill()
        if env is None:
            env = ExecutionEnvironment(config, self.settings, on_exit=self._forget)
            try:
                env.start()
            except Exception as error:
                self._unbusy(key, counted_unreserved)
                raise ServiceException(f"Could not start an execution environment: {error}") from error
            with self._lock:
                self._all.add(env)
        env.counted_unreserved = counted_unreserved
        return env

    def release(self, env: ExecutionEnvironment, reusable: bool) -> None:
        key = _function_key(env)
        evicted: list[ExecutionEnvironment] = []
        with self._lock:
            self._busy[key] = max(0, self._busy.get(key, 0) - 1)
            if env.counted_unreserved:
                self._unreserved_busy = max(0, self._unreserved_busy - 1)
            env.current = None
            keep = reusable and env.alive and not self._stopped and not self._is_stale(env)
            if keep:
                self._idle.setdefault(_version_key(env.config), []).append(env)
                self._idle_lru[env] = None
                while len(self._idle_lru) > self.max_idle_environments:
                    oldest, _ = self._idle_lru.popitem(last=False)
                    idle = self._idle.get(_version_key(oldest.config), [])
                    if oldest in idle:
                        idle.remove(oldest)
                    evicted.append(oldest)
        if not keep:
            env.kill()
        for old in evicted:
            old.kill()

    def _is_stale(self, env: ExecutionEnvironment) -> bool:
        """A $LATEST environment older than the last update (published versions never change)."""
        return env.config.version == LATEST and env.generation < self._min_generation.get(_function_key(env), 0)

    def _unbusy(self, key: FunctionKey, counted_unreserved: bool) -> None:
        with self._lock:
            self._busy[key] = max(0, self._busy.get(key, 0) - 1)
            if counted_unreserved:
                self._unreserved_busy = max(0, self._unreserved_busy - 1)

    # -- retirement ---------------------------------------------------------------------
    def retire(self, key: FunctionKey, generation: int) -> None:
        """$LATEST environments older than ``generation`` die now if idle, or after their invocation."""
        with self._lock:
            self._min_generation[key] = generation
            stale = self._take_idle(lambda env: _function_key(env) == key and self._is_stale(env))
        for env in stale:
            env.kill()

    def discard_version(self, region: str, name: str, version: str) -> None:
        """A published version was deleted: kill its environments, busy ones included."""
        with self._lock:
            envs = [env for env in self._all if _version_key(env.config) == (region, name, version)]
            self._take_idle(lambda env: _version_key(env.config) == (region, name, version))
        for env in envs:
            env.kill()

    def discard_function(self, key: FunctionKey) -> None:
        """The function is gone: kill all its environments, busy ones included."""
        with self._lock:
            envs = [env for env in self._all if _function_key(env) == key]
            self._take_idle(lambda env: _function_key(env) == key)
            self._reserved.pop(key, None)
            self._min_generation.pop(key, None)
        for env in envs:
            env.kill()

    def _take_idle(self, wanted: Callable[[ExecutionEnvironment], bool]) -> list[ExecutionEnvironment]:
        """Remove and return the idle environments ``wanted`` selects; caller holds the lock."""
        taken = [env for env in self._idle_lru if wanted(env)]
        for env in taken:
            self._idle_lru.pop(env, None)
            idle = self._idle.get(_version_key(env.config), [])
            if env in idle:
                idle.remove(env)
        return taken

    def _forget(self, env: ExecutionEnvironment) -> None:
        with self._lock:
            self._all.discard(env)
            idle = self._idle.get(_version_key(env.config))
            if idle and env in idle:
                idle.remove(env)
            self._idle_lru.pop(env, None)

    def environments(self, key: FunctionKey | None = None) -> list[ExecutionEnvironment]:
        with self._lock:
            return [env for env in self._all if key is None or _function_key(env) == key]

    def stop(self, timeout: float = 5.0) -> None:
        """Kill every environment and wait for the processes to be reaped."""
        with self._lock:
            self._stopped = True
            envs = list(self._all)
            self._idle.clear()
            self._idle_lru.clear()
        for env in envs:
            env.kill()
        deadline = time.monotonic() + timeout
        for env in envs:
            env.wait(max(0.0, deadline - time.monotonic()))
