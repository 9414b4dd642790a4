"""A throwaway probe stack for measurements: streamed table -> event source mapping -> probe function.

Measurements (``streamlab bench``, ``benchmarks/e2e.py``) need the same three resources:
a table with a stream, the probe handler (``handlers/probe.py``, one JSON line per record)
zipped in memory, and a mapping from one to the other. They are made through boto3 only,
so the same code measures the embedded endpoint, LocalStack and AWS, and removed afterwards
(best effort: a measurement must not fail on its way out).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamlab.aws_rules import MappingState
from streamlab.errors import StreamlabError, WaitTimeout
from streamlab.measure.item_shape import ItemShape, shape_of
from streamlab.streams import create_stream_table

#: Local endpoints accept any role; AWS needs a real one (``role_arn``).
LOCAL_ROLE = "arn:aws:iam::123456789012:role/streamlab-probe"
PROBE_SOURCE = Path("handlers") / "probe.py"
DUMMY_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


class ProbeSourceNotFound(StreamlabError, FileNotFoundError):
    """handlers/probe.py is neither under the current directory nor in streamlab's checkout."""


def client(service: str, endpoint_url: str | None, region: str) -> Any:
    """A boto3 client: dummy credentials for a local endpoint, the default chain for AWS (no URL)."""
    import boto3
    from botocore.config import Config

    options: dict[str, Any] = {
        "region_name": region,
        "config": Config(retries={"mode": "standard", "max_attempts": 3}, read_timeout=60),
    }
    if endpoint_url:
        options.update(endpoint_url=endpoint_url, **DUMMY_CREDENTIALS)
    return boto3.client(service, **options)


def find_probe_source(start: Path | None = None) -> Path:
    """``handlers/probe.py`` of the current directory (or a parent), else of streamlab's checkout,
    else the copy installed with the package (``streamlab.measure.assets``).

    The handler ships with the repository, like the demo handlers, so the probe a user
    measures is the one the repository tests.
    """
    from streamlab.measure.assets import PROBE_HANDLER

    here = (start or Path.cwd()).resolve()
    candidates = [directory / PROBE_SOURCE for directory in (here, *here.parents)]
    candidates.append(Path(__file__).resolve().parents[3] / PROBE_SOURCE)  # src/streamlab/measure/ -> checkout
    candidates.append(PROBE_HANDLER)  # the copy a pip install ships
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ProbeSourceNotFound("no handlers/probe.py here, in its parents, streamlab's checkout or its package")


def probe_zip(source: Path | None = None) -> bytes:
    """The probe handler as a Lambda zip (``probe.py`` at the root), built in memory."""
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("probe.py", (source or find_probe_source()).read_text(encoding="utf-8"))
    return package.getvalue()


@dataclass(frozen=True)
class ProbeStack:
    """The deployed table, function and mapping of one measurement."""

    endpoint_url: str | None  # None: AWS
    region: str
    table: str
    function: str
    mapping: str
    stream_arn: str
    owns_table: bool = True

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.function}"


def deploy_probe(
    endpoint_url: str | None,
    region: str,
    *,
    prefix: str = "streamlab-probe",
    role_arn: str | None = None,
    batch_size: int = 100,
    settle_seconds: float = 60.0,
) -> ProbeStack:
    """Create table, function and mapping; return once the mapping is Enabled.

    On a failure part-way, what was created is removed before the error is raised.
    """
    suffix = uuid.uuid4().hex[:8]
    table, function = f"{prefix}-{suffix}", f"{prefix}-fn-{suffix}"
    ddb = client("dynamodb", endpoint_url, region)
    stream_arn = create_stream_table(ddb, table, "NEW_IMAGE", wait=True)
    stack = ProbeStack(endpoint_url, region, table, function, "", stream_arn)
    return _map_probe(stack, {}, role_arn, batch_size, settle_seconds)


def attach_probe(
    endpoint_url: str | None,
    region: str,
    table: str,
    *,
    role_arn: str | None = None,
    batch_size: int = 100,
    settle_seconds: float = 60.0,
) -> tuple[ProbeStack, ItemShape]:
    """A probe function and mapping on a user's own ``table`` (its stream must carry new images).

    The table is the user's: :func:`teardown_probe` with ``owns_table=False`` leaves it.
    """
    ddb = client("dynamodb", endpoint_url, region)
    shape, stream_arn = shape_of(ddb.describe_table(TableName=table)["Table"])
    function = f"streamlab-probe-fn-{uuid.uuid4().hex[:8]}"
    stack = ProbeStack(endpoint_url, region, table, function, "", stream_arn, owns_table=False)
    return _map_probe(stack, shape.probe_environment(), role_arn, batch_size, settle_seconds), shape


def _map_probe(
    stack: ProbeStack, variables: dict[str, str], role_arn: str | None, batch_size: int, settle_seconds: float
) -> ProbeStack:
    """The probe function and its mapping to ``stack``'s stream, Enabled; on a failure, all removed."""
    lam = client("lambda", stack.endpoint_url, stack.region)
    try:
        lam.create_function(
            FunctionName=stack.function,
            Runtime="python3.12",
            Role=role_arn or LOCAL_ROLE,
            Handler="probe.handler",
            Code={"ZipFile": probe_zip()},
            Timeout=30,
            **({"Environment": {"Variables": variables}} if variables else {}),
        )
        lam.get_waiter("function_active_v2").wait(
            FunctionName=stack.function, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        mapping = lam.create_event_source_mapping(
            EventSourceArn=stack.stream_arn,
            FunctionName=stack.function,
            StartingPosition="LATEST",
            BatchSize=batch_size,
        )["UUID"]
        stack = dataclasses.replace(stack, mapping=mapping)
        _wait_enabled(lam, mapping, settle_seconds, stack.endpoint_url)
    except BaseException:
        teardown_probe(stack)
        raise
    return stack


def _wait_enabled(lam: Any, mapping: str, settle_seconds: float, endpoint_url: str | None) -> None:
    deadline = time.monotonic() + settle_seconds
    while lam.get_event_source_mapping(UUID=mapping)["State"] != MappingState.ENABLED:
        if time.monotonic() > deadline:
            raise WaitTimeout("the event source mapping did not become Enabled")
        time.sleep(0.1 if endpoint_url else 1.0)


def teardown_probe(stack: ProbeStack) -> None:
    """Delete mapping, function, table and the function's log group; ignore what is already gone."""
    ddb, lam = client("dynamodb", stack.endpoint_url, stack.region), client("lambda", stack.endpoint_url, stack.region)
    logs = client("logs", stack.endpoint_url, stack.region)
    calls: list[Callable[[], object]] = [
        lambda: lam.delete_function(FunctionName=stack.function),
        lambda: logs.delete_log_group(logGroupName=stack.log_group),
    ]
    if stack.owns_table:  # a user's own table (attach_probe) stays
        calls.insert(1, lambda: ddb.delete_table(TableName=stack.table))
    if stack.mapping:
        calls.insert(0, lambda: lam.delete_event_source_mapping(UUID=stack.mapping))
    for call in calls:
        with contextlib.suppress(Exception):
            call()
