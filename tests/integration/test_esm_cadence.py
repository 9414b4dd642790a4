"""Both polling cadences of the embedded endpoint keep every mapping semantic.

``wake`` (default) delivers on the DynamoDB write the gateway routed; ``aws`` only polls four
times a second, like Lambda. Either way every record reaches the handler once, in order.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import boto3
import pytest

from streamlab.emulator.endpoint import EmbeddedEndpoint
from streamlab.streams import create_stream_table
from streamlab.testing import eventually
from tests.integration.lambda_support import zip_source

RECORDING_HANDLER = """
import json

def handler(event, context):
    for record in event["Records"]:
        print(json.dumps({"pk": record["dynamodb"]["Keys"]["pk"]["S"], "seq": record["dynamodb"]["SequenceNumber"]}))
"""


@pytest.fixture(params=["wake", "aws"])
def endpoint(request: pytest.FixtureRequest) -> Iterator[EmbeddedEndpoint]:
    with EmbeddedEndpoint(port=0, esm_cadence=request.param) as endpoint:
        yield endpoint


def test_every_write_is_delivered_in_order(endpoint: EmbeddedEndpoint) -> None:
    options = {
        "endpoint_url": endpoint.url,
        "region_name": "us-east-1",
        "aws_access_key_id": "t",
        "aws_secret_access_key": "t",
    }
    ddb, lam, logs = (boto3.client(name, **options) for name in ("dynamodb", "lambda", "logs"))
    table = f"cadence-{endpoint.esm_cadence}-{int(time.time() * 1000)}"
    stream_arn = create_stream_table(ddb, table, "KEYS_ONLY")
    lam.create_function(
        FunctionName=table,
        Runtime="python3.12",
        Handler="app.handler",
        Role="arn:aws:iam::123456789012:role/streamlab",
        Code={"ZipFile": zip_source(RECORDING_HANDLER)},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=table)
    uuid = lam.create_event_source_mapping(
        FunctionName=table, EventSourceArn=stream_arn, StartingPosition="TRIM_HORIZON", BatchSize=5
    )["UUID"]
    eventually(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled")

    keys = [f"k{n:02d}" for n in range(20)]
    for key in keys:
        ddb.put_item(TableName=table, Item={"pk": {"S": key}})

    def delivered() -> list[str] | None:
        endpoint.lambda_service.flush_logs()
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{table}", filterPattern='"seq"')["events"]
        except logs.exceptions.ResourceNotFoundException:  # no invocation yet
            return None
        seen = [json.loads(event["message"])["pk"] for event in events]
        return seen if len(seen) >= len(keys) else None

    assert eventually(delivered, timeout=15) == keys
