"""A SAM template with SNS and S3 events, a dead-letter queue and EventInvokeConfig deploys and works.

aws-sam-translator turns ``Events: Type SNS / S3`` into AWS::SNS::Subscription (Protocol
lambda), the bucket's NotificationConfiguration LambdaConfigurations and the
AWS::Lambda::Permission each needs; ``DeadLetterQueue`` into the function's DeadLetterConfig;
``EventInvokeConfig`` into AWS::Lambda::EventInvokeConfig. The stack is created with boto3 and
exercised with boto3: a publish and an upload reach the handler, whose answers reach the
OnSuccess queue; a failing event lands in the dead-letter queue.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from streamlab.testing import eventually

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Alerts:
    Type: AWS::SNS::Topic
  Uploads:
    Type: AWS::S3::Bucket
  Done:
    Type: AWS::SQS::Queue
  Parked:
    Type: AWS::SQS::Queue
  Handler:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      InlineCode: |
        def handler(event, context):
            record = event["Records"][0]
            if "Sns" in record and record["Sns"]["Message"] == "fail":
                raise RuntimeError("poison alert")
            return {"source": record.get("EventSource") or record.get("eventSource")}
      DeadLetterQueue: {Type: SQS, TargetArn: !GetAtt Parked.Arn}
      EventInvokeConfig:
        MaximumRetryAttempts: 0
        DestinationConfig:
          OnSuccess: {Type: SQS, Destination: !GetAtt Done.Arn}
      Events:
        Alert:
          Type: SNS
          Properties: {Topic: !Ref Alerts}
        Upload:
          Type: S3
          Properties:
            Bucket: !Ref Uploads
            Events: s3:ObjectCreated:*
            Filter: {S3Key: {Rules: [{Name: suffix, Value: .csv}]}}
Outputs:
  Handler: {Value: !Ref Handler}
  Topic: {Value: !Ref Alerts}
  Bucket: {Value: !Ref Uploads}
  Done: {Value: !Ref Done}
  Parked: {Value: !Ref Parked}
  ParkedArn: {Value: !GetAtt Parked.Arn}
"""


@pytest.fixture
def stack(
    streamlab_client: Callable[..., Any], streamlab_unique_name: Callable[[str], str]
) -> Iterator[dict[str, str]]:
    cloudformation = streamlab_client("cloudformation")
    name = streamlab_unique_name("cf-push")
    cloudformation.create_stack(
        StackName=name, TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
    )
    waiter = {"Delay": 1, "MaxAttempts": 180}
    cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=waiter)
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    yield {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}
    s3 = streamlab_client("s3")
    bucket = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["Bucket"]
    for listed in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=listed["Key"])
    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=waiter)


def _bodies(sqs: Any, url: str, count: int) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = []

    def enough() -> bool:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(bodies) >= count

    eventually(enough, timeout=30, interval=0.2)
    return bodies


def test_sam_sns_and_s3_events_dead_letter_queue_and_event_invoke_config(
    stack: dict[str, str], streamlab_client: Callable[..., Any]
) -> None:
    lambda_client, sqs = streamlab_client("lambda"), streamlab_client("sqs")
    configuration = lambda_client.get_function_configuration(FunctionName=stack["Handler"])
    assert configuration["DeadLetterConfig"] == {"TargetArn": stack["ParkedArn"]}
    invoke_config = lambda_client.get_function_event_invoke_config(FunctionName=stack["Handler"])
    assert invoke_config["MaximumRetryAttempts"] == 0
    policy = json.loads(lambda_client.get_policy(FunctionName=stack["Handler"])["Policy"])
    assert {s["Principal"]["Service"] for s in policy["Statement"]} == {"sns.amazonaws.com", "s3.amazonaws.com"}

    streamlab_client("sns").publish(TopicArn=stack["Topic"], Message="hello")
    s3 = streamlab_client("s3")
    s3.put_object(Bucket=stack["Bucket"], Key="in/report.csv", Body=b"a,b")
    s3.put_object(Bucket=stack["Bucket"], Key="in/report.txt", Body=b"not csv")
    done = _bodies(sqs, stack["Done"], 2)
    assert sorted(b["responsePayload"]["source"] for b in done) == ["aws:s3", "aws:sns"]

    streamlab_client("sns").publish(TopicArn=stack["Topic"], Message="fail")
    [parked] = _bodies(sqs, stack["Parked"], 1)
    assert parked["Records"][0]["Sns"]["Message"] == "fail"
    assert "Messages" not in sqs.receive_message(QueueUrl=stack["Done"], WaitTimeSeconds=1)
