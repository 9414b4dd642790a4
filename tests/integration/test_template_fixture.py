"""``streamlab_deployed_stack("template.yaml")`` from a user's own project, outside this checkout.

The project is what a new user writes: a SAM template (a streamed table, a function with
``CodeUri: src/`` reading it, a table it copies to), a handler, a ``conftest.py`` of its own and
a test using the fixture. It runs in a pytest subprocess (the plugin loaded through its
``pytest11`` entry point, as in any project that installed streamlab) against this session's
endpoint, so what it leaves behind can be checked here afterwards: the stack is deleted, its
event source mappings and its execution role gone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Marker:
    Type: String
    Default: plain
Resources:
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_IMAGE}
  Seen:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
  Copier:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: copier.handler
      CodeUri: src/
      Timeout: 10
      Environment:
        Variables:
          SEEN_TABLE: !Ref Seen
          MARKER: !Ref Marker
      Policies:
        - DynamoDBCrudPolicy: {TableName: !Ref Seen}
      Events:
        Stream:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Orders.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 10
Outputs:
  SeenTable:
    Value: !Ref Seen
"""

HANDLER = """
import os

import boto3

TABLE = boto3.resource("dynamodb").Table(os.environ["SEEN_TABLE"])


def handler(event, context):
    for record in event["Records"]:
        image = record["dynamodb"]["NewImage"]
        TABLE.put_item(Item={"pk": image["pk"]["S"], "event": record["eventName"], "marker": os.environ["MARKER"]})
"""

CONFTEST = """
import pytest


@pytest.fixture(scope="session")
def app(streamlab_deployed_stack):
    return streamlab_deployed_stack("template.yaml", parameters={"Marker": "from-conftest"})
"""

TEST = """
import json
import os


def test_the_handler_copies_a_write(app, streamlab_deployed_stack, streamlab_client):
    assert app is streamlab_deployed_stack("template.yaml", parameters={"Marker": "from-conftest"})
    assert app.stack_name.startswith("sl")
    orders = app.physical_id("Orders")
    assert app.output("SeenTable") == app.physical_id("Seen") != orders
    ddb = streamlab_client("dynamodb")
    ddb.put_item(TableName=orders, Item={"pk": {"S": "o-1"}})
    item = app.wait_for(
        lambda: ddb.get_item(TableName=app.output("SeenTable"), Key={"pk": {"S": "o-1"}}).get("Item"),
        timeout=30,
        message="the handler copied o-1",
    )
    assert item["event"] == {"S": "INSERT"}
    assert item["marker"] == {"S": "from-conftest"}
    with open(os.environ["REPORT_TO"], "w") as report:
        json.dump({"stack": app.stack_name, "stack_id": app.stack_id, "resources": dict(app.resources),
                   "types": dict(app.resource_types)}, report)
"""


def _user_project(root: Path) -> Path:
    project = root / "my-app"
    (project / "src").mkdir(parents=True)
    (project / "template.yaml").write_text(TEMPLATE)
    (project / "src" / "copier.py").write_text(HANDLER)
    (project / "conftest.py").write_text(CONFTEST)
    (project / "test_app.py").write_text(textwrap.dedent(TEST))
    return project


@pytest.mark.slow
def test_the_fixture_deploys_a_users_template_and_deletes_it(
    tmp_path: Path, streamlab_endpoint_url: str | None, streamlab_client: Callable[..., Any]
) -> None:
    if streamlab_endpoint_url is None:
        pytest.skip("checks the leftovers on an emulator endpoint")
    project = _user_project(tmp_path)
    assert Path(__file__).resolve().parents[2] not in project.resolve().parents  # outside the checkout
    report = tmp_path / "report.json"
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STREAMLAB_", "PYTEST_"))}
    environment.update(REPORT_TO=str(report), AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--streamlab-endpoint-url",
         streamlab_endpoint_url, "test_app.py"],
        cwd=project, env=environment, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout

    seen = json.loads(report.read_text())
    cloudformation = streamlab_client("cloudformation")
    stack = cloudformation.describe_stacks(StackName=seen["stack_id"])["Stacks"][0]
    assert stack["StackStatus"] == "DELETE_COMPLETE"
    roles = [seen["resources"][k] for k, kind in seen["types"].items() if kind == "AWS::IAM::Role"]
    assert roles, "the function should have had its own execution role"
    mappings = [seen["resources"][k] for k, kind in seen["types"].items() if kind == "AWS::Lambda::EventSourceMapping"]
    assert mappings
    left_mappings = {m["UUID"] for m in streamlab_client("lambda").list_event_source_mappings()["EventSourceMappings"]}
    assert not left_mappings & set(mappings), "the stack's mappings still exist"
    left_roles = {r["RoleName"] for r in streamlab_client("iam").list_roles()["Roles"]}
    assert not left_roles & set(roles)
    tables = set(streamlab_client("dynamodb").list_tables()["TableNames"])
    assert seen["resources"]["Orders"] not in tables
    functions = {f["FunctionName"] for f in streamlab_client("lambda").list_functions()["Functions"]}
    assert seen["resources"]["Copier"] not in functions
