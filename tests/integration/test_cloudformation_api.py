"""The CloudFormation operations' answers through boto3: templates, summaries, listings, updates, protection."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Description: one queue and its name in SSM
Parameters:
  Delay: {Type: Number, Default: 0, Description: seconds}
  Secret: {Type: String, NoEcho: true, Default: hush}
  Stage: {Type: String, AllowedValues: [dev, prod], Default: dev}
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Metadata: {Owner: shop}
    Properties: {DelaySeconds: !Ref Delay}
  QueueUrl:
    Type: AWS::SSM::Parameter
    Properties: {Type: String, Value: !Ref Queue}
Outputs:
  Queue: {Value: !Ref Queue, Description: the queue}
"""


@pytest.fixture
def cloudformation(streamlab_client: Callable[..., Any]) -> Any:
    return streamlab_client("cloudformation")


@pytest.fixture
def stack_name(streamlab_unique_name: Callable[[str], str], cloudformation: Any) -> Iterator[str]:
    name = streamlab_unique_name("cf-api")
    yield name
    cloudformation.update_termination_protection(StackName=name, EnableTerminationProtection=False)
    cloudformation.delete_stack(StackName=name)


def _wait(cloudformation: Any, waiter: str, name: str) -> None:
    cloudformation.get_waiter(waiter).wait(StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})


def test_validate_template_and_summary(cloudformation: Any) -> None:
    validated = cloudformation.validate_template(TemplateBody=TEMPLATE)
    assert validated["Description"] == "one queue and its name in SSM"
    assert {p["ParameterKey"]: p.get("DefaultValue") for p in validated["Parameters"]} == {
        "Delay": "0",
        "Secret": "hush",
        "Stage": "dev",
    }
    assert [p["NoEcho"] for p in validated["Parameters"]] == [False, True, False]
    assert validated["Capabilities"] == []
    summary = cloudformation.get_template_summary(TemplateBody=TEMPLATE)
    assert summary["ResourceTypes"] == ["AWS::SQS::Queue", "AWS::SSM::Parameter"]
    stage = next(p for p in summary["Parameters"] if p["ParameterKey"] == "Stage")
    assert stage["ParameterConstraints"] == {"AllowedValues": ["dev", "prod"]}
    with pytest.raises(ClientError) as error:
        cloudformation.validate_template(TemplateBody="Resources: [")
    assert error.value.response["Error"]["Code"] == "ValidationError"


def test_stack_answers_templates_resources_and_listings(
    cloudformation: Any, stack_name: str, streamlab_client: Callable[..., Any]
) -> None:
    stack_id = cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=TEMPLATE,
        Parameters=[{"ParameterKey": "Delay", "ParameterValue": "5"}],
        Tags=[{"Key": "team", "Value": "shop"}],
    )["StackId"]
    _wait(cloudformation, "stack_create_complete", stack_name)
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == {
        "Delay": "5",
        "Secret": "****",
        "Stage": "dev",
    }
    assert stack["Tags"] == [{"Key": "team", "Value": "shop"}]
    assert stack["Description"] == "one queue and its name in SSM"
    assert stack["Outputs"][0]["Description"] == "the queue"
    queue_url = stack["Outputs"][0]["OutputValue"]
    delay = streamlab_client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["DelaySeconds"])
    assert delay["Attributes"]["DelaySeconds"] == "5"

    assert cloudformation.get_template(StackName=stack_name)["TemplateBody"] == TEMPLATE
    resources = cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
    assert {r["LogicalResourceId"]: r["ResourceStatus"] for r in resources} == {
        "Queue": "CREATE_COMPLETE",
        "QueueUrl": "CREATE_COMPLETE",
    }
    by_physical = cloudformation.describe_stack_resources(PhysicalResourceId=queue_url)["StackResources"]
    assert [(r["StackId"], r["LogicalResourceId"]) for r in by_physical] == [(stack_id, "Queue")]
    detail = cloudformation.describe_stack_resource(StackName=stack_name, LogicalResourceId="Queue")
    assert json.loads(detail["StackResourceDetail"]["Metadata"]) == {"Owner": "shop"}
    listed = cloudformation.list_stacks(StackStatusFilter=["CREATE_COMPLETE"])["StackSummaries"]
    assert stack_id in [s["StackId"] for s in listed]


def test_updates_no_op_previous_values_and_termination_protection(
    cloudformation: Any, stack_name: str, streamlab_client: Callable[..., Any]
) -> None:
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=TEMPLATE,
        Parameters=[{"ParameterKey": "Delay", "ParameterValue": "5"}],
        EnableTerminationProtection=True,
    )
    _wait(cloudformation, "stack_create_complete", stack_name)
    with pytest.raises(ClientError) as same:
        cloudformation.update_stack(
            StackName=stack_name,
            UsePreviousTemplate=True,
            Parameters=[{"ParameterKey": "Delay", "UsePreviousValue": True}],
        )
    assert same.value.response["Error"]["Message"] == "No updates are to be performed."

    cloudformation.update_stack(
        StackName=stack_name,
        UsePreviousTemplate=True,
        Parameters=[
            {"ParameterKey": "Delay", "UsePreviousValue": True},
            {"ParameterKey": "Stage", "ParameterValue": "prod"},
        ],
    )
    _wait(cloudformation, "stack_update_complete", stack_name)
    parameters = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]["Parameters"]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in parameters} == {
        "Delay": "5",
        "Secret": "****",
        "Stage": "prod",
    }

    with pytest.raises(ClientError) as protected:
        cloudformation.delete_stack(StackName=stack_name)
    assert "TerminationProtection is enabled" in protected.value.response["Error"]["Message"]
    assert cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"


