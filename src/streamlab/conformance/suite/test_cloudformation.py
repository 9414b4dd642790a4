"""CloudFormation: stack lifecycle, change sets, rollback, outputs and exports, intrinsic functions.

Public API only (boto3's CloudFormation client and the services its resources live in), so the
group runs on the embedded endpoint, LocalStack and AWS alike. The templates use cheap resource
types every backend has (SQS queues, SSM parameters, DynamoDB tables, WaitConditionHandle).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from streamlab.conformance.suite.harness import Backend, ClientFactory

NO_CHANGES = "The submitted information didn't contain changes."


@pytest.fixture
def stacks(client: ClientFactory, backend: Backend) -> Iterator[list[str]]:
    """Stack names a test creates; each is deleted afterwards."""
    names: list[str] = []
    yield names
    cloudformation = client("cloudformation")
    for name in reversed(names):
        try:
            cloudformation.delete_stack(StackName=name)
            _wait(cloudformation, "stack_delete_complete", name, backend)
        except ClientError:
            pass


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _wait(cloudformation: Any, waiter: str, name: str, backend: Backend, **kwargs: Any) -> None:
    delay = 5 if backend.is_aws else 1
    cloudformation.get_waiter(waiter).wait(
        StackName=name, WaiterConfig={"Delay": delay, "MaxAttempts": int(600 / delay)}, **kwargs
    )


def _template(resources: dict[str, Any], **sections: Any) -> str:
    return json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources, **sections})


QUEUE = {"Queue": {"Type": "AWS::SQS::Queue"}}


def test_stack_lifecycle_events_and_delete(client: ClientFactory, backend: Backend, stacks: list[str]) -> None:
    """CreateStack answers a StackId; the stack goes CREATE_IN_PROGRESS ("User Initiated") ->
    CREATE_COMPLETE, each resource CREATE_IN_PROGRESS -> CREATE_COMPLETE, events newest first; the
    resource exists in its service under its Ref value; DeleteStack removes it, and the deleted
    stack is found by its id only (by name: ValidationError "Stack with id … does not exist").

    Source: LocalStack's AWS-validated test_stacks.py::test_stack_lifecycle and
    ::test_describe_stack_events_errors (test_stacks.validation.json, 2022-2024);
    docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackEvents.html.
    """
    cloudformation, name = client("cloudformation"), _name("cf-life")
    stacks.append(name)
    stack_id = cloudformation.create_stack(StackName=name, TemplateBody=_template(QUEUE))["StackId"]
    assert stack_id.startswith("arn:aws:cloudformation:")
    assert f":stack/{name}/" in stack_id
    _wait(cloudformation, "stack_create_complete", name, backend)

    events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
    oldest, newest = events[-1], events[0]
    assert (oldest["LogicalResourceId"], oldest["ResourceStatus"]) == (name, "CREATE_IN_PROGRESS")
    assert oldest["ResourceStatusReason"] == "User Initiated"
    assert (newest["LogicalResourceId"], newest["ResourceStatus"]) == (name, "CREATE_COMPLETE")
    queue_statuses = [e["ResourceStatus"] for e in reversed(events) if e["LogicalResourceId"] == "Queue"]
    assert queue_statuses[0] == "CREATE_IN_PROGRESS"
    assert queue_statuses[-1] == "CREATE_COMPLETE"

    resource = cloudformation.describe_stack_resource(StackName=name, LogicalResourceId="Queue")
    queue_url = resource["StackResourceDetail"]["PhysicalResourceId"]
    assert client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]

    cloudformation.delete_stack(StackName=name)
    _wait(cloudformation, "stack_delete_complete", stack_id, backend)
    assert cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    with pytest.raises(ClientError) as missing:
        cloudformation.describe_stacks(StackName=name)
    assert missing.value.response["Error"]["Code"] == "ValidationError"
    assert missing.value.response["Error"]["Message"] == f"Stack with id {name} does not exist"
    with pytest.raises(ClientError) as gone:
        client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    assert "NonExistentQueue" in gone.value.response["Error"]["Code"]


def test_change_sets_create_execute_and_empty_update(
    client: ClientFactory, backend: Backend, stacks: list[str]
) -> None:
    """A CREATE change set puts a new stack in REVIEW_IN_PROGRESS and lists an Add per resource;
    executing it creates the stack; an UPDATE change set that changes nothing ends FAILED with
    "The submitted information didn't contain changes. …"; a change set that does not exist is
    ChangeSetNotFound.

    Source: LocalStack's AWS-validated test_changesets.py::test_create_while_in_review (2023-11-22),
    ::test_empty_changeset (2022-08-10), ::test_describe_change_set_nonexisting (2022-08-11)
    (test_changesets.validation.json).
    """
    cloudformation, name = client("cloudformation"), _name("cf-changes")
    stacks.append(name)
    body = _template(QUEUE)
    created = cloudformation.create_change_set(
        StackName=name, ChangeSetName="first", ChangeSetType="CREATE", TemplateBody=body
    )
    waiter = cloudformation.get_waiter("change_set_create_complete")
    delay = 5 if backend.is_aws else 1
    waiter.wait(ChangeSetName=created["Id"], WaiterConfig={"Delay": delay, "MaxAttempts": 120})
    assert cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
    described = cloudformation.describe_change_set(ChangeSetName=created["Id"])
    assert described["ExecutionStatus"] == "AVAILABLE"
    assert [
        (c["ResourceChange"]["Action"], c["ResourceChange"]["LogicalResourceId"]) for c in described["Changes"]
    ] == [("Add", "Queue")]
    cloudformation.execute_change_set(ChangeSetName=created["Id"])
    _wait(cloudformation, "stack_create_complete", name, backend)

    empty = cloudformation.create_change_set(StackName=name, ChangeSetName="same", TemplateBody=body)
    with pytest.raises(Exception, match="FAILED"):
        waiter.wait(ChangeSetName=empty["Id"], WaiterConfig={"Delay": delay, "MaxAttempts": 120})
    failed = cloudformation.describe_change_set(ChangeSetName=empty["Id"])
    assert failed["Status"] == "FAILED"
    assert failed["StatusReason"].startswith(NO_CHANGES)

    with pytest.raises(ClientError) as missing:
        cloudformation.describe_change_set(StackName=name, ChangeSetName="DoesNotExist")
    assert missing.value.response["Error"]["Code"] == "ChangeSetNotFound"


def test_failing_resource_rolls_back_and_leaves_nothing(
    client: ClientFactory, backend: Backend, stacks: list[str]
) -> None:
    """A resource that fails to create (a table whose name is taken) is CREATE_FAILED with the
    service's reason, the stack goes ROLLBACK_IN_PROGRESS -> ROLLBACK_COMPLETE, and what it had
    created (the queue it depends on) is deleted.

    Source: docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/troubleshooting.html (rollback on
    failure); LocalStack's AWS-validated test_stacks.py::test_stack_update_resources /
    ::test_failure_options_for_stack_creation (test_stacks.validation.json, 2023).
    """
    cloudformation, dynamodb, name = client("cloudformation"), client("dynamodb"), _name("cf-rollback")
    stacks.append(name)
    taken = _name("cf-taken")
    key = {"AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
           "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"}  # fmt: skip
    dynamodb.create_table(TableName=taken, **key)
    try:
        resources = {
            **QUEUE,
            "Table": {"Type": "AWS::DynamoDB::Table", "DependsOn": "Queue", "Properties": {"TableName": taken, **key}},
        }
        cloudformation.create_stack(StackName=name, TemplateBody=_template(resources))
        with pytest.raises(Exception, match="ROLLBACK_COMPLETE"):
            _wait(cloudformation, "stack_create_complete", name, backend)
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
        events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
        failed = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
        assert [e["LogicalResourceId"] for e in failed] == ["Table"]
        assert "already exists" in failed[0]["ResourceStatusReason"]
        queue_events = [e for e in events if e["LogicalResourceId"] == "Queue"]
        assert queue_events[0]["ResourceStatus"] == "DELETE_COMPLETE"
        queue_url = next(e["PhysicalResourceId"] for e in queue_events if e.get("PhysicalResourceId"))
        with pytest.raises(ClientError):
            client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    finally:
        dynamodb.delete_table(TableName=taken)


def test_outputs_exports_and_import_value(client: ClientFactory, backend: Backend, stacks: list[str]) -> None:
    """Outputs carry their values and export names; ListExports lists each export with its
    exporting stack; another stack's Fn::ImportValue reads it and ListImports names that stack.

    Source: docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-stack-exports.html;
    LocalStack's AWS-validated test_stacks.py / test_templates.py exports tests (validation.json).
    """
    cloudformation = client("cloudformation")
    exporter, importer = _name("cf-export"), _name("cf-import")
    export_name = f"{exporter}-queue-arn"
    stacks.extend([exporter, importer])
    outputs = {"QueueArn": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}, "Export": {"Name": export_name}}}
    cloudformation.create_stack(StackName=exporter, TemplateBody=_template(QUEUE, Outputs=outputs))
    _wait(cloudformation, "stack_create_complete", exporter, backend)
    stack = cloudformation.describe_stacks(StackName=exporter)["Stacks"][0]
    [output] = stack["Outputs"]
    assert output["OutputKey"] == "QueueArn"
    assert output["OutputValue"].startswith("arn:aws:sqs:")
    assert output["ExportName"] == export_name
    exports = {e["Name"]: e for e in cloudformation.list_exports()["Exports"]}
    assert exports[export_name]["Value"] == output["OutputValue"]
    assert exports[export_name]["ExportingStackId"] == stack["StackId"]

    parameter = _name("/streamlab/cf-import")
    resources = {
        "Imported": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Name": parameter, "Type": "String", "Value": {"Fn::ImportValue": export_name}},
        }
    }
    cloudformation.create_stack(StackName=importer, TemplateBody=_template(resources))
    _wait(cloudformation, "stack_create_complete", importer, backend)
    assert client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"] == output["OutputValue"]
    assert cloudformation.list_imports(ExportName=export_name)["Imports"] == [importer]


INTRINSICS_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Stage: {Type: String, Default: prod, AllowedValues: [dev, prod]}
  Sizes: {Type: CommaDelimitedList, Default: "small,medium,large"}
Mappings:
  Memory: {prod: {mb: "1024"}, dev: {mb: "128"}}
Conditions:
  IsDev: !Equals [!Ref Stage, dev]
  IsProd: !Equals [!Ref Stage, prod]
  IsProdAndBig: !And [!Condition IsProd, !Not [!Equals [!Select [2, !Ref Sizes], small]]]
Resources:
  Handle: {Type: AWS::CloudFormation::WaitConditionHandle}
  OnlyInDev:
    Type: AWS::CloudFormation::WaitConditionHandle
    Condition: IsDev
Outputs:
  Sub: {Value: !Sub "${AWS::StackName}-${Stage}-${AWS::Region}"}
  SubWithMap: {Value: !Sub ["${Prefix}-x", {Prefix: !Ref Stage}]}
  Join: {Value: !Join [":", [a, !Ref Stage, !Select [1, !Ref Sizes]]]}
  Split: {Value: !Select [1, !Split ["|", "x|y|z"]]}
  If: {Value: !If [IsProdAndBig, big, small]}
  FindInMap: {Value: !FindInMap [Memory, !Ref Stage, mb]}
  Base64: {Value: !Base64 streamlab}
  AZ: {Value: !Select [0, !GetAZs ""]}
  Account: {Value: !Ref AWS::AccountId}
  DevOnly: {Value: dev, Condition: IsDev}
"""


