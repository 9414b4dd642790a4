"""Event source mapping CRUD through boto3 (the polling engine is tested elsewhere)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from streamlab.streams import create_stream_table
from streamlab.testing import eventually
from tests.integration.lambda_support import ECHO


@pytest.fixture
def stream_arn(streamlab_client: Callable[..., Any], streamlab_unique_name: Callable[[str], str]) -> Iterator[str]:
    dynamodb = streamlab_client("dynamodb")
    table = streamlab_unique_name("orders")
    yield create_stream_table(dynamodb, table)
    dynamodb.delete_table(TableName=table)


@pytest.fixture
def mappings(lambda_client: Any) -> Iterator[list[str]]:
    """UUIDs to delete after the test."""
    created: list[str] = []
    yield created
    for uuid in created:
        with contextlib.suppress(lambda_client.exceptions.ResourceNotFoundException):
            lambda_client.delete_event_source_mapping(UUID=uuid)


def state_of(lambda_client: Any, uuid: str) -> str:
    return lambda_client.get_event_source_mapping(UUID=uuid)["State"]


def test_create_returns_aws_shape_and_becomes_enabled(
    lambda_client: Any, make_function: Callable[..., str], stream_arn: str, mappings: list[str]
) -> None:
    name = make_function(ECHO)
    function_arn = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    created = lambda_client.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName=name, StartingPosition="TRIM_HORIZON"
    )
    mappings.append(created["UUID"])
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert created["State"] == "Creating"
    assert created["StateTransitionReason"] == "User action"
    assert created["LastProcessingResult"] == "No records processed"
    assert created["EventSourceArn"] == stream_arn
    assert created["FunctionArn"] == function_arn
    assert created["BatchSize"] == 100
    assert created["StartingPosition"] == "TRIM_HORIZON"
    assert created["MaximumBatchingWindowInSeconds"] == 0
    assert created["ParallelizationFactor"] == 1
    assert created["MaximumRetryAttempts"] == -1
    assert created["MaximumRecordAgeInSeconds"] == -1
    assert created["BisectBatchOnFunctionError"] is False
    assert created["TumblingWindowInSeconds"] == 0
    assert created["FunctionResponseTypes"] == []
    assert created["DestinationConfig"] == {"OnFailure": {}}
    assert created["EventSourceMappingArn"].endswith(f":event-source-mapping:{created['UUID']}")
    assert eventually(lambda: state_of(lambda_client, created["UUID"]) == "Enabled")
    fetched = lambda_client.get_event_source_mapping(UUID=created["UUID"])
    assert fetched["LastModified"] == created["LastModified"]


def test_create_stores_every_parameter(
    lambda_client: Any, make_function: Callable[..., str], stream_arn: str, mappings: list[str], streamlab_region: str
) -> None:
    name = make_function(ECHO)
    queue = f"arn:aws:sqs:{streamlab_region}:123456789012:failures"
    pattern = '{"dynamodb": {"NewImage": {"status": {"S": ["PAID"]}}}}'
    created = lambda_client.create_event_source_mapping(
        EventSourceArn=stream_arn,
        FunctionName=name,
        StartingPosition="LATEST",
        BatchSize=25,
        MaximumBatchingWindowInSeconds=2,
        ParallelizationFactor=4,
        MaximumRetryAttempts=3,
        MaximumRecordAgeInSeconds=120,
        BisectBatchOnFunctionError=True,
        TumblingWindowInSeconds=30,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        FilterCriteria={"Filters": [{"Pattern": pattern}]},
        DestinationConfig={"OnFailure": {"Destination": queue}},
        Enabled=False,
    )
    mappings.append(created["UUID"])
    assert (created["BatchSize"], created["MaximumBatchingWindowInSeconds"], created["ParallelizationFactor"]) == (
        25,
        2,
        4,
    )
    assert (
        created["MaximumRetryAttempts"],
        created["MaximumRecordAgeInSeconds"],
        created["TumblingWindowInSeconds"],
    ) == (3, 120, 30)
    assert created["BisectBatchOnFunctionError"] is True
    assert created["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert created["FilterCriteria"] == {"Filters": [{"Pattern": pattern}]}
    assert created["DestinationConfig"] == {"OnFailure": {"Destination": queue}}
    assert eventually(lambda: state_of(lambda_client, created["UUID"]) == "Disabled")


@pytest.mark.parametrize(
    "overrides",
    [
        {"StartingPosition": None},
        {"StartingPosition": "AT_TIMESTAMP"},
        {"BatchSize": 10_001},
        {"MaximumBatchingWindowInSeconds": 301},
        {"ParallelizationFactor": 11},
        {"MaximumRetryAttempts": 10_001},
        {"MaximumRecordAgeInSeconds": 59},
        {"MaximumRecordAgeInSeconds": 604_801},
        {"TumblingWindowInSeconds": 901},
        {"FunctionResponseTypes": ["Nope"]},
        {"FilterCriteria": {"Filters": [{"Pattern": "not json"}]}},
        {"FilterCriteria": {"Filters": [{"Pattern": "{}"}] * 6}},
        {"DestinationConfig": {"OnFailure": {"Destination": "arn:aws:lambda:us-east-1:123456789012:function:x"}}},
    ],
    ids=lambda o: next(iter(o)) + "=" + str(next(iter(o.values())))[:20],
)
def test_invalid_parameters_are_rejected(
    lambda_client: Any, make_function: Callable[..., str], stream_arn: str, overrides: dict[str, Any]
) -> None:
    name = make_function(ECHO, wait=False)
    request: dict[str, Any] = {
        "EventSourceArn": stream_arn,
        "FunctionName": name,
        "StartingPosition": "LATEST",
        **overrides,
    }
    request = {key: value for key, value in request.items() if value is not None}
    # Outside the API model's bounds AWS answers ValidationException; Lambda's own checks
    # answer InvalidParameterValueException (src/streamlab/conformance/suite/test_parameters.py has the sources).
    model_bound = {
        "BatchSize",
        "MaximumBatchingWindowInSeconds",
        "ParallelizationFactor",
        "MaximumRetryAttempts",
        "TumblingWindowInSeconds",
    }
    out_of_model = next(iter(overrides)) in model_bound or overrides.get("MaximumRecordAgeInSeconds") == 604_801
    with pytest.raises(ClientError) as excinfo:
        lambda_client.create_event_source_mapping(**request)
    assert excinfo.value.response["Error"]["Code"] == (
        "ValidationException" if out_of_model else "InvalidParameterValueException"
    )
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert lambda_client.list_event_source_mappings(FunctionName=name)["EventSourceMappings"] == []


def test_unknown_function_duplicate_and_unknown_uuid(
    lambda_client: Any, make_function: Callable[..., str], stream_arn: str, mappings: list[str]
) -> None:
    """AWS (LocalStack's AWS-validated test_event_source_mapping_exceptions and
    test_duplicate_event_source_mappings, 2025-11-25/27): an unknown function is a 400
    InvalidParameterValueException "Function does not exist", a duplicate a 409 whose message
    quotes the ARN and the function name, an unknown UUID a 404 whose body says "Message"."""
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as missing:
        lambda_client.create_event_source_mapping(
            EventSourceArn=stream_arn, FunctionName="streamlab-missing", StartingPosition="LATEST"
        )
    assert missing.value.response["Error"]["Message"] == "Function does not exist"
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    name = make_function(ECHO)
    created = lambda_client.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName=name, StartingPosition="LATEST"
    )
    mappings.append(created["UUID"])
    with pytest.raises(lambda_client.exceptions.ResourceConflictException) as excinfo:
        lambda_client.create_event_source_mapping(
            EventSourceArn=stream_arn, FunctionName=name, StartingPosition="LATEST"
        )
    assert excinfo.value.response["Error"]["Message"] == (
        f'The event source arn (" {stream_arn} ") and function (" {name} ") provided mapping already exists. '
        f"Please update or delete the existing mapping with UUID {created['UUID']}"
    )
    for call in (lambda_client.get_event_source_mapping, lambda_client.delete_event_source_mapping):
        with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as unknown:
            call(UUID="00000000-0000-0000-0000-000000000000")
        assert unknown.value.response["Message"] == "The resource you requested does not exist."
        assert "message" not in unknown.value.response


def test_list_filters_by_function_and_source(
    lambda_client: Any, make_function: Callable[..., str], stream_arn: str, mappings: list[str]
) -> None:
    first, second = make_function(ECHO), make_function(ECHO)
    for name in (first, second):
        mappings.append(
            lambda_client.create_event_source_mapping(
                EventSourceArn=stream_arn, FunctionName=name, StartingPosition="LATEST"
            )["UUID"]
        )
    by_function = lambda_client.list_event_source_mappings(FunctionName=first)["EventSourceMappings"]
    assert [m["UUID"] for m in by_function] == [mappings[0]]
    by_source = lambda_client.list_event_source_mappings(EventSourceArn=stream_arn)["EventSourceMappings"]
    assert {m["UUID"] for m in by_source} == set(mappings)
    paged = [
        m["UUID"]
        for page in lambda_client.get_paginator("list_event_source_mappings").paginate(
            EventSourceArn=stream_arn, PaginationConfig={"PageSize": 1}
        )
        for m in page["EventSourceMappings"]
    ]
    assert sorted(paged) == sorted(mappings)


def test_update_and_delete(
    lambda_client: Any, make_function: Callable[..., str], stream_arn: str, mappings: list[str]
) -> None:
    name = make_function(ECHO)
    uuid = lambda_client.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName=name, StartingPosition="LATEST"
    )["UUID"]
    mappings.append(uuid)
    eventually(lambda: state_of(lambda_client, uuid) == "Enabled")

    # AWS: Disabling / Enabling when an update switches the mapping, Updating otherwise (LocalStack's
    # AWS-validated test_disabled_dynamodb_event_source_mapping and test_lambda_integration_sqs).
    updated = lambda_client.update_event_source_mapping(UUID=uuid, BatchSize=10, Enabled=False, MaximumRetryAttempts=2)
    assert updated["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert updated["State"] == "Disabling"
    assert (updated["BatchSize"], updated["MaximumRetryAttempts"], updated["StartingPosition"]) == (10, 2, "LATEST")
    eventually(lambda: state_of(lambda_client, uuid) == "Disabled")
    assert lambda_client.update_event_source_mapping(UUID=uuid, BatchSize=20)["State"] == "Updating"
    eventually(lambda: state_of(lambda_client, uuid) == "Disabled")
    assert lambda_client.update_event_source_mapping(UUID=uuid, Enabled=True)["State"] == "Enabling"
    eventually(lambda: state_of(lambda_client, uuid) == "Enabled")
    with pytest.raises(ClientError, match="ValidationException"):
        lambda_client.update_event_source_mapping(UUID=uuid, ParallelizationFactor=0 + 11)

    deleted = lambda_client.delete_event_source_mapping(UUID=uuid)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert deleted["State"] == "Deleting"

    def gone() -> bool:
        try:
            lambda_client.get_event_source_mapping(UUID=uuid)
        except lambda_client.exceptions.ResourceNotFoundException:
            return True
        return False

    eventually(gone)
