"""`streamlab up --template ... --watch` and `streamlab deploy --template`, as a user runs them.

A user's SAM app in a temporary directory (a function with ``CodeUri: src/``): ``up`` deploys it
into the endpoint it starts and says so in its Ready line and health answer; with ``--watch`` an
edit of the handler is swapped in (the line saying what was reloaded), and the next invocation
answers with the new code. ``deploy`` applies the same template to a running endpoint, the second
time with no changes; bad input is a one-line error.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from streamlab.emulator.endpoint import EmbeddedEndpoint

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Greeting:
    Type: String
    Default: hello
Resources:
  Greeter:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
      Environment:
        Variables:
          GREETING: !Ref Greeting
Outputs:
  GreeterName:
    Value: !Ref Greeter
"""

HANDLER = """
import os


def handler(event, context):
    return {"answer": "{version}", "greeting": os.environ["GREETING"]}
"""


def _app(root: Path, version: str = "v1") -> Path:
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "template.yaml").write_text(TEMPLATE)
    (root / "src" / "app.py").write_text(HANDLER.replace("{version}", version))
    return root / "template.yaml"


class Lines:
    """A process's stdout lines, read in a thread, so a test can wait for one without blocking."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        assert process.stdout is not None
        threading.Thread(target=self._pump, args=(process.stdout,), daemon=True).start()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            self._queue.put(line)

    def wait_for(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r} within {timeout} s: {''.join(self.seen)[-3000:]}")


def _invoke(lam: Any, name: str) -> dict[str, Any]:
    answer = lam.invoke(FunctionName=name, Payload=b"{}")
    return dict(json.loads(answer["Payload"].read()))


def _client(service: str, url: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip


@pytest.mark.slow
def test_up_deploys_a_template_and_hot_reloads_an_edited_handler(tmp_path: Path) -> None:
    template = _app(tmp_path / "greeter-app")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlab.cli", "up", "--port", "0", "--template", str(template),
         "--parameter-overrides", "Greeting=hola", "--stack-name", "greeter", "--watch"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        lines = Lines(process)
        ready = lines.wait_for("Ready", timeout=240)
        assert "stack greeter deployed" in ready
        url = next(word for word in ready.split() if word.startswith("http://")).rstrip(",;)")
        with urllib.request.urlopen(f"{url}/_streamlab/health", timeout=5) as response:
            health = json.loads(response.read())
        assert health["stack"] == {"name": "greeter", "state": "deployed", "deployed": True}

        outputs = _client("cloudformation", url).describe_stacks(StackName="greeter")["Stacks"][0]["Outputs"]
        name = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "GreeterName")
        lam = _client("lambda", url)
        assert _invoke(lam, name) == {"answer": "v1", "greeting": "hola"}  # warm after this

        (template.parent / "src" / "app.py").write_text(HANDLER.replace("{version}", "v2"))
        reloaded = lines.wait_for("reloaded Greeter", timeout=60)
        assert "app.py" in reloaded
        assert _invoke(lam, name) == {"answer": "v2", "greeting": "hola"}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_health_is_503_until_the_expected_stack_is_deployed() -> None:
    with EmbeddedEndpoint(port=0) as endpoint:
        endpoint.stack.expect("shop")
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(f"{endpoint.url}/_streamlab/health", timeout=60)
        assert answer.value.code == 503
        body = json.loads(answer.value.read())
        assert body["status"] == "deploying"
        assert body["stack"] == {"name": "shop", "state": "deploying", "deployed": False}

        endpoint.stack.failed("StackDeployError: Orders: no")
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(f"{endpoint.url}/_streamlab/health", timeout=60)
        assert json.loads(answer.value.read())["stack"]["reason"] == "StackDeployError: Orders: no"

        endpoint.stack.deployed()
        with urllib.request.urlopen(f"{endpoint.url}/_streamlab/health", timeout=60) as response:
            assert response.status == 200
            assert json.loads(response.read())["stack"]["deployed"] is True


def _deploy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streamlab.cli", "deploy", *args],
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip


@pytest.mark.slow
def test_deploy_applies_a_template_then_reports_no_changes(
    tmp_path: Path, streamlab_endpoint_url: str | None, streamlab_client: Callable[..., Any]
) -> None:
    if streamlab_endpoint_url is None:
        pytest.skip("deploys to an emulator endpoint")
    template = _app(tmp_path / "app")
    stack = f"deploy-{uuid.uuid4().hex[:8]}"
    common = ("--template", str(template), "--endpoint-url", streamlab_endpoint_url, "--stack-name", stack)
    first = _deploy(*common, "--parameter-overrides", "Greeting=hi")
    assert first.returncode == 0, first.stderr
    assert f"stack {stack}: CREATE_COMPLETE" in first.stdout
    name = streamlab_client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]["Outputs"][0]["OutputValue"]
    assert _invoke(streamlab_client("lambda"), name) == {"answer": "v1", "greeting": "hi"}

    again = _deploy(*common, "--parameter-overrides", "Greeting=hi")
    assert again.returncode == 0, again.stderr
    assert "(no changes)" in again.stdout
    streamlab_client("cloudformation").delete_stack(StackName=stack)


@pytest.mark.slow
def test_a_template_over_the_template_body_limit_goes_by_s3(
    tmp_path: Path, streamlab_endpoint_url: str | None, streamlab_client: Callable[..., Any]
) -> None:
    if streamlab_endpoint_url is None:
        pytest.skip("deploys to an emulator endpoint")
    template = _app(tmp_path / "app")
    notes = "".join(f"\n  Note{index:04d}: {'n' * 90}" for index in range(600))  # ~60 KB, over 51,200 bytes
    template.write_text(template.read_text() + "Metadata:" + notes + "\n")
    stack = f"big-{uuid.uuid4().hex[:8]}"
    done = _deploy("--template", str(template), "--endpoint-url", streamlab_endpoint_url, "--stack-name", stack)
    assert done.returncode == 0, done.stderr
    assert (
        "(TemplateBody takes 51200): uploaded to https://s3.us-east-1.amazonaws.com/streamlab-artifacts-" in done.stdout
    )
    assert f"stack {stack}: CREATE_COMPLETE" in done.stdout
    cloudformation = streamlab_client("cloudformation")
    name = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"][0]["OutputValue"]
    assert _invoke(streamlab_client("lambda"), name)["answer"] == "v1"
    assert "Note0599" in str(cloudformation.get_template(StackName=stack)["TemplateBody"])
    cloudformation.delete_stack(StackName=stack)


LAYERED_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Shared:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layer/
      CompatibleRuntimes: [python3.11]
    Metadata:
      BuildMethod: python3.11
  Uses:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
      Layers: [!Ref Shared]
Outputs:
  UsesName:
    Value: !Ref Uses
"""


