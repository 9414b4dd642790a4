"""Record-level idempotency: one DynamoDB item per stream record, keyed on its ``eventID``.

The mapping is at-least-once: a record is delivered again after a failed batch (partial batch
response, bisect, a retry), and ``streamlab redrive`` re-invokes records on purpose. A record
whose side effect already happened must not do it twice, so the handlers wrap the per-record
work in Powertools' ``idempotent_function`` keyed on ``eventID`` (unique per stream record).

A record whose processing raised leaves no idempotency item (Powertools deletes it), so a
retry or a redrive processes it again; only completed records are remembered.
"""

from __future__ import annotations

import os

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

#: Stream records live 24 h, so a duplicate can arrive up to 24 h after the first delivery;
#: an hour of margin covers a redrive that starts just before a record leaves the stream.
RECORD_RETENTION_SECONDS = 25 * 60 * 60


def persistence_layer() -> DynamoDBPersistenceLayer:
    """The idempotency table the stack declares (``IDEMPOTENCY_TABLE``; key ``id``, TTL ``expiration``)."""
    return DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"])


def record_config() -> IdempotencyConfig:
    """Key on the record's eventID; a record without one is a bug, not something to process twice."""
    return IdempotencyConfig(
        event_key_jmespath="eventID",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=RECORD_RETENTION_SECONDS,
    )
