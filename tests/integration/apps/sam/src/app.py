"""For each new order on the stream, send one message to the events queue with the greeting of the day."""

import json
import os

import boto3

_sqs = boto3.client("sqs")


def handler(event, context):
    for record in event["Records"]:
        if record["eventName"] != "INSERT":
            continue
        order_id = record["dynamodb"]["Keys"]["order_id"]["S"]
        body = {"order_id": order_id, "greeting": os.environ["GREETING"]}
        print(json.dumps(body))
        _sqs.send_message(QueueUrl=os.environ["EVENTS_QUEUE_URL"], MessageBody=json.dumps(body))
    return {"batchItemFailures": []}
