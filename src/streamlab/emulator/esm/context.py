"""The narrow context a processing stage runs in: what it may use of its mapping, nothing more.

The shard pipeline (:mod:`.pipeline`) and the SQS poller (:mod:`.sqs`) receive one of these
instead of their worker, so they depend on the mapping's configuration, the Lambda invoke,
checkpoints, the on-failure destination, telemetry and a metrics sink, and never on the
worker that owns them (which imports them, not the other way round).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from streamlab.emulator.esm.checkpoint import CheckpointStore
from streamlab.emulator.esm.config import MappingConfig
from streamlab.emulator.esm.destinations import FailureDestination
from streamlab.emulator.esm.filtering import RecordFilter
from streamlab.emulator.esm.invoker import InvokeFunction
from streamlab.emulator.esm.metrics import Counters, WorkerSettings
from streamlab.emulator.esm.sources import StreamSource
from streamlab.emulator.telemetry import TelemetrySink


@dataclass(frozen=True)
class PipelineContext:
    config: MappingConfig
    invoke: InvokeFunction
    checkpoints: CheckpointStore
    destination: FailureDestination | None
    telemetry: TelemetrySink
    counters: Counters
    settings: WorkerSettings
    record_filter: RecordFilter | None
    source: StreamSource
    #: ``wake()``: records completed, the reader may have room again
    wake: Callable[[], None]
    #: ``report_crash(error)``: a lane died; the worker restarts its run from the checkpoints
    report_crash: Callable[[BaseException], None]
