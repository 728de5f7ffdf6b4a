"""The rows a retrain trains and is judged on: each once, the hold-out recent and unseen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from driftloop.capture.reader import Window
from driftloop.data.spec import ColumnSpec, TabularSpec
from driftloop.errors import DataError
from driftloop.retraining.data import KEY, TIME, Cut, labelled_rows, new_rows, split_rows

SPEC = TabularSpec(
    (ColumnSpec("x", "numeric", "feature"), ColumnSpec("y", "categorical", "target")),
    "y",
    "Yes",
    "No",
)
START = datetime(2026, 1, 1, tzinfo=UTC)


def _window(records: list[tuple[str, int, int]]) -> Window:
    """One capture record per ``(inference id, rows, second)``; row values count up."""
    ids, positions, sizes, times = [], [], [], []
    for inference_id, rows, second in records:
        for n in range(1, rows + 1):
            ids.append(inference_id)
            positions.append(n)
            sizes.append(rows)
            times.append((START + timedelta(seconds=second)).replace(tzinfo=None))
    count = len(ids)
    return Window(
        frame=pd.DataFrame({"x": np.arange(count, dtype=float)}),
        inference_ids=ids,
        event_ids=[f"e{k}" for k in range(count)],
        positions=np.array(positions, dtype=np.int64),
        record_rows=np.array(sizes, dtype=np.int64),
        times=np.array(times, dtype="datetime64[s]"),
        variants=["A"] * count,
        probabilities=np.full(count, 0.5),
        problems=[],
        records=len(records),
        rows=count,
        since=START,
        until=START + timedelta(days=1),
    )


def _labels(keys: list[str]) -> dict[str, int]:
    return {key: n % 2 for n, key in enumerate(keys)}


def test_each_labelled_row_once_in_time_order_whatever_the_read_order() -> None:
    records = [(f"r{k}", 1, k) for k in range(20)] + [("batch", 3, 5), ("r3", 1, 30)]
    keys = [f"r{k}" for k in range(20)] + ["batch#1", "batch#3"]
    rows = labelled_rows(_window(records), _labels(keys), SPEC)
    # r3 was captured twice (a retried request, or a shadow copy): one row, the first.
    assert rows[KEY].is_unique and len(rows) == 22  # of 23 labelled rows
    assert rows[TIME].is_monotonic_increasing
    assert "batch#2" not in set(rows[KEY])  # an unlabelled row of a batch stays out
    shuffled = labelled_rows(_window(list(reversed(records))), _labels(keys), SPEC)
    # Read in another order, the same keys, times and labels come out (x counts read order).
    pd.testing.assert_frame_equal(rows.drop(columns="x"), shuffled.drop(columns="x"))


def test_the_hold_out_is_recent_new_to_the_champion_and_never_trained_on() -> None:
    records = [(f"r{k}", 1, k // 2) for k in range(200)]  # two rows a second
    rows = labelled_rows(_window(records), _labels([f"r{k}" for k in range(200)]), SPEC)
    base = pd.DataFrame({"x": [-1.0, -2.0], "y": ["Yes", "No"]})
    champion = Cut(START + timedelta(seconds=50), "r100")  # it trained on rows r0-r99
    assert new_rows(rows, champion) == 100 and new_rows(rows, None) == 200

    split = split_rows(rows, base, champion, 0.3, SPEC)
    recent_x, train_x = set(split.recent["x"]), set(split.train["x"])
    assert len(split.recent) == 30 and not recent_x & train_x
    assert min(recent_x) == 170  # the latest 30 rows, none the champion trained on
    assert split.cut == Cut(START + timedelta(seconds=85), "r170")
    assert Cut.from_text(split.cut.to_text()) == split.cut
    assert len(split.train) == 2 + 170 and split.captured_in_training == 170
    assert split.train["x"].is_unique  # no row added twice
    sliding = split_rows(rows, None, champion, 0.3, SPEC)
    assert len(sliding.train) == 170 and -1.0 not in set(sliding.train["x"])
    capped = split_rows(rows, None, champion, 0.3, SPEC, max_recent=12)
    assert list(capped.recent["x"]) == list(range(188, 200))  # the newest 12 only


def test_a_cut_inside_a_second_follows_the_key_order() -> None:
    records = [(f"r{k:02d}", 1, 0) for k in range(100)]  # one busy second
    rows = labelled_rows(_window(records), _labels([f"r{k:02d}" for k in range(100)]), SPEC)
    champion = Cut(START, "r60")
    assert new_rows(rows, champion) == 40
    split = split_rows(rows, None, champion, 0.25, SPEC)
    assert list(split.recent["x"]) == list(range(90, 100))
    assert split.train["x"].max() < split.recent["x"].min()


def test_nothing_new_or_one_class_is_refused_with_a_reason() -> None:
    records = [(f"r{k}", 1, k) for k in range(10)]
    rows = labelled_rows(_window(records), _labels([f"r{k}" for k in range(10)]), SPEC)
    with pytest.raises(DataError, match="no labelled captured rows are new"):
        split_rows(rows, None, Cut(START + timedelta(hours=1), ""), 0.3, SPEC)
    same = labelled_rows(_window(records), {f"r{k}": 1 for k in range(10)}, SPEC)
    with pytest.raises(DataError, match="only one class of 'y'"):
        split_rows(same, None, None, 0.3, SPEC)
