"""One statistic value per alarm period, from the store's datapoints.

Simple statistics (SampleCount, Average, Sum, Minimum, Maximum) are exact. Percentiles
(``p50``, ``p99.9``) use nearest rank over the merged value distributions, whose buckets keep two
significant digits, so a percentile is exact to about 5% of its value (worst near 1.0e+N,
better near 9.9e+N).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from driftloop.metrics.base import Datapoint, MetricStore

PeriodValue = tuple[int, float | None]


def _merge(points: Sequence[Datapoint]) -> Datapoint:
    first = points[0]
    merged = Datapoint(
        first.namespace,
        first.metric,
        dict(first.dimensions),
        first.timestamp,
        first.unit,
        0.0,
        0.0,
        math.inf,
        -math.inf,
    )
    for point in points:
        merged.merge(_with_distribution(point))
    return merged


def _with_distribution(point: Datapoint) -> Datapoint:
    """A copy whose distribution also covers a constant point written without one."""
    distribution = dict(point.distribution)
    if not distribution and point.min == point.max:
        distribution = {repr(point.min): point.count}
    return Datapoint(**{**vars(point), "distribution": distribution})


def percentile(distribution: Mapping[str, float], rank: float) -> float | None:
    """The nearest-rank ``rank`` percentile (0 < rank < 100) of a bucket -> count mapping."""
    buckets = sorted((float(value), count) for value, count in distribution.items() if count > 0)
    total = sum(count for _, count in buckets)
    if total <= 0:
        return None
    wanted = max(math.ceil(rank / 100 * total), 1)
    seen = 0.0
    for value, count in buckets:
        seen += count
        if seen >= wanted:
            return value
    return buckets[-1][0]


def statistic_value(point: Datapoint, statistic: str) -> float | None:
    """The value of ``statistic`` (a simple one or ``pNN``) for one merged datapoint."""
    if point.count <= 0:
        return None
    simple = {
        "SampleCount": point.count,
        "Average": point.sum / point.count,
        "Sum": point.sum,
        "Minimum": point.min,
        "Maximum": point.max,
    }
    if statistic in simple:
        return simple[statistic]
    if statistic.startswith("p"):
        return percentile(point.distribution, float(statistic[1:]))
    raise ValueError(f"unknown statistic {statistic!r}")


def low_sample_minimum(statistic: str) -> float | None:
    """Samples a period needs before a percentile alarm set to ignore low sample counts
    evaluates it: 10/(1-p) for p of 0.5 and above, 10/p below (p99: 1000); None for a simple
    statistic."""
    if not statistic.startswith("p"):
        return None
    rank = float(statistic[1:]) / 100
    return round(10 / (1 - rank) if rank >= 0.5 else 10 / rank, 6)


def period_values(
    points: Iterable[Datapoint], statistic: str, period_s: int, start: int, end: int
) -> list[PeriodValue]:
    """``(period start, value or None)`` for each period from ``start`` up to ``end``, oldest
    first; points outside ``[start, end)`` are ignored."""
    grouped: dict[int, list[Datapoint]] = {}
    for point in points:
        if start <= point.timestamp < end:
            key = start + (point.timestamp - start) // period_s * period_s
            grouped.setdefault(key, []).append(point)
    return [
        (moment, statistic_value(_merge(grouped[moment]), statistic) if moment in grouped else None)
        for moment in range(start, end, period_s)
    ]


def _epoch(moment: int | datetime) -> int:
    return int(moment.timestamp()) if isinstance(moment, datetime) else int(moment)


def series(
    store: MetricStore,
    namespace: str,
    metric: str,
    dimensions: Mapping[str, str],
    statistic: str,
    period_s: int,
    since: int | datetime,
    until: int | datetime,
) -> list[PeriodValue]:
    """Period values of one metric between ``since`` and ``until`` (epoch seconds or aware
    datetimes), with periods aligned to multiples of ``period_s`` (the last, partial period
    included)."""
    start = _epoch(since) // period_s * period_s
    end = -(-_epoch(until) // period_s) * period_s
    points = store.get_metric_data(namespace, metric, dimensions, since=start, until=end)
    return period_values(points, statistic, period_s, start, end)
