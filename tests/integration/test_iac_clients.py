"""The real IaC clients against the endpoint: ``sam deploy``, ``aws cloudformation deploy``, ``cdk deploy``.

Each deploys the same app (a streamed DynamoDB table, a Python function reading the stream, a
queue the function sends every new order to), then proves it through the real path: a write to
the table reaches the handler (its message arrives with the greeting from the function's
environment), an update changes that environment (the next message carries the new greeting),
and a delete leaves none of the stack's resources behind.

The clients come from ``make clients`` (``.venv-clients``: aws-sam-cli, awscli, aws-cdk-lib from
PyPI; ``tests/clients/node_modules``: the npm ``aws-cdk`` CLI), which ``.ci/run`` runs. They run
in a sealed environment: only the variables set here, the endpoint given both as
``AWS_ENDPOINT_URL`` and ``--endpoint-url`` where a client takes it, and every proxy variable
aimed at a closed loopback port with only loopback exempt, so a call any client makes past the
endpoint fails instead of leaving the machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = Path(__file__).resolve().parent / "apps"
CLIENTS_VENV = ROOT / ".venv-clients"
CLIENTS_NODE_BIN = ROOT / "tests" / "clients" / "node_modules" / ".bin"
#: Nothing listens here: a client that tries to reach anything but the endpoint fails fast.
DEAD_PROXY = "http://127.0.0.1:9"
CLIENT_TIMEOUT = 600

pytestmark = pytest.mark.slow


def _client(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path.name} is not installed: run `make clients` (what .ci/run does)")
    return path


@pytest.fixture
def sealed(streamlab_endpoint_url: str | None, streamlab_region: str, tmp_path: Path) -> Callable[..., str]:
    """``sealed("sam", "deploy", ..., cwd=...)``: runs a client in the sealed environment, returns its output."""
    if streamlab_endpoint_url is None:
        pytest.skip("the IaC client tests deploy to an emulator endpoint, not to an AWS account")
    home = tmp_path / "home"
    home.mkdir()
    environment = {
        "PATH": os.pathsep.join([str(CLIENTS_VENV / "bin"), str(CLIENTS_NODE_BIN), "/usr/local/bin", "/usr/bin"]),
        "HOME": str(home),
        "AWS_ENDPOINT_URL": streamlab_endpoint_url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": streamlab_region,
        "AWS_REGION": streamlab_region,
        "AWS_EC2_METADATA_DISABLED": "true",
        "SAM_CLI_TELEMETRY": "0",
        "SAM_CLI_POLL_DELAY": "1",  # SAM's documented setting: follow stack events every second
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
        "HTTPS_PROXY": DEAD_PROXY,
        "HTTP_PROXY": DEAD_PROXY,
        "https_proxy": DEAD_PROXY,
        "http_proxy": DEAD_PROXY,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }

    def run(*command: str, cwd: Path) -> str:
        result = subprocess.run(
            command,
            cwd=cwd,
            env=environment,
            capture_output=True,
            text=True,
            timeout=CLIENT_TIMEOUT,
            check=False,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"{' '.join(command)} exited {result.returncode}:\n{output[-6000:]}"
        return output

    return run


def _outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def _greeting_of_next_order(streamlab_client: Callable[..., Any], outputs: dict[str, str], order_id: str) -> str:
    """Write an order; return the greeting the handler put in the message it sent for it."""
    streamlab_client("dynamodb").put_item(TableName=outputs["OrdersTable"], Item={"order_id": {"S": order_id}})
    sqs = streamlab_client("sqs")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=outputs["EventsQueueUrl"], WaitTimeSeconds=1, MaxNumberOfMessages=10)
        for message in answer.get("Messages", []):
            sqs.delete_message(QueueUrl=outputs["EventsQueueUrl"], ReceiptHandle=message["ReceiptHandle"])
            body = json.loads(message["Body"])
            if body["order_id"] == order_id:
                return str(body["greeting"])
    raise AssertionError(f"the handler sent no message for {order_id} within 60 s")


def _stack_resources(cloudformation: Any, stack_name: str) -> list[tuple[str, str]]:
    summaries = cloudformation.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    return [(summary["ResourceType"], summary["PhysicalResourceId"]) for summary in summaries]


def _assert_gone(streamlab_client: Callable[..., Any], resources: list[tuple[str, str]]) -> None:
    """None of the stack's resources exists any more, asked of each service."""
    tables = streamlab_client("dynamodb").list_tables()["TableNames"]
    functions = [f["FunctionName"] for f in streamlab_client("lambda").list_functions()["Functions"]]
    mappings = [m["UUID"] for m in streamlab_client("lambda").list_event_source_mappings()["EventSourceMappings"]]
    queues = streamlab_client("sqs").list_queues().get("QueueUrls", [])
    roles = [role["RoleName"] for role in streamlab_client("iam").list_roles()["Roles"]]
    present = {
        "AWS::DynamoDB::Table": tables,
        "AWS::Lambda::Function": functions,
        "AWS::Lambda::EventSourceMapping": mappings,
        "AWS::SQS::Queue": queues,
        "AWS::IAM::Role": roles,
    }
    checked = [(kind, physical) for kind, physical in resources if kind in present]
    assert {kind for kind, _ in checked} >= set(present), f"the app should have all of {sorted(present)}: {resources}"
    left = [(kind, physical) for kind, physical in checked if physical in present[kind]]
    assert not left, f"left behind after the delete: {left}"


def _wait_deleted(cloudformation: Any, stack_id: str) -> None:
    cloudformation.get_waiter("stack_delete_complete").wait(
        StackName=stack_id, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )


