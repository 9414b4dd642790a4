"""Versions and aliases through boto3: PublishVersion, ListVersionsByFunction, qualified ARNs,
Invoke with a Qualifier, aliases with weighted routing, mappings on an alias, waiters.

Shapes and messages follow LocalStack's AWS-validated snapshots of test_lambda_api.py
(TestLambdaVersions, TestLambdaAlias, TestLambdaFunction; validated 2025-11-25).
"""

from __future__ import annotations

import base64
import json
import urllib.request
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from streamlab.testing import eventually
from tests.integration.lambda_support import ROLE, arn, error_of, payload_of, zip_source

#: Reports which version ran and under which ARN it was invoked.
WHO_AM_I = """
import os
def handler(event, context):
    return {
        "version": context.function_version,
        "env_version": os.environ["AWS_LAMBDA_FUNCTION_VERSION"],
        "arn": context.invoked_function_arn,
        "label": os.environ.get("LABEL", ""),
    }
"""


def test_publish_version_snapshots_latest_and_invoke_runs_each_version(
    lambda_client: Any, make_function: Callable[..., str], streamlab_region: str
) -> None:
    name = make_function(WHO_AM_I, Environment={"Variables": {"LABEL": "one"}}, Description="first")
    first = lambda_client.publish_version(FunctionName=name, Description="v1 description")
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (first["Version"], first["FunctionArn"]) == ("1", arn(streamlab_region, name, "1"))
    assert (first["State"], first["LastUpdateStatus"], first["Description"]) == (
        "Active",
        "Successful",
        "v1 description",
    )
    lambda_client.get_waiter("published_version_active").wait(
        FunctionName=name, Qualifier="1", WaiterConfig={"Delay": 1, "MaxAttempts": 5}
    )

    lambda_client.update_function_configuration(FunctionName=name, Environment={"Variables": {"LABEL": "two"}})
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    second = lambda_client.publish_version(FunctionName=name)
    assert second["Version"] == "2"
    assert second["Description"] == "first"  # without one, a version keeps the function's description
    # Nothing changed since version 2: publishing again answers version 2, as AWS does.
    assert lambda_client.publish_version(FunctionName=name)["Version"] == "2"

    versions = lambda_client.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    assert versions[0]["FunctionArn"] == arn(streamlab_region, name, "$LATEST")
    assert "State" not in versions[1]  # list entries carry no states (snapshot test_version_lifecycle)

    one = payload_of(lambda_client.invoke(FunctionName=name, Qualifier="1"))
    assert one == {"version": "1", "env_version": "1", "arn": arn(streamlab_region, name, "1"), "label": "one"}
    two = lambda_client.invoke(FunctionName=f"{name}:2")
    assert two["ExecutedVersion"] == "2"
    assert payload_of(two)["label"] == "two"
    latest = lambda_client.invoke(FunctionName=name)
    assert latest["ExecutedVersion"] == "$LATEST"
    assert payload_of(latest) == {
        "version": "$LATEST",
        "env_version": "$LATEST",
        "arn": arn(streamlab_region, name),
        "label": "two",
    }

    got = lambda_client.get_function(FunctionName=name, Qualifier="1")
    assert got["Configuration"]["FunctionArn"] == arn(streamlab_region, name, "1")
    with urllib.request.urlopen(got["Code"]["Location"], timeout=5) as download:
        assert download.read()[:2] == b"PK"
    latest_config = lambda_client.get_function_configuration(FunctionName=name, Qualifier="$LATEST")
    assert latest_config["FunctionArn"] == arn(streamlab_region, name, "$LATEST")


def test_code_location_downloads_the_zip_of_the_version_asked_for(
    lambda_client: Any, make_function: Callable[..., str]
) -> None:
    first_zip = zip_source("def handler(event, context):\n    return 1\n")
    name = make_function(Code={"ZipFile": first_zip}, Publish=True)
    second_zip = zip_source("def handler(event, context):\n    return 2\n")
    lambda_client.update_function_code(FunctionName=name, ZipFile=second_zip)
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    for qualifier, expected in (("1", first_zip), ("$LATEST", second_zip)):
        location = lambda_client.get_function(FunctionName=name, Qualifier=qualifier)["Code"]["Location"]
        with urllib.request.urlopen(location, timeout=5) as download:
            assert download.read() == expected


