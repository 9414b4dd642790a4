"""Asynchronous invocations, their destinations and dead-letter queue, and SNS / S3 pushes to functions.

Every scenario creates its own small function (it answers with its event, or raises when the
event says ``"fail"``) and watches what happens through SQS queues: the OnSuccess / OnFailure
destinations and the DeadLetterConfig. Public API only.
"""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError

from streamlab.conformance.suite.harness import Scenario, new_name
from streamlab.testing import eventually

HANDLER = """
def handler(event, context):
    if isinstance(event, dict) and event.get("fail"):
        raise RuntimeError("asked to fail")
    return event
"""


@dataclass
class Pushes:
    """The scenario's functions and buckets (queues and topics are the scenario's own)."""

    scenario: Scenario
    functions: list[str] = field(default_factory=list)
    buckets: list[str] = field(default_factory=list)

    @property
    def lam(self) -> Any:
        return self.scenario.lambda_client()

    def function(self, **settings: Any) -> str:
        """A function's ARN; ``settings`` go to CreateFunction (a DeadLetterConfig, say)."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("app.py", HANDLER)
        name = new_name("conf-async")
        arn = self.lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=self.scenario.functions.role,
            Handler="app.handler",
            Code={"ZipFile": buffer.getvalue()},
            **settings,
        )["FunctionArn"]
        self.functions.append(name)
        self.lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        return str(arn)

    def destinations(self, function: str, retries: int = 0) -> tuple[str, str]:
        """(success queue url, failure queue url): the function's OnSuccess and OnFailure destinations."""
        success_url, success_arn = self.scenario.queue()
        failure_url, failure_arn = self.scenario.queue()
        self.lam.put_function_event_invoke_config(
            FunctionName=function,
            MaximumRetryAttempts=retries,
            DestinationConfig={"OnSuccess": {"Destination": success_arn}, "OnFailure": {"Destination": failure_arn}},
        )
        return success_url, failure_url

    def allow(self, function: str, principal: str, source_arn: str) -> None:
        self.lam.add_permission(
            FunctionName=function,
            StatementId=new_name("push"),
            Action="lambda:InvokeFunction",
            Principal=principal,
            SourceArn=source_arn,
        )

    def bucket(self) -> str:
        name = new_name("conf-push").lower()
        options: dict[str, Any] = {}
        if self.scenario.region != "us-east-1":
            options["CreateBucketConfiguration"] = {"LocationConstraint": self.scenario.region}
        self.scenario.client("s3").create_bucket(Bucket=name, **options)
        self.buckets.append(name)
        return name

    def raw_messages(self, url: str, count: int) -> list[dict[str, Any]]:
        """Receive (and delete) ``count`` messages with their attributes."""
        sqs = self.scenario.client("sqs")
        got: list[dict[str, Any]] = []

        def enough() -> bool:
            answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
            for message in answer.get("Messages", []):
                got.append(message)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            return len(got) >= count

        backend = self.scenario.backend
        eventually(enough, backend.retries, backend.poll * 2, f"{count} message(s) on {url}")
        return got

    def nothing_on(self, url: str) -> bool:
        """True when no message arrives within the backend's quiet period."""
        sqs = self.scenario.client("sqs")
        answer = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=max(1, int(self.scenario.backend.quiet)))
        return "Messages" not in answer

    def close(self) -> None:
        for name in self.functions:
            with contextlib.suppress(ClientError):
                self.lam.delete_function(FunctionName=name)
        s3 = self.scenario.client("s3")
        for bucket in self.buckets:
            with contextlib.suppress(ClientError):
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                    objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                    if objects:
                        s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})
                s3.delete_bucket(Bucket=bucket)


@pytest.fixture
def pushes(scenario: Scenario) -> Iterator[Pushes]:
    made = Pushes(scenario)
    try:
        yield made
    finally:
        made.close()


