"""The tabular spec: which columns exist, their kind (numeric or categorical) and their role.

A spec is inferred from data plus config overrides, stored next to every snapshot and with every
model, and is what the validator, the trainer and (later) the endpoint check records against.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from driftloop.errors import DataError

Kind = Literal["numeric", "categorical"]
Role = Literal["feature", "target", "id"]


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: Kind
    role: Role = "feature"


@dataclass(frozen=True)
class TabularSpec:
    """Columns in order, the target column and which of its values counts as positive."""

    columns: tuple[ColumnSpec, ...]
    target: str
    positive_label: str
    negative_label: str | None = None

    @property
    def features(self) -> list[str]:
        return [c.name for c in self.columns if c.role == "feature"]

    @property
    def numeric_features(self) -> list[str]:
        return [c.name for c in self.columns if c.role == "feature" and c.kind == "numeric"]

    @property
    def categorical_features(self) -> list[str]:
        return [c.name for c in self.columns if c.role == "feature" and c.kind == "categorical"]

    def kind_of(self, name: str) -> Kind:
        for column in self.columns:
            if column.name == name:
                return column.kind
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "positive_label": self.positive_label,
            "negative_label": self.negative_label,
            "columns": [asdict(c) for c in self.columns],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> TabularSpec:
        columns = tuple(ColumnSpec(**c) for c in raw["columns"])
        return cls(
            columns=columns,
            target=raw["target"],
            positive_label=raw["positive_label"],
            negative_label=raw.get("negative_label"),
        )

    def label(self, positive: bool) -> str:
        """The target value for a positive or negative prediction."""
        if positive:
            return self.positive_label
        return self.negative_label or f"not {self.positive_label}"


def infer_spec(
    frame: pd.DataFrame,
    *,
    target: str,
    positive_label: str,
    id_columns: Sequence[str] = (),
    kinds: Mapping[str, Kind] | None = None,
) -> TabularSpec:
    """Infer a spec from a frame read as text (see :mod:`driftloop.data.readers`).

    A column is numeric when every present value parses as a number, categorical otherwise;
    ``kinds`` overrides the inference per column (for codes such as ``SeniorCitizen`` 0/1).
    """
    kinds = dict(kinds or {})
    if target not in frame.columns:
        raise DataError(
            f"target column '{target}' is not in the data (columns: {', '.join(frame.columns)})",
            details={"column": target},
        )
    unknown = sorted(set(kinds) - set(frame.columns))
    if unknown:
        raise DataError(
            f"column types are configured for columns not in the data: {', '.join(unknown)}",
            details={"columns": unknown},
        )
    columns = []
    for name in frame.columns:
        role: Role = "target" if name == target else "id" if name in id_columns else "feature"
        kind = kinds.get(name) or ("categorical" if role != "feature" else _infer_kind(frame[name]))
        columns.append(ColumnSpec(name=str(name), kind=kind, role=role))
    others = sorted({str(v) for v in frame[target].dropna().unique()} - {positive_label})
    return TabularSpec(
        columns=tuple(columns),
        target=target,
        positive_label=positive_label,
        negative_label=others[0] if len(others) == 1 else None,
    )


def _infer_kind(series: pd.Series) -> Kind:
    if pd.api.types.is_bool_dtype(series):
        return "categorical"
    if pd.api.types.is_numeric_dtype(series):
        return "numeric"
    present = series.dropna()
    if present.empty:
        return "categorical"
    parsed = pd.to_numeric(present, errors="coerce")
    return "numeric" if bool(parsed.notna().all()) else "categorical"


def apply_spec(frame: pd.DataFrame, spec: TabularSpec, *, source: str = "data") -> pd.DataFrame:
    """Return a typed copy: numeric columns as float64, categoricals as text, ids dropped.

    Raises :class:`DataError` naming the column and first bad row when a numeric column holds text.
    """
    missing = [c.name for c in spec.columns if c.role != "id" and c.name not in frame.columns]
    if missing:
        raise DataError(
            f"{source}: missing column(s) {', '.join(missing)}", details={"columns": missing}
        )
    typed = {}
    for column in spec.columns:
        if column.role == "id":
            continue
        values = frame[column.name]
        if column.kind == "numeric":
            typed[column.name] = _to_float(values, column.name, source)
        else:
            typed[column.name] = _to_text(values)
    return pd.DataFrame(typed, index=frame.index)


def _to_float(values: pd.Series, name: str, source: str) -> pd.Series:
    parsed = pd.to_numeric(values, errors="coerce").astype("float64")
    bad = parsed.isna() & values.notna()
    if bool(bad.any()):
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{source}: column '{name}' must be numeric, row {row + 1} holds {values.iloc[row]!r}",
            details={"column": name, "row": row + 1, "value": str(values.iloc[row])},
        )
    if bool(np.isinf(parsed.to_numpy()).any()):
        row = int(np.flatnonzero(np.isinf(parsed.to_numpy()))[0])
        raise DataError(
            f"{source}: column '{name}' holds infinity at row {row + 1}",
            details={"column": name, "row": row + 1},
        )
    return parsed


def _to_text(values: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(values):
        # 0.0/1.0 codes read as floats print as "0"/"1", matching the text in the CSV.
        values = values.map(lambda v: v if pd.isna(v) else f"{v:g}")
    # pandas-stubs leaves None out of where's `other`; pandas puts None in the object cells.
    texts: pd.Series = values.astype("object").where(values.notna(), None)  # type: ignore[call-overload]
    return texts.map(lambda v: v if v is None else str(v))


def target_vector(frame: pd.DataFrame, spec: TabularSpec, *, source: str = "data") -> np.ndarray:
    """The target as 0/1 (1 for ``spec.positive_label``); fails on missing or foreign labels."""
    labels = frame[spec.target]
    if bool(labels.isna().any()):
        row = int(np.flatnonzero(labels.isna().to_numpy())[0])
        raise DataError(
            f"{source}: target column '{spec.target}' is empty at row {row + 1}",
            details={"column": spec.target, "row": row + 1},
        )
    text = labels.astype(str)
    seen = sorted(text.unique())
    if spec.positive_label not in seen:
        raise DataError(
            f"{source}: positive label '{spec.positive_label}' never appears in target column "
            f"'{spec.target}' (values: {', '.join(seen[:10])})",
            details={"column": spec.target, "values": seen[:10]},
        )
    if len(seen) != 2:
        raise DataError(
            f"{source}: target column '{spec.target}' must hold exactly two classes, found "
            f"{len(seen)} ({', '.join(seen[:10])})",
            details={"column": spec.target, "values": seen[:10]},
        )
    return (text == spec.positive_label).to_numpy(dtype=np.int64)
