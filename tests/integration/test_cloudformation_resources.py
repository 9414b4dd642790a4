"""CloudFormation resources through boto3: the SAM transform's output, and the Lambda resources IaC tools publish.

Each stack is deployed with boto3 against the endpoint and checked in the services its
resources live in (DynamoDB, Lambda, SQS, Kinesis, IAM, SSM, S3, ECR), then deleted and checked
gone.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

SAM_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    Timeout: 7
    Environment:
      Variables:
        STAGE: test
Resources:
  Settings:
    Type: AWS::Serverless::SimpleTable
    Properties:
      PrimaryKey: {Name: id, Type: String}
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_IMAGE}
      TimeToLiveSpecification: {AttributeName: expires, Enabled: true}
      Tags: [{Key: team, Value: shop}]
  Jobs:
    Type: AWS::SQS::Queue
    Properties: {VisibilityTimeout: 60}
  Clicks:
    Type: AWS::Kinesis::Stream
    Properties: {ShardCount: 1}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Handler: index.handler
      InlineCode: "def handler(event, context):\\n    return {'batchItemFailures': []}\\n"
      ReservedConcurrentExecutions: 2
      Policies:
        - DynamoDBCrudPolicy: {TableName: !Ref Settings}
        - SQSPollerPolicy: {QueueName: !GetAtt Jobs.QueueName}
      Events:
        Stream:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Orders.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 25
            MaximumBatchingWindowInSeconds: 1
            ParallelizationFactor: 2
            BisectBatchOnFunctionError: true
            FilterCriteria:
              Filters: [{Pattern: '{"eventName": ["INSERT"]}'}]
        Queue:
          Type: SQS
          Properties: {Queue: !GetAtt Jobs.Arn, BatchSize: 5}
        Kinesis:
          Type: Kinesis
          Properties: {Stream: !GetAtt Clicks.Arn, StartingPosition: LATEST, BatchSize: 50}
Outputs:
  Worker: {Value: !Ref Worker}
  Settings: {Value: !Ref Settings}
  Orders: {Value: !Ref Orders}
"""


@pytest.fixture
def cloudformation(streamlab_client: Callable[..., Any]) -> Any:
    return streamlab_client("cloudformation")


@pytest.fixture
def stack_name(streamlab_unique_name: Callable[[str], str], cloudformation: Any) -> Iterator[str]:
    name = streamlab_unique_name("cf-res")
    yield name
    cloudformation.delete_stack(StackName=name)


def _wait(cloudformation: Any, waiter: str, name: str) -> None:
    cloudformation.get_waiter(waiter).wait(StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})


def _outputs(cloudformation: Any, name: str) -> dict[str, str]:
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}