def test_create_and_update_code_with_publish(
    lambda_client: Any, streamlab_unique_name: Callable[[str], str], streamlab_region: str
) -> None:
    name = streamlab_unique_name("publish")
    created = lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_source(WHO_AM_I)},
        Publish=True,
    )
    try:
        # Snapshot test_publish_version_on_create: Version 1, the unqualified ARN, State Pending.
        assert (created["Version"], created["FunctionArn"], created["State"]) == (
            "1",
            arn(streamlab_region, name),
            "Pending",
        )
        updated = lambda_client.update_function_code(
            FunctionName=name, ZipFile=zip_source(WHO_AM_I + "\n# v2\n"), Publish=True
        )
        assert (updated["Version"], updated["FunctionArn"]) == ("2", arn(streamlab_region, name, "2"))
        lambda_client.get_waiter("published_version_active").wait(
            FunctionName=name, Qualifier="2", WaiterConfig={"Delay": 1, "MaxAttempts": 5}
        )
        assert payload_of(lambda_client.invoke(FunctionName=name, Qualifier="2"))["version"] == "2"
    finally:
        lambda_client.delete_function(FunctionName=name)


def test_publish_version_preconditions(lambda_client: Any, make_function: Callable[..., str]) -> None:
    name = make_function(WHO_AM_I)
    with pytest.raises(lambda_client.exceptions.PreconditionFailedException) as excinfo:
        lambda_client.publish_version(FunctionName=name, RevisionId="wrong")
    assert error_of(excinfo)[1] == 412
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as excinfo:
        lambda_client.publish_version(FunctionName=name, CodeSha256="somenonexistentsha256")
    sha = lambda_client.get_function_configuration(FunctionName=name)["CodeSha256"]
    assert error_of(excinfo)[2] == (
        f"CodeSHA256 (somenonexistentsha256) is different from current CodeSHA256 in $LATEST ({sha}). "
        "Please try again with the CodeSHA256 in $LATEST."
    )


def test_qualifier_errors(lambda_client: Any, make_function: Callable[..., str], streamlab_region: str) -> None:
    name = make_function(WHO_AM_I)
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as excinfo:
        lambda_client.get_function(FunctionName=name, Qualifier="1221")
    assert error_of(excinfo) == (
        "ResourceNotFoundException",
        404,
        f"Function not found: {arn(streamlab_region, name, '1221')}",
    )
    assert excinfo.value.response["Message"] == error_of(excinfo)[2]  # AWS sends "Message" on this error
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as excinfo:
        lambda_client.get_function(FunctionName=f"{name}:1", Qualifier="2")
    assert (
        error_of(excinfo)[2] == "The derived qualifier from the function name does not match the specified qualifier."
    )
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as excinfo:
        lambda_client.delete_function(FunctionName=name, Qualifier="$LATEST")
    assert error_of(excinfo)[2] == "$LATEST version cannot be deleted without deleting the function."
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as excinfo:
        lambda_client.invoke(FunctionName=name, Qualifier="nosuchalias")
    assert error_of(excinfo)[2] == f"Function not found: {arn(streamlab_region, name, 'nosuchalias')}"
    # Deleting a version that is not there is idempotent (snapshot test_delete_on_nonexisting_version).
    lambda_client.delete_function(FunctionName=name, Qualifier="1233")


def test_deleting_a_version_keeps_the_others_and_numbers_are_never_reused(
    lambda_client: Any, make_function: Callable[..., str]
) -> None:
    name = make_function(WHO_AM_I)
    lambda_client.publish_version(FunctionName=name)
    lambda_client.update_function_configuration(FunctionName=name, Description="changed")
    lambda_client.publish_version(FunctionName=name)
    lambda_client.delete_function(FunctionName=name, Qualifier="2")
    assert [v["Version"] for v in lambda_client.list_versions_by_function(FunctionName=name)["Versions"]] == [
        "$LATEST",
        "1",
    ]
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.invoke(FunctionName=name, Qualifier="2")
    lambda_client.update_function_configuration(FunctionName=name, Description="changed again")
    assert lambda_client.publish_version(FunctionName=name)["Version"] == "3"
    assert payload_of(lambda_client.invoke(FunctionName=name, Qualifier="1"))["version"] == "1"


