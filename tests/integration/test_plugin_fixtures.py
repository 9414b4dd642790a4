"""The pytest plugin as a user's suite sees it: a throw-away project run by ``pytester``.

Each inner run loads streamlab's plugin through its ``pytest11`` entry point, like any project
that installed streamlab, and uses the fixtures on the embedded backend (or checks that an
unavailable backend skips with its reason).
"""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

CLEARED = (
    "AWS_ENDPOINT_URL",
    "STREAMLAB_BACKEND",
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
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
      CodeUri: ../handlers/
      Timeout: 10
      Environment:
        Variables:
          SEEN_TABLE: !Ref Seen
      Policies:
        - DynamoDBCrudPolicy: {TableName: !Ref Seen}
      Events:
        Stream:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Orders.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 10
"""

HANDLER = """
import os

import boto3

TABLE = boto3.resource("dynamodb").Table(os.environ["SEEN_TABLE"])


def handler(event, context):
    for record in event["Records"]:
        image = record["dynamodb"]["NewImage"]
        TABLE.put_item(Item={"pk": image["pk"]["S"], "event": record["eventName"]})
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for var in CLEARED:
        monkeypatch.delenv(var, raising=False)
    return pytester


def test_a_users_suite_uses_the_embedded_backend(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_user=textwrap.dedent(r"""
        def test_write_and_read(
            streamlab_backend, streamlab_endpoint_url, streamlab_client, streamlab_unique_name, streamlab_stream_probe
        ):
            assert streamlab_backend.name == "embedded"
            assert streamlab_endpoint_url == streamlab_backend.url
            assert streamlab_endpoint_url.startswith("http://127.0.0.1:")
            ddb = streamlab_client("dynamodb")
            table = streamlab_unique_name("users")
            ddb.create_table(TableName=table, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                             BillingMode="PAY_PER_REQUEST")
            ddb.put_item(TableName=table, Item={"pk": {"S": "a"}})
            item = streamlab_stream_probe.wait_for(
                lambda: ddb.get_item(TableName=table, Key={"pk": {"S": "a"}}).get("Item"), timeout=5
            )
            assert item["pk"] == {"S": "a"}
            assert streamlab_stream_probe.backend == "embedded" and streamlab_stream_probe.timeout_for(5) == 5

        def test_wait_for_fails_with_the_last_value(streamlab_stream_probe):
            import pytest
            with pytest.raises(AssertionError, match=r"never \(on embedded\): not within 0.2 s; last: 0"):
                streamlab_stream_probe.wait_for(lambda: 0, timeout=0.2, message="never")
    """)
    )
    result = project.runpytest_inprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_deployed_stack_runs_a_stream_handler(project: pytest.Pytester) -> None:
    project.mkdir("setup")
    project.mkdir("handlers")
    (project.path / "setup" / "template.yaml").write_text(TEMPLATE)
    (project.path / "handlers" / "copier.py").write_text(HANDLER)
    project.makepyfile(
        test_stack=textwrap.dedent("""
        def test_handler_sees_the_write(streamlab_deployed_stack, streamlab_client):
            stack = streamlab_deployed_stack("setup/template.yaml")
            assert stack is streamlab_deployed_stack("setup/template.yaml")  # once per session
            assert stack.stack_name.startswith("sl") and stack.stack_name.endswith("-setup")
            orders, seen = stack.physical_id("Orders"), stack.name("Seen")
            assert orders != seen and stack.resource_types["Copier"] == "AWS::Lambda::Function"
            ddb = streamlab_client("dynamodb")
            ddb.put_item(TableName=orders, Item={"pk": {"S": "o-1"}})
            item = stack.wait_for(
                lambda: ddb.get_item(TableName=seen, Key={"pk": {"S": "o-1"}}).get("Item"),
                timeout=20,
                message="the handler copied o-1",
            )
            assert item["event"] == {"S": "INSERT"}
    """)
    )
    # In a subprocess: pytester's in-process runs swap sys.modules, which leaves cfn-lint (the
    # template check CreateChangeSet runs) with classes of two imports after an earlier inner run.
    result = project.runpytest_subprocess("-q", "-p", "no:cacheprovider", timeout=600)
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize("backend", ["container", "localstack"])
def test_a_container_backend_without_docker_skips_with_the_reason(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{project.path}/no-docker.sock")  # no engine, here or anywhere
    project.makepyfile(test_needs="def test_needs_it(streamlab_client):\n    raise AssertionError('must not run')\n")
    result = project.runpytest_inprocess("-rs", "-p", "no:cacheprovider", f"--streamlab-backend={backend}")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines([f"*STREAMLAB_BACKEND={backend} needs Docker: *"])


def test_aws_without_credentials_skips_with_the_reason(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAMLAB_BACKEND", "aws")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(project.path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(project.path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    project.makepyfile(test_aws="def test_needs_it(streamlab_client):\n    raise AssertionError('must not run')\n")
    result = project.runpytest_inprocess("-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*STREAMLAB_BACKEND=aws: no AWS credentials*"])


def test_an_explicit_endpoint_url_wins_and_starts_nothing(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_url=textwrap.dedent("""
        def test_url(request, streamlab_endpoint_url):
            assert streamlab_endpoint_url == "http://127.0.0.1:9"
            assert "streamlab_backend" not in request.fixturenames
    """)
    )
    result = project.runpytest_inprocess("-q", "-p", "no:cacheprovider", "--streamlab-endpoint-url=http://127.0.0.1:9")
    result.assert_outcomes(passed=1)


def test_an_unknown_backend_is_a_usage_error(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMLAB_BACKEND", "moto")
    project.makepyfile(test_bad="def test_x(streamlab_stream_probe):\n    pass\n")
    result = project.runpytest_inprocess("-p", "no:cacheprovider")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*unknown streamlab backend 'moto'*"])
