"""Asynchronous invocation settings, provisioned concurrency and code signing through boto3.

EventInvokeConfig shapes and messages follow LocalStack's AWS-validated snapshots of
test_lambda_api.py (TestLambdaEventInvokeConfig, TestLambdaProvisionedConcurrency,
TestCodeSigningConfig; validated 2025-11-25); the invocation records those of
test_lambda_destinations.py (TestLambdaDestinationSqs; validated 2025-11-24).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config

from streamlab.testing import eventually
from tests.integration.lambda_support import ECHO, arn, error_of

FAILS_AND_COUNTS = """
import os
def handler(event, context):
    print("attempt", context.aws_request_id)
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    return {"ok": event}
"""


def test_event_invoke_config_lifecycle(
    lambda_client: Any, make_function: Callable[..., str], streamlab_region: str
) -> None:
    name = make_function(ECHO)
    put = lambda_client.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    assert put["FunctionArn"] == arn(streamlab_region, name, "$LATEST")
    assert put["MaximumRetryAttempts"] == 0
    assert put["DestinationConfig"] == {"OnFailure": {}, "OnSuccess": {}}
    assert "MaximumEventAgeInSeconds" not in put

    # Put replaces: the retry setting is gone; Update merges.
    assert "MaximumRetryAttempts" not in lambda_client.put_function_event_invoke_config(
        FunctionName=name, MaximumEventAgeInSeconds=60
    )
    updated = lambda_client.update_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    assert (updated["MaximumEventAgeInSeconds"], updated["MaximumRetryAttempts"]) == (60, 1)
    got = lambda_client.get_function_event_invoke_config(FunctionName=name)
    assert (got["MaximumEventAgeInSeconds"], got["MaximumRetryAttempts"]) == (60, 1)
    assert [
        c["FunctionArn"]
        for c in lambda_client.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
    ] == [arn(streamlab_region, name, "$LATEST")]

    lambda_client.publish_version(FunctionName=name)
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as excinfo:
        lambda_client.get_function_event_invoke_config(FunctionName=name, Qualifier="1")
    assert error_of(excinfo)[2] == f"The function {arn(streamlab_region, name, '1')} doesn't have an EventInvokeConfig"
    lambda_client.put_function_event_invoke_config(FunctionName=name, Qualifier="1", MaximumEventAgeInSeconds=120)
    assert len(lambda_client.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]) == 2

    lambda_client.delete_function_event_invoke_config(FunctionName=name)
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as excinfo:
        lambda_client.delete_function_event_invoke_config(FunctionName=name)
    assert (
        error_of(excinfo)[2]
        == f"The function {arn(streamlab_region, name, '$LATEST')} doesn't have an EventInvokeConfig"
    )


@pytest.mark.parametrize(
    ("request_overrides", "code", "message"),
    [
        (
            {},
            "InvalidParameterValueException",
            "You must specify at least one of error handling or destination setting.",
        ),
        (
            {
                "DestinationConfig": {
                    "OnSuccess": {"Destination": "arn:aws:lambda:{region}:123456789012:function:doesnotexist"}
                }
            },
            "InvalidParameterValueException",
            "The destination ARN arn:aws:lambda:{region}:123456789012:function:doesnotexist is invalid.",
        ),
        (
            {"DestinationConfig": {"OnFailure": {"Destination": "{self}"}}},
            "InvalidParameterValueException",
            "You can't specify the function as a destination for itself.",
        ),
        (
            {"DestinationConfig": {"OnSuccess": {"Destination": "arn:aws:iam:{region}:123456789012:role/x"}}},
            "InvalidParameterValueException",
            "The provided destination config DestinationConfig(onSuccess=OnSuccess(destination="
            "arn:aws:iam:{region}:123456789012:role/x), onFailure=null) is invalid.",
        ),
        (
            {"MaximumRetryAttempts": 3},
            "ValidationException",
            "1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: "
            "Member must have value less than or equal to 2",
        ),
    ],
    ids=["nothing", "missing-function", "itself", "bad-service", "too-many-retries"],
)
def test_event_invoke_config_errors(
    lambda_client: Any,
    make_function: Callable[..., str],
    streamlab_region: str,
    request_overrides: dict[str, Any],
    code: str,
    message: str,
) -> None:
    name = make_function(ECHO)
    text = (
        json.dumps(request_overrides)
        .replace("{region}", streamlab_region)
        .replace("{self}", arn(streamlab_region, name))
    )
    with pytest.raises(lambda_client.exceptions.ClientError) as excinfo:
        lambda_client.put_function_event_invoke_config(FunctionName=name, **json.loads(text))
    assert error_of(excinfo)[0::2] == (code, message.replace("{region}", streamlab_region))
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_function_event_invoke_config(FunctionName=name)


def test_event_invoke_config_of_a_missing_function(lambda_client: Any, streamlab_region: str) -> None:
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as excinfo:
        lambda_client.put_function_event_invoke_config(FunctionName="doesnotexist", MaximumRetryAttempts=1)
    assert error_of(excinfo)[2] == "The function doesn't exist."
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as excinfo:
        lambda_client.get_function_event_invoke_config(FunctionName="doesnotexist")
    assert error_of(excinfo)[2] == (
        f"The function {arn(streamlab_region, 'doesnotexist', '$LATEST')} doesn't have an EventInvokeConfig"
    )


def _queue(streamlab_client: Callable[..., Any], name: str) -> tuple[Any, str, str]:
    sqs = streamlab_client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs, url, queue_arn


def _records(sqs: Any, url: str, count: int) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []

    def enough() -> bool:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            received.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(received) >= count

    eventually(enough, timeout=20, interval=0.2)
    return received


def test_event_invocations_honour_retries_and_send_records_to_destinations(
    lambda_client: Any,
    make_function: Callable[..., str],
    streamlab_client: Callable[..., Any],
    streamlab_unique_name: Callable[[str], str],
    streamlab_region: str,
) -> None:
    name = make_function(FAILS_AND_COUNTS)
    sqs, success_url, success_arn = _queue(streamlab_client, streamlab_unique_name("ok"))
    _, failure_url, failure_arn = _queue(streamlab_client, streamlab_unique_name("failed"))
    lambda_client.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": success_arn}, "OnFailure": {"Destination": failure_arn}},
    )
    assert lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 1}')["StatusCode"] == 202
    assert (
        lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"fail": true}')["StatusCode"] == 202
    )

    [success] = _records(sqs, success_url, 1)
    assert success["version"] == "1.0"
    assert success["requestContext"]["condition"] == "Success"
    assert success["requestContext"]["functionArn"] == arn(streamlab_region, name, "$LATEST")
    assert success["requestContext"]["approximateInvokeCount"] == 1
    assert success["requestPayload"] == {"n": 1}
    assert success["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert success["responsePayload"] == {"ok": {"n": 1}}

    [failure] = _records(sqs, failure_url, 1)
    # MaximumRetryAttempts 0: one attempt, then the record (no retry a minute later).
    assert failure["requestContext"]["condition"] == "RetriesExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 1
    assert failure["responseContext"]["functionError"] == "Unhandled"
    assert failure["responsePayload"]["errorMessage"] == "asked to fail"


def test_provisioned_concurrency_is_accepted_and_reported(
    lambda_client: Any, make_function: Callable[..., str], streamlab_region: str
) -> None:
    """Accepted and reported READY; not simulated (no environments are pre-warmed)."""
    name = make_function(ECHO)
    lambda_client.publish_version(FunctionName=name)
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    put = lambda_client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=2
    )
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert (put["Status"], put["RequestedProvisionedConcurrentExecutions"]) == ("IN_PROGRESS", 2)
    got = lambda_client.get_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
    assert (got["Status"], got["AvailableProvisionedConcurrentExecutions"]) == ("READY", 2)
    listed = lambda_client.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"]
    assert [c["FunctionArn"] for c in listed] == [arn(streamlab_region, name, "live")]
    with pytest.raises(lambda_client.exceptions.ResourceConflictException) as excinfo:
        lambda_client.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
        )
    assert error_of(excinfo)[2] == "Version is pointed by a Provisioned Concurrency alias"
    lambda_client.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
    with pytest.raises(lambda_client.exceptions.ProvisionedConcurrencyConfigNotFoundException) as excinfo:
        lambda_client.get_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
    assert error_of(excinfo)[2] == "No Provisioned Concurrency Config found for this function"


def test_provisioned_concurrency_errors(
    lambda_client: Any,
    make_function: Callable[..., str],
    streamlab_client: Callable[..., Any],
    streamlab_region: str,
) -> None:
    name = make_function(ECHO)
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as excinfo:
        lambda_client.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1
        )
    assert error_of(excinfo)[2] == "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as excinfo:
        lambda_client.get_provisioned_concurrency_config(FunctionName=name, Qualifier="$LATEST")
    assert error_of(excinfo)[2] == "The function resource provided must be an alias or a published version."
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as excinfo:
        lambda_client.get_provisioned_concurrency_config(FunctionName=name, Qualifier="noalias")
    assert error_of(excinfo)[2] == f"Cannot find alias arn: {arn(streamlab_region, name, 'noalias')}"
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as excinfo:
        lambda_client.get_provisioned_concurrency_config(FunctionName=name, Qualifier="10")
    assert error_of(excinfo)[2] == f"Function not found: {arn(streamlab_region, name, '10')}"
    lambda_client.publish_version(FunctionName=name)
    unchecked = streamlab_client("lambda", config=Config(parameter_validation=False))  # boto3 checks >= 1 itself
    with pytest.raises(unchecked.exceptions.ClientError) as excinfo:
        unchecked.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=0
        )
    assert error_of(excinfo) == (
        "ValidationException",
        400,
        "1 validation error detected: Value '0' at 'provisionedConcurrentExecutions' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1",
    )


def test_code_signing_config_of_a_function(
    lambda_client: Any, make_function: Callable[..., str], streamlab_region: str
) -> None:
    name = make_function(ECHO)
    answer = lambda_client.get_function_code_signing_config(FunctionName=name)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "CodeSigningConfigArn" not in answer
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as excinfo:
        lambda_client.get_function_code_signing_config(FunctionName="csc-test-doesnotexist")
    assert error_of(excinfo)[2] == f"Function not found: {arn(streamlab_region, 'csc-test-doesnotexist')}"
