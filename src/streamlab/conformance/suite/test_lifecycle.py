"""Event source mapping lifecycle: Creating -> Enabled, update, disable/enable, delete, LastProcessingResult."""

from __future__ import annotations

import json
import time

from botocore.exceptions import ClientError

from streamlab.conformance.suite.harness import Mapping, Scenario, sk_of
from streamlab.testing import eventually


def color_filter(color: str) -> dict[str, list[dict[str, str]]]:
    return {"Filters": [{"Pattern": json.dumps({"dynamodb": {"NewImage": {"color": {"S": [color]}}}})}]}


def test_creation_is_asynchronous_and_reports_processing(scenario: Scenario) -> None:
    """CreateEventSourceMapping answers 202 with State "Creating" and LastProcessingResult
    "No records processed"; the mapping becomes "Enabled", and after a successful batch its
    LastProcessingResult is "OK".

    Source: docs.aws.amazon.com/lambda/latest/dg/API_CreateEventSourceMapping.html (State values);
    LocalStack's AWS snapshot test_dynamodb_event_source_mapping (create response: Creating,
    "User action", "No records processed"; later "OK").
    """
    table = scenario.table()
    uuid = scenario.map(table, wait=False)
    created = scenario.mapping(uuid)
    assert created["State"] in ("Creating", "Enabled")
    first = scenario.lambda_client().list_event_source_mappings(EventSourceArn=table.stream_arn)["EventSourceMappings"]
    assert [m["UUID"] for m in first] == [uuid]
    mapping = scenario.wait_state(uuid, "Enabled")
    assert mapping["StateTransitionReason"] == "User action"
    assert mapping["LastProcessingResult"] == "No records processed"
    scenario.put(table, "a")
    scenario.wait_delivered(table, ["a"])
    eventually(
        lambda: scenario.mapping(uuid)["LastProcessingResult"] == "OK",
        scenario.backend.delivery,
        scenario.backend.poll * 4,
    )


def test_create_response_is_creating_with_status_202(scenario: Scenario) -> None:
    """The CreateEventSourceMapping response itself: HTTP 202, State "Creating", defaults filled in.

    Source: docs.aws.amazon.com/lambda/latest/dg/API_CreateEventSourceMapping.html (response 202);
    services-ddb-params.html (defaults: BatchSize 100, MaximumRetryAttempts -1,
    MaximumRecordAgeInSeconds -1, ParallelizationFactor 1, BisectBatchOnFunctionError false).
    """
    table = scenario.table()
    lam = scenario.lambda_client()
    created = lam.create_event_source_mapping(
        EventSourceArn=table.stream_arn, FunctionName=scenario.functions.get("record"), StartingPosition="LATEST"
    )
    scenario.mappings.append(Mapping(created["UUID"], table.region))
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert created["State"] == "Creating"
    assert created["LastProcessingResult"] == "No records processed"
    defaults = {
        k: created[k]
        for k in (
            "BatchSize",
            "MaximumRetryAttempts",
            "MaximumRecordAgeInSeconds",
            "ParallelizationFactor",
            "BisectBatchOnFunctionError",
        )
    }
    assert defaults == {
        "BatchSize": 100,
        "MaximumRetryAttempts": -1,
        "MaximumRecordAgeInSeconds": -1,
        "ParallelizationFactor": 1,
        "BisectBatchOnFunctionError": False,
    }


