"""MappingConfig defaults (AWS's) and the API-shaped adapter for the control plane."""

from __future__ import annotations

import pytest

from streamlab.emulator.esm.config import MappingConfig
from streamlab.emulator.esm.filtering import InvalidFilterCriteria

ARN = "arn:aws:dynamodb:eu-west-1:111111111111:table/t/stream/2026"


def test_aws_defaults():
    config = MappingConfig(uuid="u", function_name="f", event_source_arn=ARN)
    assert (config.batch_size, config.maximum_batching_window_in_seconds, config.maximum_retry_attempts) == (100, 0, -1)
    assert (config.maximum_record_age_in_seconds, config.parallelization_factor) == (-1, 1)
    assert not config.bisect_batch_on_function_error
    assert config.tumbling_window == 0
    assert config.function_response_types == ()
    assert config.filter_criteria is None
    assert config.on_failure_destination is None
    assert config.resolved_function_arn == "arn:aws:lambda:eu-west-1:111111111111:function:f"
    assert config.region == "eu-west-1"


def test_from_api_shape():
    config = MappingConfig.from_api(
        {
            "UUID": "u",
            "FunctionArn": "arn:aws:lambda:eu-west-1:111111111111:function:f",
            "EventSourceArn": ARN,
            "StartingPosition": "LATEST",
            "BatchSize": 3,
            "MaximumRetryAttempts": 0,
            "MaximumRecordAgeInSeconds": 60,
            "BisectBatchOnFunctionError": True,
            "TumblingWindowInSeconds": 0,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:eu-west-1:111111111111:q"}},
        }
    )
    assert config.starting_position == "LATEST"
    assert config.batch_size == 3
    assert config.maximum_retry_attempts == 0
    assert config.reports_batch_item_failures
    assert config.bisect_batch_on_function_error
    assert config.tumbling_window_in_seconds is None
    assert config.on_failure_destination == "arn:aws:sqs:eu-west-1:111111111111:q"


@pytest.mark.parametrize(
    "changes",
    [
        {"starting_position": "AT_TIMESTAMP"},
        {"batch_size": 0},
        {"batch_size": 10_001},
        {"parallelization_factor": 11},
        {"maximum_batching_window_in_seconds": 301},
        {"tumbling_window_in_seconds": 901},
    ],
)
def test_out_of_range(changes):
    with pytest.raises(ValueError, match=r"must be between|Unsupported"):
        MappingConfig(uuid="u", function_name="f", event_source_arn=ARN, **changes)


def test_invalid_filter_is_refused():
    with pytest.raises(InvalidFilterCriteria):
        MappingConfig(
            uuid="u", function_name="f", event_source_arn=ARN, filter_criteria={"Filters": [{"Pattern": "nope"}]}
        )
