"""What the embedded endpoint shows about its streams: metrics, alarms, status, dashboard, journeys.

Every part consumes the endpoint's telemetry (:mod:`streamlab.emulator.telemetry`):

- :mod:`.metrics` folds events into AWS/Lambda CloudWatch metrics, written once a second;
- :mod:`.alarms` evaluates CloudWatch metric alarms and notifies their SNS actions;
- :mod:`.board` keeps the figures of ``streamlab status`` and the dashboard;
- :mod:`.journeys` keeps record journeys for ``streamlab trace``;
- :mod:`.routes` serves them under ``/_streamlab/``.

:class:`Observability` builds them, subscribes them to a :class:`~streamlab.emulator.telemetry.FanOut`
and runs the one background thread that flushes metrics and evaluates alarms.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from streamlab.emulator.observability.alarms import AlarmEvaluator
from streamlab.emulator.observability.board import StatusBoard
from streamlab.emulator.observability.journeys import DEFAULT_MAX_RECORDS, JourneyJournal
from streamlab.emulator.observability.metrics import Boto3MetricWriter, LambdaMetrics
from streamlab.emulator.telemetry import FanOut

if TYPE_CHECKING:
    from streamlab.emulator.awslambda.service import LambdaService

log = logging.getLogger(__name__)

__all__ = ["Observability", "ObservabilitySettings"]


@dataclass(frozen=True)
class ObservabilitySettings:
    flush_interval: float = 1.0  # seconds between metric writes and alarm evaluations
    journey_records: int = DEFAULT_MAX_RECORDS


class Observability:
    """The endpoint's metrics, alarms, status board and journal, fed by ``telemetry``."""

    def __init__(
        self,
        telemetry: FanOut,
        client: Callable[[str, str], Any],
        lambda_service: LambdaService,
        settings: ObservabilitySettings | None = None,
    ) -> None:
        """``client(service, region)`` is a boto3 client on the endpoint (metrics and alarm
        notifications go through the public API)."""
        self.settings = settings or ObservabilitySettings()
        mappings = lambda_service.event_source_mappings
        self.metrics = LambdaMetrics(Boto3MetricWriter(client), event_count_enabled=_event_count(mappings))
        self.alarms = AlarmEvaluator(
            lambda region, topic, subject, message: client("sns", region).publish(
                TopicArn=topic, Subject=subject, Message=message
            )
        )
        self.board = StatusBoard()
        self.journeys = JourneyJournal(self.settings.journey_records)
        for consumer in (self.metrics, self.board, self.journeys):
            telemetry.add(consumer)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="streamlab-observability", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None

    def tick(self) -> None:
        """Write the metrics gathered so far, then evaluate every alarm on them."""
        self.metrics.flush()
        self.alarms.evaluate()

    def _run(self) -> None:
        while not self._stop.wait(self.settings.flush_interval):
            try:
                self.tick()
            except Exception:  # keep publishing whatever one pass met
                log.exception("metrics / alarms pass failed")


def _event_count(mappings: Any) -> Callable[[str], bool]:
    def enabled(uuid: str) -> bool:
        try:
            mapping = mappings.get(uuid)
        except Exception:
            return False
        config = mapping.extra.get("MetricsConfig") or {}
        return "EventCount" in (config.get("Metrics") or [])

    return enabled
