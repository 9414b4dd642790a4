"""Wrong templates and failing resources on the CloudFormation service: a clear error, nothing left behind.

Template errors are answered before anything is created (cfn-lint for what it knows,
ValidationError with AWS's wording for the rest); an unsupported resource type fails the stack
with a reason naming it; a failing update rolls back; a function whose code does not import
deploys, as on AWS, and its invocation names the missing module.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, WaiterError

ROLE_TEMPLATE = {
    "Role": {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        },
    }
}


def _body(resources: dict[str, Any], **sections: Any) -> str:
    return json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources, **sections})


@pytest.fixture
def cloudformation(streamlab_client: Callable[..., Any]) -> Any:
    return streamlab_client("cloudformation")


@pytest.fixture
def stack_name(streamlab_unique_name: Callable[[str], str], cloudformation: Any) -> Iterator[str]:
    name = streamlab_unique_name("cf-bad")
    yield name
    cloudformation.delete_stack(StackName=name)


def _validation_error(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as error:
        call()
    assert error.value.response["Error"]["Code"] == "ValidationError", error.value.response
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(error.value.response["Error"]["Message"])


def _nothing_created(cloudformation: Any, name: str) -> None:
    message = _validation_error(lambda: cloudformation.describe_stacks(StackName=name))
    assert message == f"Stack with id {name} does not exist"


def _wait(cloudformation: Any, waiter: str, name: str) -> None:
    cloudformation.get_waiter(waiter).wait(StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})


def test_invalid_yaml_is_refused_before_anything_exists(cloudformation: Any, stack_name: str) -> None:
    body = "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n   Properties: {\n"
    message = _validation_error(lambda: cloudformation.create_stack(StackName=stack_name, TemplateBody=body))
    assert message.startswith("Template format error: YAML not well-formed. (line ")
    _nothing_created(cloudformation, stack_name)


def test_unknown_resource_type_is_refused(cloudformation: Any, stack_name: str) -> None:
    body = _body({"Thing": {"Type": "AWS::Nope::Thing"}})
    message = _validation_error(lambda: cloudformation.create_stack(StackName=stack_name, TemplateBody=body))
    assert message == "Template format error: Unrecognized resource types: [AWS::Nope::Thing]"
    _nothing_created(cloudformation, stack_name)


def test_circular_dependency_is_refused(cloudformation: Any, stack_name: str) -> None:
    body = _body(
        {
            "A": {"Type": "AWS::SQS::Queue", "DependsOn": "B"},
            "B": {"Type": "AWS::SQS::Queue", "Properties": {"DelaySeconds": 0}, "DependsOn": "A"},
        }
    )
    message = _validation_error(lambda: cloudformation.create_stack(StackName=stack_name, TemplateBody=body))
    assert "Circular dependency between resources: [A, B]" in message
    _nothing_created(cloudformation, stack_name)


def test_missing_parameter_is_refused(cloudformation: Any, stack_name: str) -> None:
    body = _body(
        {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "QueueName"}}}},
        Parameters={"QueueName": {"Type": "String"}},
    )
    message = _validation_error(lambda: cloudformation.create_stack(StackName=stack_name, TemplateBody=body))
    assert message == "Parameters: [QueueName] must have values"
    _nothing_created(cloudformation, stack_name)


def test_get_att_of_an_unknown_attribute_is_refused(cloudformation: Any, stack_name: str) -> None:
    body = _body({"Queue": {"Type": "AWS::SQS::Queue"}}, Outputs={"X": {"Value": {"Fn::GetAtt": ["Queue", "Colour"]}}})
    message = _validation_error(lambda: cloudformation.create_stack(StackName=stack_name, TemplateBody=body))
    assert "Colour" in message
    _nothing_created(cloudformation, stack_name)


def test_misspelled_property_names_the_fix(cloudformation: Any, stack_name: str) -> None:
    """cfn-lint's finding is the message: where, what, and its suggestion."""
    body = _body({"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeot": 30}}})
    message = _validation_error(lambda: cloudformation.create_stack(StackName=stack_name, TemplateBody=body))
    assert "Resources/Queue/Properties/VisibilityTimeot" in message
    assert "VisibilityTimeout" in message
    _nothing_created(cloudformation, stack_name)