def test_sam_deploy_update_delete(
    sealed: Callable[..., str],
    streamlab_client: Callable[..., Any],
    streamlab_unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    sam = str(_client(CLIENTS_VENV / "bin" / "sam"))
    app = tmp_path / "sam"
    shutil.copytree(APPS / "sam", app)
    stack_name = streamlab_unique_name("sam-app")
    cloudformation = streamlab_client("cloudformation")
    deploy = [sam, "deploy", "--stack-name", stack_name, "--resolve-s3", "--capabilities", "CAPABILITY_IAM"]
    deploy += ["--no-confirm-changeset", "--parameter-overrides"]

    output = sealed(*deploy, "Greeting=hello", cwd=app)
    assert f"Successfully created/updated stack - {stack_name}" in output
    outputs = _outputs(cloudformation, stack_name)
    assert _greeting_of_next_order(streamlab_client, outputs, "o-1") == "hello"

    output = sealed(*deploy, "Greeting=hola", cwd=app)
    assert "* Modify" in output
    assert _greeting_of_next_order(streamlab_client, outputs, "o-2") == "hola"

    resources = _stack_resources(cloudformation, stack_name)
    stack_id = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]["StackId"]
    output = sealed(sam, "delete", "--stack-name", stack_name, "--no-prompts", cwd=app)
    assert "Deleted successfully" in output
    _wait_deleted(cloudformation, stack_id)
    _assert_gone(streamlab_client, resources)


def test_aws_cli_cloudformation_package_deploy_delete(
    sealed: Callable[..., str],
    streamlab_client: Callable[..., Any],
    streamlab_endpoint_url: str,
    streamlab_unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    aws = str(_client(CLIENTS_VENV / "bin" / "aws"))
    app = tmp_path / "sam"
    shutil.copytree(APPS / "sam", app)
    stack_name = streamlab_unique_name("cli-app")
    bucket = streamlab_unique_name("cli-artifacts")
    s3 = streamlab_client("s3")
    s3.create_bucket(Bucket=bucket)
    cloudformation = streamlab_client("cloudformation")
    endpoint = ["--endpoint-url", streamlab_endpoint_url]
    try:
        sealed(aws, "cloudformation", "package", *endpoint, "--template-file", "template.yaml", "--s3-bucket",
               bucket, "--output-template-file", "packaged.yaml", cwd=app)  # fmt: skip
        assert "CodeUri: s3://" in (app / "packaged.yaml").read_text()
        deploy = [aws, "cloudformation", "deploy", *endpoint, "--template-file", "packaged.yaml"]
        deploy += ["--stack-name", stack_name, "--capabilities", "CAPABILITY_IAM", "--parameter-overrides"]

        output = sealed(*deploy, "Greeting=hello", cwd=app)
        assert f"Successfully created/updated stack - {stack_name}" in output
        outputs = _outputs(cloudformation, stack_name)
        assert _greeting_of_next_order(streamlab_client, outputs, "o-1") == "hello"

        sealed(*deploy, "Greeting=hola", cwd=app)
        assert _greeting_of_next_order(streamlab_client, outputs, "o-2") == "hola"
        # The same again is no change: the CLI says so (and, asked to, succeeds).
        output = sealed(*deploy, "Greeting=hola", "--no-fail-on-empty-changeset", cwd=app)
        assert "No changes to deploy" in output

        resources = _stack_resources(cloudformation, stack_name)
        stack_id = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]["StackId"]
        sealed(aws, "cloudformation", "delete-stack", *endpoint, "--stack-name", stack_name, cwd=app)
        _wait_deleted(cloudformation, stack_id)
        _assert_gone(streamlab_client, resources)
    finally:
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
        s3.delete_bucket(Bucket=bucket)


def test_cdk_bootstrap_deploy_destroy(
    sealed: Callable[..., str],
    streamlab_client: Callable[..., Any],
    streamlab_region: str,
    tmp_path: Path,
) -> None:
    cdk = str(_client(CLIENTS_NODE_BIN / "cdk"))
    _client(CLIENTS_VENV / "bin" / "python3")
    shutil.copytree(APPS, tmp_path / "apps")  # the CDK app deploys the SAM app's handler
    app = tmp_path / "apps" / "cdk"
    cloudformation = streamlab_client("cloudformation")
    account = streamlab_client("sts").get_caller_identity()["Account"]

    # Outside the app's directory, as the CDK's guide does it: bootstrap then has no app to synthesise.
    output = sealed(cdk, "bootstrap", f"aws://{account}/{streamlab_region}", "--no-notices", cwd=tmp_path)
    assert "bootstrapped" in output
    toolkit = cloudformation.describe_stacks(StackName="CDKToolkit")["Stacks"][0]
    assert toolkit["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")

    deploy = [cdk, "deploy", "CdkOrders", "--require-approval", "never", "--no-notices"]
    sealed(*deploy, cwd=app)
    outputs = _outputs(cloudformation, "CdkOrders")
    assert _greeting_of_next_order(streamlab_client, outputs, "o-1") == "hello"

    sealed(*deploy, "-c", "greeting=hola", cwd=app)
    assert _greeting_of_next_order(streamlab_client, outputs, "o-2") == "hola"

    resources = _stack_resources(cloudformation, "CdkOrders")
    assert "AWS::CDK::Metadata" in {kind for kind, _ in resources}
    stack_id = cloudformation.describe_stacks(StackName="CdkOrders")["Stacks"][0]["StackId"]
    # The cloud assembly the last deploy synthesised names the stack; no need to synthesise again.
    sealed(cdk, "destroy", "CdkOrders", "--app", "cdk.out", "--force", "--no-notices", cwd=app)
    _wait_deleted(cloudformation, stack_id)
    _assert_gone(streamlab_client, resources)
