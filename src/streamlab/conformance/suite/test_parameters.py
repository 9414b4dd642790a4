"""CreateEventSourceMapping parameter validation, with the error codes AWS returns.

Two layers answer on AWS: the API model's constraints (min/max of BatchSize,
ParallelizationFactor, MaximumRetryAttempts, TumblingWindowInSeconds, the StartingPosition enum)
give ``ValidationException`` "1 validation error detected: Value '<v>' at '<member>' failed to
satisfy constraint: ..."; Lambda's own checks (StartingPosition missing or not valid for the
source, MaximumRecordAgeInSeconds between -1 and 60, filter syntax) give
``InvalidParameterValueException``. boto3 checks the model's minimums itself, so the client here
turns its parameter validation off to let the service answer.

Sources: LocalStack's AWS-recorded snapshots tests/aws/services/lambda_/test_lambda_api.snapshot.json
(test_create_event_source_validation: no_starting_position, invalid_starting_position,
incompatible_starting_position; the "Value '0' at 'provisionedConcurrentExecutions'" constraint
message format) and test_lambda_integration_dynamodbstreams.snapshot.json
(test_dynamodb_invalid_event_filter: "Invalid filter pattern definition."); the model ranges in
docs.aws.amazon.com/lambda/latest/dg/API_CreateEventSourceMapping.html; AWS's
MaximumRecordAgeInSeconds message quoted in hashicorp/terraform-provider-aws#16113.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from streamlab.conformance.suite.harness import Mapping, Scenario

VALIDATION = "ValidationException"
INVALID = "InvalidParameterValueException"


def constraint(value: str, member: str, rule: str) -> str:
    return f"1 validation error detected: Value {value} at '{member}' failed to satisfy constraint: {rule}"


CASES: list[tuple[str, dict[str, Any], str, str | None]] = [
    (
        "BatchSize=0",
        {"BatchSize": 0},
        VALIDATION,
        constraint("'0'", "batchSize", "Member must have value greater than or equal to 1"),
    ),
    (
        "BatchSize=10001",
        {"BatchSize": 10001},
        VALIDATION,
        constraint("'10001'", "batchSize", "Member must have value less than or equal to 10000"),
    ),
    (
        "ParallelizationFactor=11",
        {"ParallelizationFactor": 11},
        VALIDATION,
        constraint("'11'", "parallelizationFactor", "Member must have value less than or equal to 10"),
    ),
    (
        "MaximumRetryAttempts=-2",
        {"MaximumRetryAttempts": -2},
        VALIDATION,
        constraint("'-2'", "maximumRetryAttempts", "Member must have value greater than or equal to -1"),
    ),
    (
        "TumblingWindowInSeconds=901",
        {"TumblingWindowInSeconds": 901},
        VALIDATION,
        constraint("'901'", "tumblingWindowInSeconds", "Member must have value less than or equal to 900"),
    ),
    ("MaximumRecordAgeInSeconds=30", {"MaximumRecordAgeInSeconds": 30}, INVALID, None),
    (
        "StartingPosition missing",
        {"StartingPosition": None},
        INVALID,
        constraint("null", "startingPosition", "Member must not be null."),
    ),
    (
        "StartingPosition=invalid",
        {"StartingPosition": "invalid"},
        VALIDATION,
        constraint(
            "'invalid'", "startingPosition", "Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]"
        ),
    ),
    (
        "StartingPosition=AT_TIMESTAMP",
        {"StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": 1700000000},
        INVALID,
        None,
    ),
    (
        "FilterCriteria not JSON",
        {"FilterCriteria": {"Filters": [{"Pattern": "not json"}]}},
        INVALID,
        "Invalid filter pattern definition.",
    ),
]


@pytest.mark.parametrize(("overrides", "code", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_parameters_are_rejected(
    scenario: Scenario, overrides: dict[str, Any], code: str, message: str | None
) -> None:
    """Out-of-range or missing CreateEventSourceMapping parameters fail with AWS's error code (HTTP 400),
    and no mapping is created. Ranges: BatchSize 1-10,000; ParallelizationFactor 1-10;
    MaximumRetryAttempts -1-10,000; TumblingWindowInSeconds 0-900; MaximumRecordAgeInSeconds -1 or
    60-604,800; StartingPosition required (TRIM_HORIZON or LATEST for DynamoDB).

    Source: docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html and the module docstring.
    """
    table = scenario.table()
    lam = scenario.lambda_client(validate=False)
    function = scenario.functions.get("record")
    request: dict[str, Any] = {
        "EventSourceArn": table.stream_arn,
        "FunctionName": function,
        "StartingPosition": "LATEST",
        **overrides,
    }
    request = {key: value for key, value in request.items() if value is not None}
    try:
        created = lam.create_event_source_mapping(**request)
    except ClientError as raised:
        error = raised.response
    else:
        scenario.mappings.append(Mapping(created["UUID"], table.region))  # deleted afterwards
        pytest.fail(f"accepted: {request}")
    assert error["Error"]["Code"] == code, error["Error"]
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    if message is not None:
        assert error["Error"]["Message"] == message
    if overrides.get("StartingPosition") == "AT_TIMESTAMP":
        assert error["Error"]["Message"].startswith("Unsupported starting position for arn type")
    if "MaximumRecordAgeInSeconds" in overrides:
        assert "MaximumRecordAgeInSeconds" in error["Error"]["Message"]
    assert lam.list_event_source_mappings(EventSourceArn=table.stream_arn)["EventSourceMappings"] == []
