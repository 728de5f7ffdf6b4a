"""Request rows as the predictors take them: column-major, validated and typed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from driftloop.data.spec import TabularSpec


@dataclass(frozen=True)
class Batch:
    """Column-major request rows, already validated and typed by the codec."""

    numeric: np.ndarray  # (rows, len(spec.numeric_features)) float64, NaN = missing, spec order
    categorical: list[list[str | None]]  # one list per categorical feature in spec order

    @property
    def rows(self) -> int:
        return int(self.numeric.shape[0])

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, spec: TabularSpec) -> Batch:
        """A batch from a typed frame (the output of ``apply_spec``)."""
        numeric = frame[spec.numeric_features].to_numpy(dtype=np.float64, copy=True)
        # pandas-stubs leaves None out of where's `other`; pandas puts None in the object cells.
        categorical = [
            frame[name].astype(object).where(frame[name].notna(), None).tolist()  # type: ignore[call-overload]
            for name in spec.categorical_features
        ]
        shape = (len(frame), len(spec.numeric_features))
        return cls(numeric=numeric.reshape(shape), categorical=categorical)

    def to_frame(self, spec: TabularSpec) -> pd.DataFrame:
        """The rows as a typed frame with the spec's feature columns, in spec order."""
        columns: dict[str, Any] = dict(zip(spec.numeric_features, self.numeric.T, strict=True))
        for name, values in zip(spec.categorical_features, self.categorical, strict=True):
            columns[name] = pd.Series(values, dtype=object)
        return pd.DataFrame({name: columns[name] for name in spec.features})
