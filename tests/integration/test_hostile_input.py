"""Hostile input gets AWS's error and leaves the endpoint whole.

Each case is one the endpoint answered wrongly before (issue 12): a credential scope whose
region is a path (``..``) that put function code outside ``code/`` and deleted the runtime;
attribute values nested hundreds of levels deep (HTTP 500, or an empty body); an unknown
``X-Amz-Target`` (HTTP 500 in XML); a garbage ``Authorization`` header. boto3 refuses to send most
of these (it validates the region and recurses while serialising), so they go out as raw HTTP,
signed with botocore's own SigV4 signer where a signature is part of the case.

AWS's answers followed here: DynamoDB's signature errors are HTTP 400 with ``__type``
``IncompleteSignatureException`` ("Credential must have exactly 5 slash-delimited elements, ...",
"Invalid key=value pair (missing equal-sign) in Authorization header (hashed with SHA-256 and
encoded with Base64): ...") and ``InvalidSignatureException`` ("Credential should be scoped to a
valid region, not '...'"), as recorded by dynalite's tests of DynamoDB (2013) and seen in answers
from AWS quoted in user reports (2024-2026); other services answer them with 403. Attribute
nesting: 32 levels with the attribute itself as level 1, "Nesting Levels have exceeded supported
limits" (recorded against DynamoDB eu-west-2, 2026-06).
"""

from __future__ import annotations

import http.client
import io
import json
import zipfile
from typing import Any
from urllib.parse import urlparse

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from streamlab.aws_rules import MAX_ATTRIBUTE_NESTING
from streamlab.streams import create_stream_table
from tests.integration.lambda_support import ROLE