def test_sam_transform_deploys_functions_events_policies_and_simple_tables(
    cloudformation: Any, stack_name: str, streamlab_client: Callable[..., Any]
) -> None:
    cloudformation.create_stack(
        StackName=stack_name, TemplateBody=SAM_TEMPLATE, Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
    )
    _wait(cloudformation, "stack_create_complete", stack_name)
    outputs = _outputs(cloudformation, stack_name)
    lambda_client, dynamodb = streamlab_client("lambda"), streamlab_client("dynamodb")

    configuration = lambda_client.get_function_configuration(FunctionName=outputs["Worker"])
    assert (configuration["Runtime"], configuration["Timeout"]) == ("python3.12", 7)
    assert configuration["Environment"]["Variables"] == {"STAGE": "test"}
    assert lambda_client.get_function_concurrency(FunctionName=outputs["Worker"])["ReservedConcurrentExecutions"] == 2
    mappings = lambda_client.list_event_source_mappings(FunctionName=outputs["Worker"])["EventSourceMappings"]
    by_source = {mapping["EventSourceArn"].split(":")[2]: mapping for mapping in mappings}
    assert set(by_source) == {"dynamodb", "sqs", "kinesis"}
    stream = by_source["dynamodb"]
    assert (stream["BatchSize"], stream["MaximumBatchingWindowInSeconds"], stream["ParallelizationFactor"]) == (
        25,
        1,
        2,
    )
    assert stream["BisectBatchOnFunctionError"] is True
    assert stream["FilterCriteria"] == {"Filters": [{"Pattern": '{"eventName": ["INSERT"]}'}]}
    assert (by_source["sqs"]["BatchSize"], by_source["kinesis"]["BatchSize"]) == (5, 50)

    settings = dynamodb.describe_table(TableName=outputs["Settings"])["Table"]
    assert settings["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    orders_ttl = dynamodb.describe_time_to_live(TableName=outputs["Orders"])["TimeToLiveDescription"]
    assert orders_ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}

    role_name = configuration["Role"].rsplit("/", 1)[1]
    inline = streamlab_client("iam").list_role_policies(RoleName=role_name)["PolicyNames"]
    assert len(inline) == 2  # one per policy template
    processed = cloudformation.get_template(StackName=stack_name, TemplateStage="Processed")["TemplateBody"]
    types = {resource["Type"] for resource in processed["Resources"].values()}
    assert not [kind for kind in types if kind.startswith("AWS::Serverless::")]
    assert "AWS::Lambda::EventSourceMapping" in types

    cloudformation.delete_stack(StackName=stack_name)
    _wait(cloudformation, "stack_delete_complete", stack_name)
    with pytest.raises(ClientError):
        lambda_client.get_function(FunctionName=outputs["Worker"])
    assert outputs["Orders"] not in dynamodb.list_tables()["TableNames"]
    assert not lambda_client.list_event_source_mappings(FunctionName=outputs["Worker"])["EventSourceMappings"]


def test_update_in_place_and_replacement_follow_cloudformations_rules(
    cloudformation: Any, stack_name: str, streamlab_client: Callable[..., Any]
) -> None:
    """A changed queue attribute is updated in place (same URL); a changed table key replaces the
    table (a new one, the old one deleted in cleanup) and what refers to it follows the new name."""

    def template(visibility: int, key: str) -> str:
        return json.dumps(
            {
                "Resources": {
                    "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": visibility}},
                    "Table": {
                        "Type": "AWS::DynamoDB::Table",
                        "Properties": {
                            "BillingMode": "PAY_PER_REQUEST",
                            "AttributeDefinitions": [{"AttributeName": key, "AttributeType": "S"}],
                            "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
                        },
                    },
                    "TableName": {
                        "Type": "AWS::SSM::Parameter",
                        "Properties": {"Type": "String", "Value": {"Ref": "Table"}},
                    },
                },
                "Outputs": {
                    "Queue": {"Value": {"Ref": "Queue"}},
                    "Table": {"Value": {"Ref": "Table"}},
                    "Parameter": {"Value": {"Ref": "TableName"}},
                },
            }
        )

    cloudformation.create_stack(StackName=stack_name, TemplateBody=template(30, "pk"))
    _wait(cloudformation, "stack_create_complete", stack_name)
    before = _outputs(cloudformation, stack_name)
    changes = cloudformation.create_change_set(
        StackName=stack_name, ChangeSetName="next", TemplateBody=template(45, "id")
    )
    described = cloudformation.describe_change_set(ChangeSetName=changes["Id"])
    replacement = {
        c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"]["Replacement"] for c in described["Changes"]
    }
    assert replacement == {"Queue": "False", "Table": "True"}
    cloudformation.execute_change_set(ChangeSetName=changes["Id"])
    _wait(cloudformation, "stack_update_complete", stack_name)

    after = _outputs(cloudformation, stack_name)
    assert after["Queue"] == before["Queue"]
    attributes = streamlab_client("sqs").get_queue_attributes(QueueUrl=after["Queue"], AttributeNames=["All"])
    assert attributes["Attributes"]["VisibilityTimeout"] == "45"
    assert after["Table"] != before["Table"]
    tables = streamlab_client("dynamodb").list_tables()["TableNames"]
    assert after["Table"] in tables
    assert before["Table"] not in tables
    assert streamlab_client("ssm").get_parameter(Name=after["Parameter"])["Parameter"]["Value"] == after["Table"]


