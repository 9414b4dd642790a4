"""``streamlab streams split TABLE`` and ``streamlab streams shards TABLE``.

``split`` asks an embedded endpoint to close the table's open stream shards and open their
children (``POST /_streamlab/streams/split``; AWS has no such call, its shards split on their
own). ``shards`` prints a stream's shard lineage through DescribeStream, so it works on any
backend (``--aws`` for AWS itself). Both aim at ``--endpoint-url``, else ``AWS_ENDPOINT_URL``,
else the local endpoint (:mod:`streamlab.endpoints`).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from typing import Any

from streamlab.aws_rules import resolve_region
from streamlab.emulator.streams.control import SPLIT_PATH
from streamlab.endpoints import add_target_arguments
from streamlab.errors import StreamlabError


class StreamsCommandError(StreamlabError):
    """A message for the user; the command exits 1."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="streams_command", required=True)
    split = commands.add_parser("split", help="close a table's stream shards and open their children (embedded)")
    split.add_argument("table", help="table name")
    split.add_argument(
        "--rollover", action="store_true", help="one child per shard, same keys (default: two children, a split)"
    )
    shards = commands.add_parser("shards", help="print a table's stream shards and their lineage")
    shards.add_argument("table", help="table name")
    split.add_argument("--endpoint-url", help="endpoint (default: AWS_ENDPOINT_URL, else the local one)")
    add_target_arguments(shards)
    for command in (split, shards):
        command.add_argument("--region", help="region (default: AWS_DEFAULT_REGION, the profile, else us-east-1)")
    split.set_defaults(streams_func=split_command)
    shards.set_defaults(streams_func=shards_command)


def run(args: argparse.Namespace, endpoint_url: str | None) -> int:
    """Run the subcommand against ``endpoint_url`` (None: AWS itself, ``shards --aws`` only)."""
    try:
        return int(args.streams_func(args, endpoint_url))
    except StreamsCommandError as error:
        print(f"streamlab streams {args.streams_command}: {error}", file=sys.stderr)
        return 1


def request_split(endpoint_url: str, table: str, region: str, children: int = 2) -> dict[str, Any]:
    """POST the split; its JSON answer, or StreamsCommandError with the endpoint's message."""
    body = json.dumps({"TableName": table, "Region": region, "Children": children}).encode()
    request = urllib.request.Request(
        endpoint_url + SPLIT_PATH, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return dict(json.loads(answer.read()))
    except urllib.error.HTTPError as error:
        try:
            message = json.loads(error.read()).get("message") or error.reason
        except ValueError:
            message = error.reason
        if error.code == 404 and "no streamlab route" in str(message):
            message = f"{endpoint_url} is not a streamlab endpoint that splits shards"
        raise StreamsCommandError(str(message)) from None
    except (urllib.error.URLError, OSError) as error:
        raise StreamsCommandError(f"cannot reach {endpoint_url}: {error}") from None


def split_command(args: argparse.Namespace, endpoint_url: str | None) -> int:
    if endpoint_url is None:
        raise StreamsCommandError("AWS splits its shards itself; split needs a streamlab endpoint")
    region = resolve_region(args.region)
    answer = request_split(endpoint_url, args.table, region, 1 if args.rollover else 2)
    print(f"{answer['StreamArn']}: closed {len(answer['ClosedShards'])} shard(s), opened {len(answer['OpenedShards'])}")
    for opened in answer["OpenedShards"]:
        print(f"  {opened['ParentShardId']} -> {opened['ShardId']}")
    return 0


def lineage_lines(shards: list[dict[str, Any]]) -> list[str]:
    """One line per shard, children indented under their parent (a parent that is gone: a root)."""
    by_id = {shard["ShardId"]: shard for shard in shards}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for shard in shards:
        parent = shard.get("ParentShardId")
        children.setdefault(parent if parent in by_id else None, []).append(shard)
    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        for shard in children.get(parent, []):
            numbers = shard["SequenceNumberRange"]
            state = "closed" if "EndingSequenceNumber" in numbers else "open"
            lines.append(f"{'  ' * depth}{shard['ShardId']}  {state}  from {numbers['StartingSequenceNumber']}")
            walk(shard["ShardId"], depth + 1)

    walk(None, 0)
    return lines


def shards_command(args: argparse.Namespace, endpoint_url: str | None) -> int:
    import boto3
    from botocore.exceptions import ClientError

    region = resolve_region(args.region)
    dynamodb = boto3.client("dynamodb", region_name=region, endpoint_url=endpoint_url)
    streams = boto3.client("dynamodbstreams", region_name=region, endpoint_url=endpoint_url)
    try:
        arn = dynamodb.describe_table(TableName=args.table)["Table"].get("LatestStreamArn")
        if not arn:
            raise StreamsCommandError(f"table {args.table} has no stream")
        shards: list[dict[str, Any]] = []
        request: dict[str, Any] = {"StreamArn": arn}
        while True:
            description = streams.describe_stream(**request)["StreamDescription"]
            shards.extend(description["Shards"])
            if not description.get("LastEvaluatedShardId"):
                break
            request["ExclusiveStartShardId"] = description["LastEvaluatedShardId"]
    except ClientError as error:
        raise StreamsCommandError(error.response.get("Error", {}).get("Message", str(error))) from None
    print(f"{arn} ({description['StreamStatus']}, {len(shards)} shard(s))")
    for line in lineage_lines(shards):
        print("  " + line)
    return 0
