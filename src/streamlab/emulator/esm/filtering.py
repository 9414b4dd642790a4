"""FilterCriteria -> a predicate over the record as Lambda delivers it.

Lambda event filtering (invocation-eventfiltering.html, with-ddb-filtering.html):

- up to 5 filters (a quota AWS can raise to 10), OR'ed: a record is delivered when any matches;
- each ``Pattern`` is an EventBridge-style JSON pattern, matched against the *delivered* record,
  so DynamoDB values keep their type descriptor (``{"NewImage": {"status": {"S": ["PAID"]}}}``;
  omitting ``"S"`` matches nothing) and numeric operators only apply to JSON numbers such as
  ``ApproximateCreationDateTime`` (``N`` attributes are strings);
- a record that matches no filter is dropped but still checkpointed (the batcher does that).

Matching is moto's EventBridge pattern engine (``moto.events.models.EventPattern``: exact,
prefix, suffix, anything-but, numeric, exists, equals-ignore-case, wildcard, cidr, ``$or``).
moto only checks a pattern's skeleton (objects and non-empty arrays) and treats an unknown
operator as "matches"; :func:`validate_filter_criteria` adds the operator checks so a bad
pattern is refused at CreateEventSourceMapping time, as AWS does, with AWS's message
"Invalid filter pattern definition." (LocalStack snapshot ``test_dynamodb_invalid_event_filter``).
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Mapping
from typing import Any

from moto.events.exceptions import InvalidEventPatternException
from moto.events.models import EventPattern

from streamlab.aws_rules import INVALID_FILTER_MESSAGE, MAX_FILTERS
from streamlab.errors import StreamlabError

_NUMERIC_OPERATORS = ("<", "<=", "=", ">=", ">")
_STRING_OPERATORS = ("prefix", "suffix", "equals-ignore-case", "wildcard")


class InvalidFilterCriteria(StreamlabError, ValueError):
    """A FilterCriteria AWS would refuse; the control plane answers InvalidParameterValueException."""

    def __init__(self, message: str = INVALID_FILTER_MESSAGE, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, bool)) or _is_number(value)


def _check_string_operand(name: str, operand: Any, allow_ignore_case: bool) -> None:
    if isinstance(operand, str):
        return
    if (
        allow_ignore_case
        and isinstance(operand, Mapping)
        and set(operand) == {"equals-ignore-case"}
        and isinstance(operand["equals-ignore-case"], str)
    ):
        return
    raise InvalidFilterCriteria(detail=f"{name} needs a string")


def _check_numeric(operand: Any) -> None:
    if not isinstance(operand, list) or len(operand) not in (2, 4):
        raise InvalidFilterCriteria(detail="numeric needs [op, value] or [op, value, op, value]")
    operators, values = operand[::2], operand[1::2]
    if any(op not in _NUMERIC_OPERATORS for op in operators) or not all(_is_number(v) for v in values):
        raise InvalidFilterCriteria(detail="numeric operators are <, <=, =, >=, > followed by numbers")
    if len(operand) == 4:
        low_op, low, high_op, high = operand
        if low_op not in (">", ">=") or high_op not in ("<", "<=") or not low < high:
            raise InvalidFilterCriteria(detail="a numeric range is [>|>=, low, <|<=, high] with low < high")


def _check_anything_but(operand: Any) -> None:
    if isinstance(operand, (str,)) or _is_number(operand):
        return
    if isinstance(operand, list):
        if operand and (all(isinstance(v, str) for v in operand) or all(_is_number(v) for v in operand)):
            return
        raise InvalidFilterCriteria(detail="anything-but needs a non-empty list of strings or of numbers")
    if isinstance(operand, Mapping) and len(operand) == 1:
        ((name, inner),) = operand.items()
        if name in _STRING_OPERATORS:
            values = inner if isinstance(inner, list) else [inner]
            if values and all(isinstance(v, str) for v in values):
                return
    raise InvalidFilterCriteria(detail="invalid anything-but operand")


def _check_operator(rule: Mapping[str, Any]) -> None:
    if len(rule) != 1:
        raise InvalidFilterCriteria(detail="an operator object has exactly one key")
    ((name, operand),) = rule.items()
    if name in ("prefix", "suffix"):
        _check_string_operand(name, operand, allow_ignore_case=True)
    elif name in ("equals-ignore-case", "wildcard", "cidr"):
        _check_string_operand(name, operand, allow_ignore_case=False)
    elif name == "exists":
        if not isinstance(operand, bool):
            raise InvalidFilterCriteria(detail="exists needs true or false")
    elif name == "numeric":
        _check_numeric(operand)
    elif name == "anything-but":
        _check_anything_but(operand)
    else:
        raise InvalidFilterCriteria(detail=f"unknown operator {name!r}")


def _check_pattern_node(node: Any) -> None:
    if not isinstance(node, Mapping):
        raise InvalidFilterCriteria(detail="a pattern is a JSON object")
    for key, value in node.items():
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise InvalidFilterCriteria(detail="$or needs a list of at least two patterns")
            for alternative in value:
                _check_pattern_node(alternative)
        elif isinstance(value, Mapping):
            _check_pattern_node(value)
        elif isinstance(value, list):
            if not value:
                raise InvalidFilterCriteria(detail=f"empty list for {key!r}")
            for rule in value:
                if isinstance(rule, Mapping):
                    _check_operator(rule)
                elif not _is_scalar(rule):
                    raise InvalidFilterCriteria(detail=f"{key!r} lists values or operator objects")
        else:
            raise InvalidFilterCriteria(detail=f"{key!r} must be an object or an array")


def _patterns(criteria: Mapping[str, Any] | None, max_filters: int) -> list[str]:
    if criteria is None:
        return []
    if not isinstance(criteria, Mapping):
        raise InvalidFilterCriteria(detail="FilterCriteria is an object")
    filters = criteria.get("Filters")
    if filters is None:
        return []
    if not isinstance(filters, list):
        raise InvalidFilterCriteria(detail="Filters is a list")
    if len(filters) > max_filters:
        raise InvalidFilterCriteria(
            f"The number of filters ({len(filters)}) exceeds the limit of {max_filters} filters "
            "per event source mapping."
        )
    patterns = []
    for item in filters:
        pattern = item.get("Pattern") if isinstance(item, Mapping) else None
        if isinstance(pattern, Mapping):  # tolerate an already-parsed pattern
            pattern = json.dumps(pattern)
        if not isinstance(pattern, str):
            raise InvalidFilterCriteria(detail="each filter has a Pattern string")
        patterns.append(pattern)
    return patterns


def validate_filter_criteria(criteria: Mapping[str, Any] | None, max_filters: int = MAX_FILTERS) -> None:
    """Raise :class:`InvalidFilterCriteria` for anything AWS would refuse."""
    for pattern in _patterns(criteria, max_filters):
        try:
            parsed = json.loads(pattern)
        except ValueError as error:
            raise InvalidFilterCriteria(detail=f"invalid JSON: {error}") from None
        _check_pattern_node(parsed)
        try:
            EventPattern.load(pattern)
        except InvalidEventPatternException as error:
            raise InvalidFilterCriteria(detail=str(error)) from None


class RecordFilter:
    """The OR of a mapping's filters. ``RecordFilter.from_criteria(None)`` is ``None``: deliver all."""

    def __init__(self, patterns: list[EventPattern]) -> None:
        self._patterns = patterns

    @classmethod
    def from_criteria(cls, criteria: Mapping[str, Any] | None, max_filters: int = MAX_FILTERS) -> RecordFilter | None:
        validate_filter_criteria(criteria, max_filters)
        patterns = [EventPattern.load(p) for p in _patterns(criteria, max_filters)]
        return cls(patterns) if patterns else None

    def matches(self, event_record: Mapping[str, Any]) -> bool:
        record: Any = dict(
            event_record
        )  # moto types the event as EventBridge's shape; a record is matched the same way
        return any(pattern.matches_event(record) for pattern in self._patterns)
