"""Lambda control plane through boto3: shapes, states, waiters and AWS error codes."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from streamlab.aws_rules import PYTHON_RUNTIMES
from tests.integration.lambda_support import ACCOUNT, ECHO, ROLE, error_of, zip_source


def test_create_function_answers_pending_then_waiters_see_active(
    lambda_client: Any, streamlab_unique_name: Callable[[str], str], streamlab_region: str
) -> None:
    name = streamlab_unique_name("create")
    package = zip_source(ECHO)
    created = lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": package},
        Description="echo",
        Timeout=7,
        MemorySize=256,
        Tags={"team": "streams"},
    )
    try:
        assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
        assert created["State"] == "Pending"
        assert created["StateReasonCode"] == "Creating"
        assert created["FunctionArn"] == f"arn:aws:lambda:{streamlab_region}:{ACCOUNT}:function:{name}"
        assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(package).digest()).decode()
        assert created["CodeSize"] == len(package)
        assert (created["Version"], created["PackageType"], created["Architectures"]) == ("$LATEST", "Zip", ["x86_64"])
        assert (created["Timeout"], created["MemorySize"], created["Description"]) == (7, 256, "echo")

        lambda_client.get_waiter("function_active_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 5}
        )
        lambda_client.get_waiter("function_active").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
        function = lambda_client.get_function(FunctionName=name)
        assert function["Configuration"]["State"] == "Active"
        assert function["Configuration"]["LastUpdateStatus"] == "Successful"
        assert function["Tags"] == {"team": "streams"}
        assert function["Code"]["RepositoryType"] == "S3"
        with urllib.request.urlopen(function["Code"]["Location"], timeout=5) as download:
            assert download.read() == package
        configuration = lambda_client.get_function_configuration(FunctionName=function["Configuration"]["FunctionArn"])
        assert configuration["FunctionName"] == name
    finally:
        lambda_client.delete_function(FunctionName=name)


def test_update_code_answers_in_progress_and_function_updated_waiter_returns(
    lambda_client: Any, make_function: Callable[..., str]
) -> None:
    name = make_function(ECHO)
    assert json.loads(lambda_client.invoke(FunctionName=name, Payload=b'{"v": 1}')["Payload"].read()) == {"v": 1}

    updated = lambda_client.update_function_code(
        FunctionName=name, ZipFile=zip_source("def handler(event, context):\n    return 'v2'\n")
    )
    assert updated["LastUpdateStatus"] == "InProgress"
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    assert lambda_client.get_function(FunctionName=name)["Configuration"]["LastUpdateStatus"] == "Successful"
    assert json.loads(lambda_client.invoke(FunctionName=name)["Payload"].read()) == "v2"


def test_update_configuration_changes_settings(lambda_client: Any, make_function: Callable[..., str]) -> None:
    name = make_function(ECHO)
    before = lambda_client.get_function_configuration(FunctionName=name)
    updated = lambda_client.update_function_configuration(
        FunctionName=name, Timeout=10, MemorySize=512, Environment={"Variables": {"MODE": "blue"}}
    )
    assert updated["LastUpdateStatus"] == "InProgress"
    assert (updated["Timeout"], updated["MemorySize"]) == (10, 512)
    assert updated["Environment"] == {"Variables": {"MODE": "blue"}}
    assert updated["RevisionId"] != before["RevisionId"]
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 5})


def test_revision_id_mismatch_is_precondition_failed(lambda_client: Any, make_function: Callable[..., str]) -> None:
    name = make_function(ECHO)
    with pytest.raises(ClientError) as excinfo:
        lambda_client.update_function_configuration(FunctionName=name, Timeout=5, RevisionId="not-the-revision")
    assert error_of(excinfo)[:2] == ("PreconditionFailedException", 412)


def test_list_functions_pages(lambda_client: Any, make_function: Callable[..., str]) -> None:
    names = {make_function(ECHO, wait=False) for _ in range(3)}
    listed: set[str] = set()
    for page in lambda_client.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2}):
        assert len(page["Functions"]) <= 2
        listed.update(f["FunctionName"] for f in page["Functions"])
    assert names <= listed


def test_delete_function_then_not_found(
    lambda_client: Any, streamlab_unique_name: Callable[[str], str], streamlab_region: str
) -> None:
    name = streamlab_unique_name("gone")
    lambda_client.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": zip_source(ECHO)}
    )
    deleted = lambda_client.delete_function(FunctionName=name)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    for call in (lambda_client.get_function, lambda_client.delete_function, lambda_client.get_function_configuration):
        with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as excinfo:
            call(FunctionName=name)
        _code, status, message = error_of(excinfo)
        assert status == 404
        assert message == f"Function not found: arn:aws:lambda:{streamlab_region}:{ACCOUNT}:function:{name}"


def test_create_existing_function_is_conflict(lambda_client: Any, make_function: Callable[..., str]) -> None:
    name = make_function(ECHO)
    with pytest.raises(lambda_client.exceptions.ResourceConflictException) as excinfo:
        lambda_client.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": zip_source(ECHO)},
        )
    assert error_of(excinfo) == ("ResourceConflictException", 409, f"Function already exist: {name}")


@pytest.mark.parametrize(
    ("overrides", "expected_text"),
    [
        ({"Runtime": "nodejs20.x"}, ", ".join(PYTHON_RUNTIMES)),
        ({"Runtime": "python2.7"}, "Supported runtimes"),
        ({"Runtime": "python3.9"}, "Supported runtimes"),
        ({"Handler": "app handler"}, "Handler"),
        ({"Code": {"ZipFile": b"this is not a zip"}}, "Could not unzip uploaded file"),
        ({"Environment": {"Variables": {"AWS_REGION": "eu-west-1"}}}, "Reserved keys used in this request: AWS_REGION"),
        ({"Environment": {"Variables": {"BIG": "x" * 5000}}}, "exceeded the 4KB limit"),
    ],
    ids=[
        "unsupported-runtime",
        "unknown-runtime",
        "deprecated-runtime",
        "bad-handler",
        "bad-zip",
        "reserved-variable",
        "oversized-variables",
    ],
)
def test_invalid_create_parameters(
    lambda_client: Any, streamlab_unique_name: Callable[[str], str], overrides: dict[str, Any], expected_text: str
) -> None:
    request = {
        "FunctionName": streamlab_unique_name("bad"),
        "Runtime": "python3.12",
        "Role": ROLE,
        "Handler": "app.handler",
        "Code": {"ZipFile": zip_source(ECHO)},
    }
    request.update(overrides)
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as excinfo:
        lambda_client.create_function(**request)
    _code, status, message = error_of(excinfo)
    assert status == 400
    assert expected_text in message
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_function(FunctionName=request["FunctionName"])


def test_create_from_embedded_s3(
    lambda_client: Any,
    streamlab_client: Callable[..., Any],
    make_function: Callable[..., str],
    streamlab_unique_name: Callable[[str], str],
) -> None:
    s3 = streamlab_client("s3")
    bucket = streamlab_unique_name("code")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="echo.zip", Body=zip_source(ECHO))
    name = make_function(Code={"S3Bucket": bucket, "S3Key": "echo.zip"})
    assert json.loads(lambda_client.invoke(FunctionName=name, Payload=b'{"from": "s3"}')["Payload"].read()) == {
        "from": "s3"
    }

    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as excinfo:
        make_function(Code={"S3Bucket": bucket, "S3Key": "missing.zip"})
    assert "Error occurred while GetObject. S3 Error Code: NoSuchKey." in error_of(excinfo)[2]

    s3.put_object(Bucket=bucket, Key="v2.zip", Body=zip_source("def handler(event, context):\n    return 'v2'\n"))
    lambda_client.update_function_code(FunctionName=name, S3Bucket=bucket, S3Key="v2.zip")
    assert json.loads(lambda_client.invoke(FunctionName=name)["Payload"].read()) == "v2"


def test_function_concurrency_put_get_delete(lambda_client: Any, make_function: Callable[..., str]) -> None:
    name = make_function(ECHO)
    assert "ReservedConcurrentExecutions" not in lambda_client.get_function_concurrency(FunctionName=name)
    assert (
        lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)[
            "ReservedConcurrentExecutions"
        ]
        == 2
    )
    assert lambda_client.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 2
    assert lambda_client.get_function(FunctionName=name)["Concurrency"] == {"ReservedConcurrentExecutions": 2}
    deleted = lambda_client.delete_function_concurrency(FunctionName=name)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "ReservedConcurrentExecutions" not in lambda_client.get_function_concurrency(FunctionName=name)

    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as excinfo:
        lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=100_000)
    assert "UnreservedConcurrentExecution below its minimum value" in error_of(excinfo)[2]
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.put_function_concurrency(FunctionName=name + "-missing", ReservedConcurrentExecutions=1)


def test_malformed_json_body_is_a_clear_400(streamlab_endpoint_url: str) -> None:
    request = urllib.request.Request(
        f"{streamlab_endpoint_url}/2015-03-31/functions",
        data=b"{not json",
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/lambda/aws4_request, "
            "SignedHeaders=host, Signature=0",
            "X-Amz-Date": "20240101T000000Z",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request, timeout=5)
    assert excinfo.value.code == 400
    assert excinfo.value.headers["x-amzn-ErrorType"] == "InvalidRequestContentException"
    body = json.loads(excinfo.value.read())
    assert body["Type"] == "User"
    assert body["message"].startswith("Could not parse request body into json")
