from __future__ import annotations

import logging

import pytest

from streamlab.emulator.telemetry import FanOut, IteratorAgeSampled, TelemetryEvent

EVENT = IteratorAgeSampled("uuid", "arn:aws:lambda:us-east-1:000000000000:function:f", "arn:stream", 12.5)


class Broken:
    def emit(self, event: TelemetryEvent) -> None:
        raise RuntimeError("dashboard down")


class Keeper:
    def __init__(self) -> None:
        self.events: list[TelemetryEvent] = []

    def emit(self, event: TelemetryEvent) -> None:
        self.events.append(event)


def test_a_failing_consumer_is_logged_and_the_others_still_receive(caplog: pytest.LogCaptureFixture) -> None:
    keeper = Keeper()
    fan_out = FanOut([Broken()])
    fan_out.add(keeper)
    with caplog.at_level(logging.ERROR, logger="streamlab.emulator.telemetry"):
        fan_out.emit(EVENT)
    assert keeper.events == [EVENT]
    assert "IteratorAgeSampled" in caplog.text