def test_alias_lifecycle_and_invoke_through_an_alias(
    lambda_client: Any, make_function: Callable[..., str], streamlab_region: str
) -> None:
    name = make_function(WHO_AM_I, Environment={"Variables": {"LABEL": "one"}})
    lambda_client.publish_version(FunctionName=name)
    created = lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="1", Description="prod")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["AliasArn"] == arn(streamlab_region, name, "live")
    assert (created["Name"], created["FunctionVersion"], created["Description"]) == ("live", "1", "prod")
    assert "RoutingConfig" not in created
    assert lambda_client.get_alias(FunctionName=name, Name="live")["RevisionId"] == created["RevisionId"]

    invoked = lambda_client.invoke(FunctionName=name, Qualifier="live")
    assert invoked["ExecutedVersion"] == "1"
    assert payload_of(invoked) == {
        "version": "1",
        "env_version": "1",
        "arn": arn(streamlab_region, name, "live"),
        "label": "one",
    }
    by_alias = lambda_client.get_function(FunctionName=arn(streamlab_region, name, "live"))["Configuration"]
    assert (by_alias["FunctionArn"], by_alias["Version"]) == (arn(streamlab_region, name, "live"), "1")

    lambda_client.update_function_configuration(FunctionName=name, Environment={"Variables": {"LABEL": "two"}})
    lambda_client.publish_version(FunctionName=name)
    with pytest.raises(lambda_client.exceptions.PreconditionFailedException):
        lambda_client.update_alias(FunctionName=name, Name="live", FunctionVersion="2", RevisionId="stale")
    moved = lambda_client.update_alias(
        FunctionName=name, Name="live", FunctionVersion="2", RevisionId=created["RevisionId"]
    )
    assert moved["FunctionVersion"] == "2"
    assert moved["RevisionId"] != created["RevisionId"]
    assert payload_of(lambda_client.invoke(FunctionName=f"{name}:live"))["label"] == "two"

    lambda_client.create_alias(FunctionName=name, Name="old", FunctionVersion="1")
    aliases = lambda_client.list_aliases(FunctionName=name)["Aliases"]
    assert [a["Name"] for a in aliases] == ["live", "old"]
    assert [a["Name"] for a in lambda_client.list_aliases(FunctionName=name, FunctionVersion="1")["Aliases"]] == ["old"]
    with pytest.raises(lambda_client.exceptions.ResourceConflictException):
        lambda_client.delete_function(FunctionName=name, Qualifier="1")  # "old" still points at it

    lambda_client.delete_alias(FunctionName=name, Name="old")
    lambda_client.delete_alias(FunctionName=name, Name="old")  # idempotent (snapshot test_non_existent_alias_deletion)
    lambda_client.delete_function(FunctionName=name, Qualifier="1")
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as excinfo:
        lambda_client.get_alias(FunctionName=name, Name="old")
    assert error_of(excinfo)[2] == f"Cannot find alias arn: {arn(streamlab_region, name, 'old')}"


def test_alias_weighted_routing_sends_a_share_to_the_additional_version(
    lambda_client: Any, make_function: Callable[..., str]
) -> None:
    name = make_function(WHO_AM_I)
    lambda_client.publish_version(FunctionName=name)
    lambda_client.update_function_configuration(FunctionName=name, Description="v2")
    lambda_client.publish_version(FunctionName=name)
    alias = lambda_client.create_alias(
        FunctionName=name, Name="canary", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}}
    )
    assert alias["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.5}}
    executed = Counter(
        lambda_client.invoke(FunctionName=name, Qualifier="canary")["ExecutedVersion"] for _ in range(60)
    )
    assert set(executed) == {"1", "2"}  # P(one version never drawn in 60) = 2 * 0.5**60
    lambda_client.update_alias(FunctionName=name, Name="canary", RoutingConfig={"AdditionalVersionWeights": {}})
    assert {lambda_client.invoke(FunctionName=name, Qualifier="canary")["ExecutedVersion"] for _ in range(10)} == {"1"}


@pytest.mark.parametrize(
    ("request_overrides", "code", "message"),
    [
        (
            {"RoutingConfig": {"AdditionalVersionWeights": {"2": 0.5, "3": 0.2}}},
            "InvalidParameterValueException",
            "Number of items in AdditionalVersionWeights cannot be greater than 1",
        ),
        (
            {"RoutingConfig": {"AdditionalVersionWeights": {"2": 2}}},
            "ValidationException",
            "1 validation error detected: Value '{2=2.0}' at 'routingConfig.additionalVersionWeights' failed to "
            "satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to "
            "1.0, Member must have value greater than or equal to 0.0, Member must not be null]",
        ),
        (
            {"RoutingConfig": {"AdditionalVersionWeights": {"1": 0.5}}},
            "InvalidParameterValueException",
            "Invalid function version 1. Function version 1 is already included in routing configuration.",
        ),
        (
            {"FunctionVersion": "$LATEST", "RoutingConfig": {"AdditionalVersionWeights": {"1": 0.5}}},
            "InvalidParameterValueException",
            "$LATEST is not supported for an alias pointing to more than 1 version",
        ),
        (
            {"Name": "2024"},
            "ValidationException",
            "1 validation error detected: Value '2024' at 'name' failed to satisfy constraint: Member must satisfy "
            "regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)",
        ),
    ],
    ids=["too-many-weights", "weight-too-high", "same-version", "latest-with-routing", "numeric-name"],
)
def test_create_alias_rejects_bad_routing_and_names(
    lambda_client: Any, make_function: Callable[..., str], request_overrides: dict[str, Any], code: str, message: str
) -> None:
    name = make_function(WHO_AM_I)
    lambda_client.publish_version(FunctionName=name)
    request = {"FunctionName": name, "Name": "bad", "FunctionVersion": "1", **request_overrides}
    with pytest.raises(lambda_client.exceptions.ClientError) as excinfo:
        lambda_client.create_alias(**request)
    assert error_of(excinfo)[0::2] == (code, message)
    assert lambda_client.list_aliases(FunctionName=name)["Aliases"] == []


def test_alias_errors_name_the_alias_arn(
    lambda_client: Any, make_function: Callable[..., str], streamlab_region: str
) -> None:
    name = make_function(WHO_AM_I)
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as excinfo:
        lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="10")
    assert error_of(excinfo)[2] == f"Function not found: {arn(streamlab_region, name, '10')}"
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="$LATEST")
    with pytest.raises(lambda_client.exceptions.ResourceConflictException) as excinfo:
        lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="$LATEST")
    assert error_of(excinfo)[2] == f"Alias already exists: {arn(streamlab_region, name, 'live')}"
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as excinfo:
        lambda_client.update_alias(FunctionName=name, Name="non-existent", Description="x")
    assert error_of(excinfo)[2] == f"Alias not found: {arn(streamlab_region, name, 'non-existent')}"


