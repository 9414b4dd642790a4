"""Metric alarms that change state and notify, as CloudWatch's do.

moto stores PutMetricAlarm's alarms but never evaluates them: their state changes only on
SetAlarmState, and no action is ever taken. :class:`AlarmEvaluator` evaluates every static-threshold
metric alarm of the endpoint's CloudWatch each time :meth:`~AlarmEvaluator.evaluate` runs (the
endpoint does so every second): it computes the alarm's Statistic over its last EvaluationPeriods
periods of Period seconds (only datapoints with exactly the alarm's dimensions, as CloudWatch
matches them), decides with :func:`.alarm_rules.decide`, records a change through moto's
SetAlarmState (so DescribeAlarms and DescribeAlarmHistory show it) and, when ActionsEnabled,
publishes the alarm message to each SNS topic of AlarmActions / OKActions /
InsufficientDataActions.

The message has the shape AWS sends (LocalStack's test_cloudwatch.snapshot.json, test_put_metric_alarm
``alarm-triggered-sqs-msg``, recorded 2023-10-26): AWSAccountId, AlarmActions, AlarmArn,
AlarmConfigurationUpdatedTimestamp, AlarmDescription, AlarmName, InsufficientDataActions,
NewStateReason, NewStateValue, OKActions, OldStateValue, Region (the long name), StateChangeTime
and Trigger {ComparisonOperator, Dimensions [{name, value}], EvaluateLowSampleCountPercentile,
EvaluationPeriods, MetricName, Namespace, Period, Statistic (upper case), StatisticType, Threshold,
TreatMissingData, Unit}. The Subject (``ALARM: "name" in US East (N. Virginia)``) is what AWS's
notifications show; it is not in the recording.

Not evaluated (left as moto keeps them): metric-math alarms (Metrics), ExtendedStatistic
(percentiles), anomaly-detection thresholds and composite alarms.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

from streamlab.aws_rules import ACCOUNT_ID, REGION_LONG_NAMES, AlarmState, ComparisonOperator, TreatMissingData
from streamlab.emulator.observability.alarm_rules import AlarmRule, Decision, Point, decide

log = logging.getLogger(__name__)

#: publish(region, topic_arn, subject, message)
Publish = Callable[[str, str, str, str], None]
STATISTICS = ("Average", "Sum", "Minimum", "Maximum", "SampleCount")


def _aws_time(moment: dt.datetime) -> str:
    """``2023-10-26T16:42:30.123+0000``, the alarm message's timestamp format."""
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _statistic(datums: list[Any], statistic: str) -> tuple[float, float]:
    """(value, sample count) of moto's datums (single values and statistic sets alike)."""
    count = total = 0.0
    low, high = float("inf"), float("-inf")
    for datum in datums:
        if hasattr(datum, "sample_count"):
            count += float(datum.sample_count)
            total += float(datum.sum)
            low, high = min(low, float(datum.min)), max(high, float(datum.max))
        else:
            count += 1
            total += float(datum.value)
            low, high = min(low, float(datum.value)), max(high, float(datum.value))
    value = {
        "Average": total / count if count else 0.0,
        "Sum": total,
        "Minimum": low,
        "Maximum": high,
        "SampleCount": count,
    }[statistic]
    return value, count


def _same_dimensions(datum: Any, wanted: set[tuple[str, str]]) -> bool:
    return {(d.name, d.value) for d in datum.dimensions} == wanted


