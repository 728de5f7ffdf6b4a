"""CloudWatch alarm evaluation over the local metric store.

The evaluation range is the last ``evaluation_periods`` complete periods, aligned to multiples of
``period`` since the epoch and ending at the latest period boundary at or before ``now``. An
alarm goes to ALARM when at least ``datapoints_to_alarm`` of those datapoints breach;
``treat_missing_data`` decides what periods without data count as.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from driftloop.alarms.definition import AlarmDefinition
from driftloop.alarms.metric_store import MetricStore
from driftloop.alarms.statistics import PeriodValue, period_values

State = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]

_OPERATORS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}


@dataclass
class Evaluation:
    """The state an alarm evaluates to, why, and the period values it looked at."""

    state: State
    reason: str
    values: list[PeriodValue] = field(default_factory=list)
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))


def evaluation_range(alarm: AlarmDefinition, now: datetime) -> tuple[int, int]:
    """``(start, end)`` epoch seconds of the complete periods to evaluate."""
    end = int(now.timestamp()) // alarm.period * alarm.period
    return end - alarm.evaluation_periods * alarm.period, end


def breaches(alarm: AlarmDefinition, value: float) -> bool:
    """Whether one datapoint crosses the threshold."""
    compare, _ = _OPERATORS[alarm.comparison_operator]
    return compare(value, alarm.threshold)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _listing(values: list[PeriodValue]) -> str:
    shown = [
        f"{value} ({datetime.fromtimestamp(moment, UTC):%d/%m/%y %H:%M:%S})"
        for moment, value in reversed(values)
        if value is not None
    ]
    return "[" + ", ".join(shown) + "]"


def _threshold_reason(
    alarm: AlarmDefinition, values: list[PeriodValue], counted: int, total: int, new: str, old: str
) -> str:
    _, phrase = _OPERATORS[alarm.comparison_operator]
    verb = "was" if counted == 1 else "were"
    negation = "" if new == "ALARM" else "not "
    minimum = alarm.required if new == "ALARM" else max(total - alarm.required + 1, 1)
    return (
        f"Threshold Crossed: {counted} out of the last {total} datapoints {_listing(values)} "
        f"{verb} {negation}{phrase} the threshold ({alarm.threshold}) "
        f"(minimum {_plural(minimum, 'datapoint')} for {old} -> {new} transition)."
    )


def decide(
    alarm: AlarmDefinition, values: list[PeriodValue], previous_state: State | None
) -> tuple[State, str]:
    """The state and reason for the given period values, per ``treat_missing_data``."""
    present = [value for _, value in values if value is not None]
    missing = len(values) - len(present)
    old = previous_state or "INSUFFICIENT_DATA"
    mode = alarm.treat_missing_data
    if not present and mode in ("missing", "ignore"):
        if mode == "ignore" and previous_state is not None:
            return previous_state, (
                f"No datapoints in the last {_plural(len(values), 'period')}; state kept "
                "(treat missing data: ignore)."
            )
        verb = "was" if missing == 1 else "were"
        return (
            "INSUFFICIENT_DATA",
            f"Insufficient Data: {_plural(missing, 'datapoint')} {verb} unknown.",
        )
    bad = sum(breaches(alarm, value) for value in present)
    total = len(present)
    if mode in ("breaching", "notBreaching"):
        total = len(values)
        bad += missing if mode == "breaching" else 0
    new: State = "ALARM" if bad >= alarm.required else "OK"
    counted = bad if new == "ALARM" else total - bad
    return new, _threshold_reason(alarm, values, counted, total, new, old)


def evaluate(
    alarm: AlarmDefinition, store: MetricStore, now: datetime, previous_state: State | None
) -> Evaluation:
    """Evaluate ``alarm`` at ``now`` against the datapoints in ``store``."""
    start, end = evaluation_range(alarm, now)
    points = store.query(
        alarm.namespace, alarm.metric_name, alarm.dimensions, since=start, until=end
    )
    values = period_values(points, alarm.stat, alarm.period, start, end)
    state, reason = decide(alarm, values, previous_state)
    return Evaluation(state, reason, values, now)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def state_change_event(
    alarm: AlarmDefinition, old: str, new: str, reason: str, when: datetime
) -> dict[str, Any]:
    """The detail of EventBridge's "CloudWatch Alarm State Change" event."""
    metric = {
        "id": "m1",
        "metricStat": {
            "metric": {
                "namespace": alarm.namespace,
                "name": alarm.metric_name,
                "dimensions": dict(alarm.dimensions),
            },
            "period": alarm.period,
            "stat": alarm.stat,
        },
        "returnData": True,
    }
    configuration: dict[str, Any] = {"metrics": [metric]}
    if alarm.alarm_description:
        configuration["description"] = alarm.alarm_description
    return {
        "alarmName": alarm.alarm_name,
        "state": {"value": new, "reason": reason, "timestamp": _stamp(when)},
        "previousState": {"value": old},
        "configuration": configuration,
    }