def test_retained_resources_outlive_the_stack(
    cloudformation: Any, stack_name: str, streamlab_client: Callable[..., Any]
) -> None:
    body = json.dumps(
        {
            "Resources": {
                "Kept": {"Type": "AWS::SQS::Queue", "DeletionPolicy": "Retain"},
                "Gone": {"Type": "AWS::SQS::Queue"},
            },
            "Outputs": {"Kept": {"Value": {"Ref": "Kept"}}, "Gone": {"Value": {"Ref": "Gone"}}},
        }
    )
    cloudformation.create_stack(StackName=stack_name, TemplateBody=body)
    _wait(cloudformation, "stack_create_complete", stack_name)
    outputs = _outputs(cloudformation, stack_name)
    stack_id = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]["StackId"]
    cloudformation.delete_stack(StackName=stack_name)
    _wait(cloudformation, "stack_delete_complete", stack_id)
    statuses = {
        e["LogicalResourceId"]: e["ResourceStatus"]
        for e in reversed(cloudformation.describe_stack_events(StackName=stack_id)["StackEvents"])
    }
    assert (statuses["Kept"], statuses["Gone"]) == ("DELETE_SKIPPED", "DELETE_COMPLETE")
    sqs = streamlab_client("sqs")
    queues = sqs.list_queues().get("QueueUrls", [])
    assert outputs["Kept"] in queues
    assert outputs["Gone"] not in queues
    sqs.delete_queue(QueueUrl=outputs["Kept"])


def _lambda_api_has_versions(lambda_client: Any) -> bool:
    """Whether the endpoint's Lambda service serves PublishVersion & co. (issue 13, item 4)."""
    try:
        lambda_client.list_versions_by_function(FunctionName="streamlab-probe-no-such-function")
    except ClientError as error:
        return error.response["Error"]["Code"] == "ResourceNotFoundException"
    return True


def _layer_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("python/greeting.py", "WORD = 'layered'\n")
    return buffer.getvalue()


LAMBDA_RESOURCES_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Bucket: {Type: String}
  Word: {Type: String, Default: one}
Resources:
  Greeting:
    Type: AWS::Lambda::LayerVersion
    Properties:
      CompatibleRuntimes: [python3.12]
      Content: {S3Bucket: !Ref Bucket, S3Key: layer.zip}
  Speaker:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      AutoPublishAlias: live
      Layers: [!Ref Greeting]
      Environment: {Variables: {WORD: !Ref Word}}
      InlineCode: |
        import os
        import greeting  # from the layer: python/greeting.py, on the path as Lambda mounts it
        def handler(event, context):
            return os.environ["WORD"] + "-" + greeting.WORD + "MARK"
      Events:
        Notices:
          Type: SNS
          Properties: {Topic: !Ref Topic}
        Uploads:
          Type: S3
          Properties:
            Bucket: !Ref Uploads
            Events: s3:ObjectCreated:*
            Filter: {S3Key: {Rules: [{Name: prefix, Value: in/}]}}
  Topic:
    Type: AWS::SNS::Topic
  Uploads:
    Type: AWS::S3::Bucket
  Failures:
    Type: AWS::SQS::Queue
  AsyncConfig:
    Type: AWS::Lambda::EventInvokeConfig
    Properties:
      FunctionName: !Ref Speaker
      Qualifier: $LATEST
      MaximumRetryAttempts: 1
      DestinationConfig: {OnFailure: {Destination: !GetAtt Failures.Arn}}
Outputs:
  Function: {Value: !Ref Speaker}
  Layer: {Value: !Ref Greeting}
  Topic: {Value: !Ref Topic}
  Uploads: {Value: !Ref Uploads}