def test_template_url_is_read_from_the_endpoints_s3(
    cloudformation: Any,
    stack_name: str,
    streamlab_client: Callable[..., Any],
    streamlab_endpoint_url: str,
    streamlab_unique_name: Callable[[str], str],
) -> None:
    s3, bucket = streamlab_client("s3"), streamlab_unique_name("cf-templates")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="dir/t.yaml", Body=TEMPLATE.encode())
    try:
        for url in (
            f"{streamlab_endpoint_url}/{bucket}/dir/t.yaml",
            f"https://{bucket}.s3.us-east-1.amazonaws.com/dir/t.yaml",
        ):
            assert cloudformation.validate_template(TemplateURL=url)["Description"] == "one queue and its name in SSM"
        with pytest.raises(ClientError) as missing:
            cloudformation.validate_template(TemplateURL=f"https://s3.amazonaws.com/{bucket}/nope.yaml")
        assert missing.value.response["Error"]["Message"].startswith("S3 error:")
        for bad in ("ftp://host/bucket/key", "https://s3.amazonaws.com/", "https://s3.amazonaws.com/Bad%20Bucket!/k"):
            with pytest.raises(ClientError) as unsupported:
                cloudformation.validate_template(TemplateURL=bad)
            assert unsupported.value.response["Error"]["Message"] == "TemplateURL must be a supported URL."
        cloudformation.create_stack(StackName=stack_name, TemplateURL=f"https://s3.amazonaws.com/{bucket}/dir/t.yaml")
        _wait(cloudformation, "stack_create_complete", stack_name)
    finally:
        s3.delete_object(Bucket=bucket, Key="dir/t.yaml")
        s3.delete_bucket(Bucket=bucket)


def test_unknown_stacks_and_actions(cloudformation: Any, streamlab_client: Callable[..., Any]) -> None:
    cloudformation.delete_stack(StackName="streamlab-never-created")  # succeeds, as on AWS
    for call in (
        lambda: cloudformation.describe_stack_events(StackName="streamlab-never-created"),
        lambda: cloudformation.get_template(StackName="streamlab-never-created"),
        lambda: cloudformation.update_stack(StackName="streamlab-never-created", UsePreviousTemplate=True),
    ):
        with pytest.raises(ClientError) as error:
            call()
        assert error.value.response["Error"]["Message"] == "Stack with id streamlab-never-created does not exist"
    with pytest.raises(ClientError) as bad_name:
        cloudformation.create_stack(StackName="1-starts-with-a-digit", TemplateBody=TEMPLATE)
    assert "failed to satisfy constraint" in bad_name.value.response["Error"]["Message"]
    raw = streamlab_client("cloudformation")
    with pytest.raises(ClientError) as unsupported:
        raw.list_stack_sets()
    assert unsupported.value.response["Error"]["Code"] == "InvalidAction"


def test_list_and_delete_change_sets(cloudformation: Any, stack_name: str) -> None:
    first = cloudformation.create_change_set(
        StackName=stack_name, ChangeSetName="one", ChangeSetType="CREATE", TemplateBody=TEMPLATE
    )
    cloudformation.create_change_set(
        StackName=stack_name, ChangeSetName="two", ChangeSetType="CREATE", TemplateBody=TEMPLATE
    )
    with pytest.raises(ClientError) as taken:
        cloudformation.create_change_set(
            StackName=stack_name, ChangeSetName="two", ChangeSetType="CREATE", TemplateBody=TEMPLATE
        )
    assert taken.value.response["Error"]["Code"] == "AlreadyExistsException"
    summaries = cloudformation.list_change_sets(StackName=stack_name)["Summaries"]
    assert sorted((s["ChangeSetName"], s["Status"], s["ExecutionStatus"]) for s in summaries) == [
        ("one", "CREATE_COMPLETE", "AVAILABLE"),
        ("two", "CREATE_COMPLETE", "AVAILABLE"),
    ]
    cloudformation.delete_change_set(ChangeSetName=first["Id"])
    assert [s["ChangeSetName"] for s in cloudformation.list_change_sets(StackName=stack_name)["Summaries"]] == ["two"]
    with pytest.raises(ClientError) as gone:
        cloudformation.describe_change_set(ChangeSetName=first["Id"])
    assert gone.value.response["Error"]["Code"] == "ChangeSetNotFound"
    # Executing one change set removes the stack's others, as CloudFormation does.
    cloudformation.execute_change_set(ChangeSetName="two", StackName=stack_name)
    _wait(cloudformation, "stack_create_complete", stack_name)
    assert cloudformation.list_change_sets(StackName=stack_name)["Summaries"][0]["ExecutionStatus"] == (
        "EXECUTE_COMPLETE"
    )
