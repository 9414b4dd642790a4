"""The answer of ``GET /_streamlab/status``: mappings, functions and streams in one document.

What the control planes know (a mapping's state and last processing result, a function's
configuration, a stream's shards) comes from the Lambda service and the stream store; what
happened comes from the :class:`~.board.StatusBoard`; the messages waiting in a mapping's
on-failure queue are read from moto's SQS without receiving them (a ReceiveMessage would change
their receive count and visibility, which the user's own redrive relies on).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from streamlab.aws_rules import ACCOUNT_ID
from streamlab.emulator.observability.board import StatusBoard

if TYPE_CHECKING:
    from streamlab.emulator.awslambda.service import LambdaService
    from streamlab.emulator.streams import StreamStore

log = logging.getLogger(__name__)

#: Messages of an on-failure queue shown (the count is always complete).
DLQ_PREVIEW = 5


def queue_messages(queue_arn: str, preview: int = DLQ_PREVIEW) -> dict[str, Any] | None:
    """Count and first bodies of an SQS queue, read from moto without receiving them."""
    parts = queue_arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        return None
    try:
        from moto.sqs.models import sqs_backends
    except ImportError:
        return None
    region, account, name = parts[3], parts[4], parts[5]
    backends = dict.get(sqs_backends, account)
    backend = dict.get(backends, region) if backends is not None else None
    queue = backend.queues.get(name) if backend is not None else None
    if queue is None:
        return {"queueArn": queue_arn, "exists": False, "messages": 0, "preview": []}
    visible = queue.messages
    return {
        "queueArn": queue_arn,
        "exists": True,
        "messages": len(visible),
        "inFlight": queue.approximate_number_of_messages_not_visible,
        "preview": [{"messageId": m.id, "body": m.body[:4096]} for m in visible[:preview]],
    }


#: A mapping's IteratorAge right now, as its engine gauges it (0 once its shards are caught up).
AgeGauge = Callable[[str], float | None]


def status_document(
    lambda_service: LambdaService,
    streams: StreamStore | None,
    board: StatusBoard,
    current_age: AgeGauge | None = None,
) -> dict[str, Any]:
    mappings = []
    for mapping in lambda_service.event_source_mappings.list():
        destination = mapping.on_failure_destination
        mappings.append(
            {
                "UUID": mapping.uuid,
                "FunctionArn": mapping.function_arn,
                "FunctionName": mapping.function_arn.split(":")[6] if mapping.function_arn.count(":") >= 6 else "",
                "EventSourceArn": mapping.event_source_arn,
                "State": mapping.state,
                "LastProcessingResult": mapping.last_processing_result,
                "BatchSize": mapping.batch_size,
                "OnFailure": destination,
                "Dlq": queue_messages(destination) if destination else None,
                **board.mapping(mapping.uuid),
            }
        )
        # The board holds the last sample (taken at an invocation); a caught-up shard is not invoked.
        age = current_age(mapping.uuid) if current_age is not None else None
        if age is not None:
            mappings[-1]["iteratorAgeMs"] = age
    functions = []
    pool = lambda_service.environments
    for function in lambda_service.store.all():
        key = (function.region, function.name)
        functions.append(
            {
                "FunctionName": function.name,
                "Region": function.region,
                "Runtime": function.config.runtime,
                "WarmEnvironments": pool.idle_count(key),
                "BusyEnvironments": pool.busy(key),
                **board.function(function.region, function.name),
            }
        )
    return {
        "generatedAt": time.time(),
        "accountId": ACCOUNT_ID,
        "mappings": mappings,
        "functions": sorted(functions, key=lambda f: (f["Region"], f["FunctionName"])),
        "streams": streams.overview() if streams is not None else [],
        "logs": board.logs(),
    }
