"""On-failure destinations: the record Lambda sends when it gives up on a batch.

Shape (services-dynamodb-errors.html; LocalStack's AWS-recorded snapshots for SQS, SNS, S3):

    {"requestContext": {"requestId", "functionArn", "condition", "approximateInvokeCount"},
     "responseContext": {"statusCode", "executedVersion": "$LATEST", "functionError"},
     "version": "1.0", "timestamp": "2022-07-13T13:48:01.000Z",
     "DDBStreamBatchInfo": {"shardId", "startSequenceNumber", "endSequenceNumber",
        "approximateArrivalOfFirstRecord": "2022-07-13T13:48:01Z", "approximateArrivalOfLastRecord",
        "batchSize", "streamArn"}}

SQS and SNS receive only this metadata (a consumer re-reads the records from the stream within
24 h); an S3 object also carries ``"payload": {"Records": [...]}``, the invocation's records.
The S3 object key follows the documented convention
``aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>``
(kinesis-on-failure-destination.html, which the DynamoDB page shares; the wording could not be
re-read in the docs corpus here, it is quoted from LocalStack's source docstring).
A record that was never invoked (age exceeded before the first call) reports
approximateInvokeCount 0 and a null statusCode (UNVERIFIED: AWS's exact values are unknown).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from streamlab.emulator.endpoint_clients import EndpointClients
from streamlab.emulator.esm.arns import (
    EndpointURL,
    arn_account,
    arn_region,
    arn_resource,
    arn_service,
    resolve_endpoint,
)
from streamlab.emulator.esm.records import StreamRecord, event_payload
from streamlab.errors import StreamlabError


def iso_millis(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_seconds(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_epoch_millis(epoch: float) -> str:
    return iso_millis(dt.datetime.fromtimestamp(epoch, dt.UTC))


def batch_info(record: dict[str, Any]) -> dict[str, Any]:
    """The record's ``DDBStreamBatchInfo`` or ``KinesisBatchInfo``."""
    for key, value in record.items():
        if key.endswith("BatchInfo") and isinstance(value, dict):
            return value
    raise KeyError("no batch info in the on-failure record")


def failure_record(
    *,
    function_arn: str,
    stream_arn: str,
    shard_id: str,
    records: list[StreamRecord],
    condition: str,
    invoke_count: int,
    status_code: int | None,
    function_error: str | None,
    now: dt.datetime | None = None,
    request_id: str | None = None,
    batch_info_key: str = "DDBStreamBatchInfo",
    arrival_millis: bool = False,
) -> dict[str, Any]:
    """The on-failure invocation record, without payload (SQS / SNS shape).

    ``batch_info_key`` is ``KinesisBatchInfo`` for a Kinesis stream, whose arrival times carry
    milliseconds (kinesis-on-failure-destination.html: "2019-11-14T00:38:04.835Z").
    """
    moment = now or dt.datetime.now(dt.UTC)
    arrival = iso_epoch_millis if arrival_millis else iso_seconds
    return {
        "requestContext": {
            "requestId": request_id or str(uuid.uuid4()),
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "responseContext": {
            "statusCode": status_code,
            "executedVersion": "$LATEST",
            "functionError": function_error,
        },
        "version": "1.0",
        "timestamp": iso_millis(moment),
        batch_info_key: {
            "shardId": shard_id,
            "startSequenceNumber": records[0].sequence_number,
            "endSequenceNumber": records[-1].sequence_number,
            "approximateArrivalOfFirstRecord": arrival(records[0].arrival),
            "approximateArrivalOfLastRecord": arrival(records[-1].arrival),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
    }


def s3_object_key(mapping_uuid: str, shard_id: str, moment: dt.datetime) -> str:
    moment = moment.astimezone(dt.UTC)
    return f"aws/lambda/{mapping_uuid}/{shard_id}/{moment:%Y/%m/%d}/{moment:%Y-%m-%dT%H.%M.%S}-{uuid.uuid4()}"


class DestinationError(StreamlabError, RuntimeError):
    """An on-failure record could not be sent."""


class FailureDestination(Protocol):
    def send(
        self, destination_arn: str, record: dict[str, Any], records: list[StreamRecord], mapping_uuid: str
    ) -> None: ...


class Boto3FailureDestination:
    """Sends on-failure records with boto3 clients aimed at the endpoint (SQS, SNS or S3 by ARN)."""

    def __init__(
        self,
        endpoint_url: EndpointURL,
        default_region: str = "us-east-1",
        client_factory: Callable[..., Any] | None = None,
    ) -> None:
        self._default_region = default_region
        self._clients = EndpointClients(lambda: _required(resolve_endpoint(endpoint_url)), factory=client_factory)

    def _client(self, service: str, region: str) -> Any:
        return self._clients.get(service, region)

    def send(
        self, destination_arn: str, record: dict[str, Any], records: list[StreamRecord], mapping_uuid: str
    ) -> None:
        service = arn_service(destination_arn)
        region = arn_region(destination_arn, self._default_region)
        body = json.dumps(record)
        if service == "sqs":
            sqs = self._client("sqs", region)
            queue_url = sqs.get_queue_url(
                QueueName=arn_resource(destination_arn), QueueOwnerAWSAccountId=arn_account(destination_arn)
            )["QueueUrl"]
            sqs.send_message(QueueUrl=queue_url, MessageBody=body)
        elif service == "sns":
            self._client("sns", region).publish(TopicArn=destination_arn, Message=body)
        elif service == "s3":
            moment = dt.datetime.now(dt.UTC)
            with_payload = dict(record, payload=event_payload(records))
            key = s3_object_key(mapping_uuid, batch_info(record)["shardId"], moment)
            self._client("s3", self._default_region).put_object(
                Bucket=arn_resource(destination_arn),
                Key=key,
                Body=json.dumps(with_payload).encode(),
                ContentType="application/json",
            )
        else:
            raise ValueError(f"unsupported on-failure destination {destination_arn}")


def _required(endpoint_url: str | None) -> str:
    """On-failure records go to the endpoint's own queues, topics and buckets: it needs a URL."""
    if endpoint_url is None:
        raise DestinationError("on-failure destinations need the endpoint's URL; none is configured")
    return endpoint_url
