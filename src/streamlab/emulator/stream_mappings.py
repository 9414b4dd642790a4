"""Keeps the event source mapping engine in step with the Lambda control plane.

The control plane stores mappings (CreateEventSourceMapping and friends); the engine runs
them. This module is the only place that knows both: it turns each stored change into the
engine call that matches it, so neither side depends on the other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from streamlab.aws_rules import EventSourceKind
from streamlab.emulator.awslambda.event_source_mappings import EventSourceMappingStore, MappingChange, SourceCheck
from streamlab.emulator.awslambda.exceptions import InvalidParameterValueException
from streamlab.emulator.esm.config import MappingConfig
from streamlab.emulator.esm.engine import EventSourceMappingEngine
from streamlab.emulator.streams import StreamStore

log = logging.getLogger(__name__)

#: Event sources the engine polls; mappings for other sources are stored but not run.
SUPPORTED_SOURCES = tuple(str(kind) for kind in EventSourceKind)

#: ``role_of(function_arn)``: the function's execution role (Kinesis records carry it), or None.
RoleResolver = Callable[[str], "str | None"]


def stream_exists_check(streams: StreamStore) -> SourceCheck:
    """CreateEventSourceMapping on a DynamoDB stream the store does not have fails as on AWS:
    400 InvalidParameterValueException "Stream not found: <arn>" (LocalStack's AWS-validated
    test_esm_with_not_existing_dynamodb_stream, 2025-11-25)."""

    def check(stream_arn: str) -> None:
        if not streams.exists(stream_arn):
            raise InvalidParameterValueException(f"Stream not found: {stream_arn}")

    return check


class StreamMappingBridge:
    """Subscribes to ``store`` and starts, updates, stops or deletes the engine's workers."""

    def __init__(
        self,
        store: EventSourceMappingStore,
        engine: EventSourceMappingEngine,
        role_of: RoleResolver | None = None,
    ) -> None:
        self._engine = engine
        self._role_of = role_of
        self._warned_sources: set[str] = set()
        self._unsubscribe = store.subscribe(self.on_change)

    def on_change(self, change: MappingChange) -> None:
        mapping = change.mapping
        if mapping.kind not in SUPPORTED_SOURCES:
            if mapping.kind not in self._warned_sources:
                self._warned_sources.add(mapping.kind)
                log.warning("event source mappings from %s are stored but not polled by streamlab", mapping.kind)
            return
        if change.kind == "deleted":
            self._engine.delete_mapping(mapping.uuid)
        elif not mapping.enabled:
            self._engine.stop_mapping(mapping.uuid)
        else:
            config = MappingConfig.from_api(mapping.to_api(), invoke_identity_arn=self._role(mapping.function_arn))
            if not self._engine.update_mapping(config):
                self._engine.start_mapping(config)

    def _role(self, function_arn: str) -> str | None:
        if self._role_of is None:
            return None
        try:
            return self._role_of(function_arn)
        except Exception:  # the function went away meanwhile: the record says null, as it cannot know
            log.debug("no role for %s", function_arn, exc_info=True)
            return None

    def close(self) -> None:
        self._unsubscribe()
        self._engine.stop_all()
