"""The rows a retrain trains and is judged on, chosen so that the comparison is sound.

- **Labelled traffic**: every captured row with a label, keyed like its label
  (:func:`~driftloop.capture.reader.row_keys`), each key once, sorted by capture
  time then key, so the same captures give the same rows whatever order the files are read in.
- **Hold-out, in time**: the most recent ``recent_fraction`` (at most ``recent_max_rows``) of
  the rows that are new to the champion: those at or after the row, in that order, up to which
  its own training saw traffic (its :class:`Cut`). Neither model has trained on it.
- **Training rows**: the original training data (the ``base_snapshot`` a lineage of retrains
  started from, never holding captured rows) plus the labelled rows older than the hold-out;
  with ``history = "sliding"`` the older rows alone. No row is added twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from driftloop.capture.reader import Window, row_keys
from driftloop.data.spec import TabularSpec
from driftloop.errors import DataError
from driftloop.monitoring.quality import row_labels

KEY, TIME = "_row_key", "_captured"


@dataclass(frozen=True, order=True)
class Cut:
    """A place in the (capture time, key) order of labelled rows: a retrain trained on no
    captured row at or after it."""

    time: datetime
    key: str

    def to_text(self) -> str:
        return f"{self.time.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ} {self.key}"

    @classmethod
    def from_text(cls, text: str) -> Cut:
        stamp, key = text.split(" ", 1)
        return cls(datetime.fromisoformat(stamp.replace("Z", "+00:00")), key)


@dataclass(frozen=True)
class RetrainRows:
    """Training rows and the recent hold-out, with the facts the new version records."""

    train: pd.DataFrame
    recent: pd.DataFrame
    captured_in_training: int
    new_rows: int
    cut: Cut  # where the hold-out starts


def labelled_rows(window: Window, labels: dict[str, int], spec: TabularSpec) -> pd.DataFrame:
    """The window's labelled rows (features, target text, key, capture time), each key once
    (its earliest capture), ordered by capture time then key."""
    return labelled_chunks([window], labels, spec)


def labelled_chunks(
    chunks: Iterable[Window], labels: dict[str, int], spec: TabularSpec
) -> pd.DataFrame:
    """:func:`labelled_rows` of a window read as a stream of chunks (see
    :meth:`~driftloop.capture.base.CaptureStore.read_chunks`): only each chunk's labelled rows
    are kept, so memory follows the labels, not the window."""
    parts = [_labelled(chunk, labels, spec) for chunk in chunks]
    kept = [part for part in parts if len(part)] or parts[:1]
    rows = pd.concat(kept, ignore_index=True) if len(kept) > 1 else kept[0]
    rows = rows.sort_values([TIME, KEY], kind="stable")
    return rows.drop_duplicates(subset=KEY, keep="first").reset_index(drop=True)


def _labelled(window: Window, labels: dict[str, int], spec: TabularSpec) -> pd.DataFrame:
    truth = row_labels(window, labels)
    chosen = truth >= 0
    rows = window.frame.loc[chosen, spec.features].reset_index(drop=True)
    rows[spec.target] = [spec.label(bool(y)) for y in truth[chosen]]
    rows[KEY] = np.array(row_keys(window), dtype=object)[chosen]
    rows[TIME] = window.times[chosen]
    return rows


def new_rows(rows: pd.DataFrame, champion_cut: Cut | None) -> int:
    """How many labelled rows come at or after ``champion_cut`` (all without one)."""
    return int(_from(rows, champion_cut).sum())


def _from(rows: pd.DataFrame, cut: Cut | None) -> pd.Series:
    if cut is None:
        return pd.Series(True, index=rows.index)
    moment = _second(cut.time)
    return (rows[TIME] > moment) | ((rows[TIME] == moment) & (rows[KEY] >= cut.key))


def split_rows(
    rows: pd.DataFrame,
    base: pd.DataFrame | None,
    champion_cut: Cut | None,
    fraction: float,
    spec: TabularSpec,
    max_recent: int | None = None,
) -> RetrainRows:
    """Training rows and hold-out (``fraction`` of the new rows, at most ``max_recent``) from
    ``rows`` (as :func:`labelled_rows` orders them)."""
    fresh = new_rows(rows, champion_cut)
    if fresh == 0:
        raise DataError("no labelled captured rows are new to the champion")
    held = min(max(math.ceil(fraction * fresh), 1), max_recent or fresh)
    start = len(rows) - held
    older, recent = rows.iloc[:start], rows.iloc[start:]
    classes = recent[spec.target].nunique()
    if classes < 2:
        raise DataError(
            f"the recent hold-out ({len(recent)} rows) holds only one class of "
            f"'{spec.target}'; wait for more labelled traffic"
        )
    parts = [base] if base is not None else []
    train = pd.concat([*parts, _plain(older, spec)], ignore_index=True)
    first = recent.iloc[0]
    cut = Cut(pd.Timestamp(first[TIME]).to_pydatetime().replace(tzinfo=UTC), str(first[KEY]))
    return RetrainRows(train, _plain(recent, spec), len(older), fresh, cut)


def _plain(rows: pd.DataFrame, spec: TabularSpec) -> pd.DataFrame:
    return rows[[*spec.features, spec.target]].reset_index(drop=True)


def _second(moment: datetime) -> np.datetime64:
    return np.datetime64(moment.astimezone(UTC).replace(tzinfo=None), "s")
