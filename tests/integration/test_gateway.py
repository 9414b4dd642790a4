"""The gateway routes each service by its SigV4 scope, on one port, with keep-alive."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlparse

import boto3
import pytest
from botocore.exceptions import ClientError

from streamlab.emulator.endpoint import EmbeddedEndpoint
from streamlab.emulator.http_server import SERVER_KINDS
from streamlab.streams import create_stream_table, first_shard_id
from streamlab.testing import eventually


def test_health_names_every_service(streamlab_endpoint_url: str) -> None:
    with urllib.request.urlopen(f"{streamlab_endpoint_url}/_streamlab/health") as response:
        assert response.status == 200
        body = json.loads(response.read())
    assert body["status"] == "ready"
    for service in ("lambda", "dynamodb", "dynamodbstreams", "sqs", "sns", "s3", "logs", "iam", "sts"):
        assert service in body["services"]


def test_dynamodb_and_streams(streamlab_client, streamlab_unique_name) -> None:
    ddb = streamlab_client("dynamodb")
    table = streamlab_unique_name("gw")
    create_stream_table(ddb, table, "NEW_IMAGE")
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "n": {"N": "1"}})
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "a"}})["Item"]["n"] == {"N": "1"}

    streams = streamlab_client("dynamodbstreams")
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = first_shard_id(streams, arn)
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    assert [r["eventName"] for r in records] == ["INSERT"]
    assert records[0]["dynamodb"]["NewImage"]["pk"] == {"S": "a"}


def test_sqs_sns_fanout(streamlab_client, streamlab_unique_name) -> None:
    sqs, sns = streamlab_client("sqs"), streamlab_client("sns")
    queue_url = sqs.create_queue(QueueName=streamlab_unique_name("q"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic_arn = sns.create_topic(Name=streamlab_unique_name("t"))["TopicArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    sns.publish(TopicArn=topic_arn, Message="hello")
    messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2)["Messages"]
    assert messages[0]["Body"] == "hello"


def test_s3_round_trip(streamlab_client, streamlab_unique_name) -> None:
    s3 = streamlab_client("s3")
    bucket = streamlab_unique_name("bucket")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a/b.json", Body=b'{"x": 1}')
    assert s3.get_object(Bucket=bucket, Key="a/b.json")["Body"].read() == b'{"x": 1}'


def test_logs_iam_sts(streamlab_client, streamlab_unique_name) -> None:
    logs = streamlab_client("logs")
    group = f"/streamlab/{streamlab_unique_name('g')}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    logs.put_log_events(
        logGroupName=group, logStreamName="s", logEvents=[{"timestamp": int(time.time() * 1000), "message": "m"}]
    )
    assert [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]] == ["m"]

    iam = streamlab_client("iam")
    role = streamlab_unique_name("role")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    assert iam.get_role(RoleName=role)["Role"]["Arn"].endswith(f":role/{role}")

    assert streamlab_client("sts").get_caller_identity()["Account"].isdigit()


def test_lambda_is_served_by_streamlab(streamlab_client) -> None:
    response = streamlab_client("lambda").list_functions()
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert isinstance(response["Functions"], list)


def test_lambda_unknown_function_is_resource_not_found(streamlab_client) -> None:
    with pytest.raises(ClientError) as error:
        streamlab_client("lambda").get_function(FunctionName="streamlab-no-such-function")
    assert error.value.response["Error"]["Code"] in ("ResourceNotFoundException", "UnknownOperationException")


def test_region_comes_from_the_credential_scope(streamlab_client, streamlab_unique_name) -> None:
    sqs_eu = streamlab_client("sqs", region="eu-west-1")
    name = streamlab_unique_name("regional")
    sqs_eu.create_queue(QueueName=name)
    assert any(name in url for url in sqs_eu.list_queues(QueueNamePrefix=name).get("QueueUrls", []))
    assert not streamlab_client("sqs", region="us-west-2").list_queues(QueueNamePrefix=name).get("QueueUrls")


def test_connection_is_kept_alive(streamlab_endpoint_url: str) -> None:
    """HTTP/1.1 keep-alive: several requests share one TCP connection."""
    url = urlparse(streamlab_endpoint_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    sockets = set()
    for _ in range(3):
        connection.request("GET", "/_streamlab/health")
        response = connection.getresponse()
        assert response.status == 200
        response.read()
        assert response.version == 11
        sockets.add(id(connection.sock))
    connection.close()
    assert len(sockets) == 1


def test_unsigned_dynamodb_request_is_refused_like_aws(streamlab_endpoint_url: str) -> None:
    url = urlparse(streamlab_endpoint_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    connection.request("POST", "/", body=b"\x00\xffnot json", headers={"X-Amz-Target": "DynamoDB_20120810.PutItem"})
    response = connection.getresponse()
    body = json.loads(response.read())
    connection.close()
    assert response.status == 400
    assert body["__type"].endswith("#MissingAuthenticationTokenException")


def test_write_listeners_hear_successful_dynamodb_writes_only() -> None:
    heard: list[tuple[str, frozenset[str]]] = []
    with EmbeddedEndpoint(port=0) as endpoint:
        endpoint.gateway.add_write_listener(lambda operation, written: heard.append((operation, written)))
        ddb = boto3.client(
            "dynamodb",
            endpoint_url=endpoint.url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        table = "gw-listener"
        ddb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.put_item(TableName=table, Item={"pk": {"S": "a"}})
        ddb.get_item(TableName=table, Key={"pk": {"S": "a"}})
        with pytest.raises(ClientError):
            ddb.put_item(TableName="gw-no-such-table", Item={"pk": {"S": "a"}})
        ddb.delete_item(TableName=table, Key={"pk": {"S": "a"}})
        ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": {"pk": {"S": "b"}}}}]})
        arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
        ddb.transact_write_items(TransactItems=[{"Put": {"TableName": arn, "Item": {"pk": {"S": "c"}}}}])
        ddb.execute_statement(Statement=f"DELETE FROM \"{table}\" WHERE pk = 'c'")
        ddb.delete_table(TableName=table)
    # Each write names the tables it wrote (a mapping of another table need not poll); PartiQL names none.
    assert heard == [
        ("PutItem", {table}),
        ("DeleteItem", {table}),
        ("BatchWriteItem", {table}),
        ("TransactWriteItems", {table}),
        ("ExecuteStatement", frozenset()),
    ]


def test_concurrent_writers_all_land(streamlab_client, streamlab_unique_name) -> None:
    ddb = streamlab_client("dynamodb")
    table = streamlab_unique_name("conc")
    create_stream_table(ddb, table, "KEYS_ONLY")
    clients = [streamlab_client("dynamodb") for _ in range(4)]

    def write(index: int) -> None:
        for n in range(25):
            clients[index].put_item(TableName=table, Item={"pk": {"S": f"{index}-{n}"}})

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ddb.scan(TableName=table, Select="COUNT")["Count"] == 100
    streams = streamlab_client("dynamodbstreams")
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = first_shard_id(streams, arn)
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    records = streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
    sequence_numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert len(records) == 100
    assert sequence_numbers == sorted(sequence_numbers)
    assert len(set(sequence_numbers)) == 100


def test_empty_body_with_expect_continue_is_answered(streamlab_client, streamlab_unique_name) -> None:
    """boto3 sends ``put_object(Body=b"")`` with ``Expect: 100-continue`` and Content-Length 0;
    waitress 3.0 used to answer only the ``100 Continue`` and then hang the request."""
    from botocore.config import Config

    s3 = streamlab_client("s3", config=Config(read_timeout=5, retries={"total_max_attempts": 1}))
    bucket = streamlab_unique_name("empty-body")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="marker", Body=b"")
    assert s3.head_object(Bucket=bucket, Key="marker")["ContentLength"] == 0


def health_status(url: str) -> int:
    try:
        with urllib.request.urlopen(f"{url}/_streamlab/health", timeout=60) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def assert_expect_continue_gets_a_final_answer(host: str, port: int) -> None:
    """Send headers and a complete (empty) body in one packet with ``Expect: 100-continue``; read until 200 OK."""
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"GET /_streamlab/health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nExpect: 100-continue\r\n\r\n")
        received = b""
        while b"200 OK" not in received:
            chunk = sock.recv(4096)
            assert chunk, f"connection closed after {received!r}"
            received += chunk


def test_expect_continue_with_the_body_already_sent(streamlab_endpoint_url: str) -> None:
    """Headers and a complete body in one packet, with ``Expect: 100-continue``, get a final answer."""
    url = urlparse(streamlab_endpoint_url)
    assert_expect_continue_gets_a_final_answer(str(url.hostname), int(url.port or 80))


@pytest.mark.parametrize("server", SERVER_KINDS)
def test_each_server_answers_expect_continue_with_a_complete_body(server: str) -> None:
    """Every selectable server gives a final answer to ``Expect: 100-continue`` with the body sent."""
    with EmbeddedEndpoint(port=0, server=server) as endpoint:
        # The first health answer waits for the runtimes' interpreter search (seconds under load):
        # let it finish before the 5 s socket below times the protocol, not the search.
        eventually(lambda: health_status(endpoint.url) == 200, timeout=60, message="the endpoint's first health answer")
        assert_expect_continue_gets_a_final_answer(endpoint.host, endpoint.port)


def test_gzip_request_bodies_are_read_as_botocore_compresses_them(streamlab_endpoint_url: str) -> None:
    # botocore gzips PutMetricData bodies over 10 KB (request compression); here every body.
    from botocore.config import Config

    options = {"region_name": "us-east-1", "aws_access_key_id": "t", "aws_secret_access_key": "t"}
    cloudwatch = boto3.client("cloudwatch", endpoint_url=streamlab_endpoint_url,
                              config=Config(request_min_compression_size_bytes=1), **options)  # fmt: skip
    namespace = f"gzip-{time.monotonic_ns()}"
    data = [
        {"MetricName": "Depth", "Dimensions": [{"Name": "Queue", "Value": f"q{i}"}], "Value": i} for i in range(150)
    ]
    cloudwatch.put_metric_data(Namespace=namespace, MetricData=data)
    metrics = cloudwatch.get_paginator("list_metrics").paginate(Namespace=namespace).build_full_result()["Metrics"]
    assert len(metrics) == 150


def test_a_body_that_is_not_gzip_is_a_clear_error(streamlab_endpoint_url: str) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = urlparse(streamlab_endpoint_url)
    request = AWSRequest(method="POST", url=f"{streamlab_endpoint_url}/", data=b"not gzip at all", headers={
        "X-Amz-Target": "GraniteServiceVersion20100801.PutMetricData", "Content-Type": "application/x-amz-json-1.0",
        "Content-Encoding": "gzip"})  # fmt: skip
    SigV4Auth(Credentials("t", "t"), "monitoring", "us-east-1").add_auth(request)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    connection.request("POST", "/", body=b"not gzip at all", headers=dict(request.headers))
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert response.status == 400
    assert b"SerializationException" in body
    assert b"not valid gzip" in body


def test_a_write_streamed_to_kinesis_names_the_kinesis_stream_too() -> None:
    # The table's Kinesis streaming destination gets the change in-process: its mappings may read now.
    heard: list[frozenset[str]] = []
    with EmbeddedEndpoint(port=0) as endpoint:
        endpoint.gateway.add_write_listener(lambda operation, written: heard.append(written))
        options = {"endpoint_url": endpoint.url, "region_name": "us-east-1", "aws_access_key_id": "t",
                   "aws_secret_access_key": "t"}  # fmt: skip
        ddb, kinesis = boto3.client("dynamodb", **options), boto3.client("kinesis", **options)
        kinesis.create_stream(StreamName="changes", ShardCount=1)
        stream_arn = kinesis.describe_stream_summary(StreamName="changes")["StreamDescriptionSummary"]["StreamARN"]
        create_stream_table(ddb, "streamed", "NEW_IMAGE")
        ddb.enable_kinesis_streaming_destination(TableName="streamed", StreamArn=stream_arn)
        ddb.put_item(TableName="streamed", Item={"pk": {"S": "a"}})
        ddb.create_table(TableName="plain", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")  # fmt: skip
        ddb.put_item(TableName="plain", Item={"pk": {"S": "a"}})
        kinesis.put_record(StreamARN=stream_arn, Data=b"{}", PartitionKey="k")  # a Kinesis put names its stream
    assert heard[-3:] == [{"streamed", "changes"}, {"plain"}, {"changes"}]
