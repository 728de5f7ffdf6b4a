"""One column seen the ways the checks need it: presence, text, number and value counts.

Input is either the text frame of :func:`driftloop.data.readers.read_table` (strings or None)
or a Parquet frame with real dtypes; both give the same text and numbers here. The column is
factorized once, so parsing and formatting run on its distinct values only.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import numpy.typing as npt
import pandas as pd


class ParsedColumn:
    """A column indexed by position (0-based), with vectorised views of its values."""

    def __init__(self, values: pd.Series) -> None:
        self.values = values.reset_index(drop=True)
        codes, uniques = pd.factorize(self.values)  # code -1 marks a missing value
        self._codes = codes
        self._uniques = pd.Series(uniques)

    def __len__(self) -> int:
        return len(self.values)

    @cached_property
    def present(self) -> npt.NDArray[np.bool_]:
        """True where a value is given (not None, NaN or blank)."""
        return self._codes >= 0

    @property
    def codes(self) -> npt.NDArray[np.intp]:
        """Each row's position among the distinct values, -1 where missing."""
        return self._codes

    @cached_property
    def unique_numbers(self) -> npt.NDArray[np.float64]:
        """The distinct values as float64 (NaN where not a finite number), in code order."""
        uniques = self._uniques
        if not pd.api.types.is_numeric_dtype(uniques):
            uniques = pd.to_numeric(uniques, errors="coerce")
        parsed: npt.NDArray[np.float64] = uniques.to_numpy(dtype="float64", na_value=np.nan)
        parsed[~np.isfinite(parsed)] = np.nan
        return parsed

    @cached_property
    def numbers(self) -> pd.Series:
        """Values as float64; NaN where missing, not a number, or not finite."""
        return pd.Series(_take(self.unique_numbers, self._codes, np.nan), dtype="float64")

    @cached_property
    def is_number(self) -> npt.NDArray[np.bool_]:
        """True where a present value is a finite number."""
        return self.present & self.numbers.notna().to_numpy()

    @cached_property
    def is_integer(self) -> npt.NDArray[np.bool_]:
        """True where a present value is a whole number ("34", "34.0" or 34)."""
        numbers = self.numbers.to_numpy()
        with np.errstate(invalid="ignore"):
            whole: npt.NDArray[np.bool_] = numbers == np.floor(numbers)
        return self.is_number & whole

    @cached_property
    def text(self) -> pd.Series:
        """Values as text, None where missing."""
        return pd.Series(_take(self._unique_texts, self._codes, None), dtype=object)

    @cached_property
    def counts(self) -> pd.Series:
        """How often each text value occurs (missing values not counted)."""
        counts = np.bincount(self._codes[self.present], minlength=len(self._uniques))
        # Distinct raw values may print alike (1 and 1.0 in an object column): add them up.
        return pd.Series(counts, index=self._unique_texts).groupby(level=0, sort=False).sum()

    @property
    def unique_texts(self) -> np.ndarray:
        """The distinct values as text, in code order."""
        return self._unique_texts

    @cached_property
    def _unique_texts(self) -> np.ndarray:
        uniques = self._uniques
        if pd.api.types.is_float_dtype(uniques):  # 0.0/1.0 codes print as "0"/"1"
            texts = uniques.map(lambda v: f"{v:g}")
        elif pd.api.types.infer_dtype(uniques, skipna=True) in {"string", "empty"}:
            texts = uniques
        else:
            texts = uniques.astype(str)
        return texts.to_numpy(dtype=object)


class ParsedColumns(dict[str, ParsedColumn]):
    """The columns of one frame, each parsed when first asked for, so that several checks
    of a frame parse each column once."""

    def __init__(self, frame: pd.DataFrame) -> None:
        super().__init__()
        self.frame = frame

    def __missing__(self, name: str) -> ParsedColumn:
        column = self[name] = ParsedColumn(self.frame[name])
        return column


def _take(uniques: np.ndarray, codes: np.ndarray, missing: object) -> np.ndarray:
    """``uniques[codes]`` with ``missing`` where the code is -1."""
    taken: np.ndarray = np.append(uniques, np.array([missing], dtype=uniques.dtype))[codes]
    return taken