def test_an_event_invocation_sends_its_record_to_the_on_success_destination(pushes: Pushes) -> None:
    """InvocationType Event answers 202; when the function succeeds, the invocation record (the
    request and response payloads, condition Success) goes to the OnSuccess destination.

    Source: invocation-async-retain-records.html; record shape from LocalStack's AWS-recorded
    TestLambdaDestinationSqs::test_assess_lambda_destination_invocation (recorded 2024-03-21).
    """
    function = pushes.function()
    success_url, _ = pushes.destinations(function)
    answer = pushes.lam.invoke(FunctionName=function, InvocationType="Event", Payload=b'{"order": 1}')
    assert answer["StatusCode"] == 202
    [message] = pushes.raw_messages(success_url, 1)
    record = json.loads(message["Body"])
    assert set(record) == {
        "version",
        "timestamp",
        "requestContext",
        "requestPayload",
        "responseContext",
        "responsePayload",
    }
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["functionArn"] == f"{function}:$LATEST"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestPayload"] == {"order": 1}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"order": 1}


def test_a_failed_event_goes_to_on_failure_and_to_the_dead_letter_queue(pushes: Pushes) -> None:
    """An event whose retries are exhausted goes both to the OnFailure destination (condition
    RetriesExhausted) and to the function's DeadLetterConfig queue: the event as body, with
    RequestID, ErrorCode and ErrorMessage attributes.

    Source: invocation-async-retain-records.html; LocalStack's AWS-recorded TestLambdaDLQ::
    test_dead_letter_queue (recorded 2024-03-21) and TestLambdaDestinationSqs (recorded 2024-03-21).
    """
    dlq_url, dlq_arn = pushes.scenario.queue()
    function = pushes.function(DeadLetterConfig={"TargetArn": dlq_arn})
    assert pushes.lam.get_function_configuration(FunctionName=function)["DeadLetterConfig"] == {"TargetArn": dlq_arn}
    success_url, failure_url = pushes.destinations(function, retries=0)
    pushes.lam.invoke(FunctionName=function, InvocationType="Event", Payload=b'{"fail": true, "order": 2}')

    [parked] = pushes.raw_messages(dlq_url, 1)
    assert json.loads(parked["Body"]) == {"fail": True, "order": 2}
    attributes = parked["MessageAttributes"]
    assert set(attributes) == {"RequestID", "ErrorCode", "ErrorMessage"}
    assert attributes["ErrorCode"] == {"DataType": "Number", "StringValue": "200"}
    assert attributes["ErrorMessage"] == {"DataType": "String", "StringValue": "asked to fail"}
    [message] = pushes.raw_messages(failure_url, 1)
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["requestId"] == attributes["RequestID"]["StringValue"]
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "asked to fail"
    assert pushes.nothing_on(success_url)


def test_an_sns_subscription_invokes_the_function_with_the_sns_event(pushes: Pushes) -> None:
    """A topic's lambda subscription invokes the function asynchronously (once sns.amazonaws.com
    may invoke it) with Records[0] = {EventSource aws:sns, EventVersion 1.0, EventSubscriptionArn,
    Sns{Type, MessageId, TopicArn, Subject, Message, Timestamp, SignatureVersion, Signature,
    SigningCertUrl, UnsubscribeUrl, MessageAttributes}}.

    Source: with-sns.html; LocalStack's AWS-validated TestSNSSubscriptionLambda::
    test_python_lambda_subscribe_sns_topic (validated 2025-10-06).
    """
    function = pushes.function()
    success_url, _ = pushes.destinations(function)
    sns = pushes.scenario.client("sns")
    topic = sns.create_topic(Name=new_name("conf-push"))["TopicArn"]
    pushes.scenario.topics.append((topic, ""))
    pushes.allow(function, "sns.amazonaws.com", topic)
    subscription = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function)["SubscriptionArn"]
    published = sns.publish(
        TopicArn=topic,
        Message="Hello world.",
        Subject="[Subject] Test subject",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "greeting"}},
    )

    [message] = pushes.raw_messages(success_url, 1)
    [record] = json.loads(message["Body"])["requestPayload"]["Records"]
    assert (record["EventSource"], record["EventVersion"], record["EventSubscriptionArn"]) == (
        "aws:sns",
        "1.0",
        subscription,
    )
    notification = record["Sns"]
    assert set(notification) == {
        "Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion",
        "Signature", "SigningCertUrl", "UnsubscribeUrl", "MessageAttributes",
    }  # fmt: skip
    assert notification["Type"] == "Notification"
    assert (notification["MessageId"], notification["TopicArn"]) == (published["MessageId"], topic)
    assert (notification["Subject"], notification["Message"]) == ("[Subject] Test subject", "Hello world.")
    assert notification["SignatureVersion"] == "1"
    assert notification["MessageAttributes"] == {"kind": {"Type": "String", "Value": "greeting"}}
    assert notification["UnsubscribeUrl"].endswith(f"SubscriptionArn={subscription}")


