"""Event source mapping answers compared with what AWS answered, as recorded.

The recordings are LocalStack's AWS-validated snapshots (repository localstack/localstack):
``tests/aws/services/lambda_/test_lambda_api.snapshot.json`` and
``tests/aws/services/lambda_/event_source_mapping/test_lambda_integration_dynamodbstreams.snapshot.json``,
each test's ``.validation.json`` entry giving the day it last ran against AWS. Every scenario names
its recording and that date; identifiers (ARNs, UUIDs) are the only values the recordings mask.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from streamlab.conformance.suite.harness import Mapping, Scenario

#: The queue ARN test_event_source_mapping_exceptions uses (a queue nobody has).
SOME_QUEUE = "arn:aws:sqs:{region}:111111111111:somequeue"
#: test_dynamodb_event_filter[date_time_conversion]'s pattern.
CREATED_AFTER_THE_EPOCH = {"dynamodb": {"ApproximateCreationDateTime": [{"numeric": [">", 0]}]}}
RECORD_KEYS = ["eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb", "eventSourceARN"]


def failure(call: Any) -> dict[str, Any]:
    """The error response of a call that must fail."""
    with pytest.raises(ClientError) as caught:
        call()
    return dict(caught.value.response)


def test_a_mapping_without_an_event_source_is_unrecognized(scenario: Scenario) -> None:
    """CreateEventSourceMapping without EventSourceArn: 400 InvalidParameterValueException
    "Unrecognized event source.", even for a function that does not exist.

    Recorded: test_lambda_api.snapshot.json, TestLambdaEventSourceMappings::
    test_event_source_mapping_exceptions, "create_no_event_source_arn" (validated 2025-11-27).
    """
    answer = failure(lambda: scenario.lambda_client().create_event_source_mapping(FunctionName="doesnotexist"))
    assert answer["Error"] == {"Code": "InvalidParameterValueException", "Message": "Unrecognized event source."}
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert answer["Type"] == "User"
    assert answer["message"] == "Unrecognized event source."


def test_a_mapping_to_a_function_that_does_not_exist_is_an_invalid_parameter(scenario: Scenario) -> None:
    """CreateEventSourceMapping for a function that does not exist: 400 (not 404)
    InvalidParameterValueException "Function does not exist".

    Recorded: test_lambda_api.snapshot.json, test_event_source_mapping_exceptions,
    "create_unknown_params" (validated 2025-11-27).
    """
    lam = scenario.lambda_client()
    answer = failure(
        lambda: lam.create_event_source_mapping(
            FunctionName="doesnotexist", EventSourceArn=SOME_QUEUE.format(region=scenario.region)
        )
    )
    assert answer["Error"] == {"Code": "InvalidParameterValueException", "Message": "Function does not exist"}
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert answer["message"] == "Function does not exist"


def test_an_on_success_destination_is_unsupported_for_a_mapping(scenario: Scenario) -> None:
    """DestinationConfig.OnSuccess on CreateEventSourceMapping: 400 InvalidParameterValueException
    "Unsupported DestinationConfig parameter for given event source mapping type.", checked before
    the function.

    Recorded: test_lambda_api.snapshot.json, test_event_source_mapping_exceptions,
    "destination_config_failure" (validated 2025-11-27).
    """
    region = scenario.region
    answer = failure(
        lambda: scenario.lambda_client().create_event_source_mapping(
            FunctionName="doesnotexist",
            EventSourceArn=SOME_QUEUE.format(region=region),
            DestinationConfig={"OnSuccess": {"Destination": f"arn:aws:sqs:{region}:111111111111:someotherqueue"}},
        )
    )
    message = "Unsupported DestinationConfig parameter for given event source mapping type."
    assert answer["Error"] == {"Code": "InvalidParameterValueException", "Message": message}
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_an_unknown_mapping_is_not_found_with_message_spelled_as_aws_does(scenario: Scenario) -> None:
    """Get/Update/DeleteEventSourceMapping of an unknown UUID: 404 ResourceNotFoundException
    "The resource you requested does not exist.", the body's member spelled ``Message``.

    Recorded: test_lambda_api.snapshot.json, test_event_source_mapping_exceptions,
    "get_unknown_uuid", "delete_unknown_uuid", "update_unknown_uuid" (validated 2025-11-27).
    """
    lam = scenario.lambda_client()
    unknown = "00000000-0000-4000-8000-000000000000"
    for call in (
        lambda: lam.get_event_source_mapping(UUID=unknown),
        lambda: lam.delete_event_source_mapping(UUID=unknown),
        lambda: lam.update_event_source_mapping(UUID=unknown, Enabled=False),
    ):
        answer = failure(call)
        assert answer["Error"]["Code"] == "ResourceNotFoundException"
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert answer["Message"] == "The resource you requested does not exist."
        assert answer["Type"] == "User"
        assert "message" not in answer


def test_a_mapping_to_a_stream_that_does_not_exist_is_an_invalid_parameter(scenario: Scenario) -> None:
    """CreateEventSourceMapping on a DynamoDB stream ARN that names no stream: 400
    InvalidParameterValueException "Stream not found: <the ARN>".

    Recorded: test_lambda_integration_dynamodbstreams.snapshot.json, TestDynamoDBEventSourceMapping::
    test_esm_with_not_existing_dynamodb_stream (validated 2025-11-25).
    """
    function = scenario.functions.get("record")
    account = function.split(":")[4]
    missing = f"arn:aws:dynamodb:{scenario.region}:{account}:table/test-table-4a53f4e8/stream/2025-02-22T03:03:25.490"
    answer = failure(
        lambda: scenario.lambda_client().create_event_source_mapping(
            FunctionName=function,
            BatchSize=1,
            StartingPosition="TRIM_HORIZON",
            EventSourceArn=missing,
            MaximumBatchingWindowInSeconds=1,
            MaximumRetryAttempts=1,
        )
    )
    assert answer["Error"] == {"Code": "InvalidParameterValueException", "Message": f"Stream not found: {missing}"}
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_second_mapping_of_the_same_pair_is_a_conflict_quoting_both(scenario: Scenario) -> None:
    """A second CreateEventSourceMapping for the same stream and function: 409
    ResourceConflictException 'The event source arn (" <arn> ") and function (" <name> ") provided
    mapping already exists. Please update or delete the existing mapping with UUID <uuid>'.

    Recorded: test_lambda_integration_dynamodbstreams.snapshot.json,
    test_duplicate_event_source_mappings (validated 2025-11-25).
    """
    table = scenario.table()
    uuid = scenario.map(table, wait=False, BatchSize=1, MaximumRetryAttempts=1)
    function = scenario.functions.get("record")
    answer = failure(
        lambda: scenario.lambda_client().create_event_source_mapping(
            FunctionName=function, EventSourceArn=table.stream_arn, StartingPosition="TRIM_HORIZON"
        )
    )
    name = function.split(":")[6]
    assert answer["Error"]["Code"] == "ResourceConflictException"
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert answer["Error"]["Message"] == (
        f'The event source arn (" {table.stream_arn} ") and function (" {name} ") provided mapping already '
        f"exists. Please update or delete the existing mapping with UUID {uuid}"
    )


def test_disabling_a_mapping_answers_disabling(scenario: Scenario) -> None:
    """UpdateEventSourceMapping with Enabled=false answers 202 with State "Disabling"; the mapping
    then settles on "Disabled".

    Recorded: test_lambda_integration_dynamodbstreams.snapshot.json,
    test_disabled_dynamodb_event_source_mapping, "update_event_source_mapping_result" (validated
    2025-11-25).
    """
    table = scenario.table()
    uuid = scenario.map(table, MaximumBatchingWindowInSeconds=1)
    updated = scenario.lambda_client().update_event_source_mapping(UUID=uuid, Enabled=False)
    assert updated["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert updated["State"] == "Disabling"
    assert updated["StateTransitionReason"] == "User action"
    scenario.wait_state(uuid, "Disabled")


def test_an_empty_filter_criteria_is_left_out_of_the_answer(scenario: Scenario) -> None:
    """CreateEventSourceMapping with FilterCriteria {"Filters": []}: the answer has no FilterCriteria.

    Recorded: test_lambda_api.snapshot.json, TestLambdaEventSourceMappings::
    test_create_event_filter_criteria_validation, "response-with-empty-filters" (validated 2025-12-18).
    """
    table = scenario.table()
    lam = scenario.lambda_client()
    created = lam.create_event_source_mapping(
        FunctionName=scenario.functions.get("record"),
        EventSourceArn=table.stream_arn,
        StartingPosition="LATEST",
        FilterCriteria={"Filters": []},
    )
    scenario.mappings.append(Mapping(created["UUID"], table.region))
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert "FilterCriteria" not in created
    assert (created["State"], created["DestinationConfig"], created["FunctionResponseTypes"]) == (
        "Creating",
        {"OnFailure": {}},
        [],
    )
    assert "FilterCriteria" not in scenario.wait_state(created["UUID"], "Enabled")


def test_delivered_creation_times_are_floats_of_epoch_seconds(scenario: Scenario) -> None:
    """Every delivered record's dynamodb.ApproximateCreationDateTime is a float of epoch seconds
    (ten digits before the point), and a numeric filter on it matches every record.

    Recorded: test_lambda_integration_dynamodbstreams.snapshot.json,
    test_dynamodb_event_filter[date_time_conversion] (validated 2025-11-25: two records pass
    {"numeric": [">", 0]}; the test asserts each value is a float) and
    test_dynamodb_event_source_mapping (validated 2025-11-25: int(log10(value)) == 9).
    """
    table = scenario.table()
    scenario.map(
        table,
        BatchSize=1,
        FilterCriteria={
            "Filters": [{"Pattern": json.dumps({"dynamodb": {"ApproximateCreationDateTime": [{"numeric": [">", 0]}]}})}]
        },
    )
    scenario.put(table, "a")
    scenario.put(table, "b")
    scenario.wait_delivered(table, ["a", "b"])
    created = [record["dynamodb"]["ApproximateCreationDateTime"] for record in scenario.delivered(table)]
    assert all(isinstance(value, float) for value in created), created
    assert all(len(str(int(value))) == 10 for value in created), created


def test_the_sns_on_failure_notification_is_signature_version_1_for_its_subscription(scenario: Scenario) -> None:
    """A batch that exhausts its retries reaches an SNS on-failure destination as an SNS
    Notification: SignatureVersion "1", the on-failure record as its Message, and an
    UnsubscribeURL naming the subscription it was delivered to.

    Recorded: test_lambda_integration_dynamodbstreams.snapshot.json,
    test_dynamodb_event_source_mapping_with_sns_on_failure_destination_config, "failure_sns_message"
    (validated 2025-11-25).
    """
    table = scenario.table()
    topic, url = scenario.topic_to_queue(raw=False)
    [subscription] = scenario.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    scenario.map(table, BatchSize=1, MaximumRetryAttempts=1, DestinationConfig={"OnFailure": {"Destination": topic}})
    scenario.put(table, "poison", directive="raise")
    [notification] = scenario.messages(url, 1)
    assert set(notification) >= {
        "Message",
        "MessageId",
        "Signature",
        "SignatureVersion",
        "SigningCertURL",
        "Timestamp",
        "TopicArn",
        "Type",
        "UnsubscribeURL",
    }
    assert (notification["Type"], notification["SignatureVersion"], notification["TopicArn"]) == (
        "Notification",
        "1",
        topic,
    )
    assert notification["UnsubscribeURL"].endswith(
        f"/?Action=Unsubscribe&SubscriptionArn={subscription['SubscriptionArn']}"
    )
    record = json.loads(notification["Message"])
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}


def test_the_s3_on_failure_payload_carries_records_with_float_creation_times(scenario: Scenario) -> None:
    """An S3 on-failure object's payload.Records are the records as delivered: eventVersion "1.1",
    AWS's key order, ApproximateCreationDateTime a float, SizeBytes the item size of keys and image.

    Recorded: test_lambda_integration_dynamodbstreams.snapshot.json,
    test_dynamodb_event_source_mapping_with_s3_on_failure_destination, "record_body" (validated
    2025-11-25; its NEW_IMAGE record of {"my_partition_key": "hello world"} has SizeBytes 54).
    """
    table = scenario.table("NEW_IMAGE")
    bucket = scenario.recorder.bucket
    uuid = scenario.map(
        table,
        BatchSize=1,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": f"arn:aws:s3:::{bucket}"}},
    )
    scenario.put(table, "poison", directive="raise")
    _, body = scenario.s3_failure_object(bucket, uuid)
    [record] = body["payload"]["Records"]
    assert list(record) == [
        "eventID",
        "eventName",
        "eventVersion",
        "eventSource",
        "awsRegion",
        "dynamodb",
        "eventSourceARN",
    ]
    assert (record["eventName"], record["eventVersion"], record["eventSource"]) == ("INSERT", "1.1", "aws:dynamodb")
    dynamodb = record["dynamodb"]
    assert isinstance(dynamodb["ApproximateCreationDateTime"], float)
    assert list(dynamodb) == [
        "ApproximateCreationDateTime",
        "Keys",
        "NewImage",
        "SequenceNumber",
        "SizeBytes",
        "StreamViewType",
    ]
    keys_size = len("pk") + len("p") + len("sk") + len("poison")
    image_size = keys_size + len("directive") + len("raise")
    assert dynamodb["SizeBytes"] == keys_size + image_size
    assert body["requestContext"]["approximateInvokeCount"] == 2
