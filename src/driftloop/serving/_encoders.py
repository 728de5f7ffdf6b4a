"""One encoder per ColumnTransformer block, read from the fitted scikit-learn transformers.

Each block writes its slice of the encoded matrix straight from the request columns (no pandas).
Categorical values reach the encoders as ``str`` or ``None``, exactly as scikit-learn gets them
from a typed frame: an imputer for NaN leaves ``None`` alone, so ``None`` is a category when the
encoder saw it in training and an unknown value otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
)

from driftloop.data.spec import TabularSpec

Categorical = Sequence[Sequence[str | None]]
Lookup = dict[str | None, Any]  # value -> code (ordinal) or column (one-hot)


class UnsupportedPipeline(ValueError):
    """The pipeline has a shape the compiler does not know: serve it through scikit-learn."""


class Block(Protocol):
    @property
    def width(self) -> int:
        """How many encoded columns the block writes."""

    def write(self, numeric: np.ndarray, categorical: Categorical, out: np.ndarray) -> None:
        """Fill ``out`` (rows x width, a view into the encoded matrix) for the given rows."""


@dataclass(frozen=True)
class NumericBlock:
    """Numeric columns through fitted fills (NaN -> statistic), centring and scaling, in order."""

    columns: list[int]
    ops: tuple[tuple[str, np.ndarray], ...]

    @property
    def width(self) -> int:
        return len(self.columns)

    def write(self, numeric: np.ndarray, categorical: Categorical, out: np.ndarray) -> None:
        out[...] = numeric[:, self.columns]
        for op, values in self.ops:
            if op == "fill":
                np.copyto(out, values, where=np.isnan(out))
            elif op == "sub":
                out -= values
            else:
                out /= values


@dataclass(frozen=True)
class OrdinalBlock:
    """One column per feature holding the category's code (``unknown`` when not in the lookup)."""

    features: tuple[tuple[int, Lookup], ...]  # (position in the request, lookup) per feature
    unknown: float

    @property
    def width(self) -> int:
        return len(self.features)

    def write(self, numeric: np.ndarray, categorical: Categorical, out: np.ndarray) -> None:
        codes = _codes(self.features, categorical, self.unknown, np.float64)
        out[...] = codes.reshape(len(self.features), len(out)).T


@dataclass(frozen=True)
class OneHotBlock:
    """A 1 at the category's column, all zeros for an unknown category (``handle_unknown``)."""

    features: tuple[tuple[int, Lookup], ...]
    width: int

    def write(self, numeric: np.ndarray, categorical: Categorical, out: np.ndarray) -> None:
        columns = _codes(self.features, categorical, -1, np.intp)
        rows = np.tile(np.arange(len(out)), len(self.features))
        known = columns >= 0
        out[...] = 0.0
        out[rows[known], columns[known]] = 1.0


def _codes(
    features: tuple[tuple[int, Lookup], ...], categorical: Categorical, unknown: Any, dtype: Any
) -> np.ndarray:
    """Looked-up codes of every request row, feature after feature."""
    return np.array(
        [lookup.get(value, unknown) for pos, lookup in features for value in categorical[pos]],
        dtype=dtype,
    )


def blocks(encoder: ColumnTransformer, spec: TabularSpec) -> list[tuple[slice, Block]]:
    """Every output block of a fitted ColumnTransformer with its slice of the encoded matrix."""
    compiled: list[tuple[slice, Block]] = []
    for name, transformer, columns in encoder.transformers_:
        names = column_names(columns, encoder)
        if not names or (isinstance(transformer, str) and transformer == "drop"):
            continue
        block = _block(transformer, names, spec)
        where = encoder.output_indices_[name]
        if where.stop - where.start != block.width:
            raise UnsupportedPipeline(f"block '{name}' encodes to a width other than the fitted")
        compiled.append((where, block))
    return compiled


def column_names(columns: Any, encoder: ColumnTransformer) -> list[str]:
    """The input column names a ColumnTransformer block selects (names or positions)."""
    if isinstance(columns, str) or callable(columns):
        raise UnsupportedPipeline("transformer columns must be a list of names or positions")
    selected = list(columns)
    if all(isinstance(c, str) for c in selected):
        return selected
    names = getattr(encoder, "feature_names_in_", None)
    positions = all(isinstance(c, int | np.integer) and not isinstance(c, bool) for c in selected)
    if names is None or not positions:
        raise UnsupportedPipeline("transformer columns must be a list of names or positions")
    return [str(names[c]) for c in selected]


def _block(transformer: Any, names: list[str], spec: TabularSpec) -> Block:
    numeric, categorical = spec.numeric_features, spec.categorical_features
    if all(name in numeric for name in names):
        return numeric_block(transformer, [numeric.index(name) for name in names])
    if all(name in categorical for name in names):
        return categorical_block(transformer, [categorical.index(name) for name in names])
    raise UnsupportedPipeline(f"columns {names} mix kinds or are not features of the spec")


def numeric_block(transformer: Any, columns: list[int]) -> NumericBlock:
    """Compile ``passthrough``, a median/mean/constant imputer, a scaler, or a pipeline of those."""
    ops: list[tuple[str, np.ndarray]] = []
    for step in _steps(transformer):
        if isinstance(step, SimpleImputer):
            ops.append(("fill", _numeric_fill(step)))
        elif isinstance(step, StandardScaler):
            ops.extend(_scaler_ops(step))
        elif not _is_passthrough(step):
            raise UnsupportedPipeline(f"numeric step {type(step).__name__} is not supported")
    return NumericBlock(columns=columns, ops=tuple(ops))


