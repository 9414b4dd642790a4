"""streamlab's own stream controls on the endpoint: ``POST /_streamlab/streams/split``.

Request ``{"TableName": "Orders", "Region": "us-east-1", "Children": 2}`` (Region defaults to
us-east-1; Children is 2 for a split, 1 for a rollover, default 2). Answer 200
``{"TableName", "Region", "StreamArn", "ClosedShards": [ids], "OpenedShards": [{"ShardId",
"ParentShardId"}]}``; 400 for a malformed request, 404 for a table without an enabled stream,
405 for another method. Errors are ``{"error": <code>, "message": <text>}``.
"""

from __future__ import annotations

import json
from typing import Any

from streamlab.aws_rules import DEFAULT_REGION, is_region_name
from streamlab.emulator.streams.errors import LimitExceeded, ResourceNotFound
from streamlab.emulator.streams.store import StreamStore

SPLIT_PATH = "/_streamlab/streams/split"


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": code, "message": message}


def split(store: StreamStore, method: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """Handle one request to :data:`SPLIT_PATH`: ``(HTTP status, JSON answer)``."""
    if method != "POST":
        return _error(405, "MethodNotAllowed", f"{SPLIT_PATH} takes POST, not {method}")
    try:
        request = json.loads(body or b"{}")
    except ValueError as error:
        return _error(400, "ValidationException", f"the body is not JSON: {error}")
    if not isinstance(request, dict):
        return _error(400, "ValidationException", "the body must be a JSON object")
    table = request.get("TableName")
    region = request.get("Region") or DEFAULT_REGION
    children = request.get("Children", 2)
    if not isinstance(table, str) or not table:
        return _error(400, "ValidationException", "TableName is required")
    if not is_region_name(region):
        return _error(400, "ValidationException", f"Region must be a region name such as us-east-1, not {region!r}")
    if children not in (1, 2) or isinstance(children, bool):
        return _error(400, "ValidationException", "Children must be 1 (a rollover) or 2 (a split)")
    try:
        result = store.reshard(region, table, children)
    except ResourceNotFound:
        return _error(404, "ResourceNotFoundException", f"no table {table} with an enabled stream in {region}")
    except LimitExceeded as error:
        return _error(400, "LimitExceededException", error.message)
    return 200, {
        "TableName": table,
        "Region": region,
        "StreamArn": result.stream_arn,
        "ClosedShards": result.closed,
        "OpenedShards": [
            {"ShardId": shard.shard_id, "ParentShardId": shard.parent_shard_id} for shard in result.opened
        ],
    }
