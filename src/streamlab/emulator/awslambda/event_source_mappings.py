"""Event source mapping records: validation, the AWS response shape, and a store that
tells subscribers about every change.

The polling engine subscribes with :meth:`EventSourceMappingStore.subscribe` and receives a
:class:`MappingChange` after each create, update and delete (outside the store's lock, so it may
call back into the store), and reports progress with
:meth:`EventSourceMappingStore.set_last_processing_result`.

Ranges follow shared/reference/esm-semantics.md. Messages and states are AWS's where
LocalStack's AWS-validated snapshots record them (test_lambda_api.snapshot.json,
test_lambda_integration_dynamodbstreams.snapshot.json, test_lambda_integration_sqs.snapshot.json,
validated 2025-11-25 to 2025-12-18): "Unrecognized event source.", "Function does not exist",
"Stream not found: <arn>", "Unsupported DestinationConfig parameter for given event source
mapping type.", the ResourceConflictException text, the Disabling / Enabling states of an
update, and no FilterCriteria in the answer when it has no filters. The wording of the other
messages is ours.
"""

from __future__ import annotations

import copy
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from streamlab.aws_rules import (
    ACCOUNT_ID,
    DEFAULT_BATCH_SIZE,
    INVALID_FILTER_MESSAGE,
    RECORD_AGE_RANGE,
    SQS_MAX_BATCH_WITHOUT_WINDOW,
    STREAM_PARAMETER_RANGES,
    STREAM_STARTING_POSITIONS,
    TRANSIENT_MAPPING_STATES,
    FunctionResponseType,
    MappingState,
    ProcessingResult,
)
from streamlab.emulator.awslambda.exceptions import (
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceInUseException,
    ResourceNotFoundException,
    ValidationException,
)
from streamlab.emulator.esm.filtering import InvalidFilterCriteria, validate_filter_criteria

ChangeKind = Literal["created", "updated", "deleted"]


#: Parameters only stream sources (DynamoDB, Kinesis) accept.
_STREAM_ONLY = (
    "StartingPosition",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "ParallelizationFactor",
    "TumblingWindowInSeconds",
    "DestinationConfig",
)

#: Request members stored as given and echoed back (not interpreted by the control plane).
_PASSTHROUGH = (
    "SourceAccessConfigurations",
    "Queues",
    "Topics",
    "ScalingConfig",
    "MetricsConfig",
    "LoggingConfig",
    "KMSKeyArn",
    "ProvisionedPollerConfig",
    "SelfManagedEventSource",
    "AmazonManagedKafkaEventSourceConfig",
    "SelfManagedKafkaEventSourceConfig",
    "DocumentDBEventSourceConfig",
)


def source_kind(event_source_arn: str) -> str:
    """``dynamodb`` / ``kinesis`` / ``sqs`` / other service name, from the ARN."""
    parts = event_source_arn.split(":")
    return parts[2] if len(parts) > 2 else ""


@dataclass
class EventSourceMapping:
    """One mapping with every parameter, already validated and defaulted."""

    uuid: str
    region: str
    event_source_arn: str
    function_arn: str
    enabled: bool = True
    state: str = MappingState.CREATING
    #: AWS reports "User action" for stream sources and "USER_INITIATED" for queues.
    state_transition_reason: str = "User action"
    last_modified: float = field(default_factory=time.time)
    last_processing_result: str = ProcessingResult.NO_RECORDS
    batch_size: int = 100
    maximum_batching_window_in_seconds: int = 0
    starting_position: str | None = None
    starting_position_timestamp: float | None = None
    parallelization_factor: int = 1
    maximum_record_age_in_seconds: int = -1
    maximum_retry_attempts: int = -1
    bisect_batch_on_function_error: bool = False
    tumbling_window_in_seconds: int = 0
    function_response_types: list[str] = field(default_factory=list)
    filter_criteria: dict[str, Any] | None = None
    destination_config: dict[str, Any] = field(default_factory=lambda: {"OnFailure": {}})
    tags: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return source_kind(self.event_source_arn)

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:event-source-mapping:{self.uuid}"

    @property
    def on_failure_destination(self) -> str | None:
        return (self.destination_config.get("OnFailure") or {}).get("Destination")

    def to_api(self) -> dict[str, Any]:
        """The EventSourceMappingConfiguration shape AWS returns."""
        body: dict[str, Any] = {
            "UUID": self.uuid,
            "BatchSize": self.batch_size,
            "MaximumBatchingWindowInSeconds": self.maximum_batching_window_in_seconds,
            "EventSourceArn": self.event_source_arn,
            "FunctionArn": self.function_arn,
            "LastModified": self.last_modified,
            "State": self.state,
            "StateTransitionReason": self.state_transition_reason,
            "FunctionResponseTypes": list(self.function_response_types),
            "EventSourceMappingArn": self.arn,
        }
        if self.kind in STREAM_STARTING_POSITIONS:
            body.update(
                {
                    "StartingPosition": self.starting_position,
                    "ParallelizationFactor": self.parallelization_factor,
                    "LastProcessingResult": self.last_processing_result,
                    "DestinationConfig": copy.deepcopy(self.destination_config),
                    "MaximumRecordAgeInSeconds": self.maximum_record_age_in_seconds,
                    "BisectBatchOnFunctionError": self.bisect_batch_on_function_error,
                    "MaximumRetryAttempts": self.maximum_retry_attempts,
                    "TumblingWindowInSeconds": self.tumbling_window_in_seconds,
                }
            )
            if self.starting_position_timestamp is not None:
                body["StartingPositionTimestamp"] = self.starting_position_timestamp
        if self.filter_criteria is not None:
            body["FilterCriteria"] = copy.deepcopy(self.filter_criteria)
        body.update(copy.deepcopy(self.extra))
        return body


