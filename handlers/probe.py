"""A minimal DynamoDB Streams handler: one JSON log line per record, never a failure.

It proves the pipeline end to end (write -> stream -> mapping -> function) and shows which
records arrived in which order. The demo handlers will replace it.
"""

import json


def handler(event, context):
    for record in event.get("Records", []):
        dynamodb = record.get("dynamodb", {})
        print(json.dumps({
            "key": dynamodb.get("Keys"),
            "eventName": record.get("eventName"),
            "SequenceNumber": dynamodb.get("SequenceNumber"),
        }, sort_keys=True))
    return {"batchItemFailures": []}
