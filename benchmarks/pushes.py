"""Push latency: SNS publish and S3 PutObject -> handler start, beside a direct Event invoke, in one run.

One `streamlab up --no-deploy` in its own process, one function (its OnSuccess destination an
SQS queue), and for each path ``--events`` events sent one after another:

- ``event``: ``Invoke(InvocationType=Event)`` with ``{"sent": <client time>}`` (the baseline);
- ``sns``: ``Publish`` to a topic the function is subscribed to, the same JSON as the message;
- ``s3``: ``PutObject`` of ``t/<client time>.txt`` to a bucket notifying the function.

The handler stamps the time it starts and answers both stamps; the invocation records are read
from the queue afterwards. Latency is handler start - client send (one machine, one clock).
Printed: p50 / p90 / max per path and each path's p50 as a ratio of the baseline's. Figures
only; nothing here asserts.

    .venv/bin/python benchmarks/pushes.py [--events 50] [--json PATH]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
import uuid
import zipfile
from typing import Any

import boto3

from streamlab.measure.up_process import running_up

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": REGION}
ROLE = "arn:aws:iam::123456789012:role/bench"
HANDLER = """
import json, time, urllib.parse

def handler(event, context):
    started = time.time()
    record = (event.get("Records") or [{}])[0]
    if "Sns" in record:
        sent = json.loads(record["Sns"]["Message"])["sent"]
        path = "sns"
    elif "s3" in record:
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        sent = float(key.split("/", 1)[1].rsplit(".", 1)[0])
        path = "s3"
    else:
        sent, path = event["sent"], "event"
    return {"path": path, "sent": sent, "started": started}
"""


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", HANDLER)
    return buffer.getvalue()


def _setup(url: str) -> dict[str, Any]:
    clients = {name: boto3.client(name, endpoint_url=url, **CREDENTIALS) for name in ("lambda", "sqs", "sns", "s3")}
    suffix = uuid.uuid4().hex[:8]
    lam, sqs = clients["lambda"], clients["sqs"]
    queue_url = sqs.create_queue(QueueName=f"bench-done-{suffix}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = f"bench-push-{suffix}"
    arn = lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": _zip()}
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    lam.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0, DestinationConfig={"OnSuccess": {"Destination": queue_arn}}
    )
    topic = clients["sns"].create_topic(Name=f"bench-{suffix}")["TopicArn"]
    bucket = f"bench-{suffix}"
    clients["s3"].create_bucket(Bucket=bucket)
    for sid, principal, source in (
        ("sns", "sns.amazonaws.com", topic),
        ("s3", "s3.amazonaws.com", f"arn:aws:s3:::{bucket}"),
    ):
        lam.add_permission(
            FunctionName=name, StatementId=sid, Action="lambda:InvokeFunction", Principal=principal, SourceArn=source
        )
    clients["sns"].subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)
    clients["s3"].put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    lam.invoke(FunctionName=name, Payload=json.dumps({"sent": time.time()}))  # warm one environment
    return {**clients, "name": name, "topic": topic, "bucket": bucket, "queue": queue_url}


def _send(rig: dict[str, Any], path: str) -> None:
    sent = time.time()
    if path == "event":
        rig["lambda"].invoke(FunctionName=rig["name"], InvocationType="Event", Payload=json.dumps({"sent": sent}))
    elif path == "sns":
        rig["sns"].publish(TopicArn=rig["topic"], Message=json.dumps({"sent": sent}))
    else:
        rig["s3"].put_object(Bucket=rig["bucket"], Key=f"t/{sent!r}.txt", Body=b"x")


def _collect(rig: dict[str, Any], expected: int, timeout: float) -> dict[str, list[float]]:
    latencies: dict[str, list[float]] = {"event": [], "sns": [], "s3": []}
    deadline = time.monotonic() + timeout
    seen = 0
    while seen < expected and time.monotonic() < deadline:
        for message in rig["sqs"].receive_message(QueueUrl=rig["queue"], MaxNumberOfMessages=10).get("Messages", []):
            answer = json.loads(message["Body"])["responsePayload"]
            if isinstance(answer, dict) and answer.get("path") in latencies:
                latencies[answer["path"]].append((answer["started"] - answer["sent"]) * 1000)
                seen += 1
            rig["sqs"].delete_message(QueueUrl=rig["queue"], ReceiptHandle=message["ReceiptHandle"])
    return latencies


def _summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"count": 0}
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50": statistics.median(ordered),
        "p90": ordered[int(0.9 * (len(ordered) - 1))],
        "max": ordered[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50, help="events per path")
    parser.add_argument("--pause", type=float, default=0.02, help="seconds between two sends")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    with running_up() as (_, url):
        rig = _setup(url)
        for _ in range(args.events):
            for path in ("event", "sns", "s3"):
                _send(rig, path)
                time.sleep(args.pause)
        latencies = _collect(rig, 3 * args.events, timeout=60 + args.events)
    figures = {path: _summary(values) for path, values in latencies.items()}
    baseline = figures["event"].get("p50")
    print(f"send -> handler start, {args.events} events per path (ms)")
    for path, summary in figures.items():
        if not summary["count"]:
            print(f"  {path:6s} no events arrived")
            continue
        ratio = f"{summary['p50'] / baseline:.2f}x the Event invoke" if baseline else ""
        print(
            f"  {path:6s} n={summary['count']:<4d} p50 {summary['p50']:7.1f}  p90 {summary['p90']:7.1f}  "
            f"max {summary['max']:7.1f}  {ratio}"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"events_per_path": args.events, "latency_ms": figures}, out, indent=2)


if __name__ == "__main__":
    main()
