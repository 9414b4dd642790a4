"""Paced item writers for end-to-end measurements: K keys x N versions at a target rate.

Each write puts ``{pk: key, v: version, w: written_at}``; versions of a key are written in
increasing order by one writer, so the stream must deliver them in that order. The writer
records ``(key, version, write_ack)`` with ``write_ack = time.time()`` when PutItem returned:
that is what :func:`streamlab.measure.delivery.analyze` compares the handler's reports with.

Writers run in their own processes (:func:`run_paced_writers`): boto3 costs more CPU per call
than the endpoint's own work, and in the endpoint's process it would compete for the GIL
with the very pipeline being measured. For the same reason a writer may send its PutItems as
signed HTTP requests on one keep-alive connection (``client="http"``): the request boto3
sends (JSON 1.0, SigV4), without boto3's ~2 ms of CPU per call, which on a 2-core machine
otherwise takes CPU from the endpoint and caps the rate a run can offer.
"""

from __future__ import annotations

import base64
import http.client
import json
import math
import multiprocessing
import time
import urllib.parse
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from streamlab.errors import StreamlabError
from streamlab.measure.delivery import WriteTuple
from streamlab.measure.item_shape import ItemShape

#: ``(key, version, written_at, write_ack)``: when the PutItem was sent and when it returned (epoch s).
PacedWrite = tuple[str, int, float, float]

#: One writer process per this many writes/s keeps each writer's pace (measured on 2 cores).
WRITES_PER_WRITER = 50.0
MAX_WRITERS = 8

_clients: dict[tuple[str, str], Any] = {}


class WriteFailed(StreamlabError, RuntimeError):
    """A write the load generator sent was refused."""


@dataclass(frozen=True)
class WriterPlan:
    """One writer's share: its keys, how many versions of each, at what rate, from when."""

    endpoint_url: str  # "" for AWS itself (boto3's credential chain; "boto3" client only)
    region: str
    table: str
    keys: tuple[str, ...]
    versions: int
    rate: float  # writes per second for this writer
    start_at: float  # epoch seconds: the first write's scheduled time
    client: str = "boto3"  # or "http": signed requests without boto3 (see the module docstring)
    shape: ItemShape = field(default_factory=ItemShape)  # the table's key schema and the probe's attributes


def schedule(keys: Sequence[str], versions: int) -> list[tuple[str, int]]:
    """Round-robin over the keys, version by version: ``k0 v1, k1 v1, ..., k0 v2, ...``."""
    return [(key, version) for version in range(1, versions + 1) for key in keys]


def split_keys(keys: Sequence[str], writers: int) -> list[tuple[str, ...]]:
    """Give each writer its own keys, so one key's versions are written by one writer in order."""
    return [tuple(keys[index::writers]) for index in range(writers) if keys[index::writers]]


def writers_for(rate: float) -> int:
    """How many writer processes a rate needs: one per WRITES_PER_WRITER writes/s, 1 to MAX_WRITERS."""
    return max(1, min(MAX_WRITERS, math.ceil(rate / WRITES_PER_WRITER)))


def _client(endpoint_url: str, region: str) -> Any:
    client = _clients.get((endpoint_url, region))
    if client is None:
        import boto3
        from botocore.config import Config

        # A local endpoint takes any credentials; AWS (no URL) gets boto3's own chain.
        local = {"endpoint_url": endpoint_url, "aws_access_key_id": "test", "aws_secret_access_key": "test"}
        client = boto3.client(
            "dynamodb",
            region_name=region,
            config=Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=4),
            **(local if endpoint_url else {}),
        )
        _clients[(endpoint_url, region)] = client
    return client