def test_an_s3_notification_invokes_the_function_with_the_s3_record(pushes: Pushes) -> None:
    """PutObject on a bucket whose notification names a function (allowed for s3.amazonaws.com,
    the bucket as SourceArn) invokes it asynchronously with one record: eventVersion 2.1,
    eventSource aws:s3, eventName ObjectCreated:Put, s3{s3SchemaVersion 1.0, configurationId,
    bucket{name, arn, ownerIdentity}, object{key URL-encoded, size, eTag, sequencer}}; only the
    keys the prefix/suffix filter admits.

    Source: notification-content-structure.html; LocalStack's AWS-validated
    TestS3NotificationsToLambda::test_create_object_put_via_dynamodb (validated 2025-01-21).
    """
    function = pushes.function()
    success_url, _ = pushes.destinations(function)
    bucket = pushes.bucket()
    pushes.allow(function, "s3.amazonaws.com", f"arn:aws:s3:::{bucket}")
    s3 = pushes.scenario.client("s3")
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "Id": "uploads",
                    "LambdaFunctionArn": function,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}},
                }
            ]
        },
    )
    s3.put_object(Bucket=bucket, Key="out/ignored.txt", Body=b"no")
    put = s3.put_object(Bucket=bucket, Key="in/hello world.txt", Body=b"hello world")

    [message] = pushes.raw_messages(success_url, 1)
    [record] = json.loads(message["Body"])["requestPayload"]["Records"]
    assert (record["eventVersion"], record["eventSource"], record["eventName"]) == (
        "2.1",
        "aws:s3",
        "ObjectCreated:Put",
    )
    assert record["awsRegion"] == pushes.scenario.region
    assert {"eventTime", "userIdentity", "requestParameters", "responseElements"} <= set(record)
    assert (record["s3"]["s3SchemaVersion"], record["s3"]["configurationId"]) == ("1.0", "uploads")
    assert record["s3"]["bucket"]["name"] == bucket
    assert record["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    assert "principalId" in record["s3"]["bucket"]["ownerIdentity"]
    obj = record["s3"]["object"]
    assert (obj["key"], obj["size"], obj["eTag"]) == ("in/hello+world.txt", 11, put["ETag"].strip('"'))
    assert obj["sequencer"]
    assert pushes.nothing_on(success_url)


def test_an_s3_notification_to_a_function_s3_may_not_invoke_is_refused(pushes: Pushes) -> None:
    """PutBucketNotificationConfiguration naming a function whose policy does not allow
    s3.amazonaws.com answers InvalidArgument "Unable to validate the following destination
    configurations" and stores nothing.

    Source: LocalStack's AWS-validated TestS3NotificationsToLambda::test_invalid_lambda_arn
    (validated 2025-01-21).
    """
    function = pushes.function()
    bucket = pushes.bucket()
    s3 = pushes.scenario.client("s3")
    with pytest.raises(ClientError) as excinfo:
        s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration={
                "LambdaFunctionConfigurations": [
                    {"Id": "x", "LambdaFunctionArn": function, "Events": ["s3:ObjectCreated:*"]}
                ]
            },
        )
    error = excinfo.value.response["Error"]
    assert (error["Code"], error["Message"]) == (
        "InvalidArgument",
        "Unable to validate the following destination configurations",
    )
    assert "LambdaFunctionConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)