def test_update_is_applied(scenario: Scenario) -> None:
    """UpdateEventSourceMapping (answer 202, State "Updating") changes how later records are processed.

    Source: docs.aws.amazon.com/lambda/latest/dg/API_UpdateEventSourceMapping.html.
    """
    table = scenario.table()
    uuid = scenario.map(table, BatchSize=5, FilterCriteria=color_filter("red"))
    scenario.put(table, "red-1", color="red")
    scenario.put(table, "blue-1", color="blue")
    scenario.wait_delivered(table, ["red-1"])
    updated = scenario.lambda_client().update_event_source_mapping(
        UUID=uuid, BatchSize=2, FilterCriteria=color_filter("blue")
    )
    assert updated["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert updated["State"] == "Updating"
    mapping = scenario.wait_state(uuid, "Enabled")
    assert mapping["BatchSize"] == 2
    assert mapping["FilterCriteria"] == color_filter("blue")
    scenario.put(table, "red-2", color="red")
    scenario.put(table, "blue-2", color="blue")
    scenario.wait_delivered(table, ["blue-2"])
    delivered = [sk_of(r) for r in scenario.delivered(table)]
    assert "red-2" not in delivered, delivered
    assert "blue-1" not in delivered, delivered


def test_disable_then_enable_resumes_without_loss(scenario: Scenario) -> None:
    """Enabled=False pauses the mapping (State "Disabled"); enabling it again resumes from where it
    stopped, so records written while it was disabled are delivered.

    Source: docs.aws.amazon.com/lambda/latest/dg/API_UpdateEventSourceMapping.html (Enabled:
    "To disable the event source mapping, set to false"); with-ddb.html (checkpointed shard progress).
    """
    table = scenario.table()
    uuid = scenario.map(table)
    scenario.put(table, "a")
    scenario.wait_delivered(table, ["a"])
    scenario.lambda_client().update_event_source_mapping(UUID=uuid, Enabled=False)
    scenario.wait_state(uuid, "Disabled")
    scenario.put(table, "b")
    scenario.put(table, "c")
    time.sleep(scenario.backend.quiet)
    assert {"b", "c"}.isdisjoint(sk_of(r) for r in scenario.delivered(table)), "a disabled mapping delivers nothing"
    scenario.lambda_client().update_event_source_mapping(UUID=uuid, Enabled=True)
    scenario.wait_state(uuid, "Enabled")
    scenario.wait_delivered(table, ["b", "c"])


def test_delete_stops_delivery(scenario: Scenario) -> None:
    """DeleteEventSourceMapping (202, State "Deleting"): the mapping disappears and delivers no more.

    Source: docs.aws.amazon.com/lambda/latest/dg/API_DeleteEventSourceMapping.html.
    """
    table = scenario.table()
    uuid = scenario.map(table)
    scenario.put(table, "a")
    scenario.wait_delivered(table, ["a"])
    lam = scenario.lambda_client()
    deleted = lam.delete_event_source_mapping(UUID=uuid)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert deleted["State"] == "Deleting"

    def gone() -> bool:
        try:
            lam.get_event_source_mapping(UUID=uuid)
        except ClientError as error:
            return bool(error.response["Error"]["Code"] == "ResourceNotFoundException")
        return False

    eventually(gone, scenario.backend.mapping_ready, scenario.backend.poll * 4, "mapping deleted")
    scenario.put(table, "b")
    time.sleep(scenario.backend.quiet)
    assert "b" not in {sk_of(r) for r in scenario.delivered(table)}


def test_last_processing_result_reports_a_failing_function(scenario: Scenario) -> None:
    """LastProcessingResult turns to a "PROBLEM: ..." value while the function fails, and back to
    "OK" once a batch succeeds.

    Source: docs.aws.amazon.com/lambda/latest/dg/API_EventSourceMappingConfiguration.html
    (LastProcessingResult). The exact problem wording ("PROBLEM: Function call failed") is
    UNVERIFIED, so only the prefix is checked.
    """
    table = scenario.table()
    uuid = scenario.map(table, BatchSize=1, MaximumRetryAttempts=3)
    scenario.put(table, "poison", directive="raise")
    eventually(
        lambda: scenario.mapping(uuid)["LastProcessingResult"].startswith("PROBLEM"),
        scenario.backend.retries,
        scenario.backend.poll * 4,
        "LastProcessingResult PROBLEM",
    )
    scenario.put(table, "fine")
    scenario.wait_delivered(table, ["fine"], timeout=scenario.backend.retries)
    eventually(
        lambda: scenario.mapping(uuid)["LastProcessingResult"] == "OK",
        scenario.backend.delivery,
        scenario.backend.poll * 4,
    )