def test_intrinsic_functions_and_conditions(
    client: ClientFactory, backend: Backend, stacks: list[str], streamlab_region: str
) -> None:
    """Ref of parameters and pseudo parameters, Fn::Sub (both forms), Fn::Join, Fn::Select,
    Fn::Split, Fn::If, Fn::Equals, Fn::And, Fn::Not, Condition, Fn::FindInMap, Fn::Base64 and
    Fn::GetAZs give the documented values; a resource and an output whose condition is false do
    not exist.

    Source: docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html
    (each function's examples); LocalStack's AWS-validated test_reference_resolving.py and
    test_templates.py (validation.json, 2023-2025).
    """
    cloudformation, name = client("cloudformation"), _name("cf-intrinsics")
    stacks.append(name)
    cloudformation.create_stack(StackName=name, TemplateBody=INTRINSICS_TEMPLATE)
    _wait(cloudformation, "stack_create_complete", name, backend)
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs.pop("Account").isdigit()
    assert outputs.pop("AZ").startswith(streamlab_region)
    assert outputs == {
        "Sub": f"{name}-prod-{streamlab_region}",
        "SubWithMap": "prod-x",
        "Join": "a:prod:medium",
        "Split": "y",
        "If": "big",
        "FindInMap": "1024",
        "Base64": "c3RyZWFtbGFi",
    }
    logical_ids = [r["LogicalResourceId"] for r in cloudformation.list_stack_resources(StackName=name)[
        "StackResourceSummaries"
    ]]  # fmt: skip
    assert logical_ids == ["Handle"]
