"""`streamlab up`: Ready line, health, clean shutdown, clear errors."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import pytest

from streamlab.cli import _is_loopback
from streamlab.streams import create_stream_table

REPO = Path(__file__).resolve().parents[2]


def start_up(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "streamlab.cli", "up", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )


def wait_for_ready(process: subprocess.Popen[str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Ready" in line:
            return line
    process.kill()
    raise AssertionError(f"no Ready line; stdout={''.join(lines)!r} stderr={process.stderr.read()!r}")


def clients(url: str, region: str, *services: str) -> list[Any]:
    import boto3

    options = {"endpoint_url": url, "region_name": region, "aws_access_key_id": "t", "aws_secret_access_key": "t"}
    return [boto3.client(service, **options) for service in services]


def endpoint_in(line: str) -> str:
    return next(word for word in line.split() if word.startswith("http://")).rstrip(",;)")


def test_up_serves_health_and_stops_cleanly_on_sigterm() -> None:
    process = start_up("--no-deploy", "--port", "0")
    ready = wait_for_ready(process)
    url = endpoint_in(ready)
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(f"{url}/_streamlab/health", timeout=5) as response:
        assert response.status == 200
        assert json.loads(response.read())["status"] == "ready"
    tree = psutil.Process(process.pid)
    family = [tree, *tree.children(recursive=True)]

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    _gone, alive = psutil.wait_procs(family, timeout=5)
    assert not alive, f"left behind: {alive}"
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/_streamlab/health", timeout=2)


def test_up_stops_on_sigint() -> None:
    process = start_up("--no-deploy", "--port", "0")
    wait_for_ready(process)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=15) == 0


def test_port_in_use_is_a_one_line_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        process = start_up("--no-deploy", "--port", str(port))
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert f"port {port}" in lines[0]
    assert "in use" in lines[0]


def test_missing_template_is_a_clear_error(tmp_path: Path) -> None:
    process = start_up("--port", "0", "--template", str(tmp_path / "nope.yaml"))
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "no template at" in stderr
    assert "nope.yaml" in stderr


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
    ],
)
def test_only_loopback_counts_as_private(host: str, loopback: bool) -> None:
    assert _is_loopback(host) is loopback


def _fill(url: str, items: int, table: str = "big") -> None:
    """~1 KiB items into a streamed table: state for the shutdown to cope with."""
    import boto3

    from streamlab.streams import create_stream_table

    ddb = boto3.client(
        "dynamodb", endpoint_url=url, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    create_stream_table(ddb, table)
    payload = "x" * 1000
    for start in range(0, items, 25):
        requests = [
            {"PutRequest": {"Item": {"pk": {"S": f"k{n}"}, "v": {"S": payload}}}} for n in range(start, start + 25)
        ]
        ddb.batch_write_item(RequestItems={table: requests})


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_up_exits_within_5_seconds_after_a_large_state(signum: int) -> None:
    """Issue 12: after a 10-minute soak, SIGINT printed Stopping and had not exited 20 s later (the
    interpreter's teardown walked gigabytes of moto state). `up` promises 5 s."""
    process = start_up("--no-deploy", "--port", "0")
    url = endpoint_in(wait_for_ready(process))
    _fill(url, 20_000)
    began = time.monotonic()
    process.send_signal(signum)
    assert process.wait(timeout=10) == 0
    assert time.monotonic() - began < 5.0


def test_the_next_up_removes_the_directory_of_one_that_was_killed(tmp_path: Path) -> None:
    env_tmp = {"TMPDIR": str(tmp_path)}
    first = start_up("--no-deploy", "--port", "0", env=env_tmp)
    wait_for_ready(first)
    left = [path for path in tmp_path.iterdir() if path.name.startswith("streamlab-lambda-")]
    assert len(left) == 1
    first.kill()
    first.wait(timeout=10)
    assert left[0].exists()  # kill -9: nobody cleaned up
    second = start_up("--no-deploy", "--port", "0", env=env_tmp)
    try:
        wait_for_ready(second)
        assert not left[0].exists()
        assert len([path for path in tmp_path.iterdir() if path.name.startswith("streamlab-lambda-")]) == 1
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=10) == 0
    assert not [path for path in tmp_path.iterdir() if path.name.startswith("streamlab-lambda-")]