def categorical_block(transformer: Any, columns: list[int]) -> OrdinalBlock | OneHotBlock:
    """Compile imputers followed by a one-hot or ordinal encoder into value -> code lookups."""
    *imputers, encoder = _steps(transformer)
    if not all(isinstance(step, SimpleImputer) for step in imputers):
        raise UnsupportedPipeline("categorical steps before the encoder must be imputers")
    if isinstance(encoder, OneHotEncoder):
        lookups, width = _one_hot_lookups(encoder)
    elif isinstance(encoder, OrdinalEncoder):
        lookups, width = _ordinal_lookups(encoder), len(columns)
    else:
        raise UnsupportedPipeline(f"categorical encoder {type(encoder).__name__} not supported")
    for imputer in reversed(imputers):
        fills = _fills(imputer)
        lookups = [_imputed(lookup, *fill) for lookup, fill in zip(lookups, fills, strict=True)]
    features = tuple(zip(columns, lookups, strict=True))
    if isinstance(encoder, OneHotEncoder):
        return OneHotBlock(features=features, width=width)
    return OrdinalBlock(features=features, unknown=float(encoder.unknown_value))


def known_categories(pipeline: Any) -> dict[str, frozenset[str]]:
    """Per input column, the text categories its encoder saw in training (any ColumnTransformer)."""
    steps = pipeline.steps if isinstance(pipeline, Pipeline) else []
    known: dict[str, frozenset[str]] = {}
    for encoder in (step for _, step in steps if isinstance(step, ColumnTransformer)):
        for _, transformer, columns in encoder.transformers_:
            categories = getattr(_steps(transformer)[-1], "categories_", None)
            try:
                names = column_names(columns, encoder)
            except UnsupportedPipeline:
                continue
            if categories is not None and len(categories) == len(names):
                seen = (frozenset(c for c in cats if isinstance(c, str)) for cats in categories)
                known.update(zip(names, seen, strict=True))
    return known


def _steps(transformer: Any) -> list[Any]:
    if isinstance(transformer, Pipeline):
        return [step for _, step in transformer.steps]
    return [transformer]


def _is_passthrough(step: Any) -> bool:
    # A fitted ColumnTransformer holds "passthrough" as an identity FunctionTransformer.
    if isinstance(step, FunctionTransformer):
        return step.func is None
    return step is None or (isinstance(step, str) and step == "passthrough")


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _fills(imputer: SimpleImputer) -> list[tuple[Any, Any]]:
    if imputer.add_indicator:
        raise UnsupportedPipeline("imputers that add indicator columns are not supported")
    return [(imputer.missing_values, value) for value in imputer.statistics_]


def _numeric_fill(imputer: SimpleImputer) -> np.ndarray:
    fills = _fills(imputer)
    values = np.array([value for _, value in fills], dtype=np.float64)
    if not all(_is_nan(missing) for missing, _ in fills) or np.isnan(values).any():
        raise UnsupportedPipeline("numeric imputers must fill NaN with a fitted number")
    return values


def _scaler_ops(scaler: StandardScaler) -> list[tuple[str, np.ndarray]]:
    ops = []
    if scaler.with_mean:
        ops.append(("sub", np.asarray(scaler.mean_, dtype=np.float64)))
    if scaler.with_std:
        ops.append(("div", np.asarray(scaler.scale_, dtype=np.float64)))
    return ops


def _imputed(lookup: Lookup, missing: Any, fill: Any) -> Lookup:
    # Request values are str or None, never NaN: an imputer for NaN leaves them as they are.
    if _is_nan(missing):
        return lookup
    if not (missing is None or isinstance(missing, str)):
        raise UnsupportedPipeline(f"categorical imputers for {missing!r} are not supported")
    imputed = {value: code for value, code in lookup.items() if value != missing}
    if fill in lookup:
        imputed[missing] = lookup[fill]
    return imputed


def _categories(encoder: OneHotEncoder | OrdinalEncoder) -> list[list[str | None]]:
    if encoder.max_categories is not None or encoder.min_frequency is not None:
        raise UnsupportedPipeline("encoders grouping infrequent categories are not supported")
    categories = [list(cats) for cats in encoder.categories_]
    if not all(c is None or isinstance(c, str) for cats in categories for c in cats):
        raise UnsupportedPipeline("categories must be text (a NaN or number category is not)")
    return categories


def _one_hot_lookups(encoder: OneHotEncoder) -> tuple[list[Lookup], int]:
    if (
        encoder.handle_unknown not in ("ignore", "infrequent_if_exist")
        or encoder.drop_idx_ is not None
    ):
        raise UnsupportedPipeline("one-hot encoders must ignore unknown values and drop nothing")
    lookups, offset = [], 0
    for cats in _categories(encoder):
        lookups.append({c: offset + i for i, c in enumerate(cats)})
        offset += len(cats)
    return lookups, offset


def _ordinal_lookups(encoder: OrdinalEncoder) -> list[Lookup]:
    if encoder.handle_unknown != "use_encoded_value":
        raise UnsupportedPipeline("ordinal encoders must encode unknown values")
    return [{c: float(i) for i, c in enumerate(cats)} for cats in _categories(encoder)]
