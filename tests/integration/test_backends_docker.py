"""The LocalStack backend for real: a container through Testcontainers, then a PutItem through boto3.

Needs a Docker engine (marker ``docker``); skipped with docker_available()'s reason otherwise.
The first run pulls localstack/localstack:4.14.0 (about 1 GB).
"""

from __future__ import annotations

import uuid

import boto3
import pytest

from streamlab.backends import backend_from_name, docker_available

pytestmark = pytest.mark.docker

DOCKER_OK, DOCKER_REASON = docker_available()


@pytest.mark.skipif(not DOCKER_OK, reason=f"needs Docker: {DOCKER_REASON}")
def test_localstack_backend_serves_dynamodb() -> None:
    backend = backend_from_name("localstack")
    with backend as url:
        assert url and url.startswith("http://")
        assert backend.url == url
        ddb = boto3.client("dynamodb", endpoint_url=url, region_name=backend.config.region,
                           aws_access_key_id="test", aws_secret_access_key="test")
        table = f"streamlab-{uuid.uuid4().hex[:8]}"
        ddb.create_table(TableName=table, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST",
                         StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
        ddb.get_waiter("table_exists").wait(TableName=table)
        ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "n": {"N": "1"}})
        assert ddb.get_item(TableName=table, Key={"pk": {"S": "a"}}, ConsistentRead=True)["Item"]["n"] == {"N": "1"}
    assert backend.url is None and backend.container is None
