"""Resource policies and tags through boto3: AddPermission, GetPolicy, RemovePermission;
TagResource, UntagResource, ListTags on functions and event source mappings.

Statement shapes and messages follow LocalStack's AWS-validated snapshots of test_lambda_api.py
(TestLambdaPermissions, TestLambdaTag, TestLambdaTags; validated 2025-11-25).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.lambda_support import ACCOUNT, ECHO, arn, error_of


def test_permission_lifecycle_and_statement_shapes(
    lambda_client: Any, make_function: Callable[..., str], streamlab_region: str
) -> None:
    name = make_function(ECHO)
    added = lambda_client.add_permission(
        FunctionName=name,
        StatementId="s3",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::my-bucket",
        SourceAccount=ACCOUNT,
    )
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert json.loads(added["Statement"]) == {
        "Sid": "s3",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": arn(streamlab_region, name),
        "Condition": {
            "StringEquals": {"AWS:SourceAccount": ACCOUNT},
            "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::my-bucket"},
        },
    }
    account = json.loads(
        lambda_client.add_permission(
            FunctionName=name, StatementId="account-id", Action="lambda:InvokeFunction", Principal=ACCOUNT
        )["Statement"]
    )
    assert account["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    url = json.loads(
        lambda_client.add_permission(
            FunctionName=name,
            StatementId="url",
            Action="lambda:InvokeFunctionUrl",
            Principal="*",
            FunctionUrlAuthType="NONE",
        )["Statement"]
    )
    assert (url["Principal"], url["Condition"]) == ("*", {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}})

    policy = lambda_client.get_policy(FunctionName=name)
    document = json.loads(policy["Policy"])
    assert (document["Version"], document["Id"]) == ("2012-10-17", "default")
    assert [s["Sid"] for s in document["Statement"]] == ["s3", "account-id", "url"]

    with pytest.raises(lambda_client.exceptions.PreconditionFailedException):
        lambda_client.remove_permission(FunctionName=name, StatementId="s3", RevisionId="stale")
    lambda_client.remove_permission(FunctionName=name, StatementId="s3", RevisionId=policy["RevisionId"])
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as excinfo:
        lambda_client.remove_permission(FunctionName=name, StatementId="s3")
    assert error_of(excinfo)[2] == "Statement s3 is not found in resource policy."
    lambda_client.remove_permission(FunctionName=name, StatementId="account-id")
    lambda_client.remove_permission(FunctionName=name, StatementId="url")
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as excinfo:
        lambda_client.get_policy(FunctionName=name)
    assert error_of(excinfo)[2] == "The resource you requested does not exist."


def test_policies_are_kept_per_qualifier(
    lambda_client: Any, make_function: Callable[..., str], streamlab_region: str
) -> None:
    name = make_function(ECHO)
    lambda_client.publish_version(FunctionName=name)
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    for qualifier in ("1", "live"):
        lambda_client.add_permission(
            FunctionName=name,
            StatementId="sns",
            Action="lambda:InvokeFunction",
            Principal="sns.amazonaws.com",
            Qualifier=qualifier,
        )
        statement = json.loads(lambda_client.get_policy(FunctionName=name, Qualifier=qualifier)["Policy"])
        assert statement["Statement"][0]["Resource"] == arn(streamlab_region, name, qualifier)
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_policy(FunctionName=name)  # the unqualified function has none


@pytest.mark.parametrize(
    ("overrides", "code", "message"),
    [
        (
            {"StatementId": "example.com"},
            "ValidationException",
            "1 validation error detected: Value 'example.com' at 'statementId' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)",
        ),
        (
            {"Qualifier": "$LATEST"},
            "InvalidParameterValueException",
            "We currently do not support adding policies for $LATEST.",
        ),
        (
            {"Principal": "invalid principal"},
            "InvalidParameterValueException",
            "The provided principal was invalid. Please check the principal and try again.",
        ),
        ({"Qualifier": "42"}, "ResourceNotFoundException", "Function not found: {arn}:42"),
        (
            {"Qualifier": "alias-doesnotexist"},
            "ResourceNotFoundException",
            "Cannot find alias arn: {arn}:alias-doesnotexist",
        ),
    ],
    ids=["bad-sid", "latest", "bad-principal", "missing-version", "missing-alias"],
)
def test_add_permission_errors(
    lambda_client: Any,
    make_function: Callable[..., str],
    streamlab_region: str,
    overrides: dict[str, Any],
    code: str,
    message: str,
) -> None:
    name = make_function(ECHO)
    request = {
        "FunctionName": name,
        "StatementId": "s1",
        "Action": "lambda:InvokeFunction",
        "Principal": "s3.amazonaws.com",
        **overrides,
    }
    with pytest.raises(lambda_client.exceptions.ClientError) as excinfo:
        lambda_client.add_permission(**request)
    assert error_of(excinfo)[0::2] == (code, message.format(arn=arn(streamlab_region, name)))


def test_permission_conflicts_and_missing_functions(
    lambda_client: Any, make_function: Callable[..., str], streamlab_region: str
) -> None:
    name = make_function(ECHO)
    statement = {"StatementId": "s3", "Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com"}
    lambda_client.add_permission(FunctionName=name, **statement)
    with pytest.raises(lambda_client.exceptions.ResourceConflictException) as excinfo:
        lambda_client.add_permission(FunctionName=name, **statement)
    assert error_of(excinfo)[2] == (
        "The statement id (s3) provided already exists. Please provide a new statement id, or remove the "
        "existing statement."
    )
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as excinfo:
        lambda_client.add_permission(FunctionName="doesnotexist", **statement)
    assert error_of(excinfo)[2] == f"Function not found: {arn(streamlab_region, 'doesnotexist')}"
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as excinfo:
        lambda_client.remove_permission(FunctionName="doesnotexist", StatementId="s3")
    assert error_of(excinfo)[2] == f"No policy found for: {arn(streamlab_region, 'doesnotexist')}"
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as excinfo:
        lambda_client.get_policy(FunctionName="doesnotexist")
    assert error_of(excinfo)[2] == "The resource you requested does not exist."


def test_function_tag_lifecycle(lambda_client: Any, make_function: Callable[..., str], streamlab_region: str) -> None:
    name = make_function(ECHO, Tags={"team": "streams"})
    function_arn = arn(streamlab_region, name)
    assert lambda_client.list_tags(Resource=function_arn)["Tags"] == {"team": "streams"}
    tagged = lambda_client.tag_resource(Resource=function_arn, Tags={"A": "tag-a", "team": "shop"})
    assert tagged["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert lambda_client.list_tags(Resource=function_arn)["Tags"] == {"A": "tag-a", "team": "shop"}
    assert lambda_client.get_function(FunctionName=name)["Tags"] == {"A": "tag-a", "team": "shop"}
    lambda_client.untag_resource(Resource=function_arn, TagKeys=["team", "not-there"])
    assert lambda_client.list_tags(Resource=function_arn)["Tags"] == {"A": "tag-a"}


def test_tag_errors(lambda_client: Any, make_function: Callable[..., str], streamlab_region: str) -> None:
    name = make_function(ECHO)
    lambda_client.publish_version(FunctionName=name)
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as excinfo:
        lambda_client.tag_resource(Resource=arn(streamlab_region, name, "1"), Tags={"a": "b"})
    assert (
        error_of(excinfo)[2]
        == "Tags on function aliases and versions are not supported. Please specify a function ARN."
    )
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as excinfo:
        lambda_client.list_tags(Resource=arn(streamlab_region, "doesnotexist"))
    assert error_of(excinfo)[2] == f"Function not found: {arn(streamlab_region, 'doesnotexist')}"
    with pytest.raises(lambda_client.exceptions.ClientError) as excinfo:
        lambda_client.tag_resource(Resource=f"arn:aws:lambda:{streamlab_region}:{ACCOUNT}:foobar:x", Tags={"a": "b"})
    assert error_of(excinfo)[0] == "ValidationException"
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as excinfo:
        lambda_client.tag_resource(Resource=arn(streamlab_region, name), Tags={f"k{i}": "v" for i in range(51)})
    assert error_of(excinfo)[2] == "Number of tags exceeds resource tag limit."
    assert lambda_client.list_tags(Resource=arn(streamlab_region, name))["Tags"] == {}


def test_event_source_mapping_tags(
    lambda_client: Any,
    make_function: Callable[..., str],
    streamlab_client: Callable[..., Any],
    streamlab_unique_name: Callable[[str], str],
    streamlab_region: str,
) -> None:
    name = make_function(ECHO)
    queue_url = streamlab_client("sqs").create_queue(QueueName=streamlab_unique_name("tags-q"))["QueueUrl"]
    queue_arn = streamlab_client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    mapping = lambda_client.create_event_source_mapping(
        FunctionName=name, EventSourceArn=queue_arn, Enabled=False, Tags={"created": "yes"}
    )
    try:
        mapping_arn = mapping["EventSourceMappingArn"]
        assert lambda_client.list_tags(Resource=mapping_arn)["Tags"] == {"created": "yes"}
        lambda_client.tag_resource(Resource=mapping_arn, Tags={"more": "1"})
        lambda_client.untag_resource(Resource=mapping_arn, TagKeys=["created"])
        assert lambda_client.list_tags(Resource=mapping_arn)["Tags"] == {"more": "1"}
        missing = (
            f"arn:aws:lambda:{streamlab_region}:{ACCOUNT}:event-source-mapping:00000000-0000-0000-0000-000000000000"
        )
        with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as excinfo:
            lambda_client.list_tags(Resource=missing)
        assert error_of(excinfo)[2] == f"Event source mapping not found: {missing}"
    finally:
        lambda_client.delete_event_source_mapping(UUID=mapping["UUID"])
