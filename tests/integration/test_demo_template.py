"""The demo shop's template (setup/template.yaml) deployed by the real SAM CLI to the embedded endpoint.

``sam build`` then ``sam deploy``, unchanged, as a team deploys it to AWS; then the order flow
through the real path (boto3 -> the endpoint -> the Lambda runtime -> the handlers): an order
written as Created is moved Validated -> Paid -> InventoryReserved -> Shipped by the pipeline's one
mapping, the reserve stage takes the stock, the order-created notification reaches the queue
subscribed to the topic and the order's versions are audited (both through the Orders table's
Kinesis streaming destination), the Products change is audited from its stream, the probe
reports each version; a poison order (an unsupported currency) ends in the DLQ with AWS's failure
record and, after the fix, goes through with ``streamlab redrive``. ``sam delete`` leaves nothing.

The SAM CLI comes from ``make clients``; ``sam build`` needs ``python3.12`` (found on PATH or in
pyenv) and the two requirements as wheels: they are fetched once from the package index into
``.streamlab/wheelhouse`` and the build itself runs sealed (no index, every proxy a dead port).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest

from streamlab.redrive import redrive
from streamlab.testing import eventually

ROOT = Path(__file__).resolve().parents[2]
CLIENTS_BIN = ROOT / ".venv-clients" / "bin"
WHEELHOUSE = ROOT / ".streamlab" / "wheelhouse"
DEAD_PROXY = "http://127.0.0.1:9"

pytestmark = pytest.mark.slow


def _python312() -> Path:
    found = shutil.which("python3.12")
    # pyenv's shims need pyenv's own environment: its real interpreters do not
    candidates = [Path(found)] if found and "/shims/" not in found else []
    candidates += sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))
    for candidate in candidates:
        if candidate.exists():
            return candidate
    pytest.skip("sam build needs python3.12 (the template's runtime) on PATH or in pyenv")


def _wheelhouse() -> Path:
    requirements = ROOT / "handlers" / "requirements.txt"
    marker = WHEELHOUSE / (requirements.read_text().replace("\n", " ").strip() + ".done").replace("/", "_")
    if marker.exists():
        return WHEELHOUSE
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--python-version", "3.12",
         "--platform", "manylinux2014_x86_64", "-d", str(WHEELHOUSE), "-r", str(requirements)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot fetch the handlers' requirements for sam build: {done.stderr[-500:]}")
    marker.write_text("ok\n")
    return WHEELHOUSE


@pytest.fixture(scope="module")
def shop(
    streamlab_endpoint_url: str | None, streamlab_region: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The template built and deployed by the SAM CLI; its outputs and resources; ``sam delete`` after."""
    if streamlab_endpoint_url is None:
        pytest.skip("deploys to an emulator endpoint, not to an AWS account")
    sam = CLIENTS_BIN / "sam"
    if not sam.exists():
        pytest.skip("sam is not installed: run `make clients`")
    python312 = _python312()
    wheels = _wheelhouse()
    work = tmp_path_factory.mktemp("shop")
    shutil.copytree(ROOT / "setup", work / "setup", ignore=shutil.ignore_patterns(".streamlab", ".aws-sam"))
    shutil.copytree(ROOT / "handlers", work / "handlers", ignore=shutil.ignore_patterns("__pycache__"))
    home = work / "home"
    home.mkdir()
    environment = {
        "PATH": os.pathsep.join([str(CLIENTS_BIN), str(python312.parent), "/usr/local/bin", "/usr/bin"]),
        "HOME": str(home),
        "AWS_ENDPOINT_URL": streamlab_endpoint_url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": streamlab_region,
        "AWS_REGION": streamlab_region,
        "AWS_EC2_METADATA_DISABLED": "true",
        "SAM_CLI_TELEMETRY": "0",
        "SAM_CLI_POLL_DELAY": "1",
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheels),
        "PIP_CONFIG_FILE": os.devnull,
        **{name: DEAD_PROXY for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy")},
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }

    def run(*command: str) -> str:
        done = subprocess.run(command, cwd=work / "setup", env=environment, capture_output=True, text=True,
                              timeout=900, check=False)  # fmt: skip
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}:\n{output[-6000:]}"
        return output

    stack_name = f"shop-{uuid.uuid4().hex[:8]}"
    run(str(sam), "build")
    output = run(
        str(sam), "deploy", "--stack-name", stack_name, "--resolve-s3", "--no-confirm-changeset",
        "--capabilities", "CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND",
        "--parameter-overrides", "SupportedCurrencies=USD,EUR",
    )  # fmt: skip
    assert f"Successfully created/updated stack - {stack_name}" in output
    cloudformation = boto3.client(
        "cloudformation", endpoint_url=streamlab_endpoint_url, region_name=streamlab_region,
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    resources = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cloudformation.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    }
    shop = {
        "name": stack_name,
        "outputs": {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        "resources": resources,
        "endpoint_url": streamlab_endpoint_url,
        "region": streamlab_region,
    }
    products = _resource(shop, "dynamodb").Table(shop["outputs"]["ProductsTable"])
    for sku in ("sku-red-mug", "sku-blue-plate"):
        products.put_item(Item={"sku": sku, "name": sku[4:], "price": Decimal("12.50"), "stock": 1000})
    yield shop
    # CloudFormation deletes no bucket with objects in it (nor does AWS): stop the mappings, so no
    # audit batch is still on its way, then empty the audit trail.
    lam = _client(shop, "lambda")
    mappings = [
        m["UUID"]
        for m in lam.list_event_source_mappings()["EventSourceMappings"]
        if m["FunctionArn"].split(":")[-1] in resources.values()
    ]
    for uuid_ in mappings:
        lam.update_event_source_mapping(UUID=uuid_, Enabled=False)
    eventually(
        lambda: all(lam.get_event_source_mapping(UUID=u)["State"] == "Disabled" for u in mappings),
        timeout=60,
        interval=0.5,
        message="the stack's mappings to be disabled",
    )
    time.sleep(2)  # an invocation that was running when its mapping stopped finishes its write
    s3 = _client(shop, "s3")
    for entry in s3.list_objects_v2(Bucket=shop["outputs"]["AuditBucket"]).get("Contents", []):
        s3.delete_object(Bucket=shop["outputs"]["AuditBucket"], Key=entry["Key"])
    run(str(sam), "delete", "--stack-name", stack_name, "--no-prompts")
    cloudformation.get_waiter("stack_delete_complete").wait(
        StackName=stack["StackId"], WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )


def _client(shop: dict[str, Any], service: str) -> Any:
    return boto3.client(service, endpoint_url=shop["endpoint_url"], region_name=shop["region"],
                        aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip


def _resource(shop: dict[str, Any], service: str) -> Any:
    return boto3.resource(service, endpoint_url=shop["endpoint_url"], region_name=shop["region"],
                          aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip


def _new_order(currency: str = "USD") -> dict[str, Any]:
    items = [{"sku": "sku-red-mug", "qty": 2, "price": Decimal("12.50")},
             {"sku": "sku-blue-plate", "qty": 1, "price": Decimal("7.25")}]  # fmt: skip
    return {
        "order_id": f"o-{uuid.uuid4().hex[:10]}",
        "customer_id": "c-42",
        "status": "Created",
        "version": 1,
        "currency": currency,
        "items": items,
        "total": Decimal("32.25"),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "written_at": Decimal(repr(time.time())),
    }


def _wait(check: Callable[[], Any], message: str, timeout: float = 60.0) -> Any:
    return eventually(check, timeout=timeout, interval=0.2, message=message)


def test_sam_deploys_the_shop_with_two_readers_per_stream(shop: dict[str, Any]) -> None:
    lam = _client(shop, "lambda")
    streams: dict[str, list[str]] = {}
    for mapping in lam.list_event_source_mappings()["EventSourceMappings"]:
        if mapping["FunctionArn"].split(":")[-1] in shop["resources"].values():
            streams.setdefault(mapping["EventSourceArn"], []).append(mapping["FunctionArn"])
    dynamodb_streams = {arn: readers for arn, readers in streams.items() if ":dynamodb:" in arn}
    assert len(dynamodb_streams) == 2  # Orders and Products
    assert all(len(readers) == 2 for readers in dynamodb_streams.values()), dynamodb_streams
    functions = ("Probe", "OrderPipeline", "Notifications", "Analytics", "AuditTrailWriter", "CacheInvalidation")
    roles = {lam.get_function_configuration(FunctionName=shop["resources"][f])["Role"] for f in functions}
    assert len(roles) == 6  # each function its own execution role


def test_an_order_is_shipped_its_stock_taken_and_every_version_probed(shop: dict[str, Any]) -> None:
    orders = _resource(shop, "dynamodb").Table(shop["outputs"]["OrdersTable"])
    products = _resource(shop, "dynamodb").Table(shop["outputs"]["ProductsTable"])
    before = int(products.get_item(Key={"sku": "sku-red-mug"}, ConsistentRead=True)["Item"]["stock"])
    order = _new_order()
    orders.put_item(Item=order)
    oid = order["order_id"]

    def shipped() -> dict[str, Any] | None:
        item = orders.get_item(Key={"order_id": oid}, ConsistentRead=True).get("Item", {})
        return item if item.get("status") == "Shipped" else None

    item = _wait(shipped, f"order {oid} to reach Shipped")
    assert item["version"] == 5
    assert str(item["payment_id"]).startswith("pay_")
    assert str(item["tracking_number"]).startswith("TRK")
    after = int(products.get_item(Key={"sku": "sku-red-mug"}, ConsistentRead=True)["Item"]["stock"])
    assert after == before - 2

    # Through the Orders table's Kinesis streaming destination: the order-created notification on
    # SNS, delivered raw to the subscribed queue with its message attributes.
    sqs = _client(shop, "sqs")

    def notified() -> dict[str, Any] | None:
        answer = sqs.receive_message(
            QueueUrl=shop["outputs"]["OrderEventsQueueUrl"], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )
        return next((m for m in answer.get("Messages", []) if json.loads(m["Body"]).get("order_id") == oid), None)

    message = _wait(notified, "the order-created notification")
    body = json.loads(message["Body"])
    assert (body["type"], body["total"], body["currency"]) == ("order-created", 32.25, "USD")
    assert message["MessageAttributes"]["order_id"]["StringValue"] == oid

    # The audit trail: the Products stream's stock change, and the order's five versions (Kinesis).
    s3, bucket = _client(shop, "s3"), shop["outputs"]["AuditBucket"]

    def audit_lines(table: str) -> list[dict[str, Any]]:
        lines = []
        for entry in s3.list_objects_v2(Bucket=bucket, Prefix=f"{table}/").get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read().decode()
            lines += [json.loads(line) for line in body.splitlines()]
        return lines

    def stock_audited() -> list[dict[str, Any]] | None:
        lines = audit_lines(shop["outputs"]["ProductsTable"])
        return [line for line in lines if line["keys"] == {"sku": "sku-red-mug"} and line["eventName"] == "MODIFY"]

    change = _wait(stock_audited, "the audit line of the stock change")[-1]
    assert "stock" in change["changed_attributes"]

    def order_audited() -> list[dict[str, Any]] | None:
        lines = [line for line in audit_lines(shop["outputs"]["OrdersTable"]) if line["keys"] == {"order_id": oid}]
        return lines if len(lines) >= 5 else None

    statuses = [line["new_image"]["status"] for line in _wait(order_audited, "five audit lines of the order")]
    assert statuses[:5] == ["Created", "Validated", "Paid", "InventoryReserved", "Shipped"]

    # The probe (the Orders stream's second reader) logged each of the order's five versions.
    logs = _client(shop, "logs")
    group = f"/aws/lambda/{shop['resources']['Probe']}"

    def probed() -> list[int] | None:
        events = logs.filter_log_events(logGroupName=group, filterPattern=f'"{oid}"').get("events", [])
        found = [json.loads(line) for e in events for line in e["message"].splitlines() if line.startswith('{"probe"')]
        versions = sorted(line["version"] for line in found if line["key"] == oid)
        return versions if len(versions) >= 5 else None

    assert _wait(probed, "the probe's lines for the order")[:5] == [1, 2, 3, 4, 5]


def test_a_poison_order_goes_to_the_dlq_and_through_after_the_fix(shop: dict[str, Any]) -> None:
    orders = _resource(shop, "dynamodb").Table(shop["outputs"]["OrdersTable"])
    poison = _new_order(currency="GBP")
    orders.put_item(Item=poison)
    pipeline = _client(shop, "lambda").get_function(FunctionName=shop["resources"]["OrderPipeline"])["Configuration"]
    sqs, dlq = _client(shop, "sqs"), shop["outputs"]["OrdersDlqUrl"]

    def failure() -> dict[str, Any] | None:
        for message in sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
            "Messages", []
        ):
            record = json.loads(message["Body"])
            if record["requestContext"]["functionArn"] == pipeline["FunctionArn"]:
                return record
        return None

    record = _wait(failure, "the pipeline's on-failure record")
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3  # MaximumRetryAttempts: 2
    assert record["DDBStreamBatchInfo"]["batchSize"] == 1

    lam = _client(shop, "lambda")
    variables = dict(pipeline["Environment"]["Variables"], SUPPORTED_CURRENCIES="USD,EUR,GBP")
    lam.update_function_configuration(FunctionName=pipeline["FunctionName"], Environment={"Variables": variables})
    lam.get_waiter("function_updated_v2").wait(FunctionName=pipeline["FunctionName"])
    report = redrive(dlq, endpoint_url=shop["endpoint_url"], region=shop["region"], log=lambda line: None)
    assert [(o.status, o.records) for o in report.outcomes if o.function_arn == pipeline["FunctionArn"]] == [
        ("redriven", 1)
    ]
    _wait(
        lambda: (
            orders.get_item(Key={"order_id": poison["order_id"]}, ConsistentRead=True)["Item"]["status"] == "Shipped"
        ),
        "the redriven order to reach Shipped",
    )


def test_locust_loads_the_deployed_shop_through_its_own_probe(shop: dict[str, Any], tmp_path: Path) -> None:
    """Last in this module: its Draft orders reach the shop's notifications and analytics too."""
    result = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests" / "locustfile.py"), "--headless",
         "-u", "3", "-r", "3", "-t", "5s", "--host", shop["endpoint_url"], "--probe-target", "stack",
         "--stack-name", shop["name"], "--stream-json", str(tmp_path / "stream.json"), "MixedUser"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "AWS_DEFAULT_REGION": shop["region"], "AWS_ACCESS_KEY_ID": "test",
             "AWS_SECRET_ACCESS_KEY": "test"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    table, probe = shop["outputs"]["OrdersTable"], shop["outputs"]["ProbeFunction"]
    assert f"writing to table {table}, end-to-end latency from {probe}'s log" in result.stderr
    stream = json.loads((tmp_path / "stream.json").read_text())
    assert stream["writes_acknowledged"] > 0
    assert stream["not_seen"] == 0
    assert (
        stream["writes_acknowledged"] <= stream["delivered"] <= stream["writes_acknowledged"] + 3
    )  # a call cut at the stop
    # The load's orders stay out of the pipeline: none of them moved past the load's own statuses.
    written = _client(shop, "dynamodb").scan(
        TableName=table,
        FilterExpression="begins_with(order_id, :run)",
        ExpressionAttributeValues={":run": {"S": "locust-"}},
    )["Items"]
    assert written
    assert {item["status"]["S"] for item in written} <= {"Draft", "Editing", "OnHold"}
