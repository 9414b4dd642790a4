"""Pieces of the pytest plugin that need no endpoint: the stack prefixing and the probe's scaling."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamlab.pytest_plugin import with_name_prefix
from streamlab.stack import parse_stack
from streamlab.testing import POLL_INTERVAL, TIMEOUT_SCALE, StreamProbe

REPO = Path(__file__).resolve().parents[2]
BODY = '[tables.Orders]\npartition_key = { name = "pk", type = "S" }\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (BODY, "sl1-"),
        ('[stack]\nhandlers_dir = "../handlers"\n\n' + BODY, "sl1-"),
        ('[stack] # settings\nname_prefix = "demo-"\n\n' + BODY, "sl1-demo-"),
        ("[stack]\nname_prefix = 'x-'\n" + BODY, "sl1-x-"),
    ],
)
def test_with_name_prefix_puts_the_prefix_in_front(text: str, expected: str) -> None:
    stack = parse_stack(with_name_prefix(text, "sl1-"), REPO / "setup" / "stack.toml")
    assert stack.name_prefix == expected
    assert stack.tables["Orders"].physical_name == expected + "Orders"


def test_the_demo_stack_takes_a_prefix() -> None:
    path = REPO / "setup" / "stack.toml"
    stack = parse_stack(with_name_prefix(path.read_text(), "slabc123-"), path)
    assert stack.name_prefix.startswith("slabc123-")
    assert all(t.physical_name.startswith("slabc123-") for t in stack.tables.values())


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