def test_up_shapes_streams_and_streams_split_and_shards_work_against_it() -> None:
    """``up --stream-shards 2 --shard-rotation 1``: a new table's stream starts with 2 shards and
    rolls them over every second; ``streamlab streams split`` splits the open ones, ``streams
    shards`` prints the lineage."""
    process = start_up("--no-deploy", "--port", "0", "--stream-shards", "2", "--shard-rotation", "1")
    try:
        url = endpoint_in(wait_for_ready(process))
        dynamodb, streams = clients(url, "eu-west-1", "dynamodb", "dynamodbstreams")
        arn = create_stream_table(dynamodb, "cli-shards")

        def shard_list() -> list[dict]:
            return streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]

        first = shard_list()
        assert len(first) in (2, 4), "2 shards, or already rolled over once"
        deadline = time.monotonic() + 10
        while len(shard_list()) < 6 and time.monotonic() < deadline:
            time.sleep(0.2)
        rolled = shard_list()
        assert len(rolled) >= 6, rolled
        assert all(s["ParentShardId"] in {p["ShardId"] for p in rolled} for s in rolled[2:]), (
            "children of listed shards"
        )

        env = {**os.environ, "AWS_ENDPOINT_URL": url}
        split = subprocess.run(
            [sys.executable, "-m", "streamlab.cli", "streams", "split", "cli-shards", "--region", "eu-west-1"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            cwd=REPO,
        )
        assert split.returncode == 0, split.stderr
        assert "opened 4" in split.stdout.splitlines()[0], split.stdout
        shards = subprocess.run(
            [sys.executable, "-m", "streamlab.cli", "streams", "shards", "cli-shards", "--region", "eu-west-1"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            cwd=REPO,
        )
        assert shards.returncode == 0, shards.stderr
        lines = shards.stdout.splitlines()
        assert lines[0].startswith(arn)
        assert any(line.startswith("      shardId-") for line in lines), "grandchildren are indented twice"
        missing = subprocess.run(
            [sys.executable, "-m", "streamlab.cli", "streams", "split", "no-such-table"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            cwd=REPO,
        )
        assert missing.returncode == 1
        assert "no table no-such-table" in missing.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)


def test_up_refuses_a_shard_count_out_of_range() -> None:
    process = start_up("--no-deploy", "--port", "0", "--stream-shards", "0")
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "--stream-shards" in stderr


def test_up_trims_records_past_its_stream_retention() -> None:
    """``up --stream-retention 2``: two seconds after a write its record is trimmed; an iterator
    into it answers TrimmedDataAccessException and TRIM_HORIZON starts after it (AWS: the same,
    after 24 hours)."""
    from botocore.exceptions import ClientError

    process = start_up("--no-deploy", "--port", "0", "--stream-retention", "2")
    try:
        url = endpoint_in(wait_for_ready(process))
        # The first health answer reports every runtime's interpreter, which may take seconds to
        # search for: have it before the 2 s clock of any record starts.
        with urllib.request.urlopen(f"{url}/_streamlab/health", timeout=60) as response:
            assert response.status == 200
        dynamodb, streams = clients(url, "us-east-1", "dynamodb", "dynamodbstreams")
        arn = create_stream_table(dynamodb, "retained")
        dynamodb.put_item(TableName="retained", Item={"pk": {"S": "old"}})
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        horizon = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
            "ShardIterator"
        ]
        assert len(streams.get_records(ShardIterator=horizon)["Records"]) == 1

        def trimmed() -> str | None:
            try:
                streams.get_records(ShardIterator=horizon)
            except ClientError as error:
                return str(error.response["Error"]["Code"])
            return None

        deadline = time.monotonic() + 10
        while (code := trimmed()) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert code == "TrimmedDataAccessException"
        dynamodb.put_item(TableName="retained", Item={"pk": {"S": "new"}})
        fresh = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
            "ShardIterator"
        ]
        assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in streams.get_records(ShardIterator=fresh)["Records"]] == [
            "new"
        ]
        with urllib.request.urlopen(f"{url}/_streamlab/health", timeout=10) as response:
            assert json.loads(response.read())["streams"]["records"] == 1
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
