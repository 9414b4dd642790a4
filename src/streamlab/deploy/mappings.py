"""Event source mappings from a table's stream to a function, every parameter managed.

A mapping is identified by (function, stream): Lambda allows one per pair. Its stream ARN is
the table's ``LatestStreamArn``; when a stream is replaced (view type changed) the mapping on
the old stream is deleted and a new one created, since EventSourceArn cannot be updated.
``StartingPosition`` only applies when a mapping is created, so a changed value is reported
and otherwise ignored rather than silently re-reading the stream.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from streamlab.aws_rules import TRANSIENT_MAPPING_STATES, MappingState
from streamlab.deploy.report import Change, DeployError
from streamlab.deploy.target import Target, error_code
from streamlab.stack import EventSourceMapping

SETTLE_SECONDS = 300.0
ROLE_PROPAGATION_SECONDS = 90.0
_OFF_STATES = (MappingState.DISABLED, MappingState.DISABLING)


def desired_parameters(mapping: EventSourceMapping, destination_arn: str | None) -> dict[str, Any]:
    """UpdateEventSourceMapping parameters (the ones that are not identity or starting position)."""
    return {
        "Enabled": mapping.enabled,
        "BatchSize": mapping.batch_size,
        "MaximumBatchingWindowInSeconds": mapping.maximum_batching_window_in_seconds,
        "BisectBatchOnFunctionError": mapping.bisect_batch_on_function_error,
        "MaximumRetryAttempts": mapping.maximum_retry_attempts,
        "MaximumRecordAgeInSeconds": mapping.maximum_record_age_in_seconds,
        "ParallelizationFactor": mapping.parallelization_factor,
        "TumblingWindowInSeconds": mapping.tumbling_window_in_seconds,
        "FunctionResponseTypes": list(mapping.function_response_types),
        "FilterCriteria": {"Filters": [{"Pattern": p} for p in mapping.filters]},
        "DestinationConfig": {"OnFailure": {"Destination": destination_arn} if destination_arn else {}},
    }


def create_parameters(mapping: EventSourceMapping, destination_arn: str | None) -> dict[str, Any]:
    """CreateEventSourceMapping parameters; empty optional settings are left out, as AWS's own defaults."""
    params = desired_parameters(mapping, destination_arn)
    if not mapping.function_response_types:
        del params["FunctionResponseTypes"]
    if not mapping.filters:
        del params["FilterCriteria"]
    if not destination_arn:
        del params["DestinationConfig"]
    if not mapping.tumbling_window_in_seconds:
        del params["TumblingWindowInSeconds"]
    params["StartingPosition"] = mapping.starting_position
    return params


def apply_mapping(
    target: Target,
    mapping: EventSourceMapping,
    function_name: str,
    stream_arn: str,
    table_arn: str,
    destination_arn: str | None,
    log: Callable[[str], None] = print,
) -> Change:
    """Create, update or re-create the mapping of ``stream_arn`` to ``function_name``."""
    client = target.client("lambda")
    existing: list[dict[str, Any]] = []
    for page in client.get_paginator("list_event_source_mappings").paginate(FunctionName=function_name):
        existing += page.get("EventSourceMappings", [])
    current = next((m for m in existing if m.get("EventSourceArn") == stream_arn), None)
    stale = [
        m
        for m in existing
        if m.get("EventSourceArn", "").startswith(f"{table_arn}/stream/") and m.get("EventSourceArn") != stream_arn
    ]
    for old in stale:
        _wait_settled(client, old)
        client.delete_event_source_mapping(UUID=old["UUID"])

    if current is None:
        _create(
            target,
            client,
            EventSourceArn=stream_arn,
            FunctionName=function_name,
            **create_parameters(mapping, destination_arn),
        )
        replaced: tuple[str, ...] = ("stream replaced",) if stale else ()
        return Change("mapping", mapping.label, "updated" if stale else "created", replaced)

    desired = desired_parameters(mapping, destination_arn)
    changed = {k: v for k, v in desired.items() if not _same(k, current, v)}
    if current.get("StartingPosition") not in (None, mapping.starting_position):
        log(
            f"note: mapping {mapping.label} was created with starting_position {current['StartingPosition']}; "
            "it only applies when a mapping is created (delete the mapping to re-read the stream)"
        )
    if changed:
        _wait_settled(client, current)
        client.update_event_source_mapping(UUID=current["UUID"], **changed)
    details = tuple(_snake(k) for k in changed)
    return Change("mapping", mapping.label, "updated" if changed else "unchanged", details)


def _create(target: Target, client: Any, **params: Any) -> None:
    """CreateEventSourceMapping; on AWS, retried while a fresh role's policy is not yet visible to Lambda
    (it checks the role can read the stream and reach the destination, and IAM is eventually consistent)."""
    deadline = time.monotonic() + (ROLE_PROPAGATION_SECONDS if target.backend == "aws" else 0.0)
    while True:
        try:
            client.create_event_source_mapping(**params)
            return
        except ClientError as exc:
            message = str(exc.response.get("Error", {}).get("Message", "")).lower()
            retry = error_code(exc) == "InvalidParameterValueException" and "role" in message
            if not retry or time.monotonic() > deadline:
                raise
            time.sleep(3)


def _same(key: str, current: dict[str, Any], wanted: Any) -> bool:
    defaults: dict[str, Any] = {
        "BatchSize": 100,
        "MaximumBatchingWindowInSeconds": 0,
        "BisectBatchOnFunctionError": False,
        "MaximumRetryAttempts": -1,
        "MaximumRecordAgeInSeconds": -1,
        "ParallelizationFactor": 1,
        "TumblingWindowInSeconds": 0,
    }
    if key == "Enabled":
        return bool((current.get("State", MappingState.ENABLED) not in _OFF_STATES) == wanted)
    if key == "FunctionResponseTypes":
        return sorted(current.get("FunctionResponseTypes") or []) == sorted(wanted)
    if key == "FilterCriteria":
        have = [f.get("Pattern", "") for f in ((current.get("FilterCriteria") or {}).get("Filters") or [])]
        return _patterns(have) == _patterns([f["Pattern"] for f in wanted["Filters"]])
    if key == "DestinationConfig":
        destination = ((current.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        return bool((destination or None) == (wanted["OnFailure"].get("Destination") or None))
    value = current.get(key)
    return bool((defaults[key] if value is None else value) == wanted)


def _patterns(patterns: list[str]) -> list[str]:
    normal = []
    for pattern in patterns:
        try:
            normal.append(json.dumps(json.loads(pattern), sort_keys=True))
        except ValueError:
            normal.append(pattern)
    return sorted(normal)


def _wait_settled(client: Any, mapping: dict[str, Any]) -> None:
    """Lambda refuses to update or delete a mapping while it is Creating/Updating/... (ResourceInUse)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    state = mapping.get("State")
    while state in TRANSIENT_MAPPING_STATES:
        if time.monotonic() > deadline:
            raise DeployError(f"event source mapping {mapping['UUID']} stayed {state} for {SETTLE_SECONDS:.0f} s")
        time.sleep(1)
        state = client.get_event_source_mapping(UUID=mapping["UUID"]).get("State")


def _snake(key: str) -> str:
    names = {"DestinationConfig": "on_failure", "FilterCriteria": "filters", "Enabled": "enabled"}
    if key in names:
        return names[key]
    out = "".join(f"_{c.lower()}" if c.isupper() else c for c in key).lstrip("_")
    return out