@dataclass(frozen=True)
class MappingChange:
    """What a subscriber receives: the kind of change and a copy of the mapping after it."""

    kind: ChangeKind
    mapping: EventSourceMapping


MappingListener = Callable[[MappingChange], None]
#: ``check(event_source_arn)``: raises the LambdaError AWS answers when the source does not exist.
SourceCheck = Callable[[str], None]
#: Gives the function's ARN, or raises ResourceNotFoundException when there is no such function.
FunctionResolver = Callable[[], str]

UNSUPPORTED_DESTINATION = "Unsupported DestinationConfig parameter for given event source mapping type."


#: The API model's own bounds (botocore's lambda model): AWS rejects a value outside them with
#: ValidationException before Lambda's checks run (LocalStack's AWS-recorded snapshots).
_MODEL_RANGES: dict[str, tuple[int, int]] = {
    **STREAM_PARAMETER_RANGES,
    "MaximumRecordAgeInSeconds": (-1, RECORD_AGE_RANGE[1]),
}
_MODEL_STARTING_POSITIONS = "[LATEST, AT_TIMESTAMP, TRIM_HORIZON]"


def _model_error(name: str, value: Any, rule: str) -> ValidationException:
    shown = "null" if value is None else f"'{value}'"
    member = name[0].lower() + name[1:]
    return ValidationException(
        f"1 validation error detected: Value {shown} at '{member}' failed to satisfy constraint: {rule}"
    )


def _check_range(name: str, value: Any, low: int, high: int) -> int:
    """Model bounds -> ValidationException (AWS's wording); narrower service bounds ->
    InvalidParameterValueException."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameterValueException(f"{name} must be an integer.")
    model_low, model_high = _MODEL_RANGES.get(name, (low, high))
    if value < model_low:
        raise _model_error(name, value, f"Member must have value greater than or equal to {model_low}")
    if value > model_high:
        raise _model_error(name, value, f"Member must have value less than or equal to {model_high}")
    if not low <= value <= high:
        raise InvalidParameterValueException(f"{name} must be between {low} and {high} inclusive; got {value}.")
    return value


def _apply_parameters(mapping: EventSourceMapping, request: dict[str, Any], creating: bool) -> None:
    """Validate the request's parameters and write them onto ``mapping``."""
    kind = mapping.kind
    is_stream = kind in STREAM_STARTING_POSITIONS
    if not is_stream:
        for name in _STREAM_ONLY:
            if name in request and request[name] is not None:
                raise InvalidParameterValueException(
                    f"Unsupported {name} parameter for this event source ({kind or 'unknown'})."
                )
    if creating and is_stream:
        _apply_starting_position(mapping, request)
    _apply_ranges(mapping, request)
    _apply_settings(mapping, request, creating)


