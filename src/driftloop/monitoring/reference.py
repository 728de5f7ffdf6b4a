"""Reference statistics for drift checks, computed once per model version and stored.

A profile keeps, per feature, the distinct non-missing values in ascending order with their
counts -- the sorted reference sample, losslessly, without its row order, which is all the drift
tests read -- and the settings it was built with. It is saved as one ``.npz`` file: numbers as
float64 / int64 arrays, labels and metadata as JSON, written atomically.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from driftloop.data.spec import TabularSpec
from driftloop.errors import ConfigError, DataError, NotFoundError
from driftloop.monitoring._stattests import ColumnType, Counts
from driftloop.monitoring.drift import DriftSettings, check_settings, column_counts, require_columns
from driftloop.workspace import atomic_write_bytes

__all__ = ["ReferenceColumn", "ReferenceProfile"]

FORMAT = "driftloop.drift-reference"
VERSION = 1
_UNREADABLE = (
    OSError, ValueError, KeyError, IndexError, TypeError, AttributeError, EOFError,
    zipfile.BadZipFile, ConfigError,
)  # fmt: skip


@dataclass(frozen=True)
class ReferenceColumn:
    """One feature of the reference: its type and value counts."""

    name: str
    column_type: ColumnType
    counts: Counts


@dataclass(frozen=True)
class ReferenceProfile:
    """Everything a drift check needs from the reference window, without its rows."""

    columns: tuple[ReferenceColumn, ...]
    rows: int
    settings: DriftSettings = field(default_factory=DriftSettings)

    @classmethod
    def build(
        cls, reference: pd.DataFrame, spec: TabularSpec, settings: DriftSettings | None = None
    ) -> ReferenceProfile:
        """Summarise the feature columns of ``spec`` (typed by ``apply_spec``) in ``reference``.

        Numeric features are tested as numbers, categorical ones as labels; ids and the target
        are left out. Fails with :class:`DataError` on a missing or all-missing feature column.
        """
        settings = DriftSettings() if settings is None else settings
        names = spec.features
        if not names:
            raise DataError("the spec has no feature columns to test for drift")
        require_columns(reference, names, "reference data")
        types: dict[str, ColumnType] = {
            name: "num" if spec.kind_of(name) == "numeric" else "cat" for name in names
        }
        check_settings(settings, types)
        columns = tuple(
            ReferenceColumn(name, kind, column_counts(reference, name, kind, "reference data"))
            for name, kind in types.items()
        )
        return cls(columns=columns, rows=len(reference), settings=settings)

    def save(self, path: Path) -> None:
        """Write the profile to ``path`` (``.npz``) atomically."""
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "rows": self.rows,
            "settings": self.settings.model_dump(),
            "columns": [_column_meta(c) for c in self.columns],
        }
        arrays = {"meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)}
        for i, column in enumerate(self.columns):
            arrays[f"counts_{i}"] = column.counts.counts
            if column.column_type == "num":
                arrays[f"values_{i}"] = column.counts.values
        buffer = io.BytesIO()
        # mypy matches **arrays against savez's allow_pickle: bool as well; no key is that name.
        np.savez(buffer, **arrays)  # type: ignore[arg-type]
        atomic_write_bytes(Path(path), buffer.getvalue())

    @classmethod
    def load(cls, path: Path) -> ReferenceProfile:
        """Read a profile written by :meth:`save`; a damaged file fails with :class:`DataError`."""
        path = Path(path)
        if not path.is_file():
            raise NotFoundError(
                f"drift reference profile not found: {path}", details={"file": str(path)}
            )
        try:
            with path.open("rb") as handle, np.load(handle, allow_pickle=False) as archive:
                return _from_archive(archive)
        except _UNREADABLE as exc:
            raise DataError(
                f"{path}: not a readable drift reference profile ({exc})",
                details={"file": str(path)},
            ) from None


def _column_meta(column: ReferenceColumn) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": column.name, "type": column.column_type}
    if column.column_type == "cat":
        meta["values"] = column.counts.values.tolist()
    return meta


def _from_archive(archive: Any) -> ReferenceProfile:
    meta = json.loads(archive["meta"].tobytes().decode("utf-8"))
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise ValueError(f"expected {FORMAT} version {VERSION}")
    columns = tuple(_column_from(archive, i, raw) for i, raw in enumerate(meta["columns"]))
    rows = meta["rows"]
    if not columns or not isinstance(rows, int) or rows < max(c.counts.total for c in columns):
        raise ValueError("no columns, or a row count below a column's count")
    settings = DriftSettings.model_validate(meta["settings"])
    check_settings(settings, {c.name: c.column_type for c in columns})
    return ReferenceProfile(columns=columns, rows=rows, settings=settings)


def _column_from(archive: Any, index: int, raw: dict[str, Any]) -> ReferenceColumn:
    name, column_type = raw["name"], raw["type"]
    counts = archive[f"counts_{index}"]
    if column_type == "num":
        values = archive[f"values_{index}"]
        ordered = values.dtype == np.float64 and bool(np.all(np.isfinite(values)))
    elif column_type == "cat":
        values = np.array(raw["values"], dtype=object)
        ordered = all(isinstance(v, str) for v in raw["values"])
    else:
        raise ValueError(f"column '{name}' has unknown type {column_type!r}")
    if not (ordered and values.ndim == 1 and values.size and _ascending(values)):
        raise ValueError(f"column '{name}' holds values that are not distinct and ascending")
    if counts.dtype != np.int64 or counts.shape != values.shape or not bool(np.all(counts > 0)):
        raise ValueError(f"column '{name}' holds malformed counts")
    return ReferenceColumn(str(name), column_type, Counts(values, counts))


def _ascending(values: np.ndarray) -> bool:
    return bool(np.all(values[1:] > values[:-1]))
