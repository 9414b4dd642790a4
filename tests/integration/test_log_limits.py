"""CloudWatch Logs on the endpoint stays bounded: retention policies expire events (AWS:
PutRetentionPolicy, "events older than the retention period are deleted", Logs API reference
read 2026-12), and a log group keeps at most a configured number of events, oldest dropped first."""

from __future__ import annotations

import time

from moto.logs.models import LogGroup

from streamlab.emulator.moto_patches.logs import trim


def test_a_retention_policy_expires_old_events(streamlab_client, streamlab_unique_name) -> None:
    logs = streamlab_client("logs")
    group = "/retention/" + streamlab_unique_name("g")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(time.time() * 1000)
    three_days_ago = now - 3 * 86_400_000
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": three_days_ago, "message": "old"}, {"timestamp": now, "message": "new"}],
    )
    logs.put_retention_policy(logGroupName=group, retentionInDays=1)
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[{"timestamp": now + 1, "message": "newer"}])
    messages = [
        e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)["events"]
    ]
    assert messages == ["new", "newer"]


def test_a_group_keeps_at_most_its_cap_oldest_first() -> None:
    group = LogGroup("123456789012", "us-east-1", "/cap", **{})
    for name in ("a", "b"):
        group.create_log_stream(name)
    base = int(time.time() * 1000)
    group.streams["a"].put_log_events([{"timestamp": base + n * 2, "message": f"a{n}"} for n in range(10)])
    group.streams["b"].put_log_events([{"timestamp": base + n * 2 + 1, "message": f"b{n}"} for n in range(10)])
    dropped = trim(group, max_events=5, now_ms=base)
    assert dropped == 15
    kept = sorted((e.timestamp, e.message) for s in group.streams.values() for e in s.events)
    assert [message for _, message in kept] == ["b7", "a8", "b8", "a9", "b9"]
    assert group.streams["a"].stored_bytes == sum(len(e.message) for e in group.streams["a"].events)