def _apply_starting_position(mapping: EventSourceMapping, request: dict[str, Any]) -> None:
    position = request.get("StartingPosition")
    if not position:
        # AWS words it as a model error but answers InvalidParameterValueException (snapshot no_starting_position).
        raise InvalidParameterValueException(str(_model_error("StartingPosition", None, "Member must not be null.")))
    if position not in ("LATEST", "AT_TIMESTAMP", "TRIM_HORIZON"):
        raise _model_error(
            "StartingPosition", position, f"Member must satisfy enum value set: {_MODEL_STARTING_POSITIONS}"
        )
    if position not in STREAM_STARTING_POSITIONS[mapping.kind]:
        raise InvalidParameterValueException(f"Unsupported starting position for arn type: {mapping.event_source_arn}")
    mapping.starting_position = position
    if position == "AT_TIMESTAMP":
        if request.get("StartingPositionTimestamp") is None:
            raise InvalidParameterValueException("StartingPositionTimestamp is required with AT_TIMESTAMP.")
        mapping.starting_position_timestamp = float(request["StartingPositionTimestamp"])


def _apply_ranges(mapping: EventSourceMapping, request: dict[str, Any]) -> None:
    for name, (low, high) in STREAM_PARAMETER_RANGES.items():
        if request.get(name) is not None:
            if name == "BatchSize" and mapping.kind == "sqs":
                window = request.get("MaximumBatchingWindowInSeconds") or mapping.maximum_batching_window_in_seconds
                high = STREAM_PARAMETER_RANGES["BatchSize"][1] if window else SQS_MAX_BATCH_WITHOUT_WINDOW
            setattr(mapping, _snake(name), _check_range(name, request[name], low, high))
    if request.get("MaximumRecordAgeInSeconds") is not None:
        age = request["MaximumRecordAgeInSeconds"]
        _check_range("MaximumRecordAgeInSeconds", age, -1, RECORD_AGE_RANGE[1])
        if age != -1 and age < RECORD_AGE_RANGE[0]:
            raise InvalidParameterValueException(
                "MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 (inclusive)"
            )
        mapping.maximum_record_age_in_seconds = age


def _apply_settings(mapping: EventSourceMapping, request: dict[str, Any], creating: bool) -> None:
    if request.get("BisectBatchOnFunctionError") is not None:
        mapping.bisect_batch_on_function_error = bool(request["BisectBatchOnFunctionError"])
    if request.get("Enabled") is not None:
        mapping.enabled = bool(request["Enabled"])
    if request.get("FunctionResponseTypes") is not None:
        types = list(request["FunctionResponseTypes"])
        unknown = [t for t in types if t not in tuple(FunctionResponseType)]
        if unknown:
            raise InvalidParameterValueException(
                f"Unsupported FunctionResponseTypes {unknown}; "
                f"expected a subset of {[str(t) for t in FunctionResponseType]}."
            )
        mapping.function_response_types = types
    if request.get("FilterCriteria") is not None:
        mapping.filter_criteria = _validated_filters(request["FilterCriteria"])
    if request.get("DestinationConfig") is not None:
        mapping.destination_config = _validated_destination(request["DestinationConfig"])
    if request.get("Tags") is not None and creating:
        mapping.tags = dict(request["Tags"])
    for name in _PASSTHROUGH:
        if request.get(name) is not None:
            mapping.extra[name] = copy.deepcopy(request[name])


def _validated_filters(criteria: Any) -> dict[str, Any] | None:
    """FilterCriteria as AWS accepts it (filtering.validate_filter_criteria is the one check).

    None when it holds no filters: AWS then leaves FilterCriteria out of its answers (LocalStack's
    AWS-validated test_create_event_filter_criteria_validation, 2025-12-18).
    """
    if not isinstance(criteria, dict):
        raise InvalidParameterValueException(INVALID_FILTER_MESSAGE)
    try:
        validate_filter_criteria(criteria)
    except InvalidFilterCriteria as error:
        raise InvalidParameterValueException(error.message) from None
    if not criteria.get("Filters"):
        return None
    return copy.deepcopy(criteria)


def _validated_destination(config: Any) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise InvalidParameterValueException("DestinationConfig must be an object.")
    on_failure = config.get("OnFailure") or {}
    destination = on_failure.get("Destination")
    if destination:
        service = source_kind(destination)
        if not destination.startswith("arn:") or service not in ("sqs", "sns", "s3"):
            raise InvalidParameterValueException(
                "The provided destination config DestinationConfig(onSuccess=null, "
                f"onFailure=OnFailure(destination={destination})) "
                "is invalid: "
                "only SQS queue, SNS topic or S3 bucket ARNs are supported as on-failure destinations."
            )
    return {"OnFailure": dict(on_failure)}


