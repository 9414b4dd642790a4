"""Malformed requests get the AWS error a boto3 user would see, never an HTTP 500.

boto3 validates parameters on the client, so these tests switch that off
(``parameter_validation=False``) or send raw HTTP, as other SDKs and hand-rolled
clients do; the server must then answer like AWS.
"""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlparse

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

NO_CLIENT_VALIDATION = Config(parameter_validation=False, retries={"max_attempts": 1})
SIGNED = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, "
    "SignedHeaders=host, Signature=0",
    "X-Amz-Date": "20260101T000000Z",
    "Content-Type": "application/x-amz-json-1.0",
}


def raw_post(url: str, target: str, body: bytes) -> tuple[int, dict]:
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    try:
        connection.request("POST", "/", body=body, headers={**SIGNED, "X-Amz-Target": target})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def error_code(body: dict) -> str:
    return body["__type"].rpartition("#")[2]


def test_body_that_is_not_json_is_a_serialization_exception(streamlab_endpoint_url: str) -> None:
    status, body = raw_post(streamlab_endpoint_url, "DynamoDB_20120810.PutItem", b"{not json")
    assert (status, error_code(body)) == (400, "SerializationException")


def test_missing_required_members_are_a_validation_exception(streamlab_client) -> None:
    ddb = streamlab_client("dynamodb", config=NO_CLIENT_VALIDATION)
    with pytest.raises(ClientError) as error:
        ddb.put_item(Item={"pk": {"S": "a"}})
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert "tableName" in error.value.response["Error"]["Message"]
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_wrong_type_is_a_serialization_exception(streamlab_client, streamlab_unique_name) -> None:
    ddb = streamlab_client("dynamodb", config=NO_CLIENT_VALIDATION)
    with pytest.raises(ClientError) as error:
        ddb.put_item(TableName=streamlab_unique_name("t"), Item={"pk": {"S": "a"}}, ReturnValues=7)
    assert error.value.response["Error"]["Code"] == "SerializationException"


def test_wrong_type_inside_an_attribute_value(streamlab_client, streamlab_unique_name) -> None:
    ddb = streamlab_client("dynamodb", config=NO_CLIENT_VALIDATION)
    with pytest.raises(ClientError) as error:
        ddb.put_item(TableName=streamlab_unique_name("t"), Item={"pk": {"S": 12}})
    assert error.value.response["Error"]["Code"] == "SerializationException"


def test_unknown_operation(streamlab_endpoint_url: str) -> None:
    status, body = raw_post(streamlab_endpoint_url, "DynamoDB_20120810.DropEverything", b"{}")
    assert (status, error_code(body)) == (400, "UnknownOperationException")


def test_streams_calls_are_validated_too(streamlab_client) -> None:
    streams = streamlab_client("dynamodbstreams", config=NO_CLIENT_VALIDATION)
    with pytest.raises(ClientError) as error:
        streams.get_records()
    assert error.value.response["Error"]["Code"] == "ValidationException"


def test_oversized_item_is_rejected_and_nothing_is_written(streamlab_client, streamlab_unique_name) -> None:
    """DynamoDB: an item may be at most 400 KB."""
    ddb = streamlab_client("dynamodb")
    table = streamlab_unique_name("big")
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    with pytest.raises(ClientError) as error:
        ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "blob": {"S": "x" * (401 * 1024)}})
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "a"}})


def test_valid_requests_still_pass_after_bad_ones(streamlab_client, streamlab_unique_name) -> None:
    ddb = streamlab_client("dynamodb")
    table = streamlab_unique_name("ok")
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(
        TableName=table, Item={"pk": {"S": "a"}, "n": {"N": "1"}, "b": {"B": b"\x00\x01"}, "l": {"L": [{"BOOL": True}]}}
    )
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "a"}})["Item"]
    assert item["b"] == {"B": b"\x00\x01"}
    assert item["l"] == {"L": [{"BOOL": True}]}