def send(url: str, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def signed(url: str, service: str, region: str, method: str, path: str, body: bytes, **headers: str) -> tuple:
    """Send a request signed by botocore for ``service`` in ``region`` (any string: boto3 would refuse)."""
    request = AWSRequest(method=method, url=url.rstrip("/") + path, data=body, headers=headers)
    SigV4Auth(Credentials("test", "test"), service, region).add_auth(request)
    return send(url, method, path, body, dict(request.headers.items()))


def dynamodb(url: str, operation: str, payload: dict[str, Any] | bytes, region: str = "us-east-1") -> tuple:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return signed(
        url,
        "dynamodb",
        region,
        "POST",
        "/",
        body,
        **{"X-Amz-Target": f"DynamoDB_20120810.{operation}", "Content-Type": "application/x-amz-json-1.0"},
    )


def json_error(body: bytes) -> tuple[str, str]:
    document = json.loads(body)
    return document["__type"].rpartition("#")[2], document.get("message", "")


def nested(depth: int) -> dict[str, Any]:
    """An attribute value ``depth`` levels deep, the attribute itself being level 1."""
    value: dict[str, Any] = {"S": "leaf"}
    for _ in range(depth - 1):
        value = {"M": {"n": value}}
    return value


def zip_bytes(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


@pytest.fixture
def table(streamlab_client, streamlab_unique_name) -> str:
    name = streamlab_unique_name("hostile")
    create_stream_table(streamlab_client("dynamodb"), name)
    return name


# -- the credential scope ------------------------------------------------------------------


@pytest.mark.parametrize("region", ["..", "../..", "us-east-1/../..", "x", "US-EAST-1", ""])
def test_a_region_that_is_not_a_region_name_is_refused_before_dynamodb(streamlab_endpoint_url, table, region) -> None:
    status, _, body = dynamodb(
        streamlab_endpoint_url, "PutItem", {"TableName": table, "Item": {"pk": {"S": "a"}}}, region
    )
    code, message = json_error(body)
    # A region with a slash makes a credential of more than 5 elements: the incomplete-signature error.
    expected = "IncompleteSignatureException" if "/" in region else "InvalidSignatureException"
    assert (status, code) == (400, expected)
    if "/" not in region:
        assert f"not '{region}'" in message


def test_lambda_requests_signed_for_a_path_region_change_nothing(
    streamlab_endpoint_url, lambda_client, make_function, streamlab_unique_name
) -> None:
    """CreateFunction signed for ``..`` used to unpack code outside ``code/``; DeleteFunction for
    ``..`` removed the runtime directory, so every function failed until restart."""
    survivor = make_function()  # must still run afterwards
    name = streamlab_unique_name("escape")
    create = json.dumps(
        {
            "FunctionName": name,
            "Runtime": "python3.12",
            "Role": ROLE,
            "Handler": "app.handler",
            "Code": {"ZipFile": __import__("base64").b64encode(zip_bytes("def handler(e, c): return 1")).decode()},
        }
    ).encode()
    for region in ("..", "../runtime"):
        status, headers, body = signed(
            streamlab_endpoint_url,
            "lambda",
            region,
            "POST",
            "/2015-03-31/functions",
            create,
            **{"Content-Type": "application/json"},
        )
        expected = "InvalidSignatureException" if "/" not in region else "IncompleteSignatureException"
        assert (status, headers.get("x-amzn-errortype")) == (403, expected), body
        status, headers, body = signed(
            streamlab_endpoint_url, "lambda", region, "DELETE", "/2015-03-31/functions/runtime", b""
        )
        assert status == 403, body
    with pytest.raises(ClientError) as missing:
        lambda_client.get_function(FunctionName=name)
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    answer = lambda_client.invoke(FunctionName=survivor, Payload=b'{"ok": 1}')
    assert "FunctionError" not in answer
    assert json.loads(answer["Payload"].read()) == {"ok": 1}


@pytest.mark.parametrize(
    ("authorization", "message_start"),
    [
        ("Bearer abcdef", "Invalid key=value pair (missing equal-sign) in Authorization header"),
        ("garbage", "Authorization header requires 'Credential' parameter."),
        ("AWS4-HMAC-SHA256 Credential=a/b/c/d, SignedHeaders=host, Signature=0", "Credential must have exactly 5"),
        (
            "AWS4-HMAC-SHA25 Credential=a/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
            "Unsupported AWS 'algorithm'",
        ),
    ],
)
def test_a_garbage_authorization_header_is_an_incomplete_signature(
    streamlab_endpoint_url, authorization, message_start
) -> None:
    headers = {
        "Authorization": authorization,
        "X-Amz-Date": "20260101T000000Z",
        "X-Amz-Target": "DynamoDB_20120810.ListTables",
        "Content-Type": "application/x-amz-json-1.0",
    }
    status, _, body = send(streamlab_endpoint_url, "POST", "/", b"{}", headers)
    code, message = json_error(body)
    assert (status, code) == (400, "IncompleteSignatureException")
    assert message.startswith(message_start)
    assert "abcdef" not in message  # the header's value is hashed, never echoed


def test_signature_errors_follow_each_services_protocol(streamlab_endpoint_url) -> None:
    headers = {"Authorization": "Bearer abcdef", "X-Amz-Date": "20260101T000000Z"}
    status, answer_headers, _ = send(streamlab_endpoint_url, "GET", "/2015-03-31/functions/", b"", headers)
    assert (status, answer_headers.get("x-amzn-errortype")) == (403, "IncompleteSignatureException")
    status, _, body = send(
        streamlab_endpoint_url,
        "POST",
        "/",
        b"Action=ListQueues",
        {**headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 400
    assert b"<Code>IncompleteSignature</Code>" in body


def test_a_scope_for_a_valid_region_still_works(streamlab_endpoint_url, table) -> None:
    status, _, body = dynamodb(streamlab_endpoint_url, "PutItem", {"TableName": table, "Item": {"pk": {"S": "a"}}})
    assert status == 200, body


# -- nesting ------------------------------------------------------------------------------


def test_32_levels_of_nesting_are_accepted_and_33_refused(streamlab_client, table) -> None:
    ddb = streamlab_client("dynamodb")
    deepest = nested(MAX_ATTRIBUTE_NESTING)
    ddb.put_item(TableName=table, Item={"pk": {"S": "deep"}, "doc": deepest})
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "deep"}})["Item"]["doc"] == deepest
    with pytest.raises(ClientError) as refused:
        ddb.put_item(TableName=table, Item={"pk": {"S": "deeper"}, "doc": nested(MAX_ATTRIBUTE_NESTING + 1)})
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "Nesting Levels have exceeded supported limits" in refused.value.response["Error"]["Message"]


@pytest.mark.parametrize("depth", [40, 300, 450, 600, 2000, 50_000])
def test_deeper_nesting_is_a_validation_exception_with_a_body(streamlab_endpoint_url, table, depth) -> None:
    # Built as text: json.dumps recurses as well.
    document = '{"S": "leaf"}'
    body = '{"TableName": "' + table + '", "Item": {"pk": {"S": "x"}, "doc": ' + '{"M": {"n": ' * (depth - 1)
    body += document + "}}" * (depth - 1) + "}}"
    status, _, answer = dynamodb(streamlab_endpoint_url, "PutItem", body.encode())
    code, message = json_error(answer)
    assert (status, code) == (400, "ValidationException")
    assert "Nesting Levels" in message


def test_deep_nesting_in_expression_values_and_transactions_is_refused(streamlab_client, table) -> None:
    ddb = streamlab_client("dynamodb")
    too_deep = nested(MAX_ATTRIBUTE_NESTING + 1)
    calls = [
        lambda: ddb.update_item(
            TableName=table,
            Key={"pk": {"S": "a"}},
            UpdateExpression="SET doc = :d",
            ExpressionAttributeValues={":d": too_deep},
        ),
        lambda: ddb.transact_write_items(
            TransactItems=[{"Put": {"TableName": table, "Item": {"pk": {"S": "t"}, "doc": too_deep}}}]
        ),
    ]
    for call in calls:
        with pytest.raises(ClientError) as refused:
            call()
        assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "t"}})


