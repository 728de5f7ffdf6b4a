"""A starting configuration inferred from a CSV: target classes, id columns, column kinds."""

from __future__ import annotations

import pandas as pd

from driftloop.config import DataSettings
from driftloop.errors import DataError

_POSITIVE = ("1", "yes", "true", "y", "t", "positive", "pos")  # checked in this order
_ID_NAME = ("id", "uuid", "key")


def suggest_data(frame: pd.DataFrame, target: str) -> DataSettings:
    """Data settings for ``frame`` (read as text) with ``target`` as the binary target.

    The positive label is a conventional one (1, yes, true, ...) when the target has it, else
    the rarer class; id columns are those whose every value is present and unique and whose
    name says id (or whose values are text); two-valued numeric columns become categorical.
    """
    if target not in frame.columns:
        raise DataError(
            f"target column '{target}' is not in the data (columns: {', '.join(frame.columns)})",
            details={"column": target},
        )
    return DataSettings(
        target=target,
        positive_label=positive_label(frame[target], target),
        id_columns=[c for c in frame.columns if c != target and _is_id(frame[c])],
        column_types={
            str(c): "categorical" for c in frame.columns if c != target and _is_flag(frame[c])
        },
    )


def positive_label(values: pd.Series, target: str) -> str:
    """The class that counts as positive; :class:`DataError` unless there are exactly two."""
    counts = values.dropna().astype(str).str.strip().value_counts()
    if len(counts) != 2:
        shown = ", ".join(repr(v) for v in counts.index[:5])
        raise DataError(
            f"target column '{target}' must hold exactly two classes, found {len(counts)} "
            f"({shown})",
            details={"column": target},
        )
    for name in _POSITIVE:
        for value in counts.index:
            if value.lower() == name:
                return str(value)
    return str(counts.index[-1])  # the rarer class (value_counts sorts by count)


def _is_id(values: pd.Series) -> bool:
    present = values.dropna()
    if len(present) != len(values) or not present.is_unique or len(values) < 2:
        return False
    name = str(values.name).lower()
    named = name in _ID_NAME or name.endswith(_ID_NAME) or name.startswith("id_")
    text = pd.to_numeric(present, errors="coerce").isna().any()
    return named or bool(text)


def _is_flag(values: pd.Series) -> bool:
    present = values.dropna()
    numeric = pd.to_numeric(present, errors="coerce")
    return bool(numeric.notna().all()) and present.nunique() == 2