def test_unsupported_resource_type_fails_the_stack_naming_it(
    cloudformation: Any, stack_name: str, streamlab_client: Callable[..., Any]
) -> None:
    body = _body(
        {
            "Queue": {"Type": "AWS::SQS::Queue"},
            "Api": {"Type": "AWS::AppSync::GraphQLApi", "Properties": {"Name": "api", "AuthenticationType": "API_KEY"}},
        }
    )
    cloudformation.create_stack(StackName=stack_name, TemplateBody=body)
    with pytest.raises(WaiterError):
        _wait(cloudformation, "stack_create_complete", stack_name)
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [
        e
        for e in cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
        if e["ResourceStatus"] == "CREATE_FAILED"
    ]
    assert [e["LogicalResourceId"] for e in failed] == ["Api"]
    assert "AWS::AppSync::GraphQLApi is not supported" in failed[0]["ResourceStatusReason"]
    assert cloudformation.list_stack_resources(StackName=stack_name)["StackResourceSummaries"] == []
    assert not [url for url in streamlab_client("sqs").list_queues().get("QueueUrls", []) if stack_name in url]


def test_missing_capability_is_refused(cloudformation: Any, stack_name: str) -> None:
    with pytest.raises(ClientError) as error:
        cloudformation.create_stack(StackName=stack_name, TemplateBody=_body(ROLE_TEMPLATE))
    assert error.value.response["Error"]["Code"] == "InsufficientCapabilitiesException"
    assert error.value.response["Error"]["Message"] == "Requires capabilities : [CAPABILITY_IAM]"
    _nothing_created(cloudformation, stack_name)


def test_failing_update_rolls_back_to_the_previous_environment(
    cloudformation: Any, stack_name: str, streamlab_client: Callable[..., Any]
) -> None:
    taken = streamlab_client("dynamodb").create_table(
        TableName=f"{stack_name}-taken",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )["TableDescription"]["TableName"]

    def template(greeting: str, broken: bool) -> str:
        resources: dict[str, Any] = {
            **ROLE_TEMPLATE,
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Runtime": "python3.12",
                    "Handler": "index.handler",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Code": {"ZipFile": "def handler(event, context):\n    return 1\n"},
                    "Environment": {"Variables": {"GREETING": greeting}},
                },
            },
        }
        if broken:  # a table whose name is taken: DynamoDB refuses it after the function was updated
            resources["Table"] = {
                "Type": "AWS::DynamoDB::Table",
                "DependsOn": "Fn",
                "Properties": {
                    "TableName": taken,
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                },
            }
        return _body(resources, Outputs={"Function": {"Value": {"Ref": "Fn"}}})

    capabilities = ["CAPABILITY_IAM"]
    cloudformation.create_stack(StackName=stack_name, TemplateBody=template("hello", False), Capabilities=capabilities)
    _wait(cloudformation, "stack_create_complete", stack_name)
    outputs = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]["Outputs"]
    function = outputs[0]["OutputValue"]
    cloudformation.update_stack(StackName=stack_name, TemplateBody=template("hola", True), Capabilities=capabilities)
    with pytest.raises(WaiterError):
        _wait(cloudformation, "stack_update_complete", stack_name)
    assert (
        cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    )
    environment = streamlab_client("lambda").get_function_configuration(FunctionName=function)["Environment"]
    assert environment["Variables"] == {"GREETING": "hello"}
    logical_ids = {
        r["LogicalResourceId"]
        for r in cloudformation.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    }
    assert logical_ids == {"Role", "Fn"}
    cloudformation.delete_stack(StackName=stack_name)
    _wait(cloudformation, "stack_delete_complete", stack_name)
    with pytest.raises(ClientError):
        streamlab_client("lambda").get_function(FunctionName=function)
    streamlab_client("dynamodb").delete_table(TableName=taken)


def test_function_whose_code_does_not_import(
    cloudformation: Any, stack_name: str, streamlab_client: Callable[..., Any]
) -> None:
    """CloudFormation (like Lambda) does not run code at deploy time: the stack is created, and the
    first invocation fails with Runtime.ImportModuleError naming the missing module."""
    body = _body(
        {
            **ROLE_TEMPLATE,
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Runtime": "python3.12",
                    "Handler": "index.handler",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Code": {
                        "ZipFile": "import module_that_is_not_there\n\ndef handler(event, context):\n    return 1\n"
                    },
                },
            },
        },
        Outputs={"Function": {"Value": {"Ref": "Fn"}}},
    )
    cloudformation.create_stack(StackName=stack_name, TemplateBody=body, Capabilities=["CAPABILITY_IAM"])
    _wait(cloudformation, "stack_create_complete", stack_name)
    function = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]["Outputs"][0]["OutputValue"]
    answer = streamlab_client("lambda").invoke(FunctionName=function, Payload=b"{}")
    assert answer["FunctionError"] == "Unhandled"
    error = json.loads(answer["Payload"].read())
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "module_that_is_not_there" in error["errorMessage"]
    cloudformation.delete_stack(StackName=stack_name)
    _wait(cloudformation, "stack_delete_complete", stack_name)
    with pytest.raises(ClientError):
        streamlab_client("lambda").get_function(FunctionName=function)
