"""``streamlab logs NAME [--follow]``: print a function's CloudWatch Logs.

Works against any endpoint (embedded, LocalStack, AWS) because it only uses the public
``FilterLogEvents`` API on the log group ``/aws/lambda/<name>``, like ``aws logs tail``.
"""

from __future__ import annotations

import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any, TextIO

from streamlab.aws_rules import REGION_ORDER, resolve_region
from streamlab.endpoints import add_target_arguments, target_endpoint


def log_group_of(function_name: str) -> str:
    """``my-fn`` or a function ARN -> ``/aws/lambda/my-fn``."""
    name = function_name.split(":function:", 1)[1].split(":", 1)[0] if ":function:" in function_name else function_name
    return f"/aws/lambda/{name}"


def format_event(event: dict[str, Any], show_stream: bool = False) -> str:
    stamp = datetime.fromtimestamp(event["timestamp"] / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    message = event["message"].rstrip("\n")
    if show_stream:
        return f"{stamp} {event.get('logStreamName', '')} {message}"
    return f"{stamp} {message}"


def print_logs(
    function_name: str,
    endpoint_url: str | None = None,
    follow: bool = False,
    region: str | None = None,
    since_ms: int | None = None,
    out: TextIO | None = None,
    poll_interval: float = 1.0,
    stop: threading.Event | None = None,
    show_stream: bool = False,
    client: Any = None,
) -> int:
    """Print the function's log events oldest first; with ``follow``, keep printing new ones
    every ``poll_interval`` seconds until ``stop`` is set or Ctrl-C. Returns the number printed
    (a missing log group prints nothing: the function has not run yet)."""
    out = out or sys.stdout
    if client is None:
        import boto3

        options: dict[str, Any] = {"region_name": resolve_region(region)}
        if endpoint_url:
            options.update(endpoint_url=endpoint_url, aws_access_key_id="test", aws_secret_access_key="test")
        client = boto3.client("logs", **options)
    group = log_group_of(function_name)
    seen: set[str] = set()
    start = since_ms or 0
    printed = 0
    try:
        while True:
            events = _fetch(client, group, start)
            for event in events:
                if event["eventId"] in seen:
                    continue
                seen.add(event["eventId"])
                out.write(format_event(event, show_stream) + "\n")
                printed += 1
                start = max(start, event["timestamp"])
            out.flush()
            if not follow or (stop is not None and stop.is_set()):
                return printed
            if stop is not None:
                if stop.wait(poll_interval):
                    return printed
            else:
                time.sleep(poll_interval)
    except KeyboardInterrupt:
        return printed


def _fetch(client: Any, group: str, start_ms: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    options: dict[str, Any] = {"logGroupName": group, "startTime": start_ms, "interleaved": True}
    try:
        while True:
            page = client.filter_log_events(**options)
            events.extend(page.get("events", []))
            token = page.get("nextToken")
            if not token or not page.get("events"):
                break
            options["nextToken"] = token
    except client.exceptions.ResourceNotFoundException:
        return []
    events.sort(key=lambda event: (event["timestamp"], event.get("ingestionTime", 0)))
    return events


def add_arguments(parser: Any) -> None:
    """The ``streamlab logs`` options, for the CLI to attach to its subcommand parser."""
    parser.add_argument("name", help="function name or ARN")
    parser.add_argument("--follow", "-f", action="store_true", help="keep printing new events until Ctrl-C")
    add_target_arguments(parser)
    parser.add_argument("--region", default=None, help=f"region (default: {REGION_ORDER})")
    parser.add_argument("--since", type=float, default=None, help="only events from the last N minutes")


def run(args: Any) -> int:
    """Run ``streamlab logs`` from parsed :func:`add_arguments` options; returns the exit code."""
    endpoint_url = args.endpoint_url
    region = resolve_region(args.region)
    since_ms = int((time.time() - args.since * 60) * 1000) if args.since else None
    print_logs(args.name, endpoint_url, follow=args.follow, region=region, since_ms=since_ms)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m streamlab.logs_cli NAME [--follow]`` until the CLI wires it in."""
    import argparse

    parser = argparse.ArgumentParser(prog="streamlab logs", description="Print a Lambda function's CloudWatch Logs.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    args.endpoint_url = target_endpoint(args.endpoint_url, args.aws)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
