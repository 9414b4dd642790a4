"""``streamlab status [--endpoint-url URL] [--watch [SECONDS]] [--json]``.

Mappings (state, last result, iterator age, batches, errors, messages waiting in their on-failure
queue), functions (invocations, errors, throttles, duration p50 / p99, warm environments) and
streams (shards, retained records). An embedded endpoint answers all of it at
``GET /_streamlab/status``; any other endpoint (LocalStack, AWS with ``--aws``) is read through
the public API, which knows the mappings' state and last result, the functions, and the on-failure
queues' message counts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from streamlab.aws_rules import resolve_region
from streamlab.endpoints import add_target_arguments

STATUS_PATH = "/_streamlab/status"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser)
    parser.add_argument("--region", help="region for the public-API view (default: the usual order)")
    parser.add_argument(
        "--watch",
        nargs="?",
        type=float,
        const=2.0,
        default=None,
        metavar="SECONDS",
        help="refresh every SECONDS (default 2) until Ctrl-C",
    )
    parser.add_argument("--json", action="store_true", help="print the status document as JSON")


def fetch_status(endpoint_url: str | None, region: str | None, timeout: float = 10.0) -> dict[str, Any]:
    """The endpoint's own status document, or what the public API tells."""
    if endpoint_url:
        try:
            with urllib.request.urlopen(endpoint_url.rstrip("/") + STATUS_PATH, timeout=timeout) as answer:
                document = json.loads(answer.read())
                document["source"] = "streamlab"
                return dict(document)
        except urllib.error.HTTPError as error:
            if error.code != 404:
                raise
        except ValueError:
            pass  # not JSON: not a streamlab endpoint
    return public_status(endpoint_url, resolve_region(region))


def public_status(endpoint_url: str | None, region: str) -> dict[str, Any]:
    import boto3

    lam = boto3.client("lambda", endpoint_url=endpoint_url, region_name=region)
    sqs = boto3.client("sqs", endpoint_url=endpoint_url, region_name=region)
    mappings = []
    for page in lam.get_paginator("list_event_source_mappings").paginate():
        for m in page["EventSourceMappings"]:
            destination = ((m.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
            dlq = None
            if destination and destination.startswith("arn:aws:sqs:"):
                name, account = destination.split(":")[5], destination.split(":")[4]
                url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
                count = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
                dlq = {"queueArn": destination, "messages": int(count["Attributes"]["ApproximateNumberOfMessages"])}
            mappings.append(
                {
                    "UUID": m["UUID"],
                    "FunctionName": m["FunctionArn"].split(":")[6],
                    "EventSourceArn": m["EventSourceArn"],
                    "State": m["State"],
                    "LastProcessingResult": m.get("LastProcessingResult"),
                    "Dlq": dlq,
                }
            )
    functions = []
    for page in lam.get_paginator("list_functions").paginate():
        functions += [{"FunctionName": f["FunctionName"], "Region": region} for f in page["Functions"]]
    return {"source": "public API", "mappings": mappings, "functions": functions, "streams": [], "logs": []}


def _cell(value: Any, digits: int | None = None) -> str:
    if value is None:
        return "-"
    if digits is not None and isinstance(value, int | float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  " + "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return lines


def source_of(arn: str) -> str:
    parts = arn.split(":")
    resource = ":".join(parts[5:]) if len(parts) > 5 else arn
    pieces = resource.split("/")
    return pieces[1] if len(parts) > 2 and parts[2] == "dynamodb" and len(pieces) > 1 else pieces[-1]


def render(document: dict[str, Any]) -> str:
    lines = [f"streamlab status ({document.get('source', '?')})", "", "Mappings"]
    rows = [
        [
            m["UUID"][:8],
            m.get("FunctionName") or "-",
            source_of(m["EventSourceArn"]),
            m.get("State") or "-",
            _cell(m.get("LastProcessingResult")),
            _cell(m.get("iteratorAgeMs"), 0),
            _cell(m.get("batches")),
            _cell(m.get("failedBatches")),
            _cell((m.get("Dlq") or {}).get("messages")),
            (m.get("lastError") or "")[:60],
        ]
        for m in document.get("mappings", [])
    ]
    headers = ["MAPPING", "FUNCTION", "SOURCE", "STATE", "LAST RESULT", "AGE MS", "BATCHES", "ERRORS", "DLQ", "ERROR"]
    lines += _table(headers, rows) if rows else ["  (none)"]
    lines += ["", "Functions"]
    rows = [
        [
            f["FunctionName"],
            f.get("Region", "-"),
            _cell(f.get("invocations")),
            _cell(f.get("errors")),
            _cell(f.get("throttles")),
            _cell(f.get("durationP50Ms"), 1),
            _cell(f.get("durationP99Ms"), 1),
            _cell(f.get("WarmEnvironments")),
        ]
        for f in document.get("functions", [])
    ]
    headers = ["FUNCTION", "REGION", "INVOCATIONS", "ERRORS", "THROTTLES", "P50 MS", "P99 MS", "WARM"]
    lines += _table(headers, rows) if rows else ["  (none)"]
    lines += ["", "Streams"]
    rows = [
        [s["TableName"], s["Region"], s["StreamStatus"], f"{s['OpenShards']}/{s['Shards']}", str(s["Records"])]
        for s in document.get("streams", [])
    ]
    lines += _table(["TABLE", "REGION", "STATUS", "OPEN/SHARDS", "RECORDS"], rows) if rows else ["  (none)"]
    return "\n".join(lines)


def run(args: argparse.Namespace, endpoint_url: str | None) -> int:
    while True:
        document = fetch_status(endpoint_url, args.region)
        text = json.dumps(document, indent=2, default=str) if args.json else render(document)
        if args.watch is not None:
            sys.stdout.write("\x1b[2J\x1b[H")  # clear the terminal, then redraw
        print(text, flush=True)
        if args.watch is None:
            return 0
        time.sleep(max(0.2, args.watch))
