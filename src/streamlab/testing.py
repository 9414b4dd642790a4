"""What a test suite of your own needs from streamlab, beside the pytest plugin's fixtures.

- :func:`eventually` polls a check until it holds: stream processing is asynchronous, so every
  assertion on a handler's effect is a wait.
- :class:`StreamProbe` is :func:`eventually` with timeouts scaled to the backend under test (the
  ``streamlab_stream_probe`` fixture hands you one).
- :class:`DeployedTemplate` is what the ``streamlab_deployed_stack`` fixture returns for a SAM /
  CloudFormation template: physical ids by logical id, outputs, and ``wait_for`` for a handler's
  effect.

Everything else in streamlab is internal and may change between releases.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["POLL_INTERVAL", "TIMEOUT_SCALE", "DeployedTemplate", "StreamProbe", "eventually"]

T = TypeVar("T")

#: How much slower an effect shows up than on the embedded endpoint: the container backend is the
#: same engine in another process (a little slack); LocalStack polls streams and cold-starts
#: function containers; AWS polls 4 times a second and its first invoke takes seconds.
TIMEOUT_SCALE: Mapping[str, float] = {"embedded": 1.0, "container": 1.5, "localstack": 6.0, "aws": 18.0}
POLL_INTERVAL: Mapping[str, float] = {"embedded": 0.05, "container": 0.05, "localstack": 0.5, "aws": 2.0}


def eventually(
    check: Callable[[], T | None],
    timeout: float = 5.0,
    interval: float = 0.05,
    message: str = "",
    retry_on: tuple[type[BaseException], ...] = (),
) -> T:
    """Call ``check`` until it returns something truthy and return that.

    An exception of a type in ``retry_on`` counts as "not yet". After ``timeout`` seconds an
    ``AssertionError`` names ``message`` (or the check) and the last value or exception seen.
    ``check`` runs at least once, however small ``timeout`` is.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            value = check()
            if value:
                return value
            last = value
        except retry_on as exc:
            last = exc
        if time.monotonic() >= deadline:
            what = message or getattr(check, "__name__", repr(check))
            raise AssertionError(f"{what}: not within {timeout:.1f} s; last: {last!r}"[:2000])
        time.sleep(interval)


@dataclass(frozen=True)
class StreamProbe:
    """Waits for what a stream handler does, with timeouts scaled to the backend.

    ``wait_for(check, timeout=10)`` calls ``check()`` until it returns something truthy and
    returns that; an ``AssertionError`` or boto3 ``ClientError`` from ``check`` counts as "not
    yet". ``timeout`` is what the embedded endpoint needs; it is multiplied by ``scale`` (6 on
    LocalStack, 18 on AWS). On timeout the test fails with the last value or exception seen.
    """

    backend: str
    scale: float
    interval: float

    @classmethod
    def for_backend(cls, backend: str) -> StreamProbe:
        return cls(backend, TIMEOUT_SCALE[backend], POLL_INTERVAL[backend])

    def timeout_for(self, timeout: float) -> float:
        return timeout * self.scale

    def wait_for(
        self, check: Callable[[], T | None], timeout: float = 10.0, message: str = "", interval: float | None = None
    ) -> T:
        from botocore.exceptions import ClientError

        what = message or getattr(check, "__name__", repr(check))
        return eventually(
            check,
            timeout=self.timeout_for(timeout),
            interval=interval if interval is not None else self.interval,
            message=f"{what} (on {self.backend})",
            retry_on=(AssertionError, ClientError),
        )


@dataclass(frozen=True)
class DeployedTemplate:
    """A template deployed as its own uniquely named stack by ``streamlab_deployed_stack``.

    ``physical_id("Orders")`` is what CloudFormation created for the logical id (a table's name,
    a queue's URL, a function's name); ``outputs`` are the stack's outputs; ``wait_for(check)``
    polls ``check`` with the backend's timeouts (:class:`StreamProbe`). The stack is deleted at
    the end of the session, its event source mappings and execution roles with it.
    """

    stack_name: str
    stack_id: str
    endpoint_url: str | None
    region: str
    outputs: Mapping[str, str]
    resources: Mapping[str, str]
    resource_types: Mapping[str, str]
    probe: StreamProbe

    def physical_id(self, logical_id: str) -> str:
        try:
            return self.resources[logical_id]
        except KeyError:
            raise KeyError(f"no resource {logical_id!r} in stack {self.stack_name}: {sorted(self.resources)}") from None

    def name(self, logical_id: str) -> str:
        """The same as :meth:`physical_id` (a table's or function's name)."""
        return self.physical_id(logical_id)

    def output(self, key: str) -> str:
        try:
            return self.outputs[key]
        except KeyError:
            raise KeyError(f"no output {key!r} in stack {self.stack_name}: {sorted(self.outputs)}") from None

    def wait_for(self, check: Callable[[], T | None], timeout: float = 10.0, message: str = "") -> T:
        """Wait for a handler's effect: ``check`` until truthy (AssertionError / ClientError mean not yet)."""
        return self.probe.wait_for(check, timeout=timeout, message=message)
