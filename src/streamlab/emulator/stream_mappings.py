"""Keeps the event source mapping engine in step with the Lambda control plane.

The control plane stores mappings (CreateEventSourceMapping and friends); the engine runs
them. This module is the only place that knows both: it turns each stored change into the
engine call that matches it, so neither side depends on the other.
"""

from __future__ import annotations

import logging

from streamlab.emulator.awslambda.event_source_mappings import EventSourceMappingStore, MappingChange
from streamlab.emulator.esm.config import MappingConfig
from streamlab.emulator.esm.engine import EventSourceMappingEngine

log = logging.getLogger(__name__)

#: Event sources the engine polls; mappings for other sources are stored but not run.
SUPPORTED_SOURCES = ("dynamodb",)


class StreamMappingBridge:
    """Subscribes to ``store`` and starts, updates, stops or deletes the engine's workers."""

    def __init__(self, store: EventSourceMappingStore, engine: EventSourceMappingEngine) -> None:
        self._engine = engine
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
            config = MappingConfig.from_api(mapping.to_api())
            if not self._engine.update_mapping(config):
                self._engine.start_mapping(config)

    def close(self) -> None:
        self._unsubscribe()
        self._engine.stop_all()
