"""``statistics.json`` of a window read chunk by chunk, in memory bounded by distinct values.

:class:`StatisticsAccumulator` takes the window's chunks (frames typed like the whole window) and
gives what :func:`~driftloop.validation.statistics.compute_statistics` gives for the whole window:
exact counts, sums, moments, histograms and the KLL-style sketch (``k`` evenly spaced quantiles,
interpolated as ``numpy.quantile`` does) while a numeric column holds at most
:data:`~driftloop.validation.value_counts.MAX_DISTINCT` distinct values; beyond that, quantiles and
histogram counts come from a real KLL sketch (Apache DataSketches). Every numeric feature's sketch
states its ``normalized_rank_error`` (0.0 when exact). Accumulators of disjoint parts merge.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from driftloop.data.spec import TabularSpec
from driftloop.validation._columns import ParsedColumn, ParsedColumns
from driftloop.validation.statistics import (
    HISTOGRAM_BUCKETS,
    KLL_PARAMETERS,
    MAX_CATEGORICAL_BUCKETS,
    baseline_columns,
)
from driftloop.validation.value_counts import MAX_DISTINCT, ValueCounts


class StatisticsAccumulator:
    """Per-column state of a window's statistics: value counts, numeric or text."""

    def __init__(self, spec: TabularSpec, max_distinct: int | None = None) -> None:
        self.columns = [(c.name, c.kind == "numeric") for c in baseline_columns(spec)]
        limit = MAX_DISTINCT if max_distinct is None else max_distinct
        self.numbers = {name: ValueCounts(limit) for name, numeric in self.columns if numeric}
        self.texts: dict[str, Counter[str]] = {n: Counter() for n, num in self.columns if not num}
        self.missing: Counter[str] = Counter()
        self.rows = 0

    def add(self, frame: pd.DataFrame, parsed: Mapping[str, ParsedColumn] | None = None) -> None:
        """Count one chunk: numeric columns float64 (NaN missing), the others text or None
        (``parsed`` may hold its columns already parsed, see :class:`ParsedColumns`)."""
        self.rows += len(frame)
        columns = ParsedColumns(frame) if parsed is None else parsed
        for name, counts in self.numbers.items():
            counts.add(frame[name].to_numpy(dtype=np.float64, na_value=np.nan))
        for name, texts in self.texts.items():
            column = columns[name]
            self.missing[name] += len(column) - int(column.present.sum())
            texts.update({str(k): int(v) for k, v in column.counts.items()})

    def merge(self, other: StatisticsAccumulator) -> None:
        self.rows += other.rows
        for name, counts in self.numbers.items():
            counts.merge(other.numbers[name])
        for name, texts in self.texts.items():
            texts.update(other.texts[name])
        self.missing.update(other.missing)

    def result(self) -> dict[str, Any]:
        features = [
            _numeric(name, self.numbers[name]) if numeric else self._text(name)
            for name, numeric in self.columns
        ]
        return {"version": 0.0, "dataset": {"item_count": self.rows}, "features": features}

    def _text(self, name: str) -> dict[str, Any]:
        counts = pd.Series(self.texts[name], dtype=np.int64)
        counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
        buckets = [
            {"value": str(value), "count": int(count)}
            for value, count in counts.head(MAX_CATEGORICAL_BUCKETS).items()
        ]
        present = int(counts.sum())
        return {
            "name": name,
            "inferred_type": "String",
            "string_statistics": {
                "common": {"num_present": present, "num_missing": self.missing[name]},
                "distinct_count": len(counts),
                "distribution": {"categorical": {"buckets": buckets}},
            },
        }


