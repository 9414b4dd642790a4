"""``streamlab trace TABLE KEY [--endpoint-url URL]``: where an item's stream records went.

For the item KEY of TABLE (a value of its key, ``name=value[,name=value]``, or the key as JSON):
every stream record it produced, read from the table's stream through the public API
(DescribeTable, DescribeStream, GetRecords from TRIM_HORIZON); then, for each record, every
mapping that read it, the filter's verdict, each invocation that carried it (request id,
attempt, batch size, duration, result, error), bisects and partial failures, and where it ended
(processed, or discarded and sent to the on-failure destination). The per-record part comes
from an embedded endpoint's journal (``GET /_streamlab/trace``), which keeps the newest 10,000
records; mappings that never read a record are named, with their state.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from streamlab.aws_rules import resolve_region
from streamlab.emulator.observability.journeys import key_matches, parse_key
from streamlab.endpoints import add_target_arguments
from streamlab.errors import StreamlabError

TRACE_PATH = "/_streamlab/trace"
MAX_PAGES_PER_SHARD = 200  # 200 pages of 1,000: a shard's retained day at a busy table's pace


class TraceError(StreamlabError):
    """A message for the user; the command exits 2."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("table", help="table name")
    parser.add_argument("key", help="the item's key: a value, name=value[,name=value], or JSON")
    add_target_arguments(parser)
    parser.add_argument("--region", help="region (default: the usual order)")
    parser.add_argument("--json", action="store_true", help="print the records and journeys as JSON")


def stream_records(
    endpoint_url: str | None, region: str, table: str, key: str
) -> tuple[str | None, list[dict[str, Any]]]:
    """(stream ARN, the item's records in the stream, oldest first), through the public API."""
    import boto3

    wanted = parse_key(key)
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint_url, region_name=region)
    streams = boto3.client("dynamodbstreams", endpoint_url=endpoint_url, region_name=region)
    try:
        description = dynamodb.describe_table(TableName=table)["Table"]
    except dynamodb.exceptions.ResourceNotFoundException:
        raise TraceError(f"no table {table} in {region}") from None
    arn = description.get("LatestStreamArn")
    if not arn:
        return None, []
    found: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for _ in range(MAX_PAGES_PER_SHARD):
            if not iterator:
                break
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            for record in page["Records"]:
                keys = json.dumps(record["dynamodb"].get("Keys") or {}, sort_keys=True, separators=(",", ":"))
                if key_matches(keys, wanted):
                    found.append({**record, "shardId": shard["ShardId"]})
            iterator = page.get("NextShardIterator")
            if not page["Records"]:
                break
    return arn, sorted(found, key=lambda r: int(r["dynamodb"]["SequenceNumber"]))


def journal(endpoint_url: str | None, table: str, key: str, region: str) -> list[dict[str, Any]] | None:
    """The endpoint's journeys of the item; None when the endpoint keeps no journal."""
    if not endpoint_url:
        return None
    query = urllib.parse.urlencode({"table": table, "key": key, "region": region})
    try:
        with urllib.request.urlopen(f"{endpoint_url.rstrip('/')}{TRACE_PATH}?{query}", timeout=10) as answer:
            return list(json.loads(answer.read())["journeys"])
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise TraceError(f"{TRACE_PATH}: {error.code} {error.read().decode(errors='replace')}") from None
    except ValueError:
        return None


def mappings_of(endpoint_url: str | None, region: str, stream_arn: str) -> list[dict[str, Any]]:
    import boto3

    lam = boto3.client("lambda", endpoint_url=endpoint_url, region_name=region)
    return list(lam.list_event_source_mappings(EventSourceArn=stream_arn)["EventSourceMappings"])


def describe_step(step: dict[str, Any]) -> str:
    kind = step.get("step")
    if kind == "filtered":
        return "filter: dropped (FilterCriteria matched nothing; never delivered, never retried)"
    if kind == "invoked":
        notes = [
            n for n, on in (("bisected", step.get("bisected")), ("reported failed", step.get("reportedFailed"))) if on
        ]
        line = (
            f"attempt {step['attempt']}: batch of {step['batchSize']}, request {step.get('requestId') or '-'}, "
            f"{step['durationMs']:.1f} ms, {step['outcome']}"
        )
        if step.get("errorType") or step.get("errorMessage"):
            line += f" ({step.get('errorType') or 'Error'}: {(step.get('errorMessage') or '').splitlines()[0][:160]})"
        return line + (f" [{', '.join(notes)}]" if notes else "")
    if kind == "discarded":
        destination = step.get("destination")
        if not destination:
            end = "no on-failure destination: the record is lost"
        elif step.get("delivered"):
            end = f"on-failure record sent to {destination}"
        else:
            end = f"sending the on-failure record to {destination} FAILED"
        return f"gave up ({step['condition']}) with a batch of {step['batchSize']}: {end}"
    return json.dumps(step)


def render(
    table: str,
    key: str,
    records: list[dict[str, Any]],
    journeys: list[dict[str, Any]] | None,
    mappings: list[dict[str, Any]],
) -> str:
    lines = [f"{table} {key}: {len(records)} stream record(s)"]
    if not records:
        lines.append(
            "  the item produced no record in the table's stream (no write since the stream was enabled, "
            "or older than its retention)"
        )
    by_seq = {j["sequenceNumber"]: j for j in journeys or []}
    for record in records:
        seq = record["dynamodb"]["SequenceNumber"]
        created = record["dynamodb"].get("ApproximateCreationDateTime")
        when = created.strftime("%H:%M:%S") if isinstance(created, dt.datetime) else str(created or "")
        lines.append(f"- {record['eventName']} #{seq} {record['shardId']} {when}")
        journey = by_seq.get(seq)
        steps = journey["steps"] if journey else []
        for mapping in mappings:
            uuid = mapping["UUID"]
            own = [s for s in steps if s.get("mapping") == uuid]
            name = mapping["FunctionArn"].split(":")[6]
            lines.append(f"    mapping {uuid[:8]} -> {name} ({mapping['State']})")
            if journeys is None:
                lines.append("      (this endpoint keeps no journal: only the stream side is known)")
                continue
            if not own:
                lines.append("      not read by this mapping (yet): it starts at its StartingPosition, or is behind")
                continue
            if not any(s["step"] in ("filtered",) for s in own):
                lines.append("      filter: passed" if mapping.get("FilterCriteria") else "      filter: none")
            for step in own:
                if step["step"] != "read":
                    lines.append("      " + describe_step(step))
            last = own[-1]
            delivered = last.get("outcome") in ("success", "partial") and not last.get("reportedFailed")
            if last["step"] == "invoked" and delivered:
                lines.append("      processed")
        if not mappings:
            lines.append("    no event source mapping reads this stream")
    return "\n".join(lines)


def run(args: argparse.Namespace, endpoint_url: str | None) -> int:
    region = resolve_region(args.region)
    try:
        arn, records = stream_records(endpoint_url, region, args.table, args.key)
        if arn is None:
            print(f"{args.table} has no stream: nothing reads its writes")
            return 1
        journeys = journal(endpoint_url, args.table, args.key, region)
        mappings = mappings_of(endpoint_url, region, arn)
    except (TraceError, ValueError) as error:
        print(f"streamlab trace: {error}")
        return 2
    if args.json:
        print(json.dumps({"streamArn": arn, "records": records, "journeys": journeys}, indent=2, default=str))
    else:
        print(render(args.table, args.key, records, journeys, mappings))
    return 0
