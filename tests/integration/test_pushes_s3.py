"""S3 event notifications to functions: moto's S3 -> streamlab's Lambda service, as AWS sends them.

The record follows LocalStack's AWS-validated TestS3NotificationsToLambda::test_create_object_put_via_dynamodb
(test_s3_notifications_lambda.snapshot.json, validated 2025-01-21); the validation error its
test_invalid_lambda_arn (validated 2025-01-21). The handler's events reach the test through the
function's OnSuccess destination (an SQS queue).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from streamlab.testing import eventually

RETURNS_EVENT = """
def handler(event, context):
    return event
"""


@pytest.fixture
def target(
    lambda_client: Any,
    make_function: Callable[..., str],
    streamlab_client: Callable[..., Any],
    streamlab_unique_name: Callable[[str], str],
) -> dict[str, Any]:
    sqs = streamlab_client("sqs")
    url = sqs.create_queue(QueueName=streamlab_unique_name("ok"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = make_function(RETURNS_EVENT)
    lambda_client.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0, DestinationConfig={"OnSuccess": {"Destination": queue_arn}}
    )
    s3 = streamlab_client("s3")
    bucket = streamlab_unique_name("bucket").lower()
    s3.create_bucket(Bucket=bucket)
    function_arn = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    return {"sqs": sqs, "url": url, "name": name, "s3": s3, "bucket": bucket, "function_arn": function_arn}


def _allow_s3(lambda_client: Any, name: str, bucket: str) -> None:
    lambda_client.add_permission(
        FunctionName=name,
        StatementId="s3",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn=f"arn:aws:s3:::{bucket}",
    )


def _notify(target: dict[str, Any], **rule: Any) -> None:
    target["s3"].put_bucket_notification_configuration(
        Bucket=target["bucket"],
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"Id": "to-fn", "LambdaFunctionArn": target["function_arn"], **rule}]
        },
    )


def _records(target: dict[str, Any], count: int) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []

    def enough() -> bool:
        for message in (
            target["sqs"].receive_message(QueueUrl=target["url"], MaxNumberOfMessages=10).get("Messages", [])
        ):
            records.extend(json.loads(message["Body"])["requestPayload"]["Records"])
            target["sqs"].delete_message(QueueUrl=target["url"], ReceiptHandle=message["ReceiptHandle"])
        return len(records) >= count

    eventually(enough, timeout=20, interval=0.2)
    return records


def test_put_object_invokes_the_function_with_aws_s3_record(lambda_client: Any, target: dict[str, Any]) -> None:
    _allow_s3(lambda_client, target["name"], target["bucket"])
    _notify(target, Events=["s3:ObjectCreated:*"])
    put = target["s3"].put_object(Bucket=target["bucket"], Key="in/hello world.txt", Body=b"hello world")

    [record] = _records(target, 1)
    assert (record["eventVersion"], record["eventSource"], record["eventName"]) == (
        "2.1",
        "aws:s3",
        "ObjectCreated:Put",
    )
    assert set(record) >= {"awsRegion", "eventTime", "userIdentity", "requestParameters", "responseElements", "s3"}
    s3 = record["s3"]
    assert (s3["s3SchemaVersion"], s3["configurationId"]) == ("1.0", "to-fn")
    assert s3["bucket"]["name"] == target["bucket"]
    assert s3["bucket"]["arn"] == f"arn:aws:s3:::{target['bucket']}"
    assert "principalId" in s3["bucket"]["ownerIdentity"]
    obj = s3["object"]
    assert obj["key"] == "in/hello+world.txt"  # URL-encoded, as AWS sends keys
    assert (obj["size"], obj["eTag"]) == (11, put["ETag"].strip('"'))
    assert "versionId" not in obj  # the bucket is not versioned
    assert obj["sequencer"]
    # No s3:TestEvent reached the function: the Put is the only record.
    assert "Messages" not in target["sqs"].receive_message(QueueUrl=target["url"], WaitTimeSeconds=1)


def test_prefix_and_suffix_filters_and_event_names_choose_what_is_sent(
    lambda_client: Any, target: dict[str, Any]
) -> None:
    _allow_s3(lambda_client, target["name"], target["bucket"])
    rules = [{"Name": "prefix", "Value": "images/"}, {"Name": "suffix", "Value": ".png"}]
    target["s3"].put_bucket_notification_configuration(
        Bucket=target["bucket"],
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "Id": "png",
                    "LambdaFunctionArn": target["function_arn"],
                    "Events": ["s3:ObjectCreated:Put"],
                    "Filter": {"Key": {"FilterRules": rules}},
                },
                {"Id": "gone", "LambdaFunctionArn": target["function_arn"], "Events": ["s3:ObjectRemoved:*"]},
            ]
        },
    )
    for key in ("images/a.png", "images/b.jpg", "docs/c.png"):
        target["s3"].put_object(Bucket=target["bucket"], Key=key, Body=b"x")
    target["s3"].delete_object(Bucket=target["bucket"], Key="docs/c.png")

    records = _records(target, 2)
    by_name = {record["eventName"]: record for record in records}
    assert set(by_name) == {"ObjectCreated:Put", "ObjectRemoved:Delete"}
    assert by_name["ObjectCreated:Put"]["s3"]["object"]["key"] == "images/a.png"
    removed = by_name["ObjectRemoved:Delete"]["s3"]["object"]
    assert removed["key"] == "docs/c.png"
    assert "size" not in removed
    assert "eTag" not in removed
    assert "Messages" not in target["sqs"].receive_message(QueueUrl=target["url"], WaitTimeSeconds=1)


def test_a_function_s3_may_not_invoke_is_refused_unless_validation_is_skipped(
    lambda_client: Any, target: dict[str, Any]
) -> None:
    with pytest.raises(ClientError) as excinfo:
        _notify(target, Events=["s3:ObjectCreated:*"])
    error = excinfo.value.response["Error"]
    assert (error["Code"], error["Message"]) == (
        "InvalidArgument",
        "Unable to validate the following destination configurations",
    )
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "LambdaFunctionConfigurations" not in target["s3"].get_bucket_notification_configuration(
        Bucket=target["bucket"]
    )

    # Skipped validation stores it; the pushes are then refused (no permission), as AWS's invoke would be.
    target["s3"].put_bucket_notification_configuration(
        Bucket=target["bucket"],
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {"Id": "x", "LambdaFunctionArn": target["function_arn"], "Events": ["s3:ObjectCreated:*"]}
            ]
        },
        SkipDestinationValidation=True,
    )
    assert target["s3"].get_bucket_notification_configuration(Bucket=target["bucket"])["LambdaFunctionConfigurations"]
    target["s3"].put_object(Bucket=target["bucket"], Key="k", Body=b"x")
    assert "Messages" not in target["sqs"].receive_message(QueueUrl=target["url"], WaitTimeSeconds=2)