def test_deep_json_to_lambda_is_a_client_error(streamlab_endpoint_url) -> None:
    body = b'{"FunctionName": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    status, headers, answer = signed(
        streamlab_endpoint_url,
        "lambda",
        "us-east-1",
        "POST",
        "/2015-03-31/functions",
        body,
        **{"Content-Type": "application/json"},
    )
    assert (status, headers.get("x-amzn-errortype")) == (400, "InvalidRequestContentException"), answer


# -- unknown operations -------------------------------------------------------------------


@pytest.mark.parametrize("target", ["Nope_20120810.PutItem", "DynamoDB_20120810.DropEverything", "garbage"])
def test_an_unknown_target_is_an_unknown_operation_in_json(streamlab_endpoint_url, target) -> None:
    status, headers, body = signed(
        streamlab_endpoint_url,
        "dynamodb",
        "us-east-1",
        "POST",
        "/",
        b"{}",
        **{"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"},
    )
    assert (status, json_error(body)[0]) == (400, "UnknownOperationException")
    assert headers["content-type"].startswith("application/x-amz-json")


# -- requests moto used to crash on (found by test_fuzz.py) ---------------------------------


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        ({"Key": {"pk": {"S": "k"}}, "ConditionExpression": "n > :v"}, "attribute value: :v"),
        ({"Key": {"pk": {"S": "k"}}, "ConditionExpression": "#n > :v", "ExpressionAttributeValues": {":v": {"N": "1"}}},
         "attribute name: #n"),
        ({"Key": {"pk": {"S": "k"}}, "ConditionExpression": "attribute_exists(pk)",
          "ExpressionAttributeValues": {":x": {"N": "1"}}}, "unused in expressions: keys: {:x}"),
        ({"Key": {"pk": {}}}, "Supplied AttributeValue is empty"),
        ({"Key": {"pk": {"S": "k", "N": "1"}}}, "more than one datatypes"),
        ({"Key": {"pk": {"N": "not-a-number"}}}, "cannot be converted into a number"),
    ],
)  # fmt: skip
def test_malformed_delete_item_requests_are_validation_exceptions(streamlab_endpoint_url, table, request_body, message):
    status, _, body = dynamodb(streamlab_endpoint_url, "DeleteItem", {"TableName": table, **request_body})
    code, text = json_error(body)
    assert (status, code) == (400, "ValidationException")
    assert message in text


def test_invalid_base64_binary_is_a_serialization_exception(streamlab_endpoint_url, table) -> None:
    status, _, body = dynamodb(streamlab_endpoint_url, "GetItem", {"TableName": table, "Key": {"pk": {"B": "0"}}})
    assert (status, json_error(body)[0]) == (400, "SerializationException")


def test_update_item_without_an_update_writes_the_key(streamlab_client, table) -> None:
    ddb = streamlab_client("dynamodb")
    ddb.update_item(TableName=table, Key={"pk": {"S": "only-key"}})
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "only-key"}})["Item"] == {"pk": {"S": "only-key"}}