def test_list_functions_with_all_versions(lambda_client: Any, make_function: Callable[..., str]) -> None:
    name = make_function(WHO_AM_I)
    lambda_client.publish_version(FunctionName=name)
    every = [f for f in lambda_client.list_functions(FunctionVersion="ALL")["Functions"] if f["FunctionName"] == name]
    assert [f["Version"] for f in every] == ["$LATEST", "1"]
    default = [f for f in lambda_client.list_functions()["Functions"] if f["FunctionName"] == name]
    assert [f["Version"] for f in default] == ["$LATEST"]
    with pytest.raises(lambda_client.exceptions.ClientError) as excinfo:
        lambda_client.list_functions(FunctionVersion="invalid")
    assert error_of(excinfo)[0] == "ValidationException"


def test_a_mapping_on_an_alias_invokes_the_aliased_version(
    lambda_client: Any,
    make_function: Callable[..., str],
    streamlab_client: Callable[..., Any],
    streamlab_unique_name: Callable[[str], str],
    streamlab_region: str,
) -> None:
    """A DynamoDB stream mapping on ``fn:live`` runs the version the alias points at, and its
    handler sees the alias ARN (issue 13, item 4: event source mappings on a version or an alias)."""
    recorder = """
import json, os
def handler(event, context):
    print(json.dumps({"seen": [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]],
                      "version": context.function_version, "arn": context.invoked_function_arn}))
    return {}
"""
    name = make_function(recorder)
    lambda_client.publish_version(FunctionName=name)
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lambda_client.update_function_code(
        FunctionName=name, ZipFile=zip_source("def handler(e, c):\n    raise Exception('v2')\n")
    )
    dynamodb = streamlab_client("dynamodb")
    table = streamlab_unique_name("alias-table")
    stream_arn = dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]["LatestStreamArn"]
    mapping = lambda_client.create_event_source_mapping(
        FunctionName=f"{name}:live", EventSourceArn=stream_arn, StartingPosition="TRIM_HORIZON", BatchSize=10
    )
    try:
        assert mapping["FunctionArn"] == arn(streamlab_region, name, "live")
        eventually(lambda: lambda_client.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Enabled")
        dynamodb.put_item(TableName=table, Item={"pk": {"S": "k1"}})
        logs = streamlab_client("logs")

        def delivered() -> list[dict[str, Any]]:
            try:
                events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
            except logs.exceptions.ResourceNotFoundException:
                return []
            return [json.loads(e["message"]) for e in events if e["message"].startswith('{"seen"')]

        seen = eventually(delivered, timeout=20)
        assert seen[0] == {"seen": ["k1"], "version": "1", "arn": arn(streamlab_region, name, "live")}
        by_function = lambda_client.list_event_source_mappings(FunctionName=f"{name}:live")["EventSourceMappings"]
        assert [m["UUID"] for m in by_function] == [mapping["UUID"]]
    finally:
        lambda_client.delete_event_source_mapping(UUID=mapping["UUID"])
        dynamodb.delete_table(TableName=table)


def test_tail_log_of_a_version_names_it(lambda_client: Any, make_function: Callable[..., str]) -> None:
    name = make_function(WHO_AM_I)
    lambda_client.publish_version(FunctionName=name)
    tail = base64.b64decode(lambda_client.invoke(FunctionName=name, Qualifier="1", LogType="Tail")["LogResult"])
    assert "Version: 1\n" in tail.decode()
