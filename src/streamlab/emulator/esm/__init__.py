"""The event source mapping engine for DynamoDB Streams -> Lambda (see :mod:`.engine`)."""

from streamlab.emulator.esm.config import MappingConfig
from streamlab.emulator.esm.engine import EventSourceMappingEngine
from streamlab.emulator.esm.filtering import InvalidFilterCriteria, RecordFilter, validate_filter_criteria
from streamlab.emulator.esm.invoker import InvokeResult
from streamlab.emulator.esm.worker import MappingMetrics

__all__ = [
    "EventSourceMappingEngine",
    "InvalidFilterCriteria",
    "InvokeResult",
    "MappingConfig",
    "MappingMetrics",
    "RecordFilter",
    "validate_filter_criteria",
]
