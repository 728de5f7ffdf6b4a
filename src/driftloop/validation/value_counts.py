"""Exact value counts of one numeric column, built chunk by chunk, with a bounded size.

While the column holds at most :data:`MAX_DISTINCT` distinct values, its state is every distinct
value with its count: the sorted sample, losslessly, so statistics, histograms and quantiles are
exactly those of the whole column. Beyond that the state becomes a KLL sketch (Apache
DataSketches, ``k`` = :data:`KLL_K`) plus exact count, sum, moments, min and max: quantiles,
histogram counts and value counts are then read from the sketch, each within its normalized rank
error (:func:`rank_error`), and the state no longer grows with the column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import datasketches
import numpy as np

MAX_DISTINCT = 1 << 20  # distinct values kept exactly per column (16 MB); beyond: a KLL sketch
KLL_K = 2048
_MERGE_AT = 1 << 16  # pending distinct values merged into the state once they pass this size
_FEED = 1 << 20  # values handed to the sketch per call when a column switches to it


def _kll() -> Any:
    """DataSketches' ``kll_doubles_sketch`` class."""
    return datasketches.kll_doubles_sketch


def rank_error(k: int = KLL_K) -> float:
    """The KLL sketch's normalized rank error (99 % confidence) for single quantiles."""
    return float(_kll().get_normalized_rank_error(k, False))


@dataclass
class ValueCounts:
    """Distinct present values and their counts (exact), or a sketch once there are too many.

    Missing values (NaN) are counted apart; every value added must be finite or NaN.
    """

    max_distinct: int = MAX_DISTINCT
    missing: int = 0
    values: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.float64))
    counts: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    _pending: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    _pending_size: int = 0
    sketch: Any = None  # a datasketches kll_doubles_sketch once exact counts would be too many
    moments: tuple[int, float, float, float, float, bool] = (0, 0.0, 0.0, np.inf, -np.inf, True)
    """With a sketch: count, mean, sum of squared deviations, min, max, all whole numbers."""

    @property
    def exact(self) -> bool:
        return self.sketch is None

    def add(self, column: np.ndarray) -> None:
        """Count a chunk of float64 values (NaN = missing)."""
        present = column[~np.isnan(column)]
        self.missing += column.size - present.size
        if present.size == 0:
            return
        if not self.exact:
            self._sketch_add(present)
            return
        values, counts = np.unique(present, return_counts=True)
        self._pending.append((values, counts.astype(np.int64)))
        self._pending_size += values.size
        if self._pending_size >= max(_MERGE_AT, self.values.size):
            self._settle()

    def merge(self, other: ValueCounts) -> None:
        """Add another column's counts (for chunks counted apart, e.g. in other processes)."""
        self.missing += other.missing
        other._settle()
        if other.exact:
            if self.exact:
                self._pending.append((other.values, other.counts))
                self._pending_size += other.values.size
                self._settle()
            else:
                self._feed(other.values, other.counts)
            return
        self._settle()
        if self.exact:
            self._to_sketch()
        self.sketch.merge(other.sketch)
        self.moments = _combine(self.moments, other.moments)

    def _settle(self) -> None:
        """Merge the pending chunks' counts into the state."""
        if not self._pending:
            return
        values = np.concatenate([self.values, *(v for v, _ in self._pending)])
        counts = np.concatenate([self.counts, *(c for _, c in self._pending)])
        self._pending, self._pending_size = [], 0
        distinct, inverse = np.unique(values, return_inverse=True)
        self.values = distinct
        self.counts = np.bincount(inverse, weights=counts, minlength=distinct.size).astype(np.int64)
        if self.values.size > self.max_distinct:
            self._to_sketch()

    def _to_sketch(self) -> None:
        values, counts = self.values, self.counts
        self.sketch = _kll()(KLL_K)
        self.values, self.counts = np.empty(0, dtype=np.float64), np.empty(0, dtype=np.int64)
        self._feed(values, counts)

    def _feed(self, values: np.ndarray, counts: np.ndarray) -> None:
        """Hand counted values to the sketch, a bounded slice at a time."""
        ends = np.cumsum(counts)
        start = 0
        while start < values.size:
            stop = int(np.searchsorted(ends, ends[start] - counts[start] + _FEED, side="right"))
            stop = max(stop, start + 1)
            self._sketch_add(np.repeat(values[start:stop], counts[start:stop]))
            start = stop

    def _sketch_add(self, present: np.ndarray) -> None:
        self.sketch.update(np.ascontiguousarray(present, dtype=np.float64))
        mean = float(present.mean())
        part = (
            present.size,
            mean,
            float(np.square(present - mean).sum()),
            float(present.min()),
            float(present.max()),
            bool(np.array_equal(present, np.floor(present))),
        )
        self.moments = _combine(self.moments, part)

    # --- reading the state -------------------------------------------------------------------

    def settled(self) -> ValueCounts:
        self._settle()
        return self

    @property
    def present(self) -> int:
        self._settle()
        return int(self.counts.sum()) if self.exact else self.moments[0]

    def weighted(self) -> tuple[np.ndarray, np.ndarray]:
        """Distinct values (ascending) and counts: exact, or the sketch's retained items with
        their weights (a sample whose ranks are within the rank error)."""
        self._settle()
        if self.exact:
            return self.values, self.counts
        items = sorted(self.sketch)
        values = np.array([v for v, _ in items], dtype=np.float64)
        weights = np.array([w for _, w in items], dtype=np.int64)
        distinct, inverse = np.unique(values, return_inverse=True)
        return distinct, np.bincount(inverse, weights=weights).astype(np.int64)

    def error(self) -> float:
        """The normalized rank error of quantiles and counts read from this state."""
        return 0.0 if self.settled().exact else rank_error()


def _combine(
    a: tuple[int, float, float, float, float, bool], b: tuple[int, float, float, float, float, bool]
) -> tuple[int, float, float, float, float, bool]:
    """Chan et al.'s pairwise update of count, mean and squared deviations; min, max, whole."""
    n = a[0] + b[0]
    if a[0] == 0 or b[0] == 0:
        return b if a[0] == 0 else a
    delta = b[1] - a[1]
    mean = a[1] + delta * b[0] / n
    m2 = a[2] + b[2] + delta * delta * a[0] * b[0] / n
    return n, mean, m2, min(a[3], b[3]), max(a[4], b[4]), a[5] and b[5]
