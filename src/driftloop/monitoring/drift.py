"""Data drift per feature and for the dataset, agreeing with Evidently 0.7's ``DataDriftPreset``.

Defaults follow Evidently: a column whose reference holds at most 1,000 non-missing values is
tested with Kolmogorov-Smirnov (numbers) or chi-square / the Z-test (labels; Z when both windows
together hold at most two values), a p-value below 0.05 meaning drift (KS: at or below); larger
references use the Wasserstein distance normed by the reference std (numbers) or the
Jensen-Shannon distance (labels), >= 0.1 meaning drift. Numbers with at most 5 distinct values
are tested like labels. The dataset drifts when the share of drifted features is >=
``drift_share``. Methods (``psi`` too) and thresholds can be set per column.

The reference is read from a :class:`~driftloop.monitoring.reference.ReferenceProfile`, built once
per model version, so a check never touches the reference rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from driftloop.config import DriftSettings
from driftloop.errors import ConfigError, DataError
from driftloop.monitoring._stattests import METHODS, ColumnType, Counts, default_method

if TYPE_CHECKING:
    from driftloop.monitoring.reference import ReferenceProfile

__all__ = ["ColumnDrift", "DriftResult", "DriftSettings", "detect_drift", "drift_of_counts"]


@dataclass(frozen=True)
class ColumnDrift:
    """One feature's verdict: method (Evidently's stattest name), its score and threshold."""

    column: str
    column_type: ColumnType
    method: str
    score: float
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class DriftResult:
    """Every feature's verdict and the dataset verdict (share of drifted features)."""

    columns: list[ColumnDrift]
    share: float
    dataset_drift: bool
    drift_share_threshold: float
    reference_rows: int
    current_rows: int
    from_sketch: list[str] = field(default_factory=list)
    """Numeric features too varied to count exactly, tested on their KLL sketch's items."""

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: plain floats, ints, bools and strings."""
        return {
            "dataset_drift": self.dataset_drift,
            "share": self.share,
            "drift_share_threshold": self.drift_share_threshold,
            "drifted_columns": self.drifted_columns,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "columns": [asdict(c) for c in self.columns],
        } | ({"from_sketch": self.from_sketch} if self.from_sketch else {})


def detect_drift(
    profile: ReferenceProfile, current: pd.DataFrame, settings: DriftSettings | None = None
) -> DriftResult:
    """Test every feature of ``profile`` on ``current`` (typed like the reference, e.g. by
    :func:`driftloop.data.spec.apply_spec`); ``settings`` default to the profile's own."""
    types = {c.name: c.column_type for c in profile.columns}
    check_settings(profile.settings if settings is None else settings, types)
    require_columns(current, list(types), "current data")
    counts = {
        name: column_counts(current, name, kind, "current data") for name, kind in types.items()
    }
    return drift_of_counts(profile, counts, len(current), settings)


def drift_of_counts(
    profile: ReferenceProfile,
    current: Mapping[str, Counts],
    rows: int,
    settings: DriftSettings | None = None,
) -> DriftResult:
    """:func:`detect_drift` of a current window given as each feature's value counts (what a
    window read chunk by chunk accumulates) and its row count."""
    settings = profile.settings if settings is None else settings
    check_settings(settings, {c.name: c.column_type for c in profile.columns})
    verdicts = [
        _column_drift(c.name, c.column_type, c.counts, current[c.name], settings)
        for c in profile.columns
    ]
    share = sum(v.drifted for v in verdicts) / len(verdicts)
    return DriftResult(
        columns=verdicts,
        share=share,
        dataset_drift=share >= settings.drift_share,
        drift_share_threshold=settings.drift_share,
        reference_rows=profile.rows,
        current_rows=rows,
    )


def _column_drift(
    name: str, column_type: ColumnType, ref: Counts, cur: Counts, settings: DriftSettings
) -> ColumnDrift:
    method = METHODS[settings.methods.get(name) or default_method(column_type, ref, cur)]
    threshold = settings.thresholds.get(name, method.default_threshold)
    score = method.score(ref, cur, column_type == "num")
    return ColumnDrift(
        column=name,
        column_type=column_type,
        method=method.name,
        score=score,
        threshold=threshold,
        drifted=method.drifted(score, threshold),
    )


def check_settings(settings: DriftSettings, types: Mapping[str, ColumnType]) -> None:
    """Fail with :class:`ConfigError` on overrides for unknown columns or unfit methods."""
    unknown = sorted((set(settings.methods) | set(settings.thresholds)) - set(types))
    if unknown:
        raise ConfigError(
            f"drift settings name column(s) that are not features: {', '.join(unknown)}",
            details={"columns": unknown},
        )
    for name, method in settings.methods.items():
        if types[name] not in METHODS[method].column_types:
            kind = "numeric" if types[name] == "num" else "categorical"
            raise ConfigError(
                f"drift method '{method}' does not apply to {kind} column '{name}'",
                details={"column": name, "method": method},
            )


def require_columns(frame: pd.DataFrame, names: Sequence[str], source: str) -> None:
    """Fail with :class:`DataError` naming every column of ``names`` missing from ``frame``."""
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise DataError(
            f"{source}: missing column(s) {', '.join(missing)}", details={"columns": missing}
        )


def column_counts(frame: pd.DataFrame, name: str, column_type: ColumnType, source: str) -> Counts:
    """The value counts of one column; an all-missing column fails as it does in Evidently."""
    values = frame[name]
    if column_type == "cat":
        counts = Counts.of_labels(values)
    elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        counts = Counts.of_numbers(values.to_numpy(dtype=np.float64, na_value=np.nan))
    else:
        raise DataError(
            f"{source}: column '{name}' must be numeric, it holds {values.dtype}",
            details={"column": name},
        )
    if counts.values.size == 0:
        raise DataError(
            f"{source}: column '{name}' has no values (all missing), drift cannot be tested",
            details={"column": name},
        )
    return counts
