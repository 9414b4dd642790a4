"""CloudWatch Logs output of the Lambda service, written off the invocation's hot path.

Invocations hand their lines to :class:`LogShipper`; a background thread writes them to
the endpoint's CloudWatch Logs: log group ``/aws/lambda/<name>``, one stream per
execution environment, as AWS does. Lines are batched for ``batch_delay`` (50 ms), so
they are visible to ``FilterLogEvents`` well within a second.

The writer talks to moto's logs backend in-process (:class:`MotoLogsWriter`) rather
than through boto3 and HTTP: measured here, a boto3 PutLogEvents per invocation costs
more CPU than the invocation itself and, through the GIL, tripled warm invoke latency.
:class:`Boto3LogsWriter` remains for endpoints whose logs service is not this process's moto.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from streamlab.aws_rules import ACCOUNT_ID
from streamlab.emulator.awslambda.invocation import LogLine
from streamlab.emulator.endpoint_clients import EndpointClients

log = logging.getLogger(__name__)

#: PutLogEvents limits: 10,000 events and 1,048,576 bytes (26 bytes overhead per event).
_MAX_BATCH_EVENTS = 10_000
_MAX_BATCH_BYTES = 1_000_000
_MAX_EVENT_BYTES = 256 * 1024 - 26

_Item = tuple[str, str, str, list[LogLine]]


class LogsWriter(Protocol):
    def ensure_stream(self, region: str, group: str, stream: str) -> None: ...

    def put(self, region: str, group: str, stream: str, events: list[dict[str, Any]]) -> None: ...


class MotoLogsWriter:
    """Writes straight into moto's logs backend of this process (moto's default account)."""

    def __init__(self, account_id: str = ACCOUNT_ID) -> None:
        from moto.logs.models import logs_backends

        self._backends = logs_backends
        self._account_id = account_id

    def ensure_stream(self, region: str, group: str, stream: str) -> None:
        from moto.logs.exceptions import ResourceAlreadyExistsException

        backend = self._backends[self._account_id][region]
        if group not in backend.groups:
            with contextlib.suppress(ResourceAlreadyExistsException):
                backend.create_log_group(group, {})
        if stream not in backend.groups[group].streams:
            with contextlib.suppress(ResourceAlreadyExistsException):
                backend.create_log_stream(group, stream)

    def put(self, region: str, group: str, stream: str, events: list[dict[str, Any]]) -> None:
        self._backends[self._account_id][region].put_log_events(group, stream, events)


class Boto3LogsWriter:
    """Writes through the public API of the endpoint (PutLogEvents)."""

    def __init__(self, endpoint_url: Callable[[], str]) -> None:
        self._clients = EndpointClients(endpoint_url)

    def _client(self, region: str) -> Any:
        return self._clients.get("logs", region)

    def ensure_stream(self, region: str, group: str, stream: str) -> None:
        client = self._client(region)
        for create, options in (
            (client.create_log_group, {"logGroupName": group}),
            (client.create_log_stream, {"logGroupName": group, "logStreamName": stream}),
        ):
            with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
                create(**options)

    def put(self, region: str, group: str, stream: str, events: list[dict[str, Any]]) -> None:
        self._client(region).put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


class LogShipper:
    """Queues log lines and writes them to CloudWatch Logs from one background thread."""

    def __init__(self, writer: LogsWriter, batch_delay: float = 0.05) -> None:
        self._writer = writer
        self.batch_delay = batch_delay
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._streams: set[tuple[str, str, str]] = set()
        self._pending = 0
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="lambda-logs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        if self._thread is None:
            return
        self.flush(timeout)
        self._queue.put(None)
        self._thread.join(timeout)
        self._thread = None

    def submit(self, region: str, group: str, stream: str, lines: list[LogLine]) -> None:
        if not lines:
            return
        with self._idle:
            self._pending += 1
        self._queue.put((region, group, stream, lines))

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait until everything submitted so far is written; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self.batch_delay > 0:
                time.sleep(self.batch_delay)
            batch = [item]
            while True:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._write(batch)
                    return
                batch.append(more)
            self._write(batch)

    def _write(self, batch: list[_Item]) -> None:
        by_stream: dict[tuple[str, str, str], list[LogLine]] = {}
        for region, group, stream, lines in batch:
            by_stream.setdefault((region, group, stream), []).extend(lines)
        try:
            for (region, group, stream), lines in by_stream.items():
                try:
                    self._put(region, group, stream, lines)
                except Exception:
                    log.exception("could not write %d log lines to %s/%s", len(lines), group, stream)
        finally:
            with self._idle:
                self._pending -= len(batch)
                self._idle.notify_all()

    def _put(self, region: str, group: str, stream: str, lines: list[LogLine]) -> None:
        if (region, group, stream) not in self._streams:
            self._writer.ensure_stream(region, group, stream)
            self._streams.add((region, group, stream))
        events: list[dict[str, Any]] = [
            {"timestamp": ts, "message": _clip(message)} for ts, message in sorted(lines, key=lambda line: line[0])
        ]
        chunk: list[dict[str, Any]] = []
        size = 0
        for event in events:
            event_size = len(event["message"].encode()) + 26
            if chunk and (len(chunk) >= _MAX_BATCH_EVENTS or size + event_size > _MAX_BATCH_BYTES):
                self._put_chunk(region, group, stream, chunk)
                chunk, size = [], 0
            chunk.append(event)
            size += event_size
        if chunk:
            self._put_chunk(region, group, stream, chunk)

    def _put_chunk(self, region: str, group: str, stream: str, events: list[dict[str, Any]]) -> None:
        try:
            self._writer.put(region, group, stream, events)
        except Exception:
            self._streams.discard((region, group, stream))
            self._writer.ensure_stream(region, group, stream)
            self._streams.add((region, group, stream))
            self._writer.put(region, group, stream, events)


def _clip(message: str) -> str:
    data = message.encode()
    if len(data) <= _MAX_EVENT_BYTES:
        return message or " "
    return data[:_MAX_EVENT_BYTES].decode(errors="ignore")
