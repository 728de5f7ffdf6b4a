"""Per-feature statistics in SageMaker Model Monitor's ``statistics.json`` shape.

Numeric features get ``numerical_statistics`` (with a 10-bucket histogram and a KLL-style
sketch), categorical ones ``string_statistics``. Everything is computed with numpy/pandas in a
single pass per column, without Spark.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from driftloop.data.spec import ColumnSpec, TabularSpec
from driftloop.errors import DataError
from driftloop.validation._columns import ParsedColumn

KLL_PARAMETERS = {"c": 0.64, "k": 2048.0}
HISTOGRAM_BUCKETS = 10
# Categorical buckets kept per feature; ``distinct_count`` stays exact beyond this.
MAX_CATEGORICAL_BUCKETS = 1000


def baseline_columns(spec: TabularSpec) -> list[ColumnSpec]:
    """The columns a baseline describes: features and target, never id columns."""
    return [c for c in spec.columns if c.role != "id"]


def compute_statistics(frame: pd.DataFrame, spec: TabularSpec) -> dict[str, Any]:
    """Statistics of ``frame`` for every non-id column of ``spec`` (``statistics.json``).

    Raises :class:`DataError` when a spec column is absent or a numeric one holds text.
    """
    columns = baseline_columns(spec)
    missing = [c.name for c in columns if c.name not in frame.columns]
    if missing:
        raise DataError(
            f"cannot compute statistics: missing column(s) {', '.join(missing)}",
            details={"columns": missing},
        )
    features = [
        column_statistics(c.name, frame[c.name], numeric=c.kind == "numeric") for c in columns
    ]
    return {"version": 0.0, "dataset": {"item_count": len(frame)}, "features": features}


def column_statistics(name: str, values: pd.Series, *, numeric: bool) -> dict[str, Any]:
    """One ``features`` entry: numerical statistics if ``numeric``, else string statistics."""
    column = ParsedColumn(values)
    if not numeric:
        return {
            "name": name,
            "inferred_type": "String",
            "string_statistics": _string_statistics(column),
        }
    _require_numbers(name, column)
    present = column.numbers.to_numpy()[column.present]
    integral = bool(np.array_equal(present, np.floor(present)))
    return {
        "name": name,
        "inferred_type": "Integral" if integral else "Fractional",
        "numerical_statistics": _numerical_statistics(column, present),
    }


def _require_numbers(name: str, column: ParsedColumn) -> None:
    bad = column.present & ~column.is_number
    if bool(bad.any()):
        row = int(np.flatnonzero(bad)[0])
        value = column.values.iloc[row]
        raise DataError(
            f"column '{name}' must be numeric, row {row + 1} holds {value!r}",
            details={"column": name, "row": row + 1, "value": str(value)},
        )


def _common(column: ParsedColumn) -> dict[str, int]:
    num_present = int(column.present.sum())
    return {"num_present": num_present, "num_missing": len(column) - num_present}


def _numerical_statistics(column: ParsedColumn, values: np.ndarray) -> dict[str, Any]:
    empty = values.size == 0
    return {
        "common": _common(column),
        "mean": 0.0 if empty else float(values.mean()),
        "sum": float(values.sum()),
        # Population standard deviation (ddof=0), as Deequ's StandardDeviation analyzer.
        "std_dev": 0.0 if empty else float(values.std()),
        "min": 0.0 if empty else float(values.min()),
        "max": 0.0 if empty else float(values.max()),
        "distribution": {"kll": _kll(np.sort(values))},
    }


def _kll(ordered: np.ndarray) -> dict[str, Any]:
    """Equal-width buckets between min and max, and the sorted values as one sketch level.

    Up to ``k`` values are kept as they are; beyond that, ``k`` evenly spaced quantiles stand
    for the data (each one carrying the same weight), which is what a KLL sketch compacts to.
    """
    k = int(KLL_PARAMETERS["k"])
    sketch = ordered if ordered.size <= k else np.quantile(ordered, (np.arange(k) + 0.5) / k)
    return {
        "buckets": _histogram(ordered),
        "sketch": {"parameters": dict(KLL_PARAMETERS), "data": [sketch.tolist()]},
    }


def _histogram(ordered: np.ndarray) -> list[dict[str, float | int]]:
    if ordered.size == 0:
        return []
    low, high = float(ordered[0]), float(ordered[-1])
    edges = np.linspace(low, high, HISTOGRAM_BUCKETS + 1)
    if high > low:
        counts, _ = np.histogram(ordered, bins=edges)  # the last bucket includes the max
    else:  # a constant column: every value sits in the first (zero-width) bucket
        counts = np.zeros(HISTOGRAM_BUCKETS, dtype=np.int64)
        counts[0] = ordered.size
    return [
        {"lower_bound": float(lo), "upper_bound": float(hi), "count": int(n)}
        for lo, hi, n in zip(edges[:-1], edges[1:], counts, strict=True)
    ]


def _string_statistics(column: ParsedColumn) -> dict[str, Any]:
    counts = column.counts
    # Most frequent first; ties in value order so the file is reproducible.
    counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
    buckets = [
        {"value": str(value), "count": int(count)}
        for value, count in counts.head(MAX_CATEGORICAL_BUCKETS).items()
    ]
    return {
        "common": _common(column),
        "distinct_count": len(counts),
        "distribution": {"categorical": {"buckets": buckets}},
    }
