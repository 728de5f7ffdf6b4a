"""CloudWatch alarm evaluation over the local metric store.

Periods are aligned to multiples of ``period`` since the epoch; the last one ends at the latest
period boundary at or before ``now``. Like CloudWatch, an evaluation retrieves more periods than
it evaluates (the retrieval range: N + 2 periods for N evaluation periods, so 5 for 3, as the
CloudWatch documentation's example states) and ``decision.decide`` picks the datapoints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from driftloop.alarms.decision import State, breaches, decide
from driftloop.alarms.definition import AlarmDefinition
from driftloop.metrics.base import MetricStore
from driftloop.metrics.statistics import PeriodValue, low_sample_minimum, period_values

__all__ = ["Evaluation", "State", "breaches", "decide", "evaluate", "evaluation_range"]

EXTRA_PERIODS = 2


@dataclass
class Evaluation:
    """The state an alarm evaluates to, why, and the period values of its retrieval range."""

    state: State
    reason: str
    values: list[PeriodValue] = field(default_factory=list)
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))


def _end(alarm: AlarmDefinition, now: datetime) -> int:
    return int(now.timestamp()) // alarm.period * alarm.period


def evaluation_range(alarm: AlarmDefinition, now: datetime) -> tuple[int, int]:
    """``(start, end)`` epoch seconds of the last ``evaluation_periods`` complete periods."""
    end = _end(alarm, now)
    return end - alarm.evaluation_periods * alarm.period, end


def retrieval_range(alarm: AlarmDefinition, now: datetime) -> tuple[int, int]:
    """``(start, end)`` epoch seconds of the complete periods an evaluation retrieves."""
    end = _end(alarm, now)
    return end - (alarm.evaluation_periods + EXTRA_PERIODS) * alarm.period, end


def evaluate(
    alarm: AlarmDefinition, store: MetricStore, now: datetime, previous_state: State | None
) -> Evaluation:
    """Evaluate ``alarm`` at ``now`` against the datapoints in ``store``."""
    start, end = retrieval_range(alarm, now)
    points = store.get_metric_data(
        alarm.namespace, alarm.metric_name, alarm.dimensions, since=start, until=end
    )
    values = period_values(points, alarm.stat, alarm.period, start, end)
    samples = None
    if low_sample_minimum(alarm.stat) is not None:
        samples = period_values(points, "SampleCount", alarm.period, start, end)
    state, reason = decide(alarm, values, previous_state, samples)
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
