"""CloudWatch's decision over the retrieved periods, as "Configuring how CloudWatch alarms treat
missing data" documents it (section "How alarm state is evaluated when data is missing").

- With at least N real datapoints (N = evaluation periods), the most recent N real ones are
  evaluated and ``treat_missing_data`` is not used.
- With none, ``missing`` gives INSUFFICIENT_DATA, ``ignore`` keeps the state, ``breaching`` gives
  ALARM and ``notBreaching`` OK.
- With some but fewer than N, every real datapoint is evaluated with as few missing ones as
  possible (the most recent missing periods). ``breaching`` and ``notBreaching`` fill them. With
  ``missing`` and ``ignore`` the real datapoints decide when they can: ALARM when M of them breach,
  OK when one of them does not; otherwise ``ignore`` keeps the state, and ``missing`` goes to
  ALARM when the oldest evaluated datapoint breaches (the table's sixth row), else to
  INSUFFICIENT_DATA.

ALARM needs M breaching datapoints (M = datapoints to alarm), otherwise OK.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

from driftloop.alarms.definition import AlarmDefinition
from driftloop.metrics.statistics import PeriodValue, low_sample_minimum

State = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
Point = tuple[int, float]

_OPERATORS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}
_TREATED = {"breaching": "Breaching", "notBreaching": "NonBreaching"}


def breaches(alarm: AlarmDefinition, value: float) -> bool:
    """Whether one datapoint crosses the threshold."""
    compare, _ = _OPERATORS[alarm.comparison_operator]
    return compare(value, alarm.threshold)


def decide(
    alarm: AlarmDefinition,
    values: list[PeriodValue],
    previous_state: State | None,
    samples: list[PeriodValue] | None = None,
) -> tuple[State, str]:
    """The state and reason for the retrieved period values (oldest first); ``samples`` are the
    sample counts of the same periods, used by percentile alarms that ignore low sample counts."""
    count = alarm.evaluation_periods
    old: State = previous_state or "INSUFFICIENT_DATA"
    real: list[Point] = [(moment, value) for moment, value in values if value is not None]
    chosen = real[-count:]
    low = _low_samples(alarm, chosen, samples)
    if low:
        return old, low
    if len(real) >= count:
        return _crossed(alarm, chosen, count, old)
    gaps = [moment for moment, value in values if value is None][len(real) - count :]
    mode = alarm.treat_missing_data
    if mode in _TREATED:
        return _filled(alarm, real, len(gaps), old)
    if not real:
        if mode == "ignore" and previous_state is not None:
            kept = f"No datapoints in the last {_plural(len(gaps), 'period')}; state kept."
            return previous_state, kept
        return "INSUFFICIENT_DATA", _unknown(len(gaps))
    bad = sum(breaches(alarm, value) for _, value in real)
    if bad >= alarm.required or bad < len(real):
        return _crossed(alarm, real, len(real), old)
    if mode == "ignore":
        return old, f"{_plural(len(gaps), 'missing datapoint')} ignored; state kept."
    if gaps and real[0][0] < gaps[0]:  # the oldest evaluated datapoint breaches
        return _crossed(alarm, real, len(real), old, force=True)
    return "INSUFFICIENT_DATA", _unknown(len(gaps))


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _was(count: int) -> str:
    return "was" if count == 1 else "were"


def _unknown(count: int) -> str:
    return f"Insufficient Data: {_plural(count, 'datapoint')} {_was(count)} unknown."


def _listing(points: list[Point]) -> str:
    shown = [
        f"{value} ({datetime.fromtimestamp(moment, UTC):%d/%m/%y %H:%M:%S})"
        for moment, value in reversed(points)
    ]
    return "[" + ", ".join(shown) + "]"


def _crossed(
    alarm: AlarmDefinition,
    points: list[Point],
    total: int,
    old: State,
    *,
    extra_bad: int = 0,
    force: bool = False,
) -> tuple[State, str]:
    """ALARM when M datapoints breach (real ones plus ``extra_bad`` filled ones), else OK."""
    bad = sum(breaches(alarm, value) for _, value in points) + extra_bad
    new: State = "ALARM" if force or bad >= alarm.required else "OK"
    counted = bad if new == "ALARM" else total - bad
    minimum = alarm.required if new == "ALARM" else max(total - alarm.required + 1, 1)
    _, phrase = _OPERATORS[alarm.comparison_operator]
    negation = "" if new == "ALARM" else "not "
    return new, (
        f"Threshold Crossed: {counted} out of the last {total} datapoints {_listing(points)} "
        f"{_was(counted)} {negation}{phrase} the threshold ({alarm.threshold}) "
        f"(minimum {_plural(minimum, 'datapoint')} for {old} -> {new} transition)."
    )


def _filled(
    alarm: AlarmDefinition, real: list[Point], missing: int, old: State
) -> tuple[State, str]:
    """Missing datapoints filled as breaching or not breaching."""
    mode = alarm.treat_missing_data
    treated = (
        f"{_plural(missing, 'missing datapoint')} {_was(missing)} treated as [{_TREATED[mode]}]"
    )
    extra_bad = missing if mode == "breaching" else 0
    if not real:
        new: State = "ALARM" if extra_bad >= alarm.required else "OK"
        received = f"no datapoints were received for {_plural(missing, 'period')}"
        return new, f"Threshold Crossed: {received} and {treated}."
    new, reason = _crossed(alarm, real, len(real) + missing, old, extra_bad=extra_bad)
    return new, f"{reason} {treated}."


def _low_samples(
    alarm: AlarmDefinition, chosen: list[Point], samples: list[PeriodValue] | None
) -> str:
    """Why the state is kept when a percentile alarm ignores low sample counts, else ''."""
    minimum = low_sample_minimum(alarm.stat)
    if alarm.evaluate_low_sample_count_percentile != "ignore" or minimum is None or not samples:
        return ""
    counts = dict(samples)
    low = [moment for moment, _ in chosen if (counts.get(moment) or 0) < minimum]
    if not low:
        return ""
    return (
        f"Low sample count: {_plural(len(low), 'datapoint')} of {alarm.stat} had fewer than "
        f"{minimum:g} samples; state kept (EvaluateLowSampleCountPercentile: ignore)."
    )