"""


def test_lambda_versions_aliases_permissions_layers_and_invoke_config(
    cloudformation: Any,
    stack_name: str,
    streamlab_client: Callable[..., Any],
    streamlab_unique_name: Callable[[str], str],
) -> None:
    """SAM's AutoPublishAlias (Lambda::Version + Lambda::Alias), SNS and S3 events on the alias (an SNS
    subscription, a bucket notification and a Lambda::Permission each), a
    Lambda::LayerVersion from S3 and a Lambda::EventInvokeConfig, each read back through the Lambda
    API; an update that changes the function's code publishes a new version and moves the alias (SAM
    names the version after a hash of the code, so a new version needs new code)."""
    lambda_client = streamlab_client("lambda")
    if not _lambda_api_has_versions(lambda_client):
        pytest.skip("the Lambda service has no versions, aliases, permissions or layers yet (issue 13, item 4)")
    s3, bucket = streamlab_client("s3"), streamlab_unique_name("cf-layers")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="layer.zip", Body=_layer_zip())
    capabilities = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
    try:
        parameters = [{"ParameterKey": "Bucket", "ParameterValue": bucket}]
        cloudformation.create_stack(
            StackName=stack_name,
            TemplateBody=LAMBDA_RESOURCES_TEMPLATE.replace("MARK", "!"),
            Parameters=parameters,
            Capabilities=capabilities,
        )
        _wait(cloudformation, "stack_create_complete", stack_name)
        outputs = _outputs(cloudformation, stack_name)
        function = outputs["Function"]
        alias = lambda_client.get_alias(FunctionName=function, Name="live")
        assert alias["FunctionVersion"] == "1"
        answer = lambda_client.invoke(FunctionName=function, Qualifier="live", Payload=b"{}")
        assert json.loads(answer["Payload"].read()) == "one-layered!"
        policy = json.loads(lambda_client.get_policy(FunctionName=function, Qualifier="live")["Policy"])
        principals = sorted(statement["Principal"]["Service"] for statement in policy["Statement"])
        assert principals == ["s3.amazonaws.com", "sns.amazonaws.com"]  # SAM's SNS and S3 events
        subscriptions = streamlab_client("sns").list_subscriptions_by_topic(TopicArn=outputs["Topic"])
        assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions["Subscriptions"]] == [
            ("lambda", alias["AliasArn"])
        ]
        notifications = s3.get_bucket_notification_configuration(Bucket=outputs["Uploads"])
        [upload] = notifications["LambdaFunctionConfigurations"]
        assert (upload["LambdaFunctionArn"], upload["Events"]) == (alias["AliasArn"], ["s3:ObjectCreated:*"])
        layer_arn = outputs["Layer"]
        assert lambda_client.get_layer_version_by_arn(Arn=layer_arn)["CompatibleRuntimes"] == ["python3.12"]
        assert [
            layer["Arn"] for layer in lambda_client.get_function_configuration(FunctionName=function)["Layers"]
        ] == [layer_arn]
        invoke_config = lambda_client.get_function_event_invoke_config(FunctionName=function, Qualifier="$LATEST")
        assert invoke_config["MaximumRetryAttempts"] == 1

        cloudformation.update_stack(
            StackName=stack_name,
            TemplateBody=LAMBDA_RESOURCES_TEMPLATE.replace("MARK", "?"),
            Parameters=parameters,
            Capabilities=capabilities,
        )
        _wait(cloudformation, "stack_update_complete", stack_name)
        assert lambda_client.get_alias(FunctionName=function, Name="live")["FunctionVersion"] == "2"
        answer = lambda_client.invoke(FunctionName=function, Qualifier="live", Payload=b"{}")
        assert json.loads(answer["Payload"].read()) == "one-layered?"

        cloudformation.delete_stack(StackName=stack_name)
        _wait(cloudformation, "stack_delete_complete", stack_name)
        with pytest.raises(ClientError):
            lambda_client.get_function(FunctionName=function)
        with pytest.raises(ClientError):
            lambda_client.get_layer_version_by_arn(Arn=layer_arn)
    finally:
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
        s3.delete_bucket(Bucket=bucket)
