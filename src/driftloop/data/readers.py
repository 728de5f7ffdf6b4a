"""Read CSV and Parquet files as text columns, with errors that name the file and the problem."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pandas as pd

from driftloop.errors import DataError, NotFoundError

_SNIFF_BYTES = 64 * 1024


def read_table(path: Path | str) -> pd.DataFrame:
    """Read a CSV (or Parquet) file. CSV values stay text; blank cells become missing.

    Raises :class:`NotFoundError` for a missing file and :class:`DataError` for an empty file,
    a binary file, a ragged CSV or a file with a header only.
    """
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"input file not found: {path}", details={"file": str(path)})
    if path.suffix.lower() in {".parquet", ".pq"}:
        return _read_parquet(path)
    return _read_csv(path)


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for corrupt files
        raise DataError(
            f"{path}: not a readable Parquet file ({exc})", details={"file": str(path)}
        ) from None


def _read_csv(path: Path) -> pd.DataFrame:
    _check_text(path)
    try:
        frame = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            skipinitialspace=False,
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: file is empty", details={"file": str(path)}) from None
    except (pd.errors.ParserError, csv.Error, UnicodeDecodeError) as exc:
        raise DataError(
            f"{path}: not a valid CSV file ({exc})", details={"file": str(path)}
        ) from None
    if frame.empty:
        raise DataError(f"{path}: CSV has a header but no rows", details={"file": str(path)})
    # Whitespace-only cells (Telco's blank TotalCharges is " ") count as missing.
    return frame.apply(_strip).replace("", None)


def _strip(column: pd.Series) -> pd.Series:
    return column.str.strip()


def _check_text(path: Path) -> None:
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    _check_bytes(path, head)
    header = next(csv.reader([head.decode("utf-8", "replace").splitlines()[0]]), [])
    duplicated = sorted(name for name, count in Counter(header).items() if count > 1)
    if duplicated:
        raise DataError(
            f"{path}: duplicate column name(s) in header: {', '.join(duplicated)}",
            details={"file": str(path), "columns": duplicated},
        )


def _check_bytes(path: Path, head: bytes) -> None:
    if not head.strip():
        raise DataError(f"{path}: file is empty", details={"file": str(path)})
    if b"\x00" in head:
        raise DataError(f"{path}: not a CSV file (binary content)", details={"file": str(path)})
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a cut multi-byte character at the end is fine
            raise DataError(
                f"{path}: not a CSV file (not UTF-8 text at byte {exc.start})",
                details={"file": str(path)},
            ) from None
