"""Pieces of the pytest plugin that need no endpoint: the probe's scaling."""

from __future__ import annotations

from streamlab.testing import POLL_INTERVAL, TIMEOUT_SCALE, StreamProbe


def test_stream_probe_scales_timeouts_per_backend() -> None:
    assert TIMEOUT_SCALE["embedded"] == 1.0 < TIMEOUT_SCALE["localstack"] < TIMEOUT_SCALE["aws"]
    probe = StreamProbe("localstack", TIMEOUT_SCALE["localstack"], POLL_INTERVAL["localstack"])
    assert probe.timeout_for(10) == 60
    calls = iter([None, AssertionError("not yet"), {"ok": 1}])

    def check():
        value = next(calls)
        if isinstance(value, Exception):
            raise value
        return value

    assert probe.wait_for(check, timeout=1, interval=0) == {"ok": 1}