class AlarmEvaluator:
    """Evaluates moto's metric alarms (every account and region that has any)."""

    def __init__(self, publish: Publish, clock: Callable[[], dt.datetime] | None = None) -> None:
        self._publish = publish
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))

    def evaluate(self) -> int:
        """One pass over every alarm; returns how many changed state."""
        changed = 0
        now = self._clock()
        for region, backend, alarm in self._alarms():
            try:
                if self._evaluate_one(region, backend, alarm, now):
                    changed += 1
            except Exception:  # one odd alarm must not stop the others
                log.exception("could not evaluate alarm %s", getattr(alarm, "name", "?"))
        return changed

    @staticmethod
    def _alarms() -> Iterator[tuple[str, Any, Any]]:
        try:
            from moto.cloudwatch.models import cloudwatch_backends
        except ImportError:
            return
        # dict's own views: moto's mappings create a backend for any key they are asked for.
        for regions in list(dict.values(cloudwatch_backends)):
            for region, backend in list(dict.items(regions)):
                for alarm in list(backend.alarms.values()):
                    if _evaluable(alarm):
                        yield region, backend, alarm

    def _evaluate_one(self, region: str, backend: Any, alarm: Any, now: dt.datetime) -> bool:
        points = self._points(backend, alarm, now)
        rule = AlarmRule(
            comparison=ComparisonOperator(alarm.comparison_operator),
            threshold=float(alarm.threshold),
            evaluation_periods=int(alarm.evaluation_periods),
            datapoints_to_alarm=int(alarm.datapoints_to_alarm) if alarm.datapoints_to_alarm else None,
            treat_missing=TreatMissingData(alarm.treat_missing_data or TreatMissingData.MISSING),
        )
        current = AlarmState(alarm.state_value)
        decision = decide(rule, points, current)
        if decision is None or decision.state == current:
            return False
        old_state = alarm.state_value
        reason_data = _reason_data(alarm, points, now)
        backend.set_alarm_state(alarm.name, decision.reason, json.dumps(reason_data), decision.state.value)
        log.info("alarm %s: %s -> %s (%s)", alarm.name, old_state, decision.state, decision.reason)
        if alarm.actions_enabled:
            self._notify(region, alarm, old_state, decision, now)
        return True

    @staticmethod
    def _points(backend: Any, alarm: Any, now: dt.datetime) -> list[Point]:
        """The last EvaluationPeriods periods, oldest first. A period still running counts once it
        has a datapoint; until then the window ends at the last complete period."""
        period = dt.timedelta(seconds=int(alarm.period))
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        current_start = epoch + period * ((now - epoch) // period)
        wanted = {(d.name, d.value) for d in alarm.dimensions}
        count = int(alarm.evaluation_periods)
        earliest = current_start - period * count
        datums = [
            d
            for d in backend.get_all_metrics()
            if d.namespace == alarm.namespace
            and d.name == alarm.metric_name
            and earliest <= _aware(d.timestamp) < current_start + period
            and (not alarm.unit or d.unit == alarm.unit)
            and _same_dimensions(d, wanted)
        ]
        buckets: dict[dt.datetime, list[Any]] = {}
        for datum in datums:
            start = epoch + period * ((_aware(datum.timestamp) - epoch) // period)
            buckets.setdefault(start, []).append(datum)
        newest = current_start if current_start in buckets else current_start - period
        points = []
        for index in range(count - 1, -1, -1):
            start = newest - period * index
            if start in buckets:
                value, samples = _statistic(buckets[start], alarm.statistic)
                points.append(Point(start, value, samples))
            else:
                points.append(Point(start, None))
        return points

    def _notify(self, region: str, alarm: Any, old_state: str, decision: Decision, now: dt.datetime) -> None:
        actions = {
            AlarmState.ALARM: alarm.alarm_actions,
            AlarmState.OK: alarm.ok_actions,
            AlarmState.INSUFFICIENT_DATA: alarm.insufficient_data_actions,
        }[decision.state]
        message = json.dumps(alarm_message(region, alarm, old_state, decision, now))
        subject = f'{decision.state.value}: "{alarm.name}" in {REGION_LONG_NAMES.get(region, region)}'
        for action in actions or ():
            if not str(action).startswith("arn:aws:sns:"):
                log.warning("alarm %s: action %s not taken (only SNS topics are notified here)", alarm.name, action)
                continue
            try:
                self._publish(str(action).split(":")[3], str(action), subject[:100], message)
            except Exception:
                log.exception("alarm %s: could not notify %s", alarm.name, action)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _evaluable(alarm: Any) -> bool:
    if getattr(alarm, "rule", None) or getattr(alarm, "metric_data_queries", None):
        return False
    if getattr(alarm, "extended_statistic", None) or alarm.statistic not in STATISTICS:
        return False
    try:
        ComparisonOperator(alarm.comparison_operator)
    except ValueError:
        return False  # anomaly-detection operators
    return bool(alarm.metric_name and alarm.period and alarm.evaluation_periods)


def _reason_data(alarm: Any, points: list[Point], now: dt.datetime) -> dict[str, Any]:
    """StateReasonData as AWS records it (snapshot ``alarm-triggered-describe``)."""
    data: dict[str, Any] = {
        "version": "1.0",
        "queryDate": _aws_time(now),
        "statistic": alarm.statistic,
        "period": int(alarm.period),
        "recentDatapoints": [p.value for p in points if p.value is not None],
        "threshold": float(alarm.threshold),
        "evaluatedDatapoints": [
            {
                "timestamp": _aws_time(p.start),
                **({"sampleCount": p.sample_count, "value": p.value} if p.value is not None else {}),
            }
            for p in reversed(points)
        ],
    }
    if points and points[0].value is not None:
        data["startDate"] = _aws_time(points[0].start)
    if alarm.unit:
        data["unit"] = alarm.unit
    return data


def alarm_message(region: str, alarm: Any, old_state: str, decision: Decision, now: dt.datetime) -> dict[str, Any]:
    """The JSON an alarm's SNS topic receives (see the module docstring for the recording)."""
    trigger: dict[str, Any] = {
        "MetricName": alarm.metric_name,
        "Namespace": alarm.namespace,
        "StatisticType": "Statistic",
        "Statistic": str(alarm.statistic).upper(),
        "Unit": alarm.unit,
        "Dimensions": [{"value": d.value, "name": d.name} for d in alarm.dimensions],
        "Period": int(alarm.period),
        "EvaluationPeriods": int(alarm.evaluation_periods),
        "ComparisonOperator": alarm.comparison_operator,
        "Threshold": float(alarm.threshold),
        "TreatMissingData": alarm.treat_missing_data or TreatMissingData.MISSING.value,
        "EvaluateLowSampleCountPercentile": alarm.evaluate_low_sample_count_percentile or "",
    }
    if alarm.datapoints_to_alarm:
        trigger["DatapointsToAlarm"] = int(alarm.datapoints_to_alarm)
    message: dict[str, Any] = {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description or None,
        "AWSAccountId": ACCOUNT_ID,
        "AlarmConfigurationUpdatedTimestamp": _aws_time(_aware(alarm.configuration_updated_timestamp)),
        "NewStateValue": decision.state.value,
        "NewStateReason": decision.reason,
        "StateChangeTime": _aws_time(now),
        "Region": REGION_LONG_NAMES.get(region, region),
        "AlarmArn": alarm.alarm_arn,
        "OldStateValue": old_state,
        "OKActions": list(alarm.ok_actions or []),
        "AlarmActions": list(alarm.alarm_actions or []),
        "InsufficientDataActions": list(alarm.insufficient_data_actions or []),
        "Trigger": trigger,
    }
    return message
