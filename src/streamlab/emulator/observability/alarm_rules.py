"""How a metric alarm decides its state from its datapoints, and how AWS words the decision.

Pure functions, no moto: :func:`decide` takes the statistic of each of the alarm's last
EvaluationPeriods periods (None where no datapoint arrived) and answers the new state and its
reason. The wording follows AWS's answers recorded by LocalStack (tests/aws/services/cloudwatch/
test_cloudwatch.snapshot.json, test_put_metric_alarm recorded 2023-10-26 and
test_breaching_alarm_actions recorded 2023-09-12): ``Threshold Crossed: 1 datapoint [21.5
(26/10/23 16:42:00)] was greater than the threshold (2.0).`` and ``Threshold Crossed: no
datapoints were received for 2 periods and 2 missing datapoints were treated as [Breaching].``
Several periods use the longer form AWS sends (``2 out of the last 3 datapoints [...] were ...
(minimum 2 datapoints for OK -> ALARM transition).``); the OK and INSUFFICIENT_DATA wordings with
datapoints are not in a recording.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from streamlab.aws_rules import AlarmState, ComparisonOperator, TreatMissingData


@dataclass(frozen=True)
class AlarmRule:
    comparison: ComparisonOperator
    threshold: float
    evaluation_periods: int
    datapoints_to_alarm: int | None = None
    treat_missing: TreatMissingData = TreatMissingData.MISSING

    @property
    def needed(self) -> int:
        return self.datapoints_to_alarm or self.evaluation_periods


@dataclass(frozen=True)
class Point:
    """One evaluated period: its start and its statistic (None: no datapoint arrived)."""

    start: dt.datetime
    value: float | None
    sample_count: float = 0.0


@dataclass(frozen=True)
class Decision:
    state: AlarmState
    reason: str


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _number(value: float) -> str:
    return repr(float(value))


def _listed(points: Sequence[Point]) -> str:
    """``[21.5 (26/10/23 16:42:00), ...]``, newest first as AWS lists them."""
    shown = [f"{_number(p.value)} ({p.start:%d/%m/%y %H:%M:%S})" for p in reversed(points) if p.value is not None]
    return "[" + ", ".join(shown) + "]"


def decide(rule: AlarmRule, points: Sequence[Point], current: AlarmState) -> Decision | None:
    """The state the alarm should be in; None when it stays as it is without a new reason."""
    present = [p for p in points if p.value is not None]
    missing = len(points) - len(present)
    breaching = [p for p in present if p.value is not None and rule.comparison.breaches(p.value, rule.threshold)]
    missing_breach = missing if rule.treat_missing == TreatMissingData.BREACHING else 0
    threshold = f"the threshold ({_number(rule.threshold)})"
    if len(breaching) + missing_breach >= rule.needed:
        if not present:
            return Decision(AlarmState.ALARM, _missing_reason(missing, "Breaching"))
        return Decision(AlarmState.ALARM, _crossed(rule, breaching, len(points), threshold, crossed=True))
    if not present:
        if rule.treat_missing == TreatMissingData.NOT_BREACHING:
            return Decision(AlarmState.OK, _missing_reason(missing, "NonBreaching"))
        if rule.treat_missing == TreatMissingData.IGNORE:
            return None
        if rule.treat_missing == TreatMissingData.BREACHING:  # fewer missing than needed
            return Decision(AlarmState.OK, _missing_reason(missing, "Breaching"))
        return Decision(
            AlarmState.INSUFFICIENT_DATA,
            f"Insufficient Data: {_plural(missing, 'datapoint')} {'was' if missing == 1 else 'were'} unknown.",
        )
    return Decision(AlarmState.OK, _crossed(rule, present, len(points), threshold, crossed=False))


def _missing_reason(missing: int, treated: str) -> str:
    return (
        f"Threshold Crossed: no datapoints were received for {_plural(missing, 'period')} and "
        f"{_plural(missing, 'missing datapoint')} {'was' if missing == 1 else 'were'} treated as [{treated}]."
    )


def _crossed(rule: AlarmRule, points: Sequence[Point], out_of: int, threshold: str, *, crossed: bool) -> str:
    words = rule.comparison.words if crossed else f"not {rule.comparison.words}"
    verb = "was" if len(points) == 1 else "were"
    if rule.evaluation_periods == 1 and rule.datapoints_to_alarm in (None, 1):
        return f"Threshold Crossed: {_plural(len(points), 'datapoint')} {_listed(points)} {verb} {words} {threshold}."
    return (
        f"Threshold Crossed: {len(points)} out of the last {out_of} datapoints {_listed(points)} {verb} "
        f"{words} {threshold} (minimum {_plural(rule.needed, 'datapoint')} for OK -> ALARM transition)."
    )
