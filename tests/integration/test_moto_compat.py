"""streamlab's fixes to moto, checked through plain boto3 clients: what a table write puts on its
stream, and the answers of DynamoDB, PartiQL, SQS and SNS.

Each test names the AWS behaviour it checks. Run them against plain moto to see the defects:
``STREAMLAB_MOTO_COMPAT=0 pytest tests/integration/test_moto_compat.py``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.stream_support import Stream, make_stream


@pytest.fixture
def stream(streamlab_client: Callable[..., Any], streamlab_unique_name: Callable[[str], str]) -> Stream:
    return make_stream(streamlab_client, streamlab_unique_name("compat"))


# --- 1. UpdateItem that creates an item ----------------------------------------------------


def test_update_item_creating_an_item_writes_one_insert_with_the_whole_item(stream: Stream) -> None:
    """AWS: an UpdateItem that creates an item writes one INSERT whose NewImage is the new item."""
    stream.dynamodb.update_item(
        TableName=stream.table,
        Key={"pk": {"S": "a"}},
        UpdateExpression="SET v = :v, w = :w",
        ExpressionAttributeValues={":v": {"N": "1"}, ":w": {"S": "x"}},
    )

    records = stream.read_all()

    assert [r["eventName"] for r in records] == ["INSERT"]
    assert records[0]["dynamodb"]["NewImage"] == {"pk": {"S": "a"}, "v": {"N": "1"}, "w": {"S": "x"}}
    assert "OldImage" not in records[0]["dynamodb"]


def test_update_item_of_an_existing_item_writes_one_modify(stream: Stream) -> None:
    """AWS: an UpdateItem that changes an existing item writes one MODIFY with both images."""
    stream.put("a", v={"N": "1"})
    stream.set_v("a", "2")

    records = stream.read_all()

    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]
    assert records[1]["dynamodb"]["OldImage"] == {"pk": {"S": "a"}, "v": {"N": "1"}}
    assert records[1]["dynamodb"]["NewImage"] == {"pk": {"S": "a"}, "v": {"N": "2"}}


# --- 2. Writes that change nothing ------------------------------------------------------------


def test_identical_put_item_writes_no_record(stream: Stream) -> None:
    """AWS: a PutItem that leaves the item exactly as it was writes no stream record."""
    stream.put("a", v={"N": "1"}, tags={"SS": ["x", "y"]})
    stream.put("a", v={"N": "1"}, tags={"SS": ["y", "x"]})

    assert [r["eventName"] for r in stream.read_all()] == ["INSERT"]


def test_update_item_that_changes_nothing_writes_no_record(stream: Stream) -> None:
    """AWS: an UpdateItem that sets the values the item already has writes no stream record."""
    stream.put("a", v={"N": "1"})
    stream.set_v("a", "1")

    assert [r["eventName"] for r in stream.read_all()] == ["INSERT"]


def test_delete_item_of_a_missing_item_writes_no_record(stream: Stream) -> None:
    """AWS: deleting an item that does not exist changes nothing, so writes no stream record."""
    stream.dynamodb.delete_item(TableName=stream.table, Key={"pk": {"S": "never-written"}})
    stream.put("a")
    stream.dynamodb.delete_item(TableName=stream.table, Key={"pk": {"S": "a"}})
    stream.dynamodb.delete_item(TableName=stream.table, Key={"pk": {"S": "a"}})

    assert [r["eventName"] for r in stream.read_all()] == ["INSERT", "REMOVE"]


def test_transact_write_update_creating_an_item_writes_one_insert(stream: Stream) -> None:
    """AWS: one record per item change, whichever API made it; a TransactWriteItems Update that
    creates an item is one INSERT with the whole new item."""
    stream.dynamodb.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": stream.table,
                    "Key": {"pk": {"S": "a"}},
                    "UpdateExpression": "SET v = :v",
                    "ExpressionAttributeValues": {":v": {"N": "1"}},
                }
            }
        ]
    )

    records = stream.read_all()
    assert [r["eventName"] for r in records] == ["INSERT"]
    assert records[0]["dynamodb"]["NewImage"] == {"pk": {"S": "a"}, "v": {"N": "1"}}


def test_batch_write_of_an_identical_item_writes_no_record(stream: Stream) -> None:
    """AWS: a BatchWriteItem PutRequest that leaves the item as it was writes no stream record."""
    stream.put("a", v={"N": "1"})
    stream.dynamodb.batch_write_item(
        RequestItems={stream.table: [{"PutRequest": {"Item": {"pk": {"S": "a"}, "v": {"N": "1"}}}}]}
    )

    assert [r["eventName"] for r in stream.read_all()] == ["INSERT"]


def test_changing_put_item_still_writes_a_modify(stream: Stream) -> None:
    """AWS: a PutItem that replaces an item with a different one writes a MODIFY."""
    stream.put("a", v={"N": "1"})
    stream.put("a", v={"N": "2"})

    assert [r["eventName"] for r in stream.read_all()] == ["INSERT", "MODIFY"]


# --- 3. awsRegion -------------------------------------------------------------------------------


def test_records_carry_the_region_of_the_table(
    streamlab_client: Callable[..., Any], streamlab_unique_name: Callable[[str], str]
) -> None:
    """AWS: Record.awsRegion is the region of the stream (the table's region), here eu-west-1."""
    stream = make_stream(streamlab_client, streamlab_unique_name("compat-eu"), region="eu-west-1")
    stream.put("a")

    assert [r["awsRegion"] for r in stream.read_all()] == ["eu-west-1"]


def test_set_queue_attributes_keeps_the_policy_it_does_not_name(
    streamlab_client: Callable[..., Any], streamlab_unique_name: Callable[[str], str]
) -> None:
    """AWS SetQueueAttributes changes only the attributes in the request (moto dropped Policy)."""
    sqs = streamlab_client("sqs")
    statement = {"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage"}
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{**statement, "Resource": "*"}]})
    url = sqs.create_queue(QueueName=streamlab_unique_name("policy"), Attributes={"Policy": policy})["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "45"})
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "45"
    assert "sns.amazonaws.com" in attributes.get("Policy", "")


def test_fifo_messages_carry_increasing_sequence_numbers(
    streamlab_client: Callable[..., Any], streamlab_unique_name: Callable[[str], str]
) -> None:
    """AWS: every message of a FIFO queue has a SequenceNumber (SendMessage answers it, ReceiveMessage
    reports it), growing with each send; moto gave one only with an explicit deduplication id, at random."""
    sqs = streamlab_client("sqs")
    url = sqs.create_queue(
        QueueName=streamlab_unique_name("seq") + ".fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    sent = [sqs.send_message(QueueUrl=url, MessageBody=str(n), MessageGroupId="g")["SequenceNumber"] for n in range(3)]
    assert [int(n) for n in sent] == sorted(int(n) for n in sent)
    assert len(set(sent)) == 3
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert [m["Attributes"]["SequenceNumber"] for m in received] == sent


def test_kinesis_puts_and_reads_at_once_lose_nothing(
    streamlab_client: Callable[..., Any], streamlab_unique_name: Callable[[str], str]
) -> None:
    """AWS serves PutRecord and GetRecords on one shard concurrently; moto's unlocked shard failed a
    GetRecords with "OrderedDict mutated during iteration" and could give two puts one sequence number."""
    import threading

    kinesis = streamlab_client("kinesis")
    name = streamlab_unique_name("kds")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    shard = kinesis.list_shards(StreamName=name)["Shards"][0]["ShardId"]
    sequences: list[str] = []

    def writer(prefix: str) -> None:
        client = streamlab_client("kinesis")
        for n in range(60):
            sequences.append(
                client.put_record(StreamName=name, Data=f"{prefix}{n}".encode(), PartitionKey="k")["SequenceNumber"]
            )

    threads = [threading.Thread(target=writer, args=(p,)) for p in "ab"]
    for thread in threads:
        thread.start()
    iterator = kinesis.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    read: list[bytes] = []
    while any(thread.is_alive() for thread in threads) or len(read) < 120:
        page = kinesis.get_records(ShardIterator=iterator, Limit=1000)
        read.extend(record["Data"] for record in page["Records"])
        iterator = page["NextShardIterator"]
        if not page["Records"] and not any(thread.is_alive() for thread in threads) and len(read) < 120:
            break
    for thread in threads:
        thread.join()
    assert len(set(sequences)) == 120
    assert sorted(read) == sorted(f"{p}{n}".encode() for p in "ab" for n in range(60))
    kinesis.delete_stream(StreamName=name)


# --- PartiQL ----------------------------------------------------------------------------------


def test_partiql_update_with_number_literals_sets_numbers_and_writes_a_modify(stream: Stream) -> None:
    """AWS (LocalStack's AWS-validated test_dynamodb_batch_execute_statement and
    test_dynamodb_stream_records_with_update_item, 2025-10-08 / 2024-06-26): ``UPDATE t SET
    Age=20 WHERE Username='user02'`` sets ``{"N": "20"}``, and an UPDATE writes a MODIFY record
    (moto: InternalFailure, nothing changes)."""
    stream.dynamodb.execute_statement(Statement=f"INSERT INTO \"{stream.table}\" VALUE {{'pk': 'alice'}}")
    stream.dynamodb.execute_statement(Statement=f"UPDATE \"{stream.table}\" SET partiql=1 WHERE pk='alice'")
    stream.dynamodb.batch_execute_statement(
        Statements=[{"Statement": f"UPDATE \"{stream.table}\" SET Age=20, note='x = 3' WHERE pk='alice'"}]
    )

    item = stream.dynamodb.get_item(TableName=stream.table, Key={"pk": {"S": "alice"}})["Item"]
    assert item == {"pk": {"S": "alice"}, "partiql": {"N": "1"}, "Age": {"N": "20"}, "note": {"S": "x = 3"}}
    records = stream.read_all()
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "MODIFY"]
    assert records[1]["dynamodb"]["NewImage"]["partiql"] == {"N": "1"}


# CreateTable's and the write answers' shapes: the conformance scenarios of test_recorded_streams.py.


# --- SNS ----------------------------------------------------------------------------------------


def test_sns_notifications_are_signature_version_1_and_unsubscribe_their_subscription(
    streamlab_client: Callable[..., Any], streamlab_unique_name: Callable[[str], str], streamlab_in_process: bool
) -> None:
    """AWS (the SNS on-failure notification of LocalStack's AWS-validated
    test_dynamodb_event_source_mapping_with_sns_on_failure_destination_config, 2025-11-25):
    SignatureVersion "1" and an UnsubscribeURL naming the subscription; the signature verifies
    with SHA1 over AWS's string to sign (sns-verify-signature-of-message.html)."""
    sns, sqs = streamlab_client("sns", region="eu-west-1"), streamlab_client("sqs", region="eu-west-1")
    topic = sns.create_topic(Name=streamlab_unique_name("envelope"))["TopicArn"]
    url = sqs.create_queue(QueueName=streamlab_unique_name("envelope"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)["SubscriptionArn"]
    sns.publish(TopicArn=topic, Message="hello", Subject="greeting")

    [message] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    envelope = json.loads(message["Body"])
    assert envelope["SignatureVersion"] == "1"
    assert envelope["UnsubscribeURL"] == (
        f"https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription}"
    )
    if streamlab_in_process:  # the signing certificate lives in this process's moto
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.sns.models import sns_backends

        key_name = envelope["SigningCertURL"].rsplit("/", 1)[1]
        pem = sns_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"]._message_public_keys[key_name]
        signed = "".join(
            f"{name}\n{envelope[name]}\n"
            for name in ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
        )
        x509.load_pem_x509_certificate(pem).public_key().verify(
            base64.b64decode(envelope["Signature"]), signed.encode(), padding.PKCS1v15(), hashes.SHA1()
        )


def test_an_overwritten_item_is_freed(stream: Stream, streamlab_in_process: bool) -> None:
    """A table that holds one item holds one item's memory however often it is rewritten (moto
    registers every Item it creates in a class-level list, for good)."""
    if not streamlab_in_process:
        pytest.skip("counts this process's objects: needs the in-process embedded endpoint")
    import gc

    from moto.dynamodb.models.dynamo_type import Item

    for version in range(200):
        stream.put("rewritten", v={"N": str(version)})
    gc.collect()
    alive = [o for o in gc.get_objects() if isinstance(o, Item) and o.hash_key.value == "rewritten"]
    assert len(alive) == 1
