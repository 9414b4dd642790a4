"""The parameters of one event source mapping (DynamoDB Streams, Kinesis, SQS), as the engine consumes them.

The Lambda control plane validates the API ranges (services-ddb-params.html) and stores
its own model; it adapts that model into :class:`MappingConfig` (see :meth:`MappingConfig.from_api`)
before calling :class:`~streamlab.emulator.esm.engine.EventSourceMappingEngine`. The engine
itself accepts fractional seconds and a record age below AWS's 60 s minimum so tests can
run the real semantics on a short clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from streamlab.aws_rules import (
    DEFAULT_BATCH_SIZE,
    SQS_MAXIMUM_CONCURRENCY_RANGE,
    STREAM_PARAMETER_RANGES,
    STREAM_STARTING_POSITIONS,
    EventSourceKind,
    FunctionResponseType,
)
from streamlab.emulator.esm.arns import arn_account, arn_region, arn_service
from streamlab.emulator.esm.filtering import validate_filter_criteria


@dataclass(frozen=True)
class MappingConfig:
    """One enabled mapping. Field defaults are AWS's CreateEventSourceMapping defaults.

    ``function_name`` is what the engine passes to the injected ``invoke`` callable (a
    name, an ARN or a qualified ARN: whatever the Lambda service resolves);
    ``function_arn`` is what on-failure records report (derived from the name when absent).
    """

    uuid: str
    function_name: str
    event_source_arn: str
    starting_position: str = "TRIM_HORIZON"
    function_arn: str | None = None
    batch_size: int = 100
    maximum_batching_window_in_seconds: float = 0
    maximum_retry_attempts: int = -1
    maximum_record_age_in_seconds: float = -1
    parallelization_factor: int = 1
    bisect_batch_on_function_error: bool = False
    tumbling_window_in_seconds: float | None = None
    function_response_types: tuple[str, ...] = ()
    filter_criteria: dict[str, Any] | None = None
    destination_config: dict[str, Any] | None = None
    #: AT_TIMESTAMP's StartingPositionTimestamp (epoch seconds; Kinesis only)
    starting_position_timestamp: float | None = None
    #: the function's execution role: Kinesis records carry it as invokeIdentityArn
    invoke_identity_arn: str | None = None
    #: SQS ScalingConfig.MaximumConcurrency (None: the engine's default)
    maximum_concurrency: int | None = None

    def __post_init__(self) -> None:
        kind = self.source_kind
        if kind == EventSourceKind.SQS:
            if self.maximum_concurrency is not None:
                low, high = SQS_MAXIMUM_CONCURRENCY_RANGE
                if not low <= self.maximum_concurrency <= high:
                    raise ValueError(f"MaximumConcurrency must be between {low} and {high}")
        elif self.starting_position not in STREAM_STARTING_POSITIONS[kind]:
            raise ValueError(f"Unsupported StartingPosition {self.starting_position!r} for {kind}")
        if self.starting_position == "AT_TIMESTAMP" and self.starting_position_timestamp is None:
            raise ValueError("AT_TIMESTAMP needs starting_position_timestamp")
        _check_range("BatchSize", self.batch_size)
        _check_range("ParallelizationFactor", self.parallelization_factor)
        _check_range("MaximumBatchingWindowInSeconds", self.maximum_batching_window_in_seconds)
        if self.tumbling_window_in_seconds is not None:
            _check_range("TumblingWindowInSeconds", self.tumbling_window_in_seconds)
        object.__setattr__(self, "function_response_types", tuple(self.function_response_types))
        validate_filter_criteria(self.filter_criteria)

    # -- derived -------------------------------------------------------------------------
    @property
    def source_kind(self) -> EventSourceKind:
        """DynamoDB Streams, Kinesis or SQS, from the ARN (anything else reads as DynamoDB)."""
        service = arn_service(self.event_source_arn)
        if service == "kinesis":
            return EventSourceKind.KINESIS
        if service == "sqs":
            return EventSourceKind.SQS
        return EventSourceKind.DYNAMODB

    @property
    def region(self) -> str:
        return arn_region(self.event_source_arn)

    @property
    def resolved_function_arn(self) -> str:
        if self.function_arn:
            return self.function_arn
        if self.function_name.startswith("arn:"):
            return self.function_name
        return f"arn:aws:lambda:{self.region}:{arn_account(self.event_source_arn)}:function:{self.function_name}"

    @property
    def reports_batch_item_failures(self) -> bool:
        return FunctionResponseType.REPORT_BATCH_ITEM_FAILURES in self.function_response_types

    @property
    def tumbling_window(self) -> float:
        """Window length in seconds; 0 means no tumbling window (the API's own meaning of 0)."""
        return float(self.tumbling_window_in_seconds or 0)

    @property
    def on_failure_destination(self) -> str | None:
        return ((self.destination_config or {}).get("OnFailure") or {}).get("Destination") or None

    def with_changes(self, **changes: Any) -> MappingConfig:
        return replace(self, **changes)

    @classmethod
    def from_api(
        cls, body: dict[str, Any], *, function_name: str | None = None, invoke_identity_arn: str | None = None
    ) -> MappingConfig:
        """Build from an AWS-shaped EventSourceMappingConfiguration (GetEventSourceMapping's answer)."""
        function_arn = body.get("FunctionArn")
        service = arn_service(body["EventSourceArn"])
        timestamp = body.get("StartingPositionTimestamp")
        if isinstance(timestamp, dt.datetime):
            timestamp = timestamp.timestamp()
        return cls(
            uuid=body["UUID"],
            function_name=function_name or function_arn or body["FunctionName"],
            function_arn=function_arn,
            event_source_arn=body["EventSourceArn"],
            starting_position=body.get("StartingPosition") or "TRIM_HORIZON",
            batch_size=body.get("BatchSize") or DEFAULT_BATCH_SIZE.get(service, 100),
            maximum_batching_window_in_seconds=body.get("MaximumBatchingWindowInSeconds") or 0,
            maximum_retry_attempts=_default(body.get("MaximumRetryAttempts"), -1),
            maximum_record_age_in_seconds=_default(body.get("MaximumRecordAgeInSeconds"), -1),
            parallelization_factor=body.get("ParallelizationFactor") or 1,
            bisect_batch_on_function_error=bool(body.get("BisectBatchOnFunctionError")),
            tumbling_window_in_seconds=body.get("TumblingWindowInSeconds") or None,
            function_response_types=tuple(body.get("FunctionResponseTypes") or ()),
            filter_criteria=body.get("FilterCriteria"),
            destination_config=body.get("DestinationConfig"),
            starting_position_timestamp=float(timestamp) if timestamp is not None else None,
            invoke_identity_arn=invoke_identity_arn,
            maximum_concurrency=(body.get("ScalingConfig") or {}).get("MaximumConcurrency"),
        )


def _default(value: Any, default: Any) -> Any:
    return default if value is None else value


def _check_range(name: str, value: float) -> None:
    """AWS's inclusive bounds; the engine itself also takes fractions of a second (tests)."""
    low, high = STREAM_PARAMETER_RANGES[name]
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}")