class SignedHTTPWriter:
    """PutItem as boto3 sends it (JSON 1.0, SigV4 for ``dynamodb``) on one keep-alive connection."""

    def __init__(self, endpoint_url: str, region: str) -> None:
        from botocore.auth import SigV4Auth
        from botocore.credentials import Credentials

        parsed = urllib.parse.urlsplit(endpoint_url)
        self._url = endpoint_url.rstrip("/") + "/"
        self._host, self._port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self._signer = SigV4Auth(Credentials("test", "test"), "dynamodb", region)
        self._connection = http.client.HTTPConnection(self._host, self._port, timeout=30)

    def put_item(self, TableName: str, Item: dict[str, Any]) -> dict[str, Any]:
        from botocore.awsrequest import AWSRequest

        body = json.dumps({"TableName": TableName, "Item": Item}, default=_wire_value)
        request = AWSRequest(
            method="POST",
            url=self._url,
            data=body,
            headers={"X-Amz-Target": "DynamoDB_20120810.PutItem", "Content-Type": "application/x-amz-json-1.0"},
        )
        self._signer.add_auth(request)
        for attempt in (1, 2):
            try:
                self._connection.request("POST", "/", body=body, headers=dict(request.headers))
                response = self._connection.getresponse()
                payload = response.read()
                break
            except (http.client.HTTPException, ConnectionError):
                self._connection.close()  # the server closed the keep-alive connection: reconnect once
                if attempt == 2:
                    raise
        if response.status != 200:
            raise WriteFailed(f"PutItem failed: HTTP {response.status} {payload[:200]!r}")
        answer: dict[str, Any] = json.loads(payload or b"{}")
        return answer


def _wire_value(value: object) -> str:
    """Bytes (a B attribute, as boto3 takes it) as DynamoDB's JSON carries them: base64."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not an attribute value")


def _writer(endpoint_url: str, region: str, kind: str) -> Any:
    if kind == "boto3":
        return _client(endpoint_url, region)
    key = (endpoint_url, region + "|http")
    writer = _clients.get(key)
    if writer is None:
        writer = _clients[key] = SignedHTTPWriter(endpoint_url, region)
    return writer


def warm_up(endpoint_url: str, region: str, table: str) -> None:
    """Create the clients and open their connections before the timed part."""
    _client(endpoint_url, region).describe_table(TableName=table)
    if endpoint_url:
        _writer(endpoint_url, region, "http")


def write_paced(plan: WriterPlan) -> list[PacedWrite]:
    """Write the plan's schedule, the i-th write at ``start_at + i / rate`` (no sleep when late)."""
    client = _writer(plan.endpoint_url, plan.region, plan.client)
    acks: list[PacedWrite] = []
    for index, (key, version) in enumerate(schedule(plan.keys, plan.versions)):
        due = plan.start_at + index / plan.rate
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        written_at = time.time()
        client.put_item(
            TableName=plan.table,
            Item=plan.shape.item(key, version, written_at),
        )
        acks.append((key, version, written_at, time.time()))
    return acks


def acknowledged(writes: Sequence[PacedWrite]) -> list[WriteTuple]:
    """``(key, version, write_ack)``: latency measured from the acknowledgement."""
    return [(key, version, ack) for key, version, _, ack in writes]


def sent(writes: Sequence[PacedWrite]) -> list[WriteTuple]:
    """``(key, version, written_at)``: latency measured from when the write was sent."""
    return [(key, version, written_at) for key, version, written_at, _ in writes]


def writer_pool(processes: int, endpoint_url: str, region: str, table: str) -> Executor:
    """A pool of writer processes, all started, each with a warm client, when it returns.

    Spawned, not forked: the caller may be running an endpoint's threads.
    """
    pool = ProcessPoolExecutor(
        max_workers=processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=warm_up,
        initargs=(endpoint_url, region, table),
    )
    # One task per process, each holding its process a moment, so every process exists now.
    for future in [pool.submit(time.sleep, 0.3) for _ in range(processes)]:
        future.result()
    return pool


def run_paced_writers(pool: Executor, plans: Sequence[WriterPlan]) -> list[PacedWrite]:
    """Run the plans concurrently on ``pool``; every write's ``(key, version, written_at, write_ack)``."""
    futures = [pool.submit(write_paced, plan) for plan in plans]
    return [ack for future in futures for ack in future.result()]