@pytest.mark.slow
def test_a_python_layer_is_built_with_its_requirements_as_sam_builds_it(
    tmp_path: Path, streamlab_endpoint_url: str | None, streamlab_client: Callable[..., Any]
) -> None:
    from tests.unit.test_packaging import make_wheel

    if streamlab_endpoint_url is None:
        pytest.skip("deploys to an emulator endpoint")
    app = tmp_path / "app"
    (app / "layer").mkdir(parents=True)
    (app / "src").mkdir()
    (app / "template.yaml").write_text(LAYERED_TEMPLATE)
    (app / "layer" / "shared.py").write_text("GREETING = 'from the layer'\n")
    (app / "layer" / "requirements.txt").write_text(f"{make_wheel(tmp_path)}\n")  # tinydep, VALUE = 42
    (app / "src" / "app.py").write_text(
        "import shared, tinydep\n\n\ndef handler(event, context):\n"
        "    return {'greeting': shared.GREETING, 'value': tinydep.VALUE, 'from': tinydep.__file__}\n"
    )
    stack = f"layered-{uuid.uuid4().hex[:8]}"
    done = _deploy("--template", str(app / "template.yaml"), "--endpoint-url", streamlab_endpoint_url,
                   "--stack-name", stack)  # fmt: skip
    assert done.returncode == 0, done.stderr
    outputs = streamlab_client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
    answer = _invoke(streamlab_client("lambda"), outputs[0]["OutputValue"])
    assert (answer["greeting"], answer["value"]) == ("from the layer", 42)
    assert "/python/tinydep/" in answer["from"]  # the layer's python/ folder, not the function's zip
    streamlab_client("cloudformation").delete_stack(StackName=stack)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--template", "/nonexistent/template.yaml"), "cannot read template /nonexistent/template.yaml"),
        (("--parameter-overrides", "NoEquals"), "parameter override 'NoEquals' is not KEY=VALUE"),
        (("--stack-name", "9-starts-with-a-digit"), "stack name '9-starts-with-a-digit'"),
        (("--endpoint-url", "127.0.0.1:4566"), "did you mean http://127.0.0.1:4566"),
    ],
)
def test_deploy_bad_input_is_a_one_line_error(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    template = _app(tmp_path / "app")
    done = _deploy("--template", str(template), "--endpoint-url", "http://127.0.0.1:9", *args)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert message in done.stderr