def _snake(name: str) -> str:
    return "".join(("_" + c.lower()) if c.isupper() else c for c in name).lstrip("_")


class EventSourceMappingStore:
    """All mappings by UUID, plus the subscribers the polling engine registers.

    ``settle_delay`` mimics AWS's asynchronous state changes (Creating -> Enabled,
    Updating -> Enabled/Disabled, Deleting -> gone).
    """

    def __init__(self, settle_delay: float = 0.05, source_checks: dict[str, SourceCheck] | None = None) -> None:
        self._lock = threading.RLock()
        #: Per source kind (``dynamodb`` ...), how to tell that an event source exists.
        self.source_checks: dict[str, SourceCheck] = dict(source_checks or {})
        self._mappings: dict[str, EventSourceMapping] = {}
        self._listeners: list[MappingListener] = []
        self.settle_delay = settle_delay
        self._timers: set[threading.Timer] = set()

    # -- subscription -------------------------------------------------------------------
    def subscribe(self, listener: MappingListener) -> Callable[[], None]:
        """Call ``listener(change)`` after every create/update/delete; returns an unsubscribe."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def _notify(self, kind: ChangeKind, mapping: EventSourceMapping) -> None:
        change = MappingChange(kind, copy.deepcopy(mapping))
        for listener in list(self._listeners):
            listener(change)

    # -- reads --------------------------------------------------------------------------
    def get(self, mapping_uuid: str) -> EventSourceMapping:
        """A copy of the mapping; ResourceNotFoundException when there is none."""
        with self._lock:
            mapping = self._mappings.get(mapping_uuid)
            if mapping is None:
                raise ResourceNotFoundException("The resource you requested does not exist.")
            return copy.deepcopy(mapping)

    def list(self, event_source_arn: str | None = None, function_arn: str | None = None) -> list[EventSourceMapping]:
        """Copies of the mappings, oldest first, optionally filtered."""
        with self._lock:
            mappings = sorted(self._mappings.values(), key=lambda m: m.last_modified)
            return [
                copy.deepcopy(m)
                for m in mappings
                if (event_source_arn is None or m.event_source_arn == event_source_arn)
                and (function_arn is None or _same_function(m.function_arn, function_arn))
            ]

    # -- writes (the control plane) -----------------------------------------------------
    def create(self, region: str, function: str | FunctionResolver, request: dict[str, Any]) -> EventSourceMapping:
        """CreateEventSourceMapping, checked in AWS's order: destinations, the source, the
        parameters, the function, then whether the source exists and the pair is new."""
        if "OnSuccess" in (request.get("DestinationConfig") or {}):
            raise InvalidParameterValueException(UNSUPPORTED_DESTINATION)
        source_arn = request.get("EventSourceArn")
        if not source_arn:
            raise InvalidParameterValueException("Unrecognized event source.")
        if not isinstance(source_arn, str) or not source_arn.startswith("arn:"):
            raise InvalidParameterValueException(f"Invalid EventSourceArn: {source_arn}")
        kind = source_kind(source_arn)
        mapping = EventSourceMapping(
            uuid=str(uuid.uuid4()),
            region=region,
            event_source_arn=source_arn,
            function_arn="",
            batch_size=DEFAULT_BATCH_SIZE.get(kind, 100),
            destination_config={"OnFailure": {}},
            state_transition_reason=_user_reason(kind),
        )
        _apply_parameters(mapping, request, creating=True)
        try:
            function_arn = function() if callable(function) else function
        except ResourceNotFoundException:
            raise InvalidParameterValueException("Function does not exist") from None
        mapping.function_arn = function_arn
        check = self.source_checks.get(kind)
        if check is not None:
            check(source_arn)
        with self._lock:
            for existing in self._mappings.values():
                if existing.event_source_arn == source_arn and _same_function(existing.function_arn, function_arn):
                    raise ResourceConflictException(
                        f'The event source arn (" {source_arn} ") and function (" {function_arn.split(":")[6]} ") '
                        "provided mapping already exists. "
                        f"Please update or delete the existing mapping with UUID {existing.uuid}"
                    )
            self._mappings[mapping.uuid] = mapping
            created = copy.deepcopy(mapping)
        self._notify("created", mapping)
        self._schedule_settle(mapping.uuid)
        return created

    def update(self, mapping_uuid: str, request: dict[str, Any], function_arn: str | None = None) -> EventSourceMapping:
        with self._lock:
            current = self._mappings.get(mapping_uuid)
            if current is None:
                raise ResourceNotFoundException("The resource you requested does not exist.")
            if current.state in _BUSY_STATES:
                raise ResourceInUseException(
                    f"Cannot update the event source mapping because it is in use (state {current.state})."
                )
            if "OnSuccess" in (request.get("DestinationConfig") or {}):
                raise InvalidParameterValueException(UNSUPPORTED_DESTINATION)
            updated = copy.deepcopy(current)
            _apply_parameters(updated, request, creating=False)
            if function_arn is not None:
                updated.function_arn = function_arn
            updated.state = _update_state(current.enabled, updated.enabled)
            updated.state_transition_reason = _user_reason(updated.kind)
            updated.last_modified = time.time()
            self._mappings[mapping_uuid] = updated
            result = copy.deepcopy(updated)
        self._notify("updated", updated)
        self._schedule_settle(mapping_uuid)
        return result

    def delete(self, mapping_uuid: str) -> EventSourceMapping:
        with self._lock:
            current = self._mappings.get(mapping_uuid)
            if current is None:
                raise ResourceNotFoundException("The resource you requested does not exist.")
            current.state = MappingState.DELETING
            current.state_transition_reason = _user_reason(current.kind)
            result = copy.deepcopy(current)
        self._notify("deleted", current)
        self._schedule_settle(mapping_uuid)
        return result

    def set_tags(self, mapping_uuid: str, tags: dict[str, str]) -> None:
        """TagResource / UntagResource on the mapping's ARN (tags change nothing the engine runs)."""
        with self._lock:
            mapping = self._mappings.get(mapping_uuid)
            if mapping is None:
                raise ResourceNotFoundException("The resource you requested does not exist.")
            mapping.tags = dict(tags)

    # -- writes (the polling engine) ----------------------------------------------------
    def set_last_processing_result(self, mapping_uuid: str, result: str) -> None:
        """``"OK"``, ``"PROBLEM: Function call failed"`` … as the engine observes them."""
        with self._lock:
            mapping = self._mappings.get(mapping_uuid)
            if mapping is not None:
                mapping.last_processing_result = result

    # -- settling -----------------------------------------------------------------------
    def _schedule_settle(self, mapping_uuid: str) -> None:
        if self.settle_delay <= 0:
            self._settle(mapping_uuid)
            return
        timer = threading.Timer(self.settle_delay, self._settle, args=(mapping_uuid,))
        timer.daemon = True
        with self._lock:
            self._timers.add(timer)
        timer.start()

    def _settle(self, mapping_uuid: str) -> None:
        with self._lock:
            self._timers = {t for t in self._timers if t.is_alive() and t is not threading.current_thread()}
            mapping = self._mappings.get(mapping_uuid)
            if mapping is None:
                return
            if mapping.state == MappingState.DELETING:
                del self._mappings[mapping_uuid]
            elif mapping.state in TRANSIENT_MAPPING_STATES:
                mapping.state = MappingState.ENABLED if mapping.enabled else MappingState.DISABLED

    def close(self) -> None:
        with self._lock:
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()


#: States in which UpdateEventSourceMapping answers ResourceInUseException.
_BUSY_STATES = frozenset(
    {MappingState.CREATING, MappingState.UPDATING, MappingState.ENABLING, MappingState.DISABLING, MappingState.DELETING}
)


def _update_state(was_enabled: bool, enabled: bool) -> MappingState:
    """The State an UpdateEventSourceMapping answers: Disabling / Enabling when it switches the
    mapping off or on (LocalStack's AWS-validated test_disabled_dynamodb_event_source_mapping and
    test_lambda_integration_sqs snapshots, 2025-11-25), Updating otherwise."""
    if was_enabled and not enabled:
        return MappingState.DISABLING
    if enabled and not was_enabled:
        return MappingState.ENABLING
    return MappingState.UPDATING


def _user_reason(kind: str) -> str:
    return "User action" if kind in STREAM_STARTING_POSITIONS else "USER_INITIATED"


def _same_function(a: str, b: str) -> bool:
    """ARNs name the same function when they agree up to the name (qualifiers aside)."""
    return a.split(":")[:7] == b.split(":")[:7]
