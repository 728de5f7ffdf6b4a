"""Evidently 0.7's drift statistics, computed from value counts.

Each test mirrors one of ``evidently.legacy.calculations.stattests`` (same formulas, same scipy
calls, same missing-value handling) but reads :class:`Counts` -- the sorted distinct values of a
column and how often each occurs -- instead of raw columns. Counts are a lossless encoding of the
sorted sample, so a reference window is summarised once and tested against any window exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance

ColumnType = Literal["num", "cat"]
SMALL_REFERENCE = 1000  # up to this many reference values: p-value tests, else distances
FEW_NUMBERS = 5  # a numeric column with at most this many distinct values is tested as labels
HISTOGRAM_MIN_DISTINCT = 20  # JS/PSI bin numbers (Sturges) above this many reference values


@dataclass(frozen=True, eq=False)
class Counts:
    """Distinct non-missing values of one column, ascending, and how often each occurs."""

    values: np.ndarray  # float64 for numeric columns, str objects for categorical ones
    counts: np.ndarray  # int64, every count > 0

    @classmethod
    def of_numbers(cls, numbers: np.ndarray) -> Counts:
        """Count float64 values; NaN and infinities are dropped, as Evidently drops them."""
        ordered = np.sort(numbers[np.isfinite(numbers)])
        first = np.ones(ordered.size, dtype=bool)
        first[1:] = ordered[1:] != ordered[:-1]
        starts = np.flatnonzero(first)
        return cls(ordered[starts], np.diff(np.r_[starts, ordered.size]).astype(np.int64))

    @classmethod
    def of_labels(cls, labels: pd.Series) -> Counts:
        """Count the non-missing labels of a column (each label compared as text)."""
        merged: dict[str, int] = {}
        for label, count in labels.value_counts(dropna=True, sort=False).items():
            if count:  # a pandas categorical lists its unused categories with count 0
                merged[str(label)] = merged.get(str(label), 0) + int(count)
        keys = sorted(merged)
        return cls(np.array(keys, dtype=object), np.array([merged[k] for k in keys], np.int64))

    @cached_property
    def total(self) -> int:
        return int(self.counts.sum())

    def expand(self) -> np.ndarray:
        """The sorted sample these counts encode."""
        return np.repeat(self.values, self.counts)

    def std(self) -> float:
        """Population standard deviation (``np.std`` of the sample, ddof 0)."""
        mean = float(np.dot(self.values, self.counts)) / self.total
        return float(np.sqrt(np.dot(self.counts, (self.values - mean) ** 2) / self.total))


def aligned(ref: Counts, cur: Counts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The union of both windows' values (sorted) and each window's count of every value."""
    values = np.union1d(ref.values, cur.values)
    return values, _spread(values, ref), _spread(values, cur)


def _spread(values: np.ndarray, counts: Counts) -> np.ndarray:
    out = np.zeros(values.size, dtype=np.int64)
    out[np.searchsorted(values, counts.values)] = counts.counts
    return out


def distinct_values(ref: Counts, cur: Counts) -> int:
    """How many distinct values the two windows hold together (Evidently's ``n_values``)."""
    return int(np.union1d(ref.values, cur.values).size)


def ks(ref: Counts, cur: Counts, numeric: bool) -> float:
    """Two-sample Kolmogorov-Smirnov p-value (``ks_stattest``)."""
    return float(stats.ks_2samp(ref.expand(), cur.expand()).pvalue)


def chisquare(ref: Counts, cur: Counts, numeric: bool) -> float:
    """Chi-square p-value of current counts against rescaled reference counts."""
    _, ref_counts, cur_counts = aligned(ref, cur)
    expected = ref_counts * (cur.total / ref.total)
    with np.errstate(divide="ignore", invalid="ignore"):  # a value new in current: p = 0
        return float(stats.chisquare(cur_counts, expected).pvalue)


def z(ref: Counts, cur: Counts, numeric: bool) -> float:
    """Two-proportion Z-test p-value: the smallest value against all others (``z_stattest``)."""
    values, ref_counts, cur_counts = aligned(ref, cur)
    if values.size == 1:
        return 1.0
    n1, n2 = ref.total, cur.total
    p1 = float(n1 - ref_counts[0]) / n1
    p2 = float(n2 - cur_counts[0]) / n2
    pooled = float(p1 * n1 + p2 * n2) / (n1 + n2)
    statistic = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return float(2 * (1 - stats.norm.cdf(np.abs(statistic))))