def _numeric(name: str, state: ValueCounts) -> dict[str, Any]:
    state.settled()
    n = state.present
    common = {"num_present": n, "num_missing": state.missing}
    if state.exact:
        values, counts = state.values, state.counts
        integral = bool(np.array_equal(values, np.floor(values)))
        total = float(np.dot(values, counts)) if n else 0.0
        mean = total / n if n else 0.0
        std = float(np.sqrt(np.dot(counts, (values - mean) ** 2) / n)) if n else 0.0
        low, high = (float(values[0]), float(values[-1])) if n else (0.0, 0.0)
        sketch = _exact_sketch(values, counts)
        buckets = _exact_histogram(values, counts)
    else:
        count, mean, m2, low, high, integral = state.moments
        total, std = mean * count, float(np.sqrt(m2 / count))
        k = int(KLL_PARAMETERS["k"])
        sketch = state.sketch.get_quantiles(((np.arange(k) + 0.5) / k).tolist())
        buckets = _sketch_histogram(state.sketch, low, high, n)
    stats = {
        "common": common,
        "mean": mean,
        "sum": total,
        "std_dev": std,
        "min": low,
        "max": high,
        "distribution": {
            "kll": {
                "buckets": buckets,
                "sketch": {
                    "parameters": dict(KLL_PARAMETERS),
                    "data": [list(map(float, sketch))],
                    "normalized_rank_error": state.error(),
                },
            }
        },
    }
    return {
        "name": name,
        "inferred_type": "Integral" if integral else "Fractional",
        "numerical_statistics": stats,
    }


def quantiles(values: np.ndarray, counts: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``numpy.quantile(sample, q)`` (linear interpolation) of the sample ``values``/``counts``
    encode, computed from the counts: the same order statistics, the same interpolation."""
    n = int(counts.sum())
    virtual = (n - 1) * q
    previous = np.floor(virtual).astype(np.int64)
    following = np.minimum(previous + 1, n - 1)
    gamma = virtual - previous
    ends = np.cumsum(counts)
    a = values[np.searchsorted(ends, previous, side="right")]
    b = values[np.searchsorted(ends, following, side="right")]
    diff = b - a
    result: np.ndarray = a + diff * gamma
    np.subtract(b, diff * (1 - gamma), out=result, where=gamma >= 0.5)
    return result


def _exact_sketch(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    k = int(KLL_PARAMETERS["k"])
    if int(counts.sum()) <= k:
        return np.repeat(values, counts)
    return quantiles(values, counts, (np.arange(k) + 0.5) / k)


def _exact_histogram(values: np.ndarray, counts: np.ndarray) -> list[dict[str, float | int]]:
    if values.size == 0:
        return []
    low, high = float(values[0]), float(values[-1])
    edges = np.linspace(low, high, HISTOGRAM_BUCKETS + 1)
    if high > low:
        found, _ = np.histogram(values, bins=edges, weights=counts)
        bucket_counts = found.astype(np.int64)
    else:
        bucket_counts = np.zeros(HISTOGRAM_BUCKETS, dtype=np.int64)
        bucket_counts[0] = int(counts.sum())
    return _buckets(edges, bucket_counts)


def _sketch_histogram(sketch: Any, low: float, high: float, n: int) -> list[dict[str, float | int]]:
    """Equal-width buckets between min and max, counted from the sketch's CDF (each bucket's
    count within n times the rank error)."""
    edges = np.linspace(low, high, HISTOGRAM_BUCKETS + 1)
    if high <= low:
        bucket_counts = np.zeros(HISTOGRAM_BUCKETS, dtype=np.int64)
        bucket_counts[0] = n
        return _buckets(edges, bucket_counts)
    # get_cdf(x) is the share of values < x; the last bucket closes at max.
    shares = np.array(sketch.get_cdf(edges[1:-1].tolist())[:-1], dtype=np.float64)
    cumulative = np.rint(np.r_[0.0, shares, 1.0] * n).astype(np.int64)
    return _buckets(edges, np.diff(cumulative))


def _buckets(edges: np.ndarray, counts: np.ndarray) -> list[dict[str, float | int]]:
    return [
        {"lower_bound": float(lo), "upper_bound": float(hi), "count": int(c)}
        for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True)
    ]