def wasserstein(ref: Counts, cur: Counts, numeric: bool) -> float:
    """First Wasserstein distance divided by the reference std (at least 0.001)."""
    values, ref_counts, cur_counts = aligned(ref, cur)
    ref_cdf = np.cumsum(ref_counts)[:-1] / ref.total
    cur_cdf = np.cumsum(cur_counts)[:-1] / cur.total
    moved = float(np.dot(np.abs(ref_cdf - cur_cdf), np.diff(values)))
    return moved / max(ref.std(), 0.001)


def jensenshannon(ref: Counts, cur: Counts, numeric: bool) -> float:
    """Jensen-Shannon distance (natural log) between the binned shares of both windows."""
    ref_share, cur_share = binned(ref, cur, numeric, fill_zeroes=False)
    return float(distance.jensenshannon(ref_share, cur_share))


def psi(ref: Counts, cur: Counts, numeric: bool) -> float:
    """Population stability index over the binned shares, empty bins filled as Evidently does."""
    ref_share, cur_share = binned(ref, cur, numeric, fill_zeroes=True)
    return float(np.sum((ref_share - cur_share) * np.log(ref_share / cur_share)))


def binned(
    ref: Counts, cur: Counts, numeric: bool, *, fill_zeroes: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Shares per bin (``get_binned_data``): Sturges bins over both windows for numbers with
    more than 20 distinct reference values, one bin per value otherwise."""
    if numeric and ref.values.size > HISTOGRAM_MIN_DISTINCT:
        edges = _sturges_edges(ref, cur)
        ref_share, cur_share = _histogram(ref, edges), _histogram(cur, edges)
    else:
        _, ref_share, cur_share = aligned(ref, cur)
    ref_share, cur_share = ref_share / ref.total, cur_share / cur.total
    if fill_zeroes:
        return _fill_zeroes(ref_share), _fill_zeroes(cur_share)
    return ref_share, cur_share


def _sturges_edges(ref: Counts, cur: Counts) -> np.ndarray:
    """``np.histogram_bin_edges(concat(ref, cur), "sturges")`` without the concatenation."""
    low = min(ref.values[0], cur.values[0])
    high = max(ref.values[-1], cur.values[-1])
    width = (high - low) / (np.log2(ref.total + cur.total) + 1.0)
    bins = int(np.ceil((high - low) / width)) if width else 1
    if low == high:
        low, high = low - 0.5, high + 0.5
    return np.linspace(low, high, bins + 1, endpoint=True, dtype=np.float64)


def _histogram(counts: Counts, edges: np.ndarray) -> np.ndarray:
    """``np.histogram(sample, edges)[0]`` (last bin closed) from the sample's counts."""
    cumulative = np.r_[0, np.cumsum(counts.counts)]
    positions = np.r_[
        np.searchsorted(counts.values, edges[:-1], side="left"),
        np.searchsorted(counts.values, edges[-1:], side="right"),
    ]
    return np.diff(cumulative[positions])


def _fill_zeroes(share: np.ndarray) -> np.ndarray:
    smallest = share[share != 0].min()
    return np.where(share == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001, share)


@dataclass(frozen=True)
class Method:
    """One drift test: what it scores, for which column types, and when a score means drift."""

    name: str
    score: Callable[[Counts, Counts, bool], float]
    column_types: frozenset[str]
    default_threshold: float
    p_value: bool  # p-values drift below the threshold, distances at or above it
    inclusive: bool = False  # KS alone counts a p-value equal to the threshold as drift

    def drifted(self, score: float, threshold: float) -> bool:
        if not self.p_value:
            return score >= threshold
        return score <= threshold if self.inclusive else score < threshold


_NUM, _CAT, _BOTH = frozenset({"num"}), frozenset({"cat"}), frozenset({"num", "cat"})
METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("ks", ks, _NUM, 0.05, p_value=True, inclusive=True),
        Method("chisquare", chisquare, _CAT, 0.05, p_value=True),
        Method("z", z, _CAT, 0.05, p_value=True),
        Method("wasserstein", wasserstein, _NUM, 0.1, p_value=False),
        Method("jensenshannon", jensenshannon, _BOTH, 0.1, p_value=False),
        Method("psi", psi, _BOTH, 0.1, p_value=False),
    )
}


def default_method(column_type: ColumnType, ref: Counts, cur: Counts) -> str:
    """Evidently's ``_get_default_stattest``: the reference size picks p-values or distances,
    numbers with at most 5 distinct values (both windows) are tested as labels."""
    n_values = distinct_values(ref, cur)
    if column_type == "num" and n_values > FEW_NUMBERS:
        return "ks" if ref.total <= SMALL_REFERENCE else "wasserstein"
    if ref.total <= SMALL_REFERENCE:
        return "chisquare" if n_values > 2 else "z"
    return "jensenshannon"


# How Evidently's reports name each method (its display names); used to read Evidently's output.
EVIDENTLY_NAMES = {
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "PSI": "psi",
}
